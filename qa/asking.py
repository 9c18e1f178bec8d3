"""The question-answering half of the facade: ask, retrieve, calibrate, evaluate.

:class:`qa.PaperBridge` delegates its question methods here, so the facade's library
management (add, remove, list, rebuild, source view) and its question answering can
change independently.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from paperbridge.index import Library, StoredPassage
from paperbridge.ingest.errors import QuestionError
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
    ) -> Answer:
        """Answer a question from the library, citing the passages the answer comes from.

        Raises:
            QuestionError: the question is empty or longer than the configured limit.
        """
        question = self.check(question)
        vectors = self._retriever.encode(question)
        calibration = self.calibration()  # one version for ranking and refusing alike
        found = self._retriever.search(
            question,
            top_k or self.config.top_k,
            doc_ids=doc_ids,
            langs=langs,
            vectors=vectors,
            calibration=calibration,
        )
        hits = found.hits
        passages = self.library.passages([h.passage_id for h in hits])
        lang = found.question_lang
        if not hits or calibration.refuses(found.confidence):
            return Answer(question, lang, "", True, _citations(hits, passages, {}))
        encoder = self.library.encoders[self._retriever.neutral_encoder()]
        sentences = pick_sentences(
            question,
            vectors[encoder.name],
            encoder,
            passages[:3],
            limit=self.config.answer_sentences,
            margin=self.config.answer_margin,
        )
        marks = {s.rank: s.span for s in reversed(sentences)}
        return Answer(question, lang, compose(sentences), False, _citations(hits, passages, marks))

    def retrieve(
        self,
        question: str,
        k: int,
        *,
        doc_ids: Collection[str] | None = None,
        langs: Collection[str] | None = None,
        vectors: dict[str, np.ndarray] | None = None,
    ) -> Retrieval:
        """The ranked passages ``ask`` cites, without composing an answer (benchmarks use it)."""
        return self._retriever.search(
            question, k, doc_ids=doc_ids, langs=langs, vectors=vectors, calibration=self.calibration()
        )

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
        """The library's no-answer threshold, recomputed when the library changed."""
        with self._lock:
            self.library.refresh()
            generation = self.library.manifest.generation if self.library.manifest else 0
            if self._calibration is None or self._calibration.generation != generation:
                self._calibration = calibrate(
                    self.library, self._retriever, self.config.refusal_quantile, self.config.hubness_k
                )
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
        )
        for rank, (h, p) in enumerate(zip(hits, passages, strict=True), start=1)
    )
