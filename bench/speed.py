"""Speed and scale benchmarks (issue 6): FAISS at 1M, encoders, ingest, ask, incremental add.

Run ``.venv/bin/python -m bench.speed`` (all parts) or pick parts with ``--part``; ``--quick``
shrinks every size for a smoke run. Each part prints a markdown table and writes
``bench/results/speed_<part>.json``.
"""

from __future__ import annotations

import argparse
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import faiss

from bench import ann, throughput
from bench.common import RESULTS, ROOT, markdown_table, merge_result, read_result, write_result
from paperbridge.index.runtime import cache_from_env, configure_process

log = logging.getLogger("bench.speed")


#: (data kind, dim, HNSW grown up to). Exact search is measured to 1M in every case; the HNSW
#: build is the slow part (100k clustered vectors took 96 s, 50k random ones 280 s on the 2
#: shared cores), so HNSW stops early; pass clustered:384:1000000 for the full 1M build.
FAISS_CASES = (
    "clustered:384:200000",
    "clustered:512:50000",
    "random:384:50000",
)


def _save_faiss(name: str, result: dict[str, Any]) -> None:
    result["ann_threshold_measured"] = ann.ann_threshold(result["steps"])
    result["ann_threshold_interpolated"] = ann.interpolated_threshold(result["steps"])
    result["ann_threshold_cpu_measured"] = ann.ann_threshold(result["steps"], key="cpu_p50_ms")
    result["ann_threshold_cpu_interpolated"] = ann.interpolated_threshold(result["steps"], key="cpu_p50_ms")
    result["faiss_threads"] = faiss.omp_get_max_threads()
    merge_result(name, "cases", result, ("kind", "dim", "faiss_threads"))


def run_faiss(quick: bool, cases: Sequence[str] = FAISS_CASES, threads: int | None = None) -> None:
    """Flat vs HNSW at growing sizes, random and clustered data, dims 384 (e5) and 512 (USE)."""
    if threads:
        faiss.omp_set_num_threads(threads)
    sizes = [10_000, 50_000] if quick else [10_000, 50_000, 100_000, 200_000, 500_000, 1_000_000]
    name = "speed_faiss" + ("_quick" if quick else "")
    for case in cases[:2] if quick else cases:
        kind, dim, hnsw_max = case.split(":")
        result = ann.grow_and_measure(
            kind,
            int(dim),
            sizes,
            hnsw_max=int(hnsw_max),
            n_queries=200 if quick else 300,
            n_latency=100,
            on_step=lambda r: _save_faiss(name, r),
        )
        _save_faiss(name, result)
        print(markdown_table(ann.summary_rows(result)), flush=True)
        print(
            f"flat p50 <= 20 ms up to {result['ann_threshold_measured']} measured, "
            f"~{result['ann_threshold_interpolated']} interpolated; by CPU time "
            f"{result['ann_threshold_cpu_measured']} / ~{result['ann_threshold_cpu_interpolated']}",
            flush=True,
        )
    print(markdown_table([r for c in read_result(name)["cases"] for r in ann.summary_rows(c)]))


#: ANN configurations tuned at 1M (``--ann-config``): the library's HNSW (M=32, efConstruction
#: 64), a better-built graph, and IVF-flat, which scans a few clusters exactly.
ANN_CONFIGS = ("ivf:4096", "hnsw:32:64", "hnsw:32:128", "hnsw:48:128")


def run_ann(quick: bool, configs: Sequence[str], size: int, threads: int | None) -> None:
    """Recall@10 and latency of each ANN config at ``size`` clustered 384-d vectors."""
    if threads:
        faiss.omp_set_num_threads(threads)
    size = 50_000 if quick else size
    name = "speed_ann" + ("_quick" if quick else "")

    def save(result: dict[str, Any]) -> None:
        merge_result(name, "configs", result, ("label", "size", "data", "dim"))
        print(markdown_table(ann.tune_rows(result)), flush=True)

    ann.tune("clustered", 384, size, configs, on_config=save)
    print(markdown_table([r for c in read_result(name)["configs"] for r in ann.tune_rows(c)]))


