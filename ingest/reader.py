"""Read one file into a :class:`~ingest.document.Document`; find the files of a folder."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from paperbridge.ingest.bibliography import choose_authors, choose_title, choose_year
from paperbridge.ingest.config import IngestConfig
from paperbridge.ingest.document import ANSWER_KINDS, Document, ExtractionReport
from paperbridge.ingest.errors import EmptyDocumentError, IngestError, UnsupportedFileError
from paperbridge.ingest.language import detect_language
from paperbridge.ingest.lines import Line
from paperbridge.ingest.paragraphs import Block, build_blocks, column_widths, vocabulary_of
from paperbridge.ingest.passages import make_passages, page_texts_of
from paperbridge.ingest.structure import classify, profile_pages, sections
from paperbridge.ingest.text import clean_line
from paperbridge.ingest.textfile import decode_text, text_blocks

log = logging.getLogger(__name__)

SUPPORTED = (".pdf", ".txt", ".md")
DEFAULT_CONFIG = IngestConfig()
SAMPLE_CORPUS = Path(__file__).resolve().parent / "sample" / "papers"
def find_files(paths: Sequence[Path]) -> list[Path]:
    """Expand folders (recursively) to their PDF, .txt and .md files, sorted.

    Files named explicitly are kept as given, whatever their type, so that
    :func:`read_document` can report an unsupported one instead of skipping it silently.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED)
            )
        else:
            found.append(path)
    return found


def document_id(data: bytes) -> str:
    """Stable id of a file: the first 16 hex digits of the SHA-256 of its bytes."""
    return hashlib.sha256(data).hexdigest()[:16]


@dataclass
class _Content:
    """What a reader made of a file, before passages are cut."""

    kind: str  # "pdf" or "text"
    blocks: list[Block]
    lines: list[list[Line]]  # cleaned lines per page (for page profiles and metadata)
    meta_title: str | None = None
    meta_author: str | None = None
    warnings: list[str] = field(default_factory=list)
    extractors: tuple[str, ...] = ("text",)
    dropped: tuple[tuple[int, str], ...] = ()
    largest: list[list[str]] = field(default_factory=list)


def _read_content(path: Path, data: bytes, password: str | None) -> _Content:
    """Dispatch on the file type."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from paperbridge.ingest.pdf import read_pdf

        pdf = read_pdf(path, data, password)
        stream = [line for page in pdf.lines for line in page if line.text]
        blocks = build_blocks(stream, column_widths(stream), vocabulary_of(t.text for t in stream))
        return _Content(
            "pdf", blocks, pdf.lines, pdf.metadata.title, pdf.metadata.author, pdf.warnings,
            tuple(p.extractor for p in pdf.pages),
            tuple((i + 1, p.dropped) for i, p in enumerate(pdf.pages) if p.dropped),
            pdf.largest,
        )
    if suffix in (".txt", ".md"):
        text = decode_text(path, data)
        heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE) if suffix == ".md" else None
        title = heading.group(1).strip() if heading else None
        lines = [Line(clean_line(raw), 0, 0) for raw in text.splitlines()[:200]]
        return _Content("text", text_blocks(path, text), [[ln for ln in lines if ln.text]], title)
    raise UnsupportedFileError(
        f"{path.name} is a {suffix or 'suffix-less'} file: PaperBridge reads PDF, .txt and .md"
    )


def _first_lines(content: _Content) -> list[str]:
    """The text lines of the first two pages with text (where title, authors and year are)."""
    pages = [page for page in content.lines if page][:2]
    return [line.text for page in pages for line in page]


def read_document(
    path: Path, *, password: str | None = None, config: IngestConfig = DEFAULT_CONFIG
) -> Document:
    """Read a PDF, .txt or .md file into clean, citable passages.

    Every passage has a kind (body, caption, table, code, toc, index, references,
    boilerplate; see ``ANSWER_KINDS``) and a section path; the document gets its title,
    authors and year, and a report of how each page was read.

    Args:
        path: the file.
        password: the user password of an encrypted PDF.
        config: how paragraphs are cut into passages.

    Raises:
        IngestError: one of its subclasses (unsupported, empty, encrypted, corrupt, no text
            layer, undecodable), with a one-line message naming the file and what to do.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise IngestError(f"{path}: cannot read the file ({err.strerror}): check the path") from err
    doc_id = document_id(data)
    content = _read_content(path, data, password)
    blocks = classify(content.blocks, profile_pages(content.lines))
    paths = sections(blocks)
    page_texts, starts = page_texts_of(blocks, len(content.lines))
    passages = make_passages(doc_id, blocks, starts, config, paths)
    if not passages and not content.warnings:
        raise EmptyDocumentError(f"{path.name} has no readable text: nothing to index")
    for warning in content.warnings:
        log.info(warning)
    first = _first_lines(content)
    title = choose_title(path, content.meta_title, blocks, content.largest, first)
    return Document(
        doc_id=doc_id,
        title=title,
        source=str(path.resolve()),
        kind=content.kind,
        lang=detect_language(" ".join(p.text for p in passages if p.kind in ANSWER_KINDS)
                             or " ".join(p.text for p in passages)),
        page_texts=page_texts,
        passages=passages,
        warnings=tuple(content.warnings),
        authors=choose_authors(content.meta_author, first, title),
        year=choose_year(first),
        report=ExtractionReport(
            pages=len(content.lines),
            extractors=content.extractors * (len(content.lines) if content.kind == "text" else 1),
            dropped=content.dropped,
            kinds=dict(Counter(p.kind for p in passages)),
        ),
    )
