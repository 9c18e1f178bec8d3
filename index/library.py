"""The library on disk: passages, their embeddings and a lexical index, kept in step.

Layout of a library folder::

    CURRENT                  name of the published version folder (replaced atomically)
    lock                     writers hold a file lock on it; readers never lock
    versions/<gen>-<tag>/    one complete version: manifest.json, library.sqlite,
                             vectors/<encoder #>/<lang>.faiss, lexical/
    versions/.tmp-*          a writer's version in progress (removed by the next writer)

A writer copies the current version into a temporary folder, changes it there, renames it
into ``versions/`` and only then replaces ``CURRENT``. Killing it at any moment leaves
``CURRENT`` naming a complete version, so readers always see the old or the new library,
never a mixture. The previous version is kept one write longer for readers still on it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import threading
import uuid
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import filelock
import numpy as np
from tqdm import tqdm

from paperbridge.index.config import IndexConfig
from paperbridge.index.encoder import Encoder, load_encoder
from paperbridge.index.lexical import LexicalIndex, tokenize
from paperbridge.index.manifest import EncoderEntry, Manifest, now_iso
from paperbridge.index.store import DocumentInfo, Store, StoredPassage
from paperbridge.index.vectors import VectorIndex
from paperbridge.ingest.document import Document, Passage
from paperbridge.ingest.errors import (
    DocumentNotFoundError,
    IngestError,
    LibraryError,
    LibraryFormatError,
    LibraryLockedError,
    LibraryNotFoundError,
    ModelMismatchError,
)

_log = logging.getLogger(__name__)

_DB = "library.sqlite"
_BATCH = 64  # passages per encode call: keeps the progress bar moving and memory flat


@dataclass
class AddReport:
    """What one add/rebuild did."""

    added: list[DocumentInfo] = field(default_factory=list)
    replaced: list[DocumentInfo] = field(default_factory=list)  # the old versions, now gone
    skipped: list[str] = field(default_factory=list)  # unchanged sources
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, one-line message)
    embedded: int = 0  # passages embedded by this call (per encoder)


def file_hash(path: Path) -> str:
    """The document id of a file: the first 16 hex digits of SHA-256 of its bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _gen(name: str) -> int:
    head = name.split("-", 1)[0]
    return int(head) if head.isdigit() else -1


@dataclass
class _Version:
    """One published version, loaded: everything a reader needs, never mutated."""

    name: str
    manifest: Manifest
    store: Store
    vectors: dict[str, VectorIndex]  # by encoder name
    lexical: LexicalIndex
    lang_masks: dict[str, np.ndarray] = field(default_factory=dict)


def _load_version(root: Path, name: str, config: IndexConfig) -> _Version:
    folder = root / "versions" / name
    manifest = Manifest.read(folder / "manifest.json")
    vectors = {
        e.name: VectorIndex.load(
            folder / "vectors" / str(i), e.dim, ann_threshold=config.ann_threshold,
            hnsw_m=config.hnsw_m, ef_search=config.hnsw_ef_search,
        )
        for i, e in enumerate(manifest.encoders)
    }
    return _Version(name, manifest, Store.open_read(folder / _DB), vectors,
                    LexicalIndex.load(folder / "lexical"))


def _mismatch(path: Path, built: Sequence[str], asked: Sequence[str]) -> ModelMismatchError:
    flags = " ".join(f"--model {s}" for s in asked)
    return ModelMismatchError(
        f"The library at {path} was built with {', '.join(built)}; you asked for "
        f"{', '.join(asked)}. Run `paperbridge rebuild {flags}` to re-embed it with the new "
        f"models, or use the library's models (drop --model / unset PAPERBRIDGE_MODELS)."
    )


