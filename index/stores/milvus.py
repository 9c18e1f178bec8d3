"""The Milvus store: a library's vectors and BM25 index in a Milvus collection.

One collection holds one *lineage* of versions: a row per passage with the library's passage
id as primary key, its language, document and kind (scalar-indexed for filters), one vector field per
encoder (``v0``, ``v1``, ... in manifest order; HNSW, inner product), its BM25 tokens and the
sparse vector Milvus's BM25 function makes of them, and two generations: ``born``, the
generation of the write that added it, and ``died``, the generation of the write that removed
it (:data:`ALIVE` while it is in the library). Version ``G`` is exactly the rows with
``born <= G < died``: every search carries that filter, so versions share rows instead of
copying them, and a write never changes what an older version sees:

* an add inserts rows born ``G``; a remove sets ``died = G`` on the removed rows (Milvus
  upsert); both are invisible to readers of ``G - 1``;
* the write then flushes, counts the rows visible at ``G`` against SQLite, writes
  ``store.json`` (collection, generation, row count) into the version folder, and the
  version is published as before: folder renamed, ``CURRENT`` swapped. ``CURRENT`` is the
  one atomic switch, on Milvus as on FAISS;
* a write starts by resetting the collection to the version it starts from (rows born
  later are deleted, rows that died later are revived), which undoes whatever a killed
  writer left;
* cleanup deletes rows that died before the oldest version kept for readers, and drops the
  collections no kept version names.

A rebuild (new models, or moving a library onto Milvus) starts a new collection, named in
the new version's ``store.json``; the old one is dropped once no kept version uses it.

BM25: the text field holds PaperBridge's own tokens (jieba for Chinese, stemmed English,
:func:`paperbridge.index.lexical.tokenize`), each as a hashed ASCII word that Milvus's
``standard`` tokenizer keeps whole (:func:`token_text`), so both stores score the same
tokens with the same BM25 (k1 1.5, b 0.75). The statistics differ a little: bm25s counts
the version's passages, Milvus every row of the collection (a Milvus server: all segments,
rows of older versions until cleanup deletes them; milvus-lite: each segment alone). Why
not Milvus's own analyzers: ``bench/scale.py --part analyzers`` (its jieba segments Chinese
as well as ours; no one analyzer also stems English, and mixed passages need both).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from paperbridge.index.config import IndexConfig
from paperbridge.index.lexical import tokenize
from paperbridge.index.manifest import Manifest
from paperbridge.index.store import Store
from paperbridge.index.stores.base import Embedded, Hits, Rows
from paperbridge.index.stores.spec import MILVUS, StoreSpec, parse_store
from paperbridge.index.vectors import default_ef_construction
from paperbridge.ingest.errors import LibraryDamagedError, LibraryError

_log = logging.getLogger(__name__)

ALIVE = 1 << 62  # ``died`` of a row still in the library
STORE_FILE = "store.json"  # in a version folder: which collection and generation it is
_BATCH = 512  # rows per insert / upsert call
_MAX_TEXT = 60_000  # bytes of token words per row (Milvus VARCHAR holds 65,535)
#: bm25s's defaults, so both stores score BM25 alike (Milvus's server default k1 is 1.2).
BM25_PARAMS = {"bm25_k1": 1.5, "bm25_b": 0.75}
EXTRA_HINT = "pip install 'paperbridge[scale]'"


def token_text(tokens: Sequence[str]) -> str:
    """BM25 tokens as one string that any Milvus tokenizer splits back into one word per token.

    Each token becomes ``w`` + 16 hex digits of its hash: a lowercase ASCII word, kept whole
    by Milvus's ``standard`` tokenizer (which would cut Chinese into single characters),
    by ``whitespace``, and by milvus-lite's. BM25 needs equal tokens to be equal words,
    nothing more; 64-bit hashes collide once in ~10^19 pairs.
    """
    words = [f"w{hashlib.blake2b(t.encode('utf-8'), digest_size=8).hexdigest()}" for t in tokens if t]
    return " ".join(words[:_MAX_TEXT // 18])  # 18 bytes a word: within Milvus's VARCHAR limit


# ---- connections -------------------------------------------------------------------------
_clients: dict[tuple[str, str], Any] = {}
_clients_lock = threading.Lock()


def _pymilvus() -> Any:
    try:
        import pymilvus
    except ImportError as err:
        raise LibraryError(
            "The Milvus store needs the optional packages of PaperBridge's scale extra: "
            f"{EXTRA_HINT} (pymilvus, milvus-lite, dask). The default store (FAISS) needs none."
        ) from err
    return pymilvus


def connect(spec: StoreSpec, root: Path) -> Any:
    """A MilvusClient for ``spec`` (one per address and process, shared by every version).

    Raises:
        LibraryError: pymilvus is not installed, or the server cannot be reached.
    """
    address = spec.address(root)
    key = (address, spec.token)
    with _clients_lock:
        if key in _clients:
            return _clients[key]
        pymilvus = _pymilvus()
        if spec.lite:
            Path(address).parent.mkdir(parents=True, exist_ok=True)
        try:
            client = pymilvus.MilvusClient(uri=address, token=spec.token, timeout=60)
        except Exception as err:  # noqa: BLE001 - pymilvus raises many kinds for one cause
            raise unreachable(spec, err) from err
        _clients[key] = client
        return client


def unreachable(spec: StoreSpec, err: BaseException) -> LibraryError:
    """The error for a Milvus store that cannot be used, with what to check."""
    reason = " ".join(str(err).split())[:200] or type(err).__name__
    if spec.lite:
        return LibraryError(
            f"The Milvus Lite store {spec.shown()} cannot be opened ({reason}). Milvus Lite "
            "serves one process at a time: close the other PaperBridge using it, or run a "
            "Milvus server and use --store milvus://HOST:PORT."
        )
    return LibraryError(
        f"The Milvus server at {spec.shown()} cannot be reached ({reason}). Check that it runs "
        "and the address (--store / PAPERBRIDGE_STORE; milvus://USER:PASSWORD@HOST:PORT when it "
        "requires a login); the library's other files are unchanged."
    )


# ---- the version's store file -----------------------------------------------------------
@dataclass(frozen=True)
class StoreFile:
    """``store.json`` of a version folder: where its vectors and BM25 rows are.

    Attributes:
        store: the store setting, without credentials (:meth:`StoreSpec.shown`).
        collection: the Milvus collection.
        generation: the version's generation (rows with ``born <= generation < died``).
        rows: passages visible in this version (what a check counts).
        dims: each encoder's dimension, in manifest order.
        analyzer: the tokenizer of the BM25 text field.
        created: this version's writer created the collection (a killed writer's is dropped).
    """

    store: str
    collection: str
    generation: int
    rows: int
    dims: tuple[int, ...]
    analyzer: str
    created: bool = False

    def write(self, folder: Path) -> None:
        """Write ``folder/store.json`` (the manifest checksums it with the other files)."""
        (folder / STORE_FILE).write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")

    @classmethod
    def read(cls, folder: Path) -> StoreFile | None:
        """The store file of a version folder, None when it has none (a FAISS version).

        Raises:
            LibraryDamagedError: the file is there but unreadable.
        """
        path = folder / STORE_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            raw["dims"] = tuple(raw["dims"])
            return cls(**raw)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise LibraryDamagedError(f"{path} cannot be read ({type(err).__name__}); run "
                                      "`paperbridge doctor`.") from err

    def spec(self, asked: str) -> StoreSpec:
        """How to reach the collection: the asked Milvus setting (another address of the
        server, or its credentials) when one is given, else the recorded one."""
        if asked:
            spec = parse_store(asked)
            if spec.kind == MILVUS:
                return spec
        return parse_store(self.store)


def visible(generation: int) -> str:
    """The filter of the rows of version ``generation``."""
    return f"born <= {generation} and died > {generation}"


def _filter(generation: int, lang: str | None, doc_ids: Collection[str] | None,
            kinds: Collection[str] | None = None) -> str:
    parts = [visible(generation)]
    if lang is not None:
        parts.append(f"lang == {json.dumps(lang)}")
    if doc_ids is not None:
        parts.append(f"doc_id in {json.dumps(sorted(doc_ids))}")
    if kinds is not None:
        parts.append(f"kind in {json.dumps(sorted(kinds))}")
    return " and ".join(parts)


def count(client: Any, collection: str, expr: str) -> int:
    """Rows matching ``expr`` (strongly consistent: every acknowledged write counts)."""
    found = client.query(collection, filter=expr, output_fields=["count(*)"],
                         consistency_level="Strong")
    return int(found[0]["count(*)"])


# ---- reading -----------------------------------------------------------------------------
class MilvusIndexes:
    """A published version's rows in Milvus, searched with the version's filter."""

    def __init__(self, client: Any, file: StoreFile, ef_search: int,
                 kinds: Sequence[tuple[str, ...] | None] = ()) -> None:
        """``kinds[slot]``: the passage kinds encoder ``slot`` embedded (None or missing: all)."""
        self.client, self.file, self.ef_search = client, file, ef_search
        self.kinds = list(kinds)

    def dense(self, slot: int, query: np.ndarray, k: int, *, lang: str | None,
              doc_ids: Collection[str] | None) -> Hits:
        """HNSW search of field ``v<slot>`` (inner product), filtered to the version and to
        the passage kinds the encoder embedded (the others hold a zero vector: a Milvus row
        has every vector field)."""
        if k <= 0 or (doc_ids is not None and not doc_ids):
            return []
        kinds = self.kinds[slot] if slot < len(self.kinds) else None
        found = self.client.search(
            self.file.collection, [np.asarray(query, dtype=np.float32).tolist()],
            anns_field=f"v{slot}", limit=k,
            filter=_filter(self.file.generation, lang, doc_ids, kinds),
            search_params={"metric_type": "IP", "params": {"ef": max(self.ef_search, k)}},
            output_fields=["id"], consistency_level="Strong")
        return [(int(h["id"]), float(h["distance"])) for h in found[0]]

    def lexical(self, query: str, k: int, *, lang: str | None,
                doc_ids: Collection[str] | None) -> Hits:
        """Milvus BM25 over the version's rows, scored on bm25s's scale: positive (milvus-lite
        reports them negated, as distances) and without the constant (k1 + 1) factor."""
        text = token_text(tokenize(query))
        if k <= 0 or not text or (doc_ids is not None and not doc_ids):
            return []
        found = self.client.search(
            self.file.collection, [text], anns_field="bm25", limit=k,
            filter=_filter(self.file.generation, lang, doc_ids),
            search_params={"metric_type": "BM25", "params": {}}, output_fields=["id"],
            consistency_level="Strong")
        scale = 1.0 + BM25_PARAMS["bm25_k1"]  # Milvus keeps BM25's (k1 + 1) factor, bm25s not
        hits = [(int(h["id"]), abs(float(h["distance"])) / scale) for h in found[0]]
        return [h for h in hits if h[1] > 0]

    def close(self) -> None:
        """The client is shared by the process's versions: nothing to close per version."""


