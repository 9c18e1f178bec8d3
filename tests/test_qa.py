"""qa mechanics over the real sample corpus with the fake HashEncoder (model beside the point)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paperbridge.index import HashEncoder, IndexConfig
from paperbridge.ingest.errors import QuestionError
from paperbridge.qa import PaperBridge, QAConfig
from paperbridge.qa.evaluate import gold_rank
from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def bridge(tmp_path_factory: pytest.TempPathFactory) -> PaperBridge:
    path = tmp_path_factory.mktemp("qa") / "library"
    b = PaperBridge(path, index_config=IndexConfig(encoders=("hash",)), encoders=[HashEncoder()])
    b.add(sorted(SAMPLE.glob("*.txt")))
    return b


@pytest.mark.parametrize("question", ["", "   \n\t "])
def test_empty_question_is_refused_with_a_message(bridge: PaperBridge, question: str) -> None:
    with pytest.raises(QuestionError, match="empty"):
        bridge.ask(question)


def test_very_long_question_is_refused_with_the_limit(bridge: PaperBridge) -> None:
    with pytest.raises(QuestionError, match="limit is 1000"):
        bridge.ask("What is the K Program? " * 100)


def test_same_language_question_cites_the_passage_and_marks_the_sentence(bridge: PaperBridge) -> None:
    answer = bridge.ask("Key and Advanced Technology R&D K Program economic security Japan")
    assert "K计划" in answer.citations[0].title
    assert [c.rank for c in answer.citations] == [1, 2, 3, 4, 5]
    if not answer.no_answer:
        marked = [c for c in answer.citations if c.highlight]
        assert marked, "an answer must mark its sentence in a cited passage"
        for c in marked:
            a, b = c.highlight or (0, 0)
            assert c.text[a:b] in answer.text
            assert f"[{c.rank}]" in answer.text


def test_language_filter_only_returns_that_language(bridge: PaperBridge) -> None:
    answer = bridge.ask("日本 科技 创新 K Program", langs=["zh"], top_k=8)
    assert answer.citations and {c.lang for c in answer.citations} == {"zh"}


def test_document_filter_only_returns_that_document(bridge: PaperBridge) -> None:
    doc = next(d for d in bridge.documents() if d.title.startswith("Macro S&T"))
    answer = bridge.ask("coordination mechanism", doc_ids=[doc.doc_id])
    assert {c.doc_id for c in answer.citations} == {doc.doc_id}


def test_citation_offsets_point_into_the_page_text(bridge: PaperBridge) -> None:
    for c in bridge.ask("Society 5.0 超智能社会").citations:
        page = bridge.library.page_text(c.doc_id, c.page)
        assert page[c.start : c.end] == c.text


def test_batch_keeps_order_passes_fields_through_and_reports_bad_lines(
    bridge: PaperBridge, tmp_path: Path
) -> None:
    src = tmp_path / "q.jsonl"
    src.write_text(
        '{"id": "a", "question": "What is the K Program?", "topic": "k"}\n'
        "not json at all\n"
        '{"id": "c", "question": "   "}\n'
        '{"id": "d", "question": "日本的研发投入强度是多少？"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "a.jsonl"
    report = bridge.batch(src, out)
    lines = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    assert [x["id"] for x in lines] == ["a", "d"]
    assert lines[0]["topic"] == "k" and lines[1]["question_lang"] == "zh"
    assert set(lines[0]) >= {"id", "question", "question_lang", "answer", "no_answer", "citations"}
    cite = lines[0]["citations"][0]
    assert set(cite) == {
        *("rank", "doc_id", "title", "source", "page", "paragraph", "lang", "score", "text"),
        *("passage_kind", "section", "evidence"),
    }
    assert set(lines[0]) >= {"confidence", "confidence_label", "reason"}
    assert [n for n, _ in report.failed] == [2, 3]
    assert "q.jsonl:2" in report.failed[0][1] and "question" in report.failed[1][1]


def test_batch_reads_csv(bridge: PaperBridge, tmp_path: Path) -> None:
    src = tmp_path / "q.csv"
    src.write_text("id,question\n1,What is Society 5.0?\n2,日本的K计划\n", encoding="utf-8")
    out = tmp_path / "a.jsonl"
    assert bridge.batch(src, out).answered == 2
    assert [json.loads(x)["id"] for x in out.read_text(encoding="utf-8").splitlines()] == ["1", "2"]


def test_gold_matching_ignores_whitespace(bridge: PaperBridge) -> None:
    answer = bridge.ask("博士研究生 人数 自然科学 71 337", top_k=10)
    assert gold_rank({"gold": "71337"}, answer.citations) is not None
    assert gold_rank({"gold": "no such text"}, answer.citations) is None


def test_eval_reports_recall_and_refusals(bridge: PaperBridge, tmp_path: Path) -> None:
    src = tmp_path / "eval.jsonl"
    src.write_text(
        '{"id": 1, "question": "Key and Advanced Technology R&D K Program", "gold": "K Program"}\n'
        '{"id": 2, "question": "How do I bake sourdough bread?"}\n',
        encoding="utf-8",
    )
    report = bridge.evaluate(src)
    assert report.questions == 2 and report.answerable == 1 and report.unanswerable == 1
    rank = gold_rank(
        {"gold": "K Program"}, bridge.ask("Key and Advanced Technology R&D K Program", top_k=10).citations
    )
    assert rank is not None
    assert report.mrr_at_10 == pytest.approx(1 / rank)
    assert report.recall_at_1 == (rank == 1) and report.recall_at_5 == (rank <= 5)


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="top_k"):
        QAConfig(top_k=0)


def test_numbers_and_acronyms_anchor_answer_sentences_across_languages() -> None:
    from paperbridge.qa.answer import _anchors

    assert _anchors("How many doctoral students were there in 2023?") == {"2023"}
    assert _anchors("据统计，2023 年在校博士研究生为 71 337 人，JST 与 CSTI（R&D 3.0%）") == {
        "2023",
        "71337",
        "JST",
        "CSTI",
        "R&D",
        "3.0",
    }


def test_questions_in_a_passage_are_never_quoted_as_answers() -> None:
    from paperbridge.index import StoredPassage
    from paperbridge.qa.evidence import sentences_of

    text = "Looking for other templates? Please visit the site. 你想了解更多吗？本模板支持中文。"
    passage = StoredPassage(1, "d", "t", "s", "text", 1, 1, 0, "mixed", 0, len(text), text)
    kept = [s.text for s in sentences_of(passage) if not s.is_question]
    assert kept == ["Please visit the site.", "本模板支持中文。"]


def test_a_keyword_line_is_quoted_only_when_keywords_are_asked_for() -> None:
    """"Key words: S&T Strategy, Macro-coordination Mechanism, United States, Japan" is close
    to every question on the paper's topic and states nothing."""
    import numpy as np

    from paperbridge.qa.answer import pick_sentences
    from paperbridge.qa.evidence import Sentence

    keywords = "Key words: S&T Strategy, Macro-coordination Mechanism, United States, Japan"
    statement = "Both countries coordinate science policy through a cabinet-level council."
    sentences = [Sentence(1, (0, len(keywords)), keywords, False),
                 Sentence(1, (len(keywords) + 1, len(keywords) + 1 + len(statement)), statement, False)]
    vectors = np.asarray([[1.0, 0.0], [0.8, 0.6]], dtype=np.float32)  # the keyword line is closer
    question = np.asarray([1.0, 0.0], dtype=np.float32)
    picked = pick_sentences("How do Japan and the US coordinate science policy?", question,
                            [(sentences, vectors)], limit=3, margin=0.5)
    assert [s.text for s in picked] == [statement]
    picked = pick_sentences("What are the key words of the paper?", question,
                            [(sentences, vectors)], limit=1, margin=0.5, follow=False)
    assert [s.text for s in picked] == [keywords]


