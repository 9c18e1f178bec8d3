"""SQLite metadata of a library version: documents, their page texts, and passages.

A version's database is opened read-only and immutable by readers (no journal files, safe
while a writer builds the next version beside it); a writer works on its own copy.

The schema carries its own version (SQLite ``PRAGMA user_version``). A database of an older
schema can still be read far enough to rebuild from it (documents, page texts, passages as
plain body text), but searching it or writing to it is refused with the command to run.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from paperbridge.index import sentences as stored_sentences
from paperbridge.index.sentences import SentenceRow, StoredSentences
from paperbridge.ingest.document import Document, ExtractionReport
from paperbridge.ingest.errors import LibraryFormatError

# 1: the first layout (user_version 0 on disk); 2: passage kind and section, document
# authors, year and extraction report.
SCHEMA_VERSION = 2

_SCHEMA = f"""
PRAGMA user_version = {SCHEMA_VERSION};
CREATE TABLE documents (
    doc_id TEXT PRIMARY KEY, title TEXT NOT NULL, source TEXT NOT NULL, kind TEXT NOT NULL,
    lang TEXT NOT NULL, pages INTEGER NOT NULL, passages INTEGER NOT NULL,
    warnings TEXT NOT NULL, added TEXT NOT NULL, authors TEXT NOT NULL, year INTEGER,
    report TEXT NOT NULL
);
CREATE INDEX documents_source ON documents(source);
CREATE TABLE pages (
    doc_id TEXT NOT NULL, page INTEGER NOT NULL, text TEXT NOT NULL, PRIMARY KEY (doc_id, page)
);
CREATE TABLE passages (
    id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, paragraph INTEGER NOT NULL,
    part INTEGER NOT NULL, page INTEGER NOT NULL, lang TEXT NOT NULL, start INTEGER NOT NULL,
    "end" INTEGER NOT NULL, text TEXT NOT NULL, tokens TEXT NOT NULL, kind TEXT NOT NULL,
    section TEXT NOT NULL
);
CREATE INDEX passages_doc ON passages(doc_id);
CREATE INDEX passages_lang ON passages(lang);
CREATE INDEX passages_kind ON passages(kind);
"""

_DOC_COLS = "doc_id, title, source, kind, lang, pages, passages, warnings, added"
_DOC_COLS_V2 = _DOC_COLS + ", authors, year, report"
_PASSAGE_COLS = (
    "p.id, p.doc_id, d.title, d.source, d.kind, p.page, p.paragraph, p.part, p.lang, "
    'p.start, p."end", p.text'
)
_PASSAGE_COLS_V2 = _PASSAGE_COLS + ", p.kind, p.section"


@dataclass(frozen=True)
class StoredPassage:
    """A passage as stored, with its document's title and source, under its FAISS id."""

    id: int
    doc_id: str
    title: str
    source: str
    kind: str  # "pdf" | "text"
    page: int
    paragraph: int
    part: int
    lang: str
    start: int
    end: int
    text: str
    passage_kind: str = "body"  # the Passage's kind (``kind`` above is the document's)
    section: str = ""
    # Where its stored sentence vectors are read (None: the version stores none).
    sentences: StoredSentences | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class DocumentInfo:
    """One document of the library, as `paperbridge list` shows it."""

    doc_id: str
    title: str
    source: str
    kind: str
    lang: str
    pages: int
    passages: int
    warnings: tuple[str, ...]
    added: str  # ISO timestamp
    authors: tuple[str, ...] = ()
    year: int | None = None
    report: ExtractionReport = field(default_factory=ExtractionReport)


def _doc_info(row: sqlite3.Row | tuple[object, ...]) -> DocumentInfo:
    doc_id, title, source, kind, lang, pages, passages, warnings, added = row[:9]
    authors, year, report = row[9:] if len(row) > 9 else ("[]", None, "{}")
    return DocumentInfo(
        str(doc_id), str(title), str(source), str(kind), str(lang), int(str(pages)),
        int(str(passages)), tuple(json.loads(str(warnings))), str(added),
        tuple(json.loads(str(authors))), None if year is None else int(str(year)),
        ExtractionReport.from_json(json.loads(str(report))),
    )


def _blob(value: object) -> bytes:
    """A BLOB column's value as bytes."""
    if not isinstance(value, bytes | memoryview):
        raise ValueError(f"expected a BLOB, got {type(value).__name__}")
    return bytes(value)


def _outdated(path: Path, version: int) -> LibraryFormatError:
    return LibraryFormatError(
        f"The library database {path} has schema version {version or 1}; this PaperBridge "
        f"needs version {SCHEMA_VERSION} (passage kinds and sections). Run `paperbridge rebuild` "
        "to re-read the documents into the new format."
    )