def open_indexes(root: Path, folder: Path, manifest: Manifest, config: IndexConfig) -> MilvusIndexes:
    """The searchable rows of the version in ``folder`` (its store file names them; the
    rows were counted by :func:`problems` when the version was checked).

    Raises:
        LibraryError: Milvus cannot be reached.
        LibraryDamagedError: the collection is gone.
    """
    file = StoreFile.read(folder)
    if file is None:
        raise LibraryDamagedError(f"{folder / STORE_FILE} is missing")
    client = connect(file.spec(config.store), root)
    if not client.has_collection(file.collection):
        raise LibraryDamagedError(f"Milvus collection {file.collection} is missing")
    client.load_collection(file.collection)
    return MilvusIndexes(client, file, config.hnsw_ef_search, [e.kinds for e in manifest.encoders])


def collection_problems(client: Any, file: StoreFile, manifest: Manifest) -> list[str]:
    """What is wrong with a version's rows in Milvus (empty when they are all there)."""
    if not client.has_collection(file.collection):
        return [f"Milvus collection {file.collection} is missing"]
    client.load_collection(file.collection)
    rows = count(client, file.collection, visible(file.generation))
    if rows != manifest.passages:
        return [f"Milvus collection {file.collection} holds {rows} passages of generation "
                f"{file.generation}; the manifest says {manifest.passages}"]
    return []


