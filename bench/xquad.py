"""Cross-lingual retrieval quality on XQuAD, through the real ingest -> index -> qa path.

Every XQuAD paragraph becomes a ``.txt`` document (``xquad-<lang>-<index>.txt``) added to a
real library with ``Library.add``; retrieved passages map back to paragraphs through their
document's source file name. Configurations:

* ``BM25``: ``Library.lexical_search`` alone;
* ``e5`` / ``USE``: ``Library.dense_search`` with one encoder alone (raw cosine);
* ``PaperBridge``: the shipped retrieval (``PaperBridge.retrieve``, exactly what
  ``PaperBridge.ask`` ranks its citations with; ``--via-ask`` calls ``ask`` itself, and a
  sample of questions is always checked to give the same ranking through ``ask``).

Tasks: en->zh, zh->en, en->en, zh->zh (one language's 240 paragraphs), the mixed pool (480
paragraphs; the question's same-language gold removed through the document filter, so the
only relevant passage is in the other language) and the full mixed pool (nothing removed;
the share of top-1 results in the other language shows language bias).

The split library is the one a user meets: half the articles (even-numbered) in Chinese
only, the other half in English only, 240 paragraphs, every question asked in the language
its article is *not* in (1190 questions, all answerable across languages). It is where the
refusal rate of answerable questions is measured (``PaperBridge.ask``'s ``no_answer``).

Run: ``.venv/bin/python -m bench.xquad [--quick]``. Libraries and query vectors are cached
under ``$PAPERBRIDGE_BENCH_CACHE`` (default /tmp/paperbridge-bench), keyed by the source of
ingest/ and index/, so reruns only search.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
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
    XQUAD,
    markdown_table,
    read_result,
    squash,
    unmarked,
    write_result,
)
from paperbridge.index.config import DEFAULT_ENCODERS

log = logging.getLogger("bench.xquad")

LANGS = ("en", "zh")
OTHER = {"en": "zh", "zh": "en"}
DEPTH = 30  # passages fetched per question; enough to rank 10 distinct paragraphs
KS = tuple(range(1, 11))
SHORT = {"multilingual-e5-small": "e5", "use-multilingual-v3": "USE"}
_DOC_NAME = re.compile(r"xquad-(en|zh)-(\d{3})")


@dataclass(frozen=True)
class Question:
    """One XQuAD question; ``gold`` is the index of the paragraph that holds it."""

    qid: str
    lang: str
    text: str
    gold: int


@dataclass(frozen=True)
class Task:
    """Questions of one language against one pool, with what counts as relevant."""

    name: str
    qlang: str
    pool: str  # "en", "zh" or "mixed"
    remove_same_lang_gold: bool = False

    def relevant(self, q: Question) -> set[tuple[str, int]]:
        """(lang, paragraph) pairs that answer the question in this task."""
        if self.pool != "mixed":
            return {(self.pool, q.gold)}
        if self.remove_same_lang_gold:
            return {(OTHER[q.lang], q.gold)}
        return {("en", q.gold), ("zh", q.gold)}


TASKS = (
    Task("en->zh", "en", "zh"),
    Task("zh->en", "zh", "en"),
    Task("en->en", "en", "en"),
    Task("zh->zh", "zh", "zh"),
    Task("mixed en->zh", "en", "mixed", remove_same_lang_gold=True),
    Task("mixed zh->en", "zh", "mixed", remove_same_lang_gold=True),
    Task("full mixed en", "en", "mixed"),
    Task("full mixed zh", "zh", "mixed"),
)


def load_xquad(lang: str, paragraphs: int | None = None) -> tuple[list[str], list[Question]]:
    """The paragraphs (in file order) and questions of one language, first ``paragraphs`` only."""
    data = json.loads((XQUAD / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
    contexts: list[str] = []
    questions: list[Question] = []
    for article in data:
        for para in article["paragraphs"]:
            if paragraphs is not None and len(contexts) >= paragraphs:
                return contexts, questions
            questions += [Question(qa["id"], lang, qa["question"], len(contexts)) for qa in para["qas"]]
            contexts.append(para["context"])
    return contexts, questions


def cache_key(encoders: Sequence[str], paragraphs: int | None) -> str:
    """A key that changes when ingestion (chunking), the encoders or the subset change.

    index/ changes are not in the key: a cached library that no longer opens is rebuilt,
    and ``--rebuild`` forces a fresh build.
    """
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("ingest/*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    digest.update(repr((tuple(encoders), paragraphs)).encode())
    return digest.hexdigest()[:12]


def write_documents(folder: Path, contexts_by_lang: dict[str, list[str]]) -> None:
    """One .txt per paragraph; the file name carries language and paragraph index."""
    folder.mkdir(parents=True, exist_ok=True)
    for lang, contexts in contexts_by_lang.items():
        for i, text in enumerate(contexts):
            (folder / f"xquad-{lang}-{i:03d}.txt").write_text(text + "\n", encoding="utf-8")


def doc_paragraph(source: str) -> tuple[str, int]:
    """(lang, paragraph index) from a document's source path."""
    match = _DOC_NAME.search(Path(source).name)
    if not match:
        raise ValueError(f"not an XQuAD benchmark document: {source}")
    return match.group(1), int(match.group(2))