class Store:
    """One SQLite database; thread-safe (the UI reads from several threads)."""

    def __init__(self, conn: sqlite3.Connection, path: Path | None = None) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self._path = path or Path("library.sqlite")
        self.schema_version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        #: Handed to every passage read (set by the version loader when it stores sentences).
        self.sentence_source: StoredSentences | None = None

    @property
    def outdated(self) -> bool:
        """True for a database of an older schema: readable for a rebuild, not searchable."""
        return self.schema_version < SCHEMA_VERSION

    def _require_current(self) -> None:
        if self.outdated:
            raise _outdated(self._path, self.schema_version)

    @classmethod
    def create(cls, path: Path) -> Store:
        """Create an empty database at ``path`` for writing."""
        conn = sqlite3.connect(path, check_same_thread=False)
        conn.executescript(_SCHEMA)
        return cls(conn, path)

    @classmethod
    def open_write(cls, path: Path) -> Store:
        """Open a writer's private copy.

        Raises:
            LibraryFormatError: the database has an older schema (``paperbridge rebuild``).
        """
        store = cls(sqlite3.connect(path, check_same_thread=False), path)
        if store.outdated:
            store.close()
            raise _outdated(path, store.schema_version)
        return store

    @classmethod
    def open_read(cls, path: Path) -> Store:
        """Open a published version read-only and immutable (never changes once swapped in)."""
        uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
        return cls(sqlite3.connect(uri, uri=True, check_same_thread=False), path)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def commit(self) -> None:
        """Commit a writer's changes (the file is then fsynced by SQLite)."""
        with self._lock:
            self._conn.commit()

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[object, ...]]:
        with self._lock:
            return list(self._conn.execute(sql, params).fetchall())

    # ---- writes -------------------------------------------------------------------------
    def insert_document(
        self, doc: Document, ids: Sequence[int], tokens: Sequence[list[str]], added: str
    ) -> None:
        """Store a document, its page texts and its passages under the given ids."""
        with self._lock:
            self._conn.execute(
                f"INSERT INTO documents ({_DOC_COLS_V2}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (doc.doc_id, doc.title, doc.source, doc.kind, doc.lang, doc.pages,
                 len(doc.passages), json.dumps(list(doc.warnings), ensure_ascii=False), added,
                 json.dumps(list(doc.authors), ensure_ascii=False), doc.year,
                 json.dumps(doc.report.to_json(), ensure_ascii=False)),
            )
            self._conn.executemany(
                "INSERT INTO pages VALUES (?,?,?)",
                [(doc.doc_id, i + 1, text) for i, text in enumerate(doc.page_texts)],
            )
            self._conn.executemany(
                "INSERT INTO passages VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                [(pid, p.doc_id, p.paragraph, p.part, p.page, p.lang, p.start, p.end, p.text,
                  " ".join(tok), p.kind, p.section)
                 for pid, p, tok in zip(ids, doc.passages, tokens, strict=True)],
            )

    def insert_sentences(self, rows: Sequence[tuple[int, bytes, bytes, bytes]]) -> None:
        """Store passages' sentence vectors: (passage id, spans, scales, vectors) BLOBs
        (:func:`paperbridge.index.sentences.pack`); the table is created on first use."""
        if not rows:
            return
        with self._lock:
            self._conn.execute(stored_sentences.SCHEMA)
            self._conn.executemany(f"INSERT INTO {stored_sentences.TABLE} VALUES (?,?,?,?)", rows)

    def _has_table(self, name: str) -> bool:
        found = self._rows("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return bool(found)

    def delete_document(self, doc_id: str) -> list[tuple[int, str]]:
        """Delete a document (and its passages' sentence vectors); returns the (passage id,
        lang) pairs it had."""
        gone = [(int(str(i)), str(lang)) for i, lang in
                self._rows("SELECT id, lang FROM passages WHERE doc_id = ?", (doc_id,))]
        sentences = self._has_table(stored_sentences.TABLE)
        with self._lock:
            if sentences:
                self._conn.execute(f"DELETE FROM {stored_sentences.TABLE} WHERE passage_id IN "
                                   "(SELECT id FROM passages WHERE doc_id = ?)", (doc_id,))
            for table in ("passages", "pages", "documents"):
                self._conn.execute(f"DELETE FROM {table} WHERE doc_id = ?", (doc_id,))
        return gone

    # ---- reads --------------------------------------------------------------------------
    def _documents(self, where: str = "", params: Sequence[object] = ()) -> list[DocumentInfo]:
        cols = _DOC_COLS if self.outdated else _DOC_COLS_V2
        return [_doc_info(r) for r in self._rows(f"SELECT {cols} FROM documents {where}", params)]

    def documents(self) -> list[DocumentInfo]:
        """All documents, oldest first (an outdated database too, so that it can be rebuilt)."""
        return self._documents("ORDER BY added, title")

    def document(self, doc_id: str) -> DocumentInfo | None:
        """One document by exact id."""
        rows = self._documents("WHERE doc_id = ?", (doc_id,))
        return rows[0] if rows else None

    def documents_by_source(self, source: str) -> list[DocumentInfo]:
        """Documents read from this source path."""
        return self._documents("WHERE source = ?", (source,))

    def passages(self, ids: Sequence[int]) -> list[StoredPassage]:
        """Passages by id, in the order asked; unknown ids raise KeyError.

        Raises:
            LibraryFormatError: the database has an older schema (``paperbridge rebuild``).
        """
        self._require_current()
        return self._passages(ids)

    def _passages(self, ids: Sequence[int]) -> list[StoredPassage]:
        found: dict[int, StoredPassage] = {}
        unique = sorted(set(int(i) for i in ids))
        cols = _PASSAGE_COLS if self.outdated else _PASSAGE_COLS_V2
        for chunk in range(0, len(unique), 500):
            part = unique[chunk:chunk + 500]
            sql = (f"SELECT {cols} FROM passages p JOIN documents d USING (doc_id) "
                   f"WHERE p.id IN ({','.join('?' * len(part))})")
            for row in self._rows(sql, part):
                passage = StoredPassage(*row)  # type: ignore[arg-type]
                if self.sentence_source is not None:  # not a column: where this version keeps them
                    object.__setattr__(passage, "sentences", self.sentence_source)
                found[passage.id] = passage
        return [found[int(i)] for i in ids]

    def sentence_rows(self, ids: Sequence[int], dim: int) -> dict[int, SentenceRow]:
        """Stored sentence vectors (``dim`` wide) of these passages, by id; passages without
        a row are left out, and a database without the table (or closed) gives none."""
        unique = sorted(set(int(i) for i in ids))
        found: dict[int, SentenceRow] = {}
        try:
            for chunk in range(0, len(unique), 500):
                part = unique[chunk:chunk + 500]
                sql = (f"SELECT passage_id, spans, scales, vectors FROM {stored_sentences.TABLE} "
                       f"WHERE passage_id IN ({','.join('?' * len(part))})")
                for pid, spans, scales, vectors in self._rows(sql, part):
                    row = stored_sentences.unpack(int(str(pid)), _blob(spans), _blob(scales),
                                                  _blob(vectors), dim)
                    found[row.passage_id] = row
        except (sqlite3.Error, ValueError):
            return {}  # no table (an older library), or a version closed meanwhile
        return found

    def passage_ids(
        self,
        *,
        lang: str | None = None,
        doc_ids: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
    ) -> list[int]:
        """Ids of the passages of one language, some documents and/or some kinds, ascending.

        ``kinds`` takes passage kinds (``paperbridge.ingest.ANSWER_KINDS`` for the ones that
        answer questions); None means every kind.

        Raises:
            LibraryFormatError: the database has an older schema (``paperbridge rebuild``).
        """
        self._require_current()
        sql, params = "SELECT id FROM passages WHERE 1=1", []
        if lang is not None:
            sql, params = sql + " AND lang = ?", [lang]
        if doc_ids is not None:
            sql += f" AND doc_id IN ({','.join('?' * len(doc_ids))})"
            params += list(doc_ids)
        if kinds is not None:
            sql += f" AND kind IN ({','.join('?' * len(kinds))})"
            params += list(kinds)
        return [int(str(r[0])) for r in self._rows(sql + " ORDER BY id", params)]

    def languages(self) -> dict[str, int]:
        """Passage counts per language."""
        return {str(lang): int(str(n)) for lang, n in
                self._rows("SELECT lang, COUNT(*) FROM passages GROUP BY lang ORDER BY lang")}

    def count(self) -> int:
        """Number of passages."""
        return int(str(self._rows("SELECT COUNT(*) FROM passages")[0][0]))

    def page_text(self, doc_id: str, page: int) -> str | None:
        """The cleaned text of one page, or None."""
        rows = self._rows("SELECT text FROM pages WHERE doc_id = ? AND page = ?", (doc_id, page))
        return str(rows[0][0]) if rows else None

    def page_texts(self, doc_id: str) -> tuple[str, ...]:
        """All page texts of a document, in page order."""
        return tuple(str(r[0]) for r in
                     self._rows("SELECT text FROM pages WHERE doc_id = ? ORDER BY page", (doc_id,)))

    def tokens(self) -> Iterator[tuple[int, list[str]]]:
        """(passage id, BM25 tokens) of every passage, ascending id."""
        self._require_current()
        for pid, tok in self._rows("SELECT id, tokens FROM passages ORDER BY id"):
            yield int(str(pid)), str(tok).split()

    def vocabulary(self) -> dict[str, Counter[str]]:
        """How many passages use each BM25 token, by passage language."""
        self._require_current()
        out: dict[str, Counter[str]] = {}
        for lang, tok in self._rows("SELECT lang, tokens FROM passages"):
            out.setdefault(str(lang), Counter()).update(set(str(tok).split()))
        return out

    def texts(self, *, lang: str | None = None) -> list[tuple[int, str, str]]:
        """(id, lang, text) of every passage (of one language), ascending id."""
        self._require_current()
        sql = "SELECT id, lang, text FROM passages" + (" WHERE lang = ?" if lang else "")
        return [(int(str(i)), str(lg), str(t)) for i, lg, t in
                self._rows(sql + " ORDER BY id", (lang,) if lang else ())]

    def doc_passages(self, doc_id: str) -> list[StoredPassage]:
        """The passages of one document, in order (an outdated database too: all "body")."""
        ids = [int(str(r[0])) for r in
               self._rows("SELECT id FROM passages WHERE doc_id = ? ORDER BY id", (doc_id,))]
        return self._passages(ids)
