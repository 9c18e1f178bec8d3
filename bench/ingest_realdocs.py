"""What ingestion makes of each file of ../shared/realdocs: the README's per-file figures.

For every file: pages, Chinese characters kept in the passages, the reader kept for each
page, pages dropped and why, passages per kind, and the reading time (one run; the machine
is shared, so read the load column beside it). Prints a markdown table and writes
``bench/results/ingest_realdocs.json``.

    .venv/bin/python -m bench.ingest_realdocs [--realdocs DIR]
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import time
from pathlib import Path
from typing import Any

from bench.common import markdown_table, write_result
from paperbridge.ingest import PASSAGE_KINDS, read_document

REALDOCS = Path(__file__).resolve().parent.parent.parent / "shared" / "realdocs"
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def measure(path: Path) -> dict[str, Any]:
    """Read one file and describe what came out."""
    start = time.perf_counter()
    doc = read_document(path)
    seconds = time.perf_counter() - start
    kinds = doc.report.kinds
    return {
        "file": path.name,
        "pages": doc.pages,
        "cjk_chars": sum(len(_CJK.findall(p.text)) for p in doc.passages),
        "extractors": doc.report.extractor_ranges(),
        "dropped": "; ".join(f"{page} {reason}" for page, reason in doc.report.dropped) or "-",
        "passages": len(doc.passages),
        "kinds": ", ".join(f"{k} {kinds[k]}" for k in PASSAGE_KINDS if kinds.get(k)),
        "title": doc.title,
        "authors": list(doc.authors[:4]),
        "year": doc.year,
        "seconds": round(seconds, 1),
        "load_avg_1m": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realdocs", type=Path, default=REALDOCS)
    args = parser.parse_args()
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    rows = [measure(path) for path in sorted(args.realdocs.glob("*.pdf"))]
    print(markdown_table(rows, ["file", "pages", "cjk_chars", "extractors", "dropped", "passages",
                                "kinds", "seconds"]))
    print()
    print(markdown_table(rows, ["file", "title", "authors", "year"]))
    print(f"\nwritten: {write_result('ingest_realdocs', {'files': rows})}")


if __name__ == "__main__":
    main()
