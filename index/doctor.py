"""Checking a library folder and repairing what can be repaired (``paperbridge doctor``).

:func:`check` reads everything and changes nothing: ``CURRENT``, every version (its manifest,
each file's size and checksum, SQLite's own consistency check), leftovers of killed writers,
and kept uploads no version refers to. It returns a :class:`Health` that says what is wrong
and what to run.

:func:`repair` takes the writer lock and fixes, without losing a document:

* a missing or unreadable ``CURRENT``: pointed at the newest complete version;
* a current version whose SQLite database is whole but whose vectors or lexical index are
  damaged: every document is re-embedded from the stored text into a new version (the same
  models; this costs what an add of all of it costs);
* leftovers of killed writers and uploads no version refers to: removed.

A current version whose database itself is damaged can only go back to an older complete
version, which loses the changes made since; that needs ``rollback=True``
(``doctor --repair --rollback``) and the report says what is lost.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from paperbridge.index.config import IndexConfig
from paperbridge.index.encoder import Encoder, load_encoder
from paperbridge.index.lexical import LexicalIndex
from paperbridge.index.lock import writer_lock
from paperbridge.index.manifest import Manifest, ManifestError, file_problem
from paperbridge.index.report import AddReport
from paperbridge.index.sources import stored_document
from paperbridge.index.store import Store
from paperbridge.index.stores import dispatch
from paperbridge.index.uploads import FOLDER as FILES
from paperbridge.index.versions import (
    CURRENT,
    DB,
    MANIFEST,
    VERSIONS,
    Version,
    generation_of,
    read_pointer,
    version_names,
    version_problems,
)
from paperbridge.index.writer import VersionWriter, cleanup, write_current
from paperbridge.ingest.errors import LibraryError, LibraryFormatError

__all__ = ["Health", "RepairReport", "VersionHealth", "check", "repair"]


@dataclass(frozen=True)
class VersionHealth:
    """One version folder: what its manifest says and what is wrong with it."""

    name: str
    generation: int
    documents: int | None  # None: the manifest is unreadable
    problems: tuple[str, ...]
    database_ok: bool  # its SQLite file is whole (documents can be recovered from it)

    @property
    def ok(self) -> bool:
        """True when the version is complete and every file matches its manifest."""
        return not self.problems

    @property
    def repairable(self) -> bool:
        """Its documents can be re-embedded: the manifest (models) and database are whole."""
        return self.documents is not None and self.database_ok


@dataclass(frozen=True)
class Health:
    """The state of a library folder, as :func:`check` found it."""

    path: Path
    exists: bool
    current: str | None  # the version readers open on (CURRENT's, or the recovered one)
    pointer_problem: str | None  # what is wrong with CURRENT, if anything
    versions: tuple[VersionHealth, ...] = ()
    leftovers: tuple[str, ...] = ()  # of writers that were killed
    orphans: tuple[str, ...] = ()  # kept uploads no version refers to

    def version(self, name: str | None) -> VersionHealth | None:
        """The health of version ``name``."""
        return next((v for v in self.versions if v.name == name), None)

    @property
    def ok(self) -> bool:
        """True when the library can be read and written as it is."""
        current = self.version(self.current)
        return self.pointer_problem is None and (current is None or current.ok)

    def problems(self) -> list[str]:
        """What is wrong, one line each (empty for a healthy library)."""
        found = [self.pointer_problem] if self.pointer_problem else []
        current = self.version(self.current)
        if current is not None and not current.ok:
            found += [f"current version {current.name}: {p}" for p in current.problems]
        found += [f"older version {v.name}: {p}" for v in self.versions
                  if v.name != self.current and not v.ok for p in v.problems]
        found += [f"leftover of a killed writer: {name}" for name in self.leftovers]
        found += [f"kept upload no document refers to: {name}" for name in self.orphans]
        return found

    def advice(self) -> str:
        """What to run next."""
        current = self.version(self.current)
        if not self.exists:
            return "There is no library here: `paperbridge add PATH...` creates one."
        if current is not None and not current.ok and not current.repairable:
            older = self.newest_complete(before=current.generation)
            if older is None:
                return ("The current version's database or manifest is damaged and no older version "
                        "is left: restore the folder from a backup, or add the documents again.")
            return (f"The current version's database or manifest is damaged: `paperbridge doctor --repair "
                    f"--rollback` goes back to version {older.name} ({older.documents} documents; "
                    f"the current one had {current.documents}), losing the changes since.")
        if self.problems():
            return "Run `paperbridge doctor --repair` to repair it (no document is lost)."
        return "Nothing to do."

    def newest_complete(self, *, before: int | None = None) -> VersionHealth | None:
        """The newest complete version (older than generation ``before``, if given)."""
        good = [v for v in self.versions if v.ok and (before is None or v.generation < before)]
        return good[-1] if good else None


@dataclass
class RepairReport:
    """What :func:`repair` did, and the library's health afterwards."""

    actions: list[str] = field(default_factory=list)
    health: Health | None = None


