"""Answers and citations: the question's best sentences, each pointing to its passage."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from paperbridge.index import Encoder, StoredPassage
from paperbridge.ingest import split_sentences

_MIN_SENTENCE_CHARS = 8
# Numbers and acronyms read the same in English and Chinese text ("2023", "3.0%", "CSTI"):
# a sentence sharing them with the question is likelier to hold the asked-for fact.
_ANCHOR = re.compile(r"\d+(?:\.\d+)*|(?<![A-Za-z])[A-Z][A-Z0-9&]{1,9}(?![A-Za-z])")
_ANCHOR_BONUS, _ANCHOR_CAP = 0.05, 0.1
_THOUSANDS = re.compile(r"(?<=\d)[ ,](?=\d{3}(?!\d))")


@dataclass(frozen=True)
class Citation:
    """One cited passage, numbered as the [n] markers in the answer refer to it."""

    rank: int
    passage_id: int
    doc_id: str
    title: str
    source: str
    kind: str
    page: int
    paragraph: int
    lang: str
    score: float
    text: str
    highlight: tuple[int, int] | None  # span in ``text`` of the sentence the answer quotes
    start: int  # offsets of the passage within its page text
    end: int

    def to_json(self) -> dict[str, Any]:
        """The citation as written in batch output."""
        keys = ("rank", "doc_id", "title", "source", "page", "paragraph", "lang", "score", "text")
        data = asdict(self)
        out = {key: data[key] for key in keys}
        out["score"] = round(self.score, 4)
        return out


@dataclass(frozen=True)
class Answer:
    """What a question gets: an extractive answer with [n] markers and its citations.

    When ``no_answer`` is true the library holds no answer; ``citations`` are then the
    closest passages, to be shown as "not an answer".
    """

    question: str
    question_lang: str
    text: str
    no_answer: bool
    citations: tuple[Citation, ...]

    def to_json(self) -> dict[str, Any]:
        """The answer as one line of batch output."""
        return {
            "question": self.question,
            "question_lang": self.question_lang,
            "answer": self.text,
            "no_answer": self.no_answer,
            "citations": [c.to_json() for c in self.citations],
        }


@dataclass(frozen=True)
class _Sentence:
    rank: int  # citation rank of the passage it is in
    span: tuple[int, int]
    text: str


def _sentences(rank: int, passage: StoredPassage) -> list[_Sentence]:
    """The passage's sentences with their spans in its text, skipping fragments and questions."""
    found: list[_Sentence] = []
    cursor = 0
    for sentence in split_sentences(passage.text):
        sentence = sentence.strip()
        at = passage.text.find(sentence, cursor)
        if at < 0 or len(sentence) < _MIN_SENTENCE_CHARS:
            continue
        if sentence.rstrip("\"'”’)）").endswith(("?", "？")):
            cursor = at + len(sentence)
            continue  # a question in the text never answers the user's
        cursor = at + len(sentence)
        found.append(_Sentence(rank, (at, cursor), sentence))
    return found


def _anchors(text: str) -> set[str]:
    """Numbers (thousands separators dropped: "71 337" is "71337") and acronyms."""
    return set(_ANCHOR.findall(_THOUSANDS.sub("", text)))


def _anchor_bonus(question: str, sentence: str) -> float:
    shared = _anchors(question) & _anchors(sentence)
    return min(_ANCHOR_CAP, _ANCHOR_BONUS * len(shared))


def pick_sentences(
    question: str,
    question_vec: np.ndarray,
    encoder: Encoder,
    passages: Sequence[StoredPassage],
    *,
    limit: int,
    margin: float,
    prior: float = 0.03,
) -> list[_Sentence]:
    """The sentences of the top passages that best answer the question, best first.

    Each sentence is scored by its similarity to the question, plus a small prior for
    passages the retrieval ranked higher and a bonus for numbers and acronyms it shares
    with the question (they survive translation). Sentences after the best one must score within
    ``margin`` of it, so a weak second sentence never dilutes a clear answer.
    """
    candidates = [s for rank, p in enumerate(passages, start=1) for s in _sentences(rank, p)]
    if not candidates:
        return []
    vecs = encoder.encode_passages([s.text for s in candidates])
    scores = vecs @ question_vec - prior * np.array([s.rank - 1 for s in candidates])
    scores += np.array([_anchor_bonus(question, s.text) for s in candidates])
    order = np.argsort(-scores)
    best = float(scores[order[0]])
    return [candidates[i] for i in order[:limit] if float(scores[i]) >= best - margin]


def compose(sentences: Sequence[_Sentence]) -> str:
    """The answer text: each quoted sentence followed by the [n] of its passage.

    Passages come in the order of their best sentence; sentences of one passage in
    reading order, so two sentences from one paragraph read as they were written.
    """
    first = {s.rank: n for n, s in reversed(list(enumerate(sentences)))}
    ordered = sorted(sentences, key=lambda s: (first[s.rank], s.span[0]))
    return " ".join(f"{s.text} [{s.rank}]" for s in ordered)
