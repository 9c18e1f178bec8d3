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

import numpy as np

from bench import synthetic
from bench.common import (
    SAMPLE,
    markdown_table,
    merge_result,
    percentiles_ms,
    watch_memory,
    write_result,
)
from bench.xquad import LANGS, load_encoders, load_xquad

log = logging.getLogger(__name__)

PAPER = next(SAMPLE.rglob("002_*.txt"))  # the Chinese paper: the sample corpus's longest
PAPERS = SAMPLE / "papers" if (SAMPLE / "papers").is_dir() else SAMPLE


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished children (parsers)."""
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Run ``fn`` once: (seconds, peak RSS above start in MiB, its result)."""
    with watch_memory() as mem:
        start = time.perf_counter()
        out = fn()
        seconds = time.perf_counter() - start
    return seconds, mem.peak_mb - mem.start_mb, out


def _seconds(fn: Callable[[], Any]) -> float:
    """Wall seconds of one call."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


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


# ---- ingest + index vs the plain sentence-transformers pipeline (the peer) ---------------
#: Real papers for the ingest part (from ../shared/realdocs), beside the sample corpus: PDFs
#: with references, captions and two languages, so parsing costs what it costs in practice.
REALDOCS = ("en_tableformer_acl2022.pdf", "zh_nndl_ch6_rnn_textbook.pdf")


def ingest_files(quick: bool) -> list[Path]:
    """The sample corpus's papers plus (unless quick) two real PDFs, when ../shared is there."""
    from bench.common import SHARED

    files = sorted(PAPERS.glob("*.txt"))
    real = [SHARED / "realdocs" / name for name in REALDOCS[: 1 if quick else None]]
    return files + [p for p in real if p.is_file()]


class PlainPipeline:
    """The peer: what a user of txtai or LangChain gets from the same model, fp32.

    Parse every file (the same reader, so both sides embed the same passages), embed the
    passages with sentence-transformers (``passage:`` prompt, its default batch of 32), and
    add them to a FAISS inner-product index.
    """

    def __init__(self) -> None:
        from sentence_transformers import SentenceTransformer

        from paperbridge.index.e5 import ensure_e5_folder

        self.model = SentenceTransformer(str(ensure_e5_folder()), device="cpu")
        self.model.encode(["warm up"], prompt_name="passage")

    def run(self, files: Sequence[Path]) -> dict[str, float]:
        """Parse, embed and index ``files``: seconds of each stage and the passage count."""
        import faiss

        from paperbridge.ingest import read_document

        start, start_cpu = time.perf_counter(), cpu_seconds()
        texts = [p.text for f in files for p in read_document(f).passages]
        parsed = time.perf_counter()
        vectors = self.model.encode(texts, prompt_name="passage", batch_size=32,
                                    normalize_embeddings=True, convert_to_numpy=True)
        embedded = time.perf_counter()
        index = faiss.IndexFlatIP(vectors.shape[1])
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        done = time.perf_counter()
        return {"passages": float(len(texts)), "peer_s": done - start,
                "peer_cpu_s": cpu_seconds() - start_cpu, "peer_parse_s": parsed - start,
                "peer_embed_s": embedded - parsed, "peer_index_s": done - embedded}


#: Library.add with one lever undone at a time (the shipped add is "shipped"), timed in the
#: same round as the peer so that the ratios between them hold under any load.
VARIANTS: dict[str, dict[str, Any]] = {
    "shipped": {},
    "files read first": {"read_first": True},  # read every file, then embed (before issue 13)
    "jieba on the critical path": {"jieba_first": True},  # dictionary loaded in front of the add
    "e5 on every kind": {"config": {"answers_only": False}},
    "no stored sentences": {"config": {"sentence_vectors": False}},
    "e5 on intra-op threads": {"e5_split": True},  # each passage on both cores (before f94e7ab)
}


def _forget_jieba() -> None:
    """Make the next add load jieba's dictionary as a fresh process (the CLI) does."""
    from paperbridge.index import lexical

    lexical._jieba_tokenizer.clear()


def ours_once(files: Sequence[Path], encoders: Sequence[Any], work: Path, *, read_first: bool = False,
              jieba_first: bool = False, config: dict[str, Any] | None = None,
              e5_split: bool = False) -> dict[str, float]:
    """Library.add of the files into a fresh library (parse, every encoder, FAISS, BM25, SQLite),
    as a fresh process pays for it (jieba's dictionary included)."""
    from paperbridge.index import IndexConfig, Library, lexical
    from paperbridge.ingest.budget import BoundedReader

    if e5_split:
        encoders = [_split_twin(e) for e in encoders]
    shutil.rmtree(work, ignore_errors=True)
    _forget_jieba()
    cfg = IndexConfig(encoders=tuple(e.name for e in encoders), **(config or {}))
    lib = Library.open(work, cfg, create=True, encoders=list(encoders))

    def add() -> None:
        if jieba_first:
            lexical.tokenize("装载词典")
        if read_first:
            with BoundedReader() as reader:
                lib.add_documents([reader.read(f) for f in files])
        else:
            lib.add(list(files))

    start_cpu = cpu_seconds()
    add_s, add_mb, _ = timed(add)
    return {"add_passages": float(len(lib)), "add_s": add_s, "add_cpu_s": cpu_seconds() - start_cpu,
            "add_peak_mb": add_mb}