def test_a_title_page_or_a_tables_rows_are_cited_but_never_quoted() -> None:
    """Three or more short lines that state nothing read as nonsense when quoted in running
    text; a list's lead-in and a wrapped sentence are quoted as usual."""
    import numpy as np

    from paperbridge.qa.answer import label_block, pick_sentences
    from paperbridge.qa.evidence import Sentence

    title = "DeepSeek-V3 Technical Report\nDeepSeek-AI\nresearch@deepseek.com"
    assert label_block(title)
    assert label_block("No .2022 2 6\n中国信息通信研究院\n2023年 1月\n数据要素白皮书\n(2022 年)")
    assert label_block("操作系统 发行版 编辑器\n通用 TeX Live TeXworks\nWindows MikTeX TeXstudio")
    assert not label_block("另外，我自定义了 4 个命令：\n\n1.")
    assert not label_block("The tokenizer uses\nbyte-level BPE with\na 128K vocabulary.")
    statement = "The tokenizer for DeepSeek-V3 employs Byte-level BPE with a vocabulary of 128K tokens."
    sentences = [Sentence(1, (0, len(title)), title, False),
                 Sentence(2, (0, len(statement)), statement, False)]
    question = np.asarray([1.0, 0.0], dtype=np.float32)
    cached = [([sentences[0]], np.asarray([[1.0, 0.0]], dtype=np.float32)),
              ([sentences[1]], np.asarray([[0.8, 0.6]], dtype=np.float32))]
    picked = pick_sentences("How large is DeepSeek-V3's vocabulary?", question, cached, limit=3, margin=0.5)
    assert [(s.rank, s.text) for s in picked] == [(2, statement)]


