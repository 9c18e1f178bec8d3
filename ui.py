"""PaperBridge's web UI (Gradio): ask, read the evidence in its source, manage the library.

Thin by design: every handler calls the one :class:`paperbridge.qa.PaperBridge` the CLI
uses, one instance shared by all sessions so the models load once; how things look is
:mod:`paperbridge.render`'s, who may log in is :mod:`paperbridge.auth`'s. Importing this
module starts nothing; :func:`serve` does (``paperbridge serve``).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from paperbridge import render
from paperbridge.auth import check_login, load_credentials
from paperbridge.ingest.errors import PaperBridgeError

if TYPE_CHECKING:
    from paperbridge.qa import Answer, PaperBridge

__all__ = ["build_app", "serve"]

log = logging.getLogger(__name__)

UPLOAD_SUFFIXES = (".pdf", ".txt", ".md")
BATCH_SUFFIXES = (".jsonl", ".csv")
_DOC_COLUMNS = ("title", "file", "language", "pages", "passages", "warnings", "id")
_PAGE_SCALE = 1.5
# Passages that do not compete for answers unless asked for (ingest.ANSWER_KINDS do).
_OTHER_KINDS = ("references", "toc", "index", "code", "boilerplate")

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


@contextmanager
def _core_errors() -> Iterator[None]:
    """The core's errors become gr.Error with its message; nothing else leaks a traceback."""
    try:
        yield
    except PaperBridgeError as err:
        raise gr.Error(render.plain(str(err))) from err


