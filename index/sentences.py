"""Sentence vectors stored with a version: the evidence sentences of answer passages.

Retrieval re-scores its top candidates by their best sentence (``qa.evidence``): a question
asks for one fact, stated in one sentence of a long paragraph. Embedding those sentences
when the question comes cost ~460 ms a question at 100k passages (30 passages, ~150
sentences, through USE), three times the whole budget of an answer. Their vectors never
change, so the writer embeds them once, with the language-neutral encoder, when a passage
is written (``EncoderEntry.sentences`` says which encoder did), and keeps them in the
version's SQLite database, which every write copies forward with the rest of the metadata:

    sentence_vectors(passage_id INTEGER PRIMARY KEY, spans BLOB, scales BLOB, vectors BLOB)

``spans`` are the sentences' ``(start, end)`` offsets in the passage text as int32 pairs
(:func:`paperbridge.ingest.sentences.evidence_spans` decided them, and readers take them as
stored, so a later change to the sentence rules never misaligns vectors and sentences);
``vectors`` are int8 with one float32 ``scale`` per sentence (``vector ~= int8 * scale``),
512 bytes per USE sentence instead of 2,048; on unit vectors this moves a cosine by less
than 0.002 (``tests/test_sentences.py``).

Only answer-kind passages get rows (other kinds never compete for an answer unless a caller
asks for them, and then their sentences are embedded on demand, as for a library written
before this table existed).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from paperbridge.ingest.sentences import evidence_spans

if TYPE_CHECKING:
    from paperbridge.index.store import Store

TABLE = "sentence_vectors"
SCHEMA = (f"CREATE TABLE IF NOT EXISTS {TABLE} (passage_id INTEGER PRIMARY KEY, "
          "spans BLOB NOT NULL, scales BLOB NOT NULL, vectors BLOB NOT NULL)")
Span = tuple[int, int]


def quantize(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectors (n, dim) as int8 (n, dim) and one float32 scale per row (n,): v ~= q * scale."""
    vectors = np.asarray(vectors, dtype=np.float32)
    peak = np.abs(vectors).max(axis=1) if len(vectors) else np.zeros(0, np.float32)
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    quantized = np.clip(np.rint(vectors / scales[:, None]), -127, 127).astype(np.int8)
    return quantized, scales


def dequantize(quantized: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """The float32 vectors (n, dim) of :func:`quantize`'s output."""
    out: np.ndarray = quantized.astype(np.float32) * scales[:, None].astype(np.float32)
    return out


@dataclass(frozen=True)
class SentenceRow:
    """One passage's stored sentences: their spans and vectors (shape (len(spans), dim))."""

    passage_id: int
    spans: tuple[Span, ...]
    vectors: np.ndarray


def pack(spans: Sequence[Span], vectors: np.ndarray) -> tuple[bytes, bytes, bytes]:
    """A passage's spans and sentence vectors as the table's three BLOBs."""
    quantized, scales = quantize(vectors)
    return (np.asarray(spans, dtype=np.int32).reshape(-1, 2).tobytes(), scales.tobytes(),
            quantized.tobytes())


def unpack(passage_id: int, spans: bytes, scales: bytes, vectors: bytes, dim: int) -> SentenceRow:
    """A row of the table back as spans and float32 vectors."""
    pairs = np.frombuffer(spans, dtype=np.int32).reshape(-1, 2)
    scale = np.frombuffer(scales, dtype=np.float32)
    quantized = np.frombuffer(vectors, dtype=np.int8).reshape(len(scale), dim)
    return SentenceRow(passage_id, tuple((int(a), int(b)) for a, b in pairs),
                       dequantize(quantized, scale))


def split(texts: Iterable[str]) -> list[list[Span]]:
    """Per passage text, the spans of its evidence sentences (what gets a vector)."""
    return [[(start, end) for start, end, _ in evidence_spans(text)] for text in texts]


class StoredSentences:
    """Where readers find a version's stored sentence vectors (``StoredPassage.sentences``).

    Passages carry it from :meth:`paperbridge.index.store.Store.passages`, so whoever holds
    a passage can ask for its sentence vectors without knowing the library. Passage ids are
    never reused within a library, so a row read from an older version stays right.
    """

    def __init__(self, store: Store, encoder: str, dim: int) -> None:
        """Rows of ``store``'s table, embedded by ``encoder`` (its name) in ``dim`` dimensions."""
        self.store, self.encoder, self.dim = store, encoder, dim

    def get(self, ids: Sequence[int]) -> dict[int, SentenceRow]:
        """The stored rows of these passages (ids without one are left out).

        Never raises for an unreadable table (an older version closed meanwhile, a
        database without it): the caller embeds what is missing, as without the table.
        """
        return self.store.sentence_rows(ids, self.dim)

    def __deepcopy__(self, memo: dict[int, Any]) -> StoredSentences:
        """A database handle is shared, never copied (``dataclasses.asdict`` of a passage)."""
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (a passage sent to another process), it carries no database: nothing stored."""
        return (_detached, (self.encoder, self.dim))


class _Nothing:
    """The store of a pickled :class:`StoredSentences`: holds no rows."""

    def sentence_rows(self, ids: Sequence[int], dim: int) -> dict[int, SentenceRow]:
        return {}


def _detached(encoder: str, dim: int) -> StoredSentences:
    return StoredSentences(_Nothing(), encoder, dim)  # type: ignore[arg-type]