def test_the_sentence_after_the_top_passages_best_one_is_quoted_too() -> None:
    """The sentence that reads most like the question often only leads into the fact; the
    one after it in the top passage is quoted with it, and nothing from a lower passage."""
    import numpy as np

    from paperbridge.qa.answer import compose, pick_sentences
    from paperbridge.qa.evidence import Sentence

    texts = ["We adopt a similar approach to DeepSeek-V2 to enable long context.",
             "Specifically, we apply YaRN in two phases of 1000 steps each.",
             "The model is released under the MIT license."]
    spans, start = [], 0
    for text in texts:
        spans.append((start, start + len(text)))
        start += len(text) + 1
    top = [Sentence(1, span, text, False) for span, text in zip(spans, texts, strict=True)]
    other = [Sentence(2, (0, len(texts[1])), "Long context matters for agents and for retrieval.", False)]
    question = np.asarray([1.0, 0.0], dtype=np.float32)
    cached = [(top, np.asarray([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]], dtype=np.float32)),
              (other, np.asarray([[0.0, 1.0]], dtype=np.float32))]
    picked = pick_sentences("How is the context extended to 128K?", question, cached, limit=3, margin=0.3)
    assert compose(picked) == f"{texts[0]} [1] {texts[1]} [1]"
    alone = pick_sentences("How is the context extended to 128K?", question, cached, limit=3, margin=0.3,
                           follow=False)
    assert [s.text for s in alone] == [texts[0]]


def test_a_paragraph_repeated_word_for_word_is_cited_once(tmp_path: Path) -> None:
    """A manual repeats lines ("Returns: ASN1_SUCCESS if successful or an error value.");
    the repeat adds no evidence and would take the place of another passage."""
    repeated = "Returns: ASN1_SUCCESS if successful, or an error value when the structure is not valid."
    paragraphs = [repeated, "The SIZE constraints are allowed, but no check is done on them.", repeated,
                  "This version does not handle the REAL type.", repeated,
                  "The header file of this library is libtasn1.h."]
    manual = tmp_path / "manual.txt"
    manual.write_text("Libtasn1 manual\n\n" + "\n\n".join(paragraphs) + "\n", encoding="utf-8")
    config = IndexConfig(encoders=("hash",))
    b = PaperBridge(tmp_path / "library", index_config=config, encoders=[HashEncoder()])
    b.add([manual])
    assert len(b.library) >= 6
    answer = b.ask("Returns ASN1_SUCCESS if successful or an error value", top_k=5)
    texts = [" ".join(c.text.split()) for c in answer.citations]
    assert texts.count(repeated) == 1 and len(texts) == len(set(texts)) >= 4