_TWINS: dict[str, Any] = {}


def _split_twin(encoder: Any) -> Any:
    """The same ONNX e5 running each passage on every core (intra-op threads) instead of one
    passage per core; any other encoder as it is. Loaded once and warmed."""
    from paperbridge.index.onnx import OnnxE5Encoder, onnx_folder
    from paperbridge.index.runtime import model_settings

    if not isinstance(encoder, OnnxE5Encoder):
        return encoder
    if encoder.name not in _TWINS:
        twin = OnnxE5Encoder(onnx_folder(), encoder.runtime, threads=model_settings().threads,
                             side_by_side=False)
        twin.encode_passages(["warm up", "预热"])
        _TWINS[encoder.name] = twin
    return _TWINS[encoder.name]


def levers_once(texts: Sequence[str], kinds: Sequence[str], encoders: Sequence[Any]) -> dict[str, float]:
    """The encoders alone on the same passages: each bare encoder, e5 on answer kinds only and
    in calls of 64 (before) and 256 passages (now), USE on 1 and 2 BLAS threads, USE on the
    answer passages' sentences (what the writer now stores)."""
    from paperbridge.index.fanout import BATCH
    from paperbridge.index.sentences import split
    from paperbridge.index.use import USEEncoder
    from paperbridge.ingest.document import ANSWER_KINDS

    answers = [t for t, k in zip(texts, kinds, strict=True) if k in ANSWER_KINDS]
    sentences = [t[a:b] for t in answers for a, b in split([t])[0]]
    row: dict[str, float] = {"answer_share": len(answers) / max(1, len(texts)),
                             "sentences": float(len(sentences))}
    for e in encoders:
        name = synthetic_short(e.name)
        row[f"{name}_s"] = _cpu_and_wall(_bind(e.encode_passages, list(texts)), row, name)
        if "e5" in name:
            row[f"{name}_answers_only_s"] = _cpu_and_wall(
                _bind(e.encode_passages, answers), row, f"{name}_answers_only")
            for size in (64, BATCH):
                row[f"{name}_calls_of_{size}_s"] = _cpu_and_wall(
                    _bind(_in_calls, e, answers, size), row, f"{name}_calls_of_{size}")
        if name == "USE":
            row["USE_sentences_s"] = _cpu_and_wall(_bind(e.encode_passages, sentences), row, "USE_sentences")
            two = USEEncoder(threads=2)
            two.encode_passages(["warm up"])
            row["USE_2_threads_s"] = _cpu_and_wall(_bind(two.encode_passages, list(texts)), row,
                                                   "USE_2_threads")
    return row


def _in_calls(encoder: Any, texts: Sequence[str], size: int) -> None:
    for start in range(0, len(texts), size):
        encoder.encode_passages(texts[start:start + size])


def _cpu_and_wall(fn: Callable[[], Any], row: dict[str, float], name: str) -> float:
    """Wall seconds of ``fn``; its CPU seconds go into ``row[name + '_cpu_s']``."""
    start_cpu = cpu_seconds()
    seconds, _, _ = timed(fn)
    row[f"{name}_cpu_s"] = cpu_seconds() - start_cpu
    return seconds


def ingest_round(files: Sequence[Path], peer: PlainPipeline, encoders: Sequence[Any],
                 work: Path, swap: bool) -> dict[str, float]:
    """The peer and every variant of PaperBridge on the same files, back to back (the order
    reversed every other round)."""
    steps: list[tuple[str, Callable[[], dict[str, float]]]] = [("peer", lambda: peer.run(files))]
    steps += [(name, _bind(_variant, files, encoders, work, kw)) for name, kw in VARIANTS.items()]
    row: dict[str, float] = {}
    for name, step in reversed(steps) if swap else steps:
        found = step()
        row.update(found if name in ("peer", "shipped") else
                   {f"{name}: {k}": v for k, v in found.items()})
    # Passages per second on both sides (Library.add may cut a few more passages).
    row["vs_plain_st"] = (row["add_passages"] / row["add_s"]) / (row["passages"] / row["peer_s"])
    row["vs_plain_st_cpu"] = (row["add_passages"] / row["add_cpu_s"]) / (row["passages"] / row["peer_cpu_s"])
    for name in list(VARIANTS)[1:]:
        row[f"{name}: / shipped"] = row[f"{name}: add_s"] / row["add_s"]
        row[f"{name}: / shipped cpu"] = row[f"{name}: add_cpu_s"] / row["add_cpu_s"]
    return row


