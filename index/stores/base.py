"""The store interface: what a library version needs from wherever its vectors and BM25 live.

The library keeps its metadata (SQLite: documents, pages, passages) and manifests as local
files in each version folder; the indexes that grow with the library, the dense vectors of
every encoder and the BM25 index, sit behind two small interfaces with one implementation per
store: :mod:`.local` (FAISS + bm25s files in the version folder, the default) and
:mod:`.milvus` (a Milvus server, or Milvus Lite).

* :class:`SearchIndexes`: a published version's indexes, searched by readers (any number,
  any thread). Searches are per language and may be limited to some documents, exactly
  what ``qa.retrieve`` asks of ``Library.dense_search`` / ``Library.lexical_search``.
* :class:`IndexBuilder`: the indexes of a version a writer is building (one writer, under the
  library's writer lock). ``save`` is the last step before the version folder is renamed into
  place and ``CURRENT`` swapped; until then nothing a reader sees has changed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from paperbridge.index.store import Store

Hits = list[tuple[int, float]]


@dataclass(frozen=True)
class Rows:
    """New passages of a write, as the indexes need them (all sequences in the same order).

    Attributes:
        ids: passage ids, shape (n,), int64.
        langs: each passage's language.
        doc_ids: each passage's document.
        kinds: each passage's kind (``body``, ``table``, ...).
        tokens: each passage's BM25 tokens (``index.lexical.tokenize``).
    """

    ids: np.ndarray
    langs: Sequence[str]
    doc_ids: Sequence[str]
    kinds: Sequence[str]
    tokens: Sequence[Sequence[str]]

    def __len__(self) -> int:
        return len(self.ids)


@dataclass(frozen=True)
class Embedded:
    """One encoder's vectors of some of a write's new passages.

    ``vectors[i]`` belongs to row ``at[i]`` of the write's :class:`Rows`. An encoder that
    embeds only some passage kinds (``EncoderEntry.kinds``) has fewer vectors than rows; the
    others have no vector in that encoder's index, and so no signal from it.

    Attributes:
        at: positions into the Rows, shape (m,), int64, ascending.
        vectors: float32 unit rows, shape (m, dim).
    """

    at: np.ndarray
    vectors: np.ndarray

    @classmethod
    def every(cls, vectors: np.ndarray) -> Embedded:
        """Vectors of every row, in row order."""
        return cls(np.arange(len(vectors), dtype=np.int64), vectors)

    def full(self, rows: int, dim: int) -> np.ndarray:
        """Shape (rows, dim): these vectors in their rows, zeros in the rows without one."""
        out = np.zeros((rows, dim), dtype=np.float32)
        out[self.at] = self.vectors
        return out


class SearchIndexes(Protocol):
    """The dense and lexical indexes of one published version (read only, thread-safe)."""

    def dense(self, slot: int, query: np.ndarray, k: int, *, lang: str | None,
              doc_ids: Collection[str] | None) -> Hits:
        """Top ``k`` (passage id, inner product) of encoder number ``slot``, best first.

        Only passages the encoder embedded can be found (``EncoderEntry.kinds``).

        Args:
            slot: the encoder's position in the manifest.
            query: float32 unit vector, shape (dim,).
            lang: only passages of this language (None: all, merged).
            doc_ids: only passages of these documents.
        """
        ...

    def lexical(self, query: str, k: int, *, lang: str | None,
                doc_ids: Collection[str] | None) -> Hits:
        """BM25 top ``k`` (passage id, score > 0) for the question text, best first."""
        ...

    def close(self) -> None:
        """Release what the indexes hold (connections); searching afterwards is an error."""
        ...


class IndexBuilder(Protocol):
    """The indexes of a version in progress (one writer)."""

    def add(self, rows: Rows, vectors: Sequence[Embedded]) -> None:
        """Index new passages: ``vectors[slot]`` holds what encoder ``slot`` embedded of them."""
        ...

    def remove(self, ids_by_lang: Mapping[str, Collection[int]]) -> None:
        """Take passages out of the version (their documents were removed or replaced)."""
        ...

    def save(self, folder: Path, store: Store, generation: int) -> None:
        """Write what the version folder must hold (files listed by the manifest), durably.

        Args:
            folder: the version's temporary folder (renamed into place afterwards).
            store: the version's SQLite database, complete and committed.
            generation: the generation the version is published as.
        """
        ...

    def discard(self) -> None:
        """Undo what an unpublished build left outside its folder (best effort)."""
        ...
