"""Passage kinds, sections and document metadata as the library stores them (schema 2).

The old layout (schema 1, before kinds) is written here with its own SQL, as an old
PaperBridge wrote it, to check that such a library is refused with the command to run, and
that `rebuild` still reads it.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from paperbridge.index import HashEncoder, Library
from paperbridge.index.store import SCHEMA_VERSION, Store
from paperbridge.ingest import ANSWER_KINDS, Document, ExtractionReport, Passage
from paperbridge.ingest.errors import LibraryFormatError

_SCHEMA_1 = """
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL,
    lang TEXT NOT NULL, pages INTEGER NOT NULL, passages INTEGER NOT NULL,
    warnings TEXT NOT NULL, added TEXT NOT NULL
);
CREATE TABLE pages (
    doc_id TEXT NOT NULL, page INTEGER NOT NULL, text TEXT NOT NULL, PRIMARY KEY (doc_id, page)
);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, paragraph INTEGER NOT NULL,
    part INTEGER NOT NULL, page INTEGER NOT NULL, lang TEXT NOT NULL, start INTEGER NOT NULL,
    "end" INTEGER NOT NULL, text TEXT NOT NULL, tokens TEXT NOT NULL
);
"""


def _document(source: Path) -> Document:
    texts = ["The BM25 weight of a term grows with its frequency in the document.",
             "Robertson S E, Walker S. Okapi at TREC-3. NIST, 1995."]
    passages = (
        Passage("d" * 16, 1, 0, 1, "en", 0, len(texts[0]), texts[0], "body", "2 > 2.1 Weights"),
        Passage("d" * 16, 2, 0, 2, "en", 0, len(texts[1]), texts[1], "references", "References"),
    )
    report = ExtractionReport(2, ("pypdf", "pdfium"), ((3, "no text layer"),),
                              {"body": 1, "references": 1})
    return Document("d" * 16, "Okapi at TREC-3", str(source), "text", "en", tuple(texts),
                    passages, ("a warning",), ("S. E. Robertson", "S. Walker"), 1995, report)


def test_kinds_sections_and_metadata_round_trip(tmp_path: Path) -> None:
    store = Store.create(tmp_path / "db.sqlite")
    store.insert_document(_document(tmp_path / "okapi.txt"), [7, 8], [["bm25"], ["okapi"]], "now")
    store.commit()
    store.close()
    read = Store.open_read(tmp_path / "db.sqlite")
    assert read.schema_version == SCHEMA_VERSION and not read.outdated
    info = read.documents()[0]
    assert info.authors == ("S. E. Robertson", "S. Walker") and info.year == 1995
    assert info.report.extractors == ("pypdf", "pdfium")
    assert info.report.dropped == ((3, "no text layer"),)
    assert info.report.kinds == {"body": 1, "references": 1}
    assert info.report.extractor_ranges() == "pypdf 1; pdfium 2"
    body, refs = read.passages([7, 8])
    assert (body.passage_kind, body.section) == ("body", "2 > 2.1 Weights")
    assert (refs.passage_kind, refs.section) == ("references", "References")
    assert read.passage_ids(kinds=ANSWER_KINDS) == [7]
    assert read.passage_ids(kinds=["references"], lang="en") == [8]
    assert read.passage_ids() == [7, 8]


def test_library_of_the_old_schema_is_refused_then_rebuilt(tmp_path: Path) -> None:
    source = tmp_path / "okapi.txt"
    source.write_text("The BM25 weight of a term grows with its frequency in the document.\n",
                      encoding="utf-8")
    lib = Library.open(tmp_path / "lib", create=True, encoders=[HashEncoder(32)])
    lib.add([source])
    db = next((tmp_path / "lib" / "versions").glob("*/library.sqlite"))
    new = sqlite3.connect(db)
    rows = {t: new.execute(f"SELECT * FROM {t}").fetchall() for t in ("documents", "pages", "passages")}
    new.close()
    db.unlink()
    old = sqlite3.connect(db)  # the same contents, laid out as schema 1 wrote them
    old.executescript(_SCHEMA_1)
    old.executemany("INSERT INTO documents VALUES (?,?,?,?,?,?,?,?,?)", [r[:9] for r in rows["documents"]])
    old.executemany("INSERT INTO pages VALUES (?,?,?)", rows["pages"])
    old.executemany("INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?,?)", [r[:10] for r in rows["passages"]])
    old.commit()
    old.close()
    manifest = db.parent / "manifest.json"  # and its manifest as format 1 wrote it (no file sums)
    raw = json.loads(manifest.read_text(encoding="utf-8"))
    raw.update(format_version=1, files={}, version_id="")
    manifest.write_text(json.dumps(raw), encoding="utf-8")

    lib = Library.open(tmp_path / "lib", encoders=[HashEncoder(32)])
    assert [d.title for d in lib.documents()] == ["okapi"]  # `list` still shows what is there
    with pytest.raises(LibraryFormatError, match="paperbridge rebuild"):
        lib.passage_ids()
    other = source.with_name("other.txt")
    other.write_text("Another file, added to the old library.\n", encoding="utf-8")
    with pytest.raises(LibraryFormatError, match="paperbridge rebuild"):
        lib.add([other])
    source.unlink()  # rebuild from the stored text alone
    Library.open(tmp_path / "lib", encoders=[HashEncoder(32)]).rebuild()
    lib = Library.open(tmp_path / "lib", encoders=[HashEncoder(32)])
    [passage] = lib.passages(lib.passage_ids())
    assert passage.text.startswith("The BM25 weight") and passage.passage_kind == "body"


def test_library_keeps_what_ingestion_reported(tmp_path: Path) -> None:
    from tests.conftest import SHARED_PDFS

    if not SHARED_PDFS.is_dir():
        pytest.skip(f"{SHARED_PDFS} not found")
    lib = Library.open(tmp_path / "lib", create=True, encoders=[HashEncoder(32)])
    lib.add([SHARED_PDFS / "zh_elegantpaper-cn.pdf"])
    [info] = Library.open(tmp_path / "lib", encoders=[HashEncoder(32)]).documents()
    assert info.title.startswith("ElegantPaper") and info.year == 2019
    assert info.report.pages == 5 and len(info.report.extractors) == 5
    assert sum(info.report.kinds.values()) == info.passages and info.report.kinds["body"] > 10
    lib = Library.open(tmp_path / "lib", encoders=[HashEncoder(32)])
    body = lib.passages(lib._state.store.passage_ids(kinds=["body"]))  # type: ignore[union-attr]
    assert body and all(p.passage_kind == "body" for p in body)
    assert any(p.section.startswith("1 模板介绍") for p in body)
