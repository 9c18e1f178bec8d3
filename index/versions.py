"""Reading library versions: which one is current, whether it is whole, and loading it.

A library folder holds complete versions under ``versions/<generation>-<id>/`` and a file
``CURRENT`` naming the live one (the layout is described in :mod:`paperbridge.index.library`).
This module never writes. It answers three questions, each without ever mistaking damage
for an empty library:

* which version is current: the one ``CURRENT`` names; when ``CURRENT`` is missing, empty
  or junk, the newest complete version, with a note saying so (writers then rewrite it);
* is a version whole: every file its manifest lists is there with the recorded size and
  checksum (:func:`version_problems`);
* what a reader needs of it, loaded (:class:`Version`), or a
  :class:`~paperbridge.ingest.errors.LibraryDamagedError` that says what to run.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from paperbridge.index.config import IndexConfig
from paperbridge.index.lexical import LexicalIndex
from paperbridge.index.manifest import Manifest, ManifestError, file_problem
from paperbridge.index.sentences import StoredSentences
from paperbridge.index.store import Store
from paperbridge.index.stores import dispatch
from paperbridge.index.stores.base import SearchIndexes
from paperbridge.index.stores.local import LocalIndexes
from paperbridge.index.vectors import VectorIndex
from paperbridge.ingest.errors import LibraryDamagedError, LibraryFormatError

CURRENT = "CURRENT"
VERSIONS = "versions"
DB = "library.sqlite"
MANIFEST = "manifest.json"
SIDE = "side"  # results computed on a version (calibration): not in its file sums
_NAME = re.compile(r"^(\d{6,})-([0-9a-f]{4,32})$")


def generation_of(name: str) -> int:
    """The generation in a version folder's name (-1 for anything else)."""
    match = _NAME.match(name)
    return int(match.group(1)) if match else -1


def version_names(root: Path) -> list[str]:
    """Names of the version folders (complete or not, never ``.tmp-*``), oldest first."""
    folder = root / VERSIONS
    try:
        names = [p.name for p in folder.iterdir() if _NAME.match(p.name) and p.is_dir()]
    except FileNotFoundError:
        return []
    return sorted(names, key=lambda n: (generation_of(n), n))


@dataclass(frozen=True)
class Pointer:
    """What ``CURRENT`` says: a version name, or why it names none."""

    name: str | None
    problem: str | None = None


def read_pointer(root: Path) -> Pointer:
    """Read ``CURRENT`` without trusting it: missing, empty, binary junk and names of
    folders that do not exist are problems, never an exception."""
    path = root / CURRENT
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return Pointer(None, f"{path} is missing")
    except OSError as err:
        return Pointer(None, f"{path} cannot be read ({err.strerror})")
    try:
        name = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        return Pointer(None, f"{path} holds binary junk, not a version name")
    if not _NAME.match(name):
        return Pointer(None, f"{path} is empty" if not name else f"{path} holds {name[:40]!r}, "
                       "not a version name")
    if not (root / VERSIONS / name).is_dir():
        return Pointer(None, f"{path} names version {name}, which is missing")
    return Pointer(name)


def version_problems(folder: Path, manifest: Manifest, *, full: bool = False,
                     config: IndexConfig | None = None) -> list[str]:
    """Everything wrong with a version's files (empty when it is whole), and with its rows
    in Milvus when it keeps its indexes there (reached with ``config.store``'s address or
    credentials when given).

    Format 2 manifests list every file with its size and checksums; for format 1 the files
    its counts imply are checked for presence.
    """
    if manifest.files:
        found = [file_problem(folder / rel, expected, full=full)
                 for rel, expected in sorted(manifest.files.items())]
        files = [p for p in found if p]
        return files or dispatch.problems(folder, manifest, config)
    expected = [folder / DB, folder / "lexical" / "ids.npy"]
    if manifest.passages:
        expected += [folder / "vectors" / str(i) / f"{lang}.faiss"
                     for i in range(len(manifest.encoders)) for lang in manifest.languages]
    return [f"{p.relative_to(folder)} is missing" for p in expected if not p.is_file()]


@dataclass
class Version:
    """One published version, loaded: everything a reader needs, never mutated."""

    name: str
    manifest: Manifest
    store: Store
    vectors: dict[str, VectorIndex]  # by encoder name (FAISS store; empty on Milvus)
    lexical: LexicalIndex
    lang_masks: dict[str, np.ndarray] = field(default_factory=dict)
    indexes: SearchIndexes | None = None  # what readers search; None: the FAISS files above

    def __post_init__(self) -> None:
        if self.indexes is None:
            self.indexes = LocalIndexes(list(self.vectors.values()), self.lexical, self.store,
                                        self.lang_masks, [e.kinds for e in self.manifest.encoders])
        stored = next((e for e in self.manifest.encoders if e.sentences), None)
        if stored is not None:  # passages read from this version carry where their sentences are
            self.store.sentence_source = StoredSentences(self.store, stored.name, stored.dim)

    def search(self) -> SearchIndexes:
        """The indexes readers search (FAISS + bm25s here, or Milvus)."""
        assert self.indexes is not None
        return self.indexes

    @property
    def version_id(self) -> str:
        """The version's id (side files are keyed by it; format 1: the folder's tag)."""
        return self.manifest.version_id or self.name.split("-", 1)[1]