def problems(root: Path, folder: Path, manifest: Manifest, config: IndexConfig | None) -> list[str]:
    """The store's part of checking a version (``versions.version_problems``)."""
    file = StoreFile.read(folder)
    if file is None:
        return []
    client = connect(file.spec(config.store if config else ""), root)
    return collection_problems(client, file, manifest)


def unpublished(root: Path, folder: Path) -> list[str]:
    """Rows a killed writer left in the collection of the version in ``folder`` (doctor)."""
    file = StoreFile.read(folder)
    if file is None:
        return []
    client = connect(file.spec(""), root)
    if not client.has_collection(file.collection):
        return []
    g = file.generation
    n = count(client, file.collection, f"born > {g} or (died > {g} and died < {ALIVE})")
    return [f"Milvus collection {file.collection}: {n} rows changed by a write that was never "
            "published"] if n else []


# ---- writing -----------------------------------------------------------------------------
def _schema(client: Any, dims: Sequence[int], analyzer: str) -> Any:
    from pymilvus import DataType, Function, FunctionType

    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("lang", DataType.VARCHAR, max_length=16)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=64)
    schema.add_field("kind", DataType.VARCHAR, max_length=32)
    schema.add_field("born", DataType.INT64)
    schema.add_field("died", DataType.INT64)
    schema.add_field("tokens", DataType.VARCHAR, max_length=65_535, enable_analyzer=True,
                     analyzer_params={"tokenizer": analyzer})
    schema.add_field("bm25", DataType.SPARSE_FLOAT_VECTOR)
    for slot, dim in enumerate(dims):
        schema.add_field(f"v{slot}", DataType.FLOAT_VECTOR, dim=dim)
    schema.add_function(Function(name="bm25_of_tokens", function_type=FunctionType.BM25,
                                 input_field_names=["tokens"], output_field_names=["bm25"]))
    return schema