# ---- libraries -------------------------------------------------------------------------
@dataclass
class Pool:
    """A built library over one pool of paragraphs, with the maps back to paragraphs."""

    name: str
    bridge: Any  # qa.PaperBridge
    para_of: dict[int, tuple[str, int]]  # passage id -> (lang, paragraph)
    doc_of: dict[tuple[str, int], str]  # (lang, paragraph) -> doc id
    build: dict[str, Any]

    @property
    def library(self) -> Any:
        """The pool's index.Library."""
        return self.bridge.library


def _open_bridge(path: Path, encoders: Sequence[Any], create: bool) -> Any:
    from paperbridge.index import IndexConfig
    from paperbridge.qa import PaperBridge

    config = IndexConfig(encoders=tuple(e.name for e in encoders))
    return PaperBridge(path, index_config=config, create=create, encoders=list(encoders))


def build_pool(
    name: str,
    docs: Path,
    encoders: Sequence[Any],
    key: str,
    rebuild: bool,
    start_from: Pool | None = None,
) -> Pool:
    """Build (or reopen from the cache) the library of one pool with ``Library.add``.

    ``start_from``: copy that pool's library first and add only ``docs`` to it (the mixed
    pool is the English library plus the Chinese documents: an incremental add, and half
    the embedding work).
    """
    root = CACHE / "xquad" / key / name
    done = root / "build.json"
    if done.exists() and not rebuild:
        try:
            return _mapped(
                name, _open_bridge(root / "library", encoders, False), json.loads(done.read_text())
            )
        except Exception as err:  # any failure to reopen means: build again
            log.warning("cached library %s does not open (%s); rebuilding", root, err)
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    if start_from is not None:
        shutil.copytree(start_from.library.path, root / "library")
    bridge = _open_bridge(root / "library", encoders, create=start_from is None)
    before = len(bridge.library)
    start = time.perf_counter()
    report = bridge.add([docs], progress=True)
    seconds = time.perf_counter() - start
    added = len(bridge.library) - before
    build = {
        "seconds": seconds,
        "documents_added": len(report.added),
        "passages": len(bridge.library),
        "passages_added": added,
        "passages_per_s": added / seconds,
        "failed": report.failed,
        "started_from": start_from.name if start_from else None,
    }
    done.write_text(json.dumps(build, indent=2))
    log.info("pool %s built: %s", name, build)
    return _mapped(name, bridge, build)


def _mapped(name: str, bridge: Any, build: dict[str, Any]) -> Pool:
    lib = bridge.library
    doc_para = {d.doc_id: doc_paragraph(d.source) for d in lib.documents()}
    ids = lib.passage_ids()
    para_of = {p.id: doc_para[p.doc_id] for p in lib.passages(ids)}
    doc_of = {para: doc for doc, para in doc_para.items()}
    return Pool(name, bridge, para_of, doc_of, build)


