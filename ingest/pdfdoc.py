"""A PDF opened with pdfium: one place for passwords and damage, for every layer.

Ingestion reads text with it; the source view asks it where characters sit on a page and
for the page as an image. Opening goes through :func:`open_pdfium` only, so an encrypted or
damaged file gets the same typed error wherever it is opened.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image

from paperbridge.ingest.errors import CorruptFileError, EncryptedPDFError


@dataclass(frozen=True)
class PageGlyphs:
    """The characters of one page and where each one is drawn.

    ``boxes[i]`` is the box of ``chars[i]`` as (left, top, right, bottom) in points from the
    page's top-left corner (None for characters pdfium draws nowhere, such as generated
    spaces); ``width``/``height`` are the page's size in points.
    """

    chars: str
    boxes: tuple[tuple[float, float, float, float] | None, ...]
    width: float
    height: float


@contextmanager
def open_pdfium(source: Path | bytes, password: str | None, name: str) -> Iterator[pdfium.PdfDocument]:
    """Open a PDF (a path or its bytes) with pdfium and close it afterwards.

    Args:
        source: the file, or its bytes.
        password: the user password of an encrypted PDF, if any.
        name: how the file is named in error messages.

    Raises:
        EncryptedPDFError: a password is needed, or the one given is wrong.
        CorruptFileError: pdfium cannot open the file.
    """
    try:
        document = pdfium.PdfDocument(source, password=password)
    except pdfium.PdfiumError as err:
        if "password" in str(err).lower():
            given = "the password given is wrong" if password else "it needs its password"
            raise EncryptedPDFError(
                f"{name} is encrypted and {given}: pass the PDF's user password."
            ) from err
        raise CorruptFileError(f"{name} cannot be opened ({err}): download or export it again.") from err
    try:
        yield document
    finally:
        document.close()


@contextmanager
def _page(path: Path, page: int, password: str | None) -> Iterator[pdfium.PdfPage]:
    with open_pdfium(path, password, path.name) as document:
        if not 1 <= page <= len(document):
            raise CorruptFileError(f"{path.name} has {len(document)} pages, not page {page}: add it again.")
        pdf_page = document[page - 1]
        try:
            yield pdf_page
        finally:
            pdf_page.close()


def page_glyphs(path: Path, page: int, password: str | None = None) -> PageGlyphs:
    """The characters of ``page`` (1-based) of the PDF at ``path``, with their boxes."""
    with _page(path, page, password) as pdf_page:
        left, _, right, top = pdf_page.get_cropbox()
        bottom = pdf_page.get_cropbox()[1]
        textpage = pdf_page.get_textpage()
        try:
            count = textpage.count_chars()
            text = textpage.get_text_range()
            if len(text) != count:  # characters beyond the BMP: rebuild index by index
                text = "".join(str(textpage.get_text_range(i, 1)) or " " for i in range(count))
            boxes: list[tuple[float, float, float, float] | None] = []
            for i in range(count):
                x0, y0, x1, y1 = textpage.get_charbox(i, loose=True)
                drawn = x1 > x0 and y1 > y0 and not text[i].isspace()
                boxes.append((x0 - left, top - y1, x1 - left, top - y0) if drawn else None)
        finally:
            textpage.close()
    return PageGlyphs(text, tuple(boxes), right - left, top - bottom)


def render_page(path: Path, page: int, *, scale: float, password: str | None = None) -> Image.Image:
    """``page`` (1-based) of the PDF at ``path`` as an RGB image, ``scale`` pixels per point."""
    with _page(path, page, password) as pdf_page:
        image: Image.Image = pdf_page.render(scale=scale).to_pil().convert("RGB")
        return image