class Library:
    """A library folder: add/remove/rebuild documents (one writer) and search them (any reader)."""

    def __init__(self, path: Path, config: IndexConfig, encoders: Sequence[Encoder] | None,
                 *, stale: bool = False) -> None:
        self.path = path
        self.config = config
        self._injected = list(encoders) if encoders is not None else None
        self._encoders: dict[str, Encoder] | None = None
        self._state: _Version | None = None
        self._stale = stale  # opened for a rebuild with other models: searches refused
        self._load_lock = threading.Lock()

    # ---- opening ------------------------------------------------------------------------
    @classmethod
    def open(cls, path: Path, config: IndexConfig | None = None, *, create: bool = False,
             encoders: Sequence[Encoder] | None = None) -> Library:
        """Open the library at ``path``.

        Args:
            path: the library folder.
            config: settings; None uses the library's own models (or IndexConfig.from_env()
                for a new library). Naming other models than the manifest is refused.
            create: treat a missing library as an empty one (it is written on the first add).
            encoders: ready encoder instances (tests inject HashEncoder); their names are
                checked against the manifest.

        Raises:
            LibraryNotFoundError: no library there and ``create`` is False.
            ModelMismatchError: the library was built with other models.
            LibraryFormatError: the manifest is unreadable or of another format version.
        """
        lib = cls._open(path, config, encoders, create=create)
        manifest = lib.manifest
        if manifest is not None:
            built = [e.name for e in manifest.encoders] if encoders else list(manifest.specs)
            asked = [e.name for e in encoders] if encoders else (
                list(config.encoders) if config else built)
            if asked != built:
                raise _mismatch(path, manifest.specs, asked)
        return lib

    @classmethod
    def open_for_rebuild(cls, path: Path, config: IndexConfig | None = None, *,
                         encoders: Sequence[Encoder] | None = None) -> Library:
        """Open a library to :meth:`rebuild` it, possibly with other models or chunking.

        Until the rebuild is done, searches of a library whose models changed are refused.
        """
        lib = cls._open(path, config, encoders, create=False, for_rebuild=True)
        manifest = lib.manifest
        assert manifest is not None
        names = [e.name for e in encoders] if encoders else list(lib.config.encoders)
        built = [e.name for e in manifest.encoders] if encoders else list(manifest.specs)
        lib._stale = names != built
        return lib

    @classmethod
    def _open(cls, path: Path, config: IndexConfig | None, encoders: Sequence[Encoder] | None,
              *, create: bool, for_rebuild: bool = False) -> Library:
        path = Path(path).expanduser()
        if not (path / "CURRENT").is_file():
            if not create:
                raise LibraryNotFoundError(
                    f"No library at {path}. Add documents first: `paperbridge add PATH...`."
                )
            if config is None:
                config = IndexConfig.from_env()
            if encoders:
                config = dataclasses.replace(config, encoders=tuple(e.name for e in encoders))
            return cls(path, config, encoders)
        lib = cls(path, config or IndexConfig(), encoders)
        lib._state = lib._read_current()
        manifest = lib._state.manifest
        if config is None:
            lib.config = dataclasses.replace(lib.config, encoders=manifest.specs,
                                             max_tokens=manifest.max_tokens)
        if lib.config.max_tokens != manifest.max_tokens and not for_rebuild:
            # Passages of one library are cut alike; other chunking needs a rebuild.
            _log.info("using the library's max_tokens=%d, not %d", manifest.max_tokens,
                      lib.config.max_tokens)
            lib.config = dataclasses.replace(lib.config, max_tokens=manifest.max_tokens)
        return lib

    def _read_current(self) -> _Version:
        """Load the version CURRENT names (retrying if a writer swaps it meanwhile)."""
        for attempt in range(5):
            try:
                name = (self.path / "CURRENT").read_text(encoding="utf-8").strip()
                return _load_version(self.path, name, self.config)
            except FileNotFoundError as err:
                if attempt == 4:
                    raise LibraryFormatError(
                        f"The library at {self.path} names a missing version ({err.filename}). "
                        "Run `paperbridge rebuild` or add the documents to a new library."
                    ) from err
        raise AssertionError("unreachable")

    @property
    def manifest(self) -> Manifest | None:
        """The manifest of the loaded version (None for a library not yet written)."""
        return self._state.manifest if self._state else None

    def refresh(self) -> bool:
        """Pick up a version another process published. Returns True if it changed."""
        if not (self.path / "CURRENT").is_file():
            return False
        name = (self.path / "CURRENT").read_text(encoding="utf-8").strip()
        if self._state is not None and name == self._state.name:
            return False
        state = self._read_current()
        if state.manifest.specs != self.config.encoders and self._injected is None:
            self.config = dataclasses.replace(self.config, encoders=state.manifest.specs)
            self._encoders = None
            self._stale = False
        # The old version's store is not closed: other threads may still be reading it; it
        # closes when the last reference goes.
        self._state = state
        return True

    # ---- encoders -----------------------------------------------------------------------
    @property
    def encoders(self) -> dict[str, Encoder]:
        """The encoders by name, loaded on first use."""
        with self._load_lock:
            if self._encoders is None:
                found = self._injected or [load_encoder(s) for s in self.config.encoders]
                manifest = self.manifest
                if manifest is not None and not self._stale:
                    built = [e.name for e in manifest.encoders]
                    if [e.name for e in found] != built:
                        raise _mismatch(self.path, built, [e.name for e in found])
                self._encoders = {e.name: e for e in found}
        return self._encoders

    def _encoder_entries(self) -> tuple[EncoderEntry, ...]:
        return tuple(EncoderEntry(spec, e.name, e.dim) for spec, e in
                     zip(self.config.encoders, self.encoders.values(), strict=True))

    # ---- reading ------------------------------------------------------------------------
    def _current(self) -> _Version | None:
        if self._stale:
            raise self._stale_error()
        return self._state

    def _stale_error(self) -> ModelMismatchError:
        return _mismatch(self.path, self.manifest.specs if self.manifest else (),
                         self.config.encoders)

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
        state = self._current()
        if state is None:
            return []
        if encoder not in state.vectors:
            raise LibraryError(f"The library at {self.path} has no vectors from encoder "
                               f"{encoder!r}; it has {', '.join(state.vectors)}.")
        vi = state.vectors[encoder]
        candidates = None
        if doc_ids is not None:
            langs = [lang] if lang else list(vi.by_lang)
            candidates = {lg: np.asarray(state.store.passage_ids(lang=lg, doc_ids=list(doc_ids)),
                                         dtype=np.int64) for lg in langs}
        return vi.search(query, k, lang=lang, candidates=candidates)

    def lexical_search(self, query: str, k: int, *, lang: str | None = None,
                       doc_ids: Collection[str] | None = None) -> list[tuple[int, float]]:
        """BM25 hits for the query text, best first, filtered like :meth:`dense_search`."""
        state = self._current()
        if state is None:
            return []
        mask = None
        if doc_ids is not None:
            allowed = state.store.passage_ids(lang=lang, doc_ids=list(doc_ids))
            mask = np.isin(state.lexical.ids, np.asarray(allowed, dtype=np.int64))
        elif lang is not None:
            if lang not in state.lang_masks:
                allowed = state.store.passage_ids(lang=lang)
                state.lang_masks[lang] = np.isin(state.lexical.ids, np.asarray(allowed, np.int64))
            mask = state.lang_masks[lang]
        return state.lexical.search(query, k, mask)

    # ---- writing ------------------------------------------------------------------------
    @contextmanager
    def _writing(self, *, fresh: bool = False) -> Iterator[_Writer]:
        """Hold the writer lock, build a new version beside the current one, publish it."""
        if self._stale and not fresh:
            raise self._stale_error()
        self.path.mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(str(self.path / "lock"))
        try:
            lock.acquire(timeout=0)
        except filelock.Timeout as err:
            raise LibraryLockedError(
                f"Another PaperBridge process is writing to the library at {self.path}. Wait for "
                "it to finish (reading and searching still work), then try again."
            ) from err
        try:
            if not self._stale:
                self.refresh()
            writer = _Writer(self, fresh=fresh)
            try:
                yield writer
                if not writer.changed:
                    return
                name = writer.publish()
            finally:
                writer.discard()
            self._stale = False
            self._state = _load_version(self.path, name, self.config)
            self._cleanup(name)
        finally:
            lock.release()

    def _cleanup(self, current: str) -> None:
        """Remove unpublished and old versions, keeping the one before ``current`` for readers."""
        versions = self.path / "versions"
        names = sorted((p.name for p in versions.iterdir()), key=_gen)
        older = [n for n in names if not n.startswith(".") and _gen(n) < _gen(current)]
        keep = {current, *older[-1:]}
        for name in names:
            if name not in keep:
                shutil.rmtree(versions / name, ignore_errors=True)
        for leftover in self.path.glob(".CURRENT.*"):  # from writers killed before the swap
            leftover.unlink(missing_ok=True)

    def add(self, paths: Sequence[Path], *, password: str | None = None,
            progress: bool = False) -> AddReport:
        """Add files and folders: unchanged files are skipped, changed ones replaced.

        Files that cannot be read are reported in ``failed``; the rest are still added.
        """
        from paperbridge.ingest import IngestConfig, find_files, read_document

        files = find_files([Path(p) for p in paths])
        report = AddReport()
        with self._writing() as writer:
            docs: list[Document] = []
            for path in tqdm(files, desc="reading", unit="file", disable=not progress):
                source = str(path.resolve())
                try:
                    if writer.is_unchanged(file_hash(path), source):
                        report.skipped.append(source)
                        continue
                    docs.append(read_document(path, password=password,
                                              config=IngestConfig(max_tokens=self.config.max_tokens)))
                except (IngestError, OSError) as err:
                    report.failed.append((str(path), str(err).splitlines()[0] if str(err) else
                                          type(err).__name__))
            writer.add_documents(docs, report, progress=progress)
        return report

    def add_documents(self, docs: Sequence[Document], *, progress: bool = False) -> AddReport:
        """Add already-read documents (same rules as :meth:`add`)."""
        report = AddReport()
        with self._writing() as writer:
            writer.add_documents(docs, report, progress=progress)
        return report

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

    def remove(self, refs: Sequence[str]) -> list[DocumentInfo]:
        """Remove documents by id, unique id prefix (>= 6) or exact title; all or none."""
        targets = {d.doc_id: d for d in (self.resolve(r) for r in refs)}
        with self._writing() as writer:
            for doc_id in targets:
                writer.remove(doc_id)
        return list(targets.values())

    def rebuild(self, *, progress: bool = False) -> AddReport:
        """Re-embed everything with the configured models (re-reading sources still present)."""
        from paperbridge.ingest import IngestConfig, read_document

        report = AddReport()
        with self._writing(fresh=True) as writer:
            old = self._state  # the version being replaced (the writer started from scratch)
            docs: list[Document] = []
            for info in tqdm(old.store.documents() if old else [], desc="reading",
                             unit="doc", disable=not progress):
                assert old is not None
                docs.append(_stored_document(old, info))
                source = Path(info.source)
                if source.is_file():
                    try:
                        docs[-1] = read_document(source, config=IngestConfig(
                            max_tokens=self.config.max_tokens))
                    except IngestError as err:
                        _log.warning("rebuild: %s unreadable (%s); using stored text", source, err)
                writer.added_at[docs[-1].doc_id] = info.added
            writer.add_documents(docs, report, progress=progress)
        return report


