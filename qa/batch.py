"""Batch questions: JSONL or CSV in, JSONL answers out, one bad line never stops the rest."""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from paperbridge.ingest.errors import BatchInputError, PaperBridgeError
from paperbridge.qa.answer import Answer

log = logging.getLogger(__name__)

Record = dict[str, Any]


@dataclass
class BatchReport:
    """How a batch went: answered lines, and each failed line with its number and why."""

    answered: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


def read_questions(path: Path) -> Iterator[tuple[int, Record | BatchInputError]]:
    """Yield (line number, record) for each question, or (line number, error) for a bad line.

    JSONL lines are objects with ``id`` and ``question`` (other fields pass through); a
    ``.csv`` file needs ``id`` and ``question`` columns.

    Raises:
        BatchInputError: the file cannot be read at all.
    """
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise BatchInputError(f"{path}: cannot read it as UTF-8 text ({err}).") from err
    if path.suffix.lower() == ".csv":
        yield from _csv_records(path, text)
    else:
        yield from _jsonl_records(path, text)


def _jsonl_records(path: Path, text: str) -> Iterator[tuple[int, Record | BatchInputError]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            yield number, BatchInputError(f"{path}:{number}: not valid JSON ({err.msg}).")
            continue
        yield number, _checked(path, number, record)


def _csv_records(path: Path, text: str) -> Iterator[tuple[int, Record | BatchInputError]]:
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or "question" not in reader.fieldnames:
        raise BatchInputError(f"{path}: a CSV batch needs a header row with 'id' and 'question' columns.")
    for number, row in enumerate(reader, start=2):
        yield number, _checked(path, number, dict(row))


def _checked(path: Path, number: int, record: object) -> Record | BatchInputError:
    if not isinstance(record, dict):
        return BatchInputError(f"{path}:{number}: expected an object with 'id' and 'question'.")
    question = record.get("question")
    if not isinstance(question, str) or not question.strip():
        return BatchInputError(f"{path}:{number}: the 'question' field is missing or empty.")
    return record


def run_batch(
    ask: Callable[[str], Answer], in_path: Path, out_path: Path, *, progress: bool = False
) -> BatchReport:
    """Answer every question of ``in_path`` into ``out_path`` (JSONL, input order).

    Output lines carry the input record's fields (``id`` and any others) followed by the
    answer fields; a line that fails is reported with its number and left out.
    """
    check_output(in_path, out_path)
    report = BatchReport()
    records = list(read_questions(in_path))
    tmp = out_path.with_name(out_path.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8") as out:
            for number, record in tqdm(records, desc="questions", unit="q", disable=not progress):
                _answer_one(ask, in_path, number, record, out, report)
        tmp.replace(out_path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise BatchInputError(
            f"Cannot write the answers to {out_path} ({err.strerror}): check the free space and "
            "the folder's permissions, then run the batch again."
        ) from err
    return report


def _answer_one(
    ask: Callable[[str], Answer],
    in_path: Path,
    number: int,
    record: Record | BatchInputError,
    out: IO[str],
    report: BatchReport,
) -> None:
    if isinstance(record, BatchInputError):
        report.failed.append((number, str(record)))
        return
    try:
        answer = ask(str(record["question"]))
    except PaperBridgeError as err:
        report.failed.append((number, f"{in_path}:{number}: {err}"))
        return
    out.write(json.dumps({**record, **answer.to_json()}, ensure_ascii=False) + "\n")
    report.answered += 1


def check_output(in_path: Path, out_path: Path) -> None:
    """Refuse an output path before any question is answered, with what to do instead.

    Raises:
        BatchInputError: ``out_path`` is the input itself, a folder, in a folder that does
            not exist, or not writable.
    """
    folder = out_path.parent
    if out_path.exists() and in_path.exists() and os.path.samefile(in_path, out_path):
        raise BatchInputError(
            f"--out {out_path} is the questions file itself: writing the answers "
            "there would destroy the questions. Choose another output file."
        )
    if out_path.is_dir():
        raise BatchInputError(
            f"--out {out_path} is a folder: name a file in it, e.g. {out_path / 'answers.jsonl'}."
        )
    if not folder.is_dir():
        raise BatchInputError(
            f"The folder of --out {out_path} does not exist ({folder}): create it "
            "first, or choose another output file."
        )
    if not os.access(folder, os.W_OK) or (out_path.exists() and not os.access(out_path, os.W_OK)):
        raise BatchInputError(
            f"--out {out_path}: PaperBridge may not write there (permission "
            "denied). Choose another output file."
        )
