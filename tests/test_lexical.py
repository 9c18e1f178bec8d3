"""BM25 tokenization and search over English, Chinese and mixed text."""

from __future__ import annotations

import numpy as np

from paperbridge.index.lexical import LexicalIndex, tokenize
from tests.conftest import SAMPLE


def test_english_is_lowercased_stemmed_and_stopworded() -> None:
    assert tokenize("The Innovations of Japanese companies") == ["innov", "japanes", "compani"]


def test_chinese_is_segmented_by_jieba_in_search_mode() -> None:
    tokens = tokenize("日本科技创新体系发展特征")
    assert "日本" in tokens and "科技" in tokens and "创新" in tokens
    assert "的" not in tokenize("日本的研发")


def test_mixed_text_keeps_both_scripts() -> None:
    tokens = tokenize("日本K计划 (Key and Advanced Technology R&D) 研发投入强度 3.26%")
    assert {"key", "advanc", "technolog"} <= set(tokens)
    assert {"计划", "研发", "投入", "强度"} <= set(tokens)
    assert "3.26" in tokens


def _sample_index() -> tuple[LexicalIndex, list[str]]:
    paragraphs = [p.strip() for f in sorted(SAMPLE.glob("*.txt"))
                  for p in f.read_text(encoding="utf-8").split("\n\n") if len(p.strip()) > 40]
    return LexicalIndex.build(range(10, 10 + len(paragraphs)),
                              [tokenize(p) for p in paragraphs]), paragraphs


def test_search_finds_the_paragraph_with_the_rare_words() -> None:
    index, paragraphs = _sample_index()
    hits = index.search("K计划 战略布局", 3)
    assert hits and "K计划" in paragraphs[hits[0][0] - 10]
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_search_respects_the_allowed_mask_and_saves(tmp_path) -> None:  # type: ignore[no-untyped-def]
    index, paragraphs = _sample_index()
    english = np.array([not any("\u4e00" <= ch <= "\u9fff" for ch in p) for p in paragraphs])
    hits = index.search("Japan innovation 日本 创新", 5, english)
    assert hits and all(english[i - 10] for i, _ in hits)
    index.save(tmp_path / "lex")
    again = LexicalIndex.load(tmp_path / "lex")
    assert again.search("Japan innovation 日本 创新", 5, english) == hits
    assert LexicalIndex.build([], []).search("anything", 5) == []
