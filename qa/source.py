"""The source view: show a cited passage where it stands in its document.

For a PDF the cited page is rendered to an image (pypdfium2) with the passage's characters
highlighted; for a text file the surrounding paragraphs are returned as HTML with the passage
marked. This sits below the UI so the CLI or an API can show "where it says that" too.

The passage text was cleaned by ingestion (lines joined, hyphens and ligatures undone), so it
is matched against the PDF's raw character stream on a normalized form (NFKC, case-folded,
letters and digits only) whose positions map back to PDF character indices.
"""

from __future__ import annotations

import html
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pypdfium2 as pdfium
from PIL import Image, ImageDraw

from paperbridge.ingest.errors import CorruptFileError, EncryptedPDFError

__all__ = ["CitedPassage", "SourceView", "find_passage", "source_view", "text_context"]

log = logging.getLogger(__name__)

_PASSAGE_FILL = (255, 221, 0, 90)  # translucent yellow over the whole passage
_SENTENCE_FILL = (255, 120, 0, 110)  # stronger orange over the answering sentence
_ANCHOR = 24  # normalized chars used as head/tail anchors when the whole passage is not found


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
class SourceView:
    """A cited passage shown in place.

    Attributes:
        kind: "pdf" (``image`` is set) or "text" (``html`` is set).
        page: the 1-based page shown.
        image: the PDF page with the passage highlighted, RGB.
        html: surrounding paragraphs with ``<mark>`` around the passage (text files, and PDFs
            whose file is gone: the stored page text stands in).
        located: False when the passage could not be found on the page; the page is shown
            without a highlight rather than with a wrong one.
        note: a sentence for the reader when something is off (file moved, passage not found).
    """

    kind: str
    page: int
    image: Image.Image | None
    html: str
    located: bool
    note: str = ""


def source_view(
    cited: CitedPassage,
    page_text: str,
    *,
    sentence: tuple[int, int] | None = None,
    scale: float = 2.0,
    context: int = 2,
    password: str | None = None,
) -> SourceView:
    """Build the view of ``cited`` in its source.

    Args:
        cited: the passage (its ``source`` path, ``kind``, ``page``, ``text``, offsets).
        page_text: the cleaned text of that page (``Library.page_text``), which ``start``/``end``
            index into; used for text files and as a stand-in when a PDF has moved.
        sentence: span in ``cited.text`` of the answering sentence, drawn more strongly.
        scale: PDF render scale (1.0 = 72 dpi).
        context: paragraphs shown before and after the passage for text files.
        password: the PDF's user password, if it has one.
    """
    path = Path(cited.source)
    if cited.kind == "pdf" and path.is_file():
        image, located = render_pdf_page(
            path, cited.page, cited.text, sentence=sentence, scale=scale, password=password
        )
        note = "" if located else "The passage could not be located on this page; showing the page."
        return SourceView("pdf", cited.page, image, "", located, note)
    note = ""
    if cited.kind == "pdf":
        note = f"{path} is no longer there: showing the text stored in the library."
    body, located = text_context(
        page_text, cited.start, cited.end, cited.text, sentence=sentence, context=context
    )
    return SourceView("text", cited.page, None, body, located, note)


def render_pdf_page(
    path: Path,
    page: int,
    passage: str,
    *,
    sentence: tuple[int, int] | None = None,
    scale: float = 2.0,
    password: str | None = None,
) -> tuple[Image.Image, bool]:
    """Render ``page`` (1-based) of the PDF at ``path`` with ``passage`` highlighted.

    Returns the RGB image and whether the passage was found on the page.
    """
    pdf = _open_pdf(path, password)
    try:
        if not 1 <= page <= len(pdf):
            raise CorruptFileError(f"{path} has {len(pdf)} pages, not page {page}: re-add the file.")
        pdf_page = pdf[page - 1]
        image = pdf_page.render(scale=scale).to_pil().convert("RGB")
        textpage = pdf_page.get_textpage()
        chars = _page_chars(textpage)
        span = find_passage(chars, passage)
        if span is None:
            return image, False
        left, _, _, top = pdf_page.get_cropbox()

        def to_pixels(box: tuple[float, float, float, float]) -> tuple[float, ...]:
            x0, y0, x1, y1 = box
            return (
                (x0 - left) * scale,
                (top - y1) * scale,
                (x1 - left) * scale,
                (top - y0) * scale,
            )

        spans = [(span, _PASSAGE_FILL)]
        if sentence is not None:
            inner = find_passage(chars[span[0] : span[1]], passage[sentence[0] : sentence[1]])
            if inner is not None:
                spans.append(((span[0] + inner[0], span[0] + inner[1]), _SENTENCE_FILL))
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for (a, b), fill in spans:
            for box in _line_boxes(textpage, chars, a, b):
                draw.rectangle(to_pixels(box), fill=fill)
        return Image.alpha_composite(image.convert("RGBA"), overlay).convert("RGB"), True
    finally:
        pdf.close()


