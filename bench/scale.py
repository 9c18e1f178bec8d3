"""Past one machine: Milvus's analyzers against jieba, the Milvus store and the embedding fan-out.

Parts (``--part``, repeatable; default all):

* ``analyzers``: BM25 recall@1/@5 on XQuAD (each language's 240 paragraphs, its 1190
  questions) with each way of cutting the text: PaperBridge's tokens (jieba search mode,
  stemmed English) scored by bm25s (what the FAISS store ships) and by Milvus's BM25 (what
  the Milvus store ships: the tokens are sent whitespace-joined), Milvus's own analyzers on
  the raw text (milvus-lite's ``jieba`` and ``standard`` tokenizers), and the analyzer a
  Milvus server calls ``chinese`` (jieba search mode + ``cnalphanumonly``), emulated with
  Python's jieba and bm25s because no Milvus server runs here. Every BM25 uses k1=1.5, b=0.75.
* ``stores``: the sample corpus in a library on each store (FAISS, milvus-lite): add time,
  dense and lexical search latency, and whether the top-5 documents of the sample questions
  agree (hash encoder: the stores are compared, not the models).
* ``fanout``: embedding XQuAD paragraphs with the real default encoders in-process and on a
  2-worker Dask LocalCluster (127.0.0.1): passages/s and whether the vectors are identical.

Run: ``.venv/bin/python -m bench.scale [--part analyzers] [--quick]`` (needs the ``scale``
extra: ``pip install -e '.[scale]'``). Writes ``bench/results/scale_<part>.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import SAMPLE, XQUAD, markdown_table, write_result

log = logging.getLogger("bench.scale")

_HAN = re.compile(r"^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaffA-Za-z0-9]+$")


def load_xquad(lang: str, limit: int | None = None) -> tuple[list[str], list[tuple[str, int]]]:
    """(paragraphs in file order, (question, gold paragraph index)) of one language."""
    data = json.loads((XQUAD / f"xquad.{lang}.json").read_text(encoding="utf-8"))["data"]
    paragraphs: list[str] = []
    questions: list[tuple[str, int]] = []
    for article in data:
        for para in article["paragraphs"]:
            if limit is not None and len(paragraphs) >= limit:
                return paragraphs, questions
            questions += [(qa["question"], len(paragraphs)) for qa in para["qas"]]
            paragraphs.append(para["context"])
    return paragraphs, questions


def recall(ranked: Sequence[Sequence[int]], gold: Sequence[int]) -> dict[str, float]:
    """recall@1 and recall@5 of ranked paragraph indexes against the gold ones."""
    n = len(gold)
    return {"r@1": sum(r[:1] == [g] for r, g in zip(ranked, gold, strict=True)) / n,
            "r@5": sum(g in r[:5] for r, g in zip(ranked, gold, strict=True)) / n}


# ---- analyzers -------------------------------------------------------------------------
def _bm25s_ranker(token_lists: Sequence[list[str]]) -> Callable[[list[str]], list[int]]:
    import bm25s

    model = bm25s.BM25(k1=1.5, b=0.75)
    model.index([list(t) for t in token_lists], show_progress=False)

    def rank(query: list[str]) -> list[int]:
        ids = model.get_tokens_ids(query)
        if not ids:
            return []
        scores = np.asarray(model.get_scores_from_ids(ids))
        top = np.argsort(-scores, kind="stable")[:5]
        return [int(i) for i in top if scores[i] > 0]

    return rank


def _milvus_ranker(client: Any, name: str, texts: Sequence[str],
                   analyzer: dict[str, Any]) -> Callable[[str], list[int]]:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True,
                     analyzer_params=analyzer)
    schema.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
    schema.add_function(Function(name="bm25", function_type=FunctionType.BM25,
                                 input_field_names=["text"], output_field_names=["bm25"]))
    params = client.prepare_index_params()
    params.add_index("bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                     params={"bm25_k1": 1.5, "bm25_b": 0.75})
    client.create_collection(name, schema=schema, index_params=params)
    client.insert(name, [{"id": i, "text": t} for i, t in enumerate(texts)])
    client.flush(name)

    def rank(query: str) -> list[int]:
        if not query.strip():
            return []
        found = client.search(name, [query], anns_field="bm25", limit=5, output_fields=["id"])
        return [int(h["id"]) for h in found[0]]

    return rank


def _milvus_chinese(text: str) -> list[str]:
    """What a Milvus server's ``chinese`` analyzer yields: jieba search mode with HMM, then
    ``cnalphanumonly`` (tokens of Han characters, letters and digits only)."""
    import jieba

    return [t for t in jieba.cut_for_search(text, HMM=True) if _HAN.match(t)]


def _analyzer_runs(client: Any, lang: str, paragraphs: list[str],
                   texts: list[str]) -> list[tuple[str, Callable[[], list[list[int]]]]]:
    """(label, run) for every way of cutting one language's text; run returns rankings."""
    from paperbridge.index.lexical import tokenize
    from paperbridge.index.stores.milvus import token_text

    ours = [tokenize(p) for p in paragraphs]

    def bm25s_ours() -> list[list[int]]:
        return _each(_bm25s_ranker(ours), [tokenize(q) for q in texts])

    def milvus_ours() -> list[list[int]]:
        rank = _milvus_ranker(client, f"ours_{lang}", [token_text(t) for t in ours],
                              {"tokenizer": "standard"})
        return _each(rank, [token_text(tokenize(q)) for q in texts])

    def milvus_raw(tokenizer: str) -> Callable[[], list[list[int]]]:
        return lambda: _each(_milvus_ranker(client, f"{tokenizer}_{lang}", paragraphs,
                                            {"tokenizer": tokenizer}), texts)

    def server_standard() -> list[list[int]]:
        return _each(_bm25s_ranker([_milvus_standard(p) for p in paragraphs]),
                     [_milvus_standard(q) for q in texts])

    def server_chinese() -> list[list[int]]:
        return _each(_bm25s_ranker([_milvus_chinese(p) for p in paragraphs]),
                     [_milvus_chinese(q) for q in texts])

    return [
        ("PaperBridge tokens, bm25s (FAISS store)", bm25s_ours),
        ("PaperBridge tokens, Milvus BM25 (Milvus store)", milvus_ours),
        ("milvus-lite jieba analyzer, raw text", milvus_raw("jieba")),
        ("milvus-lite standard analyzer, raw text", milvus_raw("standard")),
        ("Milvus server 'chinese' analyzer (emulated: jieba search + cnalphanumonly), bm25s",
         server_chinese),
        ("Milvus server 'standard' analyzer (emulated: one token per Han character), bm25s",
         server_standard),
    ]


