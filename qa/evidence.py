"""Sentence-level evidence: how well the best sentence of a passage matches the question.

A passage is often a long paragraph that states the asked-for fact in one sentence among
several on other points; its passage-level embedding is the average of all of them, and a
short heading or table header on the question's topic outscores it. Scoring each sentence
separately and keeping the best one finds the fact where it is written. The same sentence
scores decide which sentences the answer quotes.

Sentence vectors of the language-neutral encoder are read from the library when it stores
them (the writer embeds the answer passages' sentences once, :mod:`paperbridge.index.sentences`:
reading 30 passages' vectors costs about a millisecond where embedding their sentences cost
~460 ms at 100k passages); sentences of passages without stored vectors (a library written
before they were stored, a kind that is not an answer kind) are embedded on demand. Both are
kept in a bounded in-memory cache keyed by passage id (passage ids are never reused within a
library, so a cached entry stays right across versions).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from paperbridge.index import Encoder, StoredPassage
from paperbridge.ingest.sentences import MIN_SENTENCE_CHARS, evidence_spans, is_question

__all__ = ["MIN_SENTENCE_CHARS", "Sentence", "SentenceCache", "sentences_of"]

Entry = tuple[list["Sentence"], np.ndarray]


@dataclass(frozen=True)
class Sentence:
    """One sentence of a passage, with its span in the passage's text."""

    passage_id: int
    span: tuple[int, int]
    text: str
    is_question: bool


def sentences_of(passage: StoredPassage) -> list[Sentence]:
    """The passage's sentences with their spans, fragments under 8 characters skipped
    (``ingest.sentences.evidence_spans``, which the index's stored vectors follow too)."""
    return [Sentence(passage.id, (start, end), passage.text[start:end], asks)
            for start, end, asks in evidence_spans(passage.text)]


def _stored(passage: StoredPassage, spans: Sequence[tuple[int, int]]) -> list[Sentence]:
    """The sentences of the stored spans (the spans the stored vectors were made of)."""
    return [Sentence(passage.id, (a, b), passage.text[a:b], is_question(passage.text[a:b]))
            for a, b in spans]


class SentenceCache:
    """Sentences and their vectors per passage id, least recently used dropped first."""

    def __init__(self, encoder: Encoder, capacity: int = 20000) -> None:
        self.encoder = encoder
        self.capacity = capacity
        self._items: OrderedDict[int, Entry] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, passages: Sequence[StoredPassage]) -> list[Entry]:
        """Per passage, its sentences and their vectors (shape (n_sentences, dim))."""
        with self._lock:
            known = {p.id: self._items[p.id] for p in passages if p.id in self._items}
            for pid in known:
                self._items.move_to_end(pid)
        missing = list({p.id: p for p in passages if p.id not in known}.values())
        if missing:
            found = self._read(missing)
            found.update(self._embed([p for p in missing if p.id not in found]))
            known.update(found)
            self._remember(found)
        return [known[p.id] for p in passages]

    def stored(self, passages: Sequence[StoredPassage]) -> dict[int, Entry]:
        """Like :meth:`get`, but only the passages whose vectors are cached or stored: none
        is embedded now (for probing many candidates at the cost of a read)."""
        with self._lock:
            known = {p.id: self._items[p.id] for p in passages if p.id in self._items}
        found = self._read([p for p in passages if p.id not in known])
        self._remember(found)
        return {**known, **found}

    def _remember(self, found: dict[int, Entry]) -> None:
        """Cache entries, dropping the least recently used beyond the capacity."""
        with self._lock:
            self._items.update(found)
            while len(self._items) > self.capacity:
                self._items.popitem(last=False)

    def _read(self, passages: Sequence[StoredPassage]) -> dict[int, Entry]:
        """The passages' stored sentence vectors, where the library stores this encoder's."""
        by_source: dict[int, list[StoredPassage]] = {}
        for p in passages:
            source = p.sentences
            if source is not None and source.encoder == self.encoder.name and source.dim == self.encoder.dim:
                by_source.setdefault(id(source), []).append(p)
        found: dict[int, Entry] = {}
        for group in by_source.values():
            source = group[0].sentences
            assert source is not None
            rows = source.get([p.id for p in group])
            for p in group:
                row = rows.get(p.id)
                if row is not None and all(0 <= a < b <= len(p.text) for a, b in row.spans):
                    found[p.id] = (_stored(p, row.spans), row.vectors)
        return found

    def _embed(self, passages: Sequence[StoredPassage]) -> dict[int, Entry]:
        """The passages' sentences embedded now (shape (n_sentences, dim) each)."""
        split = [sentences_of(p) for p in passages]
        texts = [s.text for ss in split for s in ss]
        vecs = self.encoder.encode_passages(texts) if texts else np.zeros((0, self.encoder.dim), np.float32)
        found: dict[int, Entry] = {}
        at = 0
        for p, ss in zip(passages, split, strict=True):
            found[p.id] = (ss, vecs[at : at + len(ss)])
            at += len(ss)
        return found
