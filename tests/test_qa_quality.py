"""Retrieval and answer quality on the sample corpus with the REAL default models.

The question set (tests/data/sample_questions.jsonl) was written as users ask: English
questions about facts only in the Chinese paper, Chinese questions about facts only in the
English abstracts, and questions the corpus cannot answer. The bars below are set under
the measured numbers (README, "Benchmarks") so that a regression fails, not noise.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from paperbridge.qa import PaperBridge
from tests.conftest import ROOT

QUESTIONS = ROOT / "tests" / "data" / "sample_questions.jsonl"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bridge(sample_library: Path) -> PaperBridge:
    return PaperBridge(sample_library, create=False)


def test_english_question_is_answered_from_the_chinese_paper(bridge: PaperBridge) -> None:
    answer = bridge.ask("How many doctoral students were enrolled in Japan in 2023?")
    top = answer.citations[0]
    assert not answer.no_answer
    assert top.lang == "zh" and "71 337" in top.text
    assert top.highlight is not None and "71 337" in top.text[top.highlight[0] : top.highlight[1]]
    assert "[1]" in answer.text and "71 337" in answer.text


def test_chinese_question_is_answered_from_an_english_abstract(bridge: PaperBridge) -> None:
    answer = bridge.ask("20世纪70年代日本在金融、贸易和科技方面受到了哪个国家的打压？")
    assert answer.question_lang == "zh"
    assert not answer.no_answer
    top = answer.citations[0]
    assert top.lang == "en" and "suppressed by the United States" in top.text


def test_off_topic_question_is_refused_but_still_shows_closest_passages(bridge: PaperBridge) -> None:
    answer = bridge.ask("How do you make the broth for Japanese ramen?")
    assert answer.no_answer and answer.text == ""
    assert answer.citations, "closest passages are still shown, marked as not an answer"


def test_sample_question_set(bridge: PaperBridge) -> None:
    report = bridge.evaluate(QUESTIONS)
    assert report.questions == 42 and not report.failed
    # Measured 0.625 / 0.781, answerable refused 0.031, no-answer recall 0.2 (README): the
    # refusal line is set so that answerable questions are almost never refused.
    assert report.recall_at_1 >= 0.65, report.misses
    assert report.recall_at_5 >= 0.8, report.misses
    assert report.answerable_refused <= 0.07, report.misses
    assert report.no_answer_recall >= 0.2, report.misses


def test_a_question_about_a_name_the_library_never_mentions_is_refused(bridge: PaperBridge) -> None:
    answer = bridge.ask("What does the CCPA say about Japan's R&D budget?")
    assert answer.no_answer and "CCPA" in answer.reason  # as the question spells it
    assert answer.confidence < 0.5 and answer.confidence_label == "low"


def test_the_answer_carries_its_confidence(bridge: PaperBridge) -> None:
    answer = bridge.ask("What is Japan's K Program?")
    assert not answer.no_answer and answer.confidence >= 0.5
    data = answer.to_json()
    assert data["confidence_label"] in ("medium", "high") and data["citations"][0]["passage_kind"] == "body"