def _stored_document(state: _Version, info: DocumentInfo) -> Document:
    """Rebuild a Document from what the library stored (its source is gone or unreadable)."""
    passages = tuple(
        Passage(p.doc_id, p.paragraph, p.part, p.page, p.lang, p.start, p.end, p.text,
                p.passage_kind, p.section)
        for p in state.store.doc_passages(info.doc_id)
    )
    return Document(info.doc_id, info.title, info.source, info.kind, info.lang,
                    state.store.page_texts(info.doc_id), passages, info.warnings,
                    info.authors, info.year, info.report)


class _Writer:
    """A version in progress in ``versions/.tmp-*``: a private SQLite copy and vector copies."""

    def __init__(self, lib: Library, *, fresh: bool) -> None:
        self.lib = lib
        self.base = None if fresh else lib._state
        versions = lib.path / "versions"
        versions.mkdir(exist_ok=True)
        for stale in versions.glob(".tmp-*"):  # left by a killed writer; we hold the lock
            shutil.rmtree(stale, ignore_errors=True)
        self.folder = versions / f".tmp-{uuid.uuid4().hex[:8]}"
        self.folder.mkdir()
        self.added_at: dict[str, str] = {}
        self.changed = fresh  # nothing to publish unless a document was added or removed
        cfg = lib.config
        if self.base is not None:
            shutil.copyfile(lib.path / "versions" / self.base.name / _DB, self.folder / _DB)
            self.store = Store.open_write(self.folder / _DB)
            src = lib.path / "versions" / self.base.name / "vectors"
            self.vectors = [VectorIndex.load(src / str(i), e.dim, ann_threshold=cfg.ann_threshold,
                                             hnsw_m=cfg.hnsw_m, ef_search=cfg.hnsw_ef_search)
                            for i, e in enumerate(self.base.manifest.encoders)]
            self.next_id = self.base.manifest.next_id
        else:
            self.store = Store.create(self.folder / _DB)
            self.vectors = [VectorIndex(e.dim, ann_threshold=cfg.ann_threshold, hnsw_m=cfg.hnsw_m,
                                        ef_search=cfg.hnsw_ef_search)
                            for e in lib.encoders.values()]
            prior = lib._state.manifest if lib._state else None
            self.next_id = prior.next_id if prior else 1

    def is_unchanged(self, doc_id: str, source: str) -> bool:
        """True if this exact content is already in the library."""
        return self.store.document(doc_id) is not None

    def remove(self, doc_id: str) -> DocumentInfo | None:
        """Delete a document's rows and vectors."""
        info = self.store.document(doc_id)
        self.changed = True
        by_lang: dict[str, list[int]] = {}
        for pid, lang in self.store.delete_document(doc_id):
            by_lang.setdefault(lang, []).append(pid)
        for vi in self.vectors:
            vi.remove(by_lang)
        return info

    def add_documents(self, docs: Sequence[Document], report: AddReport, *,
                      progress: bool) -> None:
        """Store new documents (replacing older contents of the same source) and embed them."""
        new: list[tuple[int, Passage]] = []
        for doc in docs:
            if self.store.document(doc.doc_id) is not None:
                report.skipped.append(doc.source)
                continue
            for old in self.store.documents_by_source(doc.source):
                self.remove(old.doc_id)
                report.replaced.append(old)
            self.changed = True
            ids = list(range(self.next_id, self.next_id + len(doc.passages)))
            self.next_id += len(doc.passages)
            tokens = [tokenize(p.text) for p in doc.passages]
            self.store.insert_document(doc, ids, tokens, self.added_at.get(doc.doc_id, now_iso()))
            new.extend(zip(ids, doc.passages, strict=True))
            info = self.store.document(doc.doc_id)
            assert info is not None
            report.added.append(info)
        self._embed(new, progress)
        report.embedded += len(new)

    def _embed(self, new: Sequence[tuple[int, Passage]], progress: bool) -> None:
        """Embed the new passages with every encoder, in batches, into per-language indexes."""
        if not new:
            return
        ids = np.array([pid for pid, _ in new], dtype=np.int64)
        langs = np.array([p.lang for _, p in new])
        texts = [p.text for _, p in new]
        for encoder, vi in zip(self.lib.encoders.values(), self.vectors, strict=True):
            parts = []
            with tqdm(total=len(texts), desc=f"embedding ({encoder.name})", unit="passage",
                      disable=not progress) as bar:
                for start in range(0, len(texts), _BATCH):
                    parts.append(encoder.encode_passages(texts[start:start + _BATCH]))
                    bar.update(len(parts[-1]))
            vecs = np.concatenate(parts).astype(np.float32)
            for lang in sorted(set(langs.tolist())):
                vi.add(lang, ids[langs == lang], vecs[langs == lang])

    def publish(self) -> str:
        """Write everything, fsync, rename into versions/ and swap CURRENT. Returns the name."""
        pairs = list(self.store.tokens())
        lexical = LexicalIndex.build([i for i, _ in pairs], [t for _, t in pairs])
        lexical.save(self.folder / "lexical")
        for i, vi in enumerate(self.vectors):
            vi.save(self.folder / "vectors" / str(i))
        self.store.commit()
        self.store.close()
        prior = self.lib._state.manifest if self.lib._state else None
        done = Store.open_read(self.folder / _DB)
        documents, languages = len(done.documents()), done.languages()
        done.close()
        base = self.base.manifest if self.base is not None else None
        manifest = Manifest(
            encoders=base.encoders if base else self.lib._encoder_entries(),
            max_tokens=base.max_tokens if base else self.lib.config.max_tokens,
            generation=(prior.generation if prior else 0) + 1, next_id=self.next_id,
            documents=documents, passages=len(pairs), languages=languages,
            created=prior.created if prior else now_iso(),
        )
        manifest.write(self.folder / "manifest.json")
        _fsync_dir(self.folder)
        name = f"{manifest.generation:06d}-{uuid.uuid4().hex[:6]}"
        os.rename(self.folder, self.lib.path / "versions" / name)
        _fsync_dir(self.lib.path / "versions")
        tmp = self.lib.path / f".CURRENT.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(name)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.lib.path / "CURRENT")
        _fsync_dir(self.lib.path)
        return name

    def discard(self) -> None:
        """Remove the temporary folder if it was not published."""
        shutil.rmtree(self.folder, ignore_errors=True)
