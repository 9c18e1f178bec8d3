"""What ingestion produces: documents and the citable passages cut from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# What a passage is. Only the first three compete for answers by default (``ANSWER_KINDS``);
# the others stay findable through a filter (``kinds=``), e.g. "which papers does it cite".
PASSAGE_KINDS = (
    "body", "caption", "table", "heading", "code", "toc", "index", "references", "boilerplate",
)
ANSWER_KINDS = ("body", "caption", "table")


@dataclass(frozen=True)
class Passage:
    """One citable piece of a document: a paragraph, or part of a long one.

    Offsets ``start``/``end`` index into the cleaned text of ``page`` (the document's
    ``page_texts[page - 1]``; a text file is one page), so a viewer can show the passage
    in place. ``paragraph`` counts paragraphs from 1 across the whole document; ``part``
    counts from 0 the pieces a long paragraph was cut into. ``kind`` is one of
    :data:`PASSAGE_KINDS`; ``section`` is the path of headings above it
    (``"6.2 简单循环网络 > 6.2.1 循环神经网络的计算能力"``, empty before the first heading).
    """

    doc_id: str
    paragraph: int
    part: int
    page: int
    lang: str  # "en", "zh" or "mixed"
    start: int
    end: int
    text: str
    kind: str = "body"
    section: str = ""


@dataclass(frozen=True)
class ExtractionReport:
    """What ingestion did with a file, page by page, so that a user can check it.

    Attributes:
        pages: pages in the file (1 for a text file).
        extractors: per page, the reader whose text was kept: "pypdf", "pdfium",
            "pypdf-gbk" (pypdf's text with GBK mojibake undone), "text" (a text file) or
            "none" (no reader gave text).
        dropped: (page, reason) of pages left out of the passages, 1-based.
        kinds: passages per kind.
    """

    pages: int = 0
    extractors: tuple[str, ...] = ()
    dropped: tuple[tuple[int, str], ...] = ()
    kinds: dict[str, int] = field(default_factory=dict)

    def extractor_ranges(self) -> str:
        """The extractors as page ranges: ``"pdfium 1-12, 14; pypdf 13"``."""
        pages_of: dict[str, list[int]] = {}
        for page, name in enumerate(self.extractors, start=1):
            pages_of.setdefault(name, []).append(page)
        return "; ".join(f"{name} {page_ranges(pages)}" for name, pages in pages_of.items())

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (what the library stores and ``list --json`` shows)."""
        return {
            "pages": self.pages,
            "extractors": list(self.extractors),
            "dropped": [list(d) for d in self.dropped],
            "kinds": dict(self.kinds),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> ExtractionReport:
        """Inverse of :meth:`to_json` (None or {} gives an empty report)."""
        if not data:
            return cls()
        return cls(
            pages=int(data.get("pages", 0)),
            extractors=tuple(str(e) for e in data.get("extractors", ())),
            dropped=tuple((int(p), str(r)) for p, r in data.get("dropped", ())),
            kinds={str(k): int(v) for k, v in dict(data.get("kinds", {})).items()},
        )


def page_ranges(pages: list[int]) -> str:
    """``[1, 2, 3, 7, 9, 10]`` -> ``"1-3, 7, 9-10"``."""
    parts: list[str] = []
    start = prev = None
    for page in [*sorted(pages), None]:
        if start is not None and prev is not None and (page is None or page != prev + 1):
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if page is not None and start is None:
            start = page
        prev = page
    return ", ".join(parts)


@dataclass(frozen=True)
class Document:
    """A file read into passages, with what went wrong on the way (``warnings``).

    ``authors`` and ``year`` come from the PDF's metadata or, failing that, its first page;
    ``report`` says which reader gave each page, which pages were dropped and why, and how
    many passages of each kind were made.
    """

    doc_id: str  # first 16 hex digits of the SHA-256 of the file's bytes
    title: str
    source: str  # absolute path of the file it was read from
    kind: str  # "pdf" or "text"
    lang: str  # "en", "zh" or "mixed"
    page_texts: tuple[str, ...]
    passages: tuple[Passage, ...]
    warnings: tuple[str, ...] = field(default=())
    authors: tuple[str, ...] = ()
    year: int | None = None
    report: ExtractionReport = field(default_factory=ExtractionReport)

    @property
    def pages(self) -> int:
        """Number of pages (1 for a text file)."""
        return len(self.page_texts)

    def stats(self) -> str:
        """What ingestion did, for people (``paperbridge passages --stats``): a few lines.

        Title, authors and year; pages and the reader kept for each; dropped pages and why;
        passages per kind.
        """
        report = self.report
        byline = ", ".join(self.authors[:6]) + (" et al." if len(self.authors) > 6 else "")
        dropped: dict[str, list[int]] = {}
        for page, reason in report.dropped:
            dropped.setdefault(reason, []).append(page)
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(report.kinds.items(), key=lambda kv: -kv[1]))
        return "\n".join([
            f"{Path(self.source).name}: {self.title}"
            + (f" | {byline}" if byline else "") + (f" | {self.year}" if self.year else ""),
            f"  pages: {report.pages} | language: {self.lang} | read by: {report.extractor_ranges()}",
            "  dropped: " + ("; ".join(f"{reason} {page_ranges(pages)}" for reason, pages in
                                     dropped.items()) or "none"),
            f"  passages: {len(self.passages)} ({kinds or 'none'})",
        ])
