"""Speed and scale benchmarks (issue 6): FAISS at 1M, encoders, ingest, ask, incremental add.

Run ``.venv/bin/python -m bench.speed`` (all parts) or pick parts with ``--part``; ``--quick``
shrinks every size for a smoke run. Each part prints a markdown table and writes
``bench/results/speed_<part>.json``.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

import faiss

from bench import ann
from bench.common import markdown_table, write_result

log = logging.getLogger("bench.speed")


def run_faiss(quick: bool) -> None:
    """Flat vs HNSW at growing sizes, random and clustered data, dims 384 (e5) and 512 (USE)."""
    sizes = [10_000, 50_000] if quick else [10_000, 50_000, 100_000, 200_000, 500_000, 1_000_000]
    # HNSW build at 1M takes minutes per case on 2 cores: random 512-d stops at 200k.
    cases = [("clustered", 384, None), ("random", 384, None), ("clustered", 512, None),
             ("random", 512, 200_000)]
    results, rows = [], []
    for kind, dim, cap in cases[:2] if quick else cases:
        these = [s for s in sizes if cap is None or s <= cap]
        result = ann.grow_and_measure(kind, dim, these, n_queries=200 if quick else 500,
                                      n_latency=100 if quick else 200)
        result["ann_threshold_measured"] = ann.ann_threshold(result["steps"])
        result["ann_threshold_interpolated"] = ann.interpolated_threshold(result["steps"])
        result["faiss_threads"] = faiss.omp_get_max_threads()
        results.append(result)
        rows += ann.summary_rows(result)
        print(markdown_table(ann.summary_rows(result)), flush=True)
        print(f"flat p50 <= 20 ms up to {result['ann_threshold_measured']} measured, "
              f"~{result['ann_threshold_interpolated']} interpolated", flush=True)
        name = "speed_faiss" + ("_quick" if quick else "")
        write_result(name, {"quick": quick, "cases": results})
    print(markdown_table(rows))


PARTS: dict[str, Callable[[bool], None]] = {"faiss": run_faiss}


def main(argv: list[str] | None = None) -> None:
    """Parse options and run the chosen parts."""
    parser = argparse.ArgumentParser(prog="python -m bench.speed", description=__doc__)
    parser.add_argument("--part", action="append", choices=sorted(PARTS),
                        help="run only this part (repeatable); default: all")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for part in args.part or list(PARTS):
        log.info("part %s", part)
        PARTS[part](args.quick)


if __name__ == "__main__":
    main()
