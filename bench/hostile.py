"""Memory and time of hostile PDFs: decompression bombs and a shared huge content stream.

Each case runs one command in a fresh process and samples the resident memory of its whole
process tree (the command, the reading worker and its per-file children) every 20 ms:

* ``unbounded``: ``read_document`` called in-process, as ingestion did before reads were
  bounded (``paperbridge.ingest.budget``); not run for the 5 GiB bomb, which would take
  some 20 GB of a shared machine that way;
* ``add``: ``paperbridge add --model hash`` of the hostile file beside a good one, the way a
  user meets it (the good file must be added, the bad one reported by name).

RSS summed over the tree counts pages the worker shares with its children twice, so the
"tree RSS" column over-states what the machine spends; PSS (proportional) does not.

    .venv/bin/python -m bench.hostile            # 1 GiB and 5 GiB bombs, 50 pages x 70 MiB
    .venv/bin/python -m bench.hostile --quick    # the 1 GiB bomb only
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from bench.common import ROOT, SAMPLE, markdown_table, write_result
from tests.hostile import decompression_bomb, shared_stream_pdf

_UNBOUNDED = ("import sys; from pathlib import Path; from paperbridge.ingest import read_document\n"
              "try:\n    read_document(Path(sys.argv[1]))\nexcept Exception as e:\n"
              "    print(type(e).__name__, e)")


def _tree_memory(proc: psutil.Process) -> tuple[float, float]:
    """(summed RSS, summed PSS) of a process and its descendants, MiB."""
    rss = pss = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            info = p.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss / 2**20
        pss += getattr(info, "pss", info.rss) / 2**20
    return rss, pss


def _run(cmd: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    start = time.monotonic()
    popen = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    proc = psutil.Process(popen.pid)
    peak_rss = peak_pss = 0.0
    while popen.poll() is None and time.monotonic() - start < timeout:
        rss, pss = _tree_memory(proc)
        peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
        time.sleep(0.02)
    if popen.poll() is None:
        for child in proc.children(recursive=True):
            child.kill()
        popen.kill()
    out = popen.communicate()[0]
    last = [ln for ln in out.splitlines() if "failed" in ln or "Error" in ln or "Added" in ln]
    return {"seconds": round(time.monotonic() - start, 1), "tree_rss_peak_mb": round(peak_rss),
            "tree_pss_peak_mb": round(peak_pss), "exit": popen.returncode,
            "timed_out": time.monotonic() - start >= timeout, "output": " / ".join(last)[-400:]}


def main() -> None:
    """Build the hostile files, run each case, print the table and write bench/results/hostile.json."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="Only the 1 GiB bomb.")
    parser.add_argument("--timeout", type=float, default=400, help="Seconds per case (then killed).")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pb-hostile-"))
    files = {"bomb_1gib.pdf": decompression_bomb(work / "bomb_1gib.pdf", 1024)}
    if not args.quick:
        files["bomb_5gib.pdf"] = decompression_bomb(work / "bomb_5gib.pdf", 5 * 1024)
        files["shared_50x70mib.pdf"] = shared_stream_pdf(work / "shared_50x70mib.pdf")
    good = sorted(SAMPLE.glob("*.txt"))[0]
    env = {**os.environ, "PYTHONPATH": str(ROOT.parent)}
    rows = []
    for name, path in files.items():
        size_kb = path.stat().st_size // 1024
        cases = {
            "unbounded": [sys.executable, "-c", _UNBOUNDED, str(path)],
            "add": [sys.executable, "-m", "paperbridge", "--library", str(work / f"lib-{name}"), "add",
                    "--model", "hash", str(good), str(path)],
        }
        if name == "bomb_5gib.pdf":  # unbounded it would take ~20 GB of a shared machine
            del cases["unbounded"]
        for case, cmd in cases.items():
            row = {"file": name, "file_kb": size_kb, "case": case, **_run(cmd, env, args.timeout)}
            print(row, flush=True)
            rows.append(row)
    columns = ["file", "file_kb", "case", "seconds", "tree_rss_peak_mb", "tree_pss_peak_mb", "exit",
               "timed_out"]
    print(markdown_table(rows, columns))
    print(write_result("hostile", {"rows": rows, "load_avg_1m_after": os.getloadavg()[0]}))


if __name__ == "__main__":
    main()