def damaged(root: Path, name: str, problems: list[str]) -> LibraryDamagedError:
    """The error for a damaged version, with what to run."""
    listed = "; ".join(problems[:4]) + ("; ..." if len(problems) > 4 else "")
    return LibraryDamagedError(
        f"The library at {root} is damaged: version {name} has {listed}. Nothing was read from "
        f"it. Run `paperbridge --library {root} doctor` to see what can be repaired "
        "(`doctor --repair`)."
    )


def load_version(root: Path, name: str, config: IndexConfig) -> Version:
    """Check and load one version.

    Raises:
        LibraryFormatError: its manifest is of another format version.
        LibraryDamagedError: its manifest or one of its files is missing, truncated, altered
            or unreadable.
    """
    folder = root / VERSIONS / name
    try:
        manifest = Manifest.read(folder / MANIFEST)
    except ManifestError as err:
        raise damaged(root, name, [str(err)]) from err
    problems = version_problems(folder, manifest, config=config)
    if problems:
        raise damaged(root, name, problems)
    if dispatch.uses_milvus(folder):
        return _load_remote(root, name, manifest, config)
    try:
        vectors = {
            e.name: VectorIndex.load(folder / "vectors" / str(i), e.dim,
                                     ann_threshold=config.ann_threshold, hnsw_m=config.hnsw_m,
                                     ef_search=config.hnsw_ef_search)
            for i, e in enumerate(manifest.encoders)
        }
        store = Store.open_read(folder / DB)
        store.count()  # SQLite reports a damaged file on the first query, not on open
        lexical = LexicalIndex.load(folder / "lexical")
    except (RuntimeError, OSError, ValueError, sqlite3.DatabaseError, EOFError) as err:
        raise damaged(root, name, [f"a file that cannot be loaded ({type(err).__name__}: "
                                   f"{str(err).splitlines()[0][:160] if str(err) else ''})"]) from err
    return Version(name, manifest, store, vectors, lexical)


def _load_remote(root: Path, name: str, manifest: Manifest, config: IndexConfig) -> Version:
    """A version whose vectors and BM25 rows are in Milvus (SQLite stays a local file)."""
    folder = root / VERSIONS / name
    try:
        store = Store.open_read(folder / DB)
        store.count()
        indexes = dispatch.open_remote(root, folder, manifest, config)
    except LibraryDamagedError as err:
        raise damaged(root, name, [str(err)]) from err
    except (OSError, sqlite3.DatabaseError) as err:
        raise damaged(root, name, [f"a file that cannot be loaded ({type(err).__name__})"]) from err
    return Version(name, manifest, store, {}, LexicalIndex(None, np.zeros(0, np.int64)), indexes=indexes)


@dataclass(frozen=True)
class Current:
    """The version a library opens on, and how it was found."""

    version: Version | None  # None: a new library, nothing written yet
    note: str | None = None  # set when CURRENT was not usable and a version was recovered
    pointer_ok: bool = True


def find_current(root: Path, config: IndexConfig) -> Current:
    """Load the current version, recovering from a bad ``CURRENT`` when that is safe.

    Safe means: the newest version is complete. When it is not, nobody can tell whether it
    was the live one, so the library is refused rather than opened on an older version.

    Raises:
        LibraryDamagedError: the current (or newest) version is damaged, or ``CURRENT`` is
            unusable and no version is left.
        LibraryFormatError: its manifest is of another format.
    """
    for _ in range(5):
        pointer = read_pointer(root)
        if pointer.name is not None:
            try:
                return Current(load_version(root, pointer.name, config))
            except (LibraryDamagedError, LibraryFormatError):
                if read_pointer(root).name != pointer.name:
                    continue  # a writer published meanwhile and cleaned up the old one
                raise
        return _recover(root, config, pointer)
    raise LibraryDamagedError(f"The library at {root} keeps changing while it is read; try again.")


def _recover(root: Path, config: IndexConfig, pointer: Pointer) -> Current:
    names = version_names(root)
    if not names:
        if not (root / CURRENT).exists():
            return Current(None)  # nothing was ever published here (a version precedes CURRENT)
        raise LibraryDamagedError(
            f"The library at {root} has no complete version left ({pointer.problem}; versions/ "
            "holds none). Restore the folder from a backup, or move it away and add the "
            "documents again."
        )
    newest = names[-1]
    try:
        version = load_version(root, newest, config)
    except (LibraryDamagedError, LibraryFormatError) as err:
        raise LibraryDamagedError(
            f"{pointer.problem}, and the newest version ({newest}) cannot be used: {err} "
            "Nothing was changed."
        ) from err
    note = (f"{pointer.problem}; using the newest complete version, {newest} "
            f"({version.manifest.documents} documents). The next write (or `paperbridge doctor "
            "--repair`) rewrites CURRENT.")
    return Current(version, note, pointer_ok=False)
