"""Answers and citations: the question's best sentences, each pointing to its passage."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from paperbridge.qa.config import QAConfig
from paperbridge.qa.evidence import MIN_SENTENCE_CHARS, Sentence

# Numbers and acronyms read the same in English and Chinese text ("2023", "3.0%", "CSTI"):
# a sentence sharing them with the question is likelier to hold the asked-for fact.
_ANCHOR = re.compile(r"\d+(?:\.\d+)*|(?<![A-Za-z])[A-Z][A-Z0-9&]{1,9}(?![A-Za-z])")
_ANCHOR_BONUS, _ANCHOR_CAP = 0.05, 0.1
_THOUSANDS = re.compile(r"(?<=\d)[ ,](?=\d{3}(?!\d))")
# A paper's keyword line repeats the words of any question on its topic and states nothing:
# it is quoted only when the question asks for keywords.
_KEYWORDS = r"key\s*words?|keywords|index\s+terms|关键词|关键字"
_KEYWORD_LINE = re.compile(rf"^\s*(?:{_KEYWORDS})\s*[:：—\-]", re.IGNORECASE)
_ASKS_KEYWORDS = re.compile(_KEYWORDS, re.IGNORECASE)
# A sentence's end, or a clause's, in either language; a block of short lines without one
# is a label block (:func:`label_block`).
_STATES = re.compile(r"[。！？；]|[A-Za-z)\]][.!?;](?:\s|$)")
_LABEL_CHARS = 40


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
    passage_kind: str = "body"  # what the passage is: body, caption, table, references, ...
    section: str = ""  # the headings above it, "3 Method > 3.2 Attention"
    evidence: float = 0.0  # similarity of its best sentence to the question (0..1)

    def to_json(self) -> dict[str, Any]:
        """The citation as written in batch output."""
        keys = ("rank", "doc_id", "title", "source", "page", "paragraph", "lang", "score", "text")
        data = asdict(self)
        out = {key: data[key] for key in keys}
        out["score"] = round(self.score, 4)
        out["passage_kind"] = self.passage_kind
        out["section"] = self.section
        out["evidence"] = round(self.evidence, 4)
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
    confidence: float = 0.0  # how sure the library answers it, 0..1 (0.5 is the refusal line)
    reason: str = ""  # why it was refused, or what the answer rests on, in a few words

    @property
    def confidence_label(self) -> str:
        """``high``, ``medium`` or ``low`` (low is what a refusal gets), for people to read."""
        return confidence_label(self.confidence)

    def to_json(self) -> dict[str, Any]:
        """The answer as one line of batch output."""
        return {
            "question": self.question,
            "question_lang": self.question_lang,
            "answer": self.text,
            "no_answer": self.no_answer,
            "confidence": round(self.confidence, 3),
            "confidence_label": self.confidence_label,
            "reason": self.reason,
            "citations": [c.to_json() for c in self.citations],
        }


def confidence_label(confidence: float) -> str:
    """The words shown for a confidence: below the refusal line is ``low``."""
    return "high" if confidence >= 0.75 else "medium" if confidence >= 0.5 else "low"


@dataclass(frozen=True)
class QuotedSentence:
    """A sentence the answer quotes: its passage's citation rank and its span there."""

    rank: int
    span: tuple[int, int]
    text: str


def _anchors(text: str) -> set[str]:
    """Numbers (thousands separators dropped: "71 337" is "71337") and acronyms."""
    return set(_ANCHOR.findall(_THOUSANDS.sub("", text)))


def _anchor_bonus(question: str, sentence: str) -> float:
    shared = _anchors(question) & _anchors(sentence)
    return min(_ANCHOR_CAP, _ANCHOR_BONUS * len(shared))


