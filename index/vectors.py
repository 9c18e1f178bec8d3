"""FAISS vector indexes of one encoder: one index per passage language.

Why one index per (encoder, language) rather than one index with an IDSelector: qa retrieves
per language to remove the language bias of the models, so a language-filtered search is the
hot path. A separate index makes it exactly as good and as fast as an unfiltered search of a
smaller library, for exact and HNSW alike; an IDSelector on HNSW walks the whole graph and
loses recall when the filter is selective, and on a flat index still scans every vector. An
unfiltered search merges the per-language top k (exact for flat indexes).

Each index is an ``IndexIDMap2`` (ids are the library's int64 passage ids, never reused) over
``IndexFlatIP`` (exact; vectors are unit length so inner product is cosine), or over
``IndexHNSWFlat`` once it holds more than ``ann_threshold`` vectors.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import faiss
import numpy as np

_log = logging.getLogger(__name__)

# A question is one vector: FAISS searches it fastest on one thread, and its OpenMP pool
# then does not fight torch's or onnxruntime's (which have just encoded the question) for
# the two cores: measured at 100k passages, retrieval p50 139 ms with FAISS on 2 threads,
# 48 ms on 1. Building an HNSW index is parallel work, so writes use every core.
# OpenMP's thread count (nthreads-var) belongs to the calling thread, so setting it around
# one call changes nothing for the process's other threads.
SEARCH_THREADS = 1


@contextlib.contextmanager
def _omp_threads(n: int | None) -> Iterator[None]:
    """FAISS calls inside run on ``n`` OpenMP threads (None: as many as the thread has)."""
    before = faiss.omp_get_max_threads()
    if n is None or n == before:
        yield
        return
    faiss.omp_set_num_threads(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def default_ef_construction(hnsw_m: int) -> int:
    """HNSW build breadth: how hard the graph looks for each new vector's neighbours.

    Measured at 1M clustered vectors (bench --part ann): with M=32, efConstruction 64 tops out
    at recall@10 0.95 (efSearch 2048, 11 ms CPU); 128 reaches 0.98 at efSearch 512 (3 ms).
    """
    return max(128, 4 * hnsw_m)


def build_threads() -> int:
    """Threads for building an index: every core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


#: Below this many candidate passages a doc_ids-filtered search scores them directly (exact).
_BRUTE_FORCE_MAX = 50_000
_SAFE = re.compile(r"[^A-Za-z0-9_-]")


def _is_hnsw(index: Any) -> bool:
    return isinstance(faiss.downcast_index(index.index), faiss.IndexHNSWFlat)


def _set_ef_search(index: Any, ef: int) -> None:
    base: Any = faiss.downcast_index(index.index)
    base.hnsw.efSearch = ef


def _all_vectors(index: Any) -> tuple[np.ndarray, np.ndarray]:
    """(ids (n,), vectors (n, dim)) of an IndexIDMap2, in storage order."""
    ids = faiss.vector_to_array(index.id_map).astype(np.int64)
    vecs = index.index.reconstruct_n(0, index.ntotal) if index.ntotal else np.zeros((0, index.d))
    return ids, np.asarray(vecs, dtype=np.float32)


