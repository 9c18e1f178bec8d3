"""The default store: FAISS and bm25s files inside each version folder (one machine).

Layout in a version folder: ``vectors/<encoder #>/<lang>.faiss`` (:mod:`..vectors`, one FAISS
index per encoder and language) and ``lexical/`` (:mod:`..lexical`, bm25s over the cached
jieba / stemmed tokens). A writer starts from copies of the base version's FAISS indexes,
changes them in memory, and writes both into its temporary folder when it publishes.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import numpy as np

from paperbridge.index.config import IndexConfig
from paperbridge.index.lexical import LexicalIndex
from paperbridge.index.store import Store
from paperbridge.index.stores.base import Embedded, Hits, Rows
from paperbridge.index.vectors import VectorIndex


def new_vectors(dim: int, config: IndexConfig) -> VectorIndex:
    """An empty FAISS index set of one encoder, with the configured index types."""
    return VectorIndex(dim, ann_threshold=config.ann_threshold, hnsw_m=config.hnsw_m,
                       ef_search=config.hnsw_ef_search)


def load_vectors(folder: Path, dim: int, config: IndexConfig) -> VectorIndex:
    """The FAISS indexes of one encoder written by :meth:`VectorIndex.save`."""
    return VectorIndex.load(folder, dim, ann_threshold=config.ann_threshold, hnsw_m=config.hnsw_m,
                            ef_search=config.hnsw_ef_search)


class LocalIndexes:
    """A published version's FAISS and BM25 indexes, searched in this process."""

    def __init__(self, vectors: Sequence[VectorIndex], lexical: LexicalIndex, store: Store,
                 lang_masks: dict[str, np.ndarray],
                 kinds: Sequence[tuple[str, ...] | None] | None = None) -> None:
        """``kinds[slot]``: the passage kinds encoder ``slot`` embedded (None: all)."""
        self.vectors, self.bm25, self.store = list(vectors), lexical, store
        self.lang_masks = lang_masks  # bool masks over lexical.ids, one per language, cached
        self.kinds = list(kinds) if kinds is not None else [None] * len(self.vectors)

    def dense(self, slot: int, query: np.ndarray, k: int, *, lang: str | None,
              doc_ids: Collection[str] | None) -> Hits:
        """FAISS search of one encoder; a document filter becomes candidate ids from SQLite
        (of the kinds the encoder embedded: the others have no vector in its index)."""
        vi = self.vectors[slot]
        candidates = None
        if doc_ids is not None:
            langs = [lang] if lang else list(vi.by_lang)
            candidates = {lg: np.asarray(self.store.passage_ids(lang=lg, doc_ids=list(doc_ids),
                                                                kinds=self.kinds[slot]),
                                         dtype=np.int64) for lg in langs}
        return vi.search(query, k, lang=lang, candidates=candidates)

    def lexical(self, query: str, k: int, *, lang: str | None,
                doc_ids: Collection[str] | None) -> Hits:
        """bm25s over every passage, masked to the language / documents asked for."""
        ids = self.bm25.ids
        mask = None
        if doc_ids is not None:
            allowed = self.store.passage_ids(lang=lang, doc_ids=list(doc_ids))
            mask = np.isin(ids, np.asarray(allowed, dtype=np.int64))
        elif lang is not None:
            if lang not in self.lang_masks:
                allowed = self.store.passage_ids(lang=lang)
                self.lang_masks[lang] = np.isin(ids, np.asarray(allowed, np.int64))
            mask = self.lang_masks[lang]
        return self.bm25.search(query, k, mask)

    def close(self) -> None:
        """Nothing to release: the indexes are memory and memory-mapped files."""


class LocalBuilder:
    """FAISS indexes changed in memory; BM25 built from SQLite's tokens when saved."""

    def __init__(self, dims: Sequence[int], config: IndexConfig, base_folder: Path | None) -> None:
        """Start from the base version's indexes in ``base_folder`` (None: empty ones), one
        per encoder of dimension ``dims[slot]``."""
        if base_folder is None:
            self.vectors = [new_vectors(dim, config) for dim in dims]
        else:
            self.vectors = [load_vectors(base_folder / "vectors" / str(i), dim, config)
                            for i, dim in enumerate(dims)]

    def add(self, rows: Rows, vectors: Sequence[Embedded]) -> None:
        """Add each encoder's vectors to its per-language FAISS indexes (only the passages
        it embedded)."""
        for vi, embedded in zip(self.vectors, vectors, strict=True):
            ids = rows.ids[embedded.at]
            langs = np.asarray(rows.langs)[embedded.at] if len(embedded.at) else np.zeros(0, str)
            for lang in sorted(set(langs.tolist())):
                vi.add(lang, ids[langs == lang], embedded.vectors[langs == lang])

    def remove(self, ids_by_lang: Mapping[str, Collection[int]]) -> None:
        """Remove ids from every encoder's indexes."""
        for vi in self.vectors:
            vi.remove(ids_by_lang)

    def save(self, folder: Path, store: Store, generation: int) -> None:
        """Write ``lexical/`` (bm25s over every passage's tokens) and ``vectors/``."""
        pairs = list(store.tokens())
        LexicalIndex.build([i for i, _ in pairs], [t for _, t in pairs]).save(folder / "lexical")
        for i, vi in enumerate(self.vectors):
            vi.save(folder / "vectors" / str(i))

    def discard(self) -> None:
        """Nothing lives outside the version folder."""