def _index_params(client: Any, dims: Sequence[int], config: IndexConfig) -> Any:
    params = client.prepare_index_params()
    hnsw = {"M": config.hnsw_m, "efConstruction": default_ef_construction(config.hnsw_m)}
    for slot in range(len(dims)):
        params.add_index(f"v{slot}", index_type="HNSW", metric_type="IP", params=hnsw)
    params.add_index("bm25", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                     params=BM25_PARAMS)
    for name in ("lang", "doc_id", "kind", "born", "died"):
        params.add_index(name, index_type="INVERTED")
    return params


def _batches(items: Sequence[Any], size: int = _BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def set_died(client: Any, collection: str, ids: Sequence[int], died: int) -> None:
    """Set ``died`` on rows, upserting them whole: a partial upsert would recompute the BM25
    vector from text it was not given (milvus-lite empties it)."""
    for part in _batches(list(ids)):
        rows = client.query(collection, filter=f"id in {[int(i) for i in part]}",
                            output_fields=["*"], consistency_level="Strong")
        for row in rows:
            row.pop("bm25", None)
            row["died"] = died
        if rows:
            client.upsert(collection, rows)


def reset(client: Any, collection: str, generation: int) -> int:
    """Make the collection hold exactly the rows of version ``generation`` and older
    tombstones: rows born later are deleted, rows that died later are alive again.

    Returns:
        How many rows were changed.
    """
    changed = count(client, collection, f"born > {generation}")
    if changed:
        client.delete(collection, filter=f"born > {generation}")
    while True:
        found = client.query(collection, filter=f"died > {generation} and died < {ALIVE}",
                             output_fields=["id"], limit=10_000, consistency_level="Strong")
        if not found:
            return changed
        set_died(client, collection, [int(r["id"]) for r in found], ALIVE)
        changed += len(found)


class MilvusBuilder:
    """The rows of a version in progress: inserts born at the new generation, tombstones."""

    def __init__(self, client: Any, spec: StoreSpec, file: StoreFile, base_generation: int) -> None:
        """Use :meth:`fresh` or :meth:`incremental`."""
        self.client, self.spec, self.file = client, spec, file
        self.base_generation = base_generation  # what an unpublished build is undone to

    @classmethod
    def fresh(cls, root: Path, folder: Path, config: IndexConfig, spec: StoreSpec,
              dims: Sequence[int], generation: int) -> MilvusBuilder:
        """A new, empty collection (a new library, a rebuild, a repair that re-embeds).

        Its name is written into ``folder`` first, so that a killed writer's collection is
        found and dropped (:func:`forget`).
        """
        client = connect(spec, root)
        analyzer = "standard"  # tokens arrive as hashed ASCII words: see token_text
        file = StoreFile(spec.shown(), f"paperbridge_{uuid.uuid4().hex[:16]}", generation, 0,
                         tuple(dims), analyzer, created=True)
        file.write(folder)
        try:  # indexes asked for without waiting: Milvus builds them as segments fill
            client.create_collection(file.collection, schema=_schema(client, dims, analyzer))
            client.create_index(file.collection, _index_params(client, dims, config), sync=False)
            client.load_collection(file.collection)
        except Exception as err:  # noqa: BLE001
            raise _refused(spec, "create a collection", err) from err
        return cls(client, spec, file, 0)

    @classmethod
    def incremental(cls, root: Path, folder: Path, spec: StoreSpec, base: StoreFile,
                    generation: int) -> MilvusBuilder:
        """Continue the base version's collection, reset to exactly the base version."""
        client = connect(spec, root)
        if not client.has_collection(base.collection):
            raise LibraryDamagedError(f"The Milvus collection {base.collection} of the library at "
                                      f"{root} is missing; run `paperbridge doctor`.")
        undone = reset(client, base.collection, base.generation)
        if undone:
            _log.warning("undid %d rows of an unpublished write in %s", undone, base.collection)
        file = StoreFile(spec.shown(), base.collection, generation, 0, base.dims, base.analyzer)
        file.write(folder)
        return cls(client, spec, file, base.generation)

    def add(self, rows: Rows, vectors: Sequence[Embedded]) -> None:
        """Insert the new passages, born at this version's generation (a zero vector in the
        field of an encoder that did not embed the passage; searches filter those out)."""
        full = [e.full(len(rows), dim) for e, dim in zip(vectors, self.file.dims, strict=True)]
        records = [
            {"id": int(pid), "lang": lang, "doc_id": doc, "kind": kind,
             "born": self.file.generation, "died": ALIVE, "tokens": token_text(tokens),
             **{f"v{slot}": vecs[i].tolist() for slot, vecs in enumerate(full)}}
            for i, (pid, lang, doc, kind, tokens) in enumerate(
                zip(rows.ids, rows.langs, rows.doc_ids, rows.kinds, rows.tokens, strict=True))
        ]
        for part in _batches(records):
            self.client.insert(self.file.collection, list(part))

    def remove(self, ids_by_lang: Mapping[str, Collection[int]]) -> None:
        """Mark the passages dead from this generation on (older versions still see them)."""
        ids = sorted(int(i) for group in ids_by_lang.values() for i in group)
        set_died(self.client, self.file.collection, ids, self.file.generation)

    def save(self, folder: Path, store: Store, generation: int) -> None:
        """Flush, check that Milvus holds exactly SQLite's passages, write ``store.json``.

        Raises:
            LibraryError: the counts differ (the version is not published).
        """
        if generation != self.file.generation:
            raise LibraryError(f"The library changed generation while writing ({generation}, "
                               f"expected {self.file.generation}); run the command again.")
        self.client.flush(self.file.collection)
        rows = count(self.client, self.file.collection, visible(generation))
        if rows != store.count():
            raise LibraryError(f"Milvus holds {rows} passages for the new version, its database "
                               f"{store.count()}: the version was not published. Run the command "
                               "again; if it keeps failing, run `paperbridge doctor`.")
        StoreFile(self.file.store, self.file.collection, generation, rows, self.file.dims,
                  self.file.analyzer, self.file.created).write(folder)

    def discard(self) -> None:
        """Undo this unpublished build: drop the collection it created, or reset the shared
        one (the next writer would reset it anyway)."""
        try:
            if self.file.created:
                self.client.drop_collection(self.file.collection)
            else:
                reset(self.client, self.file.collection, self.base_generation)
        except Exception:  # noqa: BLE001 - best effort: the next writer resets it
            _log.warning("could not undo an unpublished write in Milvus collection %s",
                         self.file.collection, exc_info=True)


def _refused(spec: StoreSpec, what: str, err: BaseException) -> LibraryError:
    reason = " ".join(str(err).split())[:300] or type(err).__name__
    return LibraryError(f"The Milvus store {spec.shown()} refused to {what} ({reason}). PaperBridge "
                        "needs Milvus 2.5 or later (BM25 functions).")


def forget(root: Path, folder: Path, keep: Collection[str], asked: str = "") -> None:
    """Drop the collection a killed writer's folder created, unless a version in ``keep`` uses it."""
    try:
        file = StoreFile.read(folder)
    except LibraryDamagedError:
        return
    if file is None or not file.created or file.collection in keep:
        return
    try:
        connect(file.spec(asked), root).drop_collection(file.collection)
        _log.info("dropped Milvus collection %s of an unpublished write", file.collection)
    except Exception:  # noqa: BLE001 - leftovers never stop a write
        _log.warning("could not drop Milvus collection %s", file.collection, exc_info=True)


def collections_of(folders: Sequence[Path]) -> dict[str, StoreFile]:
    """The collections the version folders use, by name (unreadable store files skipped)."""
    found: dict[str, StoreFile] = {}
    for folder in folders:
        try:
            file = StoreFile.read(folder)
        except LibraryDamagedError:
            continue
        if file is not None:
            found[file.collection] = file
    return found


def vacuum(root: Path, kept: Sequence[Path], removed: Sequence[Path], keep_from: int,
           asked: str = "") -> None:
    """After a publish: drop the collections only ``removed`` versions used, and delete rows
    that died before generation ``keep_from`` (no kept version sees them)."""
    alive = collections_of(kept)
    for name, file in collections_of(removed).items():
        if name not in alive:
            _best_effort(lambda f=file: connect(f.spec(asked), root).drop_collection(f.collection))
    for file in alive.values():
        _best_effort(lambda f=file: connect(f.spec(asked), root).delete(
            f.collection, filter=f"died <= {keep_from}"))


def _best_effort(step: Any) -> None:
    try:
        step()
    except Exception:  # noqa: BLE001 - cleanup never fails a published write
        _log.warning("Milvus cleanup step failed; the next write retries", exc_info=True)
