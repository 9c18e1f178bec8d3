"""Text files and the sample corpus: decoding, paragraph reconstruction, passages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from paperbridge.ingest import (
    SAMPLE_CORPUS,
    IngestConfig,
    count_tokens,
    find_files,
    read_document,
    split_sentences,
)
from paperbridge.ingest.errors import DecodeError, EmptyDocumentError, UnsupportedFileError

CJK_SPACE_CJK = re.compile(r"[\u4e00-\u9fff][ \t]+[\u4e00-\u9fff]")


def _sample(prefix: str) -> Path:
    return next(SAMPLE_CORPUS.glob(f"{prefix}_*.txt"))


def test_find_files_expands_folders_and_keeps_explicit_files(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.md").write_text("# B\n", encoding="utf-8")
    (tmp_path / "a.txt").write_text("A", encoding="utf-8")
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    found = find_files([tmp_path, tmp_path / "image.png"])
    assert found == [tmp_path / "a.txt", tmp_path / "sub" / "b.md", tmp_path / "image.png"]
    names = [p.name for p in find_files([SAMPLE_CORPUS])]
    assert names == sorted(names) and len(names) == 5 and names[0].startswith("000_")


def test_offsets_point_into_cleaned_page_text() -> None:
    for path in find_files([SAMPLE_CORPUS]):
        document = read_document(path)
        assert document.kind == "text" and document.pages == 1
        assert len(document.doc_id) == 16
        for passage in document.passages:
            assert passage.page == 1
            page = document.page_texts[0]
            assert page[passage.start : passage.end] == passage.text


def test_pdf_lines_in_002_become_whole_paragraphs() -> None:
    document = read_document(_sample("002"))
    texts = [p.text for p in document.passages]
    whole = "\n".join(texts)
    assert document.lang == "zh"
    assert document.title == "日本科技创新体系发展特征及对中国启示"
    # A sentence that the PDF broke over two lines ("……其基\n本架构如图 2 所示。").
    assert any("其基本架构如图 2 所示。" in t for t in texts)
    # Across a page break with two figure captions in between ("朝永振一 / 图 1 / 图 2 / 郎").
    assert any("朝永振一郎、利根川进" in t for t in texts)
    assert not CJK_SPACE_CJK.search(whole), CJK_SPACE_CJK.search(whole)
    # Captions, running header and section headings are not inside sentences.
    assert "图 1 日本 2016—2021 年研发总支出与研发强度" in texts
    assert "科技计划与管理" not in whole
    assert not any("顶层设计决策制度" in t for t in texts)
    assert any(t.startswith("综合科学技术创新会议（CSTI）") for t in texts)
    assert any(t.startswith("摘要：科技创新") for t in texts)


def test_no_passage_ends_mid_sentence_in_002() -> None:
    document = read_document(_sample("002"))
    for passage in document.passages:
        if passage.lang == "zh" and not passage.text.startswith("图"):
            assert passage.text[-1] in "。！？；”■", passage.text[-30:]


def test_web_boilerplate_stays_out_of_the_abstract() -> None:
    for prefix in ("001", "003"):
        document = read_document(_sample(prefix))
        abstract = max(document.passages, key=lambda p: len(p.text)).text
        assert "E-mail Alert" not in abstract and "Previous Articles" not in abstract
        assert "Online:" not in abstract
    assert read_document(_sample("001")).title.startswith("Japan’s Macro Coordination Mechanism")
    assert read_document(_sample("003")).title.startswith("Macro S&T Coordination Mechanism")


def test_chinese_and_english_abstracts_of_004_are_separate_passages() -> None:
    document = read_document(_sample("004"))
    assert document.lang == "mixed"
    by_lang = {p.lang for p in document.passages}
    assert by_lang == {"zh", "en"}
    zh = [p for p in document.passages if p.text.startswith("摘要")][0]
    assert "Abstract" not in zh.text


def test_long_paragraphs_are_cut_at_sentences_with_overlap() -> None:
    config = IngestConfig(max_tokens=120, overlap_sentences=1)
    document = read_document(_sample("000"), config=config)
    parts = [p for p in document.passages if p.paragraph == 1]
    assert len(parts) > 3 and [p.part for p in parts] == list(range(len(parts)))
    overlaps = 0
    for first, second in zip(parts, parts[1:], strict=False):
        assert first.text[-1] in ".;," and count_tokens(first.text) <= 120
        if len(split_sentences(first.text)) > 1:
            last_sentence = split_sentences(first.text)[-1]
            assert second.text.startswith(last_sentence)  # one sentence of overlap
            overlaps += 1
    assert overlaps >= 2


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="max_tokens"):
        IngestConfig(max_tokens=0)
    with pytest.raises(ValueError, match="overlap_sentences"):
        IngestConfig(overlap_sentences=-1)


def test_gbk_text_file_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "gbk.txt"
    text = "日本高度重视科技创新且创新实力雄厚。研发投入强度保持在 3.0% 以上。\n"
    path.write_bytes(text.encode("gbk"))
    document = read_document(path)
    assert document.passages[0].text == text.strip()
    assert document.lang == "zh"


def test_markdown_hard_wrapped_paragraph_and_hyphenation(tmp_path: Path) -> None:
    path = tmp_path / "note.md"
    path.write_text(
        "# Results of the study\n\nThe im-\nprovement of high-performance computing is\n"
        "large; see the high-\nperformance cluster.\n",
        encoding="utf-8",
    )
    document = read_document(path)
    assert document.title == "Results of the study"
    assert [p.text for p in document.passages] == [
        "The improvement of high-performance computing is large; see the high-performance cluster."
    ]


def test_bad_text_files_raise_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"  \n")
    with pytest.raises(EmptyDocumentError, match="empty.txt"):
        read_document(empty)
    binary = tmp_path / "blob.txt"
    binary.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(DecodeError, match="blob.txt"):
        read_document(binary)
    other = tmp_path / "table.xlsx"
    other.write_bytes(b"PK\x03\x04")
    with pytest.raises(UnsupportedFileError, match="table.xlsx.*PDF, .txt and .md"):
        read_document(other)


def test_titles_skip_tags_and_metadata_lines(tmp_path: Path) -> None:
    paper = tmp_path / "p.txt"
    paper.write_text(
        "[Paper Express] Experience of Independent Technological Innovation in Japan\n\n"
        "Abstract: Japan proposed the strategy in the early 1980s.\n\nAuthor: Li Huimin\n",
        encoding="utf-8",
    )
    assert read_document(paper).title == "Experience of Independent Technological Innovation in Japan"
    titles = [read_document(p).title for p in sorted(SAMPLE_CORPUS.glob("*.txt"))]
    assert titles[0].startswith("Experience and Enlightenment of Independent Technological Innovation")
    assert not any(t.startswith("Author") for t in titles)


def test_metadata_lines_are_passages_not_headings() -> None:
    """Who wrote a paper is a fact users ask for: 'Author: ...' lines must be searchable."""
    doc = read_document(next(SAMPLE_CORPUS.glob("000_*.txt")))
    texts = [p.text for p in doc.passages]
    assert "Author: Li Huimin, Chen Guang" in texts


def test_a_long_unpunctuated_run_is_cut_within_budget_and_in_linear_time() -> None:
    """One 'sentence' of 60,000 words (a dump without punctuation) is cut into passages that
    each fit the budget, cover the text in order and cut at word boundaries; the cut used to
    re-count the growing prefix at every character (O(n²): minutes for 1 MB)."""
    from paperbridge.ingest.passages import _cut_sentence

    words = ("alpha", "beta", "数据", "要素", "policy", "research", "模型")
    text = " ".join(words[i * 7 % len(words)] + str(i % 13) for i in range(60_000))
    spans = _cut_sentence(text, 0, len(text), 256)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(count_tokens(text[a:b]) <= 256 for a, b in spans)
    assert all(b <= c for (_, b), (c, _) in zip(spans, spans[1:], strict=False))
    assert all(b == len(text) or " " in text[b - 1 : b + 1] for _, b in spans), "no word is split"


def test_a_one_line_paragraph_without_a_full_stop_is_body_not_a_heading(tmp_path: Path) -> None:
    """Text exported one paragraph per line often ends a paragraph with a citation mark
    ("...[citation needed]", "...theory.:212–219"): it used to become a heading, which never
    answers, and 12 of XQuAD's 240 English paragraphs could not be found."""
    paragraph = (
        "In the vast majority of large electric generating stations, turbines are directly "
        "connected to generators with no reduction gearing. Typical speeds are 3600 revolutions "
        "per minute in the USA with 60 Hertz power. Power is required in the opposite "
        "direction.[citation needed]"
    )
    chinese = ("这一段中文没有句号结尾，它讲的是蒸汽轮机。"
               "转子安装在传动轴上，与固定在机壳上的定子交替排列[来源请求]")
    for name, text in (("en.txt", paragraph), ("zh.txt", chinese)):
        path = tmp_path / name
        path.write_text(text + "\n", encoding="utf-8")
        passages = read_document(path).passages
        assert [p.kind for p in passages] == ["body"] * len(passages), name
        assert "".join(p.text for p in passages).replace(" ", "") == text.replace(" ", "")
    title = tmp_path / "titled.txt"
    title.write_text("Steam Turbines in Power Stations\n\n" + paragraph + "\n", encoding="utf-8")
    assert read_document(title).passages[0].text.startswith("In the vast majority")
