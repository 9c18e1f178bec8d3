"""Real documents, questions as users ask them: PaperBridge beside a naive pipeline, same run.

The library is the 11 full-length PDFs of ``../shared/realdocs`` plus the sample corpus,
added with ``PaperBridge.add`` and the default models. The questions are
``bench/data/realdocs/{dev,heldout}.jsonl`` (written blind from the documents, see its
README): English questions whose answer is only in a Chinese document, the reverse,
same-language ones, and on-topic questions the library cannot answer.

The naive pipeline is what a first attempt looks like: pypdf's text of each page, cut into
500-character windows (100 characters of overlap, so a gold span is rarely cut), one
encoder (USE multilingual), exact FAISS inner-product search, top 5, never a refusal; its
"answer" is the best window.

A retrieved passage (or window) answers a question when it comes from the gold document
and holds the gold span (both NFKC-normalized, all whitespace removed). Rows per question
direction:

* R@1, R@5: the gold among the first 1 / 5 citations;
* gold in answer: the answer text itself (PaperBridge: the quoted sentences, [n] markers
  dropped; naive: the best window) holds the gold span, and the question was not refused;
* refused: the share of questions answered "not in the library" (answerable rows: should
  be low; the ``none`` row, questions the library cannot answer: should be high).

Run: ``.venv/bin/python -m bench.realdocs [--split dev|heldout|both]``. The library and the
naive pipeline's vectors are cached under ``$PAPERBRIDGE_BENCH_CACHE`` (default
/tmp/paperbridge-bench), keyed by the source of ingest/. Per-question results are written
for the dev half only: the held-out half is reported in aggregate, so nobody tunes on it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import (
    CACHE,
    RESULTS,
    ROOT,
    SAMPLE,
    SHARED,
    markdown_table,
    squash,
    unmarked,
    write_result,
)
from paperbridge.index.config import DEFAULT_ENCODERS

log = logging.getLogger("bench.realdocs")

REALDOCS = SHARED / "realdocs"
QUESTIONS = ROOT / "bench" / "data" / "realdocs"
DIRECTIONS = ("en->zh", "zh->en", "en->en", "zh->zh")
TOP_K = 5
WINDOW, STRIDE = 500, 400
NAIVE_ENCODER = "use-multilingual-v3"
def load_questions(split: str) -> list[dict[str, Any]]:
    """The questions of one half ("dev" or "heldout"), plus the writer's own dev additions."""
    paths = [QUESTIONS / f"{split}.jsonl"]
    if split == "dev":
        paths += sorted(QUESTIONS.glob("dev_*.jsonl"))  # questions added after seeing results
    out = []
    for path in paths:
        out += [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def holds_gold(record: dict[str, Any], source: str, text: str) -> bool:
    """True when a passage of ``source`` (a file path) with ``text`` states the record's gold."""
    gold = record.get("gold")
    return bool(gold) and Path(source).name == record["gold_source"] and squash(gold) in squash(text)


@dataclass(frozen=True)
class Outcome:
    """What one pipeline did with one question."""

    rank: int | None  # 1-based rank of the first citation holding the gold
    gold_in_answer: bool
    refused: bool
    top: str  # the first citation, for the dev report
    answer: str
    confidence: float | None = None


# ---- PaperBridge -----------------------------------------------------------------------
def library_key(encoders: Sequence[str]) -> str:
    """Changes when ingestion (how passages are cut) or the models change."""
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("ingest/*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(repr(tuple(encoders)).encode())
    return digest.hexdigest()[:12]


def documents() -> list[Path]:
    """The library's files: the real documents and the sample corpus."""
    return sorted(REALDOCS.glob("*.pdf")) + sorted(SAMPLE.glob("*.txt"))


def open_bridge(key: str, specs: Sequence[str], rebuild: bool, files: Sequence[Path] | None = None,
                folder: str = "realdocs") -> tuple[Any, dict[str, Any]]:
    """The benchmark library of ``files`` (default :func:`documents`), built once per key
    with ``PaperBridge.add`` under ``$PAPERBRIDGE_BENCH_CACHE/<folder>``."""
    from paperbridge.index import IndexConfig
    from paperbridge.qa import PaperBridge

    root = CACHE / folder / key
    done = root / "build.json"
    config = IndexConfig(encoders=tuple(specs))
    if done.exists() and not rebuild:
        try:
            return PaperBridge(root / "library", index_config=config, create=False), json.loads(
                done.read_text()
            )
        except Exception as err:  # a cache that no longer opens is rebuilt
            log.warning("cached library %s does not open (%s); rebuilding", root, err)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    bridge = PaperBridge(root / "library", index_config=config)
    start = time.perf_counter()
    report = bridge.add(list(files) if files is not None else documents(), progress=True)
    build = {
        "seconds": round(time.perf_counter() - start, 1),
        "documents": len(report.added),
        "passages": len(bridge.library),
        "failed": report.failed,
    }
    done.write_text(json.dumps(build, indent=2))
    return bridge, build


def paperbridge_outcome(bridge: Any, record: dict[str, Any]) -> Outcome:
    """Ask PaperBridge exactly as a user would (``PaperBridge.ask``)."""
    answer = bridge.ask(record["question"], top_k=TOP_K)
    rank = next((c.rank for c in answer.citations if holds_gold(record, c.source, c.text)), None)
    text = unmarked(answer.text)
    quoted = bool(record.get("gold")) and not answer.no_answer and squash(record["gold"]) in squash(text)
    top = answer.citations[0] if answer.citations else None
    shown = f"{Path(top.source).name} p{top.page}: {top.text[:90]}" if top else ""
    confidence = getattr(answer, "confidence", None)
    return Outcome(rank, quoted, answer.no_answer, shown, text[:300], confidence)


# ---- the naive pipeline ----------------------------------------------------------------
@dataclass
class Naive:
    """pypdf page text in 500-character windows, USE, FAISS top 5, no refusal."""

    encoder: Any
    index: Any  # faiss.IndexFlatIP
    windows: list[tuple[str, int, str]]  # (source, page, text)

    def outcome(self, record: dict[str, Any]) -> Outcome:
        """The top-5 windows for the question; the best one is the answer."""
        vec = self.encoder.encode_queries([record["question"]])
        _, ids = self.index.search(np.asarray(vec, dtype=np.float32), TOP_K)
        hits = [self.windows[i] for i in ids[0] if i >= 0]
        rank = next((r for r, (src, _, text) in enumerate(hits, 1) if holds_gold(record, src, text)), None)
        answer = hits[0][2] if hits else ""
        quoted = bool(record.get("gold")) and squash(record["gold"]) in squash(answer)
        top = f"{Path(hits[0][0]).name} p{hits[0][1]}: {hits[0][2][:90]}" if hits else ""
        return Outcome(rank, quoted, False, top, answer[:300])


def naive_windows(paths: Sequence[Path]) -> list[tuple[str, int, str]]:
    """pypdf text of each page (a text file is one page), cut into overlapping windows."""
    import pypdf

    windows: list[tuple[str, int, str]] = []
    for path in paths:
        if path.suffix.lower() == ".pdf":
            reader = pypdf.PdfReader(path)
            if reader.is_encrypted:
                reader.decrypt("")
            pages = [page.extract_text() or "" for page in reader.pages]
        else:
            pages = [path.read_text(encoding="utf-8")]
        for number, text in enumerate(pages, start=1):
            for at in range(0, max(1, len(text) - (WINDOW - STRIDE)), STRIDE):
                if text[at : at + WINDOW].strip():
                    windows.append((str(path), number, text[at : at + WINDOW]))
    return windows


def build_naive(rebuild: bool, files: Sequence[Path] | None = None) -> Naive:
    """Embed the windows with USE (cached by their text) into an exact FAISS index."""
    import faiss

    from paperbridge.index import load_encoder

    encoder = load_encoder(NAIVE_ENCODER)
    windows = naive_windows(files if files is not None else documents())
    digest = hashlib.sha256("\x00".join(t for _, _, t in windows).encode()).hexdigest()[:16]
    path = CACHE / "realdocs" / f"naive-{digest}.npy"
    if path.exists() and not rebuild:
        vecs = np.load(path)
    else:
        texts = [t for _, _, t in windows]
        vecs = np.concatenate([encoder.encode_passages(texts[i : i + 64]) for i in range(0, len(texts), 64)])
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vecs)
    index = faiss.IndexFlatIP(vecs.shape[1])
    index.add(np.asarray(vecs, dtype=np.float32))
    return Naive(encoder, index, windows)


# ---- scoring ---------------------------------------------------------------------------
def rows_for(
    split: str, pipeline: str, records: Sequence[dict[str, Any]], outcomes: Sequence[Outcome]
) -> list[dict[str, Any]]:
    """One row per direction (and all answerable, and the unanswerable ones)."""
    pairs = list(zip(records, outcomes, strict=True))
    groups: list[tuple[str, list[tuple[dict[str, Any], Outcome]]]] = [
        (d, [p for p in pairs if p[0]["direction"] == d]) for d in DIRECTIONS
    ]
    groups.append(("answerable", [p for p in pairs if p[0]["direction"] != "none"]))
    groups.append(
        ("names document", [p for p in pairs if p[0]["direction"] != "none" and p[0]["names_document"]])
    )
    rows = []
    for name, group in groups:
        if not group:
            continue
        n = len(group)
        rows.append(
            {
                "split": split,
                "pipeline": pipeline,
                "direction": name,
                "n": n,
                "R@1": sum(o.rank == 1 for _, o in group) / n,
                "R@5": sum(o.rank is not None for _, o in group) / n,
                "gold in answer": sum(o.gold_in_answer for _, o in group) / n,
                "refused": sum(o.refused for _, o in group) / n,
            }
        )
    none = [o for r, o in pairs if r["direction"] == "none"]
    if none:
        rows.append(
            {
                "split": split,
                "pipeline": pipeline,
                "direction": "none (unanswerable)",
                "n": len(none),
                "refused": sum(o.refused for o in none) / len(none),
            }
        )
    return rows


def run_split(
    split: str, pipelines: dict[str, Callable[[dict[str, Any]], Outcome]], dominant: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every pipeline on every question of one half; rows, and per-question details."""
    records = load_questions(split)
    rows: list[dict[str, Any]] = []
    details: list[dict[str, Any]] = [
        {"id": r["id"], "direction": r["direction"], "question": r["question"]} for r in records
    ]
    for name, run in pipelines.items():
        start = time.perf_counter()
        outcomes = [run(r) for r in records]
        log.info("%s %s: %.2f s per question", split, name, (time.perf_counter() - start) / len(records))
        rows += rows_for(split, name, records, outcomes)
        rows.append(hub_row(split, name, records, outcomes, dominant))
        for detail, o in zip(details, outcomes, strict=True):
            detail[name] = o.__dict__
    return rows, details


# ---- hubs and language balance -------------------------------------------------------------
def hub_row(split: str, pipeline: str, records: Sequence[dict[str, Any]],
            outcomes: Sequence[Outcome], dominant: str) -> dict[str, Any]:
    """How often the library's biggest document takes the first place for a question whose
    answer is in another document: a hub (a book's TOC, its index) would take it often."""
    others = [(r, o) for r, o in zip(records, outcomes, strict=True)
              if r["direction"] != "none" and r["gold_source"] != dominant]
    taken = sum(o.top.startswith(f"{dominant} p") for _, o in others)
    return {"split": split, "pipeline": pipeline, "direction": f"top-1 from {dominant} (answer elsewhere)",
            "n": len(others), "share": taken / max(1, len(others))}


def minority_rows(bridge: Any, split: str) -> list[dict[str, Any]]:
    """One document among papers of the other language: each cross-lingual question asked of
    its gold document plus every real document of the other language (a document filter on
    the same library), so the gold is the only document in the question's target language."""
    docs = {Path(d.source).name: d for d in bridge.documents() if Path(d.source).parent == REALDOCS}
    rows = []
    for direction, lone in (("zh->en", "one English document among Chinese ones"),
                            ("en->zh", "one Chinese document among English ones")):
        records = [r for r in load_questions(split) if r["direction"] == direction]
        found = 0
        for record in records:
            gold = docs[record["gold_source"]]
            allowed = [d.doc_id for d in docs.values() if d.lang != gold.lang] + [gold.doc_id]
            answer = bridge.ask(record["question"], top_k=TOP_K, doc_ids=allowed)
            found += any(holds_gold(record, c.source, c.text) for c in answer.citations)
        rows.append({"split": split, "pipeline": "PaperBridge", "direction": f"{direction}: {lone}",
                     "n": len(records), "R@5": found / max(1, len(records))})
    return rows


def draw_chart(rows: Sequence[dict[str, Any]], path: Path) -> None:
    """Grouped bars: R@5, gold in answer, answerable refused, unanswerable refused, per split."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    splits = list(dict.fromkeys(r["split"] for r in rows))
    pipelines = list(dict.fromkeys(r["pipeline"] for r in rows))
    bars = [
        ("en->zh", "R@5"),
        ("zh->en", "R@5"),
        ("answerable", "R@1"),
        ("answerable", "gold in answer"),
        ("answerable", "refused"),
        ("none (unanswerable)", "refused"),
    ]
    labels = [
        "R@5 en->zh",
        "R@5 zh->en",
        "R@1 all",
        "gold in\nanswer",
        "answerable\nrefused",
        "unanswerable\nrefused",
    ]
    by = {(r["split"], r["pipeline"], r["direction"]): r for r in rows}
    fig, axes = plt.subplots(1, len(splits), figsize=(6.5 * len(splits), 4.2), sharey=True, squeeze=False)
    width = 0.8 / len(pipelines)
    for ax, split in zip(axes[0], splits, strict=True):
        for i, pipeline in enumerate(pipelines):
            values = [by.get((split, pipeline, d), {}).get(m, 0.0) for d, m in bars]
            xs = np.arange(len(bars)) + (i - (len(pipelines) - 1) / 2) * width
            ax.bar(xs, values, width, label=pipeline)
            for x, v in zip(xs, values, strict=True):
                ax.text(x, v + 0.01, f"{v:.2f}", ha="center", fontsize=7)
        ax.set_xticks(np.arange(len(bars)), labels, fontsize=8)
        ax.set_ylim(0, 1.08)
        ax.set_title(f"{split} questions", fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(loc="upper left", fontsize=8)
    fig.suptitle("Real documents (11 PDFs + sample corpus): PaperBridge vs naive pipeline", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    """Build (or reuse) the library and the naive index, run both on the chosen halves."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.realdocs",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--split", choices=("dev", "heldout", "both"), default="dev")
    parser.add_argument("--encoders", default=",".join(DEFAULT_ENCODERS),
                        help="encoder specs, comma-separated (default: the library default)")
    parser.add_argument("--rebuild", action="store_true", help="ignore the cached library and vectors")
    parser.add_argument("--key", help="reuse the cached library of this key even if ingest/ changed")
    parser.add_argument("--no-naive", action="store_true", help="PaperBridge only (faster while developing)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", force=True)
    specs = [s for s in args.encoders.split(",") if s]
    key = args.key or library_key(specs)
    bridge, build = open_bridge(key, specs, args.rebuild)
    bridge.calibration()  # measured once, before the clock runs
    pipelines: dict[str, Callable[[dict[str, Any]], Outcome]] = {
        "PaperBridge": lambda r: paperbridge_outcome(bridge, r)
    }
    if not args.no_naive:
        pipelines["naive (pypdf, 500 chars, USE, top 5)"] = build_naive(args.rebuild).outcome
    splits = ("dev", "heldout") if args.split == "both" else (args.split,)
    rows: list[dict[str, Any]] = []
    dominant = Path(max(bridge.documents(), key=lambda d: d.passages).source).name
    for split in splits:
        split_rows, details = run_split(split, pipelines, dominant)
        rows += split_rows + minority_rows(bridge, split)
        if split == "dev":
            (RESULTS / "realdocs_dev_questions.json").write_text(
                json.dumps(details, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
            )
    print(
        markdown_table(
            rows, ["split", "pipeline", "direction", "n", "R@1", "R@5", "gold in answer", "refused", "share"]
        )
    )
    name = "realdocs" if args.split == "both" and not args.no_naive else f"realdocs_{args.split}"
    chart = RESULTS / f"{name}.png"
    draw_chart(rows, chart)
    out = write_result(
        name,
        {
            "cache_key": key,
            "build": build,
            "encoders": specs,
            "top_k": TOP_K,
            "naive": {"window": WINDOW, "stride": STRIDE, "encoder": NAIVE_ENCODER},
            "rows": rows,
            "chart": str(chart.relative_to(ROOT)),
        },
    )
    print(f"wrote {out} and {chart}")


if __name__ == "__main__":
    main()
