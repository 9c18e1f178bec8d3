"""FAISS at scale: exact flat inner product against HNSW, on synthetic unit vectors.

Two kinds of data: uniform random unit vectors (the adversarial case for HNSW: no structure,
every neighbour almost as far as any other) and a mixture of Gaussians around a shared mean
direction (closer to real sentence embeddings, which are anisotropic and clustered by topic).
Both indexes are grown in steps (10k, 100k, ... 1M) so one build gives the latency curve at
every size; the size where exact search stops meeting the latency budget is the library's
``ann_threshold``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import faiss
import numpy as np

from bench.common import percentiles_ms, watch_memory

log = logging.getLogger(__name__)

EF_SEARCH = (64, 128, 256, 512)


def _normalize(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


def random_vectors(n: int, dim: int, seed: int) -> np.ndarray:
    """``n`` uniform random unit vectors, float32 (n, dim)."""
    rng = np.random.default_rng(seed)
    return _normalize(rng.standard_normal((n, dim), dtype=np.float32))


class Mixture:
    """A mixture of Gaussians on the sphere that looks more like real embeddings.

    A shared mean direction makes all cosines positive (as with e5, where unrelated texts
    score ~0.7); ``clusters`` topic centres around it; points are noisy copies of a centre,
    with Zipf-like cluster sizes.
    """

    def __init__(self, dim: int, clusters: int = 2000, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        mean = _normalize(rng.standard_normal((1, dim), dtype=np.float32))
        spread = rng.standard_normal((clusters, dim), dtype=np.float32) / np.sqrt(dim)
        self.centres = _normalize(mean + 1.2 * spread)
        weights = 1.0 / np.arange(1, clusters + 1) ** 0.8
        self.weights = weights / weights.sum()
        self.dim = dim

    def sample(self, n: int, seed: int, noise: float = 0.9) -> np.ndarray:
        """``n`` unit vectors, float32 (n, dim)."""
        rng = np.random.default_rng(seed)
        which = rng.choice(len(self.centres), size=n, p=self.weights)
        out = np.empty((n, self.dim), dtype=np.float32)
        for lo in range(0, n, 100_000):
            hi = min(n, lo + 100_000)
            eps = rng.standard_normal((hi - lo, self.dim), dtype=np.float32)
            out[lo:hi] = self.centres[which[lo:hi]] + noise * eps / np.sqrt(self.dim)
        return _normalize(out)


def make_data(kind: str, n: int, dim: int, n_queries: int) -> tuple[np.ndarray, np.ndarray]:
    """Base vectors (n, dim) and held-out queries (n_queries, dim) of one kind."""
    if kind == "random":
        return random_vectors(n, dim, seed=1), random_vectors(n_queries, dim, seed=2)
    mixture = Mixture(dim)
    return mixture.sample(n, seed=1), mixture.sample(n_queries, seed=2)


def single_query_latency(index: Any, queries: np.ndarray, k: int = 10) -> dict[str, float]:
    """Search one query at a time (as ``ask`` does); wall p50/p95 and CPU p50 in ms."""
    times, cpu = [], []
    for q in queries:
        start, start_cpu = time.perf_counter(), time.process_time()
        index.search(q[None, :], k)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    # CPU time is what the search costs on an idle machine (with one FAISS thread); wall time
    # also counts waiting for a core when other processes share the machine.
    return {**percentiles_ms(times), "cpu_p50_ms": float(np.median(cpu)) * 1000.0}


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the exact top-k that the approximate top-k recovers."""
    k = truth.shape[1]
    hits = sum(len(set(f[:k]) & set(t)) for f, t in zip(found, truth, strict=True))
    return hits / truth.size


def _measure_step(flat: Any, hnsw: Any | None, queries: np.ndarray, n_latency: int) -> dict[str, Any]:
    """Latency of both indexes and HNSW recall@10 at each efSearch, at the current size."""
    row: dict[str, Any] = {"flat": single_query_latency(flat, queries[:n_latency])}
    if hnsw is None:
        return row
    _, truth = flat.search(queries, 10)
    for ef in EF_SEARCH:
        hnsw.hnsw.efSearch = ef
        _, found = hnsw.search(queries, 10)
        row[f"hnsw_ef{ef}"] = {
            **single_query_latency(hnsw, queries[:n_latency]),
            "recall_at_10": recall_at_k(found, truth),
        }
    return row