def _open_pdf(path: Path, password: str | None) -> pdfium.PdfDocument:
    """Open a PDF, turning pdfium's errors into PaperBridge's."""
    try:
        return pdfium.PdfDocument(path, password=password)
    except pdfium.PdfiumError as err:
        if "password" in str(err).lower():
            raise EncryptedPDFError(
                f"{path} needs its password to be shown: pass the PDF's user password."
            ) from err
        raise CorruptFileError(f"{path} cannot be opened to show the page ({err}).") from err


def _page_chars(textpage: pdfium.PdfTextPage) -> str:
    """The page's characters, one per pdfium character index."""
    count: int = textpage.count_chars()
    text: str = textpage.get_text_range()
    if len(text) == count:
        return text
    # Characters outside the BMP make the two counts differ: rebuild index by index.
    return "".join(str(textpage.get_text_range(i, 1)) or " " for i in range(count))


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


_PUNCT = ".,;:!?)]}'\"(。，；：！？）】」』”’（【「『“‘、…"


def _line_boxes(
    textpage: pdfium.PdfTextPage, chars: str, start: int, end: int
) -> list[tuple[float, float, float, float]]:
    """Character boxes of ``chars[start:end]`` merged into one rectangle per line run."""
    lines: list[list[float]] = []
    for i in range(start, end):
        if chars[i].isspace():
            continue
        x0, y0, x1, y1 = textpage.get_charbox(i, loose=True)
        if x1 <= x0 or y1 <= y0:
            continue
        last = lines[-1] if lines else None
        same_line = last is not None and min(last[3], y1) - max(last[1], y0) > 0.5 * (y1 - y0)
        if last is not None and same_line and x0 >= last[0] - 1:
            last[0], last[1] = min(last[0], x0), min(last[1], y0)
            last[2], last[3] = max(last[2], x1), max(last[3], y1)
        else:
            lines.append([x0, y0, x1, y1])
    return [(a, b, c, d) for a, b, c, d in lines]


_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def text_context(
    page_text: str,
    start: int,
    end: int,
    passage: str = "",
    *,
    sentence: tuple[int, int] | None = None,
    context: int = 2,
) -> tuple[str, bool]:
    """The paragraphs around ``page_text[start:end]`` as HTML, the passage in ``<mark>``.

    The offsets are checked against ``passage`` when given; if they do not point at it (the
    stored text changed), the passage is searched for instead. ``sentence`` (a span in the
    passage) gets a stronger mark. Returns the HTML and whether the passage was located.
    """
    span: tuple[int, int] | None = (start, end)
    if passage and not _same_text(page_text[start:end], passage):
        span = find_passage(page_text, passage)
    if span is None or not 0 <= span[0] < span[1] <= len(page_text):
        return _paragraphs_html(page_text, _paragraph_bounds(page_text)[: 2 * context + 1], []), False
    a, b = span
    marks = [(a, b, "pb-passage")]
    if sentence is not None:
        inner = find_passage(page_text[a:b], passage[sentence[0] : sentence[1]]) if passage else None
        if inner is not None:
            marks.append((a + inner[0], a + inner[1], "pb-sentence"))
    bounds = _paragraph_bounds(page_text)
    first = next(i for i, (_, e) in enumerate(bounds) if e > a)
    last = max(i for i, (s, _) in enumerate(bounds) if s < b)
    shown = bounds[max(0, first - context) : last + context + 1]
    return _paragraphs_html(page_text, shown, marks), True


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


def _paragraphs_html(
    text: str, bounds: Sequence[tuple[int, int]], marks: Sequence[tuple[int, int, str]]
) -> str:
    """Escape each paragraph of ``text`` and wrap the marked spans; later marks win."""
    out: list[str] = []
    for begin, finish in bounds:
        cuts = sorted({begin, finish} | {min(max(x, begin), finish) for m in marks for x in m[:2]})
        parts: list[str] = []
        for lo, hi in zip(cuts, cuts[1:], strict=False):
            piece = html.escape(text[lo:hi]).replace("\n", "<br>")
            cls = next((c for s, e, c in reversed(marks) if s <= lo and hi <= e), None)
            parts.append(f'<mark class="{cls}">{piece}</mark>' if cls else piece)
        out.append("<p>" + "".join(parts) + "</p>")
    return '<div class="pb-source">' + "\n".join(out) + "</div>"
