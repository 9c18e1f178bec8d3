"""PDF files: every page read by pypdf and by pypdfium2, the more plausible reading kept.

No single extractor wins on real files: pypdf garbles CJK fonts without a Unicode map that
pdfium reads, pdfium garbles some Word/Quartz files that pypdf reads, and on old TeX
fonts each has its own defects. So each page is read by both, each reading is repaired of
its extractor's known defects (:mod:`ingest.repair`), scored for plausibility as English
or Chinese prose (:mod:`ingest.plausible`), and the better one kept. A page is dropped only
when no reading is plausible, and one warning names those pages.

Every failure a real PDF can have becomes one :class:`~ingest.errors.IngestError` with a
message that says what to do: encrypted, truncated or corrupt, scanned without a text
layer.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pypdf
from pypdf.errors import PyPdfError

from paperbridge.ingest.document import page_ranges
from paperbridge.ingest.errors import CorruptFileError, EncryptedPDFError, NoTextLayerError
from paperbridge.ingest.garble import is_garbled, repair_gbk_mojibake
from paperbridge.ingest.lines import Line
from paperbridge.ingest.paragraphs import (
    drop_running_lines,
)
from paperbridge.ingest.plausible import (
    Plausibility,
    common_english_words,
    drop_stray_letters,
    english_words,
    is_common_english_word,
    plausibility,
)
from paperbridge.ingest.repair import repair_pdfium, repair_pypdf, strip_debris
from paperbridge.ingest.text import clean_line

log = logging.getLogger(__name__)

# The word lists are loaded with this module (~1 s), not on the first page: a worker that
# imports it once (ingest.budget) then hands them to every child it forks for a file.
english_words()
common_english_words()

# Dot leaders of a table of contents ("原则 …………… 1", "Intro ........ 3").
_LEADERS = re.compile(r"(?:\s*[.…·]){4,}\s*")
_TIE = 0.02  # plausibility scores this close are the same
_MIN_EVIDENCE = 8  # rare ideographs / foreign letters that can make a page junk
_NO_WORDS = 0.25  # a page where fewer than a quarter of the words are words is junk too


def open_pdf(path: Path, data: bytes, password: str | None) -> pypdf.PdfReader:
    """Open and decrypt a PDF (an empty password is tried when none is given).

    Raises:
        CorruptFileError: truncated or damaged beyond what pypdf can recover.
        EncryptedPDFError: a user password is needed, or the one given is wrong.
    """
    try:
        reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted:
            if not reader.decrypt(password or ""):
                raise EncryptedPDFError(_password_message(path, password))
        if len(reader.pages) == 0:
            raise CorruptFileError(f"{path.name} has no pages: export or download it again")
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as err:
        raise CorruptFileError(
            f"{path.name} is damaged or truncated beyond repair ({type(err).__name__}): "
            "download or export it again"
        ) from err
    return reader


def _pypdf_or_none(path: Path, data: bytes, password: str | None) -> pypdf.PdfReader | None:
    """pypdf's reader, or None when pypdf cannot open the file (pdfium may still read it).

    Raises:
        EncryptedPDFError: the password is missing or wrong.
    """
    try:
        return open_pdf(path, data, password)
    except CorruptFileError as err:
        log.info("%s: pypdf cannot open it (%s); trying pdfium alone", path.name, err)
        return None


def _paired(
    path: Path, pypdf_texts: list[str], pdfium: list[str | None]
) -> list[tuple[str, str | None]]:
    """Each page's two readings, side by side.

    When the readers disagree on the number of pages (a damaged page tree: one skips a
    broken page the other keeps), pairing by index would put one page's text on another,
    so the reader that sees more pages is used alone.
    """
    if len(pdfium) == len(pypdf_texts):
        return list(zip(pypdf_texts, pdfium, strict=True))
    log.info("%s: pypdf sees %d pages, pdfium %d; using the reader that sees more", path.name,
             len(pypdf_texts), len(pdfium))
    if len(pdfium) > len(pypdf_texts):
        return [("", text) for text in pdfium]
    return [(text, None) for text in pypdf_texts]


def _metadata(path: Path, data: bytes, password: str | None) -> PdfMetadata:
    """The PDF's metadata, or none when pypdf cannot open the file (pdfium read it)."""
    try:
        return pdf_metadata(open_pdf(path, data, password))
    except CorruptFileError:
        return PdfMetadata()


def _password_message(path: Path, password: str | None) -> str:
    if password is None:
        return f"{path.name} is encrypted: pass its password with --password"
    return f"{path.name} did not open with the password given: check it and pass it again"


def _pypdf_text(reader: pypdf.PdfReader, index: int, path: Path) -> str:
    try:
        return reader.pages[index].extract_text() or ""
    except Exception as err:  # noqa: BLE001 - a bad page must not stop the others
        log.info("%s page %d: pypdf failed (%s); trying pdfium", path.name, index + 1, err)
        return ""


