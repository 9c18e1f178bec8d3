"""Where a cited passage stands in its document: the source view's facts, not its pixels.

For a PDF the passage (and the answering sentence in it) is found among the cited page's
characters and given as boxes in page points; for a text file, or a PDF that has moved, as
spans of the stored page text with the paragraphs around it. Drawing the page and writing
HTML is the UI's business (``paperbridge.render``); the CLI or a script can use these facts
as they are.

The passage text was cleaned by ingestion (lines joined, hyphens and ligatures undone), so it
is matched against the page's raw characters on a normalized form (NFKC, case-folded,
letters and digits only) whose positions map back to character indices.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from paperbridge.ingest.pdfdoc import PageGlyphs, page_glyphs

__all__ = ["CitedPassage", "Highlight", "Mark", "SourceView", "find_passage", "locate", "text_context"]

_ANCHOR = 24  # normalized chars used as head/tail anchors when the whole passage is not found
Box = tuple[float, float, float, float]  # left, top, right, bottom in points from the top-left


class CitedPassage(Protocol):
    """What the source view needs of a citation (``qa.Citation`` and ``StoredPassage`` fit)."""

    @property
    def source(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def page(self) -> int: ...
    @property
    def text(self) -> str: ...
    @property
    def start(self) -> int: ...
    @property
    def end(self) -> int: ...


@dataclass(frozen=True)
class Highlight:
    """Boxes to tint on a PDF page: ``role`` is "passage" or "sentence" (drawn more strongly)."""

    role: str
    boxes: tuple[Box, ...]


@dataclass(frozen=True)
class Mark:
    """A span ``[start, end)`` of :attr:`SourceView.text` to mark: "passage" or "sentence"."""

    start: int
    end: int
    role: str


@dataclass(frozen=True)
class SourceView:
    """A cited passage located in its source.

    Attributes:
        kind: "pdf" (draw ``pdf``'s page with ``highlights``) or "text" (show ``paragraphs``
            of ``text`` with ``marks``).
        page: the 1-based page shown.
        located: False when the passage could not be found; the page is shown unmarked rather
            than marked wrongly.
        note: a sentence for the reader when something is off (file moved, passage not found).
        pdf: the PDF file to draw (kind "pdf").
        page_size: the PDF page's (width, height) in points.
        highlights: what to tint on the PDF page, passage first.
        text: the stored page text (kind "text").
        paragraphs: ``[start, end)`` of the paragraphs of ``text`` to show, in order.
        marks: spans of ``text`` to mark; later ones (the sentence) sit inside earlier ones.
    """

    kind: str
    page: int
    located: bool
    note: str = ""
    pdf: Path | None = None
    page_size: tuple[float, float] = (0.0, 0.0)
    highlights: tuple[Highlight, ...] = ()
    text: str = ""
    paragraphs: tuple[tuple[int, int], ...] = ()
    marks: tuple[Mark, ...] = ()


def locate(
    cited: CitedPassage,
    page_text: str,
    *,
    sentence: tuple[int, int] | None = None,
    context: int = 2,
    password: str | None = None,
) -> SourceView:
    """Find ``cited`` in its source.

    Args:
        cited: the passage (its ``source`` path, ``kind``, ``page``, ``text``, offsets).
        page_text: the cleaned text of that page (``PaperBridge.page_text``), which ``start``/
            ``end`` index into; used for text files and when a PDF has moved.
        sentence: span in ``cited.text`` of the answering sentence.
        context: paragraphs shown before and after the passage in a text view.
        password: the PDF's user password, if it has one.

    Raises:
        EncryptedPDFError, CorruptFileError: the PDF cannot be opened.
    """
    path = Path(cited.source)
    if cited.kind == "pdf" and path.is_file():
        glyphs = page_glyphs(path, cited.page, password)
        highlights = pdf_highlights(glyphs, cited.text, sentence)
        note = "" if highlights else "The passage could not be located on this page; showing the page."
        size = (glyphs.width, glyphs.height)
        return SourceView("pdf", cited.page, bool(highlights), note, path, size, highlights)
    moved = cited.kind == "pdf"
    note = f"{path} is no longer there: showing the text stored in the library." if moved else ""
    shown, marks = text_context(
        page_text, cited.start, cited.end, cited.text, sentence=sentence, context=context
    )
    return SourceView("text", cited.page, bool(marks), note, text=page_text, paragraphs=shown, marks=marks)


def pdf_highlights(
    glyphs: PageGlyphs, passage: str, sentence: tuple[int, int] | None = None
) -> tuple[Highlight, ...]:
    """Boxes of ``passage`` (and of its answering ``sentence``) on a page; () when not found."""
    span = find_passage(glyphs.chars, passage)
    if span is None:
        return ()
    found = [Highlight("passage", line_boxes(glyphs, *span))]
    if sentence is not None:
        inner = find_passage(glyphs.chars[span[0] : span[1]], passage[sentence[0] : sentence[1]])
        if inner is not None:
            found.append(Highlight("sentence", line_boxes(glyphs, span[0] + inner[0], span[0] + inner[1])))
    return tuple(found)


def line_boxes(glyphs: PageGlyphs, start: int, end: int) -> tuple[Box, ...]:
    """Character boxes of ``glyphs.chars[start:end]`` merged into one rectangle per line run."""
    lines: list[list[float]] = []
    for box in glyphs.boxes[start:end]:
        if box is None:
            continue
        x0, top, x1, bottom = box
        last = lines[-1] if lines else None
        same_line = last is not None and min(last[3], bottom) - max(last[1], top) > 0.5 * (bottom - top)
        if last is not None and same_line and x0 >= last[0] - 1:
            last[0], last[1] = min(last[0], x0), min(last[1], top)
            last[2], last[3] = max(last[2], x1), max(last[3], bottom)
        else:
            lines.append([x0, top, x1, bottom])
    return tuple((a, b, c, d) for a, b, c, d in lines)


def _normalize(text: str) -> tuple[str, list[int]]:
    """Letters and digits of ``text``, NFKC and case-folded, with each one's index in ``text``.

    Dropping spaces, punctuation and hyphens makes a cleaned passage match the raw page text
    whatever line joining, de-hyphenation, ligature or punctuation width differences remain.
    """
    out: list[str] = []
    index: list[int] = []
    for i, ch in enumerate(text):
        for piece in unicodedata.normalize("NFKC", ch).casefold():
            if piece.isalnum():
                out.append(piece)
                index.append(i)
    return "".join(out), index


def find_passage(haystack: str, needle: str) -> tuple[int, int] | None:
    """Find ``needle`` in ``haystack`` up to whitespace, hyphenation, ligatures and punctuation.

    Returns the ``[start, end)`` span in ``haystack``, or None. When the whole needle is not
    found (the passage crosses a page, or extraction differed), a head and a tail anchor are
    tried so most of the passage still gets marked.
    """
    hay, hay_index = _normalize(haystack)
    nee, _ = _normalize(needle)
    if not nee or not hay:
        return None
    at = hay.find(nee)
    if at >= 0:
        return _widen(haystack, needle, hay_index[at], hay_index[at + len(nee) - 1] + 1)
    anchor = min(_ANCHOR, len(nee))
    head = hay.find(nee[:anchor])
    tail = hay.rfind(nee[-anchor:])
    if head >= 0 and tail >= head:
        return hay_index[head], hay_index[tail + anchor - 1] + 1
    if head >= 0:
        end = min(len(hay), head + len(nee)) - 1
        return hay_index[head], hay_index[end] + 1
    if tail >= 0:
        begin = max(0, tail + anchor - len(nee))
        return hay_index[begin], hay_index[tail + anchor - 1] + 1
    return None


_PUNCT = ".,;:!?)]}'\"(。，；：！？）】」』”’（【「『“‘、…"


def _widen(haystack: str, needle: str, start: int, end: int) -> tuple[int, int]:
    """Take in the punctuation that opens or closes ``needle`` (dropped by normalizing)."""
    stripped = needle.strip()
    lead = len(stripped) - len(stripped.lstrip(_PUNCT))
    trail = len(stripped) - len(stripped.rstrip(_PUNCT))
    while lead and start > 0 and haystack[start - 1] in _PUNCT:
        start, lead = start - 1, lead - 1
    while trail and end < len(haystack) and haystack[end] in _PUNCT:
        end, trail = end + 1, trail - 1
    return start, end


_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def text_context(
    page_text: str,
    start: int,
    end: int,
    passage: str = "",
    *,
    sentence: tuple[int, int] | None = None,
    context: int = 2,
) -> tuple[tuple[tuple[int, int], ...], tuple[Mark, ...]]:
    """The paragraphs around ``page_text[start:end]`` and the marks to put on them.

    The offsets are checked against ``passage`` when given; if they do not point at it (the
    stored text changed), the passage is searched for instead. ``sentence`` (a span in the
    passage) gets a mark of its own. Returns the paragraph bounds to show and the marks; no
    marks means the passage was not located (the first paragraphs are shown then).
    """
    span: tuple[int, int] | None = (start, end)
    if passage and not _same_text(page_text[start:end], passage):
        span = find_passage(page_text, passage)
    bounds = _paragraph_bounds(page_text)
    if span is None or not 0 <= span[0] < span[1] <= len(page_text):
        return tuple(bounds[: 2 * context + 1]), ()
    a, b = span
    marks = [Mark(a, b, "passage")]
    if sentence is not None and passage:
        inner = find_passage(page_text[a:b], passage[sentence[0] : sentence[1]])
        if inner is not None:
            marks.append(Mark(a + inner[0], a + inner[1], "sentence"))
    first = next(i for i, (_, e) in enumerate(bounds) if e > a)
    last = max(i for i, (s, _) in enumerate(bounds) if s < b)
    return tuple(bounds[max(0, first - context) : last + context + 1]), tuple(marks)


def _same_text(a: str, b: str) -> bool:
    return _normalize(a)[0] == _normalize(b)[0]


def _paragraph_bounds(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` of each paragraph (blank-line separated) of ``text``."""
    bounds: list[tuple[int, int]] = []
    pos = 0
    for brk in _PARAGRAPH_BREAK.finditer(text):
        bounds.append((pos, brk.start()))
        pos = brk.end()
    bounds.append((pos, len(text)))
    return bounds
