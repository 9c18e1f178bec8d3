"""The question-answering half of the facade: ask, retrieve, calibrate, evaluate.

:class:`qa.PaperBridge` delegates its question methods here, so the facade's library
management (add, remove, list, rebuild, source view) and its question answering can
change independently.

Whether the library answers a question is decided on its evidence: the best sentence
similarity among the top hits (language-neutral encoder), which must reach
``QAConfig.refusal_threshold``, raised for every anchor of the question (an acronym, a
model name, an article number) that no passage of the library contains. The margin over
that line is the answer's confidence, shown in the UI and written in batch output.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from paperbridge.index import Library, StoredPassage
from paperbridge.ingest.errors import QuestionError
from paperbridge.qa.anchors import missing
from paperbridge.qa.answer import Answer, Citation, compose, pick_sentences
from paperbridge.qa.calibrate import Calibration, calibrate
from paperbridge.qa.config import QAConfig
from paperbridge.qa.evaluate import EvalReport, evaluate
from paperbridge.qa.retrieve import Hit, Retrieval, Retriever


class Asker:
    """Answers questions from one library; safe to share between threads."""

    def __init__(self, library: Library, config: QAConfig) -> None:
        self.library = library
        self.config = config
        self._retriever = Retriever(library, config)
        self._calibration: Calibration | None = None
        self._lock = threading.Lock()

    def ask(
        self,
        question: str,
        *,
        top_k: int | None = None,
        doc_ids: Collection[str] | None = None,
        langs: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
    ) -> Answer:
        """Answer a question from the library, citing the passages the answer comes from.

        Args:
            kinds: passage kinds that may answer (default body, captions, tables; e.g.
                ``["references"]`` to ask about the papers a document cites).

        Raises:
            QuestionError: the question is empty or longer than the configured limit.
        """
        question = self.check(question)
        vectors = self._retriever.encode(question)
        calibration = self.calibration()
        found = self._retriever.search(
            question, top_k or self.config.top_k, doc_ids=doc_ids, langs=langs, kinds=kinds, vectors=vectors
        )
        hits = found.hits
        passages = self.library.passages([h.passage_id for h in hits])
        confidence, reason = self.judge(question, found, calibration)
        lang = found.question_lang
        if not hits or confidence < 0.5:
            return Answer(question, lang, "", True, _citations(hits, passages, {}), confidence, reason)
        vector = vectors[self._retriever.neutral_encoder()]
        cached = self._retriever.sentences().get(passages[:3])
        sentences = pick_sentences(
            question, vector, cached, limit=self.config.answer_sentences, margin=self.config.answer_margin
        )
        marks = {s.rank: s.span for s in reversed(sentences)}
        cites = _citations(hits, passages, marks)
        return Answer(question, lang, compose(sentences), False, cites, confidence, reason)

    def judge(self, question: str, found: Retrieval, calibration: Calibration) -> tuple[float, str]:
        """The confidence (0..1, 0.5 is the refusal line) that the library answers, and why.

        The evidence (best sentence similarity among the top hits) is compared with the
        refusal line, raised for each of the question's anchors the library never mentions.
        """
        if not found.hits:
            return 0.0, "no passage matches"
        absent = missing(question, calibration.anchors) if calibration.anchors else []
        line = self.config.refusal_threshold + self.config.anchor_penalty * len(absent)
        confidence = 1.0 / (1.0 + math.exp(-(found.evidence - line) / self.config.confidence_scale))
        if absent:
            reason = f"the library never mentions {', '.join(absent)}"
        else:
            reason = f"best sentence similarity {found.evidence:.2f} (line {line:.2f})"
        return confidence, reason

    def retrieve(
        self,
        question: str,
        k: int,
        *,
        doc_ids: Collection[str] | None = None,
        langs: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
        vectors: dict[str, np.ndarray] | None = None,
    ) -> Retrieval:
        """The ranked passages ``ask`` cites, without composing an answer (benchmarks use it)."""
        return self._retriever.search(question, k, doc_ids=doc_ids, langs=langs, kinds=kinds, vectors=vectors)

    def check(self, question: str) -> str:
        """The question stripped, or a QuestionError saying what is wrong with it."""
        question = (question or "").strip()
        if not question:
            raise QuestionError("The question is empty: type a question in English or Chinese.")
        if len(question) > self.config.max_question_chars:
            raise QuestionError(
                f"The question is {len(question)} characters long; the limit is "
                f"{self.config.max_question_chars}. Ask a shorter, more specific question."
            )
        return question

    def calibration(self) -> Calibration:
        """What the library version's passages contain (its anchors), measured once per version."""
        with self._lock:
            self.library.refresh()
            generation = self.library.manifest.generation if self.library.manifest else 0
            if self._calibration is None or self._calibration.generation != generation:
                self._calibration = calibrate(self.library)
            return self._calibration

    def evaluate(self, questions: Path, *, progress: bool = False) -> EvalReport:
        """Score the library on questions with known answers (see :func:`qa.evaluate`)."""
        return evaluate(lambda q, k: self.ask(q, top_k=k), questions, progress=progress)


def _citations(
    hits: Sequence[Hit], passages: Sequence[StoredPassage], marks: dict[int, tuple[int, int]]
) -> tuple[Citation, ...]:
    return tuple(
        Citation(
            rank=rank,
            passage_id=p.id,
            doc_id=p.doc_id,
            title=p.title,
            source=p.source,
            kind=p.kind,
            page=p.page,
            paragraph=p.paragraph,
            lang=p.lang,
            score=h.score,
            text=p.text,
            highlight=marks.get(rank),
            start=p.start,
            end=p.end,
            passage_kind=p.passage_kind,
            section=p.section,
            evidence=h.signals.get("sentence", 0.0),
        )
        for rank, (h, p) in enumerate(zip(hits, passages, strict=True), start=1)
    )