def _pdfium_texts(data: bytes, password: str | None) -> list[str | None] | None:
    """Text of every page with pypdfium2, or None when pdfium cannot open the file."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data, password=password)
    except pdfium.PdfiumError:
        return None
    try:
        return [_pdfium_page_text(document, i) for i in range(len(document))]
    finally:
        document.close()


def _pdfium_page_text(document: Any, index: int) -> str | None:
    """One page's text with pdfium; None when pdfium cannot load that page (pypdf may)."""
    import pypdfium2 as pdfium

    try:
        page = document[index]
    except pdfium.PdfiumError:
        log.info("pdfium cannot load page %d; keeping the other reader's text", index + 1)
        return None
    try:
        textpage = page.get_textpage()
        try:
            return str(textpage.get_text_bounded())
        finally:
            textpage.close()
    finally:
        page.close()


@dataclass(frozen=True)
class PageText:
    """The text kept for one page: which reader gave it, or why the page was dropped."""

    text: str
    extractor: str  # "pypdf", "pdfium", "pypdf-gbk" or "none"
    dropped: str = ""  # "no text layer" or "garbled"
    score: float = 1.0  # plausibility of the kept text (1.0: nothing to judge)


def _candidates(pypdf_text: str, pdfium_text: str | None) -> list[tuple[str, str]]:
    """Each reader's text of one page with its known defects repaired, formula debris out."""
    found = [("pypdf", repair_pypdf(pypdf_text, is_common_english_word))]
    if pdfium_text is not None:
        found.append(("pdfium", repair_pdfium(pdfium_text, is_common_english_word)))
    repaired = repair_gbk_mojibake(pypdf_text)
    if repaired is not None and repaired != pypdf_text:
        found.append(("pypdf-gbk", repaired))
    return [(name, strip_debris(text)) for name, text in found]


def choose_page_text(pypdf_text: str, pdfium_text: str | None) -> PageText:
    """The most plausible reading of one page among pypdf's, pdfium's and undone mojibake.

    Readings within ``_TIE`` of each other in plausibility are equally good; pdfium's is
    kept then (it keeps word spaces that pypdf loses or adds on positioned text). A page
    is "garbled" when even the best reading has enough text to judge and reads as junk.
    """
    candidates = [(n, t) for n, t in _candidates(pypdf_text, pdfium_text) if t.strip()]
    if not candidates:
        return PageText("", "none", "no text layer")
    scored = [(plausibility(text), name, text) for name, text in candidates]
    best = max(p.score for p, _, _ in scored)
    ties = [s for s in scored if s[0].score >= best - _TIE]
    verdict, name, text = next((s for s in ties if s[1] == "pdfium"), ties[0])
    if is_garbled(text) or _junk(verdict):
        return PageText("", name, "garbled", verdict.score)
    return PageText(drop_stray_letters(text), name, "", verdict.score)


def _junk(verdict: Plausibility) -> bool:
    """True when the best reading is junk: its characters say so, or almost no word is one.

    Unknown words alone do not make junk (a page of code, an index of macro names);
    rare ideographs and letters of other scripts do, and so does a page of words that
    are almost all unknown (a font whose map shifts the Latin letters).
    """
    if verdict.script_bad >= _MIN_EVIDENCE and verdict.script_bad >= verdict.good:
        return True  # more rare ideographs and foreign letters than words and hanzi
    return verdict.evidence >= 3 * _MIN_EVIDENCE and verdict.score < _NO_WORDS


def read_pages(path: Path, data: bytes, password: str | None) -> tuple[list[PageText], list[str]]:
    """Every page read by both extractors, the better reading kept; warnings for the rest.

    Raises:
        NoTextLayerError: no page has any text (a scan that needs OCR).
    """
    reader = _pypdf_or_none(path, data, password)
    pypdf_texts = [_pypdf_text(reader, i, path) for i in range(len(reader.pages))] if reader else []
    pdfium = _pdfium_texts(data, password) or []
    if reader is None and not pdfium:
        open_pdf(path, data, password)  # neither reader opens it: raise pypdf's own verdict
    pages = [choose_page_text(a, b) for a, b in _paired(path, pypdf_texts, pdfium)]
    if all(p.dropped == "no text layer" for p in pages):
        raise NoTextLayerError(
            f"{path.name} has no text layer (scanned pages): run OCR on it first "
            "(e.g. ocrmypdf) and add the result"
        )
    return pages, _warnings(path, pages)


def _warnings(path: Path, pages: list[PageText]) -> list[str]:
    """One warning naming the pages no reader could read, and what would read them."""
    empty = [i + 1 for i, p in enumerate(pages) if p.dropped == "no text layer"]
    garbled = [i + 1 for i, p in enumerate(pages) if p.dropped == "garbled"]
    parts = []
    if garbled:
        parts.append(f"page(s) {_ranges(garbled)} garbled (broken font encoding: no reader "
                     "gives plausible text)")
    if empty:
        parts.append(f"page(s) {_ranges(empty)} have no text layer (scanned or images only)")
    if not parts:
        return []
    return [f"{path.name}: {' and '.join(parts)}, not indexed: OCR would read them "
            "(e.g. ocrmypdf --force-ocr)"]


