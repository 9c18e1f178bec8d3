"""Encoders turn passages and questions into unit vectors.

An :class:`Encoder` is anything with a stable ``name`` (written to the library's
manifest, so a library is never searched with vectors from another model), a ``dim``,
and two methods: one for passages and one for queries, because asymmetric models such as
multilingual-e5 embed them with different prompts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Encoder(Protocol):
    """What the index needs from an embedding model."""

    name: str
    dim: int

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed passages. Returns float32 array of shape (len(texts), dim), rows L2-normalized."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions. Returns float32 array of shape (len(texts), dim), rows L2-normalized."""
        ...


_TOKEN = re.compile(r"[a-z0-9]+|[\u3400-\u9fff]", re.IGNORECASE)


class HashEncoder:
    """A deterministic, model-free encoder for tests where the model is beside the point.

    Hashes lowercased words and single CJK characters (and their bigrams) into ``dim``
    buckets. Texts sharing words get similar vectors; there is no cross-lingual ability.
    Never the default: select it explicitly with the model name ``hash``.
    """

    def __init__(self, dim: int = 64) -> None:
        self.name = f"hash-{dim}"
        self.dim = dim

    def _one(self, text: str) -> np.ndarray:
        vec = np.zeros(self.dim, dtype=np.float32)
        tokens = [t.lower() for t in _TOKEN.findall(text)]
        for feature in tokens + [a + b for a, b in zip(tokens, tokens[1:], strict=False)]:
            digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
            bucket = int.from_bytes(digest[:4], "little") % self.dim
            vec[bucket] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm > 0 else vec

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed passages (shape (n, dim))."""
        return np.stack([self._one(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed queries exactly like passages (shape (n, dim))."""
        return self.encode_passages(texts)
