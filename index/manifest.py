"""manifest.json: what a library version holds, how it was built, and what its files must be.

Every version folder carries one. Loading checks the format version (a newer PaperBridge may
change the layout), the encoders (vectors from another model are meaningless to search) and
every file the version consists of: present, of the recorded size, and matching a cheap
checksum (:func:`sample_digest`), so a truncated or replaced file is refused instead of
answered from. ``paperbridge doctor --full`` also compares a full SHA-256 of each file.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from paperbridge.ingest.errors import LibraryDamagedError, LibraryFormatError

#: 1: the first layout (no version id, no file sums); 2: ``version_id`` and ``files``; 3: what
#: each encoder embedded (``EncoderEntry.kinds`` and ``.sentences``), so an encoder's vectors may
#: cover fewer passages than the library holds.
FORMAT_VERSION = 3
READABLE_FORMATS = (1, 2, 3)

_WHOLE = 8 << 20  # files up to this size are hashed whole at every open
_BLOCK, _BLOCKS = 64 << 10, 16  # bigger ones: 16 blocks of 64 KiB, spread over the file


class ManifestError(LibraryDamagedError):
    """A version's manifest is missing, unreadable or malformed (its message says which)."""


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string (seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def new_version_id() -> str:
    """A random id for a new version (16 hex digits): side files are keyed by it."""
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class EncoderEntry:
    """One encoder that fed the library: the spec the user gave, the model's name and dim.

    ``runtime`` says what computed the vectors (``onnx-int8``, ``torch-fp32``, ``numpy``; empty
    in manifests written before it was recorded); for models with several runtimes it is also
    part of ``name``, which is what loading checks.

    ``kinds`` are the passage kinds the encoder embeds (None: every passage). Since issue 13
    only the language-neutral encoder embeds every passage; the others embed the kinds that
    answer questions (``ingest.ANSWER_KINDS``), because tables of contents, reference lists and
    the like never compete for an answer, and a filter that asks for them finds them through
    the neutral encoder and BM25. ``sentences`` is True for the encoder whose vectors of the
    answer passages' sentences the version's database holds (:mod:`.sentences`). A library
    keeps what it was built with: adds follow its entries, ``rebuild`` takes the new ones.
    """

    spec: str
    name: str
    dim: int
    runtime: str = ""
    kinds: tuple[str, ...] | None = None
    sentences: bool = False

    def embeds(self, kind: str) -> bool:
        """True when this encoder embeds passages of ``kind``."""
        return self.kinds is None or kind in self.kinds


@dataclass(frozen=True)
class FileSum:
    """What one file of a version must be: its size, a cheap checksum, a full SHA-256."""

    size: int
    sample: str
    sha256: str


def sample_digest(path: Path, size: int) -> str:
    """A checksum cheap enough for every open: the whole file up to 8 MiB, else 16 blocks.

    Truncation and replacement are caught by size and sample; a flipped bit between the
    sampled blocks of a large file is caught only by the full hash (``doctor --full``).
    """
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        if size <= _WHOLE:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
        else:
            step = (size - _BLOCK) // (_BLOCKS - 1)
            for i in range(_BLOCKS):
                fh.seek(i * step)
                digest.update(fh.read(_BLOCK))
    return digest.hexdigest()


def full_digest(path: Path) -> str:
    """SHA-256 of the whole file."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def summarize(path: Path) -> FileSum:
    """The :class:`FileSum` of a file as it is now."""
    size = path.stat().st_size
    return FileSum(size, sample_digest(path, size), full_digest(path))


def file_problem(path: Path, expected: FileSum, *, full: bool = False) -> str | None:
    """What is wrong with ``path`` against ``expected`` (None when it matches)."""
    try:
        size = path.stat().st_size
        if size != expected.size:
            return f"{path.name} is {size} bytes, the manifest says {expected.size} (truncated or replaced)"
        if sample_digest(path, size) != expected.sample:
            return f"{path.name} does not match its checksum (altered or damaged)"
        if full and full_digest(path) != expected.sha256:
            return f"{path.name} does not match its SHA-256 (altered or damaged)"
    except FileNotFoundError:
        return f"{path.name} is missing"
    except OSError as err:
        return f"{path.name} cannot be read ({err.strerror})"
    return None


@dataclass(frozen=True)
class Manifest:
    """The JSON manifest of one library version."""

    encoders: tuple[EncoderEntry, ...]
    max_tokens: int
    generation: int = 0
    next_id: int = 1  # passage ids are never reused, even after remove
    documents: int = 0
    passages: int = 0
    languages: dict[str, int] = field(default_factory=dict)
    created: str = field(default_factory=now_iso)
    updated: str = field(default_factory=now_iso)
    format_version: int = FORMAT_VERSION
    version_id: str = ""  # empty only in format 1 (the folder name's tag stands in)
    files: dict[str, FileSum] = field(default_factory=dict)  # path in the version folder -> sum

    @property
    def specs(self) -> tuple[str, ...]:
        """The encoder specs, in order."""
        return tuple(e.spec for e in self.encoders)

    def to_json(self) -> str:
        """Serialize (stable key order, readable)."""
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, sort_keys=True)

    def write(self, path: Path) -> None:
        """Write to ``path`` and fsync it (the version folder is swapped in only afterwards)."""
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(self.to_json())
            fh.flush()
            os.fsync(fh.fileno())

    @classmethod
    def read(cls, path: Path) -> Manifest:
        """Read and check a manifest.

        Raises:
            ManifestError: missing, unreadable or malformed (the message is the problem
                alone, for :func:`~paperbridge.index.versions.damaged` to put in context).
            LibraryFormatError: written by another format version.
        """
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise ManifestError(f"{path.name} is missing") from err
        except (OSError, ValueError) as err:
            raise ManifestError(f"{path.name} cannot be read ({type(err).__name__})") from err
        version = raw.get("format_version") if isinstance(raw, dict) else None
        if version not in READABLE_FORMATS:
            raise LibraryFormatError(_format_message(path, version))
        try:
            raw["encoders"] = tuple(_entry(e) for e in raw["encoders"])
            raw["files"] = {str(k): FileSum(**v) for k, v in raw.get("files", {}).items()}
            return cls(**raw)
        except (KeyError, TypeError, AttributeError, ValueError) as err:
            raise ManifestError(f"{path.name} is malformed ({type(err).__name__}: {err})") from err


def _entry(raw: dict[str, object]) -> EncoderEntry:
    """An encoder entry from JSON (``kinds`` is a list there)."""
    kinds = raw.get("kinds")
    if isinstance(kinds, list):
        raw = {**raw, "kinds": tuple(str(k) for k in kinds)}
    return EncoderEntry(**raw)  # type: ignore[arg-type]


def _format_message(path: Path, version: object) -> str:
    newest = max(READABLE_FORMATS)
    if isinstance(version, int) and version > newest:
        return (f"The library manifest {path} has format version {version}: it was written by a "
                f"newer PaperBridge (this one reads versions up to {newest}). Upgrade PaperBridge "
                "to use this library; nothing was changed.")
    return (f"The library manifest {path} has format version {version!r}; this PaperBridge reads "
            f"versions {', '.join(map(str, READABLE_FORMATS))}. Use the PaperBridge that wrote it, "
            "or move the folder away and add the documents again.")
