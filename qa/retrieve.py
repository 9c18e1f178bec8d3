"""Hybrid, language-fair retrieval.

Dense encoders rank same-language passages on other topics above the right passage in
the other language: raw cosine scores are not comparable across languages. So every
encoder searches each language's passages separately, its scores are turned into
z-scores within that language pool (how far a passage stands out from the pool's other
candidates), and only then are the pools merged. The z-scores of all encoders and of
BM25 are summed (CombSUM). The summed score is also what the no-answer threshold
(:mod:`qa.calibrate`) is compared with.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING

import numpy as np

from paperbridge.index import Library
from paperbridge.ingest import detect_language
from paperbridge.qa.config import QAConfig

if TYPE_CHECKING:
    from paperbridge.qa.calibrate import Calibration

_MIN_POOL = 8
_NORMAL = NormalDist()  # below this, a pool's own score spread is too noisy to normalize by


@dataclass(frozen=True)
class Retrieval:
    """The hits for a question, and how well the library's best passage matches it at all.

    ``confidence`` is the highest raw cosine of the language-neutral encoder over every
    language pool: unlike the fused score it does not rise just because some passage stands
    out from a pool of unrelated ones, so it is what the no-answer threshold is compared with.
    """

    hits: list[Hit]
    confidence: float
    question_lang: str  # "en", "zh" or "mixed", as detected for the bias correction


@dataclass(frozen=True)
class Hit:
    """A retrieved passage id with its fused score and the signals that made it."""

    passage_id: int
    score: float
    signals: dict[str, float]


def _zscores(results: Sequence[tuple[int, float]], mean: float, std: float) -> dict[int, float]:
    return {pid: (score - mean) / std for pid, score in results}


def _expected_max(n: int) -> float:
    """Expected largest of n standard normal draws (Blom's plotting position)."""
    return _NORMAL.inv_cdf((n - 0.375) / (n + 0.25)) if n > 1 else 0.0


def _stats(scores: Sequence[float]) -> tuple[float, float]:
    arr = np.asarray(scores, dtype=np.float64)
    return float(arr.mean()), max(float(arr.std()), 1e-3)


class Retriever:
    """Fuses per-language dense search of every encoder with BM25 over one library."""

    def __init__(self, library: Library, config: QAConfig) -> None:
        self.library = library
        self.config = config

    def encode(self, question: str) -> dict[str, np.ndarray]:
        """Query vectors of every encoder of the library, by encoder name (each (dim,))."""
        return {name: enc.encode_queries([question])[0] for name, enc in self.library.encoders.items()}

    def search(
        self,
        question: str,
        k: int,
        *,
        doc_ids: Collection[str] | None = None,
        langs: Collection[str] | None = None,
        vectors: dict[str, np.ndarray] | None = None,
        calibration: Calibration | None = None,
    ) -> Retrieval:
        """The k best passages for a question, best first.

        Args:
            question: the user's question, any language.
            k: how many hits to return.
            doc_ids: only search these documents.
            langs: only search passages in these languages ("en", "zh", "mixed").
            vectors: precomputed query vectors (from :meth:`encode`), to encode once.
            calibration: the library's measured hubness and language bias, subtracted
                from dense scores.
        """
        vectors = vectors if vectors is not None else self.encode(question)
        pools = self.pools(langs)
        question_lang = detect_language(question)
        signals: dict[int, dict[str, float]] = {}
        confidence = float("-inf")
        for name, vec in vectors.items():
            weight = self.config.weight(name)
            zscores, best = self._dense(name, vec, question_lang, pools, doc_ids, calibration)
            if name == self.neutral_encoder():
                confidence = best
            for pid, z in zscores.items():
                signals.setdefault(pid, {})[name] = weight * z
        if self.config.lexical_weight > 0:
            for pid, z in self._lexical(question, pools, doc_ids).items():
                signals.setdefault(pid, {})["bm25"] = self.config.lexical_weight * z
        floor = self._floors(vectors, signals)
        hits = [Hit(pid, self._fuse(sig, floor), sig) for pid, sig in signals.items()]
        hits.sort(key=lambda h: -h.score)
        return Retrieval(hits[:k], confidence, question_lang)

    def confidence(self, vector: np.ndarray) -> float:
        """Best raw score of the language-neutral encoder (its query vector) over every pool."""
        name = self.neutral_encoder()
        best = [
            res[0][1]
            for lang in self.pools(None)
            if (res := self.library.dense_search(name, vector, 1, lang=lang))
        ]
        return max(best, default=float("-inf"))

    def neutral_encoder(self) -> str:
        """Name of the encoder whose raw scores judge answerability (see QAConfig)."""
        names = list(self.library.encoders)
        return self.config.neutral_encoder if self.config.neutral_encoder in names else names[0]

    def pools(self, langs: Collection[str] | None) -> list[str]:
        present = [lang for lang, n in self.library.languages().items() if n > 0]
        return [lang for lang in present if langs is None or lang in langs]

    def pool_zscores(
        self,
        name: str,
        vec: np.ndarray,
        pools: list[str],
        doc_ids: Collection[str] | None,
        calibration: Calibration | None,
    ) -> tuple[dict[str, dict[int, float]], float]:
        """One encoder's candidates as z-scores within their language pool, by pool, and
        the best raw score over all pools.

        Each passage's hubness (from ``calibration``) is subtracted first. A pool's z-scores
        are shifted down by the expected maximum of as many standard normal draws as the
        pool has candidates (Blom's approximation): otherwise the top of a larger pool would
        stand out more by chance alone.
        """
        per_pool = {
            lang: self.library.dense_search(name, vec, self.config.depth, lang=lang, doc_ids=doc_ids)
            for lang in pools
        }
        raw = [s for res in per_pool.values() for _, s in res]
        if not raw:
            return {}, float("-inf")
        if calibration is not None:
            beta = self.config.hubness_weight
            per_pool = {
                lang: [(pid, s - beta * calibration.hub(name, pid)) for pid, s in res]
                for lang, res in per_pool.items()
            }
        fallback = _stats([s for res in per_pool.values() for _, s in res])
        out: dict[str, dict[int, float]] = {}
        for lang, res in per_pool.items():
            if res:
                mean, std = _stats([s for _, s in res]) if len(res) >= _MIN_POOL else fallback
                out[lang] = _zscores(res, mean + std * _expected_max(len(res)), std)
        return out, max(raw)

    def _dense(
        self,
        name: str,
        vec: np.ndarray,
        question_lang: str,
        pools: list[str],
        doc_ids: Collection[str] | None,
        calibration: Calibration | None,
    ) -> tuple[dict[int, float], float]:
        """Pool z-scores merged into one ranking, each pool's language bias removed.

        The bias is what the top of a pool reaches for questions in ``question_lang`` that
        it cannot answer, measured on this library (:mod:`qa.calibrate`).
        """
        by_pool, best = self.pool_zscores(name, vec, pools, doc_ids, calibration)
        out: dict[int, float] = {}
        for lang, zscores in by_pool.items():
            bias = calibration.bias(name, question_lang, lang) if calibration else 0.0
            bias *= self.config.language_bias_weight
            out.update({pid: z - bias for pid, z in zscores.items()})
        return out, best

    def _lexical(self, question: str, pools: list[str], doc_ids: Collection[str] | None) -> dict[int, float]:
        """BM25 z-scores; only positive evidence counts, so no language is penalized."""
        res = [
            hit
            for lang in pools
            for hit in self.library.lexical_search(question, self.config.depth, lang=lang, doc_ids=doc_ids)
            if hit[1] > 0
        ]
        if len(res) < 2:
            return {}
        mean, std = _stats([s for _, s in res])
        return {pid: max(0.0, z) for pid, z in _zscores(res, mean, std).items()}

    def _floors(
        self, vectors: dict[str, np.ndarray], signals: dict[int, dict[str, float]]
    ) -> dict[str, float]:
        """For each encoder, the lowest z seen: a stand-in for candidates it did not return."""
        floors: dict[str, float] = {}
        for name in vectors:
            seen = [sig[name] for sig in signals.values() if name in sig]
            floors[name] = min(seen) if seen else 0.0
        return floors

    @staticmethod
    def _fuse(sig: dict[str, float], floor: dict[str, float]) -> float:
        dense = sum(sig.get(name, low) for name, low in floor.items())
        return dense + sig.get("bm25", 0.0)
