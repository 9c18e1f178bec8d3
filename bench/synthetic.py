"""Large synthetic libraries (10k, 100k passages) written through the library's own API.

Embedding 100k passages with the real models would take hours on 2 cores, so the stored
vectors are perturbed copies of real embeddings of a small base set of real paragraphs
(XQuAD, English and Chinese). A :class:`ReplayEncoder` carrying the real encoder's name and
dimension hands those vectors to ``Library.add_documents``, so the library on disk is in its
normal format (SQLite, BM25 over the synthetic texts, FAISS per language) and is then opened
with the real encoders, which encode the questions.

Synthetic passage texts are the base paragraph's sentences shuffled plus one sentence of
another paragraph, so BM25 sees realistic vocabulary and duplicates are rare. The writer also
stores the sentence vectors of the language-neutral encoder (``index.sentences``): the
replay encoder answers those with perturbed copies of the real embeddings of the base
paragraphs' sentences (a sentence it does not know is embedded for real, and cached).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import shutil
import time
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import CACHE, watch_memory
from bench.xquad import load_xquad

log = logging.getLogger(__name__)

PASSAGES_PER_DOC = 50
BASE_PER_LANG = 120
NOISE = 0.45  # norm of the perturbation: cosine to the base vector is about 0.9
#: 2: sentence vectors stored and e5 on answer kinds only (issue 13): older builds are not reused.
FORMAT = 2


class ReplayEncoder:
    """Stands in for a real encoder while a synthetic library is written.

    ``encode_passages`` returns the vectors registered for each text, in order.
    """

    def __init__(self, name: str, dim: int, sentences: dict[str, np.ndarray] | None = None,
                 real: Any | None = None) -> None:
        """``sentences``: base vectors of known sentences; ``real``: embeds unknown ones."""
        self.name = name
        self.dim = dim
        self._queue: dict[str, deque[np.ndarray]] = defaultdict(deque)
        self._sentences = sentences if sentences is not None else {}
        self._real = real
        self._rng = np.random.default_rng(1)
        self.unknown = 0

    def register(self, text: str, vector: np.ndarray) -> None:
        """The vector to return the next time ``text`` is encoded."""
        self._queue[text].append(vector)

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """The registered vectors, shape (len(texts), dim); a sentence's base vector perturbed."""
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        return np.stack([self._one(t) for t in texts]).astype(np.float32)

    def _one(self, text: str) -> np.ndarray:
        if self._queue.get(text):
            return self._queue[text].popleft()
        if text not in self._sentences:
            if self._real is None:
                raise KeyError(f"no vector registered for {text[:60]!r}")
            self.unknown += 1
            self._sentences[text] = np.asarray(self._real.encode_passages([text])[0], np.float32)
        noise = self._rng.standard_normal(self.dim).astype(np.float32)
        v = self._sentences[text] + NOISE * noise / np.sqrt(self.dim)
        return v / np.linalg.norm(v)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Never used while writing; queries go through the real encoder."""
        raise NotImplementedError("ReplayEncoder only writes libraries")


def _sentences(text: str) -> list[str]:
    from paperbridge.ingest import split_sentences

    return [s for s in split_sentences(text) if s.strip()] or [text]


def base_set() -> list[tuple[str, str]]:
    """(lang, paragraph) of the real paragraphs whose embeddings seed the synthetic ones."""
    out = []
    for lang in ("en", "zh"):
        contexts, _ = load_xquad(lang)
        out += [(lang, c) for c in contexts[:: max(1, len(contexts) // BASE_PER_LANG)][:BASE_PER_LANG]]
    return out


def base_vectors(encoder: Any, texts: Sequence[str]) -> np.ndarray:
    """Real passage embeddings of the base texts (n, dim), cached on disk."""
    digest = hashlib.sha256(("\n".join(texts) + encoder.name).encode()).hexdigest()[:16]
    path = CACHE / "synthetic" / f"base-{encoder.name}-{digest}.npy"
    if path.exists():
        return np.asarray(np.load(path), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    vecs = np.asarray(encoder.encode_passages(list(texts)), dtype=np.float32)
    np.save(path, vecs)
    return vecs


def _document(number: int, lang: str, texts: Sequence[str]) -> Any:
    """A text Document of the given passages (one page, passages separated by blank lines)."""
    from paperbridge.ingest import Document, Passage

    page = "\n\n".join(texts)
    doc_id = hashlib.sha256(f"synthetic-{number}\n{page}".encode()).hexdigest()[:16]
    passages, start = [], 0
    for i, text in enumerate(texts, start=1):
        passages.append(Passage(doc_id, i, 0, 1, lang, start, start + len(text), text))
        start += len(text) + 2
    return Document(
        doc_id,
        f"Synthetic paper {number}",
        f"/synthetic/paper-{number:05d}.txt",
        "text",
        lang,
        (page,),
        tuple(passages),
    )


def synthetic_documents(
    size: int,
    base: Sequence[tuple[str, str]],
    replays: Sequence[ReplayEncoder],
    vectors: Sequence[np.ndarray],
    seed: int = 0,
) -> Iterator[Any]:
    """``size`` passages in documents of 50, half English half Chinese, each document's vectors
    registered when it is made (the writer takes them while documents are still being made,
    so a 1M-passage library never holds all its vectors twice)."""
    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    sentences = [_sentences(text) for _, text in base]
    by_lang = {lang: [i for i, (lg, _) in enumerate(base) if lg == lang] for lang in ("en", "zh")}
    for number in range(size // PASSAGES_PER_DOC):
        lang = ("en", "zh")[number % 2]
        texts = []
        for _ in range(PASSAGES_PER_DOC):
            src, other = rng.choice(by_lang[lang]), rng.choice(by_lang[lang])
            parts = rng.sample(sentences[src], len(sentences[src])) + [rng.choice(sentences[other])]
            text = ("" if lang == "zh" else " ").join(parts)
            texts.append(text)
            for replay, vecs in zip(replays, vectors, strict=True):
                noise = nrng.standard_normal(replay.dim).astype(np.float32)
                v = vecs[src] + NOISE * noise / np.sqrt(replay.dim)
                replay.register(text, v / np.linalg.norm(v))
        yield _document(number, lang, texts)


def base_sentence_vectors(encoder: Any, base: Sequence[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Real embeddings of the base paragraphs' sentences, by sentence (cached on disk)."""
    sentences = sorted({s for _, text in base for s in _sentences(text)})
    return dict(zip(sentences, base_vectors(encoder, sentences), strict=True))


