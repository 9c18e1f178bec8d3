"""PaperBridge's web UI (Gradio): ask, read the evidence in its source, manage the library.

Thin by design: every handler calls the same :class:`qa.PaperBridge` the CLI uses, one
instance shared by all sessions so the models load once. Importing this module starts
nothing; :func:`serve` does (``paperbridge serve``).

Served beyond the loopback interface anyone on the network could upload and delete
documents, so :func:`serve` then requires a login (credentials from the environment or a
file, never the command line) unless told explicitly not to.
"""

from __future__ import annotations

import html
import ipaddress
import logging
import os
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from paperbridge.ingest.errors import PaperBridgeError
from paperbridge.qa.source import source_view

if TYPE_CHECKING:
    from paperbridge.index import AddReport, DocumentInfo
    from paperbridge.qa import Answer, Citation, PaperBridge

__all__ = [
    "AUTH_ENV",
    "ServeError",
    "UploadError",
    "build_app",
    "is_loopback",
    "load_credentials",
    "safe_upload_name",
    "serve",
    "store_uploads",
]

log = logging.getLogger(__name__)

AUTH_ENV = "PAPERBRIDGE_AUTH"
UPLOAD_SUFFIXES = (".pdf", ".txt", ".md")
BATCH_SUFFIXES = (".jsonl", ".csv")
_DOC_COLUMNS = ("title", "file", "language", "pages", "passages", "warnings", "id")
_LANG_NAMES = {"en": "English", "zh": "中文 Chinese", "mixed": "mixed"}

# Questions from the sample corpus: English ones answered only by the Chinese paper, and
# Chinese ones answered only by the English abstracts (tests/data/sample_questions.jsonl).
EXAMPLES = [
    "What R&D intensity did Japan keep between 2016 and 2021?",
    "Where did Japan rank in the Global Innovation Index 2023?",
    "What percentage of Japanese companies carried out innovation activities in the 2018 "
    "national innovation survey?",
    "日本是在什么时候提出“技术立国”战略的？",
    "日本宏观科技协调机制包括哪些协调机构？",
    "日本的K计划遴选了哪几类技术攻关任务？",
]

_CSS = """
.pb-card {border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 10px 14px;
  margin: 8px 0; background: var(--background-fill-secondary);}
.pb-card.pb-closest {border-style: dashed; opacity: 0.92;}
.pb-card-head {font-weight: 600; font-size: 1.02em;}
.pb-meta {color: var(--body-text-color-subdued); font-size: 0.88em; margin: 2px 0 6px;}
.pb-flag {display: inline-block; font-size: 0.8em; padding: 1px 8px; border-radius: 10px;
  background: #fde2e2; color: #8a1f1f; margin-left: 6px;}
.pb-text {line-height: 1.6; white-space: pre-wrap;}
.pb-text mark, .pb-source mark.pb-sentence {background: #ffb86b; color: inherit;}
.pb-source mark.pb-passage {background: #fff2a8; color: inherit;}
.pb-answer {font-size: 1.08em; line-height: 1.7;}
.pb-ref {font-weight: 600; color: var(--color-accent);}
.pb-noanswer {font-weight: 600; color: #8a1f1f;}
.pb-source p {line-height: 1.6;}
"""


class ServeError(PaperBridgeError):
    """The UI cannot be started as asked (missing login off loopback, bad auth file)."""


class UploadError(PaperBridgeError):
    """An uploaded file is refused (too large, not a type PaperBridge reads)."""


# ---- uploads ----------------------------------------------------------------------------
def safe_upload_name(name: str) -> str:
    """A file name for an upload that cannot leave the folder it is saved in.

    Keeps only the last path component (``/`` and ``\\`` both count), letters of any script,
    digits and ``._-``; no leading dots, at most 120 characters, the suffix kept.
    """
    base = re.split(r"[\\/]", unicodedata.normalize("NFKC", name))[-1]
    base = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in base)
    base = re.sub(r"_+", "_", base).lstrip("._-")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = suffix[:10].lower()
    stem = stem[: 120 - len(suffix) - 1].rstrip("._-") or "upload"
    return f"{stem}.{suffix}" if suffix else stem


