"""Measure a library against questions with known answers: recall, MRR, refusals."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from paperbridge.ingest.errors import BatchInputError
from paperbridge.qa.answer import Answer, Citation
from paperbridge.qa.batch import Record, read_questions

_SPACE = re.compile(r"\s+")
EVAL_DEPTH = 10


@dataclass
class EvalReport:
    """Retrieval quality on answerable questions and refusal quality on the others."""

    questions: int = 0
    answerable: int = 0
    recall_at_1: float = 0.0
    recall_at_5: float = 0.0
    mrr_at_10: float = 0.0
    unanswerable: int = 0
    no_answer_precision: float = 0.0  # of the refused questions, the share truly unanswerable
    no_answer_recall: float = 0.0  # of the unanswerable questions, the share refused
    answerable_refused: float = 0.0  # of the answerable questions, the share refused
    misses: list[dict[str, Any]] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """All numbers, the misses and the failed lines."""
        return asdict(self)


def _squash(text: str) -> str:
    return _SPACE.sub("", text)


def gold_rank(record: Record, citations: Sequence[Citation]) -> int | None:
    """Rank (1-based) of the first citation matching the record's gold, None if none does.

    ``gold`` is a substring of the answering passage (compared with whitespace removed);
    ``gold_doc`` a document id (or prefix) or title.
    """
    gold = _squash(str(record.get("gold") or ""))
    gold_doc = str(record.get("gold_doc") or "")
    for c in citations:
        if gold and gold in _squash(c.text):
            return c.rank
        if not gold and gold_doc and (c.doc_id.startswith(gold_doc) or c.title == gold_doc):
            return c.rank
    return None


def evaluate(ask: Callable[[str, int], Answer], path: Path, *, progress: bool = False) -> EvalReport:
    """Ask every question of ``path`` (JSONL with ``question`` and ``gold`` or ``gold_doc``;
    neither means the library should refuse it) and score the answers."""
    report = EvalReport()
    ranks: list[int | None] = []
    refused_right = refused_wrong = 0
    for number, record in tqdm(list(read_questions(path)), desc="eval", disable=not progress):
        if isinstance(record, BatchInputError):
            report.failed.append((number, str(record)))
            continue
        answer = ask(str(record["question"]), EVAL_DEPTH)
        report.questions += 1
        answerable = bool(record.get("gold") or record.get("gold_doc"))
        if not answerable:
            report.unanswerable += 1
            refused_right += answer.no_answer
            if not answer.no_answer:
                report.misses.append(_miss(record, answer, "answered, but the library holds no answer"))
            continue
        report.answerable += 1
        refused_wrong += answer.no_answer
        rank = gold_rank(record, answer.citations)
        ranks.append(rank)
        if rank != 1 or answer.no_answer:
            why = "refused" if answer.no_answer else f"gold at rank {rank}" if rank else "gold not in top 10"
            report.misses.append(_miss(record, answer, why))
    _fill(report, ranks, refused_right, refused_wrong)
    return report


def _fill(report: EvalReport, ranks: list[int | None], refused_right: int, refused_wrong: int) -> None:
    if ranks:
        n = len(ranks)
        report.recall_at_1 = sum(r == 1 for r in ranks) / n
        report.recall_at_5 = sum(r is not None and r <= 5 for r in ranks) / n
        report.mrr_at_10 = sum(1 / r for r in ranks if r is not None and r <= 10) / n
        report.answerable_refused = refused_wrong / n
    refused = refused_right + refused_wrong
    report.no_answer_precision = refused_right / refused if refused else 0.0
    report.no_answer_recall = refused_right / report.unanswerable if report.unanswerable else 0.0


def _miss(record: Record, answer: Answer, why: str) -> dict[str, Any]:
    top = answer.citations[0] if answer.citations else None
    return {
        "id": record.get("id"),
        "question": answer.question,
        "why": why,
        "top": f"{top.title} p{top.page} ¶{top.paragraph}: {top.text[:80]}" if top else None,
    }
