"""Which store each step of a version uses: the only place that names the stores.

A version folder with a ``store.json`` keeps its indexes in Milvus (:mod:`.milvus`); one
without keeps them as FAISS and bm25s files (:mod:`.local`). ``versions``, ``writer`` and
``doctor`` call these functions and never name a store.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from paperbridge.index.config import IndexConfig
from paperbridge.index.manifest import Manifest
from paperbridge.index.stores import milvus
from paperbridge.index.stores.base import IndexBuilder, SearchIndexes
from paperbridge.index.stores.local import LocalBuilder
from paperbridge.index.stores.spec import FAISS, StoreSpec, parse_store
from paperbridge.ingest.errors import LibraryError

_log = logging.getLogger(__name__)


def store_of(folder: Path) -> StoreSpec:
    """The store the version in ``folder`` keeps its indexes in (as recorded, no credentials)."""
    file = milvus.StoreFile.read(folder)
    return parse_store(file.store) if file is not None else StoreSpec()


def uses_milvus(folder: Path) -> bool:
    """True when the version in ``folder`` keeps its indexes in Milvus."""
    return (folder / milvus.STORE_FILE).is_file()


def open_remote(root: Path, folder: Path, manifest: Manifest, config: IndexConfig) -> SearchIndexes:
    """The searchable indexes of a version kept in Milvus."""
    return milvus.open_indexes(root, folder, manifest, config)


def problems(folder: Path, manifest: Manifest, config: IndexConfig | None) -> list[str]:
    """What is wrong with the version's indexes outside its folder (Milvus rows)."""
    if not uses_milvus(folder):
        return []
    return milvus.problems(folder.parent.parent, folder, manifest, config)


def new_builder(root: Path, folder: Path, config: IndexConfig, *, base: Path | None,
                prior: Path | None, dims: Sequence[int], generation: int) -> IndexBuilder:
    """The indexes a write builds into ``folder``.

    A write from ``base`` (an add or remove) continues the base version's store. A write from
    scratch (rebuild, repair) uses the configured store, or the prior version's when none is
    configured: ``rebuild`` with another store moves the library there.

    Raises:
        LibraryError: a write from ``base`` was asked to use another kind of store.
    """
    asked = parse_store(config.store) if config.store else None
    if base is not None:
        own = store_of(base)
        if asked is not None and asked.kind != own.kind:
            raise moved(root, own, asked)
        if own.kind == FAISS:
            return LocalBuilder(dims, config, base)
        file = milvus.StoreFile.read(base)
        assert file is not None
        return milvus.MilvusBuilder.incremental(root, folder, file.spec(config.store), file, generation)
    spec = asked or (store_of(prior) if prior is not None else StoreSpec())
    if spec.kind == FAISS:
        return LocalBuilder(dims, config, None)
    return milvus.MilvusBuilder.fresh(root, folder, config, spec, dims, generation)


def moved(root: Path, own: StoreSpec, asked: StoreSpec) -> LibraryError:
    """The error for writing a library into another kind of store than its own."""
    return LibraryError(
        f"The library at {root} keeps its vectors in {own.shown()}; you asked for "
        f"{asked.shown()}. Run `paperbridge --store {asked.shown()} rebuild` to move it there "
        "(readers keep the old version until the new one is ready), or drop --store / "
        "PAPERBRIDGE_STORE."
    )


def other_store(folder: Path, asked: str) -> str | None:
    """Why reads ignore the asked store (the library keeps its indexes elsewhere), or None."""
    if not asked:
        return None
    own, wanted = store_of(folder), parse_store(asked)
    if own.kind == wanted.kind:
        return None
    return (f"The library at {folder.parent.parent} keeps its vectors in {own.shown()}, not "
            f"{wanted.shown()}: it is read from there; `paperbridge --store {wanted.shown()} "
            "rebuild` moves it.")


def forget_unpublished(root: Path, folder: Path, versions: Sequence[Path], asked: str = "") -> None:
    """Before a killed writer's folder is deleted: drop the collection it created, if any."""
    if uses_milvus(folder):
        milvus.forget(root, folder, milvus.collections_of(versions), asked)


def after_cleanup(root: Path, kept: Sequence[Path], removed: Sequence[Path], keep_from: int,
                  asked: str = "") -> None:
    """After a publish, as old versions go: drop collections and rows no kept version sees."""
    if any(uses_milvus(f) for f in [*kept, *removed]):
        milvus.vacuum(root, kept, removed, keep_from, asked)


def unpublished_rows(folder: Path | None) -> list[str]:
    """Doctor: rows a killed writer left in the current version's collection."""
    if folder is None or not uses_milvus(folder):
        return []
    return milvus.unpublished(folder.parent.parent, folder)


def undo_unpublished(folder: Path | None) -> list[str]:
    """Doctor --repair: reset the current version's collection to it. Returns what was done."""
    if folder is None or not uses_milvus(folder):
        return []
    file = milvus.StoreFile.read(folder)
    assert file is not None
    client = milvus.connect(file.spec(""), folder.parent.parent)
    undone = milvus.reset(client, file.collection, file.generation)
    return [f"undid {undone} rows of an unpublished write in Milvus collection {file.collection}"]