def check(path: Path, *, full: bool = False) -> Health:
    """Check the library at ``path`` (reads only).

    Args:
        full: also compare a full SHA-256 of every file and run SQLite's full integrity
            check (reads every byte; the default samples large files).
    """
    path = Path(path).expanduser()
    if not path.is_dir():
        return Health(path, False, None, None)
    versions = tuple(_version_health(path, name, full) for name in version_names(path))
    pointer = read_pointer(path)
    current = pointer.name
    if current is None and versions:
        current = versions[-1].name  # what a reader recovers to (if it is whole)
    leftovers = tuple(sorted([p.name for p in (path / VERSIONS).glob(".tmp-*")]
                             + [p.name for p in path.glob(".CURRENT.*")]))
    leftovers += tuple(dispatch.unpublished_rows(path / VERSIONS / current if current else None))
    missing_pointer = pointer.problem if (versions or (path / CURRENT).exists()) else None
    return Health(path, True, current, missing_pointer, versions, leftovers,
                  tuple(_orphans(path, versions)))


def _version_health(root: Path, name: str, full: bool) -> VersionHealth:
    folder = root / VERSIONS / name
    try:
        manifest = Manifest.read(folder / MANIFEST)
    except (ManifestError, LibraryFormatError) as err:
        return VersionHealth(name, generation_of(name), None, (str(err),), _database_ok(folder, None, full))
    problems = version_problems(folder, manifest, full=full)
    database_ok = _database_ok(folder, manifest, full)
    if not database_ok and not any(DB in p for p in problems):
        problems.append(f"{DB} fails SQLite's consistency check")
    return VersionHealth(name, generation_of(name), manifest.documents, tuple(problems), database_ok)


def _database_ok(folder: Path, manifest: Manifest | None, full: bool) -> bool:
    """The database matches its checksum (when recorded) and SQLite finds it consistent."""
    db = folder / DB
    expected = manifest.files.get(DB) if manifest else None
    if expected is not None and file_problem(db, expected) is not None:
        return False
    if not db.is_file():
        return False
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            pragma = "integrity_check" if full else "quick_check"
            return bool(conn.execute(f"PRAGMA {pragma}").fetchone()[0] == "ok")
        finally:
            conn.close()
    except sqlite3.DatabaseError:
        return False


def _orphans(root: Path, versions: Sequence[VersionHealth]) -> list[str]:
    """Kept uploads (``files/``) that no readable version's documents come from."""
    folder = root / FILES
    if not folder.is_dir():
        return []
    sources: set[str] = set()
    for health in versions:
        if not health.database_ok:
            return []  # a version we cannot read may refer to any of them
        store = Store.open_read(root / VERSIONS / health.name / DB)
        try:
            sources |= {d.source for d in store.documents()}
        finally:
            store.close()
    kept = {str(p.resolve()): p.name for p in folder.iterdir() if p.is_file()}
    return sorted(name for full, name in kept.items() if full not in sources)


