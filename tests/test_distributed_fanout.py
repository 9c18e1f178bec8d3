"""Embedding fan-out on a Dask cluster (2 worker processes on 127.0.0.1), and the whole path
on Milvus with the real models: the same vectors, the same library, the same answers.

Needs the scale extra (``pip install -e '.[scale]'``; CI installs it); skipped without it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from paperbridge.index import HashEncoder, IndexConfig, Library, embedding
from paperbridge.index.fanout import BATCH, CHUNK, Fanout, embed_in_process
from tests.conftest import ROOT, SAMPLE

distributed = pytest.importorskip("distributed", reason="needs the scale extra (dask[distributed])")
pytestmark = pytest.mark.distributed

SAMPLE_TXT = sorted(SAMPLE.glob("*.txt"))
QUESTIONS = [json.loads(line)["question"] for line in
             (ROOT / "tests" / "data" / "sample_questions.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip()]


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A running 2-worker Dask cluster on 127.0.0.1, given to the library by its address, as
    a real cluster's scheduler would be (``tcp://HOST:8786``)."""
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    try:
        yield str(cluster.scheduler_address)
    finally:
        cluster.close()


def _rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table of a version's SQLite database, rows sorted (timestamps left out)."""
    lib = Library.open(path, encoders=[HashEncoder(64)])
    assert lib._state is not None
    db = path / "versions" / lib._state.name / "library.sqlite"
    with sqlite3.connect(db) as conn:
        return {
            "documents": sorted(conn.execute("SELECT doc_id, title, source, lang, pages, passages, "
                                             "warnings, report FROM documents")),
            "pages": sorted(conn.execute("SELECT * FROM pages")),
            "passages": sorted(conn.execute("SELECT * FROM passages")),
            "sentence_vectors": sorted(conn.execute("SELECT * FROM sentence_vectors")),
        }