# ---- the curve: passages against build time, memory and ask latency ---------------------
def _faiss_cpu_ms(kind: str = "clustered", dim: int = 384) -> dict[int, float]:
    """Exact (flat) search CPU ms of one query, one FAISS thread, by index size."""
    for case in read_result("speed_faiss").get("cases", []):
        if (case["kind"], case["dim"], case.get("faiss_threads")) == (kind, dim, 1):
            return {s["size"]: s["flat"]["cpu_p50_ms"] for s in case["steps"]}
    return {}


def _hnsw_cpu_ms(label: str = "hnsw:32:128", breadth: int = 512) -> tuple[float, float] | None:
    """(CPU ms, recall@10) of one HNSW search at 1M vectors (the library's settings)."""
    for config in read_result("speed_ann").get("configs", []):
        if config["label"] == label:
            for row in config["search"]:
                if row["breadth"] == breadth:
                    return row["cpu_p50_ms"], row["recall_at_10"]
    return None


def curve_rows() -> list[dict[str, Any]]:
    """Per library size of ``speed_ask.json``: writing it, its memory and disk, asking it.

    ``embed_h_extrapolated`` is the embedding the synthetic build skips (its vectors are
    replayed): the size over the measured ``Library.add`` rate of ``speed_ingest.json``.
    """
    rate = read_result("speed_ingest").get("Library.add p/s")
    flat = _faiss_cpu_ms()
    rows = []
    for row in sorted(read_result("speed_ask").get("rows", []), key=lambda r: r["passages"]):
        n, build = row["passages"], row.get("build", {})
        per_lang = n // 2
        rows.append({
            "passages": n,
            "write_s": build.get("seconds"),
            "write_peak_mb": build.get("memory", {}).get("peak_delta_mb"),
            "disk_mb": build.get("disk_mb"),
            "embed_h_extrapolated": n / rate / 3600 if rate else None,
            "open_s": row.get("open_s"),
            "rss_mb": row.get("rss_mb"),
            "ask_p50_ms": row["ask_p50_ms"],
            "ask_p95_ms": row["ask_p95_ms"],
            "encode_p50_ms": row.get("encode_p50_ms"),
            "retrieve_p50_ms": row.get("retrieve_p50_ms"),
            "index": "exact" if per_lang <= 100_000 else "HNSW",
            "flat_search_cpu_ms_per_pool": flat.get(per_lang),
        })
    return rows


