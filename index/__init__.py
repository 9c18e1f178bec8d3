"""The library on disk: passages embedded into FAISS, a BM25 index, SQLite metadata.

Use :class:`Library` to add, remove and search documents; :class:`IndexConfig` sets the
models and index types.
"""

from paperbridge.index.config import IndexConfig
from paperbridge.index.doctor import Health, RepairReport, VersionHealth
from paperbridge.index.encoder import Encoder, HashEncoder, load_encoder
from paperbridge.index.library import AddReport, Library
from paperbridge.index.store import DocumentInfo, StoredPassage

__all__ = [
    "AddReport",
    "DocumentInfo",
    "Encoder",
    "HashEncoder",
    "Health",
    "IndexConfig",
    "Library",
    "RepairReport",
    "StoredPassage",
    "VersionHealth",
    "load_encoder",
]
