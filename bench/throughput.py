"""Encoder, ingest, ask and incremental-add timings with the real models (parts of bench.speed).

Every timed step is repeated ``--runs`` times and the median is reported; memory is the peak
RSS above the step's starting RSS, sampled by :func:`bench.common.watch_memory`.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import synthetic
from bench.common import (
    SAMPLE,
    markdown_table,
    merge_result,
    percentiles_ms,
    watch_memory,
    write_result,
)
from bench.xquad import LANGS, load_encoders, load_xquad, write_documents

log = logging.getLogger(__name__)

PAPER = next(SAMPLE.rglob("002_*.txt"))  # the Chinese paper: the sample corpus's longest
PAPERS = SAMPLE / "papers" if (SAMPLE / "papers").is_dir() else SAMPLE


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Run ``fn`` once: (seconds, peak RSS above start in MiB, its result)."""
    with watch_memory() as mem:
        start = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - start
    return seconds, mem.peak_mb - mem.start_mb, out


def _bind(fn: Callable[..., Any], *args: Any) -> Callable[[], Any]:
    """``fn`` with its arguments fixed now (a loop-safe lambda)."""
    return lambda: fn(*args)


def median_runs(runs: int, fn: Callable[[], dict[str, float]]) -> dict[str, float]:
    """Call ``fn`` ``runs`` times; the median of every number it returns."""
    results = [fn() for _ in range(runs)]
    return {k: statistics.median(r[k] for r in results) for k in results[0]}


def _encoders(args: argparse.Namespace) -> list[Any]:
    encoders = load_encoders([s for s in args.encoders.split(",") if s])
    for e in encoders:  # first calls pay for lazy initialization; keep them out of the timings
        e.encode_passages(["warm up", "预热"])
        e.encode_queries(["warm up?"])
    return encoders


def _open(path: Path, encoders: Sequence[Any], create: bool) -> Any:
    from paperbridge.index import IndexConfig, Library

    config = IndexConfig(encoders=tuple(e.name for e in encoders))
    return Library.open(path, config, create=create, encoders=list(encoders))


# ---- ingest + index vs the bare encoders ------------------------------------------------
def ingest_once(folder: Path, encoders: Sequence[Any], work: Path) -> dict[str, float]:
    """Library.add of a folder into a fresh library, then the bare encoders on its passages."""
    shutil.rmtree(work, ignore_errors=True)
    lib = _open(work, encoders, create=True)
    add_s, add_mb, _ = timed(lambda: lib.add([folder]))
    texts = [p.text for p in lib.passages(lib.passage_ids())]
    row = {"passages": float(len(texts)), "add_s": add_s, "add_peak_mb": add_mb}
    for e in encoders:
        name = synthetic_short(e.name)
        row[f"{name}_s"], row[f"{name}_peak_mb"], _ = timed(_bind(e.encode_passages, texts))
    bare = sum(row[f"{synthetic_short(e.name)}_s"] for e in encoders)
    row["bare_all_s"] = bare
    row["add_vs_bare"] = bare / add_s
    return row


def synthetic_short(name: str) -> str:
    """Short display name of an encoder (e5, USE)."""
    from bench.xquad import SHORT

    return SHORT.get(name, name)


def run_ingest(args: argparse.Namespace) -> None:
    """Throughput of Library.add beside the bare encoders, on the sample corpus and XQuAD."""
    encoders = _encoders(args)
    rows = []
    with tempfile.TemporaryDirectory(prefix="pb-bench-") as tmp:
        xquad = Path(tmp) / "xquad-docs"
        paragraphs = 40 if args.quick else args.xquad_paragraphs
        write_documents(xquad, {lang: load_xquad(lang, paragraphs)[0] for lang in LANGS})
        corpora = [("sample corpus", PAPERS, args.runs), ("XQuAD en+zh", xquad, args.xquad_runs)]
        for name, folder, runs in corpora:
            med = median_runs(runs, _bind(ingest_once, folder, encoders, Path(tmp) / "lib"))
            n = med["passages"]
            row: dict[str, Any] = {"corpus": name, "passages": int(n), "runs": runs}
            for e in encoders:
                short = synthetic_short(e.name)
                row[f"{short} alone p/s"] = n / med[f"{short}_s"]
            row["all encoders p/s"] = n / med["bare_all_s"]
            row["Library.add p/s"] = n / med["add_s"]
            row["add / bare"] = med["add_vs_bare"]
            row["add peak MB"] = med["add_peak_mb"]
            rows.append({**row, "raw_medians": med})
            log.info("%s", row)
    print(markdown_table([{k: v for k, v in r.items() if k != "raw_medians"} for r in rows]))
    write_result("speed_ingest" + ("_quick" if args.quick else ""), {"rows": rows})


# ---- ask latency at 10k / 100k passages -------------------------------------------------
def _questions(n: int) -> list[str]:
    """``n`` XQuAD questions, alternating English and Chinese."""
    en, zh = (load_xquad(lang)[1] for lang in LANGS)
    return [q.text for pair in zip(en[::7], zh[3::7], strict=False) for q in pair][:n]