def draw_curve(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Three panels over library size (log scale): time to build, memory, ask latency."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["passages"] for r in rows]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    build, memory, ask = axes
    build.plot(sizes, [r["write_s"] / 60 for r in rows], "o-", label="write the library (vectors replayed)")
    if rows and rows[0]["embed_h_extrapolated"] is not None:
        build.plot(sizes, [r["embed_h_extrapolated"] * 60 for r in rows], "s--",
                   label="+ embed with e5 and USE (at the measured add rate)")
    build.set_yscale("log")
    build.set_ylabel("minutes (log)")
    build.set_title("building", fontsize=10)
    memory.plot(sizes, [r["rss_mb"] / 1024 for r in rows], "o-", label="RSS while asking (models included)")
    memory.plot(sizes, [r["disk_mb"] / 1024 for r in rows], "s--", label="library on disk")
    memory.plot(sizes, [r["write_peak_mb"] / 1024 for r in rows], "^:", label="peak RSS while writing it")
    memory.set_ylabel("GB")
    memory.set_title("memory and disk", fontsize=10)
    ask.plot(sizes, [r["ask_p50_ms"] for r in rows], "o-", label="ask p50 (new questions)")
    ask.plot(sizes, [r["ask_p95_ms"] for r in rows], "o:", label="ask p95")
    ask.plot(sizes, [r["encode_p50_ms"] for r in rows], "s--", label="encoding the question (p50)")
    ask.axhline(150, color="grey", lw=0.8, ls="--", label="target: p50 150 ms at 100k")
    ask.set_ylabel("ms")
    ask.set_ylim(0, max(170, *(r["ask_p95_ms"] * 1.1 for r in rows)))
    ask.set_title("asking, warm (exact search, HNSW above 100k a language)", fontsize=9)
    for ax in axes:
        ax.set_xscale("log")
        ax.set_xlabel("passages in the library")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="upper left")
    machine = read_result("speed_ask").get("machine", {})
    fig.suptitle(f"PaperBridge on one machine ({machine.get('cores', '?')} cores, "
                 f"{machine.get('cpu_model', '?')}; synthetic libraries, real question encoders)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_curve(args: argparse.Namespace) -> None:
    """Collect the curve from the other parts' results: table, JSON and PNG (measures nothing)."""
    rows = curve_rows()
    hnsw = _hnsw_cpu_ms()
    print(markdown_table(rows))
    chart = RESULTS / "speed_curve.png"
    draw_curve(rows, chart)
    write_result("speed_curve", {"rows": rows, "hnsw_1m_cpu_ms_recall10": hnsw,
                                 "chart": str(chart.relative_to(ROOT)) if chart.is_relative_to(ROOT)
                                 else str(chart)})
    print(f"wrote {chart}")


PARTS: dict[str, Callable[[argparse.Namespace], None]] = {
    "ann": lambda a: run_ann(a.quick, a.ann_config or ANN_CONFIGS, a.ann_size, a.faiss_threads),
    "faiss": lambda a: run_faiss(a.quick, a.faiss_case or FAISS_CASES, a.faiss_threads),
    "ingest": lambda a: throughput.run_ingest(a),
    "ask": lambda a: throughput.run_ask(a),
    "incremental": lambda a: throughput.run_incremental(a),
    "curve": run_curve,  # last: it reads what the parts above wrote
}


def main(argv: list[str] | None = None) -> None:
    """Parse options and run the chosen parts."""
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__)
    parser.add_argument(
        "--part",
        action="append",
        choices=sorted(PARTS),
        help="run only this part (repeatable); default: all",
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--faiss-case",
        action="append",
        metavar="KIND:DIM:HNSW_MAX",
        help="e.g. clustered:512:1000000 (repeatable); default: " + " ".join(FAISS_CASES),
    )
    parser.add_argument(
        "--ann-config",
        action="append",
        metavar="SPEC",
        help="hnsw:M:EF_CONSTRUCTION or ivf:NLIST (repeatable); default: " + " ".join(ANN_CONFIGS),
    )
    parser.add_argument("--ann-size", type=int, default=1_000_000, help="vectors for the ann part")
    parser.add_argument("--faiss-threads", type=int, help="FAISS OpenMP threads (default: all cores)")
    parser.add_argument("--runs", type=int, default=3, help="repetitions of timed steps (median)")
    parser.add_argument("--xquad-runs", type=int, default=1, help="repetitions on XQuAD (slow)")
    parser.add_argument(
        "--xquad-paragraphs",
        type=int,
        default=100,
        help="XQuAD paragraphs per language for the ingest part (all: 240)",
    )
    parser.add_argument("--encoders", default="multilingual-e5-small@onnx-int8,use-multilingual-v3",
                        help="PaperBridge's encoders (the ingest peer is always e5 on torch fp32)")
    parser.add_argument("--ask-sizes", default="10000,100000",
                        help="library sizes for the ask part (the curve: 10000,100000,1000000)")
    args = parser.parse_args(argv)
    configure_process(cache=cache_from_env(os.environ))  # a benchmark is an edge, like the CLI
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", force=True)
    for part in args.part or list(PARTS):
        log.info("part %s", part)
        PARTS[part](args)


if __name__ == "__main__":
    main()
