"""Stored sentence vectors and encoders that embed only answer passages (fast, hash encoders).

The real-model checks (answers the same with and without stored vectors, ``--kind references``
through USE while e5 skips them) are in ``tests/test_library_slow.py``.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from paperbridge.index import HashEncoder, IndexConfig, Library, StoredPassage
from paperbridge.index.sentences import dequantize, quantize
from paperbridge.ingest.document import Document, Passage
from paperbridge.ingest.sentences import evidence_spans
from paperbridge.qa.config import QAConfig
from paperbridge.qa.evidence import SentenceCache, sentences_of
from paperbridge.qa.retrieve import Retriever

BODY = ("The K Program funds quantum sensing. It started in 2022 with a budget of 50 billion yen. "
        "Who runs it? The Cabinet Office runs it with JST.")
REFERENCE = "[1] Smith J. Quantum sensing budgets in Japan. Science Policy 12 (2022) 1-10."


class Counting(HashEncoder):
    """A hash encoder that counts the texts it embeds."""

    def __init__(self, dim: int = 64) -> None:
        super().__init__(dim)
        self.texts: list[str] = []

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.texts += list(texts)
        return super().encode_passages(texts, progress=progress)


def _document(doc_id: str = "d0c0000000000001") -> Document:
    texts = [(BODY, "body"), ("日本的K计划资助量子传感研究。该计划由内阁府和JST共同管理。", "body"),
             (REFERENCE, "references")]
    page = "\n\n".join(t for t, _ in texts)
    passages, start = [], 0
    for i, (text, kind) in enumerate(texts, start=1):
        lang = "zh" if "日本" in text else "en"
        passages.append(Passage(doc_id, i, 0, 1, lang, start, start + len(text), text, kind))
        start += len(text) + 2
    return Document(doc_id, "The K Program", f"/papers/{doc_id}.txt", "text", "en", (page,),
                    tuple(passages))


def _library(path: Path, *encoders: HashEncoder, config: IndexConfig | None = None) -> Library:
    lib = Library.open(path, config, create=True, encoders=list(encoders))
    assert not lib.add_documents([_document()]).failed
    return lib


def test_int8_sentence_vectors_keep_cosines_within_0_002() -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((200, 512)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = vectors[:50] + 0.3 * rng.standard_normal((50, 512)).astype(np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    quantized, scales = quantize(vectors)
    assert quantized.dtype == np.int8 and scales.shape == (200,)
    error = np.abs(queries @ dequantize(quantized, scales).T - queries @ vectors.T)
    assert float(error.max()) < 0.002


def test_a_write_stores_the_sentences_of_answer_passages_only(tmp_path: Path) -> None:
    encoder = Counting()
    lib = _library(tmp_path / "lib", encoder)
    assert lib.manifest is not None and lib.manifest.encoders[0].sentences
    passages = lib.passages(lib.passage_ids())
    source = passages[0].sentences
    assert source is not None and source.encoder == encoder.name
    rows = source.get([p.id for p in passages])
    for p in passages:
        if p.passage_kind == "references":
            assert p.id not in rows
            continue
        spans = [(a, b) for a, b, _ in evidence_spans(p.text)]
        assert list(rows[p.id].spans) == spans
        expected = encoder.encode_passages([p.text[a:b] for a, b in spans])
        assert np.allclose(rows[p.id].vectors, expected, atol=0.01)


def test_removing_a_document_removes_its_sentence_rows(tmp_path: Path) -> None:
    lib = _library(tmp_path / "lib", Counting())
    ids = lib.passage_ids()
    lib.add_documents([_document("d0c0000000000002")])
    lib.remove(["d0c0000000000001"])
    passages = lib.passages(lib.passage_ids())
    source = passages[0].sentences
    assert source is not None
    assert not source.get(ids) and len(source.get([p.id for p in passages])) == 2


def test_the_sentence_cache_reads_stored_vectors_and_embeds_only_the_rest(tmp_path: Path) -> None:
    lib = _library(tmp_path / "lib", Counting())
    passages = lib.passages(lib.passage_ids())
    fresh = Counting()
    cache = SentenceCache(fresh)
    got = cache.get(passages)
    reference = next(p for p in passages if p.passage_kind == "references")
    assert fresh.texts == [s.text for s in sentences_of(reference)]  # stored ones were read
    for p, (sentences, vectors) in zip(passages, got, strict=True):
        assert [s.span for s in sentences] == [s.span for s in sentences_of(p)]
        assert [s.is_question for s in sentences] == [s.is_question for s in sentences_of(p)]
        on_demand = fresh.encode_passages([s.text for s in sentences])
        assert np.allclose(vectors, on_demand, atol=0.01)
    assert any(s.is_question for s in got[0][0])  # "Who runs it?" is kept, marked


def test_a_library_without_stored_sentences_embeds_them_on_demand(tmp_path: Path) -> None:
    lib = _library(tmp_path / "lib", Counting(), config=IndexConfig(sentence_vectors=False))
    passages = lib.passages(lib.passage_ids())
    assert all(p.sentences is None for p in passages)
    fresh = Counting()
    SentenceCache(fresh).get(passages)
    assert fresh.texts == [s.text for p in passages for s in sentences_of(p)]


def test_stored_sentences_of_another_encoder_are_not_used(tmp_path: Path) -> None:
    lib = _library(tmp_path / "lib", Counting(64))
    passages = lib.passages(lib.passage_ids())
    other = Counting(32)
    SentenceCache(other).get(passages)
    assert len(other.texts) == sum(len(sentences_of(p)) for p in passages)


def test_a_pickled_passage_carries_no_database(tmp_path: Path) -> None:
    lib = _library(tmp_path / "lib", Counting())
    passage = lib.passages(lib.passage_ids()[:1])[0]
    copy = pickle.loads(pickle.dumps(passage))
    assert copy == passage and copy.sentences is not None and copy.sentences.get([copy.id]) == {}


# ---- encoders that embed answer passages only ---------------------------------------------
def test_only_the_neutral_encoder_embeds_references(tmp_path: Path) -> None:
    lib = _library(tmp_path / "lib", HashEncoder(64), HashEncoder(32))
    assert lib.manifest is not None
    neutral, other = lib.manifest.encoders
    assert neutral.kinds is None and other.kinds == ("body", "caption", "table") and not other.sentences
    state = lib._state
    assert state is not None
    reference = next(p.id for p in lib.passages(lib.passage_ids()) if p.passage_kind == "references")
    assert reference in state.vectors["hash-64"].ids().tolist()
    assert reference not in state.vectors["hash-32"].ids().tolist()
    doc = lib.documents()[0].doc_id
    query = HashEncoder(32).encode_queries(["quantum sensing budgets"])[0]
    hits = lib.dense_search("hash-32", query, 10, doc_ids=[doc])  # candidates of its kinds only
    assert hits and reference not in [i for i, _ in hits]
    assert Library.check(lib.path).ok


def test_references_are_found_by_the_neutral_encoder_with_no_signal_from_the_other(tmp_path: Path) -> None:
    lib = _library(tmp_path / "lib", HashEncoder(64), HashEncoder(32))
    retriever = Retriever(lib, QAConfig(depth=10))
    found = retriever.search("Smith quantum sensing budgets Science Policy", 3, kinds=["references"])
    assert [h.passage_id for h in found.hits] == [lib.passage_ids()[-1]]
    assert "dense" in found.hits[0].signals and "hash-32" not in found.hits[0].signals


def test_the_manifest_keeps_what_each_encoder_embedded(tmp_path: Path) -> None:
    lib = _library(tmp_path / "lib", HashEncoder(64), HashEncoder(32))
    assert lib._state is not None
    raw = json.loads((lib.path / "versions" / lib._state.name / "manifest.json").read_text())
    assert raw["format_version"] == 3
    assert [e["kinds"] for e in raw["encoders"]] == [None, ["body", "caption", "table"]]
    again = Library.open(lib.path, encoders=[HashEncoder(64), HashEncoder(32)])
    again.add_documents([_document("d0c0000000000002")])  # an add follows the library's entries
    assert again.manifest is not None and again.manifest.encoders == lib.manifest.encoders  # type: ignore[union-attr]


def test_a_library_written_before_kinds_and_stored_sentences_still_answers(tmp_path: Path) -> None:
    """Format 2: every encoder embedded every passage, no sentence table (issue 13 before)."""
    from paperbridge.qa import PaperBridge

    lib = _library(tmp_path / "lib", HashEncoder(64),
                   config=IndexConfig(answers_only=False, sentence_vectors=False))
    assert lib._state is not None
    path = lib.path / "versions" / lib._state.name / "manifest.json"
    raw = json.loads(path.read_text())
    raw["format_version"] = 2
    for entry in raw["encoders"]:
        del entry["kinds"], entry["sentences"]
    path.write_text(json.dumps(raw))
    bridge = PaperBridge(lib.path, encoders=[HashEncoder(64)], create=False)
    answer = bridge.ask("What does the K Program fund? quantum sensing")
    assert answer.citations and "quantum sensing" in answer.citations[0].text
    assert bridge.library.passages(bridge.library.passage_ids())[0].sentences is None
    again = Library.open(lib.path, encoders=[HashEncoder(64)])
    again.add_documents([_document("d0c0000000000002")])
    assert again.manifest is not None and again.manifest.encoders[0].kinds is None
    assert not again.manifest.encoders[0].sentences and Library.check(lib.path).ok


@pytest.mark.parametrize("kind", ["toc", "references", "index", "boilerplate", "code"])
def test_no_non_answer_kind_gets_a_second_encoder_vector(tmp_path: Path, kind: str) -> None:
    doc = _document()
    doc = Document(doc.doc_id, doc.title, doc.source, doc.kind, doc.lang, doc.page_texts,
                   tuple(Passage(p.doc_id, p.paragraph, p.part, p.page, p.lang, p.start, p.end,
                                 p.text, kind if p.kind != "body" else "body") for p in doc.passages))
    lib = Library.open(tmp_path / "lib", create=True, encoders=[HashEncoder(64), HashEncoder(32)])
    lib.add_documents([doc])
    assert lib._state is not None
    assert len(lib._state.vectors["hash-32"]) == 2 and len(lib._state.vectors["hash-64"]) == 3


def test_stored_passages_compare_without_their_database() -> None:
    text = "One sentence here. Another one there."
    a = StoredPassage(1, "d", "t", "s", "text", 1, 1, 0, "en", 0, len(text), text)
    assert a.sentences is None and a == StoredPassage(1, "d", "t", "s", "text", 1, 1, 0, "en", 0,
                                                      len(text), text)
