"""The library on disk with the fast HashEncoder: add, skip, replace, remove, search, rebuild."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from paperbridge.index import HashEncoder, IndexConfig, Library
from paperbridge.ingest.document import Document, Passage
from paperbridge.ingest.errors import (
    DocumentNotFoundError,
    LibraryFormatError,
    LibraryLockedError,
    LibraryNotFoundError,
    ModelMismatchError,
)
from tests.conftest import SAMPLE

SAMPLE_TXT = sorted(SAMPLE.glob("*.txt"))


class CountingEncoder(HashEncoder):
    """A real (hash) encoder that counts the passages it embeds."""

    def __init__(self, dim: int = 64) -> None:
        super().__init__(dim)
        self.embedded = 0

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.embedded += len(texts)
        return super().encode_passages(texts, progress=progress)


def check_consistent(lib: Library) -> None:
    """FAISS ids == SQLite ids of the kinds each encoder embeds (per language and encoder) ==
    BM25 ids == manifest counts."""
    state = lib._state
    assert state is not None
    for lang in [*lib.languages(), "none"]:
        for vi, entry in zip(state.vectors.values(), state.manifest.encoders, strict=True):
            assert vi.ids(lang).tolist() == state.store.passage_ids(lang=lang, kinds=entry.kinds)
    assert sorted(state.lexical.ids.tolist()) == lib.passage_ids()
    assert state.manifest.passages == len(lib) and state.manifest.documents == len(lib.documents())


def open_lib(path: Path, dim: int = 64, **kw: object) -> Library:
    return Library.open(path, create=True, encoders=[CountingEncoder(dim)], **kw)  # type: ignore[arg-type]


@pytest.fixture()
def sample_lib(tmp_path: Path) -> Library:
    lib = open_lib(tmp_path / "lib")
    lib.add(SAMPLE_TXT)
    return lib


def test_sample_corpus_is_indexed_with_titles_languages_and_offsets(sample_lib: Library) -> None:
    titles = {d.title for d in sample_lib.documents()}
    assert "日本科技创新体系发展特征及对中国启示" in titles
    assert sample_lib.languages().keys() >= {"en", "zh"}
    check_consistent(sample_lib)
    for p in sample_lib.passages(sample_lib.passage_ids()[:20]):
        assert sample_lib.page_text(p.doc_id, p.page)[p.start:p.end] == p.text


def test_dense_and_lexical_search_with_lang_and_doc_filters(sample_lib: Library) -> None:
    enc = sample_lib.encoders["hash-64"]
    query = "日本研发投入强度"
    hits = sample_lib.dense_search("hash-64", enc.encode_queries([query])[0], 5, lang="zh")
    assert hits and all(p.lang == "zh" for p in sample_lib.passages([i for i, _ in hits]))
    lex = sample_lib.lexical_search(query, 3)
    assert "研发" in sample_lib.passages([lex[0][0]])[0].text
    k_doc = next(d for d in sample_lib.documents() if "K计划" in d.title)
    for search in (lambda: sample_lib.lexical_search("日本 计划 technology", 10, doc_ids=[k_doc.doc_id]),
                   lambda: sample_lib.dense_search("hash-64", enc.encode_queries(["日本"])[0], 10,
                                                   doc_ids=[k_doc.doc_id])):
        found = sample_lib.passages([i for i, _ in search()])
        assert found and {p.doc_id for p in found} == {k_doc.doc_id}
    en_only = sample_lib.lexical_search("Japan 日本", 50, lang="en")
    assert en_only and {p.lang for p in sample_lib.passages([i for i, _ in en_only])} == {"en"}


def test_adding_one_paper_embeds_only_its_passages(tmp_path: Path) -> None:
    lib = open_lib(tmp_path / "lib", config=IndexConfig(sentence_vectors=False))  # passages only
    first = lib.add(SAMPLE_TXT[:-1])
    encoder = lib.encoders["hash-64"]
    assert isinstance(encoder, CountingEncoder) and encoder.embedded == first.embedded > 0
    again = lib.add(SAMPLE_TXT)
    new_doc = again.added[0]
    assert [d.source for d in again.added] == [str(SAMPLE_TXT[-1])]
    assert len(again.skipped) == len(SAMPLE_TXT) - 1
    assert again.embedded == new_doc.passages == encoder.embedded - first.embedded
    check_consistent(lib)


def test_a_changed_file_replaces_its_old_document(tmp_path: Path) -> None:
    paper = tmp_path / "paper.txt"
    shutil.copy(SAMPLE_TXT[1], paper)
    lib = open_lib(tmp_path / "lib")
    old = lib.add([paper]).added[0]
    old_ids = set(lib.passage_ids())
    paper.write_text(paper.read_text(encoding="utf-8") + "\n\nA new closing paragraph about "
                     "quantum sensing budgets in the K Program.\n", encoding="utf-8")
    report = lib.add([paper])
    assert [d.doc_id for d in report.replaced] == [old.doc_id]
    assert [d.doc_id for d in lib.documents()] == [report.added[0].doc_id] != [old.doc_id]
    assert not old_ids & set(lib.passage_ids())  # ids are never reused
    assert "quantum sensing" in lib.passages([lib.lexical_search("quantum sensing", 1)[0][0]])[0].text
    check_consistent(lib)


def test_remove_by_prefix_and_title(sample_lib: Library) -> None:
    docs = sample_lib.documents()
    gone = sample_lib.remove([docs[0].doc_id[:6], docs[1].title])
    assert {d.doc_id for d in gone} == {docs[0].doc_id, docs[1].doc_id}
    left = {d.doc_id for d in sample_lib.documents()}
    assert left == {d.doc_id for d in docs[2:]}
    assert {p.doc_id for p in sample_lib.passages(sample_lib.passage_ids())} == left
    check_consistent(sample_lib)
    with pytest.raises(DocumentNotFoundError, match="paperbridge list"):
        sample_lib.remove(["no-such-document"])


def test_warnings_from_ingestion_are_kept(tmp_path: Path) -> None:
    text = "Page one text about garbled fonts."
    doc = Document("0123456789abcdef", "Garbled", str(tmp_path / "g.pdf"), "pdf", "en", (text,),
                   (Passage("0123456789abcdef", 1, 0, 1, "en", 0, len(text), text),),
                   ("page 2: garbled text (font without ToUnicode) skipped",))
    lib = open_lib(tmp_path / "lib")
    lib.add_documents([doc])
    assert Library.open(tmp_path / "lib", encoders=[HashEncoder()]).documents()[0].warnings == \
        doc.warnings


def test_model_mismatch_and_format_errors(sample_lib: Library) -> None:
    with pytest.raises(ModelMismatchError, match=r"paperbridge rebuild --model hash-32"):
        Library.open(sample_lib.path, encoders=[HashEncoder(32)])
    with pytest.raises(ModelMismatchError, match="hash-64"):
        Library.open(sample_lib.path, IndexConfig(encoders=("multilingual-e5-small",)))
    with pytest.raises(LibraryNotFoundError, match="paperbridge add"):
        Library.open(sample_lib.path.parent / "nothing")
    manifest = sample_lib.path / "versions" / sample_lib._state.name / "manifest.json"  # type: ignore[union-attr]
    raw = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**raw, "format_version": 99}))
    with pytest.raises(LibraryFormatError, match="format version 99"):
        Library.open(sample_lib.path, encoders=[HashEncoder()])


def test_rebuild_with_another_model(sample_lib: Library) -> None:
    before = {d.doc_id: d.passages for d in sample_lib.documents()}
    old_ids = set(sample_lib.passage_ids())
    with pytest.raises(ModelMismatchError, match="rebuild"):
        Library.open(sample_lib.path, encoders=[HashEncoder(32)])
    lib = Library.open(sample_lib.path, encoders=[HashEncoder(64)])  # one way to open
    report = lib.rebuild(encoders=[HashEncoder(32)])
    assert {d.doc_id: d.passages for d in lib.documents()} == before
    assert report.embedded == sum(before.values()) and not old_ids & set(lib.passage_ids())
    assert lib.manifest is not None and [e.name for e in lib.manifest.encoders] == ["hash-32"]
    check_consistent(lib)
    assert Library.open(sample_lib.path, encoders=[HashEncoder(32)]).dense_search(
        "hash-32", HashEncoder(32).encode_queries(["日本"])[0], 3)
    with pytest.raises(ModelMismatchError):
        Library.open(sample_lib.path, encoders=[HashEncoder(64)])


def test_refresh_picks_up_another_writers_version(tmp_path: Path) -> None:
    writer = open_lib(tmp_path / "lib")
    writer.add(SAMPLE_TXT[:2])
    reader = Library.open(tmp_path / "lib", encoders=[HashEncoder()])
    assert not reader.refresh()
    writer.add(SAMPLE_TXT[2:])
    assert len(reader.documents()) == 2 and reader.refresh()
    assert len(reader.documents()) == len(SAMPLE_TXT)
    check_consistent(reader)


def test_a_second_writer_is_refused_while_readers_go_on(sample_lib: Library) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import filelock,sys,time; l=filelock.FileLock(sys.argv[1]); "
         "l.acquire(); print('locked', flush=True); time.sleep(60)", str(sample_lib.path / "lock")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(LibraryLockedError, match="Another PaperBridge process is writing"):
            sample_lib.remove([sample_lib.documents()[0].doc_id])
        assert len(Library.open(sample_lib.path, encoders=[HashEncoder()]).documents()) == 5
    finally:
        holder.kill()
        holder.wait()
    sample_lib.remove([sample_lib.documents()[0].doc_id])
    assert len(sample_lib.documents()) == 4


def test_hnsw_libraries_search_and_remove(tmp_path: Path) -> None:
    lib = open_lib(tmp_path / "lib", config=IndexConfig(encoders=("hash-64",), ann_threshold=10))
    lib.add(SAMPLE_TXT)
    exact = open_lib(tmp_path / "exact")
    exact.add(SAMPLE_TXT)
    q = HashEncoder().encode_queries(["日本企业研发投入"])[0]
    assert lib.dense_search("hash-64", q, 1, lang="zh") == exact.dense_search("hash-64", q, 1, lang="zh")
    lib.remove([lib.documents()[0].doc_id])
    check_consistent(lib)


def test_old_versions_are_cleaned_up(sample_lib: Library) -> None:
    for doc in sample_lib.documents()[:3]:
        sample_lib.remove([doc.doc_id])
    versions = sorted(p.name for p in (sample_lib.path / "versions").iterdir())
    assert len(versions) == 2 and sample_lib._state is not None and sample_lib._state.name in versions


def test_rebuild_rereads_sources_with_new_chunking_and_keeps_vanished_ones(tmp_path: Path) -> None:
    gone = tmp_path / "gone.txt"
    shutil.copy(SAMPLE_TXT[0], gone)
    lib = open_lib(tmp_path / "lib")
    lib.add([gone, SAMPLE_TXT[2]])
    before = {d.source: d.passages for d in lib.documents()}
    gone.unlink()
    config = IndexConfig(encoders=("hash-64",), max_tokens=64)
    lib = Library.open(tmp_path / "lib", encoders=[HashEncoder()])
    lib.rebuild(config, encoders=[HashEncoder()])
    after = {d.source: d.passages for d in lib.documents()}
    assert after[str(gone)] == before[str(gone)]  # from the stored text
    assert after[str(SAMPLE_TXT[2])] > before[str(SAMPLE_TXT[2])]  # re-read, cut smaller
    assert lib.manifest is not None and lib.manifest.max_tokens == 64
    assert Library.open(tmp_path / "lib", encoders=[HashEncoder()]).config.max_tokens == 64
    check_consistent(lib)