def query_vectors(encoder: Any, questions: Sequence[Question]) -> np.ndarray:
    """Query vectors (n, dim) of the questions, cached on disk by encoder, texts and the
    encoders' code (index/): an encoder that now runs differently under the same name (int8
    e5 once ran questions in batches, whose quantization moves each vector) re-encodes, so
    the rankers see the vectors ``ask`` computes."""
    texts = [q.text for q in questions]
    code = b"".join(path.read_bytes() for path in sorted(ROOT.glob("index/*.py")))
    digest = hashlib.sha256(("\n".join(texts) + encoder.name).encode() + code).hexdigest()[:16]
    path = CACHE / "xquad" / "queries" / f"{encoder.name}-{digest}.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    vecs = np.concatenate([encoder.encode_queries(texts[i : i + 64]) for i in range(0, len(texts), 64)])
    np.save(path, vecs)
    return vecs


# ---- rankers ---------------------------------------------------------------------------
Ranker = Callable[[Pool, Question, dict[str, np.ndarray], "set[str] | None"], list[int]]


def bm25_ranker(pool: Pool, q: Question, vecs: dict[str, np.ndarray], docs: set[str] | None) -> list[int]:
    """BM25 alone, over every language of the pool."""
    return [pid for pid, _ in pool.library.lexical_search(q.text, DEPTH, doc_ids=docs)]


def dense_ranker(encoder: str) -> Ranker:
    """One encoder alone: raw inner product over the whole pool."""

    def rank(pool: Pool, q: Question, vecs: dict[str, np.ndarray], docs: set[str] | None) -> list[int]:
        return [pid for pid, _ in pool.library.dense_search(encoder, vecs[encoder], DEPTH, doc_ids=docs)]

    return rank


def shipped_ranker(pool: Pool, q: Question, vecs: dict[str, np.ndarray], docs: set[str] | None) -> list[int]:
    """PaperBridge's retrieval, as ``ask`` ranks its citations (precomputed query vectors)."""
    found = pool.bridge.retrieve(q.text, DEPTH, doc_ids=docs, vectors=vecs)
    return [h.passage_id for h in found.hits]


def ask_ranker(pool: Pool, q: Question, vecs: dict[str, np.ndarray], docs: set[str] | None) -> list[int]:
    """``PaperBridge.ask`` itself: the citations' passages, in rank order."""
    answer = pool.bridge.ask(q.text, top_k=DEPTH, doc_ids=docs)
    return [c.passage_id for c in answer.citations]


# ---- evaluation ------------------------------------------------------------------------
def paragraphs_ranked(pool: Pool, passage_ids: Sequence[int]) -> list[tuple[str, int]]:
    """Distinct (lang, paragraph) in first-seen order, at most 10."""
    seen: list[tuple[str, int]] = []
    for pid in passage_ids:
        para = pool.para_of[pid]
        if para not in seen:
            seen.append(para)
    return seen[:10]


def run_task(
    task: Task,
    pool: Pool,
    questions: Sequence[Question],
    vecs: dict[str, np.ndarray],
    ranker: Ranker,
) -> dict[str, Any]:
    """Rank every question of the task; return recall@1..10, MRR@10 and top-1 language share."""
    all_docs = set(pool.doc_of.values())
    ranks: list[int | None] = []
    other_top1 = 0
    for i, q in enumerate(questions):
        docs = None
        if task.remove_same_lang_gold:
            docs = all_docs - {pool.doc_of[(q.lang, q.gold)]}
        ranked = paragraphs_ranked(pool, ranker(pool, q, {n: v[i] for n, v in vecs.items()}, docs))
        relevant = task.relevant(q)
        ranks.append(next((r for r, p in enumerate(ranked, 1) if p in relevant), None))
        other_top1 += bool(ranked) and ranked[0][0] == OTHER[q.lang]
    return metrics(ranks, other_top1)


def metrics(ranks: Sequence[int | None], other_top1: int) -> dict[str, Any]:
    """recall@k for k=1..10, MRR@10 and the share of top-1 results in the other language."""
    n = len(ranks)
    recall = {f"r@{k}": sum(r is not None and r <= k for r in ranks) / n for k in KS}
    mrr = sum(1.0 / r for r in ranks if r is not None) / n
    return {"n": n, **recall, "mrr@10": mrr, "top1_other_lang": other_top1 / n}


# ---- the split library: each article in one language, questions in the other ---------
PARAGRAPHS_PER_ARTICLE = 5