def grow_and_measure(
    kind: str,
    dim: int,
    sizes: Sequence[int],
    *,
    hnsw_max: int | None = None,
    m: int = 32,
    ef_construction: int = 64,  # as index/vectors.py: max(40, 2 * M)
    n_queries: int = 500,
    n_latency: int = 200,
    on_step: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Grow a flat and an HNSW index through ``sizes``; time, memory, latency, recall at each.

    HNSW stops growing after ``hnsw_max`` vectors (its build is the slow part: about 15-25
    minutes per million on 2 shared cores); larger steps then measure exact search only.
    ``on_step`` gets the partial result after every step, so a cut-short run keeps its numbers.
    """
    base, queries = make_data(kind, max(sizes), dim, n_queries)
    flat = faiss.IndexFlatIP(dim)
    hnsw = faiss.IndexHNSWFlat(dim, m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = ef_construction
    steps: list[dict[str, Any]] = []
    result = {
        "kind": kind,
        "dim": dim,
        "m": m,
        "ef_construction": ef_construction,
        "hnsw_max": hnsw_max,
        "n_queries": n_queries,
        "steps": steps,
    }
    done, build = 0, {"flat_s": 0.0, "hnsw_s": 0.0, "flat_mb": 0.0, "hnsw_mb": 0.0}
    for size in sizes:
        with_hnsw = hnsw_max is None or size <= hnsw_max
        for name, index in (("flat", flat), ("hnsw", hnsw)) if with_hnsw else (("flat", flat),):
            with watch_memory() as mem:
                start = time.perf_counter()
                index.add(base[done:size])
                build[f"{name}_s"] += time.perf_counter() - start
            build[f"{name}_mb"] += mem.end_mb - mem.start_mb
        done = size
        log.info("%s dim=%d: %d vectors, build so far %s", kind, dim, size, build)
        measured = _measure_step(flat, hnsw if with_hnsw else None, queries, n_latency)
        kept = build if with_hnsw else {k: v for k, v in build.items() if k.startswith("flat")}
        steps.append({"size": size, "build": dict(kept), **measured})
        if on_step is not None:
            on_step(result)
    return result


def ann_threshold(
    steps: Sequence[dict[str, Any]], budget_ms: float = 20.0, key: str = "p50_ms"
) -> int | None:
    """Largest measured size where exact flat search meets the budget at p50 (None if none)."""
    ok = [s["size"] for s in steps if s["flat"].get(key, float("inf")) <= budget_ms]
    return max(ok) if ok else None


def interpolated_threshold(
    steps: Sequence[dict[str, Any]], budget_ms: float = 20.0, key: str = "p50_ms"
) -> int | None:
    """Size where flat p50 latency crosses the budget, by a linear fit (flat search is O(n))."""
    steps = [s for s in steps if key in s["flat"]]
    sizes = np.array([s["size"] for s in steps], dtype=np.float64)
    p50 = np.array([s["flat"][key] for s in steps], dtype=np.float64)
    if len(sizes) < 2:
        return None
    slope, intercept = np.polyfit(sizes, p50, 1)
    size = (budget_ms - intercept) / slope if slope > 0 else -1.0
    return int(size) if size > 0 else None  # None: the fit is meaningless (noise dominates)


def summary_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One table row per size: flat p50/p95 and, per efSearch, HNSW p50/p95 and recall@10."""
    rows = []
    for step in result["steps"]:
        build = step["build"]
        row: dict[str, Any] = {
            "data": result["kind"],
            "dim": result["dim"],
            "n": step["size"],
            "threads": result.get("faiss_threads", ""),
            "flat p50/p95 ms": f"{step['flat']['p50_ms']:.1f}/{step['flat']['p95_ms']:.1f}",
            "flat CPU p50 ms": f"{step['flat'].get('cpu_p50_ms', float('nan')):.1f}",
        }
        for ef in EF_SEARCH:
            h = step.get(f"hnsw_ef{ef}")
            row[f"HNSW ef{ef} p50 ms / R@10"] = f"{h['p50_ms']:.2f} / {h['recall_at_10']:.3f}" if h else "-"
        hnsw_s = f"{build['hnsw_s']:.0f}" if "hnsw_s" in build else "-"
        hnsw_mb = f"{build['hnsw_mb']:.0f}" if "hnsw_mb" in build else "-"
        row["build flat/HNSW s"] = f"{build['flat_s']:.1f}/{hnsw_s}"
        row["RSS flat/HNSW MB"] = f"{build['flat_mb']:.0f}/{hnsw_mb}"
        rows.append(row)
    return rows


# ---- tuning at one size: which index meets recall@10 >= 0.95 within 20 ms at 1M ----------
#: Search breadths swept per index kind (efSearch for HNSW, nprobe for IVF).
HNSW_EF = (256, 512, 1024, 2048)
IVF_NPROBE = (16, 32, 64, 128, 256)


def parse_ann_config(spec: str) -> dict[str, Any]:
    """``hnsw:M:EF_CONSTRUCTION`` or ``ivf:NLIST`` as a dict (``label`` keeps the spec)."""
    parts = spec.split(":")
    if parts[0] == "hnsw" and len(parts) == 3:
        return {"label": spec, "kind": "hnsw", "m": int(parts[1]), "ef_construction": int(parts[2])}
    if parts[0] == "ivf" and len(parts) == 2:
        return {"label": spec, "kind": "ivf", "nlist": int(parts[1])}
    raise ValueError(f"ANN config {spec!r}: use hnsw:M:EF_CONSTRUCTION or ivf:NLIST")


def build_ann(config: dict[str, Any], base: np.ndarray) -> Any:
    """An HNSW or IVF-flat inner-product index over ``base`` (n, dim), built on every core."""
    dim = base.shape[1]
    if config["kind"] == "hnsw":
        index = faiss.IndexHNSWFlat(dim, config["m"], faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = config["ef_construction"]
    else:
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, config["nlist"], faiss.METRIC_INNER_PRODUCT)
        sample = base[np.random.default_rng(3).choice(len(base), min(len(base), 64 * config["nlist"]),
                                                      replace=False)]
        index.train(sample)
    for lo in range(0, len(base), 100_000):
        index.add(base[lo : lo + 100_000])
    return index


def _set_breadth(index: Any, kind: str, value: int) -> None:
    if kind == "hnsw":
        index.hnsw.efSearch = value
    else:
        index.nprobe = value


def tune_one(
    config: dict[str, Any], base: np.ndarray, queries: np.ndarray, truth: np.ndarray, n_latency: int
) -> dict[str, Any]:
    """Build one index; recall@10 and one-thread single-query latency at each search breadth."""
    threads = faiss.omp_get_max_threads()
    with watch_memory() as mem:
        start = time.perf_counter()
        index = build_ann(config, base)
        build_s = time.perf_counter() - start
    out: dict[str, Any] = {**config, "size": len(base), "build_s": build_s,
                           "build_threads": threads, "rss_mb": mem.end_mb - mem.start_mb}
    rows = []
    faiss.omp_set_num_threads(1)  # as the library searches: one query, one thread
    try:
        for value in HNSW_EF if config["kind"] == "hnsw" else IVF_NPROBE:
            _set_breadth(index, config["kind"], value)
            _, found = index.search(queries, 10)
            latency = single_query_latency(index, queries[:n_latency])
            rows.append({"breadth": value, "recall_at_10": recall_at_k(found, truth), **latency})
            log.info("%s %s=%d: %s", config["label"], "ef" if config["kind"] == "hnsw" else "nprobe",
                     value, rows[-1])
    finally:
        faiss.omp_set_num_threads(threads)
    out["search"] = rows
    return out


def tune(
    kind: str, dim: int, size: int, configs: Sequence[str], *, n_queries: int = 300,
    n_latency: int = 200, on_config: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """Each ANN config built over the same ``size`` vectors and measured against exact search."""
    base, queries = make_data(kind, size, dim, n_queries)
    flat = faiss.IndexFlatIP(dim)
    flat.add(base)
    _, truth = flat.search(queries, 10)
    del flat
    results = []
    for spec in configs:
        result = {"data": kind, "dim": dim, **tune_one(parse_ann_config(spec), base, queries, truth,
                                                       n_latency)}
        results.append(result)
        if on_config is not None:
            on_config(result)
    return results


def tune_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One table row per search breadth of a tuned config."""
    return [
        {
            "config": result["label"],
            "n": result["size"],
            "breadth": r["breadth"],
            "recall@10": r["recall_at_10"],
            "p50 ms": r["p50_ms"],
            "p95 ms": r["p95_ms"],
            "CPU p50 ms": r["cpu_p50_ms"],
            "build s": result["build_s"],
            "RSS MB": result["rss_mb"],
        }
        for r in result["search"]
    ]
