"""Writing library versions: build one beside the current, publish it, clean up behind it.

A :class:`VersionWriter` works in ``versions/.tmp-<random>/``: a private copy of the base
version's SQLite and vectors (or empty ones for a rebuild), changed there. Publishing
writes the lexical index, the vectors and the manifest (with every file's size and
checksums), fsyncs them, renames the folder to ``versions/<generation>-<id>`` and only then
replaces ``CURRENT`` (write a temporary file, fsync, rename, fsync the folder). Killing the
writer at any moment leaves ``CURRENT`` naming a complete version.

Generations only grow: a new version's is one more than any folder in ``versions/``, so a
library whose ``CURRENT`` went missing never restarts at 1 and never deletes what it holds.
:func:`cleanup` deletes only versions older than one the writer verified.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

from paperbridge.index import lexical
from paperbridge.index.config import IndexConfig
from paperbridge.index.embedding import Embedding
from paperbridge.index.encoder import Encoder
from paperbridge.index.lexical import tokenize
from paperbridge.index.manifest import EncoderEntry, FileSum, Manifest, new_version_id, now_iso, summarize
from paperbridge.index.report import AddReport
from paperbridge.index.store import DocumentInfo, Store
from paperbridge.index.stores import dispatch
from paperbridge.index.versions import (
    CURRENT,
    DB,
    MANIFEST,
    SIDE,
    VERSIONS,
    Version,
    generation_of,
    version_names,
)
from paperbridge.ingest.document import Document
from paperbridge.ingest.errors import LibraryError


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in ``path`` durable (as far as the disk tells the truth)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_current(root: Path, name: str) -> None:
    """Point ``CURRENT`` at version ``name``, atomically and durably."""
    tmp = root / f".CURRENT.{os.getpid()}.{uuid.uuid4().hex[:6]}"
    try:
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(name)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, root / CURRENT)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(root)


def write_error(root: Path, err: BaseException) -> LibraryError:
    """A write that failed, as a message naming the folder, the cause and what to do."""
    text = str(err).splitlines()[0][:200] if str(err) else type(err).__name__
    code = getattr(err, "errno", None)
    if code == errno.ENOSPC or _disk_full(root, text):
        free = shutil.disk_usage(root).free if root.exists() else 0
        return LibraryError(
            f"The disk holding {root} is full ({free // 2**20} MB free): the new library version "
            "could not be written, and the library is unchanged (the previous version is still "
            "the current one). Free some space, then run the command again."
        )
    if code in (errno.EACCES, errno.EPERM, errno.EROFS):
        return LibraryError(
            f"PaperBridge may not write into {getattr(err, 'filename', None) or root} "
            f"({os.strerror(code)}): the library is unchanged. Check the folder's permissions "
            "(or that the disk is not read-only), then run the command again."
        )
    return LibraryError(f"Writing the new version of the library at {root} failed ({text}); the "
                        "library is unchanged. Run the command again; if it keeps failing, run "
                        "`paperbridge doctor`.")


def _disk_full(root: Path, text: str) -> bool:
    """FAISS and SQLite report a full disk in their own words; also check the free space."""
    lowered = text.lower()
    if "disk is full" in lowered or "no space" in lowered:
        return True
    try:
        return "written" in lowered and shutil.disk_usage(root).free < 16 << 20
    except OSError:
        return False


class VersionWriter:
    """A version in progress in ``versions/.tmp-*``: a private SQLite copy and vector copies."""

    def __init__(self, root: Path, config: IndexConfig, *, base: Version | None,
                 prior: Version | None, encoders: Callable[[], dict[str, Encoder]],
                 entries: Callable[[], tuple[EncoderEntry, ...]]) -> None:
        """Start a version from ``base`` (None: from scratch, e.g. a rebuild).

        Args:
            prior: the version current when the write began (ids and generations continue
                from it); ``base`` is either it or None.
            encoders: the encoders by name (called only when something must be embedded).
            entries: the manifest's encoder entries of a version started from scratch.
        """
        self.root, self.config, self.base, self.prior = root, config, base, prior
        self._encoders, self._entries = encoders, entries
        versions = root / VERSIONS
        versions.mkdir(parents=True, exist_ok=True)
        for stale in versions.glob(".tmp-*"):  # left by a killed writer; we hold the lock
            dispatch.forget_unpublished(root, stale, [versions / n for n in version_names(root)],
                                        config.store)
            shutil.rmtree(stale, ignore_errors=True)
        self.folder = versions / f".tmp-{uuid.uuid4().hex[:8]}"
        self.folder.mkdir()
        self.added_at: dict[str, str] = {}
        self.changed = base is None  # nothing to publish unless a document was added or removed
        self.published = False
        # Under the writer lock no other version appears, so this is the published generation.
        self.generation = max([prior.manifest.generation if prior else 0,
                               *(generation_of(n) for n in version_names(root))]) + 1
        if base is not None:
            shutil.copyfile(versions / base.name / DB, self.folder / DB)
            self.store = Store.open_write(self.folder / DB)
            dims = [e.dim for e in base.manifest.encoders]
            self.next_id = base.manifest.next_id
        else:
            self.store = Store.create(self.folder / DB)
            dims = [e.dim for e in encoders().values()]
            self.next_id = prior.manifest.next_id if prior else 1
        try:
            self.indexes = dispatch.new_builder(
                root, self.folder, config, base=versions / base.name if base else None,
                prior=versions / prior.name if prior else None, dims=dims, generation=self.generation)
        except BaseException:
            self.store.close()
            shutil.rmtree(self.folder, ignore_errors=True)
            raise

    def is_unchanged(self, doc_id: str) -> bool:
        """True if this exact content is already in the library."""
        return self.store.document(doc_id) is not None

    def remove(self, doc_id: str) -> DocumentInfo | None:
        """Delete a document's rows and vectors."""
        info = self.store.document(doc_id)
        self.changed = True
        by_lang: dict[str, list[int]] = {}
        for pid, lang in self.store.delete_document(doc_id):
            by_lang.setdefault(lang, []).append(pid)
        self.indexes.remove(by_lang)
        return info

    def add_documents(self, docs: Iterable[Document], report: AddReport, *, progress: bool) -> None:
        """Store new documents (replacing older contents of the same source) and embed them.

        ``docs`` may still be read while this runs (``sources.ReadAhead``): each document is
        embedded as it comes (:class:`~paperbridge.index.embedding.Embedding`).
        """
        lexical.load_dictionary()  # while the first file is read, when reading runs ahead
        embedding = Embedding(self._current_entries, self._encoders, self.indexes, self.store,
                              cluster=self.config.cluster, progress=progress)
        try:
            for doc in docs:
                self._add_one(doc, report, embedding)
            embedding.finish()
        finally:
            embedding.close()
        report.embedded += embedding.embedded

    def _add_one(self, doc: Document, report: AddReport, embedding: Embedding) -> None:
        problem = unstorable(doc)
        if problem is not None:
            report.failed.append((printable(doc.source), problem))
            return
        if self.store.document(doc.doc_id) is not None:
            report.skipped.append(doc.source)
            return
        for old in self.store.documents_by_source(doc.source):
            self.remove(old.doc_id)
            report.replaced.append(old)
        self.changed = True
        ids = list(range(self.next_id, self.next_id + len(doc.passages)))
        self.next_id += len(doc.passages)
        tokens = [tokenize(p.text) for p in doc.passages]
        self.store.insert_document(doc, ids, tokens, self.added_at.get(doc.doc_id, now_iso()))
        info = self.store.document(doc.doc_id)
        assert info is not None
        report.added.append(info)
        embedding.add(ids, doc.passages, tokens)

    def _current_entries(self) -> tuple[EncoderEntry, ...]:
        """What each encoder embeds: the base version's entries, or new ones from scratch."""
        return self.base.manifest.encoders if self.base is not None else self._entries()

    def publish(self) -> str:
        """Write everything, fsync, rename into versions/ and swap CURRENT. Returns the name."""
        self.indexes.save(self.folder, self.store, self.generation)
        passages = self.store.count()
        self.store.commit()
        self.store.close()
        manifest = self._manifest(passages)
        manifest.write(self.folder / MANIFEST)
        fsync_dir(self.folder)
        name = f"{manifest.generation:06d}-{manifest.version_id}"
        os.rename(self.folder, self.root / VERSIONS / name)
        self.published = True
        fsync_dir(self.root / VERSIONS)
        write_current(self.root, name)
        return name

    def _manifest(self, passages: int) -> Manifest:
        done = Store.open_read(self.folder / DB)
        try:
            documents, languages = len(done.documents()), done.languages()
        finally:
            done.close()
        base = self.base.manifest if self.base is not None else None
        prior = self.prior.manifest if self.prior is not None else None
        return Manifest(
            encoders=base.encoders if base else self._entries(),
            max_tokens=base.max_tokens if base else self.config.max_tokens,
            generation=self.generation,
            next_id=self.next_id, documents=documents, passages=passages, languages=languages,
            created=prior.created if prior else now_iso(), version_id=new_version_id(),
            files=_file_sums(self.folder),
        )

    def discard(self) -> None:
        """Remove the temporary folder if it was not published."""
        try:
            self.store.close()
        except sqlite3.Error:
            pass
        if not self.published:
            self.indexes.discard()
        shutil.rmtree(self.folder, ignore_errors=True)