def split_lang(paragraph: int) -> str:
    """The language an XQuAD paragraph's article is kept in, in the split library."""
    return "zh" if (paragraph // PARAGRAPHS_PER_ARTICLE) % 2 == 0 else "en"


def write_split_documents(folder: Path, contexts: dict[str, list[str]]) -> None:
    """The split library's documents: each paragraph in its article's language only."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(len(contexts["en"])):
        lang = split_lang(i)
        (folder / f"xquad-{lang}-{i:03d}.txt").write_text(contexts[lang][i] + "\n", encoding="utf-8")


def split_questions(questions: dict[str, list[Question]]) -> list[Question]:
    """Every question once, in the language its article is not kept in."""
    return [q for lang in LANGS for q in questions[lang] if split_lang(q.gold) != lang]


def answer_texts(lang: str) -> dict[str, str]:
    """Question id -> the first gold answer span, in ``lang``'s file (XQuAD is parallel, so
    a question's answer in the other language is that language's span of the same id)."""
    data = json.loads((XQUAD / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
    return {qa["id"]: qa["answers"][0]["text"] for article in data for para in article["paragraphs"]
            for qa in para["qas"] if qa.get("answers")}


def _quotes(answer: Any, span: str | None) -> bool:
    """The answer text (citation markers dropped) holds the gold span (NFKC, whitespace
    ignored, as ``bench.realdocs`` compares)."""
    return bool(span) and not answer.no_answer and squash(span) in squash(unmarked(answer.text))


def run_split_library(
    pool: Pool, questions: Sequence[Question], configs: dict[str, Ranker], encoders: Sequence[Any]
) -> list[dict[str, Any]]:
    """R@k of every configuration on the split library, and PaperBridge.ask's refusals and
    how often its answer text quotes the gold span."""
    vecs = {e.name: query_vectors(e, questions) for e in encoders}
    spans = {lang: answer_texts(lang) for lang in LANGS}
    rows = []
    for config, ranker in configs.items():
        ranks: list[int | None] = []
        refused = quoted = 0
        for i, q in enumerate(questions):
            v = {n: arr[i] for n, arr in vecs.items()}
            if config == "PaperBridge":
                answer = pool.bridge.ask(q.text, top_k=DEPTH)
                refused += answer.no_answer
                quoted += _quotes(answer, spans[split_lang(q.gold)].get(q.qid))
                ranked = paragraphs_ranked(pool, [c.passage_id for c in answer.citations])
            else:
                ranked = paragraphs_ranked(pool, ranker(pool, q, v, None))
            relevant = {(split_lang(q.gold), q.gold)}
            ranks.append(next((r for r, p in enumerate(ranked, 1) if p in relevant), None))
        row = {"config": config, "task": "split library", **metrics(ranks, 0)}
        if config == "PaperBridge":
            row["refused"] = refused / len(questions)
            row["gold_in_answer"] = quoted / len(questions)
        log.info(
            "%-12s split library R@1 %.3f R@5 %.3f refused %s",
            config,
            row["r@1"],
            row["r@5"],
            row.get("refused"),
        )
        rows.append(row)
    return rows


# ---- the run ---------------------------------------------------------------------------
def load_encoders(specs: Sequence[str]) -> list[Any]:
    """The real encoders, loaded once and shared by every pool's library."""
    from paperbridge.index import load_encoder

    return [load_encoder(spec) for spec in specs]


def rankers(encoders: Sequence[Any], via_ask: bool) -> dict[str, Ranker]:
    """The configurations compared, by display name."""
    out: dict[str, Ranker] = {"BM25": bm25_ranker}
    out.update({SHORT.get(e.name, e.name): dense_ranker(e.name) for e in encoders})
    out["PaperBridge"] = ask_ranker if via_ask else shipped_ranker
    return out