def _vectors(lib: Library) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(ids, vectors) of every FAISS index of the library, by language."""
    assert lib._state is not None
    out = {}
    for lang, index in next(iter(lib._state.vectors.values())).by_lang.items():
        ids = np.sort(np.asarray([index.id_map.at(i) for i in range(index.ntotal)], dtype=np.int64))
        out[lang] = (ids, index.reconstruct_batch(ids))
    return out


def test_the_chunks_are_cut_like_the_in_process_batches() -> None:
    assert embedding.BATCH == BATCH and CHUNK % BATCH == 0


def test_a_two_worker_run_makes_the_same_vectors_and_the_same_library(scheduler: str, tmp_path: Path) -> None:
    here = Library.open(tmp_path / "here", create=True, encoders=[HashEncoder(64)])
    there = Library.open(tmp_path / "there", IndexConfig(cluster=scheduler), create=True,
                         encoders=[HashEncoder(64)])
    assert not here.add(SAMPLE_TXT).failed
    report = there.add(SAMPLE_TXT)
    assert not report.failed and report.embedded == len(here)
    assert _rows(here.path) == _rows(there.path)  # sentence vectors too, embedded on the cluster
    assert _rows(here.path)["sentence_vectors"]
    ours, theirs = _vectors(here), _vectors(there)
    assert ours.keys() == theirs.keys()
    for lang, (ids, vecs) in ours.items():
        assert np.array_equal(ids, theirs[lang][0]) and np.array_equal(vecs, theirs[lang][1])
    enc = HashEncoder(64)
    for question in QUESTIONS:
        vec = enc.encode_queries([question])[0]
        assert here.dense_search(enc.name, vec, 5) == there.dense_search(enc.name, vec, 5)
        assert here.lexical_search(question, 5) == there.lexical_search(question, 5)


def test_a_worker_failure_leaves_the_library_unchanged(scheduler: str, tmp_path: Path) -> None:
    from paperbridge.ingest.errors import LibraryError

    class Broken(HashEncoder):
        def encode_passages(self, texts: object, *, progress: bool = False) -> np.ndarray:
            raise RuntimeError("worker out of memory")

    lib = Library.open(tmp_path / "lib", IndexConfig(cluster=scheduler), create=True,
                       encoders=[HashEncoder(64)])
    lib.add(SAMPLE_TXT[:1])
    broken = Library.open(tmp_path / "lib", IndexConfig(cluster=scheduler), encoders=[Broken(64)])
    with pytest.raises(LibraryError, match="cluster .* failed .*unchanged"):
        broken.add(SAMPLE_TXT[1:])
    assert len(Library.open(tmp_path / "lib", encoders=[HashEncoder(64)])) == len(lib)


@pytest.mark.slow
def test_workers_embed_with_the_real_models_exactly_as_this_process_does(scheduler: str) -> None:
    from paperbridge.index.encoder import load_encoder
    from paperbridge.index.fanout import Fanout as _Fanout

    specs = ("multilingual-e5-small@onnx-int8", "use-multilingual-v3")
    encoders = [load_encoder(s) for s in specs]
    texts = [p for f in SAMPLE_TXT for p in f.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    with _Fanout.start(scheduler) as fanout:
        assert fanout.workers() == 2
        spread = fanout.embed(list(zip(specs, encoders, strict=True)), texts)
    # Bit-identical on AVX-512 machines; on AVX2 USE's numpy matmuls sum in another order in a
    # worker process (seen in CI), so equal up to float32 rounding is what holds everywhere.
    for ours, theirs in zip(embed_in_process(encoders, texts), spread, strict=True):
        assert ours.shape == theirs.shape
        assert float(np.abs(ours - theirs).max()) < 1e-4
        assert float(np.min(np.sum(ours * theirs, axis=1))) > 0.9999


@pytest.mark.slow
def test_milvus_and_a_cluster_answer_like_faiss_on_one_machine(sample_library: Path, scheduler: str,
                                                              tmp_path: Path) -> None:
    """The sample corpus with the real models on milvus-lite, embedded on the cluster: every
    sample question gets the same top-5 documents as the FAISS library; an add is calibrated."""
    pytest.importorskip("pymilvus")
    from paperbridge.qa import PaperBridge

    config = IndexConfig(store=str(tmp_path / "milvus.db"), cluster=scheduler)
    scaled = PaperBridge(tmp_path / "lib", index_config=config)
    report = scaled.add(SAMPLE_TXT)
    assert not report.failed and len(report.added) == len(SAMPLE_TXT)
    assert list((tmp_path / "lib" / "versions").glob("*/side/*")), "the add was not calibrated"
    local = PaperBridge(sample_library, create=False)
    for question in QUESTIONS:
        ours = [c.doc_id for c in local.ask(question, top_k=5).citations]
        theirs = [c.doc_id for c in scaled.ask(question, top_k=5).citations]
        assert ours == theirs, question
    gone = scaled.documents()[0]
    scaled.remove([gone.doc_id])
    assert all(c.doc_id != gone.doc_id for q in QUESTIONS[:5] for c in scaled.ask(q, top_k=5).citations)
    scaled.rebuild()
    assert len(scaled.documents()) == len(SAMPLE_TXT) - 1 and Library.check(tmp_path / "lib").ok


def test_a_local_cluster_starts_and_stops_for_one_write(tmp_path: Path) -> None:
    with Fanout.start("local:1") as fanout:
        assert fanout.workers() == 1
        vecs = fanout.embed([("hash", HashEncoder(64))], ["日本的科技政策", "science policy"])
    assert np.array_equal(vecs[0], HashEncoder(64).encode_passages(["日本的科技政策", "science policy"]))


def test_one_connection_embeds_twice_in_a_row(scheduler: str) -> None:
    """Two embeds of the same models on one connection (a batch of writes, the benchmark):
    the second must not lose the recipes the first one is releasing."""
    texts = [f"passage {i} 第{i}段" for i in range(700)]
    with Fanout.start(scheduler) as fanout:
        first = fanout.embed([("hash", HashEncoder(64))], texts[:64])
        second = fanout.embed([("hash", HashEncoder(64))], texts)
    assert np.array_equal(first[0], second[0][:64])
    assert np.array_equal(second[0], HashEncoder(64).encode_passages(texts))
