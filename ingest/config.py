"""Settings of the ingestion layer: how passages are cut."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IngestConfig:
    """How paragraphs are cut into passages.

    Attributes:
        max_tokens: budget of one passage in embedding-model tokens (approximated by
            :func:`ingest.sentences.count_tokens`); the default fits the 256-token window of
            small multilingual embedders.
        overlap_sentences: sentences repeated at the start of the next part when a long
            paragraph is cut, so that a fact straddling the cut is still found whole.
    """

    max_tokens: int = 256
    overlap_sentences: int = 1

    def __post_init__(self) -> None:
        if self.max_tokens < 16:
            raise ValueError(f"IngestConfig.max_tokens must be at least 16, got {self.max_tokens}")
        if not 0 <= self.overlap_sentences <= 5:
            raise ValueError(
                "IngestConfig.overlap_sentences must be between 0 and 5, "
                f"got {self.overlap_sentences}"
            )
