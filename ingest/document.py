"""What ingestion produces: documents and the citable passages cut from them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Passage:
    """One citable piece of a document: a paragraph, or part of a long one.

    Offsets ``start``/``end`` index into the cleaned text of ``page`` (the document's
    ``page_texts[page - 1]``; a text file is one page), so a viewer can show the passage
    in place. ``paragraph`` counts paragraphs from 1 across the whole document; ``part``
    counts from 0 the pieces a long paragraph was cut into.
    """

    doc_id: str
    paragraph: int
    part: int
    page: int
    lang: str  # "en", "zh" or "mixed"
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Document:
    """A file read into passages, with what went wrong on the way (``warnings``)."""

    doc_id: str  # first 16 hex digits of the SHA-256 of the file's bytes
    title: str
    source: str  # absolute path of the file it was read from
    kind: str  # "pdf" or "text"
    lang: str  # "en", "zh" or "mixed"
    page_texts: tuple[str, ...]
    passages: tuple[Passage, ...]
    warnings: tuple[str, ...] = field(default=())

    @property
    def pages(self) -> int:
        """Number of pages (1 for a text file)."""
        return len(self.page_texts)