def test_a_name_the_answering_document_never_mentions_lowers_the_confidence(tmp_path: Path) -> None:
    """A passage on fines from one law does not answer a question about another law that
    the library names elsewhere: the best passage's document never mentions the name."""
    regulation = tmp_path / "regulation.txt"
    regulation.write_text(
        "Data protection regulation\n\n"
        "Infringements are subject to administrative fines up to 20 000 000 EUR, or up to 4 % of the "
        "total worldwide annual turnover of the preceding financial year, whichever is higher.\n\n"
        "Each supervisory authority shall ensure that the fines are effective and proportionate.\n",
        encoding="utf-8")
    regulation_zh = tmp_path / "regulation_zh.txt"
    regulation_zh.write_text(
        "数据保护条例\n\n违反本条例的，处以最高2000万欧元的行政罚款，或者最高相当于上一年全球年营业额4%的罚款，"
        "以较高者为准。\n\n各监管机构应当确保罚款有效、相称。\n", encoding="utf-8")
    notes = tmp_path / "notes.txt"
    notes.write_text(
        "Notes on privacy laws\n\n"
        "China's PIPL took effect on 1 November 2021 and is often compared with European rules.\n\n"
        "《个人信息保护法》于2021年11月1日起施行。\n",
        encoding="utf-8")
    config = IndexConfig(encoders=("hash",))
    b = PaperBridge(tmp_path / "library", index_config=config, encoders=[HashEncoder()])
    b.add([regulation, regulation_zh, notes])
    plain = b.ask("What is the maximum administrative fine as a share of total worldwide annual turnover?")
    assert Path(plain.citations[0].source).name == "regulation.txt"
    named = b.ask("What is the maximum administrative fine under PIPL as a share of total worldwide "
                  "annual turnover?")
    assert Path(named.citations[0].source).name == "regulation.txt"
    assert "the best passage's document never mentions PIPL" in named.reason
    assert named.confidence < plain.confidence
    # A 《title》 in the script of the passage: its document would have spelled it so.
    titled = b.ask("《个人信息保护法》规定的行政罚款最高相当于上一年全球年营业额的多少？")
    assert Path(titled.citations[0].source).name == "regulation_zh.txt", titled.citations[0].text
    assert "the best passage's document never mentions 《个人信息保护法》" in titled.reason
    untitled = b.ask("行政罚款最高相当于上一年全球年营业额的多少？")
    raised = _line(titled.reason) - _line(untitled.reason)
    assert raised == pytest.approx(QAConfig().anchor_penalty, abs=0.011)


def _line(reason: str) -> float:
    """The refusal line a confidence reason quotes ("... line 0.98")."""
    return float(reason.rsplit("line ", 1)[1].rstrip(")"))


def test_a_long_paragraph_whose_one_sentence_answers_joins_the_rerank(tmp_path: Path) -> None:
    """The fact sits in one sentence of a paragraph about other things, so the passage as a
    whole ranks below the rerank cut (here the first passage only); its closest sentence
    brings it back into the rerank, where that sentence wins."""
    filler = " ".join(f"Section {i} describes the channel capacity of a noisy system with {i} symbols "
                      f"and the rate at which messages of length {i} can be sent." for i in range(2, 7))
    paper = tmp_path / "paper.txt"
    paper.write_text(
        "Communication theory\n\n"
        "This part asks what the continuous and discrete entropies are.\n\n"
        f"{filler} There is one important difference between the continuous and discrete entropies: "
        "the continuous entropy is relative to the coordinate system.\n", encoding="utf-8")
    question = "What is the one important difference between the continuous and discrete entropies?"
    config = IndexConfig(encoders=("hash",))
    PaperBridge(tmp_path / "library", index_config=config, encoders=[HashEncoder()]).add([paper])
    tops = {}
    for depth in (0, 3):
        b = PaperBridge(tmp_path / "library", config=QAConfig(rerank_depth=1, sentence_depth=depth),
                        index_config=config, encoders=[HashEncoder()])
        top = b.retrieve(question, 1).hits[0].passage_id
        tops[depth] = b.library.passages([top])[0].text
    assert "one important difference" not in tops[0]
    assert "one important difference" in tops[3]