def store_uploads(
    uploads: Sequence[Path], files_dir: Path, *, max_bytes: int
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Copy uploaded files into ``files_dir`` under safe names.

    Returns the stored paths and, per refused file, ``(original name, why)``. A file whose
    safe name is taken by different bytes gets ``-1``, ``-2``... appended; identical bytes
    reuse the stored copy (the library then skips it as unchanged).
    """
    files_dir.mkdir(parents=True, exist_ok=True)
    stored: list[Path] = []
    refused: list[tuple[str, str]] = []
    for upload in uploads:
        try:
            stored.append(_store_one(Path(upload), files_dir, max_bytes))
        except UploadError as err:
            refused.append((Path(upload).name, str(err)))
    return stored, refused


def _store_one(upload: Path, files_dir: Path, max_bytes: int) -> Path:
    size = upload.stat().st_size
    if size > max_bytes:
        raise UploadError(
            f"{upload.name} is {_size(size)}, over the {_size(max_bytes)} upload limit: add it "
            "from the command line (`paperbridge add`) or raise --max-upload-mb."
        )
    name = safe_upload_name(upload.name)
    if not name.lower().endswith(UPLOAD_SUFFIXES):
        raise UploadError(f"{upload.name} is not a PDF, .txt or .md file: PaperBridge cannot read it.")
    target = _free_target(files_dir, name, upload)
    if target.resolve().parent != files_dir.resolve():
        raise UploadError(f"{upload.name} would be saved outside {files_dir}: rename the file.")
    if not target.exists():
        shutil.copyfile(upload, target)
    return target


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.1f} KB"


def _free_target(files_dir: Path, name: str, upload: Path) -> Path:
    """``files_dir / name``, or a numbered variant if that holds other bytes."""
    stem, suffix = Path(name).stem, Path(name).suffix
    target, n = files_dir / name, 0
    while target.exists() and target.read_bytes() != upload.read_bytes():
        n += 1
        target = files_dir / f"{stem}-{n}{suffix}"
    return target


# ---- login ------------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    """True when ``host`` is only reachable from this machine (127.x, ::1, localhost)."""
    if host.strip().lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_credentials(auth_file: Path | None, env: dict[str, str] | None = None) -> list[tuple[str, str]]:
    """Logins from ``auth_file`` (``user:password`` lines) and env ``PAPERBRIDGE_AUTH``.

    Blank lines and ``#`` comments are skipped; the password is everything after the first
    colon. Raises ServeError naming the file and line of a malformed entry.
    """
    env = dict(os.environ) if env is None else env
    entries: list[tuple[str, str]] = []
    if env.get(AUTH_ENV):
        entries.append((AUTH_ENV, env[AUTH_ENV].strip()))
    if auth_file is not None:
        try:
            lines = Path(auth_file).read_text(encoding="utf-8").splitlines()
        except OSError as err:
            raise ServeError(f"Cannot read the auth file {auth_file}: {err.strerror}.") from err
        entries += [(f"{auth_file} line {i}", ln.strip()) for i, ln in enumerate(lines, 1)]
    logins: list[tuple[str, str]] = []
    for where, entry in entries:
        if not entry or entry.startswith("#"):
            continue
        user, colon, password = entry.partition(":")
        if not colon or not user.strip() or not password:
            raise ServeError(f"{where}: expected user:password with a non-empty password.")
        logins.append((user.strip(), password))
    return logins


def check_login(host: str, logins: Sequence[tuple[str, str]], *, allow_no_auth: bool) -> None:
    """Refuse to serve beyond loopback without a login, unless explicitly allowed."""
    if logins or allow_no_auth or is_loopback(host):
        return
    raise ServeError(
        f"Serving on {host} lets anyone on the network upload and delete documents. Set "
        f"{AUTH_ENV}=user:password or pass --auth-file FILE (user:password lines), or pass "
        "--allow-no-auth to serve without a login."
    )


# ---- rendering ----------------------------------------------------------------------------
def _answer_html(answer: Answer) -> str:
    if answer.no_answer:
        return (
            '<div class="pb-answer"><span class="pb-noanswer">Not in the library.</span> '
            "PaperBridge found no passage that answers this question. The closest passages "
            "are listed below; they are not an answer.</div>"
        )
    body = html.escape(answer.text)
    body = re.sub(r"\[(\d+)\]", r'<span class="pb-ref">[\1]</span>', body)
    return f'<div class="pb-answer">{body}</div>'


def _card_html(cite: Citation, closest: bool) -> str:
    text = cite.text
    if cite.highlight is not None:
        a, b = cite.highlight
        body = html.escape(text[:a]) + f"<mark>{html.escape(text[a:b])}</mark>" + html.escape(text[b:])
    else:
        body = html.escape(text)
    flag = '<span class="pb-flag">closest passage — not an answer</span>' if closest else ""
    meta = (
        f"page {cite.page} · paragraph {cite.paragraph} · {_LANG_NAMES.get(cite.lang, cite.lang)}"
        f" · score {cite.score:.3f} · {html.escape(Path(cite.source).name)}"
    )
    return (
        f'<div class="pb-card{" pb-closest" if closest else ""}" data-rank="{cite.rank}" '
        f'data-lang="{html.escape(cite.lang)}" data-doc="{html.escape(cite.doc_id)}">'
        f'<div class="pb-card-head">[{cite.rank}] {html.escape(cite.title)}{flag}</div>'
        f'<div class="pb-meta">{meta}</div><div class="pb-text">{body}</div></div>'
    )


def _cards_html(answer: Answer) -> str:
    if not answer.citations:
        return "<p>No passages: the library is empty or the filters exclude everything.</p>"
    head = "Closest passages — not an answer" if answer.no_answer else "Sources"
    cards = "".join(_card_html(c, answer.no_answer) for c in answer.citations)
    return f'<div class="pb-cards"><h3>{head}</h3>{cards}</div>'


def _source_choices(answer: Answer) -> list[tuple[str, int]]:
    return [(f"[{c.rank}] {c.title[:60]} · p.{c.page}", c.rank) for c in answer.citations]


def _documents_rows(docs: Sequence[DocumentInfo]) -> list[list[Any]]:
    return [
        [d.title, Path(d.source).name, d.lang, d.pages, d.passages, "; ".join(d.warnings), d.doc_id]
        for d in docs
    ]


def _report_markdown(report: AddReport | None, refused: Sequence[tuple[str, str]]) -> str:
    lines: list[str] = []
    failures = list(refused)
    if report is not None:
        lines += [f"- added {_doc_line(d)}" for d in report.added]
        lines += [f"- replaced {_doc_line(d)}" for d in report.replaced]
        lines += [f"- unchanged, skipped: {Path(s).name}" for s in report.skipped]
        failures = [(Path(p).name, msg) for p, msg in report.failed] + failures
    lines += [f"- **failed: {name}** — {msg}" for name, msg in failures]
    return "\n".join(lines) or "Nothing to add."


def _doc_line(doc: DocumentInfo) -> str:
    warn = f" — warnings: {'; '.join(doc.warnings)}" if doc.warnings else ""
    return f"**{doc.title}** ({Path(doc.source).name}, {doc.passages} passages){warn}"


@contextmanager
def _core_errors() -> Iterator[None]:
    """The core's errors become gr.Error with its message; nothing else leaks a traceback."""
    try:
        yield
    except PaperBridgeError as err:
        raise gr.Error(str(err)) from err


# ---- handlers -----------------------------------------------------------------------------
class _Handlers:
    """The UI's event handlers over one shared PaperBridge."""

    def __init__(self, bridge: PaperBridge, *, max_upload_mb: int) -> None:
        self.bridge = bridge
        self.max_bytes = max_upload_mb * 2**20
        self.files_dir = Path(bridge.library.path) / "files"

    def ask(
        self, question: str, top_k: float, doc_ids: list[str] | None, langs: list[str] | None
    ) -> tuple[Any, ...]:
        """Answer, cards, the source picker, and the source of the first citation."""
        with _core_errors():
            answer = self.bridge.ask(
                question or "", top_k=int(top_k), doc_ids=doc_ids or None, langs=langs or None
            )
        first = answer.citations[0].rank if answer.citations else None
        picker = gr.Radio(choices=_source_choices(answer), value=first, visible=bool(first))
        return (
            _answer_html(answer),
            _cards_html(answer),
            picker,
            answer,
            *self.source(first, answer),
        )

    def source(self, rank: int | None, answer: Answer | None) -> tuple[Any, Any, str]:
        """The cited page with the passage highlighted (PDF) or its paragraphs (text)."""
        cite = next((c for c in answer.citations if c.rank == rank), None) if answer else None
        if cite is None:
            return gr.Image(value=None, visible=False), gr.HTML(value="", visible=False), ""
        with _core_errors():
            page_text = self.bridge.library.page_text(cite.doc_id, cite.page)
            view = source_view(cite, page_text, sentence=cite.highlight, scale=1.5)
        caption = f"**[{cite.rank}] {cite.title}** — page {cite.page} of `{Path(cite.source).name}`"
        if view.note:
            caption += f"\n\n_{view.note}_"
        return (
            gr.Image(value=view.image, visible=view.image is not None),
            gr.HTML(value=view.html, visible=view.image is None),
            caption,
        )

    def documents(self) -> tuple[Any, Any, Any]:
        """The documents table and the two document pickers, re-read from disk."""
        self.bridge.library.refresh()
        docs = self.bridge.documents()
        choices = [(f"{d.title[:70]} ({Path(d.source).name})", d.doc_id) for d in docs]
        return (
            gr.Dataframe(value={"headers": list(_DOC_COLUMNS), "data": _documents_rows(docs)}),
            gr.Dropdown(choices=choices, value=[]),
            gr.Dropdown(choices=choices, value=[]),
        )

    def upload(
        self,
        files: list[str] | None,
        password: str,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (Gradio's idiom)
    ) -> tuple[Any, ...]:
        """Store uploads under <library>/files and add them; failures are reported per file."""
        if not files:
            raise gr.Error("Choose one or more PDF, .txt or .md files first.")
        before = {f.resolve() for f in self.files_dir.iterdir()} if self.files_dir.is_dir() else set()
        stored, refused = store_uploads([Path(f) for f in files], self.files_dir, max_bytes=self.max_bytes)
        report = None
        if stored:
            with _core_errors():
                report = self.bridge.add(stored, password=password or None, progress=True)
            for path, _ in report.failed:
                if Path(path).resolve() not in before:
                    Path(path).unlink(missing_ok=True)  # keep no copy of a file we could not read
        message = _report_markdown(report, refused)
        failed = len(refused) + (len(report.failed) if report else 0)
        if failed:
            gr.Warning(f"{failed} file(s) could not be added; see the report.")
        return (message, *self.documents())

    def remove(self, doc_ids: list[str] | None) -> tuple[Any, ...]:
        """Remove documents, and the copies the UI stored for them."""
        if not doc_ids:
            raise gr.Error("Choose the documents to remove first.")
        with _core_errors():
            removed = self.bridge.remove(list(doc_ids))
        for doc in removed:
            source = Path(doc.source)
            if source.parent.resolve() == self.files_dir.resolve():
                source.unlink(missing_ok=True)
        message = "\n".join(f"- removed **{d.title}**" for d in removed)
        return (message, *self.documents())

    def batch(self, file: str | None) -> tuple[str | None, str]:
        """Run a JSONL/CSV of questions; return the answers JSONL for download and a summary."""
        if not file:
            raise gr.Error("Choose a .jsonl or .csv file of questions first.")
        src = Path(file)
        if src.suffix.lower() not in BATCH_SUFFIXES:
            raise gr.Error(f"{src.name} is not a .jsonl or .csv file of questions.")
        out = Path(tempfile.mkdtemp(prefix="paperbridge-batch-")) / (
            safe_upload_name(src.stem) + ".answers.jsonl"
        )
        with _core_errors():
            report = self.bridge.batch(src, out, progress=True)
        lines = [f"Answered **{report.answered}** questions from `{src.name}`."]
        lines += [f"- line {n}: {why}" for n, why in report.failed]
        return str(out), "\n".join(lines)


# ---- layout ---------------------------------------------------------------------------------
def build_app(bridge: PaperBridge, *, max_upload_mb: int = 50, concurrency: int = 2) -> gr.Blocks:
    """The Gradio app over ``bridge``: tabs Ask, Library and Batch, plus an ``/ask_json`` API.

    Args:
        bridge: the one PaperBridge every session shares (models load once).
        max_upload_mb: uploads larger than this are refused with a message.
        concurrency: events run at once; questions beyond wait in Gradio's queue.
    """
    handlers = _Handlers(bridge, max_upload_mb=max_upload_mb)
    with gr.Blocks(title="PaperBridge", analytics_enabled=False) as app:
        gr.Markdown(
            "# PaperBridge\nAsk in English or Chinese; answers come from the papers in the "
            "library, each sentence citing [n] the passage it is taken from."
        )
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                doc_filter = _ask_tab(handlers, bridge.config.top_k)
            with gr.Tab("Library", id="library"):
                table, remove_pick, report, uploads = _library_tab(handlers)
            with gr.Tab("Batch", id="batch"):
                _batch_tab(handlers)
        pickers = [table, doc_filter, remove_pick]
        add, files, password, remove = uploads
        add.click(handlers.upload, inputs=[files, password], outputs=[report, *pickers])
        remove.click(handlers.remove, inputs=[remove_pick], outputs=[report, *pickers])
        app.load(handlers.documents, outputs=pickers, api_visibility="private")
        gr.api(_ask_json(bridge), api_name="ask_json")  # type: ignore[attr-defined]
    app.queue(default_concurrency_limit=concurrency)
    return app  # type: ignore[no-any-return]


def _ask_json(bridge: PaperBridge) -> Callable[[str, int], dict[str, Any]]:
    def ask_json(question: str, top_k: int = 5) -> dict[str, Any]:
        """Answer one question; returns the batch-output JSON of the answer."""
        with _core_errors():
            return bridge.ask(question, top_k=int(top_k)).to_json()

    return ask_json


def _ask_tab(h: _Handlers, top_k: int) -> gr.Dropdown:
    """Question, filters, answer, citation cards and the source view; returns the doc filter."""
    with gr.Row():
        question = gr.Textbox(
            label="Question (English or 中文)",
            lines=2,
            scale=5,
            elem_id="pb-question",
            placeholder="e.g. What R&D intensity did Japan keep between 2016 and 2021?",
        )
        ask = gr.Button("Ask", variant="primary", scale=1, elem_id="pb-ask")
    gr.Examples(examples=EXAMPLES, inputs=[question], label="Example questions")
    with gr.Accordion("Options", open=False):
        with gr.Row():
            k = gr.Slider(1, 10, value=top_k, step=1, label="Passages to cite (top-k)")
            langs = gr.CheckboxGroup(
                choices=[(name, code) for code, name in _LANG_NAMES.items()],
                label="Only passages in these languages (none = all)",
            )
        docs = gr.Dropdown(multiselect=True, label="Only these documents (none = all)")
    answer_state = gr.State(None)
    with gr.Row():
        with gr.Column(scale=3):
            answer = gr.HTML(elem_id="pb-answer")
            cards = gr.HTML(elem_id="pb-cards")
        with gr.Column(scale=2):
            pick = gr.Radio(label="Show in the source", visible=False, elem_id="pb-pick")
            caption = gr.Markdown(elem_id="pb-source-caption")
            image = gr.Image(
                type="pil",
                label="Cited page",
                visible=False,
                elem_id="pb-page",
                interactive=False,
                height=720,
            )
            text = gr.HTML(visible=False, elem_id="pb-source-text")
    outputs = [answer, cards, pick, answer_state, image, text, caption]
    gr.on(
        [ask.click, question.submit],
        h.ask,
        inputs=[question, k, docs, langs],
        outputs=outputs,
        api_visibility="private",  # scripts use /ask_json; this one returns HTML
    )
    pick.input(
        h.source,
        inputs=[pick, answer_state],
        outputs=[image, text, caption],
        api_visibility="private",
    )
    return docs


def _library_tab(h: _Handlers) -> tuple[Any, ...]:
    """Documents table, upload and remove; returns the components the app wires together."""
    table = gr.Dataframe(
        headers=list(_DOC_COLUMNS),
        column_widths=["30%", "18%", "8%", "7%", "8%", "17%", "12%"],
        interactive=False,
        wrap=True,
        label="Documents in the library",
        elem_id="pb-docs",
    )
    with gr.Row():
        with gr.Column():
            files = gr.File(
                file_count="multiple",
                file_types=list(UPLOAD_SUFFIXES),
                type="filepath",
                label=f"Add PDFs or text files (up to {h.max_bytes // 2**20} MB each)",
                elem_id="pb-upload",
            )
            password = gr.Textbox(label="PDF password (only for encrypted PDFs)", type="password")
            add = gr.Button("Add to library", variant="primary", elem_id="pb-add")
        with gr.Column():
            remove_pick = gr.Dropdown(multiselect=True, label="Documents to remove")
            remove = gr.Button("Remove", variant="stop", elem_id="pb-remove")
    report = gr.Markdown(elem_id="pb-report")
    return table, remove_pick, report, (add, files, password, remove)


def _batch_tab(h: _Handlers) -> None:
    gr.Markdown(
        'Upload a `.jsonl` file (one `{"id": ..., "question": ...}` per line) or a `.csv` '
        "with `id,question` columns; download one JSON answer per line, as `paperbridge batch` "
        "writes them."
    )
    questions = gr.File(
        file_types=list(BATCH_SUFFIXES), type="filepath", label="Questions", elem_id="pb-batch-in"
    )
    run = gr.Button("Answer all", variant="primary", elem_id="pb-batch-run")
    summary = gr.Markdown(elem_id="pb-batch-summary")
    results = gr.File(label="Answers (JSONL)", interactive=False, elem_id="pb-batch-out")
    run.click(h.batch, inputs=[questions], outputs=[results, summary], api_name="batch")


# ---- serving ----------------------------------------------------------------------------------
def serve(
    library: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth_file: Path | None = None,
    allow_no_auth: bool = False,
    max_upload_mb: int = 50,
    concurrency: int = 2,
) -> None:
    """Start the UI on ``library`` and block until interrupted.

    Login is checked before the models load, so a refused start is quick.
    """
    logins = load_credentials(auth_file)
    check_login(host, logins, allow_no_auth=allow_no_auth)
    from paperbridge.qa import PaperBridge  # the models load here, once, for every session

    bridge = PaperBridge(Path(library))
    _warm_up(bridge)
    app = build_app(bridge, max_upload_mb=max_upload_mb, concurrency=concurrency)
    app.launch(
        server_name=host,
        server_port=port,
        share=False,
        auth=logins or None,
        max_file_size=f"{max_upload_mb}mb",
        show_error=False,
        ssr_mode=False,
        theme=_theme(),
        css=_CSS,
    )


def _warm_up(bridge: PaperBridge) -> None:
    """Ask once so the first user does not wait for the models to load."""
    if len(bridge.library) == 0:
        return
    try:
        bridge.ask("What is this library about?", top_k=1)
    except PaperBridgeError as err:
        log.warning("warm-up question failed: %s", err)


def _theme() -> gr.themes.Base:
    """Gradio's default look with local fonts only (no web font downloads)."""
    sans = ["system-ui", "Noto Sans CJK SC", "Noto Sans", "sans-serif"]
    return gr.themes.Default(font=sans, font_mono=["Noto Sans Mono", "monospace"])
