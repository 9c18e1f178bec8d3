"""manifest.json: what a library version holds and how it was built.

Every version folder carries one. Loading checks the format version (a newer PaperBridge may
change the layout) and the encoders (vectors from another model are meaningless to search).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from paperbridge.ingest.errors import LibraryFormatError

FORMAT_VERSION = 1


def now_iso() -> str:
    """The current UTC time as an ISO 8601 string (seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class EncoderEntry:
    """One encoder that fed the library: the spec the user gave, the model's name and dim."""

    spec: str
    name: str
    dim: int


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
            LibraryFormatError: missing, unreadable, or written by another format version.
        """
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            raise LibraryFormatError(
                f"Cannot read the library manifest {path}: {err}. Remove the library folder and "
                "add the documents again."
            ) from err
        version = raw.get("format_version") if isinstance(raw, dict) else None
        if version != FORMAT_VERSION:
            raise LibraryFormatError(
                f"The library manifest {path} has format version {version!r}; this PaperBridge "
                f"reads version {FORMAT_VERSION}. Use the PaperBridge that wrote it, or move the "
                "folder away and add the documents again."
            )
        try:
            raw["encoders"] = tuple(EncoderEntry(**e) for e in raw["encoders"])
            return cls(**raw)
        except (KeyError, TypeError) as err:
            raise LibraryFormatError(f"The library manifest {path} is malformed ({err}).") from err