def pick_sentences(
    question: str,
    question_vec: np.ndarray,
    cached: Sequence[tuple[Sequence[Sentence], np.ndarray]],
    *,
    limit: int,
    margin: float,
    prior: float = QAConfig.answer_rank_prior,
    coverage: Sequence[np.ndarray] | None = None,
    coverage_weight: float = 0.0,
    follow: bool = QAConfig.answer_follow,
) -> list[QuotedSentence]:
    """The sentences of the top passages that best answer the question, best first.

    Args:
        cached: per cited passage (rank 1, 2, ...), its sentences and their vectors from
            the language-neutral encoder (``qa.evidence.SentenceCache``).
        coverage: per cited passage, the share of the question's terms each sentence
            states (``Retriever.sentence_coverage``), added with ``coverage_weight``.

    Each sentence is scored by its similarity to the question, plus a small prior for
    passages the retrieval ranked higher and a bonus for numbers and acronyms it shares
    with the question (they survive translation). Sentences after the best one must score
    within ``margin`` of it, so a weak second sentence never dilutes a clear answer.
    Sentences that are questions are never quoted, nor a keyword line unless keywords are
    asked for. With ``follow``, the sentence after the top passage's best one is quoted too:
    the sentence that reads most like the question often only introduces the fact ("we adopt
    a similar approach to enable long context" before "we apply YaRN").
    """
    skip_keywords = not _ASKS_KEYWORDS.search(question)
    candidates: list[QuotedSentence] = []
    scores: list[float] = []
    for rank, (sentences, vecs) in enumerate(cached, start=1):
        sims = vecs @ question_vec if len(sentences) else np.zeros(0)
        covered = coverage[rank - 1] if coverage is not None else np.zeros(len(sentences))
        for sentence, sim, cov in zip(sentences, sims, covered, strict=True):
            if _quotable(sentence, skip_keywords):
                candidates.append(QuotedSentence(rank, sentence.span, sentence.text))
                scores.append(float(sim) + coverage_weight * float(cov) - prior * (rank - 1)
                              + _anchor_bonus(question, sentence.text))
    if not candidates:
        return []
    order = np.argsort(-np.asarray(scores))
    best = scores[int(order[0])]
    picked = [candidates[i] for i in order[:limit] if scores[i] >= best - margin]
    top = next((s for s in picked if s.rank == 1), None)
    after = _next_sentence(top, cached[0][0], skip_keywords) if follow and top else None
    if after and after not in picked:
        picked.append(after)
    return picked


def _quotable(sentence: Sentence, skip_keywords: bool) -> bool:
    """False for a question, a fragment, a block of short lines, and a keyword line unless
    keywords are asked for."""
    if sentence.is_question or len(sentence.text) < MIN_SENTENCE_CHARS or label_block(sentence.text):
        return False
    return not (skip_keywords and _KEYWORD_LINE.match(sentence.text))


def label_block(text: str) -> bool:
    """True for three or more short lines that state nothing: a title page ("DeepSeek-V3
    Technical Report / DeepSeek-AI / research@deepseek.com"), a cover, a table's rows. Its
    passage may be cited, but quoted in running text its lines read as nonsense; a list's
    lead-in ("我自定义了 4 个命令：") is a sentence."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) < 3 or any(line.endswith((":", "：")) for line in lines):
        return False
    median = sorted(len(line) for line in lines)[len(lines) // 2]
    return median <= _LABEL_CHARS and not _STATES.search(text)


def _next_sentence(quoted: QuotedSentence, sentences: Sequence[Sentence],
                   skip_keywords: bool) -> QuotedSentence | None:
    """The quotable sentence right after ``quoted`` in its passage, if there is one."""
    spans = [s.span for s in sentences]
    if quoted.span not in spans:
        return None
    index = spans.index(quoted.span) + 1
    if index >= len(sentences) or not _quotable(sentences[index], skip_keywords):
        return None
    return QuotedSentence(quoted.rank, sentences[index].span, sentences[index].text)


def compose(sentences: Sequence[QuotedSentence]) -> str:
    """The answer text: each quoted sentence followed by the [n] of its passage.

    Passages come in the order of their best sentence; sentences of one passage in
    reading order, so two sentences from one paragraph read as they were written.
    """
    first = {s.rank: n for n, s in reversed(list(enumerate(sentences)))}
    ordered = sorted(sentences, key=lambda s: (first[s.rank], s.span[0]))
    return " ".join(f"{s.text} [{s.rank}]" for s in ordered)
