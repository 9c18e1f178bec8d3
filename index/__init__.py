"""The library on disk: passages embedded into FAISS, a BM25 index, SQLite metadata.

Use :class:`Library` to add, remove and search documents; :class:`IndexConfig` sets the
models and index types.
"""

from index.config import IndexConfig
from index.encoder import Encoder, HashEncoder, load_encoder
from index.library import AddReport, Library
from index.store import DocumentInfo, StoredPassage

__all__ = [
    "AddReport",
    "DocumentInfo",
    "Encoder",
    "HashEncoder",
    "IndexConfig",
    "Library",
    "StoredPassage",
    "load_encoder",
]