def ask_round(bridge: Any, encoders: Sequence[Any], questions: Sequence[str]) -> dict[str, float]:
    """One pass over the questions: p50/p95 of ask, of encoding alone, of retrieval alone."""
    from paperbridge.qa.retrieve import Retriever

    retriever = Retriever(bridge.library, bridge.config)
    ask_t, ask_cpu, enc_t, ret_t = [], [], [], []
    for q in questions:
        start, start_cpu = time.perf_counter(), time.process_time()
        bridge.ask(q)
        ask_t.append(time.perf_counter() - start)
        ask_cpu.append(time.process_time() - start_cpu)
        start = time.perf_counter()
        vecs = {e.name: e.encode_queries([q])[0] for e in encoders}
        enc_t.append(time.perf_counter() - start)
        start = time.perf_counter()
        retriever.search(q, bridge.config.top_k, vectors=vecs)  # what ask does after encoding
        ret_t.append(time.perf_counter() - start)
    out = {}
    for name, times in (("ask", ask_t), ("encode", enc_t), ("retrieve", ret_t)):
        p = percentiles_ms(times)
        out[f"{name}_p50_ms"], out[f"{name}_p95_ms"] = p["p50_ms"], p["p95_ms"]
    out["ask_cpu_p50_ms"] = percentiles_ms(ask_cpu)["p50_ms"]  # all threads of the process
    return out


def ask_at(size: int, encoders: Sequence[Any], runs: int, n_questions: int) -> dict[str, Any]:
    """Warm ask latency on a synthetic library of ``size`` passages (median over runs)."""
    from paperbridge.qa import PaperBridge

    path, build = synthetic.build_library(size, encoders)
    questions = _questions(n_questions)
    open_s, open_mb, bridge = timed(lambda: PaperBridge(path, encoders=list(encoders), create=False))
    first_s, first_mb, _ = timed(lambda: bridge.ask(questions[0]))  # includes calibration
    for q in questions[:3]:
        bridge.ask(q)
    with watch_memory() as mem:
        med = median_runs(runs, lambda: ask_round(bridge, encoders, questions))
    return {
        "passages": len(bridge.library),
        "questions": len(questions),
        "runs": runs,
        **med,
        "first_ask_s": first_s,
        "first_ask_peak_mb": first_mb,
        "open_s": open_s,
        "open_peak_mb": open_mb,
        "asking_peak_mb": mem.peak_mb - mem.start_mb,
        "rss_mb": mem.end_mb,
        "build": build,
    }


def run_ask(args: argparse.Namespace) -> None:
    """ask p50/p95, warm, at 10k and 100k passages (synthetic library, real query encoders)."""
    encoders = _encoders(args)
    sizes = [2_000] if args.quick else [int(s) for s in args.ask_sizes.split(",")]
    name = "speed_ask" + ("_quick" if args.quick else "")
    cols = [
        "passages",
        "ask_p50_ms",
        "ask_p95_ms",
        "ask_cpu_p50_ms",
        "encode_p50_ms",
        "retrieve_p50_ms",
        "retrieve_p95_ms",
        "first_ask_s",
        "asking_peak_mb",
        "rss_mb",
    ]
    for size in sizes:
        row = ask_at(size, encoders, args.runs, 20 if args.quick else 30)
        merge_result(name, "rows", row, ("passages",))  # saved per size: 100k takes long
        print(markdown_table([{c: row[c] for c in cols}]), flush=True)


# ---- incremental add of one paper ------------------------------------------------------
def incremental_once(base: Path | None, encoders: Sequence[Any], work: Path) -> dict[str, float]:
    """Add PAPER to a copy of ``base`` (or an empty library); time beside its own encoding."""
    from paperbridge.ingest import read_document

    shutil.rmtree(work, ignore_errors=True)
    if base is not None:
        shutil.copytree(base, work)
    lib = _open(work, encoders, create=base is None)
    add_s, add_mb, _ = timed(lambda: lib.add([PAPER]))
    texts = [p.text for p in read_document(PAPER).passages]
    enc_s, enc_mb, _ = timed(lambda: [e.encode_passages(texts) for e in encoders])
    return {
        "passages": float(len(texts)),
        "add_s": add_s,
        "add_peak_mb": add_mb,
        "encode_s": enc_s,
        "encode_peak_mb": enc_mb,
        "library_after": float(len(lib)),
    }


def run_incremental(args: argparse.Namespace) -> None:
    """Adding one paper to a 10k-passage library (and to an empty one), beside its encoding."""
    encoders = _encoders(args)
    size = 2_000 if args.quick else 10_000
    base, _ = synthetic.build_library(size, encoders)
    rows = []
    with tempfile.TemporaryDirectory(prefix="pb-bench-") as tmp:
        for label, lib in (("empty library", None), (f"{size}-passage library", base)):
            once = _bind(incremental_once, lib, encoders, Path(tmp) / "l")
            med = median_runs(args.runs, once)
            rows.append(
                {
                    "into": label,
                    "paper": PAPER.name,
                    "passages": int(med["passages"]),
                    "add s": med["add_s"],
                    "encode s": med["encode_s"],
                    "add / encode": med["add_s"] / med["encode_s"],
                    "add peak MB": med["add_peak_mb"],
                    "runs": args.runs,
                    "raw_medians": med,
                }
            )
    print(markdown_table([{k: v for k, v in r.items() if k != "raw_medians"} for r in rows]))
    write_result("speed_incremental" + ("_quick" if args.quick else ""), {"rows": rows})
