"""What the UI shows: answers and citation cards, escaped."""

from __future__ import annotations

import re

from paperbridge import render
from paperbridge.qa import Answer, Citation
from tests.conftest import SAMPLE


def _citation(rank: int, text: str, highlight: tuple[int, int] | None) -> Citation:
    return Citation(
        rank=rank,
        passage_id=rank,
        doc_id="a85917d1829f5e11",
        title="日本科技创新体系发展特征及对中国启示",
        source=str(SAMPLE / "002_f74b1f1c159f20b4.txt"),
        kind="text",
        page=1,
        paragraph=7,
        lang="zh",
        score=0.8123,
        text=text,
        highlight=highlight,
        start=0,
        end=len(text),
    )


def test_cards_highlight_the_answering_sentence_and_escape_the_rest() -> None:
    text = "2016—2021 年日本始终保持 3.0% 以上的研发投入强度。<script>x</script>"
    answer = Answer(
        "What R&D intensity?",
        "en",
        "2016—2021 年日本始终保持 3.0% 以上的研发投入强度。 [1]",
        False,
        (_citation(1, text, (0, text.index("。") + 1)),),
    )
    cards = render.cards_html(answer)
    assert "<mark>2016—2021 年日本始终保持 3.0% 以上的研发投入强度。</mark>&lt;script&gt;" in cards
    assert "[1] 日本科技创新体系发展特征及对中国启示" in cards and "中文 Chinese" in cards
    assert "score 0.812" in cards and "not an answer" not in cards
    assert '<span class="pb-ref">[1]</span>' in render.answer_html(answer)


def test_no_answer_is_shown_as_such_with_closest_passages_marked() -> None:
    answer = Answer("How long should I boil an egg?", "en", "", True, (_citation(1, "无关。", None),))
    assert "Not in the library." in render.answer_html(answer)
    cards = render.cards_html(answer)
    assert "Closest passages — not an answer" in cards
    assert "pb-closest" in cards and "closest passage — not an answer" in cards


def test_titles_with_markdown_links_images_and_terminal_escapes_are_made_inert() -> None:
    title = "# Okapi [Click here to re-login](http://evil.example/phish) ![t](http://evil.example/t.png)\x1b[31m"
    shown = render.md(title)
    assert not re.search(r"(?<!\\)[\[\]()!#:]", shown), "every Markdown sign is escaped"
    assert "\x1b" not in shown
    assert shown.startswith("\\# Okapi \\[Click here to re\\-login\\]\\(http\\:")
    assert render.plain("red\x1b[31m title\u202e\u200b\ue000") == "red[31m title"
    assert render.plain("a\tb\nc") == "a b c" and render.plain("a\nb", keep_newlines=True) == "a\nb"


def test_the_source_view_opens_on_the_citation_the_answer_quotes() -> None:
    cites = (_citation(1, "Top passage.", None), _citation(2, "Quoted one.", (0, 11)))
    quoted = Answer("q?", "en", "Quoted one. [2]", False, cites)
    assert render.quoted_rank(quoted) == 2
    refused = Answer("q?", "en", "", True, cites)
    assert render.quoted_rank(refused) == 1


def test_scores_are_shown_as_a_relevance_bar_and_label() -> None:
    strong, weak = _citation(1, "A.", None), _citation(2, "B.", None)
    weak = Citation(**{**weak.__dict__, "score": 0.1})
    assert render.relevance(strong, (strong, weak)) == (1.0, "best match")
    share, label = render.relevance(weak, (strong, weak))
    assert share < 0.2 and label == "weaker match"
    card = render.card_html(weak, False, (strong, weak))
    assert "weaker match" in card and 'title="score 0.100"' in card


def test_the_confidence_that_decided_is_shown_with_the_answer_and_the_refusal() -> None:
    cites = (_citation(1, "A.", (0, 2)),)
    sure = Answer("q?", "en", "A. [1]", False, cites, confidence=0.82, reason="two sentences agree")
    html = render.answer_html(sure)
    assert "confidence: high — two sentences agree" in html and 'data-confidence="0.820"' in html
    refused = Answer("q?", "en", "", True, cites, confidence=0.31, reason="no <b>sentence</b> matches")
    html = render.answer_html(refused)
    assert "Not in the library." in html and "confidence: low" in html
    assert "&lt;b&gt;" in html and "<b>" not in html


def test_cards_show_the_section_and_a_kind_other_than_body() -> None:
    cite = Citation(**{**_citation(1, "Robertson, S. E. (1994).", None).__dict__,
                       "passage_kind": "references", "section": "6 循环神经网络 > 6.2 <i>简单</i>"})
    card = render.card_html(cite, False, (cite,))
    assert '<div class="pb-section">6 循环神经网络 &gt; 6.2 &lt;i&gt;简单&lt;/i&gt;</div>' in card
    assert "paragraph 7 · references ·" in card
