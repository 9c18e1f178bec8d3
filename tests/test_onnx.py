"""multilingual-e5-small on onnxruntime: int8 and fp32 agree with sentence-transformers fp32,
the runtime is part of the encoder's identity, and batches are cut by token length."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from paperbridge.index import IndexConfig, Library, load_encoder
from paperbridge.index.encoder import SentenceTransformerEncoder, canonical_spec
from paperbridge.index.onnx import ONNX_STAMP, OnnxE5Encoder, length_batches, onnx_folder
from paperbridge.ingest import read_document
from paperbridge.ingest.errors import ModelError, ModelMismatchError

from .conftest import SAMPLE

INT8 = "multilingual-e5-small@onnx-int8"


def test_length_batches_group_similar_lengths_within_budget() -> None:
    lengths = [5, 300, 7, 298, 6, 512, 9]
    batches = length_batches(lengths, max_tokens=600, max_rows=3)
    assert sorted(int(i) for b in batches for i in b) == list(range(len(lengths)))
    assert [int(i) for i in batches[0]] == [5]  # 512 tokens: alone (600 // 512 = 1 row)
    for batch in batches:
        widest = max(lengths[i] for i in batch)
        assert len(batch) <= 3 and (len(batch) == 1 or widest * len(batch) <= 600)
    firsts = [lengths[b[0]] for b in batches]
    assert firsts == sorted(firsts, reverse=True)  # longest first: similar lengths together


def test_specs_name_the_runtime() -> None:
    assert canonical_spec(" e5-small@onnx-int8 ") == INT8
    assert canonical_spec("multilingual-e5-small@torch-fp32") == "multilingual-e5-small"
    assert canonical_spec("e5-small") == "multilingual-e5-small"  # the bare name: torch fp32
    assert canonical_spec("use") == "use-multilingual-v3"
    with pytest.raises(ModelError, match="onnx-int8"):
        canonical_spec("e5-small@tensorrt")


@pytest.fixture(scope="module")
def passages() -> list[str]:
    texts = [p.text for f in sorted(SAMPLE.glob("*.txt")) for p in read_document(f).passages]
    return texts[::3]  # English and Chinese, short and 256-token passages


@pytest.mark.slow
@pytest.mark.parametrize(("runtime", "worst", "mean"), [("onnx-int8", 0.98, 0.99),
                                                        ("onnx-fp32", 0.9999, 0.9999)])
def test_onnx_agrees_with_sentence_transformers_fp32(
    passages: list[str], runtime: str, worst: float, mean: float
) -> None:
    reference = load_encoder("multilingual-e5-small")
    ours = load_encoder(f"e5-small@{runtime}")
    assert isinstance(ours, OnnxE5Encoder) and isinstance(reference, SentenceTransformerEncoder)
    assert ours.name == f"multilingual-e5-small@{runtime}" and ours.runtime == runtime
    for encode, theirs in ((ours.encode_passages, reference.encode_passages),
                           (ours.encode_queries, reference.encode_queries)):
        a, b = encode(passages), theirs(passages)
        assert a.shape == (len(passages), 384) and a.dtype == np.float32
        assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
        cosines = np.sum(a * b, axis=1)
        assert cosines.min() >= worst and cosines.mean() >= mean, cosines
    stamp = json.loads((onnx_folder() / ONNX_STAMP).read_text(encoding="utf-8"))
    assert stamp["agreement"][runtime] >= worst


@pytest.mark.slow
def test_passages_run_side_by_side_get_the_vectors_they_get_alone(passages: list[str]) -> None:
    # Two passages at a time, one per core: each vector still depends on its own text only,
    # and comes back in its own row.
    texts = passages[:12]
    together = OnnxE5Encoder(onnx_folder(), threads=2).encode_passages(texts)
    alone = OnnxE5Encoder(onnx_folder(), threads=1)
    singles = np.concatenate([alone.encode_passages([t]) for t in texts])
    assert np.array_equal(together, singles)
    assert np.array_equal(alone.encode_passages(texts[::-1])[::-1], singles)
    split = OnnxE5Encoder(onnx_folder(), threads=2, side_by_side=False)  # each run on 2 threads
    assert np.allclose(split.encode_passages(texts), singles, atol=1e-6)


@pytest.mark.slow
def test_a_library_built_with_int8_is_never_searched_with_torch_vectors(tmp_path: Path) -> None:
    int8, torch_fp32 = load_encoder(INT8), load_encoder("multilingual-e5-small")
    library = Library.open(tmp_path / "lib", IndexConfig(encoders=(INT8,)), create=True,
                           encoders=[int8])
    library.add([next(SAMPLE.glob("*.txt"))])
    manifest = json.loads(next((tmp_path / "lib" / "versions").glob("*/manifest.json")).read_text())
    assert [e["name"] for e in manifest["encoders"]] == [INT8]
    with pytest.raises(ModelMismatchError, match="rebuild"):
        Library.open(tmp_path / "lib", encoders=[torch_fp32])
    reopened = Library.open(tmp_path / "lib")  # the library's own spec: the int8 runtime again
    assert [e.name for e in reopened.encoders.values()] == [INT8]
