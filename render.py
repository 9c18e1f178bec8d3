"""What the UI shows, drawn: answer and citation HTML, the cited page with its highlights,
and text made safe for Markdown and terminals.

The core (``paperbridge.qa``) says what to show (answers, citations, where a passage sits
on its page); this module, on the UI side, decides how it looks. Every piece of text that
comes from a document (titles, file names, passages, warnings) is escaped here before it
reaches HTML, Markdown or a terminal: a title can hold ``<script>``, Markdown links and
images, or terminal escape sequences.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image

    from paperbridge.index import AddReport, DocumentInfo
    from paperbridge.qa import Answer, Citation, SourceView

LANG_NAMES = {"en": "English", "zh": "中文 Chinese", "mixed": "mixed"}
_PASSAGE_FILL = (255, 221, 0, 90)  # translucent yellow over the whole passage
_SENTENCE_FILL = (255, 120, 0, 110)  # stronger orange over the answering sentence
_FILLS = {"passage": _PASSAGE_FILL, "sentence": _SENTENCE_FILL}

CSS = """
.pb-card {border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 14px;
  margin: 8px 0; background: var(--background-fill-secondary);}
.pb-card.pb-closest {border-style: dashed; opacity: 0.92;}
.pb-card-head {font-weight: 600; font-size: 1.02em;}
.pb-meta {color: var(--body-text-color-subdued); font-size: 0.88em; margin: 2px 0 6px;}
.pb-flag {display: inline-block; font-size: 0.8em; padding: 1px 8px; border-radius: 10px;
  background: #fde2e2; color: #8a1f1f; margin-left: 6px;}
.pb-rel {display: inline-block; width: 60px; height: 7px; border-radius: 4px; vertical-align: middle;
  background: var(--border-color-primary); margin-right: 4px; overflow: hidden;}
.pb-rel > span {display: block; height: 100%; background: var(--color-accent);}
.pb-text {line-height: 1.6; white-space: pre-wrap;}
.pb-text mark, .pb-source mark.pb-sentence {background: #ffb86b; color: inherit;}
.pb-source mark.pb-passage {background: #fff2a8; color: inherit;}
.pb-answer {font-size: 1.08em; line-height: 1.7;}
.pb-confidence {color: var(--body-text-color-subdued); font-size: 0.9em; margin-top: 4px;}
.pb-section {color: var(--body-text-color-subdued); font-size: 0.85em; font-style: italic;}
.pb-ref {font-weight: 600; color: var(--color-accent);}
.pb-noanswer {font-weight: 600; color: #8a1f1f;}
.pb-source p {line-height: 1.6;}
"""

# Controls (ESC starts terminal sequences), format characters (bidi overrides, zero-width) and
# private-use glyphs: nothing a reader needs, and some of them can disguise or hijack output.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn"})
_ASCII_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")


def plain(text: str, *, keep_newlines: bool = False) -> str:
    """``text`` without control, format and private-use characters (safe for a terminal).

    Tabs become spaces; newlines are kept only when ``keep_newlines`` is set.
    """
    out = []
    for ch in text:
        if ch == "\n" and keep_newlines:
            out.append(ch)
        elif ch in "\t\n\r":
            out.append(" ")
        elif unicodedata.category(ch) not in _UNSAFE_CATEGORIES:
            out.append(ch)
    return "".join(out)


def md(text: str) -> str:
    """``text`` as literal Markdown: every ASCII punctuation mark backslash-escaped.

    CommonMark allows a backslash before any ASCII punctuation and then prints the mark as
    it is, so no link, image, emphasis, HTML tag or autolinked URL can come out of it.
    """
    return _ASCII_PUNCT.sub(r"\\\1", plain(text))


def _h(text: str) -> str:
    return html.escape(plain(text, keep_newlines=True))


# ---- answers and citations ----------------------------------------------------------------
def answer_html(answer: Answer) -> str:
    """The answer with its [n] markers set off, or the no-answer notice; then the confidence
    that decided between the two, and why."""
    if answer.no_answer:
        body = (
            '<span class="pb-noanswer">Not in the library.</span> '
            "PaperBridge found no passage that answers this question. The closest passages "
            "are listed below; they are not an answer."
        )
    else:
        body = re.sub(r"\[(\d+)\]", r'<span class="pb-ref">[\1]</span>', _h(answer.text))
    return f'<div class="pb-answer">{body}</div>{confidence_html(answer)}'


def confidence_html(answer: Answer) -> str:
    """How sure PaperBridge is that the library answers the question (0.5 is the line)."""
    reason = f" — {_h(answer.reason)}" if answer.reason else ""
    return (
        f'<div class="pb-confidence" data-confidence="{answer.confidence:.3f}">'
        f'<span class="pb-rel"><span style="width:{max(0.05, min(1.0, answer.confidence)) * 100:.0f}%">'
        f"</span></span>confidence: {_h(answer.confidence_label)}{reason}</div>"
    )


def relevance(cite: Citation, citations: Sequence[Citation]) -> tuple[float, str]:
    """How well a citation matches, for people: (share of the bar, label).

    Scores are only comparable within one answer, so the bar is the citation's score between
    the weakest and the best shown; the raw score stays in the JSON and the card's tooltip.
    """
    if cite.evidence > 0:  # how well its best sentence matches the question, 0..1
        best = max(c.evidence for c in citations)
        share = max(0.05, min(1.0, cite.evidence))
        close = cite.evidence >= 0.85 * best
    else:  # no sentence evidence: place it between the weakest and the best shown
        scores = [c.score for c in citations]
        top, low = max(scores), min(scores)
        share = 0.15 + 0.85 * (1.0 if top == low else (cite.score - low) / (top - low))
        best, close = top, share >= 0.6
    label = "best match" if cite.rank == 1 else "close match" if close else "weaker match"
    return share, label


def card_html(cite: Citation, closest: bool, citations: Sequence[Citation]) -> str:
    """One citation as a card: title, where it is, how well it matches, the passage."""
    text = cite.text
    if cite.highlight is not None:
        a, b = cite.highlight
        body = _h(text[:a]) + f"<mark>{_h(text[a:b])}</mark>" + _h(text[b:])
    else:
        body = _h(text)
    flag = '<span class="pb-flag">closest passage — not an answer</span>' if closest else ""
    share, label = relevance(cite, citations)
    bar = f'<span class="pb-rel"><span style="width:{share * 100:.0f}%"></span></span>{label}'
    kind = "" if cite.passage_kind == "body" else f" · {_h(cite.passage_kind)}"
    section = f'<div class="pb-section">{_h(cite.section)}</div>' if cite.section else ""
    meta = (
        f"page {cite.page} · paragraph {cite.paragraph}{kind} · {LANG_NAMES.get(cite.lang, _h(cite.lang))}"
        f' · <span title="score {cite.score:.3f}">{bar}</span> · {_h(Path(cite.source).name)}'
    )
    return (
        f'<div class="pb-card{" pb-closest" if closest else ""}" data-rank="{cite.rank}" '
        f'data-lang="{_h(cite.lang)}" data-doc="{_h(cite.doc_id)}">'
        f'<div class="pb-card-head">[{cite.rank}] {_h(cite.title)}{flag}</div>'
        f'{section}<div class="pb-meta">{meta}</div><div class="pb-text">{body}</div></div>'
    )


def cards_html(answer: Answer) -> str:
    """Every citation of ``answer`` as a card, marked "not an answer" when it is refused."""
    if not answer.citations:
        return "<p>No passages: the library is empty or the filters exclude everything.</p>"
    head = "Closest passages — not an answer" if answer.no_answer else "Sources"
    cards = "".join(card_html(c, answer.no_answer, answer.citations) for c in answer.citations)
    return f'<div class="pb-cards"><h3>{head}</h3>{cards}</div>'


def quoted_rank(answer: Answer) -> int | None:
    """The citation the answer quotes first (its first [n]), else the top citation."""
    if not answer.no_answer and (first := re.search(r"\[(\d+)\]", answer.text)):
        return int(first.group(1))
    return answer.citations[0].rank if answer.citations else None


def source_choices(answer: Answer) -> list[tuple[str, int]]:
    """The source picker's entries: one per citation."""
    return [(f"[{c.rank}] {plain(c.title)[:60]} · p.{c.page}", c.rank) for c in answer.citations]


def source_caption(cite: Citation, view: SourceView) -> str:
    """The Markdown line above the source view."""
    name = plain(Path(cite.source).name)
    caption = f"**\\[{cite.rank}\\] {md(cite.title)}** — page {view.page} of `{name}`"
    if cite.section:
        caption += f" · {md(cite.section)}"
    return caption + (f"\n\n_{md(view.note)}_" if view.note else "")


# ---- the source view ----------------------------------------------------------------------
def page_image(view: SourceView, *, scale: float, password: str | None = None) -> Image.Image:
    """The cited PDF page with the passage tinted yellow and the answering sentence orange."""
    from PIL import Image, ImageDraw

    from paperbridge.ingest.pdfdoc import render_page

    assert view.pdf is not None, "page_image needs a PDF view"
    image = render_page(view.pdf, view.page, scale=scale, password=password)
    if not view.highlights:
        return image
    overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    for highlight in view.highlights:
        for left, top, right, bottom in highlight.boxes:
            draw.rectangle((left * scale, top * scale, right * scale, bottom * scale),
                           fill=_FILLS[highlight.role])
    return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB")


def text_html(view: SourceView) -> str:
    """The shown paragraphs of a text view, escaped, with the passage and sentence marked."""
    out: list[str] = []
    marks = [(m.start, m.end, m.role) for m in view.marks]
    for begin, finish in view.paragraphs:
        cuts = sorted({begin, finish} | {min(max(x, begin), finish) for m in marks for x in m[:2]})
        parts: list[str] = []
        for lo, hi in zip(cuts, cuts[1:], strict=False):
            piece = _h(view.text[lo:hi]).replace("\n", "<br>")
            role = next((r for s, e, r in reversed(marks) if s <= lo and hi <= e), None)
            parts.append(f'<mark class="pb-{role}">{piece}</mark>' if role else piece)
        out.append("<p>" + "".join(parts) + "</p>")
    return '<div class="pb-source">' + "\n".join(out) + "</div>"


# ---- the library ---------------------------------------------------------------------------
def document_rows(docs: Sequence[DocumentInfo]) -> list[list[object]]:
    """The documents table: title, file, language, pages, passages, warnings, id."""
    return [
        [plain(d.title), plain(Path(d.source).name), d.lang, d.pages, d.passages,
         plain("; ".join(d.warnings)), d.doc_id]
        for d in docs
    ]


def report_markdown(report: AddReport | None, refused: Sequence[tuple[str, str]]) -> str:
    """What an upload did, file by file, as a Markdown list (every name escaped)."""
    lines: list[str] = []
    failures = list(refused)
    if report is not None:
        lines += [f"- added {_doc_line(d)}" for d in report.added]
        lines += [f"- replaced {_doc_line(d)}" for d in report.replaced]
        lines += [f"- unchanged, skipped: {md(Path(s).name)}" for s in report.skipped]
        failures = [(Path(p).name, msg) for p, msg in report.failed] + failures
    lines += [f"- **failed: {md(name)}** — {md(msg)}" for name, msg in failures]
    return "\n".join(lines) or "Nothing to add."


def _doc_line(doc: DocumentInfo) -> str:
    warn = f" — warnings: {md('; '.join(doc.warnings))}" if doc.warnings else ""
    return f"**{md(doc.title)}** ({md(Path(doc.source).name)}, {doc.passages} passages){warn}"


def removed_markdown(removed: Sequence[DocumentInfo]) -> str:
    """What a remove did."""
    return "\n".join(f"- removed **{md(d.title)}**" for d in removed)
