"""The question-answering half of the facade: ask, retrieve, calibrate, evaluate.

:class:`qa.PaperBridge` delegates its question methods here, so the facade's library
management (add, remove, list, rebuild, source view) and its question answering can
change independently.

Whether the library answers a question is decided on its evidence: the best sentence
similarity among the top hits (language-neutral encoder) plus the share of the question's
terms the best hit states (:mod:`qa.coverage`), which must reach
``QAConfig.refusal_threshold``, raised for every anchor of the question (an acronym, a
model name, an article number, a proper name, a 《title》) that no passage of the library
contains. The margin over that line is the answer's confidence, shown in the UI and
written in batch output.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from paperbridge.index import Library, StoredPassage
from paperbridge.ingest.errors import QuestionError
from paperbridge.qa.anchors import as_written, is_strong, missing, normalize, quoted_titles
from paperbridge.qa.answer import Answer, Citation, compose, pick_sentences
from paperbridge.qa.calibrate import Calibration, calibrate
from paperbridge.qa.config import QAConfig
from paperbridge.qa.documents import AUTHORS_SHARE, asks_for_authors
from paperbridge.qa.evaluate import EvalReport, evaluate
from paperbridge.qa.retrieve import Hit, Retrieval, Retriever
from paperbridge.qa.translate import QuestionTerms


class Asker:
    """Answers questions from one library; safe to share between threads."""

    def __init__(self, library: Library, config: QAConfig) -> None:
        self.library = library
        self.config = config
        self._retriever = Retriever(library, config, lambda: self.calibration().words)
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
        weight = self.config.answer_coverage_weight
        covered: list[np.ndarray] | None
        if found.authors >= AUTHORS_SHARE:
            # Quote the sentence that names the authors, however unlike the question it reads.
            names = self._retriever.names
            covered = [np.asarray([names.author_share(p.doc_id, s.text) for s in sentences], dtype=np.float64)
                       for p, (sentences, _) in zip(passages[:3], cached, strict=True)]
            weight = 1.0
        else:
            covered = (self._retriever.sentence_coverage(cached, found.terms, found.weights)
                       if found.terms is not None else None)
        sentences = pick_sentences(
            question, vector, cached, limit=self.config.answer_sentences, margin=self.config.answer_margin,
            coverage=covered, coverage_weight=weight, prior=self.config.answer_rank_prior,
            follow=self.config.answer_follow,
        )
        marks = {s.rank: s.span for s in reversed(sentences)}
        cites = _citations(hits, passages, marks)
        return Answer(question, lang, compose(sentences), False, cites, confidence, reason)

    def judge(self, question: str, found: Retrieval, calibration: Calibration) -> tuple[float, str]:
        """The confidence (0..1, 0.5 is the refusal line) that the library answers, and why.

        The evidence is the best sentence similarity among the top hits, plus the share of
        the question's terms the best of them states (:mod:`qa.coverage`), plus how far the
        best hit stands above the rest; it is compared with the refusal line, raised for
        each name of the question (an acronym, a model, an article number, a proper name, a
        《title》) that the library never mentions. The best sentence must also be at least
        ``min_similarity`` close to the question: one shared word ("Japanese ramen" in a
        library on Japan) lifts a passage above the rest without making it an answer.
        A question asking who wrote a named document is answered when the best passage lists
        at least half of that document's authors.
        """
        if not found.hits:
            return 0.0, "no passage matches"
        if found.authors >= AUTHORS_SHARE:
            return 0.5 + 0.5 * found.authors, (f"the best passage names {found.authors:.0%} of the authors "
                                               "of the document the question names")
        if found.named and asks_for_authors(question):
            unlisted = self._unlisted_authors(found.named)
            if unlisted:
                return 0.0, unlisted
        absent = missing(question, calibration.anchors) if calibration.anchors else []
        absent = [a for a in absent if not _translated(a, found.terms)]
        titles = [f"《{t}》" for t in quoted_titles(question) if not self._mentions(t)]
        elsewhere = self._elsewhere(question, found, calibration, absent, titles)
        cfg = self.config
        strong = sum(is_strong(a, question) for a in absent) + sum(s for _, s in elsewhere)
        weak = len(absent) + len(titles) + len(elsewhere) - strong
        line = cfg.refusal_threshold + cfg.anchor_penalty * strong + cfg.weak_anchor_penalty * weak
        evidence = (found.evidence + cfg.refusal_coverage_weight * found.coverage
                    + cfg.refusal_gap_weight * found.gap)
        margin = min(evidence - line, found.evidence - cfg.min_similarity)
        confidence = 1.0 / (1.0 + math.exp(-margin / cfg.confidence_scale))
        said = "; ".join(
            f"{where} {', '.join(as_written(a, question) for a in names)}"
            for where, names in (("the library never mentions", absent + titles),
                                 ("the best passage's document never mentions", [n for n, _ in elsewhere]))
            if names
        )
        if said:
            if confidence < 0.5:
                return confidence, said
            return confidence, (f"answered although {said} (check that the passages are about it): best "
                                f"sentence similarity {found.evidence:.2f}, evidence {evidence:.2f}, "
                                f"line {line:.2f}")
        if found.evidence < cfg.min_similarity:
            return confidence, f"no sentence is close to the question (best similarity {found.evidence:.2f})"
        return confidence, (f"best sentence similarity {found.evidence:.2f}, states {found.coverage:.0%} "
                            f"of the question's terms, stands {found.gap:.2f} above the rest "
                            f"(evidence {evidence:.2f}, line {line:.2f})")

    def _unlisted_authors(self, named: Collection[str]) -> str:
        """For a named document whose authors are known but listed in no passage (a byline
        read as a heading): where they come from, so that a refusal still says who they are."""
        for doc in self.library.documents():
            if doc.doc_id in named and doc.authors:
                return (f"no passage lists the authors of {doc.title}; its metadata or first page "
                        f"names {', '.join(doc.authors)}")
        return ""

    def _elsewhere(self, question: str, found: Retrieval, calibration: Calibration,
                   absent: Sequence[str], titles: Sequence[str]) -> list[tuple[str, bool]]:
        """The names (anchors and 《titles》) of the question that the library mentions but the
        best passage's document never does, each with whether that counts as strongly as a
        name the library lacks: "TableFormer 训练用了多少块 TPU" answered from the DeepSeek-V3
        report, a question on 《个人信息保护法》 from the GDPR's text. The passage is then about
        something else, however close it reads.

        A name counts strongly only when the document is written in its script (a Chinese
        page may write ABC as 美国广播公司, an English one 《个人信息保护法》 as PIPL) and, for an
        anchor, when it is written alike in every language (:func:`qa.anchors.is_strong`).
        """
        top = self._retriever.meta([found.hits[0].passage_id])[found.hits[0].passage_id]
        known = calibration.documents.get(top.doc_id)
        if not known:
            return []
        out = [(a, is_strong(a, question)) for a in missing(question, known)
               if a not in absent and not _translated(a, found.terms)]
        quoted = {t.strip("《》") for t in titles}
        out += [(f"《{t}》", True) for t in quoted_titles(question)
                if t not in quoted and not self._mentions(t, top.doc_id)]
        return [(name, strong and _written_in(name, top.lang)) for name, strong in out]

    def _mentions(self, title: str, doc_id: str | None = None) -> bool:
        """True when a document's title or a passage holds most of ``title`` in one piece
        (《大模型基础》 is the book whose chapter is titled 语言模型基础; 《人工智能法案》 is not a
        document about 人工智能); only that document's when ``doc_id`` is given."""
        squashed = "".join(title.split())
        texts = [d.title for d in self.library.documents() if doc_id is None or d.doc_id == doc_id]
        hits = self.library.lexical_search(title, 20, doc_ids=None if doc_id is None else [doc_id])
        texts += [p.text for p in self.library.passages([pid for pid, _ in hits])]
        need = max(2, math.ceil(_TITLE_SHARE * len(squashed)))
        return any(_longest_common(squashed, "".join(t.split())) >= need for t in texts)

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


def _translated(anchor: str, terms: QuestionTerms | None) -> bool:
    """True when the library uses a translation of the anchor ("Lavoisier" as 拉瓦锡 in a
    Chinese paper): the question's terms keep only translations some passage uses."""
    return terms is not None and any(t.senses and normalize(t.word) == anchor for t in terms.terms)


def _written_in(name: str, lang: str) -> bool:
    """True when a passage in ``lang`` would write ``name`` in its script: a Chinese name
    (第100条, 《个人信息保护法》) in a Chinese or mixed passage, a Latin one in an English or
    mixed one."""
    return lang == "mixed" or (lang == "zh") == bool(re.search(r"[\u3400-\u9fff]", name))


_TITLE_SHARE = 0.75  # share of a quoted title a text must hold in one piece to mention it


def _longest_common(a: str, b: str) -> int:
    """Length of the longest common substring of two strings."""
    from difflib import SequenceMatcher

    return SequenceMatcher(None, a, b, autojunk=False).find_longest_match().size


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
