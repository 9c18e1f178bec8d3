"""Read one file into a :class:`~ingest.document.Document`; find the files of a folder."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from pathlib import Path

from paperbridge.ingest import lines as L
from paperbridge.ingest.config import IngestConfig
from paperbridge.ingest.document import Document
from paperbridge.ingest.errors import EmptyDocumentError, IngestError, UnsupportedFileError
from paperbridge.ingest.language import detect_language
from paperbridge.ingest.paragraphs import Block
from paperbridge.ingest.passages import make_passages, page_texts_of
from paperbridge.ingest.text import cjk_count, latin_words
from paperbridge.ingest.textfile import decode_text, text_blocks

log = logging.getLogger(__name__)

SUPPORTED = (".pdf", ".txt", ".md")
DEFAULT_CONFIG = IngestConfig()
SAMPLE_CORPUS = Path(__file__).resolve().parent / "sample" / "papers"
_NAVIGATION = re.compile(
    r"[>|»›]|https?://|www\.|@|\b(?:previous|next|home|menu|log ?in|sign in|subscribe)\b"
    r"|上一篇|下一篇|首页|返回",
    re.IGNORECASE,
)


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


_TAG = re.compile(r"^\s*[\[【]([^\]】]{1,30})[\]】]\s*")  # "[Paper Express] ..." / "【论文速递】..."


def _title_like(text: str) -> bool:
    """A heading that can serve as a title: real words, not navigation, a date or a label."""
    if _NAVIGATION.search(text) or L.is_label(text.strip()) or len(text) > 200:
        return False
    if L.is_bullet(text) or L.is_noise(text) or text[0] in "(（[【":
        return False
    if cjk_count(text) >= 6:
        return True
    words = [w for w in latin_words(text) if len(w) > 3]
    capitalised = sum(1 for w in words if w[0].isupper())
    return len(words) >= 3 and capitalised >= 0.6 * len(words)


def choose_title(path: Path, metadata_title: str | None, blocks: Sequence[Block]) -> str:
    """PDF metadata title if meaningful, else the first title-like heading, else the file stem."""
    if metadata_title:
        meta = metadata_title.strip()
        generic = re.search(r"\.(docx?|tex|pdf)$|^(untitled|microsoft word)", meta, re.I)
        if not generic and (cjk_count(meta) >= 2 or len(latin_words(meta)) >= 2):
            return meta
    for block in blocks[:12]:
        text = _TAG.sub("", block.text)
        if block.kind == "heading" and text and _title_like(text):
            return text
    return path.stem


def _read_blocks(
    path: Path, data: bytes, password: str | None
) -> tuple[str, list[Block], int, str | None, list[str]]:
    """Dispatch on the file type: (kind, blocks, pages, metadata title, warnings)."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        from paperbridge.ingest.pdf import pdf_blocks

        blocks, pages, meta_title, warnings = pdf_blocks(path, data, password)
        return "pdf", blocks, pages, meta_title, warnings
    if suffix in (".txt", ".md"):
        text = decode_text(path, data)
        heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE) if suffix == ".md" else None
        title = heading.group(1).strip() if heading else None
        return "text", text_blocks(path, text), 1, title, []
    raise UnsupportedFileError(
        f"{path.name} is a {suffix or 'suffix-less'} file: PaperBridge reads PDF, .txt and .md"
    )


def read_document(
    path: Path, *, password: str | None = None, config: IngestConfig = DEFAULT_CONFIG
) -> Document:
    """Read a PDF, .txt or .md file into clean, citable passages.

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
    kind, blocks, pages, meta_title, warnings = _read_blocks(path, data, password)
    page_texts, starts = page_texts_of(blocks, pages)
    passages = make_passages(doc_id, blocks, starts, config)
    if not passages and not warnings:
        raise EmptyDocumentError(f"{path.name} has no readable text: nothing to index")
    for warning in warnings:
        log.info(warning)
    return Document(
        doc_id=doc_id,
        title=choose_title(path, meta_title, blocks),
        source=str(path.resolve()),
        kind=kind,
        lang=detect_language(" ".join(p.text for p in passages)),
        page_texts=page_texts,
        passages=passages,
        warnings=tuple(warnings),
    )
