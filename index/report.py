"""What a write to the library did, for the caller to show."""

from __future__ import annotations

from dataclasses import dataclass, field

from paperbridge.index.store import DocumentInfo


@dataclass
class AddReport:
    """What one add/rebuild did."""

    added: list[DocumentInfo] = field(default_factory=list)
    replaced: list[DocumentInfo] = field(default_factory=list)  # the old versions, now gone
    skipped: list[str] = field(default_factory=list)  # unchanged sources
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, one-line message)
    embedded: int = 0  # passages embedded by this call (per encoder)
