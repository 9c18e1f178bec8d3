"""Documents' sources, read for a write: the per-file error boundary of add, uploads, rebuild.

Every file goes through :func:`read_source`: refused if it is no regular file, skipped if
the library already holds its bytes, otherwise read within the reading budget
(:class:`~paperbridge.ingest.budget.BoundedReader`). Whatever goes wrong becomes that file's
one-line entry in the report, with its name and the reason; the write goes on with the rest.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

from paperbridge.index.report import AddReport
from paperbridge.index.store import DocumentInfo, Store
from paperbridge.index.writer import VersionWriter, printable
from paperbridge.ingest.budget import BoundedReader, check_regular_file
from paperbridge.ingest.config import IngestConfig
from paperbridge.ingest.document import Document, Passage
from paperbridge.ingest.errors import IngestError

__all__ = ["file_hash", "one_line", "read_source", "reread", "stored_document"]

_log = logging.getLogger(__name__)


def file_hash(path: Path) -> str:
    """The document id of a file: the first 16 hex digits of SHA-256 of its bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def one_line(err: BaseException) -> str:
    """An error's message on one line (its type name when it has none)."""
    return " ".join(str(err).split()) or type(err).__name__


def read_source(path: Path, writer: VersionWriter, reader: BoundedReader, *, password: str | None,
                max_tokens: int, report: AddReport) -> Document | None:
    """The document of one file, or None with the file recorded as skipped or failed."""
    try:
        check_regular_file(path)
        if writer.is_unchanged(file_hash(path)):
            report.skipped.append(os.path.realpath(path))
            return None
        return reader.read(path, password=password, config=IngestConfig(max_tokens=max_tokens))
    except IngestError as err:
        report.failed.append((printable(str(path)), printable(one_line(err))))
    except OSError as err:
        report.failed.append((printable(str(path)), printable(
            f"{path.name}: cannot read it ({err.strerror}): check the file and its permissions")))
    except Exception as err:  # noqa: BLE001 - one file's failure never stops the others
        _log.debug("reading %s failed", path, exc_info=True)
        report.failed.append((printable(str(path)), printable(
            f"{path.name}: could not be read ({type(err).__name__}: {one_line(err)})")))
    return None


def reread(store: Store, info: DocumentInfo, reader: BoundedReader, max_tokens: int) -> Document:
    """A document read again from its source (for a rebuild), or as stored when that fails."""
    source = Path(info.source)
    if source.is_file():
        try:
            return reader.read(source, config=IngestConfig(max_tokens=max_tokens))
        except IngestError as err:
            _log.warning("rebuild: %s unreadable (%s); using the stored text", source, err)
    return stored_document(store, info)


def stored_document(store: Store, info: DocumentInfo) -> Document:
    """Rebuild a Document from what the library stored (its source is gone or unreadable)."""
    passages = tuple(
        Passage(p.doc_id, p.paragraph, p.part, p.page, p.lang, p.start, p.end, p.text,
                p.passage_kind, p.section)
        for p in store.doc_passages(info.doc_id)
    )
    return Document(info.doc_id, info.title, info.source, info.kind, info.lang,
                    store.page_texts(info.doc_id), passages, info.warnings,
                    info.authors, info.year, info.report)