def _variant(files: Sequence[Path], encoders: Sequence[Any], work: Path,
             options: dict[str, Any]) -> dict[str, float]:
    return ours_once(files, encoders, work, **options)


def synthetic_short(name: str) -> str:
    """Short display name of an encoder (e5, USE, e5@onnx-int8)."""
    from bench.xquad import SHORT

    model, _, runtime = name.partition("@")
    return SHORT.get(model, model) + (f"@{runtime}" if runtime else "")


def run_ingest(args: argparse.Namespace) -> None:
    """PaperBridge's Library.add against the plain sentence-transformers fp32 pipeline."""
    from paperbridge.ingest import read_document

    encoders = _encoders(args)
    peer = PlainPipeline()
    files = ingest_files(args.quick)
    passages = [p for f in files for p in read_document(f).passages]
    texts, kinds = [p.text for p in passages], [p.kind for p in passages]
    rounds = []
    with tempfile.TemporaryDirectory(prefix="pb-bench-") as tmp:
        for i in range(args.runs):
            rounds.append(ingest_round(files, peer, encoders, Path(tmp) / "lib", swap=i % 2 == 1))
            log.info("round %d: %s", i, rounds[-1])
    lev = levers_once(texts, kinds, encoders)
    med = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    n = med["passages"]
    summary = {
        "files": [f.name for f in files], "passages": int(n), "runs": args.runs,
        "encoders": [e.name for e in encoders],
        "vs_plain_st": med["vs_plain_st"],  # median over rounds: our passages/s over the peer's
        "vs_plain_st_rounds": [r["vs_plain_st"] for r in rounds],
        "vs_plain_st_cpu": med["vs_plain_st_cpu"],  # the same by CPU time (parsers included)
        "peer p/s": n / med["peer_s"], "Library.add p/s": med["add_passages"] / med["add_s"],
        "peer parse share": med["peer_parse_s"] / med["peer_s"],
        "st fp32 alone p/s": n / med["peer_embed_s"],
        **{f"{synthetic_short(e.name)} alone p/s": n / lev[f"{synthetic_short(e.name)}_s"]
           for e in encoders},
    }
    undone = {name: {"seconds / shipped": med[f"{name}: / shipped"],
                     "cpu / shipped": med[f"{name}: / shipped cpu"]} for name in list(VARIANTS)[1:]}
    print(markdown_table([{k: v for k, v in summary.items()
                           if k not in ("files", "encoders", "vs_plain_st_rounds")}]))
    print(markdown_table([{"lever undone": k, **v} for k, v in undone.items()]))
    write_result("speed_ingest" + ("_quick" if args.quick else ""),
                 {**summary, "levers_undone": undone, "medians": med, "levers": lev, "rounds": rounds})


# ---- ask latency at 10k / 100k passages -------------------------------------------------
def _questions(n: int) -> list[str]:
    """``n`` XQuAD questions, alternating English and Chinese."""
    en, zh = (load_xquad(lang)[1] for lang in LANGS)
    return [q.text for pair in zip(en[::7], zh[3::7], strict=False) for q in pair][:n]


def ask_round(
    bridge: Any, retriever: Any, encoders: Sequence[Any], questions: Sequence[str]
) -> dict[str, float]:
    """One pass over the questions: p50/p95 of ask, of encoding alone, of retrieval alone.

    ``retriever`` is a second retriever over the same library, warmed like the bridge's, so
    retrieval alone pays what ``ask`` pays for it (a new question's sentences included).
    """
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


_WARMUP = 3


def ask_at(size: int, encoders: Sequence[Any], runs: int, n_questions: int) -> dict[str, Any]:
    """Warm ask latency on a synthetic library of ``size`` passages (median over runs)."""
    from paperbridge.qa import PaperBridge
    from paperbridge.qa.retrieve import Retriever

    path, build = synthetic.build_library(size, encoders)
    # Every round asks questions never asked before: a repeated question would find its
    # candidate sentences already embedded in the sentence cache.
    questions = _questions(_WARMUP + n_questions * runs)
    warmup, fresh = questions[:_WARMUP], questions[_WARMUP:]
    open_s, open_mb, bridge = timed(lambda: PaperBridge(path, encoders=list(encoders), create=False))
    first_s, first_mb, _ = timed(lambda: bridge.ask(warmup[0]))  # includes calibration
    retriever = Retriever(bridge.library, bridge.config)
    for q in warmup:
        bridge.ask(q)
        retriever.search(q, bridge.config.top_k)
    rounds = iter([fresh[i::runs] for i in range(runs)])
    with watch_memory() as mem:
        med = median_runs(runs, lambda: ask_round(bridge, retriever, encoders, next(rounds)))
        again = percentiles_ms([_seconds(_bind(bridge.ask, q)) for q in fresh[:n_questions]])
    return {
        "passages": len(bridge.library),
        "questions": n_questions,
        "runs": runs,
        "fresh_questions": True,
        **med,
        "ask_again_p50_ms": again["p50_ms"],
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
        "ask_again_p50_ms",
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