def printable(text: str) -> str:
    """``text`` with what UTF-8 cannot hold (file names of undecodable bytes) as U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def unstorable(doc: Document) -> str | None:
    """Why a document cannot be stored (text UTF-8 cannot hold, e.g. a file name of
    undecodable bytes, or lone surrogates from a broken font), or None."""
    fields = [doc.source, doc.title, *doc.page_texts, *doc.warnings, *doc.authors,
              *(p.text for p in doc.passages), *(p.section for p in doc.passages)]
    for value in fields:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            name = printable(Path(doc.source).name)
            if value == doc.source:
                return (f"{name}: its file name is not valid UTF-8: rename the file (e.g. in a file "
                        "manager) and add it again")
            return (f"{name}: its text holds characters that cannot be stored (a broken font "
                    "encoding?): re-export the file, e.g. print it to PDF, and add it again")
    return None


def _file_sums(folder: Path) -> dict[str, FileSum]:
    """Size and checksums of every file of a version (each fsynced on the way)."""
    sums: dict[str, FileSum] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel == MANIFEST or rel.startswith(SIDE + "/"):
            continue
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        sums[rel] = summarize(path)
    for sub in sorted(p for p in folder.rglob("*") if p.is_dir()):
        fsync_dir(sub)
    return sums


def cleanup(root: Path, current: str, verified: str | None, store: str = "") -> None:
    """Remove versions older than ``verified`` (a version checked whole before this write,
    kept one write longer for readers still on it) and leftovers of killed writers; on
    Milvus, also the rows and collections no kept version sees (reached with ``store``'s
    address or credentials when given).

    With nothing verified before (a new library), no version is removed.
    """
    if verified is not None:
        keep_from = min(generation_of(verified), generation_of(current))
        names = version_names(root)
        gone = [n for n in names if generation_of(n) < keep_from]
        dispatch.after_cleanup(root, [root / VERSIONS / n for n in names if n not in gone],
                               [root / VERSIONS / n for n in gone], keep_from, store)
        for name in gone:
            shutil.rmtree(root / VERSIONS / name, ignore_errors=True)
    for leftover in root.glob(".CURRENT.*"):
        leftover.unlink(missing_ok=True)
