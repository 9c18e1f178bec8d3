"""Language detection, sentence splitting, token counts and text cleaning."""

from __future__ import annotations

from paperbridge import ingest
from paperbridge.ingest import count_tokens, detect_language, split_sentences
from paperbridge.ingest.garble import is_garbled
from paperbridge.ingest.text import clean_line


def test_public_names_are_pinned() -> None:
    assert set(ingest.__all__) == {
        "ANSWER_KINDS",
        "PASSAGE_KINDS",
        "SAMPLE_CORPUS",
        "Document",
        "ExtractionReport",
        "IngestConfig",
        "Passage",
        "count_tokens",
        "detect_language",
        "find_files",
        "read_document",
        "split_sentences",
    }
    assert ingest.ANSWER_KINDS == ("body", "caption", "table")
    assert set(ingest.ANSWER_KINDS) < set(ingest.PASSAGE_KINDS)
    assert (ingest.SAMPLE_CORPUS.parent / "SOURCES.md").is_file()
    assert sorted(p.name[:3] for p in ingest.SAMPLE_CORPUS.iterdir()) == ["000", "001", "002", "003", "004"]


def test_detect_language_for_passages_and_questions() -> None:
    assert detect_language("What is the K Program of Japan?") == "en"
    assert detect_language("日本的研发投入强度是多少？") == "zh"
    assert detect_language("CSTI 主要审议日本科学技术基本计划、基础研究重要领域推进方案。") == "zh"
    mixed = "日本设立了经济安全保障重要技术培育计划（K计划）。" + (
        "Japan has established the Key and Advanced Technology R&D program. " * 2
    )
    assert detect_language(mixed) == "mixed"
    assert detect_language("12 345") == "en"


def test_split_sentences_keeps_decimals_abbreviations_and_numbers() -> None:
    text = "研发强度保持在 3.0% 以上。见 No.267 报告！The U. S. and Japan grew 2.5%. Fig. 3 shows it; done"
    assert split_sentences(text) == [
        "研发强度保持在 3.0% 以上。",
        "见 No.267 报告！",
        "The U. S. and Japan grew 2.5%.",
        "Fig. 3 shows it; done",
    ]
    assert split_sentences("他说：“好。”然后走了；结束……") == ["他说：“好。”", "然后走了；", "结束……"]


def test_count_tokens_approximates_the_budget() -> None:
    assert count_tokens("日本科技创新体系") == 8
    assert 10 <= count_tokens("The quick brown fox jumps over the lazy dog.") <= 14


def test_clean_line_normalizes_compatibility_characters() -> None:
    assert clean_line("ﬁnal ⽠果 关 于 红 军") == "final 瓜果关于红军"
    assert clean_line("甲方：中国（盖章），") == "甲方：中国（盖章），"  # full-width punctuation kept
    assert clean_line("ＡＢＣ　１２３") == "ABC 123"


def test_garbled_text_is_recognised() -> None:
    assert is_garbled("ISSUE Date˖2019-4-25 Buyer˖哾㦓")
    assert is_garbled("Ä¿ ¡¡ ¡¡ Â¼ ¹Ø ÓÚ ºì ¾ü")
    assert not is_garbled("Buyer：黎荣 Date: 2019-4-25")
    assert not is_garbled("Café au lait, a naïve résumé by Gödel.")
