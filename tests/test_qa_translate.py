"""Crossing languages with words: the lexicon, the question's terms, coverage, weak anchors.

The lexicon is the real one, built from the installed dictionaries into the model cache
(once; CI's quick start builds it with its first question). Retrieval through translated
words is shown with the fake hash encoder, which has no cross-lingual ability of its own:
whatever crosses the language gap there is the lexicon's doing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from paperbridge.index import HashEncoder, IndexConfig
from paperbridge.index.lexicon import Lexicon, load_lexicon
from paperbridge.qa import PaperBridge
from paperbridge.qa.anchors import anchors, is_pinyin, is_strong, quoted_titles
from paperbridge.qa.coverage import coverage, weights
from paperbridge.qa.translate import question_terms


@pytest.fixture(scope="module")
def lexicon() -> Lexicon:
    return load_lexicon()


def test_the_lexicon_translates_both_ways_and_stems_english(lexicon: Lexicon) -> None:
    assert "attention" in lexicon.english_terms("注意力")
    assert "redundancy" in lexicon.english_terms("冗余")
    assert "负载均衡" in lexicon.chinese_terms(["load", "balancing"])
    assert lexicon.chinese_terms(["biases"]) == lexicon.chinese_terms(["bias"])
    assert lexicon.english_terms("不是一个词") == ()


def test_english_question_terms_keep_names_whole_and_drop_asking_words(lexicon: Lexicon) -> None:
    terms = question_terms("How many of the H800's SMs does DeepSeek-V3 set aside?", lexicon)
    words = [t.word for t in terms.terms]
    assert words[:3] == ["H800", "SMs", "DeepSeek-V3"] and "many" not in words
    assert all(t.name and not t.senses for t in terms.terms[:3])
    forget = question_terms("How should the forget-gate bias be initialised?", lexicon)
    assert [t.word for t in forget.terms][:2] == ["forget", "gate"]
    assert forget.lang == "en" and forget.query("en") == ""
    assert "门" in forget.query("zh").split()


def test_chinese_question_terms_translate_words_and_keep_latin_names(lexicon: Lexicon) -> None:
    terms = question_terms("TableFormer 一共设计了多少种注意力偏置？", lexicon)
    assert terms.lang == "zh"
    assert terms.terms[0].word == "TableFormer" and terms.terms[0].name
    query = terms.query("en").split()
    assert "attent" in query and "TableFormer" in query  # BM25 tokens: stemmed English
    assert "一共" not in [t.word for t in terms.terms]  # asks, does not say what about


def test_translations_no_passage_uses_are_dropped(lexicon: Lexicon) -> None:
    def known(form: tuple[str, ...], lang: str) -> bool:
        return form == ("attent",)  # a library whose English passages only say "attention"

    terms = question_terms("注意力偏置", lexicon, known)
    assert [s for t in terms.terms for s in t.senses] == [("attent",)]


def test_a_phrase_whose_translations_no_passage_uses_is_looked_up_by_its_words(lexicon: Lexicon) -> None:
    """"load balancing" is 负载均衡 in the lexicon; a library that never writes it but
    writes the words' translations is still reached through the phrase's words."""
    assert "负载均衡" in lexicon.chinese_terms(["load", "balancing"])

    from paperbridge.index.lexical import tokenize

    words = lexicon.chinese_terms(["load"]) + lexicon.chinese_terms(["balancing"])
    used = {tuple(tokenize(w)) for w in words} - {tuple(tokenize(w)) for w in lexicon.chinese_terms(
        ["load", "balancing"])}

    def known(form: tuple[str, ...], lang: str) -> bool:
        return form in used  # the single words' translations, none of the phrase's

    assert [t.word for t in question_terms("How does load balancing work?", lexicon).terms] == [
        "load balancing", "work"]
    split = question_terms("How does load balancing work?", lexicon, known)
    assert [t.word for t in split.terms][:2] == ["load", "balancing"]
    assert all(t.senses for t in split.terms[:2])


def test_coverage_weighs_rare_terms_and_counts_any_form(lexicon: Lexicon) -> None:
    terms = question_terms("What is exposure bias in teacher forcing?", lexicon)
    df = {"en": {"bias": 40, "exposur": 2, "teacher": 3, "forc": 5}, "zh": {"偏差": 10}}
    w = weights(terms, df, passages=1000)
    assert w[0] > w[1]  # "exposure" is rarer than "bias" in this library
    assert coverage(terms, w, {"exposur", "bias", "teacher", "forc"}) == pytest.approx(1.0)
    half = coverage(terms, w, {"bias", "偏差"})
    assert 0 < half < 0.5
    assert coverage(terms, w, set()) == 0.0


def test_names_written_alike_everywhere_are_strong_anchors() -> None:
    assert is_strong("bm25f", "How does BM25F weight fields?")
    assert is_strong("hybridqa", "What accuracy on HybridQA?")
    assert is_strong("ccpa", "What does the CCPA say?")
    assert not is_strong("priestley", "When did Joseph Priestley see it?")  # 普里斯特利 in Chinese
    assert is_pinyin("Xipeng") and is_pinyin("Qiu") and not is_pinyin("Overleaf")
    assert "overleaf" in anchors("What does the book say about the Overleaf online editor?")
    assert "xipeng" not in anchors("In Qiu Xipeng's RNN chapter, what is it?")
    assert "survey" not in anchors("What does the Survey say?")  # common words are no names
    assert quoted_titles("《个人信息保护法》规定的最高罚款是多少？") == ["个人信息保护法"]
    assert anchors("what is 'K计划' in Mamba?") == {"mamba"}  # mixed: "what" names nothing


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> PaperBridge:
    folder = tmp_path_factory.mktemp("mixed-docs")
    (folder / "attention.txt").write_text(
        "Attention bias in tables.\n\nWe add a scalar attention bias to every attention score, "
        "after the scaling, so the bias does not need rescaling.\n", encoding="utf-8")
    (folder / "weather.txt").write_text(
        "Weather notes.\n\nThe rain in spring fell mostly on the plains, and farmers planted "
        "wheat after the first warm week.\n", encoding="utf-8")
    (folder / "zh.txt").write_text(
        "气候笔记\n\n春天雨水很多，农民种下了小麦。\n", encoding="utf-8")  # no character of the question
    bridge = PaperBridge(tmp_path_factory.mktemp("mixed") / "library",
                         index_config=IndexConfig(encoders=("hash",)), encoders=[HashEncoder()])
    bridge.add([folder])
    return bridge


def test_a_chinese_question_finds_the_english_passage_through_translated_words(mixed: PaperBridge) -> None:
    found = mixed.retrieve("注意力偏置是在缩放之后加的吗？", 3)
    top = mixed.library.passages([found.hits[0].passage_id])[0]
    assert "scalar attention bias" in top.text
    assert found.hits[0].signals.get("cross", 0) > 0  # BM25 on the translated words found it


def test_without_the_translation_signal_the_hash_encoder_cannot_cross(tmp_path: Path,
                                                                     mixed: PaperBridge) -> None:
    from paperbridge.qa import QAConfig

    plain = PaperBridge(mixed.path, config=QAConfig(cross_weight=0.0), create=False,
                        index_config=IndexConfig(encoders=("hash",)), encoders=[HashEncoder()])
    found = plain.retrieve("注意力偏置是在缩放之后加的吗？", 3)
    assert all(h.signals.get("cross", 0) == 0 for h in found.hits)


def test_words_naming_a_named_document_are_no_evidence_of_the_fact(mixed: PaperBridge) -> None:
    names = mixed._asker._retriever.names
    docs = {Path(d.source).name: d for d in mixed.documents()}
    en, zh = docs["weather.txt"], docs["zh.txt"]
    assert "weather" in en.title.lower() and zh.title == "气候笔记", (en.title, zh.title)
    assert names.names_a_document("weather", {en.doc_id})
    assert not names.names_a_document("wheat", {en.doc_id})
    assert not names.names_a_document("weather", set())  # only documents the question names
    assert names.names_a_document("气候", {zh.doc_id})



def test_a_named_document_is_searched_for_the_words_that_do_not_name_it(lexicon: Lexicon) -> None:
    """Inside a document the question names, its name matches every title page and table;
    the document is also searched for the rest of the question (``Retriever._inside_named``)."""
    from paperbridge.qa.retrieve import _content

    terms = question_terms("DeepSeek-V3 的分词器词表有多大？", lexicon)
    naming = [t.word.startswith("DeepSeek") for t in terms.terms]
    query, kept = _content("DeepSeek-V3 的分词器词表有多大？", terms, naming)
    assert "DeepSeek" not in query and "分词器词表" in query
    assert [t.word for t in kept.terms] == [t.word for t, n in zip(terms.terms, naming, strict=True) if not n]
    # A question that is nothing but the name keeps it: there is nothing else to search for.
    only = question_terms("Tidy Data", lexicon)
    assert _content("Tidy Data", only, [True] * len(only.terms)) == ("Tidy Data", only)


def test_questions_asking_for_authors_are_recognized() -> None:
    from paperbridge.qa.documents import asks_for_authors

    for question in ("Who wrote the Tidy Data paper?", "Who are the authors of TableFormer?",
                     "Okapi at TREC-3 was written by whom?", "《大语言模型综述》的作者有哪些？",
                     "这篇报告是谁写的？"):
        assert asks_for_authors(question), question
    for question in ("What did the authors propose?", "Who proposed the GRU?", "作品的主题是什么？"):
        assert not asks_for_authors(question), question


@pytest.fixture(scope="module")
def bylines(tmp_path_factory: pytest.TempPathFactory) -> PaperBridge:
    folder = tmp_path_factory.mktemp("bylines")
    (folder / "shannon.txt").write_text(  # the byline is a heading: no passage names him
        "A Mathematical Theory of Communication\n\nBy C. E. SHANNON\n\nThe fundamental problem of "
        "communication is that of reproducing at one point a message selected at another point.\n\n"
        "Entropy measures the information produced by a source of messages.\n", encoding="utf-8")
    (folder / "weather.txt").write_text(
        "Weather notes\n\nAuthor: Jane Doe\n\nThe rain in spring fell mostly on the plains, and "
        "farmers planted wheat after the first warm week.\n", encoding="utf-8")
    (folder / "zh.txt").write_text("气候笔记\n\n春天雨水很多，农民种下了小麦。\n", encoding="utf-8")
    bridge = PaperBridge(tmp_path_factory.mktemp("bylines-lib") / "library",
                         index_config=IndexConfig(encoders=("hash",)), encoders=[HashEncoder()])
    bridge.add([folder])
    return bridge


def test_an_author_named_in_translation_names_the_document(bylines: PaperBridge) -> None:
    """香农 is Shannon: the question names his paper though no passage writes his name."""
    docs = {Path(d.source).name: d.doc_id for d in bylines.documents()}
    found = bylines.retrieve("香农的论文里熵是什么？", 3)
    assert docs["shannon.txt"] in found.named


def test_who_wrote_it_is_answered_or_refused_with_the_authors(bylines: PaperBridge) -> None:
    answer = bylines.ask("Who wrote the weather notes?")
    assert not answer.no_answer and "Jane Doe" in answer.text, answer.reason
    # Asked of the Chinese passages only, the English author line is not among those allowed.
    answer = bylines.ask("Who wrote the weather notes?", langs=["zh"])
    assert "Jane Doe" not in answer.text and all(c.lang == "zh" for c in answer.citations)
    # Shannon's byline is a heading, not a passage: nothing to quote, but the refusal says who.
    answer = bylines.ask("香农那篇论文的作者是谁？")
    assert answer.no_answer and "C. E. SHANNON" in answer.reason, answer.reason
