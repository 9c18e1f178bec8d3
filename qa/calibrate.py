"""The no-answer threshold, measured on the library itself.

A fixed threshold cannot work: fused scores depend on the library's size, languages
and topic spread. So each library is probed with questions it cannot answer:

* on-topic but absent: a question-sized snippet of one document, asked with that
  document excluded from the search (what a question about a paper not in the library
  looks like);
* off-topic: a small fixed set of everyday questions in both languages.

The threshold is a high quantile of their top scores: a question must score above what
this library gives to questions it cannot answer. The result is cached per library
generation, since it only changes when the library does.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index import Library
from ingest import split_sentences
from qa.retrieve import Retriever

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
_PROBES_PER_LIBRARY = 24
_CACHE_FILE = "calibration.json"
_EN_WORDS, _ZH_CHARS = 9, 14
_CJK = re.compile(r"[\u3400-\u9fff]")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Calibration:
    """The refusal threshold and the scores it was derived from."""

    generation: int
    quantile: float
    threshold: float
    unanswerable_scores: tuple[float, ...]

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


def _probes(library: Library, rng: random.Random) -> list[tuple[str, str]]:
    """(doc_id, question-sized snippet) pairs sampled from the library's passages."""
    ids = library.passage_ids()
    picked = library.passages(rng.sample(ids, min(len(ids), _PROBES_PER_LIBRARY * 2)))
    probes = []
    for passage in picked:
        sentences = [s for s in split_sentences(passage.text) if len(s) >= 20]
        if sentences:
            probes.append((passage.doc_id, _snippet(rng.choice(sentences), rng)))
    return probes[:_PROBES_PER_LIBRARY]


def _unanswerable_scores(library: Library, retriever: Retriever) -> list[float]:
    rng = random.Random(20261122)
    doc_ids = {d.doc_id for d in library.documents()}
    scores: list[float] = []
    if len(doc_ids) > 1:
        for doc_id, snippet in _probes(library, rng):
            scores.append(retriever.search(snippet, 1, doc_ids=doc_ids - {doc_id}).confidence)
    for question in _OFF_TOPIC:
        scores.append(retriever.search(question, 1).confidence)
    return scores


def calibrate(library: Library, retriever: Retriever, quantile: float) -> Calibration:
    """Probe the library with unanswerable questions and derive its refusal threshold."""
    generation = library.manifest.generation if library.manifest else 0
    cached = _load(library.path, generation, quantile)
    if cached is not None:
        return cached
    log.info("calibrating the no-answer threshold on %s", library.path)
    scores = _unanswerable_scores(library, retriever)
    threshold = float(np.quantile(scores, quantile)) if scores else float("-inf")
    result = Calibration(generation, quantile, threshold, tuple(round(s, 4) for s in scores))
    _save(library.path, result)
    return result


def _load(folder: Path, generation: int, quantile: float) -> Calibration | None:
    try:
        data = json.loads((folder / _CACHE_FILE).read_text(encoding="utf-8"))
        if data["generation"] == generation and data["quantile"] == quantile:
            scores = tuple(data["unanswerable_scores"])
            return Calibration(generation, quantile, float(data["threshold"]), scores)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def _save(folder: Path, calibration: Calibration) -> None:
    """Write the cache atomically; a reader without write access just recomputes next time."""
    tmp = folder / f".{_CACHE_FILE}.{os.getpid()}"
    try:
        tmp.write_text(json.dumps(calibration.__dict__), encoding="utf-8")
        os.replace(tmp, folder / _CACHE_FILE)
    except OSError as err:
        log.warning("could not cache the calibration in %s: %s", folder, err)