def check_ask_agrees(
    pools: dict[str, Pool],
    questions: dict[str, list[Question]],
    vecs: dict[str, dict[str, np.ndarray]],
    n: int,
) -> dict[str, Any]:
    """On ``n`` questions per task, does ``PaperBridge.ask`` cite what the retriever ranks?"""
    same = total = 0
    for task in TASKS:
        pool, qs = pools[task.pool], questions[task.qlang][:n]
        for i, q in enumerate(qs):
            docs = None
            if task.remove_same_lang_gold:
                docs = set(pool.doc_of.values()) - {pool.doc_of[(q.lang, q.gold)]}
            v = {name: arr[i] for name, arr in vecs[task.qlang].items()}
            via_ask = ask_ranker(pool, q, v, docs)[:10]
            same += via_ask == shipped_ranker(pool, q, v, docs)[:10]
            total += 1
    return {"questions": total, "identical_top10": same}


def evaluate_all(
    pools: dict[str, Pool],
    questions: dict[str, list[Question]],
    vecs: dict[str, dict[str, np.ndarray]],
    configs: dict[str, Ranker],
) -> list[dict[str, Any]]:
    """Every configuration on every task; one result row each."""
    rows = []
    for config, ranker in configs.items():
        for task in TASKS:
            start = time.perf_counter()
            m = run_task(task, pools[task.pool], questions[task.qlang], vecs[task.qlang], ranker)
            m["ms_per_question"] = 1000 * (time.perf_counter() - start) / max(1, m["n"])
            rows.append({"config": config, "task": task.name, **m})
            log.info(
                "%-12s %-14s R@1 %.3f R@5 %.3f MRR %.3f",
                config,
                task.name,
                m["r@1"],
                m["r@5"],
                m["mrr@10"],
            )
    return rows


_SUMMARY = (  # (column, [(task, metric), ...]) of the README table
    ("en->zh R@1/R@5", [("en->zh", "r@1"), ("en->zh", "r@5")]),
    ("zh->en R@1/R@5", [("zh->en", "r@1"), ("zh->en", "r@5")]),
    ("en->en R@5", [("en->en", "r@5")]),
    ("zh->zh R@5", [("zh->zh", "r@5")]),
    ("mixed en->zh R@1/R@5/MRR", [("mixed en->zh", m) for m in ("r@1", "r@5", "mrr@10")]),
    ("mixed zh->en R@1/R@5/MRR", [("mixed zh->en", m) for m in ("r@1", "r@5", "mrr@10")]),
    (
        "top-1 other lang, full mixed (en q / zh q)",
        [("full mixed en", "top1_other_lang"), ("full mixed zh", "top1_other_lang")],
    ),
    ("split library R@1/R@5/refused/gold in answer",
     [("split library", m) for m in ("r@1", "r@5", "refused", "gold_in_answer")]),
)


