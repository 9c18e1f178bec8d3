"""The 11 real papers and books of ../shared/realdocs: the right text on every page, and structure.

Each file is read once per session (about a minute for all of them on 2 cores). Every
assertion names a page and a string of the file; see ../shared/realdocs/SOURCES.md for
what is hard about each one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from paperbridge.ingest import ANSWER_KINDS, Document, read_document
from paperbridge.ingest.plausible import is_common_english_word, is_english_word
from tests.conftest import SHARED

REALDOCS = SHARED / "realdocs"
NAMES = sorted(p.stem for p in REALDOCS.glob("*.pdf")) if REALDOCS.is_dir() else []
# Private-use glyphs, control characters, replacement marks: never text.
BAD_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\ue000-\uf8ff\ufffd]")
# pypdf's escapes on fonts without a Unicode map: "TREC/{/3", "/1/2/0", "p/#28".
SLASH_ESCAPE = re.compile(r"/\{|/#[0-9A-F]{2}|(?<![\w:/.])/\d/\d")
KERN_PAIR = re.compile(r"\b([A-Za-z]+) ([a-z]+)\b")


@pytest.fixture(scope="session")
def docs() -> dict[str, Document]:
    """Every realdocs file read once."""
    if not NAMES:
        pytest.skip(f"{REALDOCS} not found: clone the project beside ../shared to run this test")
    return {name: read_document(REALDOCS / f"{name}.pdf") for name in NAMES}


def _page(doc: Document, page: int, kinds: tuple[str, ...] = ANSWER_KINDS) -> str:
    return "\n".join(p.text for p in doc.passages if p.page == page and p.kind in kinds)


def _split_words(text: str) -> list[str]:
    """Kern-split words: a piece that is no word, joined with its neighbour into a word."""
    return [m.group() for m in KERN_PAIR.finditer(text)
            if is_common_english_word(m.group(1) + m.group(2))
            and any(len(p) >= 2 and not is_english_word(p) for p in m.groups())]


@pytest.mark.parametrize("name", NAMES)
def test_no_private_use_control_chars_slash_escapes_or_split_words(
    docs: dict[str, Document], name: str
) -> None:
    doc = docs[name]
    text = "\n".join(p.text for p in doc.passages)
    assert not BAD_CHARS.findall(text)
    assert not SLASH_ESCAPE.findall(text)
    urls = re.compile(r"https?://\S+")  # URLs broken over lines are another matter
    assert [s for p in doc.passages for s in _split_words(urls.sub(" ", p.text))] == []
    for passage in doc.passages:
        assert doc.page_texts[passage.page - 1][passage.start:passage.end] == passage.text


@pytest.mark.parametrize("name", NAMES)
def test_every_page_with_prose_is_indexed(docs: dict[str, Document], name: str) -> None:
    doc = docs[name]
    report = doc.report
    assert report.pages == len(report.extractors) == doc.pages
    assert all(reason == "no text layer" for _, reason in report.dropped)  # none "garbled"
    dropped = [page for page, _ in report.dropped]
    for page, text in enumerate(doc.page_texts, start=1):
        prose = len(re.findall(r"[。！？]|[a-z][.!?] [A-Z]", text)) >= 3  # sentences, not lists
        if page not in dropped and prose:
            assert any(p.page == page for p in doc.passages), page
    assert doc.title != name and not doc.title.endswith(".dvi")


_NAMED_SENTENCES = [
    ("zh_llm_survey_two_column", 4, "通过指令微调，LLM 能够在没有使用显式示例的情况下遵循新的任务指令"),
    ("zh_zju_llm_foundations_ch1", 2,
     "语言模型通过对语料库（Corpus）中的语料进行统计或学习来获得预测语言符号概率的能力。"),
    ("zh_gdpr_translation", 2, "经过欧盟议会长达四年的讨论，欧盟《通用数据保护条例》"),
    ("zh_nndl_ch6_rnn_textbook", 2,
     "循环神经网络（Recurrent Neural Network，RNN）是一类具有短期记忆能力的神经网络。"),
    ("zh_latex_notes_book", 100, "figure 环境可以自动完成这样的任务"),
    ("zh_caict_data_factor_whitepaper_2022", 3, "数据作为新型生产要素，对传统生产方式变革具有重大影响"),
    ("en_okapi_trec3_bm25", 2, "The main code is written in C, with additional material in awk and perl."),
    ("en_okapi_trec3_bm25", 2,
     "The two successes have been in query expansion and in routing term selection."),
    ("en_shannon_1948_communication", 5,
     "It will choose successive symbols according to certain probabilities"),
    ("en_tableformer_acl2022", 2,
     "a Transformer architecture that is robust to row and column order perturbations"),
    ("en_tidy_data_jss2014", 5,
     "Tidy data makes it easy for an analyst or a computer to extract needed variables"),
    ("en_deepseek_v3_tech_report", 12,
     "The training of DeepSeek-V3 is supported by the HAI-LLM framework"),
]


@pytest.mark.parametrize(("name", "page", "sentence"), _NAMED_SENTENCES)
def test_named_page_reads_as_written(
    docs: dict[str, Document], name: str, page: int, sentence: str
) -> None:
    assert sentence in _page(docs[name], page)


def test_each_page_goes_to_the_reader_that_reads_it(docs: dict[str, Document]) -> None:
    # pypdf garbles the Fandol CJK fonts (no /ToUnicode); pdfium reads them.
    assert set(docs["zh_llm_survey_two_column"].report.extractors) == {"pdfium"}
    assert set(docs["zh_zju_llm_foundations_ch1"].report.extractors) == {"pdfium"}
    # pdfium garbles the Word/Quartz file (rare ideographs, Bopomofo); pypdf reads it.
    gdpr = docs["zh_gdpr_translation"]
    assert gdpr.report.extractors[1:].count("pypdf") == gdpr.pages - 1
    gdpr_text = "\n".join(p.text for p in gdpr.passages)
    assert not re.search(r"[\u3100-\u312f\u2d30-\u2dff]|漓|濅|⵳", gdpr_text)
    survey = "".join(p.text for p in docs["zh_llm_survey_two_column"].passages)
    assert len(re.findall(r"[\u4e00-\u9fff]", survey)) > 45_000


def test_okapi_repairs(docs: dict[str, Document]) -> None:
    okapi = docs["en_okapi_trec3_bm25"]
    text = "\n".join(p.text for p in okapi.passages)
    assert "TREC-3" in text and "TREC{3" not in text and "TREC/{" not in text
    assert "beneficial" in text and "effects" in text and "fields" in text  # ligature codes
    assert "Rob ertson" not in text and "do cuments" not in text and "exp eriments" not in text
    assert "a 4/330 with 40 MB" in text  # a real slash stays
    assert okapi.title == "Okapi at TREC-3"
    assert okapi.authors[:2] == ("S E Robertson", "S Walker") and "M Gatford" in okapi.authors


def test_banners_and_running_headers_are_absent(docs: dict[str, Document]) -> None:
    survey = "\n".join(p.text for p in docs["zh_llm_survey_two_column"].passages)
    assert "仅供内部学习使用" not in survey and "版权为 RUC AI Box 所有" not in survey
    nndl = "\n".join(p.text for p in docs["zh_nndl_ch6_rnn_textbook"].passages)
    assert "nndl.github.io" not in nndl and "2019 年 4 月 10 日" not in nndl
    caict = [p.text for p in docs["zh_caict_data_factor_whitepaper_2022"].passages if p.page > 6]
    assert not any(t.startswith("数据要素白皮书（2022 年）") for t in caict)
    tidy = [p.text for p in docs["en_tidy_data_jss2014"].passages]
    assert not any(t.startswith("12 Tidy Data") for t in tidy)


@pytest.mark.parametrize(("name", "kind", "pages"), [
    ("en_deepseek_v3_tech_report", "toc", {2}),
    ("zh_caict_data_factor_whitepaper_2022", "toc", {5, 6}),
    ("zh_latex_notes_book", "toc", {7, 8, 9, 10}),
    ("zh_gdpr_translation", "toc", {1}),
    ("zh_llm_survey_two_column", "references", {35, 40, 50, 60}),
    ("zh_zju_llm_foundations_ch1", "references", {29, 30, 31}),
    ("zh_nndl_ch6_rnn_textbook", "references", {25}),
    ("zh_caict_data_factor_whitepaper_2022", "references", {50}),
    ("en_deepseek_v3_tech_report", "references", {36, 40}),
    ("en_tableformer_acl2022", "references", {10}),
    ("en_tidy_data_jss2014", "references", {22}),
    ("zh_latex_notes_book", "index", {221}),
])
def test_toc_reference_and_index_pages_are_classified(
    docs: dict[str, Document], name: str, kind: str, pages: set[int]
) -> None:
    doc = docs[name]
    for page in pages:
        on_page = [p for p in doc.passages if p.page == page]
        assert on_page, page
        share = sum(1 for p in on_page if p.kind == kind) / len(on_page)
        assert share >= 0.6, (page, [(p.kind, p.text[:40]) for p in on_page])
    assert not any(p.kind == kind for p in doc.passages if p.page <= 1 and kind != "toc")


def test_reference_passages_do_not_compete_for_answers(docs: dict[str, Document]) -> None:
    survey = docs["zh_llm_survey_two_column"]
    answers = [p for p in survey.passages if p.kind in ANSWER_KINDS]
    assert not any(re.match(r"\[\d+\] [A-Z]\. [A-Z][a-z]+,", p.text) for p in answers)
    assert survey.lang == "zh"  # 27 pages of English references do not make it "mixed"


def test_section_paths(docs: dict[str, Document]) -> None:
    nndl = docs["zh_nndl_ch6_rnn_textbook"]
    sections = {p.section for p in nndl.passages}
    assert "第 6 章循环神经网络 > 6.2 简单循环网络 > 6.2.1 循环神经网络的计算能力" in sections
    caict = {p.section for p in docs["zh_caict_data_factor_whitepaper_2022"].passages}
    assert "一、数据要素理论问题概述 > （一）数据的概念与独特属性" in caict
    deepseek = {p.section for p in docs["en_deepseek_v3_tech_report"].passages}
    assert any(s.endswith("3.2. Training Framework") for s in deepseek)
    assert "2.1. Basic Architecture > 2.1.1. Multi-Head Latent Attention" in deepseek
    gdpr = {p.section for p in docs["zh_gdpr_translation"].passages}
    assert "第二章原则 > 第5条个人数据处理原则" in gdpr


@pytest.mark.parametrize(("name", "title", "authors", "year"), [
    ("en_okapi_trec3_bm25", "Okapi at TREC-3", ("S E Robertson",), None),
    ("en_shannon_1948_communication", "A Mathematical Theory of Communication", ("C. E. SHANNON",), 1948),
    ("en_tableformer_acl2022", "TABLEFORMER: Robust Transformer Modeling for Table-Text Encoding",
     ("Jingfeng Yang", "Aditya Gupta"), 2022),
    ("en_tidy_data_jss2014", "Tidy Data", ("Hadley Wickham",), 2014),
    ("en_deepseek_v3_tech_report", "DeepSeek-V3 Technical Report", (), None),
    ("zh_llm_survey_two_column", "大语言模型综述", ("赵鑫", "周昆", "李军毅"), None),
    ("zh_caict_data_factor_whitepaper_2022", "数据要素白皮书", (), 2023),
    ("zh_gdpr_translation", "欧盟《通用数据保护条例》GDPR-高质量译文(全)", (), None),
])
def test_bibliographic_metadata(
    docs: dict[str, Document], name: str, title: str, authors: tuple[str, ...], year: int | None
) -> None:
    doc = docs[name]
    assert doc.title == title
    assert doc.authors[:len(authors)] == authors
    if year is not None:
        assert doc.year == year


def test_two_column_reading_order(docs: dict[str, Document]) -> None:
    # A sentence that runs down one column comes out whole: columns are not interleaved.
    tableformer = _page(docs["en_tableformer_acl2022"], 1)
    assert "Understanding tables is an important aspect of natural language understanding." in tableformer
    survey = _page(docs["zh_llm_survey_two_column"], 4)
    assert "最近的一项研究 [64] 发现，PaLM 至少在 620 亿的模型大小上才能在四个评估基准" in survey


def test_stats_name_pages_readers_and_kinds(docs: dict[str, Document]) -> None:
    stats = docs["zh_nndl_ch6_rnn_textbook"].stats()
    assert "pages: 27" in stats and "read by: " in stats and "no text layer 1" in stats
    assert re.search(r"passages: \d+ \(body \d+", stats)
    assert Path(docs["zh_nndl_ch6_rnn_textbook"].source).name in stats
