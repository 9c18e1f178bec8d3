"""The ``paperbridge`` command: thin click commands over ingest -> index -> qa.

Each command parses its options, calls the library, and prints. Library errors
(:class:`ingest.errors.PaperBridgeError`) become one-line messages with exit code 1 in
one place, :func:`_errors_as_messages`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click

from ingest.errors import PaperBridgeError


def default_library() -> Path:
    """The library folder used when neither ``--library`` nor PAPERBRIDGE_LIBRARY is set."""
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "paperbridge" / "library"


@contextlib.contextmanager
def _errors_as_messages() -> Iterator[None]:
    """Turn PaperBridge's typed errors into a one-line message and exit code 1."""
    try:
        yield
    except PaperBridgeError as err:
        raise click.ClickException(str(err)) from err


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        with _errors_as_messages():
            return super().invoke(ctx)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--library",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="PAPERBRIDGE_LIBRARY",
    default=default_library,
    show_default="~/.local/share/paperbridge/library",
    help="Library folder (env PAPERBRIDGE_LIBRARY).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, library: Path, verbose: int) -> None:
    """PaperBridge: ask questions across English and Chinese papers, get cited passages.

    \b
    Examples:
      paperbridge add ingest/sample/           # index the sample corpus
      paperbridge ask "What is the K Program?"
      paperbridge ask "日本的研发投入强度是多少？"
      paperbridge serve                        # the web UI on 127.0.0.1:7860
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = library


# ---- ingest commands ---------------------------------------------------------------


# ---- model commands ------------------------------------------------------------------


# ---- library commands ----------------------------------------------------------------


# ---- question commands -----------------------------------------------------------------
def _bridge(library: Path) -> Any:
    """The PaperBridge over an existing library (imported late: loading models is slow)."""
    from qa import PaperBridge

    return PaperBridge(library, create=False)


def _print_answer(answer: Any) -> None:
    if answer.no_answer:
        click.echo("The library does not answer this question. Closest passages (not an answer):")
    else:
        click.echo(answer.text)
    for c in answer.citations:
        click.echo("")
        click.secho(
            f"[{c.rank}] {c.title} | page {c.page}, paragraph {c.paragraph} | {c.lang} | score {c.score:.2f}",
            bold=True,
        )
        text = c.text
        if c.highlight:
            a, b = c.highlight
            text = text[:a] + click.style(text[a:b], fg="yellow", bold=True) + text[b:]
        click.echo(text)


@main.command()
@click.argument("question")
@click.option("-k", "--top-k", type=click.IntRange(1, 50), default=5, show_default=True, help="Passages to cite.")
@click.option("--doc", "docs", multiple=True, help="Only search this document id (repeatable).")
@click.option("--lang", "langs", multiple=True, type=click.Choice(["en", "zh", "mixed"]),
              help="Only search passages in this language (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
@click.pass_obj
def ask(library: Path, question: str, top_k: int, docs: tuple[str, ...], langs: tuple[str, ...],
        as_json: bool) -> None:
    """Answer QUESTION (English or Chinese) with cited passages.

    \b
    Examples:
      paperbridge ask "What share of R&D does Japan spend on basic research?"
      paperbridge ask "日本的K计划是什么？" --lang en -k 3
    """
    answer = _bridge(library).ask(question, top_k=top_k, doc_ids=docs or None, langs=langs or None)
    if as_json:
        click.echo(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        _print_answer(answer)


@main.command()
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the answers (JSONL, one line per question, input order).")
@click.pass_obj
def batch(library: Path, questions: Path, out: Path) -> None:
    """Answer a JSONL ({"id", "question"}) or CSV (id,question) file of QUESTIONS.

    \b
    Example:
      paperbridge batch questions.jsonl --out answers.jsonl
    """
    report = _bridge(library).batch(questions, out, progress=True)
    for _, message in report.failed:
        click.echo(message, err=True)
    click.echo(f"{report.answered} answered, {len(report.failed)} failed -> {out}", err=True)
    if report.failed:
        raise SystemExit(1)


@main.command("eval")
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the full report (numbers and misses) as JSON here.")
@click.pass_obj
def eval_(library: Path, questions: Path, json_out: Path | None) -> None:
    """Measure the library on QUESTIONS with known answers (JSONL).

    Each line: {"id", "question", "gold": "substring of the answering passage"} or
    {"gold_doc": "doc id or title"}; a line with neither should be refused.

    \b
    Example:
      paperbridge eval tests/data/sample_questions.jsonl --json eval.json
    """
    report = _bridge(library).evaluate(questions, progress=True)
    rows = [
        ("questions", report.questions), ("answerable", report.answerable),
        ("recall@1", f"{report.recall_at_1:.3f}"), ("recall@5", f"{report.recall_at_5:.3f}"),
        ("MRR@10", f"{report.mrr_at_10:.3f}"), ("unanswerable", report.unanswerable),
        ("no-answer precision", f"{report.no_answer_precision:.3f}"),
        ("no-answer recall", f"{report.no_answer_recall:.3f}"),
        ("answerable refused", f"{report.answerable_refused:.3f}"),
    ]
    for name, value in rows:
        click.echo(f"{name:<22}{value}")
    for miss in report.misses:
        click.echo(f"miss {miss['id']}: {miss['why']} | {miss['question']} | top: {miss['top']}")
    for _, message in report.failed:
        click.echo(message, err=True)
    if json_out:
        json_out.write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")


# ---- ui command ------------------------------------------------------------------------


if __name__ == "__main__":
    main()