def build_library(size: int, encoders: Sequence[Any]) -> tuple[Path, dict[str, Any]]:
    """A library of ``size`` synthetic passages under the cache (built once); its folder and stats."""
    from paperbridge.index import IndexConfig, Library

    base = base_set()
    vectors = [base_vectors(e, [t for _, t in base]) for e in encoders]
    key = hashlib.sha256(repr((size, [e.name for e in encoders], NOISE, base[:3], FORMAT)).encode())
    root = CACHE / "synthetic" / f"lib-{size}-{key.hexdigest()[:10]}"
    done = root / "build.json"
    if done.exists():
        return root / "library", json.loads(done.read_text())
    shutil.rmtree(root, ignore_errors=True)
    config = IndexConfig(encoders=tuple(e.name for e in encoders))
    neutral = config.neutral([e.name for e in encoders])
    replays = [ReplayEncoder(e.name, e.dim, base_sentence_vectors(e, base) if e.name == neutral else None,
                             e if e.name == neutral else None) for e in encoders]
    docs = synthetic_documents(size, base, replays, vectors)
    with watch_memory() as mem:
        start = time.perf_counter()
        lib = Library.open(root / "library", config, create=True, encoders=replays)
        report = lib.add_documents(docs)
        seconds = time.perf_counter() - start
    stats = {
        "passages": len(lib),
        "documents": len(report.added),
        "seconds": seconds,
        "memory": mem.as_dict(),
        "languages": lib.languages(),
        "sentences_embedded_for_real": sum(r.unknown for r in replays),
        "disk_mb": round(sum(f.stat().st_size for f in (root / "library").rglob("*")
                             if f.is_file()) / 2**20, 1),
    }
    done.write_text(json.dumps(stats, indent=2))
    log.info("synthetic library of %d passages: %s", size, stats)
    return root / "library", stats
