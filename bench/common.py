"""What every benchmark shares: the machine record, result files, tables, timing and memory.

A number without the machine it was measured on is not worth quoting, so every result file
carries the CPU model, core count, memory, date and git commit beside the numbers.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import re
import statistics
import subprocess
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
#: Where results are written; PAPERBRIDGE_BENCH_RESULTS sends a trial run elsewhere.
RESULTS = Path(os.environ.get("PAPERBRIDGE_BENCH_RESULTS", ROOT / "bench" / "results"))
SHARED = ROOT.parent / "shared"
XQUAD = SHARED / "data" / "xquad"
SAMPLE = ROOT / "ingest" / "sample" / "papers"
CACHE = Path(os.environ.get("PAPERBRIDGE_BENCH_CACHE", "/tmp/paperbridge-bench"))


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (falls back to platform.processor())."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_commit() -> str:
    """HEAD's short hash, with ``-dirty`` when bench/ or the packages have uncommitted edits."""

    def run(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    head = run("rev-parse", "--short", "HEAD") or "unknown"
    dirty = run("status", "--porcelain", "--", "bench", "index", "ingest", "qa")
    return head + ("-dirty" if dirty else "")


def machine() -> dict[str, Any]:
    """The machine record written with every result."""
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }


def write_result(name: str, payload: dict[str, Any]) -> Path:
    """Write ``bench/results/<name>.json`` with machine, date and commit; return its path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {
        "benchmark": name,
        "date": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "machine": machine(),
        **payload,
    }
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    return path


def read_result(name: str) -> dict[str, Any]:
    """A result file written earlier (empty dict when there is none)."""
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


def merge_result(name: str, key: str, item: dict[str, Any], ident: Sequence[str]) -> Path:
    """Add ``item`` to the list ``key`` of a result file, replacing the entry with the same ident.

    Lets one part of a long benchmark be rerun without losing the others' numbers.
    """
    old = read_result(name).get(key, [])
    same = tuple(item[f] for f in ident)
    items = [x for x in old if tuple(x.get(f) for f in ident) != same] + [item]
    return write_result(name, {key: items})


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    """Rows of dicts as a GitHub markdown table (floats to 3 decimals)."""
    if not rows:
        return "(no rows)"
    cols = list(columns or rows[0].keys())

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3f}" if abs(value) < 100 else f"{value:.0f}"
        return str(value)

    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(cell(r.get(c, "")) for c in cols) + " |" for r in rows]
    return "\n".join(lines)


def percentiles_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50/p95/mean of durations given in seconds, in milliseconds."""
    ms = np.asarray(seconds, dtype=np.float64) * 1000.0
    return {
        "p50_ms": float(np.percentile(ms, 50)),
        "p95_ms": float(np.percentile(ms, 95)),
        "mean_ms": float(ms.mean()),
        "n": int(ms.size),
    }


def median_of(runs: int, fn: Callable[[], float]) -> tuple[float, list[float]]:
    """Call ``fn`` (returning a measurement) ``runs`` times; return the median and all values."""
    values = [fn() for _ in range(runs)]
    return statistics.median(values), values


def rss_mb() -> float:
    """This process's resident set size in MiB."""
    return float(psutil.Process().memory_info().rss) / 2**20


@dataclass
class MemoryWatch:
    """Peak RSS during a block, sampled by a thread (getrusage only knows the process peak)."""

    interval: float = 0.02
    start_mb: float = 0.0
    peak_mb: float = 0.0
    end_mb: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak_mb = max(self.peak_mb, rss_mb())

    def as_dict(self) -> dict[str, float]:
        """Start, peak and end RSS plus the deltas, in MiB."""
        return {
            "rss_start_mb": round(self.start_mb, 1),
            "rss_peak_mb": round(self.peak_mb, 1),
            "rss_end_mb": round(self.end_mb, 1),
            "rss_delta_mb": round(self.end_mb - self.start_mb, 1),
            "peak_delta_mb": round(self.peak_mb - self.start_mb, 1),
        }


@contextmanager
def watch_memory(interval: float = 0.02) -> Iterator[MemoryWatch]:
    """Measure start, peak and end RSS of the enclosed block."""
    watch = MemoryWatch(interval=interval)
    watch.start_mb = watch.peak_mb = rss_mb()
    thread = threading.Thread(target=watch._sample, daemon=True)
    thread.start()
    try:
        yield watch
    finally:
        watch._stop.set()
        thread.join()
        watch.end_mb = rss_mb()
        watch.peak_mb = max(watch.peak_mb, watch.end_mb)


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` holds the elapsed seconds."""
    box: list[float] = []
    start = time.perf_counter()
    try:
        yield box
    finally:
        box.append(time.perf_counter() - start)


_MARK = re.compile(r"\s*\[\d+\]")
_SPACE = re.compile(r"\s+")


def squash(text: str) -> str:
    """NFKC with every whitespace character removed: how gold spans are compared."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", text))


def unmarked(answer_text: str) -> str:
    """An answer's text without its citation markers ("... [1]")."""
    return _MARK.sub("", answer_text)