def summary(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per configuration: the README table."""
    by = {(r["config"], r["task"]): r for r in rows}
    out = []
    for config in dict.fromkeys(r["config"] for r in rows):
        row: dict[str, Any] = {"configuration": config}
        for column, cells in _SUMMARY:
            row[column] = " / ".join(
                f"{by[(config, t)][m]:.3f}" if m in by.get((config, t), {}) else "-" for t, m in cells
            )
        out.append(row)
    return out


def draw_chart(rows: Sequence[dict[str, Any]], path: Path, paragraphs: int, questions: int) -> None:
    """recall@k (k=1..10) per configuration on the cross-lingual and mixed-pool tasks."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = ["en->zh", "zh->en", "mixed en->zh", "mixed zh->en"]
    titles = [
        "en questions, zh paragraphs",
        "zh questions, en paragraphs",
        "mixed pool, en questions (gold only in zh)",
        "mixed pool, zh questions (gold only in en)",
    ]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), sharex=True, sharey=True)
    for ax, task, title in zip(axes.flat, tasks, titles, strict=True):
        for r in (r for r in rows if r["task"] == task):
            ax.plot(
                KS,
                [r[f"r@{k}"] for k in KS],
                marker="o",
                ms=3,
                label=r["config"],
                lw=2.5 if r["config"] == "PaperBridge" else 1.2,
            )
        ax.set_title(title, fontsize=10)
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("k")
    for ax in axes[:, 0]:
        ax.set_ylabel("recall@k")
    axes[0, 0].legend(loc="lower right")
    fig.suptitle(
        f"XQuAD cross-lingual retrieval ({paragraphs} paragraphs per language, "
        f"{questions} questions per language)"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    """Build (or reuse) the three libraries, rank every question with every configuration."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.xquad",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="first 40 paragraphs per language")
    parser.add_argument("--questions", type=int, help="at most this many questions per language")
    parser.add_argument(
        "--via-ask",
        action="store_true",
        help="rank PaperBridge through PaperBridge.ask for every question (slower)",
    )
    parser.add_argument(
        "--check",
        type=int,
        default=10,
        help="questions per task checked to rank the same through ask (default 10)",
    )
    parser.add_argument("--encoders", default=",".join(DEFAULT_ENCODERS),
                        help="encoder specs, comma-separated (default: the library default)")
    parser.add_argument("--rebuild", action="store_true", help="ignore cached libraries")
    parser.add_argument(
        "--configs",
        help="only these configurations (comma-separated, e.g. PaperBridge); "
        "the others' rows are kept from the previous result file",
    )
    parser.add_argument(
        "--key",
        help="reuse the cached libraries of this key (see the JSON's cache_key) "
        "even if ingest/ changed since",
    )
    parser.add_argument("--split-only", action="store_true", help="only the split library")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", force=True)
    paragraphs = 40 if args.quick else None
    specs = [s for s in args.encoders.split(",") if s]
    contexts, questions = {}, {}
    for lang in LANGS:
        contexts[lang], questions[lang] = load_xquad(lang, paragraphs)
        questions[lang] = questions[lang][: args.questions]
    encoders = load_encoders(specs)
    key = args.key or cache_key([e.name for e in encoders], paragraphs)
    docs = CACHE / "xquad" / key / "docs"
    for lang in LANGS:
        write_documents(docs / lang, {lang: contexts[lang]})
    pools: dict[str, Pool] = {}
    if not args.split_only:
        pools = {lang: build_pool(lang, docs / lang, encoders, key, args.rebuild) for lang in LANGS}
        pools["mixed"] = build_pool("mixed", docs / "zh", encoders, key, args.rebuild, pools["en"])
    write_split_documents(docs / "split", contexts)
    pools["split"] = build_pool("split", docs / "split", encoders, key, args.rebuild)
    vecs = {lang: {e.name: query_vectors(e, questions[lang]) for e in encoders} for lang in LANGS}
    configs = rankers(encoders, args.via_ask)
    if args.configs:
        configs = {name: configs[name] for name in args.configs.split(",")}
    rows = evaluate_all(pools, questions, vecs, configs) if not args.split_only else []
    rows += run_split_library(pools["split"], split_questions(questions), configs, encoders)
    suffix = "_quick" if args.quick or args.questions else ""
    if args.configs or args.split_only:
        done = {(r["config"], r["task"]) for r in rows}
        old = read_result("xquad" + suffix).get("rows", [])
        kept = [r for r in old if (r["config"], r["task"]) not in done]
        order = list(rankers(encoders, False))
        rows = sorted(kept + rows,
                      key=lambda r: order.index(r["config"]) if r["config"] in order else len(order))
    agree = (
        check_ask_agrees(pools, questions, vecs, args.check) if args.check and not args.split_only else None
    )
    table = summary(rows)
    print(markdown_table(table))
    print(
        markdown_table(
            [
                {
                    k: r.get(k, "")
                    for k in (
                        "config",
                        "task",
                        "r@1",
                        "r@5",
                        "mrr@10",
                        "top1_other_lang",
                        "ms_per_question",
                    )
                }
                for r in rows
            ]
        )
    )
    print("ask agrees with the retriever:", agree)
    chart = RESULTS / f"xquad_recall{suffix}.png"
    draw_chart(rows, chart, len(contexts["en"]), len(questions["en"]))
    out = write_result(
        "xquad" + suffix,
        {
            "paragraphs_per_language": len(contexts["en"]),
            "questions_per_language": len(questions["en"]),
            "cache_key": key,
            "ingest_changed_since_build": key != cache_key([e.name for e in encoders], paragraphs),
            "encoders": [e.name for e in encoders],
            "via_ask": args.via_ask,
            "ask_check": agree,
            "builds": {name: p.build for name, p in pools.items()},
            "summary": table,
            "rows": rows,
            "chart": str(chart.relative_to(ROOT)),
        },
    )
    print(f"wrote {out} and {chart}")


if __name__ == "__main__":
    main()
