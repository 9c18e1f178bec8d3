"""What a library's own passages say about how to score questions against it.

Three things are measured once per library version, with question-sized probes cut from
the library's own passages:

* hubness: some passages (captions, one-line topic sentences) sit close to almost any
  question and crowd the top of every result list. Each passage's mean similarity to
  its k nearest probes is subtracted from its scores (CSLS, the standard cure for hubs
  in cross-lingual embedding spaces).
* language bias: for each encoder, question language and language pool, how far the
  pool's best passage stands out for probes asked with their own document left out
  (questions the pool cannot answer). Retrieval subtracts it, so a pool that flatters
  questions of its own language no longer wins by that alone.
* the no-answer threshold: a question is answered when the language-neutral encoder's
  best raw similarity reaches halfway between what everyday off-topic questions reach
  (a high quantile) and what a typical answerable probe (a snippet asked of the library
  that holds it) gets (the median). Raw similarity depends on the library's languages,
  size and topic spread, so no fixed constant works across libraries.

The result is cached per library version, as a side file of that version (``Library.read_side``).
"""

from __future__ import annotations

import json
import logging
import random
import re
from dataclasses import dataclass

import numpy as np

from paperbridge.index import Library
from paperbridge.ingest import split_sentences
from paperbridge.qa.retrieve import Retriever

log = logging.getLogger(__name__)

_OFF_TOPIC = (
    "How do I bake sourdough bread at home?",
    "What is the capital of Australia?",
    "Who won the football World Cup in 2018?",
    "How many legs does a spider have?",
    "What is the best way to learn to play the guitar?",
    "How long should I boil an egg?",
    "怎样在家里养好多肉植物？",
    "明天北京的天气怎么样？",
    "如何做一道正宗的麻婆豆腐？",
    "世界上最高的山是哪座？",
    "猫为什么喜欢晒太阳？",
    "学习游泳需要多长时间？",
)
_PROBES_PER_LIBRARY = 48
_TRANSLATION = 0.7  # USE cosine above which two passages say the same thing (translations)
_HUB_DEPTH = 5000  # passages per pool scored against each probe; farther ones are no hubs
_CACHE_FILE = "calibration.json"
_FORMAT = 3  # bump when what is measured changes, so old caches are recomputed
_EN_WORDS, _ZH_CHARS = 9, 14
_CJK = re.compile(r"[\u3400-\u9fff]")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Calibration:
    """The refusal threshold, the scores it was derived from, and each passage's hubness."""

    generation: int
    quantile: float
    threshold: float
    probe_scores: tuple[float, ...]  # answerable probes, then off-topic questions
    hubness: dict[str, dict[int, float]]  # encoder name -> passage id -> hubness
    biases: dict[str, dict[str, float]]  # encoder name -> "en>zh" -> language bias

    def hub(self, encoder: str, passage_id: int) -> float:
        """How close the passage sits to questions in general (0 if never measured)."""
        return self.hubness.get(encoder, {}).get(passage_id, 0.0)

    def bias(self, encoder: str, question_lang: str, pool: str) -> float:
        """How far the top of a language pool stands out for questions in ``question_lang``
        that it cannot answer (0 if never measured)."""
        return self.biases.get(encoder, {}).get(f"{question_lang}>{pool}", 0.0)

    def refuses(self, confidence: float) -> bool:
        """True when a question matches the library no better than unanswerable ones do."""
        return confidence < self.threshold


def _snippet(sentence: str, rng: random.Random) -> str:
    """A question-sized piece of a sentence: about 9 English words or 14 Chinese characters.

    Probes must be as short as real questions: a whole sentence matches related text
    far better than a question does, and would set the threshold too high.
    """
    if _CJK.search(sentence):
        chars = _SPACE.sub("", sentence)
        at = rng.randrange(max(1, len(chars) - _ZH_CHARS))
        return chars[at : at + _ZH_CHARS]
    words = sentence.split()
    at = rng.randrange(max(1, len(words) - _EN_WORDS))
    return " ".join(words[at : at + _EN_WORDS])


@dataclass(frozen=True)
class _Probe:
    lang: str
    doc_id: str
    passage_id: int
    text: str


