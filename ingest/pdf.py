"""PDF files: text per page with pypdf, pypdfium2 for pages pypdf gets wrong.

Every failure a real PDF can have becomes one :class:`~ingest.errors.IngestError` with a
message that says what to do: encrypted, truncated or corrupt, scanned without a text
layer. Pages whose text is junk (broken font encodings) are re-extracted with pdfium and
flagged when no extractor reads them.
"""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

import pypdf
from pypdf.errors import PdfReadError, PdfStreamError

from paperbridge.ingest.errors import CorruptFileError, EncryptedPDFError, NoTextLayerError
from paperbridge.ingest.garble import garble_score, is_garbled, repair_gbk_mojibake
from paperbridge.ingest.lines import Line
from paperbridge.ingest.paragraphs import (
    Block,
    build_blocks,
    column_widths,
    drop_running_lines,
    vocabulary_of,
)
from paperbridge.ingest.text import clean_line

log = logging.getLogger(__name__)

# Dot leaders of a table of contents ("原则 …………… 1", "Intro ........ 3").
_LEADERS = re.compile(r"(?:\s*[.…·]){4,}\s*")


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
    except (PdfStreamError, PdfReadError, ValueError, KeyError, TypeError, OSError) as err:
        raise CorruptFileError(
            f"{path.name} is damaged or truncated beyond repair ({type(err).__name__}): "
            "download or export it again"
        ) from err
    return reader


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


def _pdfium_texts(data: bytes, password: str | None) -> list[str] | None:
    """Text of every page with pypdfium2, or None when pdfium cannot open the file."""
    import pypdfium2 as pdfium

    try:
        document = pdfium.PdfDocument(data, password=password)
    except pdfium.PdfiumError:
        return None
    try:
        texts = []
        for page in document:
            textpage = page.get_textpage()
            texts.append(textpage.get_text_bounded())
            textpage.close()
            page.close()
        return texts
    finally:
        document.close()


def _best_text(pypdf_text: str, pdfium_text: str | None) -> str:
    """The cleanest of pypdf's text, pdfium's text and pypdf's text with GBK mojibake undone."""
    candidates = [pypdf_text]
    if pdfium_text is not None:
        candidates.append(pdfium_text)
    repaired = repair_gbk_mojibake(pypdf_text)
    if repaired is not None:
        candidates.append(repaired)
    candidates = [c for c in candidates if c.strip()] or [pypdf_text]
    return min(candidates, key=garble_score)


def page_texts(path: Path, data: bytes, password: str | None) -> tuple[list[str], list[str]]:
    """Raw text of each page, and warnings about pages that could not be read cleanly.

    Raises:
        NoTextLayerError: no page has any text (a scan that needs OCR).
    """
    reader = open_pdf(path, data, password)
    texts = [_pypdf_text(reader, i, path) for i in range(len(reader.pages))]
    bad = [i for i, text in enumerate(texts) if not text.strip() or is_garbled(text)]
    if bad:
        pdfium = _pdfium_texts(data, password)
        for i in bad:
            other = pdfium[i] if pdfium is not None and i < len(pdfium) else None
            texts[i] = _best_text(texts[i], other)
    if not any(text.strip() for text in texts):
        raise NoTextLayerError(
            f"{path.name} has no text layer (scanned pages): run OCR on it first "
            "(e.g. ocrmypdf) and add the result"
        )
    warnings = []
    empty = [i + 1 for i, text in enumerate(texts) if not text.strip()]
    if empty:
        warnings.append(
            f"{path.name}: page(s) {_ranges(empty)} have no text layer (scanned?): not indexed"
        )
    garbled = [i + 1 for i, text in enumerate(texts) if is_garbled(text)]
    if garbled:
        warnings.append(
            f"{path.name}: page(s) {_ranges(garbled)} garbled (broken font encoding), "
            "not indexed: OCR the file to read them"
        )
        texts = ["" if i + 1 in garbled else text for i, text in enumerate(texts)]
    return texts, warnings


def _ranges(pages: list[int]) -> str:
    return ", ".join(str(p) for p in pages[:10]) + (" ..." if len(pages) > 10 else "")


def _line(raw: str, page: int) -> Line:
    """A cleaned line; one with dot leaders is a table-of-contents entry."""
    entry = _LEADERS.search(raw) is not None
    return Line(clean_line(_LEADERS.sub(" ", raw)), page, 0, entry)


def metadata_title(reader: pypdf.PdfReader) -> str | None:
    """The title in the PDF's metadata, if any (unreadable metadata counts as none)."""
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # noqa: BLE001 - metadata is optional
        return None
    return str(title) if title else None


def pdf_blocks(
    path: Path, data: bytes, password: str | None
) -> tuple[list[Block], int, str | None, list[str]]:
    """Paragraph blocks of a PDF: (blocks, pages, metadata title, warnings)."""
    texts, warnings = page_texts(path, data, password)
    pages = [[_line(raw, index) for raw in text.splitlines()] for index, text in enumerate(texts)]
    pages = drop_running_lines(pages)
    stream = [line for page in pages for line in page if line.text]
    vocabulary = vocabulary_of(line.text for line in stream)
    blocks = build_blocks(stream, column_widths(stream), vocabulary)
    title = metadata_title(open_pdf(path, data, password))
    return blocks, len(texts), title, warnings