# ---- handlers -----------------------------------------------------------------------------
class _Handlers:
    """The UI's event handlers over one shared PaperBridge."""

    def __init__(self, bridge: PaperBridge, *, max_upload_mb: int) -> None:
        self.bridge = bridge
        self.max_bytes = max_upload_mb * 2**20

    def ask(
        self, question: str, top_k: float, doc_ids: list[str] | None, langs: list[str] | None,
        kinds: list[str] | None = None,
    ) -> tuple[Any, ...]:
        """Answer, cards, the source picker, and the source of the citation the answer quotes."""
        with _core_errors():
            answer = self.bridge.ask(
                question or "", top_k=int(top_k), doc_ids=doc_ids or None, langs=langs or None,
                kinds=kinds or None,
            )
        shown = render.quoted_rank(answer)
        picker = gr.Radio(choices=render.source_choices(answer), value=shown, visible=shown is not None)
        return (
            render.answer_html(answer),
            render.cards_html(answer),
            picker,
            answer,
            *self.source(shown, answer),
        )

    def source(self, rank: int | None, answer: Answer | None) -> tuple[Any, Any, str]:
        """The cited page with the passage highlighted (PDF) or its paragraphs (text)."""
        cite = next((c for c in answer.citations if c.rank == rank), None) if answer else None
        if cite is None:
            return gr.Image(value=None, visible=False), gr.HTML(value="", visible=False), ""
        with _core_errors():
            view = self.bridge.source(cite)
            image = render.page_image(view, scale=_PAGE_SCALE) if view.kind == "pdf" else None
        return (
            gr.Image(value=image, visible=image is not None),
            gr.HTML(value=render.text_html(view) if image is None else "", visible=image is None),
            render.source_caption(cite, view),
        )

    def documents(self) -> tuple[Any, Any, Any]:
        """The documents table and the two document pickers, re-read from disk."""
        docs = self.bridge.documents()
        choices = [(f"{render.plain(d.title)[:70]} ({render.plain(Path(d.source).name)})", d.doc_id)
                   for d in docs]
        return (
            gr.Dataframe(value={"headers": list(_DOC_COLUMNS), "data": render.document_rows(docs)}),
            gr.Dropdown(choices=choices, value=[]),
            gr.Dropdown(choices=choices, value=[]),
        )

    def upload(
        self,
        files: list[str] | None,
        password: str,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (Gradio's idiom)
    ) -> tuple[Any, ...]:
        """Keep the uploads in the library and add them; failures are reported per file."""
        if not files:
            raise gr.Error("Choose one or more PDF, .txt or .md files first.")
        with _core_errors():
            report, refused = self.bridge.add_uploads(
                [Path(f) for f in files], password=password or None, max_bytes=self.max_bytes,
                progress=True,
            )
        failed = len(refused) + (len(report.failed) if report else 0)
        if failed:
            gr.Warning(f"{failed} file(s) could not be added; see the report.")
        return (render.report_markdown(report, refused), *self.documents())

    def remove(self, doc_ids: list[str] | None) -> tuple[Any, ...]:
        """Remove documents (and the copies the library kept of their uploads)."""
        if not doc_ids:
            raise gr.Error("Choose the documents to remove first.")
        with _core_errors():
            removed = self.bridge.remove(list(doc_ids))
        return (render.removed_markdown(removed), *self.documents())

    def rebuild(
        self,
        progress: gr.Progress = gr.Progress(track_tqdm=True),  # noqa: B008 (Gradio's idiom)
    ) -> tuple[Any, ...]:
        """Re-read and re-embed every document (after a PaperBridge upgrade, say)."""
        with _core_errors():
            report = self.bridge.rebuild(progress=True)
        return (render.report_markdown(report, []), *self.documents())

    def batch(self, file: str | None) -> tuple[str | None, str]:
        """Run a JSONL/CSV of questions; return the answers JSONL for download and a summary."""
        if not file:
            raise gr.Error("Choose a .jsonl or .csv file of questions first.")
        src = Path(file)
        if src.suffix.lower() not in BATCH_SUFFIXES:
            raise gr.Error(f"{render.plain(src.name)} is not a .jsonl or .csv file of questions.")
        out = Path(tempfile.mkdtemp(prefix="paperbridge-batch-")) / "answers.jsonl"
        with _core_errors():
            report = self.bridge.batch(src, out, progress=True)
        lines = [f"Answered **{report.answered}** questions from `{render.plain(src.name)}`."]
        lines += [f"- line {n}: {render.md(why)}" for n, why in report.failed]
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
        add, files, password, remove, rebuild = uploads
        add.click(handlers.upload, inputs=[files, password], outputs=[report, *pickers])
        remove.click(handlers.remove, inputs=[remove_pick], outputs=[report, *pickers])
        rebuild.click(handlers.rebuild, outputs=[report, *pickers])
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
        # One line that grows: Enter sends the question, Shift+Enter starts a new line.
        question = gr.Textbox(
            label="Question (English or 中文) — Enter to ask, Shift+Enter for a new line",
            lines=1,
            max_lines=6,
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
                choices=[(name, code) for code, name in render.LANG_NAMES.items()],
                label="Only passages in these languages (none = all)",
            )
        docs = gr.Dropdown(multiselect=True, label="Only these documents (none = all)")
        kinds = gr.CheckboxGroup(
            choices=list(_OTHER_KINDS),
            label="Search these kinds of passages instead (none = body text, captions, tables)",
        )
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
        inputs=[question, k, docs, langs, kinds],
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
            rebuild = gr.Button("Re-read and re-embed everything", size="sm", elem_id="pb-rebuild")
    report = gr.Markdown(elem_id="pb-report")
    return table, remove_pick, report, (add, files, password, remove, rebuild)


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
    bridge_factory: Callable[[], PaperBridge],
    *,
    host: str = "127.0.0.1",
    port: int = 7860,
    auth_file: Path | None = None,
    allow_no_auth: bool = False,
    max_upload_mb: int = 50,
    concurrency: int = 2,
) -> None:
    """Start the UI and block until interrupted.

    Login is checked before ``bridge_factory`` loads the library and its models, so a refused
    start is quick.
    """
    logins = load_credentials(auth_file)
    check_login(host, logins, allow_no_auth=allow_no_auth)
    bridge = bridge_factory()  # the models load here, once, for every session
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
        css=render.CSS,
    )


def _warm_up(bridge: PaperBridge) -> None:
    """Ask once so the first user does not wait for the models to load."""
    if not bridge.documents():
        return
    try:
        bridge.ask("What is this library about?", top_k=1)
    except PaperBridgeError as err:
        log.warning("warm-up question failed: %s", err)


def _theme() -> gr.themes.Base:
    """Gradio's default look with local fonts only (no web font downloads)."""
    sans = ["system-ui", "Noto Sans CJK SC", "Noto Sans", "sans-serif"]
    return gr.themes.Default(font=sans, font_mono=["Noto Sans Mono", "monospace"])
