"""FAISS indexes per language: exact and HNSW, removal, doc filters, persistence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from paperbridge.index.vectors import VectorIndex, _is_hnsw
from paperbridge.ingest.errors import ModelError


def _unit(n: int, dim: int, seed: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _index(threshold: int = 10_000) -> tuple[VectorIndex, np.ndarray]:
    vi = VectorIndex(32, ann_threshold=threshold, hnsw_m=16, ef_search=64)
    x = _unit(600, 32, 0)
    vi.add("en", np.arange(1, 301, dtype=np.int64), x[:300])
    vi.add("zh", np.arange(301, 601, dtype=np.int64), x[300:])
    return vi, x


def test_exact_search_returns_the_true_neighbours_per_language() -> None:
    vi, x = _index()
    q = x[42]
    best = vi.search(q, 5)
    assert best[0][0] == 43 and abs(best[0][1] - 1.0) < 1e-5
    truth = np.argsort(-(x[300:] @ q))[:5] + 301
    assert [i for i, _ in vi.search(q, 5, lang="zh")] == truth.tolist()


def test_candidates_restrict_results_exactly() -> None:
    vi, x = _index()
    allowed = {"en": np.array([5, 6, 7], dtype=np.int64), "zh": np.array([400], dtype=np.int64)}
    hits = vi.search(x[4], 10, candidates=allowed)
    assert hits[0][0] == 5 and {i for i, _ in hits} == {5, 6, 7, 400}


def test_remove_and_save_load_round_trip(tmp_path: Path) -> None:
    vi, x = _index()
    vi.remove({"en": [43, 44], "zh": list(range(301, 601))})
    assert 43 not in vi.ids() and "zh" not in vi.by_lang and len(vi) == 298
    vi.save(tmp_path)
    again = VectorIndex.load(tmp_path, 32, ann_threshold=10_000, hnsw_m=16, ef_search=64)
    assert again.ids().tolist() == vi.ids().tolist()
    assert again.search(x[10], 3) == vi.search(x[10], 3)


def test_hnsw_above_threshold_matches_exact_and_supports_removal() -> None:
    vi, x = _index(threshold=200)
    exact, _ = _index()
    assert all(_is_hnsw(i) for i in vi.by_lang.values())
    recall = np.mean([len({i for i, _ in vi.search(q, 10)} & {i for i, _ in exact.search(q, 10)})
                      / 10 for q in _unit(50, 32, 1)])
    assert recall > 0.9
    vi.remove({"en": [43]})
    assert 43 not in vi.ids() and len(vi) == 599 and vi.search(x[42], 1)[0][0] != 43


def test_searches_and_writes_leave_the_threads_faiss_runs_on_alone() -> None:
    """FAISS's thread count belongs to the calling thread; the index sets it only around a call."""
    import threading

    import faiss

    before = faiss.omp_get_max_threads()
    vi = VectorIndex(32, ann_threshold=100, hnsw_m=16, ef_search=64, write_threads=2)
    x = _unit(300, 32, 5)
    vi.add("en", np.arange(1, 301, dtype=np.int64), x)  # crosses the threshold: an HNSW build
    assert _is_hnsw(vi.by_lang["en"]) and vi.search(x[7], 1)[0][0] == 8
    assert faiss.omp_get_max_threads() == before and vi.search_threads == 1
    seen: list[int] = []
    worker = threading.Thread(target=lambda: seen.append(faiss.omp_get_max_threads()))
    worker.start()
    worker.join()
    assert seen == [before]


def test_runtime_settings_come_from_the_edges_not_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from paperbridge.index.runtime import ModelSettings, cache_from_env, default_cache, model_settings

    monkeypatch.setenv("PAPERBRIDGE_CACHE", str(tmp_path / "ignored"))
    assert model_settings().cache != tmp_path / "ignored"  # library code reads no environment
    assert cache_from_env({"PAPERBRIDGE_CACHE": str(tmp_path)}) == tmp_path
    assert cache_from_env({"XDG_CACHE_HOME": str(tmp_path)}) == tmp_path / "paperbridge"
    assert cache_from_env({}) == default_cache()
    with pytest.raises(ModelError, match="threads"):
        ModelSettings(threads=0)
