"""Anchors (names that survive translation) and named documents, without models."""

from __future__ import annotations

from paperbridge.index import DocumentInfo
from paperbridge.qa.anchors import anchors, as_written, missing, vocabulary
from paperbridge.qa.documents import identity


def test_anchors_are_acronyms_names_with_digits_or_inner_capitals_and_numbered_parts() -> None:
    assert anchors("How does BM25F weight the fields, unlike Okapi BM25 at TREC-4?") == {
        "bm25f",
        "bm25",
        "trec4",
    }
    assert anchors("What accuracy does TableFormer reach on HybridQA?") == {"tableformer", "hybridqa"}
    assert anchors("GDPR 第100条规定了什么？") == {"gdpr", "第100条"}
    assert anchors("What does Article 17 say about erasure?") == {"article17"}
    assert anchors("How long should I boil an egg?") == set()  # plain words are no anchors


def test_an_anchor_is_found_in_any_spelling_or_as_part_of_a_longer_name() -> None:
    known = vocabulary(["我们与 LLaMA-3.1 405B 和 GPT-4o 比较", "the TREC-3 runs", "第99条 生效"])
    assert missing("Is GPT-4o better than LLaMA?", known) == []
    assert missing("How did Okapi do at TREC 3?", known) == []
    assert missing("What did TREC-4 show?", known) == ["trec4"]
    assert missing("GDPR 第100条规定了什么？", known) == ["gdpr", "第100条"]


def test_a_missing_anchor_is_named_as_the_question_spells_it() -> None:
    assert as_written("trec4", "What did TREC-4 show?") == "TREC-4"
    assert as_written("xer", "libtasn1 支持 XML 编码规则（XER）吗？") == "XER"
    assert as_written("第100条", "GDPR 第100条规定了什么？") == "第100条"
    assert as_written("《人工智能法案》", "欧盟《人工智能法案》的要求？") == "《人工智能法案》"


def test_a_document_is_named_by_title_words_authors_and_file_name() -> None:
    info = DocumentInfo(
        "d1",
        "Tidy Data",
        "/papers/en_tidy_data_jss2014.pdf",
        "pdf",
        "en",
        23,
        148,
        (),
        "",
        ("Hadley Wickham",),
        2014,
    )
    ident = identity(info)
    assert {"tidy", "data", "hadley", "wickham", "jss2014"} <= ident.words
    assert "Hadley Wickham" in ident.text and "2014" in ident.text
    zh = identity(DocumentInfo("d2", "大语言模型综述", "/p/survey.pdf", "pdf", "zh", 60, 600, (), ""))
    assert zh.grams == {"大语言模型综", "语言模型综述"}  # six in a row: "语言模型" alone names nothing
