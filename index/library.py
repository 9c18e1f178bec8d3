"""The library on disk: passages, their embeddings and a lexical index, kept in step.

Layout of a library folder (the index layer owns all of it; no other layer writes there)::

    CURRENT                  name of the published version folder (replaced atomically)
    lock                     writers hold an OS file lock on it; readers never lock
    versions/<gen>-<id>/     one complete version: manifest.json (models, what each
                             embedded, counts, every file's size and checksums),
                             library.sqlite (documents, pages, passages, and the answer
                             passages' sentence vectors: index.sentences),
                             vectors/<encoder #>/<lang>.faiss (e5: answer passages only),
                             lexical/, and side/ (results computed on this version, e.g.
                             calibration.json)
    versions/.tmp-*          a writer's version in progress (removed by the next writer)
    files/                   kept copies of uploaded files (documents' sources)

A writer copies the current version into a temporary folder, changes it there, renames it
into ``versions/`` and only then replaces ``CURRENT`` (:mod:`~paperbridge.index.writer`).
Killing it at any moment leaves ``CURRENT`` naming a complete version, so readers always see
the old or the new library, never a mixture. The previous version is kept one write longer
for readers still on it. Every version is checked whole when it is opened
(:mod:`~paperbridge.index.versions`); a damaged one is refused with what to run, never
answered from, and ``paperbridge doctor`` (:mod:`~paperbridge.index.doctor`) repairs what
can be repaired.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from paperbridge.index import doctor
from paperbridge.index.config import IndexConfig
from paperbridge.index.doctor import Health, RepairReport
from paperbridge.index.encoder import Encoder, load_encoder, runtime_of
from paperbridge.index.lock import writer_lock
from paperbridge.index.manifest import EncoderEntry, Manifest
from paperbridge.index.report import AddReport
from paperbridge.index.sources import ReadAhead, file_hash, one_line, read_source, reread
from paperbridge.index.store import DocumentInfo, StoredPassage
from paperbridge.index.stores import dispatch
from paperbridge.index.uploads import UploadError, is_kept_upload, keep_file, uploads_folder
from paperbridge.index.versions import (
    SIDE,
    VERSIONS,
    Current,
    Version,
    find_current,
    load_version,
    read_pointer,
    version_names,
)
from paperbridge.index.writer import VersionWriter, cleanup, printable, write_current, write_error
from paperbridge.ingest.budget import BoundedReader, Budget, find_readable
from paperbridge.ingest.document import ANSWER_KINDS, Document
from paperbridge.ingest.errors import (
    DocumentNotFoundError,
    LibraryError,
    LibraryLockedError,
    LibraryNotFoundError,
    ModelMismatchError,
    PaperBridgeError,
)

__all__ = ["AddReport", "Library", "file_hash"]  # file_hash: from .sources, kept here for callers

_log = logging.getLogger(__name__)
_SIDE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,80}$")


def _mismatch(path: Path, built: Sequence[str], asked: Sequence[str]) -> ModelMismatchError:
    flags = " ".join(f"--model {s}" for s in asked)
    return ModelMismatchError(
        f"The library at {path} was built with {', '.join(built)}; you asked for "
        f"{', '.join(asked)}. Run `paperbridge rebuild {flags}` to re-embed it with the new "
        f"models, or use the library's models (drop --model / unset PAPERBRIDGE_MODELS)."
    )


class Library:
    """A library folder: add/remove/rebuild documents (one writer) and search them (any reader).

    Open it with :meth:`open`, the one way in. The models and chunking of an existing library
    are its manifest's; :meth:`rebuild` changes them.
    """

    def __init__(self, path: Path, settings: IndexConfig, encoders: Sequence[Encoder] | None,
                 current: Current) -> None:
        """Use :meth:`open`."""
        self.path = path
        self._settings = settings
        self._injected = list(encoders) if encoders is not None else None
        self._encoders: dict[str, Encoder] | None = None
        self._state: Version | None = current.version
        self.note: str | None = current.note  # how a bad CURRENT was recovered, for the user
        self._load_lock = threading.Lock()

    # ---- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path, config: IndexConfig | None = None, *, create: bool = False,
             encoders: Sequence[Encoder] | None = None) -> Library:
        """Open the library at ``path``.

        Args:
            path: the library folder.
            config: settings; None means the library's own models (the defaults for a new
                library). Naming other models than the manifest's is refused (use
                :meth:`rebuild` to change them). Chunking is always the library's own.
            create: treat a missing library as an empty one (it is written on the first add).
            encoders: ready encoder instances (tests inject HashEncoder); their names are
                checked against the manifest.

        Raises:
            LibraryNotFoundError: no library there and ``create`` is False.
            ModelMismatchError: the library was built with other models.
            LibraryFormatError: the manifest is unreadable or of another format version.
            LibraryDamagedError: a file of the current version is missing or damaged.
        """
        path = Path(path).expanduser()
        settings = config or IndexConfig()
        if encoders:
            settings = dataclasses.replace(settings, encoders=tuple(e.name for e in encoders))
        current = find_current(path, settings)
        if current.version is None and not create:
            raise LibraryNotFoundError(
                f"No library at {path}. Add documents first: `paperbridge add PATH...`."
            )
        lib = cls(path, settings, encoders, current)
        if current.version is not None:
            lib._check_models(current.version.manifest, config, encoders)
            moved = dispatch.other_store(path / VERSIONS / current.version.name, settings.store)
            if moved:
                _log.warning("%s", moved)
        if current.note:
            _log.warning("%s", current.note)
        return lib

    def _check_models(self, manifest: Manifest, config: IndexConfig | None,
                      encoders: Sequence[Encoder] | None) -> None:
        if encoders:
            built, asked = [e.name for e in manifest.encoders], [e.name for e in encoders]
        else:
            built = list(manifest.specs)
            asked = list(config.encoders) if config else built
        if asked != built:
            raise _mismatch(self.path, manifest.specs, asked)
        if config and config.max_tokens != manifest.max_tokens:
            _log.info("using the library's max_tokens=%d, not %d (chunking changes need a "
                      "rebuild)", manifest.max_tokens, config.max_tokens)

    @property
    def manifest(self) -> Manifest | None:
        """The manifest of the loaded version (None for a library not yet written)."""
        return self._state.manifest if self._state else None

    @property
    def version_id(self) -> str | None:
        """The id of the loaded version (side files are keyed by it), None before the first add."""
        return self._state.version_id if self._state else None

    @property
    def config(self) -> IndexConfig:
        """The settings in force: the library's models and chunking, the caller's index knobs."""
        manifest = self.manifest
        if manifest is None:
            return self._settings
        return dataclasses.replace(self._settings, encoders=manifest.specs,
                                   max_tokens=manifest.max_tokens)

    def refresh(self) -> bool:
        """Pick up a version another process published. Returns True if it changed.

        Raises:
            LibraryDamagedError: the version now current is damaged (the old one stays loaded).
        """
        pointer = read_pointer(self.path)  # cheap: every question calls this
        if self._state is not None:
            if pointer.name == self._state.name:
                return False
            if pointer.name is None and version_names(self.path)[-1:] == [self._state.name]:
                return False  # still on the version recovered from a bad CURRENT
        current = find_current(self.path, self._settings)
        if current.version is None or (self._state is not None
                                       and current.version.name == self._state.name):
            return False
        self._adopt(current)
        return True

    def _adopt(self, current: Current) -> None:
        """Make ``current`` the loaded version (the old one's store closes with its last reader)."""
        old = self.manifest
        self._state, self.note = current.version, current.note
        new = self.manifest
        if old is not None and new is not None and old.encoders != new.encoders:
            with self._load_lock:  # another process rebuilt it with other models
                self._encoders = None

    # ---- encoders -----------------------------------------------------------------------
    @property
    def encoders(self) -> dict[str, Encoder]:
        """The encoders by name, loaded on first use."""
        with self._load_lock:
            if self._encoders is None:
                found = self._injected or [load_encoder(s) for s in self.config.encoders]
                manifest = self.manifest
                if manifest is not None:
                    built = [e.name for e in manifest.encoders]
                    if [e.name for e in found] != built:
                        raise _mismatch(self.path, built, [e.name for e in found])
                self._encoders = {e.name: e for e in found}
        return self._encoders

    # ---- reading ------------------------------------------------------------------------
    def documents(self) -> list[DocumentInfo]:
        """All documents with their warnings from ingestion, oldest first."""
        state = self._state
        return state.store.documents() if state else []

    def passages(self, ids: Sequence[int]) -> list[StoredPassage]:
        """Stored passages by id, same order as ``ids``.

        Raises:
            LibraryError: an id is not in this version of the library.
        """
        state = self._state
        try:
            if state is None:
                raise KeyError(ids[0] if ids else None)
            return state.store.passages(ids)
        except KeyError as err:
            raise LibraryError(
                f"Passage id {err} is not in the library at {self.path}; it may have been "
                "removed. Ask again."
            ) from err

    def passage_ids(self, *, lang: str | None = None) -> list[int]:
        """Ids of all passages, or of one language's ("en", "zh", "mixed")."""
        state = self._state
        return state.store.passage_ids(lang=lang) if state else []

    def vocabulary(self) -> dict[str, Counter[str]]:
        """How many passages use each BM25 token, by language (read from SQLite: one pass)."""
        state = self._state
        return state.store.vocabulary() if state is not None else {}

    def languages(self) -> dict[str, int]:
        """Passage counts per language, e.g. {"en": 40, "zh": 70, "mixed": 3}."""
        state = self._state  # the manifest holds the counts: no scan of the passages table
        return dict(state.manifest.languages) if state else {}

    def __len__(self) -> int:
        state = self._state
        return state.store.count() if state else 0

    def page_text(self, doc_id: str, page: int) -> str:
        """The cleaned page text that a passage's start/end offsets index into."""
        state = self._state
        text = state.store.page_text(doc_id, page) if state else None
        if text is None:
            raise DocumentNotFoundError(f"No page {page} of document {doc_id} in {self.path}.")
        return text

    def dense_search(self, encoder: str, query: np.ndarray, k: int, *, lang: str | None = None,
                     doc_ids: Collection[str] | None = None) -> list[tuple[int, float]]:
        """Nearest passages to a query vector by one encoder's index.

        Args:
            encoder: an encoder name (a key of :attr:`encoders`).
            query: float32 unit vector, shape (dim,), from that encoder's ``encode_queries``.
            k: number of hits.
            lang: only passages of this language (exact quality: one index per language).
            doc_ids: only passages of these documents.

        Returns:
            Up to k (passage id, inner product), best first.
        """
        state = self._state
        if state is None:
            return []
        names = [e.name for e in state.manifest.encoders]
        if encoder not in names:
            raise LibraryError(f"The library at {self.path} has no vectors from encoder "
                               f"{encoder!r}; it has {', '.join(names)}.")
        return state.search().dense(names.index(encoder), query, k, lang=lang, doc_ids=doc_ids)

    def lexical_search(self, query: str, k: int, *, lang: str | None = None,
                       doc_ids: Collection[str] | None = None) -> list[tuple[int, float]]:
        """BM25 hits for the query text, best first, filtered like :meth:`dense_search`."""
        state = self._state
        if state is None:
            return []
        return state.search().lexical(query, k, lang=lang, doc_ids=doc_ids)

    def resolve(self, ref: str) -> DocumentInfo:
        """A document by id, unique id prefix (>= 6 characters) or exact title."""
        docs = self.documents()
        exact = [d for d in docs if d.doc_id == ref or d.title == ref]
        if len(exact) == 1:
            return exact[0]
        prefix = [d for d in docs if len(ref) >= 6 and d.doc_id.startswith(ref)]
        if len(exact) + len(prefix) == 1:
            return (exact + prefix)[0]
        if exact or prefix:
            names = ", ".join(f"{d.doc_id} ({d.title})" for d in exact or prefix)
            raise DocumentNotFoundError(f"{ref!r} matches several documents: {names}. Use the id.")
        raise DocumentNotFoundError(
            f"No document {ref!r} in the library at {self.path}; `paperbridge list` shows the ids."
        )

    # ---- health -------------------------------------------------------------------------
    @staticmethod
    def check(path: Path, *, full: bool = False) -> Health:
        """Check the library at ``path`` without opening it (``paperbridge doctor``).

        Args:
            full: also hash every file whole and run SQLite's full integrity check.
        """
        return doctor.check(Path(path), full=full)

    @staticmethod
    def repair(path: Path, *, rollback: bool = False, encoders: Sequence[Encoder] | None = None,
               progress: bool = False) -> RepairReport:
        """Repair the library at ``path`` as far as no document is lost (see :mod:`.doctor`);
        ``rollback`` also goes back a version when the current one's database is damaged."""
        return doctor.repair(Path(path), rollback=rollback, encoders=encoders, progress=progress)

    # ---- side files: results computed on one version -------------------------------------
    def read_side(self, name: str, version_id: str) -> bytes | None:
        """A side file of the version ``version_id`` (e.g. ``calibration.json``), or None.

        Side files live in that version's folder, so a result is never read for another
        version (or another library that reached the same generation number).
        """
        folder = self._side_folder(name, version_id)
        try:
            return (folder / name).read_bytes() if folder else None
        except OSError:
            return None

    def write_side(self, name: str, data: bytes, version_id: str) -> bool:
        """Store a side file of version ``version_id``, atomically, under the writer lock.

        Returns False, without waiting, when a writer holds the lock or the version is gone
        (a cache then recomputes next time); raises nothing for that.
        """
        try:
            with writer_lock(self.path, wait=False):
                folder = self._side_folder(name, version_id)
                if folder is None:
                    return False
                folder.mkdir(exist_ok=True)
                tmp = folder / f".{name}.{os.getpid()}.tmp"
                tmp.write_bytes(data)
                os.replace(tmp, folder / name)
                return True
        except (LibraryLockedError, OSError) as err:
            _log.debug("side file %s of %s not written: %s", name, version_id, err)
            return False

    def _side_folder(self, name: str, version_id: str) -> Path | None:
        if not _SIDE_NAME.match(name) or not re.fullmatch(r"[0-9a-f]{4,32}", version_id):
            raise LibraryError(f"Not a side file name or version id: {name!r}, {version_id!r}.")
        found = sorted((self.path / VERSIONS).glob(f"*-{version_id}"))
        return found[0] / SIDE if found else None

    # ---- writing ------------------------------------------------------------------------
    @contextmanager
    def _writing(self, *, fresh: bool = False, progress: bool = False,
                 config: IndexConfig | None = None,
                 encoders: Callable[[], dict[str, Encoder]] | None = None) -> Iterator[VersionWriter]:
        """Hold the writer lock, build a new version beside the current one, publish it.

        The current version is re-read (and checked) under the lock, so a write always
        starts from what is on disk now; a damaged library refuses the write.
        """
        with writer_lock(self.path, progress=progress):
            current = find_current(self.path, self._settings)
            self._adopt(current)
            prior = current.version
            cfg = config or self.config
            try:
                writer = VersionWriter(self.path, cfg, base=None if fresh else prior, prior=prior,
                                       encoders=encoders or (lambda: self.encoders),
                                       entries=lambda: self._entries(cfg, encoders))
            except (OSError, RuntimeError, sqlite3.Error) as err:
                raise write_error(self.path, err) from err
            try:
                yield writer
                name = self._finish(writer, current)
            except PaperBridgeError:
                raise
            except (OSError, RuntimeError, MemoryError, ValueError, sqlite3.Error) as err:
                raise write_error(self.path, err) from err
            finally:
                writer.discard()
            if name is not None:
                self._state = load_version(self.path, name, self._settings)  # checked whole
                self.note = None
                cleanup(self.path, name, prior.name if prior else None, cfg.store)

    def _finish(self, writer: VersionWriter, current: Current) -> str | None:
        """Publish a changed version; for an unchanged one, repair a bad CURRENT."""
        if writer.changed:
            return writer.publish()
        if current.version is not None and not current.pointer_ok:
            write_current(self.path, current.version.name)
            self.note = None
        return None

    def _entries(self, cfg: IndexConfig,
                 encoders: Callable[[], dict[str, Encoder]] | None) -> tuple[EncoderEntry, ...]:
        found = (encoders or (lambda: self.encoders))()
        return new_entries(cfg, list(zip(cfg.encoders, found.values(), strict=True)))

    def add(self, paths: Sequence[Path], *, password: str | None = None, progress: bool = False,
            budget: Budget | None = None) -> AddReport:
        """Add files and folders: unchanged files are skipped, changed ones replaced.

        Each file is read in a child process within ``budget`` (memory and time), on a
        thread that reads the next files while the ones read are embedded. A file that
        cannot be read, for whatever reason, is reported in ``failed`` with its name and the
        reason in one line; the rest are still added.
        """
        files, special = find_readable([Path(p) for p in paths])
        report = AddReport(failed=[(printable(p), printable(m)) for p, m in special])
        with self._writing(progress=progress) as writer, BoundedReader(budget) as reader:

            def read(path: Path, mine: AddReport) -> Document | None:
                return read_source(path, writer, reader, password=password,
                                   max_tokens=self.config.max_tokens, report=mine)

            with ReadAhead(files, read, report, reader=reader, progress=progress) as docs:
                writer.add_documents(docs, report, progress=progress)
        return report

    def add_documents(self, docs: Iterable[Document], *, progress: bool = False) -> AddReport:
        """Add already-read documents (same rules as :meth:`add`); each is embedded as it
        comes, so ``docs`` may be a generator that makes them meanwhile."""
        report = AddReport()
        with self._writing(progress=progress) as writer:
            writer.add_documents(docs, report, progress=progress)
        return report

    def remove(self, refs: Sequence[str]) -> list[DocumentInfo]:
        """Remove documents by id, unique id prefix (>= 6) or exact title; all or none.

        The library's kept copies of their uploads (``files/``) go with them.
        """
        targets = {d.doc_id: d for d in (self.resolve(r) for r in refs)}
        with writer_lock(self.path):
            with self._writing() as writer:
                for doc_id in targets:
                    writer.remove(doc_id)
            still = {d.source for d in self.documents()}
            for doc in targets.values():
                if self.is_kept(doc.source) and doc.source not in still:
                    Path(doc.source).unlink(missing_ok=True)
        return list(targets.values())

    # ---- kept uploads -----------------------------------------------------------------
    @property
    def files_folder(self) -> Path:
        """Where the library keeps copies of uploaded files (its documents' sources)."""
        return uploads_folder(self.path)

    def is_kept(self, source: str | Path) -> bool:
        """True when ``source`` is a copy the library keeps in :attr:`files_folder`."""
        return is_kept_upload(self.path, str(source))

    def keep_upload(self, name: str, data: bytes | Path) -> Path:
        """Keep a copy of an uploaded file under a safe form of ``name``, reserved atomically.

        Prefer :meth:`add_uploads`, which keeps and adds under one hold of the writer lock
        (and drops the copies it could not add).

        Raises:
            LibraryError: the copy cannot be written (the message says why and what to do).
        """
        with writer_lock(self.path):
            try:
                return keep_file(self.files_folder, name, data)[0]
            except OSError as err:  # UploadError (a name that cannot be kept) goes up as it is
                raise write_error(self.path, err) from err

    def add_uploads(self, uploads: Sequence[tuple[str, Path]], *, password: str | None = None,
                    progress: bool = False, budget: Budget | None = None) -> AddReport:
        """Keep copies of uploaded files and add them, all under one hold of the writer lock.

        Args:
            uploads: (the name the user gave, the uploaded bytes' path) pairs.

        A copy whose file cannot be read, or whose content the library already holds, is
        not kept; nor is any when the write fails. Failures name the upload.
        """
        report = AddReport()
        created: list[Path] = []
        with writer_lock(self.path, progress=progress):
            try:
                with self._writing(progress=progress) as writer, BoundedReader(budget) as reader:

                    def read(upload: tuple[str, Path], mine: AddReport) -> Document | None:
                        return self._kept_document(upload, writer, reader, password, mine, created)

                    with ReadAhead(uploads, read, report, reader=reader, progress=progress) as docs:
                        writer.add_documents(docs, report, progress=progress)
            except BaseException:
                for path in created:
                    path.unlink(missing_ok=True)
                raise
            self._drop_unused(created)
        return report

    def _kept_document(self, upload: tuple[str, Path], writer: VersionWriter, reader: BoundedReader,
                       password: str | None, report: AddReport, created: list[Path]) -> Document | None:
        """Keep a copy of one upload and read it (None, with the reason in ``report``)."""
        name, data = upload
        try:
            path, new = keep_file(self.files_folder, name, data)
        except UploadError as err:
            report.failed.append((name, one_line(err)))
            return None
        except OSError as err:
            report.failed.append((name, one_line(write_error(self.path, err))))
            return None
        if new:
            created.append(path)
        return read_source(path, writer, reader, password=password,
                           max_tokens=self.config.max_tokens, report=report)

    def _drop_unused(self, created: Sequence[Path]) -> None:
        """Remove the copies this add created that no document of the library comes from."""
        used = {d.source for d in self.documents()}
        for path in created:
            if os.path.realpath(path) not in used:
                path.unlink(missing_ok=True)

    def rebuild(self, config: IndexConfig | None = None, *,
                encoders: Sequence[Encoder] | None = None, progress: bool = False,
                budget: Budget | None = None) -> AddReport:
        """Re-read and re-embed everything, with the library's models or new ones.

        Sources still on disk are read again (with the chunking of ``config``); documents
        whose file is gone or unreadable are re-embedded from the stored text. Readers keep
        the old version until the new one is published.

        Args:
            config: the models and chunking to rebuild with (None: the library's own).
            encoders: ready encoder instances instead of loading ``config.encoders``.
        """
        cfg = config or self.config
        if encoders:
            cfg = dataclasses.replace(cfg, encoders=tuple(e.name for e in encoders))
        same = cfg.encoders == self.config.encoders  # the library's own models: reuse them
        target = _Encoders(cfg, encoders or (self._injected if same else None))
        report = AddReport()
        with self._writing(fresh=True, progress=progress, config=cfg, encoders=target) as writer, \
                BoundedReader(budget) as reader:
            old = writer.prior
            infos = old.store.documents() if old else []

            def read(info: DocumentInfo, mine: AddReport) -> Document | None:
                assert old is not None
                doc = reread(old.store, info, reader, cfg.max_tokens)
                writer.added_at[doc.doc_id] = info.added  # before the writer gets the document
                return doc

            with ReadAhead(infos, read, report, reader=reader, progress=progress, unit="doc") as docs:
                writer.add_documents(docs, report, progress=progress)
        if not same:
            self._injected = list(encoders) if encoders else None
            self._settings = dataclasses.replace(self._settings, encoders=cfg.encoders)
            with self._load_lock:
                self._encoders = target.loaded
        return report


def new_entries(cfg: IndexConfig, encoders: Sequence[tuple[str, Encoder]]) -> tuple[EncoderEntry, ...]:
    """The manifest entries of a library created (or rebuilt) with ``cfg``: which encoder
    embeds which passage kinds, and which one embeds sentences (``EncoderEntry``)."""
    neutral = cfg.neutral([e.name for _, e in encoders])
    return tuple(
        EncoderEntry(spec, e.name, e.dim, runtime_of(e),
                     kinds=None if e.name == neutral or not cfg.answers_only else tuple(ANSWER_KINDS),
                     sentences=cfg.sentence_vectors and e.name == neutral)
        for spec, e in encoders
    )


class _Encoders:
    """The encoders a rebuild embeds with, loaded when first needed."""

    def __init__(self, config: IndexConfig, injected: Sequence[Encoder] | None) -> None:
        self.config, self.injected = config, injected
        self.loaded: dict[str, Encoder] | None = None

    def __call__(self) -> dict[str, Encoder]:
        if self.loaded is None:
            found = list(self.injected) if self.injected else [load_encoder(s) for s in self.config.encoders]
            self.loaded = {e.name: e for e in found}
        return self.loaded