def _probes(library: Library, rng: random.Random) -> list[_Probe]:
    """Question-sized snippets of the library's passages, up to an equal number per language."""
    pools = {lang: library.passage_ids(lang=lang) for lang in library.languages()}
    share = max(1, _PROBES_PER_LIBRARY // max(1, len(pools)))
    probes: list[_Probe] = []
    for ids in pools.values():
        for passage in library.passages(rng.sample(ids, min(len(ids), share * 2))):
            sentences = [s for s in split_sentences(passage.text) if len(s) >= 20]
            if sentences and sum(p.lang == passage.lang for p in probes) < share:
                text = _snippet(rng.choice(sentences), rng)
                probes.append(_Probe(passage.lang, passage.doc_id, passage.id, text))
    return probes


def _left_out(library: Library, retriever: Retriever, probes: list[_Probe]) -> list[set[str]]:
    """For each probe, the documents that could answer it: its own, and any holding a
    near-copy or translation of its passage (bilingual abstracts, parallel versions)."""
    name = retriever.neutral_encoder()
    sources = library.passages([p.passage_id for p in probes])
    vectors = library.encoders[name].encode_passages([s.text for s in sources])
    out = []
    for probe, vec in zip(probes, vectors, strict=True):
        near = [
            pid
            for lang in retriever.pools(None)
            for pid, score in library.dense_search(name, vec, 3, lang=lang)
            if score >= _TRANSLATION
        ]
        out.append({probe.doc_id} | {p.doc_id for p in library.passages(near)})
    return out


def _biases(
    library: Library,
    retriever: Retriever,
    probes: list[_Probe],
    vectors: dict[str, np.ndarray],
    partial: Calibration,
) -> dict[str, dict[str, float]]:
    """Per encoder and (probe language, pool): the mean top z-score of the pool for probes
    asked with every document that could answer them left out.

    Left out, the probe has no answer in the library, so how far a pool's best passage
    still stands out is that pool's bias toward questions of that language (e5, for one,
    scores same-language text higher whatever it says). Retrieval subtracts it.
    """
    everything = {d.doc_id for d in library.documents()}
    pools = retriever.pools(None)
    excluded = _left_out(library, retriever, probes)
    biases: dict[str, dict[str, float]] = {}
    for name, probe_vecs in vectors.items():
        tops: dict[str, list[float]] = {}
        for probe, vec, gone in zip(probes, probe_vecs, excluded, strict=True):
            others = everything - gone
            by_pool, _ = retriever.pool_zscores(name, vec, pools, others, partial) if others else ({}, 0)
            for pool, zscores in by_pool.items():
                tops.setdefault(f"{probe.lang}>{pool}", []).append(max(zscores.values()))
        biases[name] = {key: float(np.mean(v)) for key, v in tops.items()}
    return biases


def _hubness(library: Library, vectors: dict[str, np.ndarray], k: int) -> dict[str, dict[int, float]]:
    """Per encoder, each passage's mean similarity to its k most similar probes.

    Args:
        vectors: per encoder name, the probes' query vectors, shape (n_probes, dim).
    """
    hubness: dict[str, dict[int, float]] = {}
    for name, probe_vecs in vectors.items():
        sims: dict[int, list[float]] = {}
        for vec in probe_vecs:
            for lang, count in library.languages().items():
                for pid, score in library.dense_search(name, vec, min(count, _HUB_DEPTH), lang=lang):
                    sims.setdefault(pid, []).append(score)
        hubness[name] = {pid: float(np.mean(sorted(v)[-k:])) for pid, v in sims.items()}
    return hubness


def _threshold(answerable: list[float], off_topic: list[float], quantile: float) -> float:
    """Halfway between what off-topic questions reach and what a typical answerable one gets.

    Probing with "unanswerable" snippets (a document's text asked with that document left
    out) looked natural but fails on real libraries: papers on one topic repeat each other,
    so the left-out text is often still answerable from a sibling paper.
    """
    high_off = float(np.quantile(off_topic, quantile))
    if not answerable:
        return high_off
    return (high_off + float(np.median(answerable))) / 2


def calibrate(library: Library, retriever: Retriever, quantile: float, hub_k: int) -> Calibration:
    """Probe the library: each passage's hubness and the refusal threshold (cached per version)."""
    generation = library.manifest.generation if library.manifest else 0
    version = library.version_id  # the cache is a side file of this very version
    cached = _load(library, version, generation, quantile)
    if cached is not None:
        return cached
    log.info("calibrating %s (once per library version)", library.path)
    probes = _probes(library, random.Random(20261122)) if len(library) else []
    if not probes:
        result = Calibration(generation, quantile, float("-inf"), (), {}, {})
        _save(library, version, result)
        return result
    texts = [p.text for p in probes] + list(_OFF_TOPIC)
    vectors = {name: enc.encode_queries(texts) for name, enc in library.encoders.items()}
    probe_vecs = {name: v[: len(probes)] for name, v in vectors.items()}
    hubness = _hubness(library, probe_vecs, hub_k)
    neutral = vectors[retriever.neutral_encoder()]
    confidences = [retriever.confidence(vec) for vec in neutral]
    answerable, off_topic = confidences[: len(probes)], confidences[len(probes) :]
    threshold = _threshold(answerable, off_topic, quantile)
    rounded = tuple(round(s, 4) for s in answerable + off_topic)
    partial = Calibration(generation, quantile, threshold, rounded, hubness, {})
    biases = _biases(library, retriever, probes, probe_vecs, partial)
    result = Calibration(generation, quantile, threshold, rounded, hubness, biases)
    _save(library, version, result)
    return result


def _load(library: Library, version: str | None, generation: int, quantile: float) -> Calibration | None:
    raw = library.read_side(_CACHE_FILE, version) if version else None
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
        fresh = data.get("format") == _FORMAT and data["generation"] == generation
        if fresh and data["quantile"] == quantile:
            scores = tuple(data["probe_scores"])
            hubness = {
                name: {int(pid): float(v) for pid, v in table.items()}
                for name, table in data["hubness"].items()
            }
            biases = {name: dict(table) for name, table in data["biases"].items()}
            return Calibration(generation, quantile, float(data["threshold"]), scores, hubness, biases)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _save(library: Library, version: str | None, calibration: Calibration) -> None:
    """Keep the result beside its version (the library writes it atomically, under its lock);
    when it cannot (a writer is busy, no write access), the next process recomputes it."""
    data = json.dumps({"format": _FORMAT, **calibration.__dict__}).encode("utf-8")
    if version and not library.write_side(_CACHE_FILE, data, version):
        log.info("calibration of %s not cached this time", library.path)