class VectorIndex:
    """The vectors of one encoder, split by passage language."""

    def __init__(self, dim: int, *, ann_threshold: int, hnsw_m: int, ef_search: int,
                 ef_construction: int | None = None, search_threads: int = SEARCH_THREADS,
                 write_threads: int | None = None) -> None:
        self.dim = dim
        self.ann_threshold = ann_threshold
        self.hnsw_m = hnsw_m
        self.ef_search = ef_search
        self.ef_construction = ef_construction or default_ef_construction(hnsw_m)
        self.search_threads = search_threads
        self.write_threads = write_threads or build_threads()
        self.by_lang: dict[str, Any] = {}

    # ---- building -----------------------------------------------------------------------
    def _new_index(self, size: int) -> Any:
        base: Any
        if size > self.ann_threshold:
            base = faiss.IndexHNSWFlat(self.dim, self.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            base.hnsw.efConstruction = self.ef_construction
            base.hnsw.efSearch = self.ef_search
        else:
            base = faiss.IndexFlatIP(self.dim)
        return faiss.IndexIDMap2(base)

    def add(self, lang: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Add vectors (shape (n, dim), unit rows) under passage ids (shape (n,)) to one language.

        Crossing ``ann_threshold`` turns the language's flat index into HNSW (built once from
        the stored vectors plus the new ones).
        """
        if not len(ids):
            return
        with _omp_threads(self.write_threads):
            self._add(lang, ids, vectors)

    def _add(self, lang: str, ids: np.ndarray, vectors: np.ndarray) -> None:
        current = self.by_lang.get(lang)
        total = (current.ntotal if current is not None else 0) + len(ids)
        if current is None or (total > self.ann_threshold and not _is_hnsw(current)):
            old_ids, old_vecs = _all_vectors(current) if current is not None else (
                np.zeros(0, np.int64), np.zeros((0, self.dim), np.float32))
            if current is not None:
                _log.info("%s: %d vectors, switching to HNSW", lang, total)
            current = self._new_index(total)
            if len(old_ids):
                current.add_with_ids(old_vecs, old_ids)
            self.by_lang[lang] = current
        current.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids.astype(np.int64))

    def remove(self, ids_by_lang: Mapping[str, Collection[int]]) -> None:
        """Remove passage ids. HNSW cannot delete, so an HNSW index is rebuilt without them."""
        for lang, ids in ids_by_lang.items():
            index = self.by_lang.get(lang)
            if index is None or not ids:
                continue
            gone = np.fromiter(ids, dtype=np.int64)
            if _is_hnsw(index):
                all_ids, vecs = _all_vectors(index)
                keep = ~np.isin(all_ids, gone)
                rebuilt = self._new_index(int(keep.sum()))
                with _omp_threads(self.write_threads):
                    rebuilt.add_with_ids(vecs[keep], all_ids[keep])
                self.by_lang[lang] = rebuilt
            else:
                index.remove_ids(gone)
            if self.by_lang[lang].ntotal == 0:
                del self.by_lang[lang]

    # ---- persistence --------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Write one ``<lang>.faiss`` per language into ``folder`` and fsync them."""
        folder.mkdir(parents=True, exist_ok=True)
        for lang, index in self.by_lang.items():
            path = folder / f"{_SAFE.sub('_', lang)}.faiss"
            faiss.write_index(index, str(path))
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)

    @classmethod
    def load(
        cls, folder: Path, dim: int, *, ann_threshold: int, hnsw_m: int, ef_search: int,
        ef_construction: int | None = None,
    ) -> VectorIndex:
        """Read the indexes written by :meth:`save`."""
        vi = cls(dim, ann_threshold=ann_threshold, hnsw_m=hnsw_m, ef_search=ef_search,
                 ef_construction=ef_construction)
        for path in sorted(folder.glob("*.faiss")) if folder.is_dir() else []:
            index = faiss.read_index(str(path))
            if _is_hnsw(index):
                _set_ef_search(index, ef_search)
            vi.by_lang[path.stem] = index
        return vi

    # ---- queries ------------------------------------------------------------------------
    def ids(self, lang: str | None = None) -> np.ndarray:
        """All stored ids (of one language), sorted."""
        langs = [lang] if lang is not None else list(self.by_lang)
        parts = [faiss.vector_to_array(self.by_lang[lg].id_map)
                 for lg in langs if lg in self.by_lang]
        return np.sort(np.concatenate(parts)).astype(np.int64) if parts else np.zeros(0, np.int64)

    def __len__(self) -> int:
        return sum(index.ntotal for index in self.by_lang.values())

    def search(
        self, query: np.ndarray, k: int, *, lang: str | None = None,
        candidates: Mapping[str, np.ndarray] | None = None,
    ) -> list[tuple[int, float]]:
        """Top ``k`` (passage id, inner product), best first.

        Args:
            query: float32 unit vector, shape (dim,).
            k: number of hits wanted.
            lang: search only this language's index.
            candidates: when given, only these ids per language may be returned (doc filter).
        """
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        langs = [lang] if lang is not None else list(self.by_lang)
        with _omp_threads(self.search_threads):
            hits = self._search_langs(q, k, langs, candidates)
        hits.sort(key=lambda h: -h[1])
        return hits[:k]

    def _search_langs(self, q: np.ndarray, k: int, langs: Sequence[str],
                      candidates: Mapping[str, np.ndarray] | None) -> list[tuple[int, float]]:
        hits: list[tuple[int, float]] = []
        for lg in langs:
            index = self.by_lang.get(lg)
            if index is None or k <= 0:
                continue
            if candidates is None:
                hits += self._search_one(index, q, k)
            elif len(cand := candidates.get(lg, np.zeros(0, np.int64))):
                hits += self._search_among(index, q, k, cand)
        return hits

    def _search_one(self, index: Any, q: np.ndarray, k: int) -> list[tuple[int, float]]:
        if _is_hnsw(index):
            _set_ef_search(index, max(self.ef_search, k))
        scores, ids = index.search(q, min(k, index.ntotal))
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def _search_among(
        self, index: Any, q: np.ndarray, k: int, cand: np.ndarray
    ) -> list[tuple[int, float]]:
        """Exact search restricted to candidate ids (brute force when few, else IDSelector)."""
        if len(cand) <= _BRUTE_FORCE_MAX:
            vecs = index.reconstruct_batch(cand.astype(np.int64))
            scores = vecs @ q[0]
            top = np.argsort(-scores, kind="stable")[:k]
            return [(int(cand[i]), float(scores[i])) for i in top]
        params = faiss.SearchParameters()
        params.sel = faiss.IDSelectorBatch(cand.astype(np.int64))
        scores, ids = index.search(q, min(k, len(cand)), params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]
