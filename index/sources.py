"""Documents' sources, read for a write: the per-file error boundary of add, uploads, rebuild.

Every file goes through :func:`read_source`: refused if it is no regular file, skipped if
the library already holds its bytes, otherwise read within the reading budget
(:class:`~paperbridge.ingest.budget.BoundedReader`). Whatever goes wrong becomes that file's
one-line entry in the report, with its name and the reason; the write goes on with the rest.

:class:`ReadAhead` reads the files on a thread, in order, while the writer embeds the
documents already read: the reading child process parses on one core while the encoders
use the other (on the 357 passages of the ingest benchmark, reading was 2.6 s of 12.7 s
before anything was embedded).
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Generic, TypeVar

from tqdm import tqdm

from paperbridge.index.report import AddReport
from paperbridge.index.store import DocumentInfo, Store
from paperbridge.index.writer import VersionWriter, printable
from paperbridge.ingest.budget import BoundedReader, check_regular_file
from paperbridge.ingest.config import IngestConfig
from paperbridge.ingest.document import Document, Passage
from paperbridge.ingest.errors import IngestError

__all__ = ["ReadAhead", "file_hash", "one_line", "read_source", "reread", "stored_document"]

_log = logging.getLogger(__name__)
Item = TypeVar("Item")
#: Documents read ahead of the writer at most (they wait in memory to be embedded).
READ_AHEAD = 4
_DONE = object()


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


class ReadAhead(Generic[Item]):
    """Read items (files, uploads, stored documents) on a thread while the caller embeds.

    ``read_one(item, report)`` turns one item into a document, or records in ``report`` why
    there is none (:func:`read_source` and friends). Documents come out in item order, and
    each item's skipped/failed entries are moved into the write's report in that order, on
    the caller's thread, so the report reads as if the items had been read one by one.

    Example:
        >>> with ReadAhead(files, read, report, reader=reader) as documents:
        ...     writer.add_documents(documents, report, progress=False)

    Leaving the block early (an error, Ctrl-C) stops the thread: the reader is closed, so a
    file being parsed is abandoned within seconds, and nothing more is read.
    """

    def __init__(self, items: Sequence[Item], read_one: Callable[[Item, AddReport], Document | None],
                 report: AddReport, *, reader: BoundedReader, progress: bool = False,
                 unit: str = "file") -> None:
        self.items, self.read_one, self.report, self.reader = items, read_one, report, reader
        self._bar = tqdm(total=len(items), desc="reading", unit=unit, disable=not progress)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=READ_AHEAD)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="paperbridge-read-ahead", daemon=True)

    def __enter__(self) -> Iterator[Document]:
        self._thread.start()
        return self._documents()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._bar.close()
        if self._thread.is_alive():
            self._stop.set()
            self.reader.close()  # a file being parsed fails at once instead of running on
            while self._thread.is_alive():  # it may be waiting to hand over a document
                self._drain()
                self._thread.join(timeout=0.1)

    def _drain(self) -> None:
        try:
            while True:
                self._queue.get_nowait()
        except queue.Empty:
            pass

    def _run(self) -> None:
        """The thread: read every item, hand over (its report, its document) in order."""
        try:
            for item in self.items:
                if self._stop.is_set():
                    return
                mine = AddReport()
                self._put((mine, self.read_one(item, mine)))
        except BaseException as err:  # noqa: BLE001 - handed to the caller's thread, raised there
            self._put(err)
        finally:
            self._put(_DONE)

    def _put(self, value: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(value, timeout=0.1)
                return
            except queue.Full:
                continue

    def _documents(self) -> Iterator[Document]:
        while True:
            got = self._queue.get()
            if got is _DONE:
                return
            if isinstance(got, BaseException):
                raise got
            assert isinstance(got, tuple)
            mine: AddReport = got[0]
            doc: Document | None = got[1]
            self.report.skipped.extend(mine.skipped)
            self.report.failed.extend(mine.failed)
            self._bar.update(1)
            if doc is not None:
                yield doc