def page_texts(path: Path, data: bytes, password: str | None) -> tuple[list[str], list[str]]:
    """Raw text of each page (empty for a dropped page), and warnings about dropped pages.

    Raises:
        NoTextLayerError: no page has any text (a scan that needs OCR).
    """
    pages, warnings = read_pages(path, data, password)
    return [p.text for p in pages], warnings


def _ranges(pages: list[int]) -> str:
    return page_ranges(pages)


def _line(raw: str, page: int) -> Line:
    """A cleaned line; one with dot leaders is a table-of-contents entry."""
    entry = _LEADERS.search(raw) is not None
    return Line(clean_line(_LEADERS.sub(" ", raw)), page, 0, entry)


@dataclass(frozen=True)
class PdfMetadata:
    """What the PDF's information dictionary says (None where it says nothing)."""

    title: str | None = None
    author: str | None = None


def pdf_metadata(reader: pypdf.PdfReader) -> PdfMetadata:
    """Title and author from the PDF's metadata, if any (unreadable metadata counts as none)."""
    try:
        meta = reader.metadata
        if not meta:
            return PdfMetadata()
        title, author = meta.title, meta.author
    except Exception:  # noqa: BLE001 - metadata is optional
        return PdfMetadata()
    return PdfMetadata(str(title) if title else None, str(author) if author else None)


@dataclass(frozen=True)
class PdfContent:
    """A PDF read into lines per page, with how each page was read."""

    lines: list[list[Line]]  # per page, running headers and banners already dropped
    pages: list[PageText]
    metadata: PdfMetadata
    warnings: list[str]
    largest: list[list[str]]  # texts of the largest fonts on the first page, largest first


def read_pdf(path: Path, data: bytes, password: str | None) -> PdfContent:
    """Read every page (see :func:`read_pages`) and cut it into cleaned lines."""
    pages, warnings = read_pages(path, data, password)
    lines = [[_line(raw, index) for raw in page.text.splitlines()] for index, page in enumerate(pages)]
    lines = drop_running_lines(lines)
    return PdfContent(lines, pages, _metadata(path, data, password), warnings,
                      largest_text(data, password))


def largest_text(data: bytes, password: str | None, pages: int = 2) -> list[list[str]]:
    """The runs of text set in the largest font on the first pages that have text.

    A title is set larger than anything else on its page in nearly every paper and report;
    this is the evidence for it that plain text has lost. Runs of fewer than three letters
    (a drop cap, a logo) do not count. Empty when the fonts give no usable sizes (Type3
    fonts report their unscaled size, the same for every glyph).
    """
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        document = pdfium.PdfDocument(data, password=password)
    except pdfium.PdfiumError:
        return []
    try:
        for index in range(min(pages, len(document))):
            try:
                page = document[index]
            except pdfium.PdfiumError:
                continue
            textpage = page.get_textpage()
            runs = _size_runs(textpage, pdfium_c)
            textpage.close()
            page.close()
            if runs:
                return _largest(runs)
        return []
    finally:
        document.close()


def _size_runs(textpage: Any, pdfium_c: Any) -> list[tuple[float, str]]:
    """(font size, text) of each run of characters of one size, in reading order."""
    runs: list[tuple[float, list[str]]] = []
    for i in range(min(textpage.count_chars(), 20_000)):
        char = chr(pdfium_c.FPDFText_GetUnicode(textpage.raw, i))
        size = round(float(pdfium_c.FPDFText_GetFontSize(textpage.raw, i)), 1)
        if runs and (char.isspace() or abs(runs[-1][0] - size) <= 0.6):
            runs[-1][1].append(char)
        else:
            runs.append((size, [char]))
    return [(size, "".join(chars).strip()) for size, chars in runs]


def _largest(runs: list[tuple[float, str]]) -> list[list[str]]:
    """Texts of the three largest sizes clearly above the body size, largest first."""
    letters = [(size, text) for size, text in runs if sum(c.isalnum() for c in text) >= 3]
    if not letters:
        return []
    sizes = sorted(size for size, text in letters for _ in text)
    body = sizes[len(sizes) // 2]
    tops = sorted({size for size, _ in letters if size >= 1.15 * body}, reverse=True)
    groups: list[list[str]] = []
    for top in tops:
        if groups and any(abs(top - size) <= 0.6 for size in tops[: tops.index(top)]):
            continue
        groups.append([clean_line(text) for size, text in letters if abs(size - top) <= 0.6])
        if len(groups) == 3:
            break
    return groups