def _milvus_standard(text: str) -> list[str]:
    """What a Milvus server's ``standard`` analyzer yields (Unicode word boundaries, UAX #29):
    one token per Han character, lowercased words and numbers otherwise."""
    return re.findall(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+", text.lower())


def part_analyzers(quick: bool) -> dict[str, Any]:
    """BM25 R@1/R@5 per language and way of cutting the text."""
    from pymilvus import MilvusClient

    rows: list[dict[str, Any]] = []
    folder = Path(tempfile.mkdtemp(prefix="pb-analyzers-"))
    client = MilvusClient(str(folder / "bench.db"))
    try:
        for lang in ("zh", "en"):
            paragraphs, questions = load_xquad(lang, 60 if quick else None)
            gold = [g for _, g in questions]
            for label, run in _analyzer_runs(client, lang, paragraphs, [q for q, _ in questions]):
                start = time.perf_counter()
                ranked = run()
                rows.append({"lang": lang, "tokens": label, **recall(ranked, gold),
                             "questions": len(gold), "paragraphs": len(paragraphs),
                             "seconds": round(time.perf_counter() - start, 1)})
                log.info("%s", rows[-1])
    finally:
        client.close()
        shutil.rmtree(folder, ignore_errors=True)
    print(markdown_table(rows, ["lang", "tokens", "r@1", "r@5", "questions", "seconds"]))
    return {"rows": rows}


def _each(rank: Callable[[Any], list[int]], queries: Sequence[Any]) -> list[list[int]]:
    return [rank(q) for q in queries]


# ---- stores ----------------------------------------------------------------------------
def _sample_questions() -> list[str]:
    path = Path(__file__).resolve().parent.parent / "tests" / "data" / "sample_questions.jsonl"
    return [json.loads(line)["question"] for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def _timed_library(store: str, folder: Path) -> dict[str, Any]:
    from paperbridge.index import HashEncoder, IndexConfig, Library

    encoder = HashEncoder(384)
    start = time.perf_counter()
    lib = Library.open(folder, IndexConfig(store=store), create=True, encoders=[encoder])
    lib.add(sorted(SAMPLE.glob("*.txt")))
    added = time.perf_counter() - start
    dense, lexical, tops = [], [], []
    for question in _sample_questions():
        vec = encoder.encode_queries([question])[0]
        t0 = time.perf_counter()
        hits = lib.dense_search(encoder.name, vec, 20, lang="zh")
        t1 = time.perf_counter()
        lex = lib.lexical_search(question, 20, lang="en")
        t2 = time.perf_counter()
        dense.append(t1 - t0)
        lexical.append(t2 - t1)
        tops.append([p.doc_id for p in lib.passages([i for i, _ in hits[:5] + lex[:5]])])
    return {"add_s": added, "dense_p50_ms": statistics.median(dense) * 1000,
            "lexical_p50_ms": statistics.median(lexical) * 1000, "tops": tops,
            "passages": len(lib)}


def part_stores(quick: bool) -> dict[str, Any]:
    """The sample corpus on FAISS and on milvus-lite: time, and agreement of the top 5."""
    folder = Path(tempfile.mkdtemp(prefix="pb-stores-"))
    try:
        faiss = _timed_library("", folder / "faiss")
        milvus = _timed_library(str(folder / "milvus.db"), folder / "milvus")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    same = sum(a == b for a, b in zip(faiss.pop("tops"), milvus.pop("tops"), strict=True))
    rows = [{"store": "FAISS + bm25s", **faiss}, {"store": "milvus-lite", **milvus}]
    print(markdown_table(rows))
    print(f"same top-5 documents (dense zh + BM25 en) on {same} of {len(_sample_questions())} questions")
    return {"rows": rows, "same_top5": same, "questions": len(_sample_questions())}


# ---- fan-out ---------------------------------------------------------------------------
def part_fanout(quick: bool) -> dict[str, Any]:
    """Embedding throughput in-process against 2 Dask workers on this machine."""
    from paperbridge.index.encoder import load_encoder
    from paperbridge.index.fanout import Fanout, embed_in_process

    paragraphs = load_xquad("en", 64 if quick else 480)[0] + load_xquad("zh", 64 if quick else 480)[0]
    specs = ("multilingual-e5-small@onnx-int8", "use-multilingual-v3")
    encoders = [load_encoder(s) for s in specs]
    start = time.perf_counter()
    local = embed_in_process(encoders, paragraphs)
    in_process = time.perf_counter() - start
    with Fanout.start("local:2") as fan:
        fan.embed(list(zip(specs, encoders, strict=True)), paragraphs[:64])  # workers load models
        start = time.perf_counter()
        spread = fan.embed(list(zip(specs, encoders, strict=True)), paragraphs)
        fanned = time.perf_counter() - start
    same = all(np.array_equal(a, b) for a, b in zip(local, spread, strict=True))
    worst = max(float(np.abs(a - b).max()) for a, b in zip(local, spread, strict=True))
    rows = [{"how": "in-process", "passages": len(paragraphs), "seconds": in_process,
             "passages/s": len(paragraphs) / in_process},
            {"how": "Dask LocalCluster, 2 workers x 1 thread", "passages": len(paragraphs),
             "seconds": fanned, "passages/s": len(paragraphs) / fanned}]
    print(markdown_table(rows))
    print(f"vectors identical: {same} (largest difference {worst:.2e})")
    return {"rows": rows, "identical": same, "max_abs_diff": worst}


PARTS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "analyzers": part_analyzers, "stores": part_stores, "fanout": part_fanout,
}


def main(argv: list[str] | None = None) -> None:
    """Run the chosen parts, print their tables, write their JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", action="append", choices=sorted(PARTS), help="part to run (repeatable)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for part in args.part or list(PARTS):
        result = PARTS[part](args.quick)
        name = f"scale_{part}" + ("_quick" if args.quick else "")
        print(f"-> {write_result(name, result)}")


if __name__ == "__main__":
    main()