def repair(path: Path, *, rollback: bool = False, encoders: Sequence[Encoder] | None = None,
           config: IndexConfig | None = None, progress: bool = False) -> RepairReport:
    """Repair the library at ``path`` as far as that loses no document (see the module doc).

    Args:
        rollback: also go back to the newest complete older version when the current
            version's database is damaged (losing the changes made since).
        encoders: ready encoders for re-embedding (default: the manifest's models).
        config: index settings for a re-embedded version.

    Raises:
        LibraryLockedError: another process is writing to the library.
        LibraryError: there is no library at ``path``.
    """
    path = Path(path).expanduser()
    report = RepairReport()
    with writer_lock(path, progress=progress):
        health = check(path)
        if not health.exists:
            raise LibraryError(f"No library at {path}: nothing to repair.")
        _remove_leftovers(path, health, report)
        current = health.version(health.current)
        if current is not None and not current.ok:
            if current.repairable:
                _reembed(path, current, encoders, config or IndexConfig(), progress, report)
            elif rollback:
                _rollback(path, health, current, report)
        elif health.pointer_problem and health.current is not None:
            write_current(path, health.current)
            report.actions.append(f"CURRENT pointed at {health.current} ({health.pointer_problem})")
        _remove_orphans(path, check(path), report)
        report.health = check(path)
    return report


def _remove_leftovers(root: Path, health: Health, report: RepairReport) -> None:
    if any(name.startswith("Milvus ") for name in health.leftovers):  # rows of a killed write
        report.actions += dispatch.undo_unpublished(root / VERSIONS / str(health.current))
    for name in health.leftovers:
        if name.startswith("Milvus "):
            continue
        target = root / VERSIONS / name if name.startswith(".tmp-") else root / name
        if target.is_dir():
            dispatch.forget_unpublished(root, target, [root / VERSIONS / n for n in version_names(root)])
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
        report.actions.append(f"removed {name}, left by a killed writer")


def _remove_orphans(root: Path, health: Health, report: RepairReport) -> None:
    for name in health.orphans:
        (root / FILES / name).unlink(missing_ok=True)
        report.actions.append(f"removed files/{name}: no document refers to it")


def _reembed(root: Path, damaged: VersionHealth, encoders: Sequence[Encoder] | None,
             config: IndexConfig, progress: bool, report: RepairReport) -> None:
    """A new version from the damaged one's database: same documents, fresh vectors and BM25."""
    folder = root / VERSIONS / damaged.name
    manifest = Manifest.read(folder / MANIFEST)
    store = Store.open_read(folder / DB)
    shell = Version(damaged.name, manifest, store, {}, LexicalIndex(None, np.zeros(0, dtype=np.int64)))
    found = list(encoders) if encoders else [load_encoder(e.spec) for e in manifest.encoders]
    if [e.name for e in found] != [e.name for e in manifest.encoders]:
        raise LibraryError(f"Repairing {root} needs the models it was built with "
                           f"({', '.join(manifest.specs)}).")
    by_name = {e.name: e for e in found}
    cfg = IndexConfig(encoders=manifest.specs, max_tokens=manifest.max_tokens,
                      ann_threshold=config.ann_threshold, hnsw_m=config.hnsw_m,
                      hnsw_ef_search=config.hnsw_ef_search)
    writer = VersionWriter(root, cfg, base=None, prior=shell, encoders=lambda: by_name,
                           entries=lambda: manifest.encoders)
    try:
        infos = store.documents()
        docs = [stored_document(store, info) for info in infos]
        writer.added_at.update({info.doc_id: info.added for info in infos})
        added = AddReport()
        writer.add_documents(docs, added, progress=progress)
        name = writer.publish()
    finally:
        writer.discard()
        store.close()
    shutil.rmtree(folder, ignore_errors=True)
    cleanup(root, name, None)
    report.actions.append(f"re-embedded {len(added.added)} documents ({added.embedded} passages) "
                          f"from the database of damaged version {damaged.name} into {name}; "
                          "the damaged version was removed")


def _rollback(root: Path, health: Health, damaged: VersionHealth, report: RepairReport) -> None:
    older = health.newest_complete(before=damaged.generation)
    if older is None:
        report.actions.append("no complete older version to go back to: nothing changed")
        return
    write_current(root, older.name)
    report.actions.append(f"CURRENT went back to {older.name} ({older.documents} documents); the "
                          f"damaged version {damaged.name} ({damaged.documents} documents) was "
                          "left in place for a backup tool or an expert")
