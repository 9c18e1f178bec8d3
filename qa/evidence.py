"""Sentence-level evidence: how well the best sentence of a passage matches the question.

A passage is often a long paragraph that states the asked-for fact in one sentence among
several on other points; its passage-level embedding is the average of all of them, and a
short heading or table header on the question's topic outscores it. Scoring each sentence
separately and keeping the best one finds the fact where it is written. The same sentence
scores decide which sentences the answer quotes.

Sentence vectors are computed on demand with the language-neutral encoder and kept in a
bounded in-memory cache keyed by passage id (passage ids are never reused within a
library, so a cached entry stays right across versions).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from paperbridge.index import Encoder, StoredPassage
from paperbridge.ingest import split_sentences

MIN_SENTENCE_CHARS = 8
_CLOSERS = "\"'”’)）"


@dataclass(frozen=True)
class Sentence:
    """One sentence of a passage, with its span in the passage's text."""

    passage_id: int
    span: tuple[int, int]
    text: str
    is_question: bool


def sentences_of(passage: StoredPassage) -> list[Sentence]:
    """The passage's sentences with their spans, fragments under 8 characters skipped."""
    found: list[Sentence] = []
    cursor = 0
    for raw in split_sentences(passage.text):
        sentence = raw.strip()
        at = passage.text.find(sentence, cursor)
        if at < 0 or len(sentence) < MIN_SENTENCE_CHARS:
            continue
        cursor = at + len(sentence)
        asks = sentence.rstrip(_CLOSERS).endswith(("?", "？"))
        found.append(Sentence(passage.id, (at, cursor), sentence, asks))
    if not found and passage.text.strip():
        text = passage.text.strip()
        at = passage.text.find(text)
        found.append(Sentence(passage.id, (at, at + len(text)), text, False))
    return found


class SentenceCache:
    """Sentences and their vectors per passage id, least recently used dropped first."""

    def __init__(self, encoder: Encoder, capacity: int = 20000) -> None:
        self.encoder = encoder
        self.capacity = capacity
        self._items: OrderedDict[int, tuple[list[Sentence], np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, passages: Sequence[StoredPassage]) -> list[tuple[list[Sentence], np.ndarray]]:
        """Per passage, its sentences and their vectors (shape (n_sentences, dim))."""
        with self._lock:
            missing = [p for p in passages if p.id not in self._items]
        if missing:
            split = [sentences_of(p) for p in missing]
            texts = [s.text for ss in split for s in ss]
            vecs = (
                self.encoder.encode_passages(texts) if texts else np.zeros((0, self.encoder.dim), np.float32)
            )
            at = 0
            with self._lock:
                for p, ss in zip(missing, split, strict=True):
                    self._items[p.id] = (ss, vecs[at : at + len(ss)])
                    at += len(ss)
                while len(self._items) > self.capacity:
                    self._items.popitem(last=False)
        with self._lock:
            out = []
            for p in passages:
                self._items.move_to_end(p.id)
                out.append(self._items[p.id])
            return out


def best_sentences(
    question_vec: np.ndarray, cached: Sequence[tuple[list[Sentence], np.ndarray]]
) -> list[tuple[float, int]]:
    """Per passage, the best sentence's similarity to the question and its index.

    Sentences that are themselves questions never count as evidence (an FAQ or exercise
    list restates the question without answering it).
    """
    out = []
    for sentences, vecs in cached:
        if not sentences:
            out.append((-1.0, -1))
            continue
        sims = vecs @ question_vec
        sims = np.where([s.is_question for s in sentences], -1.0, sims)
        best = int(np.argmax(sims))
        out.append((float(sims[best]), best))
    return out
