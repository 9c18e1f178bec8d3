"""The Milvus store, through milvus-lite (embedded, and as a server on 127.0.0.1): the same
library as on FAISS, versions that keep their meaning, crashes between steps, doctor.

Tests marked ``distributed`` need the scale extra (``pip install -e '.[scale]'``; CI installs
it); without it they are skipped, and the test that checks the message for a missing extra runs.
"""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from paperbridge.index import HashEncoder, IndexConfig, Library
from paperbridge.index.report import AddReport
from paperbridge.index.stores.spec import parse_store
from paperbridge.index.writer import VersionWriter
from paperbridge.ingest.errors import LibraryDamagedError, LibraryError
from tests.conftest import ROOT, SAMPLE

SAMPLE_TXT = sorted(SAMPLE.glob("*.txt"))
QUESTIONS = [json.loads(line)["question"] for line in
             (ROOT / "tests" / "data" / "sample_questions.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip()]


def _milvus_installed() -> bool:
    try:
        import milvus_lite  # noqa: F401
        import pymilvus  # noqa: F401
    except ImportError:
        return False
    return True


milvus = pytest.mark.skipif(not _milvus_installed(), reason="needs the scale extra (pymilvus, milvus-lite)")


# ---- settings (no extra needed) -----------------------------------------------------------
def test_store_settings_parse_and_never_show_credentials(tmp_path: Path) -> None:
    assert parse_store("").kind == parse_store("faiss").kind == "faiss"
    server = parse_store("milvus://alice:s%40cret@db.example:19530")
    assert (server.uri, server.token, server.lite) == ("http://db.example:19530", "alice:s@cret", False)
    assert server.shown() == "milvus://db.example:19530" and "cret" not in repr(IndexConfig(store="milvus://a:b@h:1"))
    assert parse_store("milvus+https://h:443").uri == "https://h:443"
    lite = parse_store("milvus-lite")
    assert lite.lite and lite.address(tmp_path) == str((tmp_path / "milvus.db").resolve())
    assert parse_store("/data/x.db").address(tmp_path) == "/data/x.db"
    for bad in ("milvus://nohost", "postgres://h:1", "milvus://h:1/path"):
        with pytest.raises(LibraryError, match="milvus://HOST:PORT"):
            parse_store(bad)
    with pytest.raises(LibraryError, match="tcp://HOST:PORT"):
        IndexConfig(cluster="h:8786")
    assert IndexConfig(cluster=" local:2 ").cluster == "local:2"


def test_asking_for_milvus_without_the_extra_says_what_to_install(tmp_path: Path) -> None:
    lib, txt = str(tmp_path / "lib"), str(SAMPLE_TXT[0])
    code = (
        "import sys; sys.modules['pymilvus'] = None; sys.modules['distributed'] = None\n"
        "from pathlib import Path\n"
        "from paperbridge.index import HashEncoder, IndexConfig, Library\n"
        "from paperbridge.ingest.errors import LibraryError\n"
        "for cfg in (IndexConfig(store='milvus-lite'), IndexConfig(cluster='local:2')):\n"
        f"    lib = Library.open(Path({lib!r}), cfg, create=True, encoders=[HashEncoder()])\n"
        f"    try:\n        lib.add([Path({txt!r})])\n"
        "    except LibraryError as err:\n        print('ERR', err)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    errors = [line for line in done.stdout.splitlines() if line.startswith("ERR")]
    assert len(errors) == 2, done.stdout + done.stderr
    assert all("pip install 'paperbridge[scale]'" in e for e in errors)
    assert not (tmp_path / "lib" / "CURRENT").exists()  # nothing was published


# ---- helpers ------------------------------------------------------------------------------
def _open(path: Path, store: str, dim: int = 64) -> Library:
    return Library.open(path, IndexConfig(store=store), create=True, encoders=[HashEncoder(dim)])


def _seen(lib: Library, question: str) -> tuple[list[int], set[int]]:
    """What a version shows for a question: its dense top 5, and every passage BM25 matches
    (the set: BM25 scores follow the collection's statistics, which any write changes)."""
    return _top(lib, question)[0], {i for i, _ in lib.lexical_search(question, 500)}


def _top(lib: Library, question: str, k: int = 5) -> tuple[list[int], list[int]]:
    enc = HashEncoder(64)
    dense = [i for i, _ in lib.dense_search(enc.name, enc.encode_queries([question])[0], k)]
    lexical = [i for i, _ in lib.lexical_search(question, k)]
    return dense, lexical


@pytest.fixture()
def pair(tmp_path: Path) -> tuple[Library, Library]:
    """The sample corpus on FAISS and on milvus-lite (hash encoder)."""
    faiss, lite = _open(tmp_path / "faiss", ""), _open(tmp_path / "lite", str(tmp_path / "m.db"))
    faiss.add(SAMPLE_TXT)
    lite.add(SAMPLE_TXT)
    return faiss, lite


# ---- the same library ----------------------------------------------------------------------
@milvus
@pytest.mark.distributed
def test_milvus_holds_the_same_library_and_finds_the_same_passages(pair: tuple[Library, Library]) -> None:
    faiss, lite = pair
    assert lite.passage_ids() == faiss.passage_ids() and lite.languages() == faiss.languages()
    assert (Path(lite.path) / "versions" / lite._state.name / "store.json").is_file()  # type: ignore[union-attr]
    assert not list((Path(lite.path) / "versions").glob("*/vectors"))  # no FAISS files
    enc = HashEncoder(64)
    doc = next(d.doc_id for d in faiss.documents() if "K计划" in d.title)
    for question in QUESTIONS:
        vec = enc.encode_queries([question])[0]
        for lang in (None, "en", "zh"):
            _same_hits(faiss.dense_search(enc.name, vec, 5, lang=lang),
                       lite.dense_search(enc.name, vec, 5, lang=lang))
            _same_hits(faiss.lexical_search(question, 5, lang=lang),
                       lite.lexical_search(question, 5, lang=lang))
        _same_hits(faiss.dense_search(enc.name, vec, 5, doc_ids=[doc]),
                   lite.dense_search(enc.name, vec, 5, doc_ids=[doc]))
        _same_hits(faiss.lexical_search(question, 5, doc_ids=[doc]),
                   lite.lexical_search(question, 5, doc_ids=[doc]))


def _same_hits(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> None:
    """Same scores in the same order, and the same passage wherever its score is not tied
    (the hash encoder gives some passages equal scores, which either store may order)."""
    scores = [s for _, s in a]
    assert scores == pytest.approx([s for _, s in b], rel=1e-4, abs=1e-5)
    for pos, (pid, score) in enumerate(a):
        tied = sum(abs(score - other) < 1e-5 for other in scores) > 1
        assert tied or pid == b[pos][0], (a, b)


@milvus
@pytest.mark.distributed
def test_versions_keep_their_meaning_readers_of_the_old_one_still_see_its_rows(
        pair: tuple[Library, Library]) -> None:
    _, lite = pair
    reader = Library.open(lite.path, encoders=[HashEncoder(64)])  # another reader, on version 1
    doc = next(d for d in lite.documents() if "K计划" in d.title)
    question = "K计划 日本 Program"
    dense_before, lexical_before = _top(reader, question, 20)
    assert doc.doc_id in {p.doc_id for p in reader.passages(lexical_before)}
    lite.remove([doc.doc_id])  # version 2: born/died filter; the reader is still on version 1
    # Exactly version 1's rows: the same dense hits, every BM25 hit of the removed document
    # still there (BM25 scores follow the collection's statistics, which the write changed).
    assert _top(reader, question, 20)[0] == dense_before
    assert {i for i, _ in reader.lexical_search(question, 50, doc_ids=[doc.doc_id])} == \
        {i for i, _ in Library.open(lite.path.parent / "faiss", encoders=[HashEncoder(64)]).lexical_search(
            question, 50, doc_ids=[doc.doc_id])}
    assert not lite.lexical_search(question, 50, doc_ids=[doc.doc_id])
    assert doc.doc_id not in {p.doc_id for p in lite.passages([*_top(lite, question, 50)[0],
                                                               *_top(lite, question, 50)[1]])}
    assert reader.refresh() and _top(reader, question) == _top(lite, question)
    lite.add(SAMPLE_TXT)  # the document comes back, with new passage ids
    assert len(lite) == len(reader) + doc.passages
    lite.rebuild(encoders=[HashEncoder(32)])  # a rebuild starts a new collection
    hits = lite.dense_search("hash-32", HashEncoder(32).encode_queries(["日本"])[0], 3)
    files = [json.loads(p.read_text()) for p in (Path(lite.path) / "versions").glob("*/store.json")]
    assert hits and len({f["collection"] for f in files}) == 2  # the previous version keeps the old
    health = Library.check(lite.path)
    assert health.ok and not health.problems(), health.problems()


@milvus
@pytest.mark.distributed
def test_a_writer_killed_before_publishing_changes_nothing_readers_see(pair: tuple[Library, Library]) -> None:
    _, lite = pair
    before = {q: _seen(lite, q) for q in QUESTIONS[:8]}
    version = lite._state
    assert version is not None
    # What a kill -9 between the Milvus inserts and the publish leaves: rows born at the
    # next generation, tombstones, and the writer's folder (no discard runs on a kill).
    writer = VersionWriter(lite.path, lite.config, base=version, prior=version,
                           encoders=lambda: lite.encoders, entries=lambda: ())
    writer.remove(lite.documents()[0].doc_id)
    writer.add_documents([_document("quantum sensing of gravitational waves")], AddReport(), progress=False)
    reopened = Library.open(lite.path, encoders=[HashEncoder(64)])
    assert {q: _seen(reopened, q) for q in before} == before and len(reopened) == len(lite)
    health = Library.check(lite.path)
    assert any(".tmp-" in p for p in health.problems())
    assert any("never published" in p for p in health.problems()), health.problems()
    done = Library.repair(lite.path)
    assert any("undid" in a for a in done.actions) and done.health is not None and done.health.ok
    assert not done.health.problems()
    lite.add([SAMPLE_TXT[0]])  # the next write starts from the current version, unchanged
    assert {q: _seen(lite, q) for q in before} == before


@milvus
@pytest.mark.distributed
def test_the_next_write_resets_what_a_killed_one_left(pair: tuple[Library, Library]) -> None:
    _, lite = pair
    before = len(lite)
    version = lite._state
    assert version is not None
    killed = VersionWriter(lite.path, lite.config, base=version, prior=version,
                           encoders=lambda: lite.encoders, entries=lambda: ())
    killed.add_documents([_document("zyxwvut quokka rows nobody published")], AddReport(), progress=False)
    lite.add([_text_file(lite.path.parent / "new.txt", "a new paper on tidal power in Japan")])
    assert len(lite) == before + 1 and Library.check(lite.path).ok
    assert not lite.lexical_search("zyxwvut quokka", 3)


@milvus
@pytest.mark.distributed
def test_a_lost_collection_is_refused_and_doctor_re_embeds_it(pair: tuple[Library, Library]) -> None:
    from paperbridge.index.stores.milvus import StoreFile, connect

    _, lite = pair
    folder = Path(lite.path) / "versions" / lite._state.name  # type: ignore[union-attr]
    file = StoreFile.read(folder)
    assert file is not None
    connect(parse_store(file.store), lite.path).drop_collection(file.collection)
    with pytest.raises(LibraryDamagedError, match="missing.*doctor"):
        Library.open(lite.path, encoders=[HashEncoder(64)])
    health = Library.check(lite.path)
    assert not health.ok and "re" in health.advice()
    done = Library.repair(lite.path, encoders=[HashEncoder(64)])
    assert any("re-embedded" in a for a in done.actions), done.actions
    again = Library.open(lite.path, encoders=[HashEncoder(64)])
    assert len(again) == len(lite) and again.lexical_search("Japan innovation", 3)


@milvus
@pytest.mark.distributed
def test_moving_a_faiss_library_onto_milvus_takes_a_rebuild(pair: tuple[Library, Library],
                                                           tmp_path: Path) -> None:
    faiss, _ = pair
    store = str(tmp_path / "moved.db")
    asked = Library.open(faiss.path, IndexConfig(store=store), encoders=[HashEncoder(64)])
    with pytest.raises(LibraryError, match="rebuild"):
        asked.add([_text_file(tmp_path / "n.txt", "a note on Japanese fisheries")])
    asked.rebuild()
    assert (Path(faiss.path) / "versions" / asked._state.name / "store.json").is_file()  # type: ignore[union-attr]
    assert _top(asked, "日本 创新")[1] and len(asked) == len(faiss)


def _document(text: str) -> object:
    from paperbridge.ingest.document import Document, Passage

    doc_id = hashlib.sha256(text.encode()).hexdigest()[:16]
    return Document(doc_id, text, f"/nowhere/{doc_id}.txt", "text", "en", (text,),
                    (Passage(doc_id, 1, 0, 1, "en", 0, len(text), text),), ())


def _text_file(path: Path, text: str) -> Path:
    path.write_text(text + "\n", encoding="utf-8")
    return path


# ---- a Milvus server (milvus-lite's gRPC server on 127.0.0.1), driven by the CLI -------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def milvus_server(tmp_path: Path) -> Iterator[str]:
    """``milvus-lite server`` on a free loopback port: the address a Milvus standalone has."""
    port = _free_port()
    proc = subprocess.Popen([str(Path(sys.executable).parent / "milvus-lite"), "server", "--data-dir",
                             str(tmp_path / "server-data"), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield f"milvus://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _cli(library: Path, *args: str, store: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``paperbridge`` on a library (on ``store`` when given), expecting success."""
    options = ["--store", store] if store else []
    done = subprocess.run([sys.executable, "-m", "paperbridge", "--library", str(library), *options, *args],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@milvus
@pytest.mark.distributed
def test_the_cli_runs_a_library_on_a_milvus_server(milvus_server: str, tmp_path: Path) -> None:
    lib, faiss = tmp_path / "lib", tmp_path / "faiss"
    assert "Added 5" in _cli(lib, "add", *map(str, SAMPLE_TXT), "--model", "hash", store=milvus_server).stdout
    _cli(faiss, "add", *map(str, SAMPLE_TXT), "--model", "hash")
    for question in QUESTIONS[:6]:
        on_milvus = json.loads(_cli(lib, "ask", question, "--json", store=milvus_server).stdout)
        on_faiss = json.loads(_cli(faiss, "ask", question, "--json").stdout)
        assert [c["doc_id"] for c in on_milvus["citations"]] == [c["doc_id"] for c in on_faiss["citations"]]
    doc = json.loads(_cli(lib, "list", "--json").stdout)[0]  # the library remembers its store
    assert "Removed" in _cli(lib, "remove", doc["doc_id"], store=milvus_server).stdout
    assert "Rebuilt 4" in _cli(lib, "rebuild", store=milvus_server).stdout
    assert "Nothing to do" in _cli(lib, "doctor").stdout


@milvus
@pytest.mark.distributed
def test_an_encoder_that_skips_references_finds_none_on_milvus(tmp_path: Path) -> None:
    """e5 embeds answer passages only: its field holds a zero vector for a reference list's
    passage, which searches filter out; the neutral encoder and BM25 still find it."""
    from paperbridge.qa.config import QAConfig
    from paperbridge.qa.retrieve import Retriever
    from tests.test_sentences import _document

    encoders = [HashEncoder(64), HashEncoder(32)]
    lib = Library.open(tmp_path / "lib", IndexConfig(store=str(tmp_path / "milvus.db")), create=True,
                       encoders=encoders)
    assert not lib.add_documents([_document()]).failed
    reference = next(p.id for p in lib.passages(lib.passage_ids()) if p.passage_kind == "references")
    query = "Smith quantum sensing budgets Science Policy"
    doc = lib.documents()[0].doc_id
    for doc_ids in (None, [doc]):
        found = lib.dense_search("hash-32", encoders[1].encode_queries([query])[0], 10, doc_ids=doc_ids)
        assert found and reference not in [i for i, _ in found]
        neutral = lib.dense_search("hash-64", encoders[0].encode_queries([query])[0], 10, doc_ids=doc_ids)
        assert reference in [i for i, _ in neutral]
    hits = Retriever(lib, QAConfig(depth=10)).search(query, 3, kinds=["references"]).hits
    assert [h.passage_id for h in hits] == [reference] and "hash-32" not in hits[0].signals
    assert Library.check(lib.path).ok
