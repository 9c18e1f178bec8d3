"""The source view: passages found and highlighted on real PDF pages and in real text files.

Locating is the core's (paperbridge.qa.source); drawing the page and the HTML is the UI
side's (paperbridge.render): each test goes through both, as the UI does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pypdf
import pytest
from PIL import Image

from paperbridge import render
from paperbridge.qa.source import SourceView, find_passage, locate, text_context
from tests.conftest import SAMPLE


@dataclass(frozen=True)
class _Cited:
    source: str
    kind: str
    page: int
    text: str
    start: int
    end: int


def render_pdf_page(
    path: Path, page: int, passage: str, *, sentence: tuple[int, int] | None = None, scale: float
) -> tuple[Image.Image, bool]:
    """The page as the UI draws it for a citation of ``passage``, and whether it was located."""
    view = locate(_Cited(str(path), "pdf", page, passage, 0, len(passage)), "", sentence=sentence)
    return render.page_image(view, scale=scale), view.located


def source_view(cited: _Cited, page_text: str, **kwargs: object) -> tuple[SourceView, str]:
    """The located view and the HTML the UI shows for a text view."""
    view = locate(cited, page_text, **kwargs)  # type: ignore[arg-type]
    return view, render.text_html(view) if view.kind == "text" else ""


def text_html(page_text: str, start: int, end: int, passage: str, **kwargs: object) -> tuple[str, bool]:
    shown, marks = text_context(page_text, start, end, passage, **kwargs)  # type: ignore[arg-type]
    view = SourceView("text", 1, bool(marks), text=page_text, paragraphs=shown, marks=marks)
    return render.text_html(view), view.located


def _cleaned(text: str) -> str:
    """Roughly what ingestion does to PDF lines: join them, undo hyphens, squeeze spaces."""
    return " ".join(text.replace("-\n", "").split())


def _marked_rows(image: Image.Image) -> np.ndarray:
    """Rows of the image holding highlight-coloured pixels (yellow: high R and G, low B)."""
    rgb = np.asarray(image.convert("RGB")).astype(int)
    tinted = (rgb[..., 0] > 200) & (rgb[..., 1] > 170) & (rgb[..., 2] < 200)
    return np.flatnonzero(tinted.sum(axis=1) > 20)


def test_find_passage_ignores_line_breaks_hyphens_ligatures_and_punctuation_width() -> None:
    raw = "The work\r\nﬂow of multi-\r\ncolumn layouts, (see below).\r\n下一段"
    span = find_passage(raw, "The workflow of multicolumn layouts, (see below).")
    assert span is not None
    assert raw[span[0] : span[1]] == "The work\r\nﬂow of multi-\r\ncolumn layouts, (see below)."
    zh = "专为工作论文写作而设\r\n计。设计这个模板"
    span = find_passage(zh, "专为工作论文写作而设计。")
    assert span is not None and zh[span[0] : span[1]] == "专为工作论文写作而设\r\n计。"
    assert find_passage(raw, "nothing like it at all here") is None


def test_find_passage_falls_back_to_anchors_when_the_middle_differs() -> None:
    raw = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron"
    passage = "alpha beta gamma delta epsilon GARBLED eta theta iota kappa lambda mu nu xi omicron"
    span = find_passage(raw, passage)
    assert span == (0, len(raw))


@pytest.mark.parametrize(
    ("name", "page", "first", "last"),
    [
        ("zh_elegantpaper-cn.pdf", 1, "本文为", "留言。"),
        ("en_elegantpaper-en.pdf", 1, "This paper illustrates", "ElegantLaTeX."),
        ("en_elegantpaper-en.pdf", 2, "Figure", None),
    ],
)
def test_pdf_page_is_rendered_with_the_passage_highlighted(
    shared_pdfs: Path, name: str, page: int, first: str, last: str | None
) -> None:
    path = shared_pdfs / name
    page_text = pypdf.PdfReader(path).pages[page - 1].extract_text()
    begin = page_text.index(first)
    end = page_text.index(last, begin) + len(last) if last else begin + 120
    passage = _cleaned(page_text[begin:end])
    image, located = render_pdf_page(path, page, passage, scale=1.0)
    assert located
    assert image.size == (612, 792)
    rows = _marked_rows(image)
    assert len(rows) > 8, "the passage's lines are tinted"
    plain, found = render_pdf_page(path, page, "words that are not on this page at all", scale=1.0)
    assert not found and len(_marked_rows(plain)) < len(rows) / 4


def test_highlight_covers_the_passage_lines_only(shared_pdfs: Path) -> None:
    path = shared_pdfs / "zh_elegantpaper-cn.pdf"
    page_text = pypdf.PdfReader(path).pages[0].extract_text()
    begin = page_text.index("本文为")
    passage = _cleaned(page_text[begin : page_text.index("留言。") + 3])
    image, _ = render_pdf_page(path, 1, passage, scale=1.0)
    rows = _marked_rows(image)
    # The abstract sits in the upper half of page 1, three lines of about 15 points each.
    assert 250 < rows.min() < rows.max() < 400
    assert 30 < rows.max() - rows.min() < 70


def test_answering_sentence_is_drawn_more_strongly(shared_pdfs: Path) -> None:
    path = shared_pdfs / "zh_elegantpaper-cn.pdf"
    passage = (
        "本文为 ElegantPaper 的说明文档（中文）。此模板基于 LATEX 的 article 类，专为工作论文"
        "写作而设计。设计这个模板的初衷是让作者不用关心工作论文的格式，专心写作，从而有更加舒适，"
        "简便的写作体验。"
    )
    start = passage.index("设计这个")
    image, located = render_pdf_page(path, 1, passage, sentence=(start, len(passage)), scale=1.0)
    rgb = np.asarray(image).astype(int)
    orange = (rgb[..., 0] > 230) & (rgb[..., 1] > 150) & (rgb[..., 1] < 215) & (rgb[..., 2] < 190)
    assert located and orange.sum() > 500


def test_text_file_view_shows_surrounding_paragraphs_with_the_passage_marked() -> None:
    source = SAMPLE / "001_e008f607e5bad1e3.txt"
    page_text = source.read_text(encoding="utf-8")
    start = page_text.index("Abstract: Japan has integrated")
    end = page_text.index("\n", start)
    cited = _Cited(str(source), "text", 1, page_text[start:end], start, end)
    view, html = source_view(cited, page_text, context=1, sentence=(0, 40))
    assert view.kind == "text" and view.located and view.pdf is None
    assert '<mark class="pb-sentence">Abstract: Japan has integrated' in html
    assert '<mark class="pb-passage">' in html
    assert "Research Report, No.267" in html  # the paragraph before
    assert "Home &gt; Reports" not in html  # beyond one paragraph of context


def test_text_view_finds_the_passage_when_offsets_are_stale() -> None:
    page_text = "First <b>para</b>.\n\nThe cited passage sits here.\n\nLast one."
    html, located = text_html(page_text, 0, 5, "The cited passage sits here.", context=0)
    assert located
    assert html == (
        '<div class="pb-source"><p><mark class="pb-passage">The cited passage sits here.'
        "</mark></p></div>"
    )
    escaped, _ = text_html(page_text, 0, 5, "First <b>para</b>.", context=0)
    assert "&lt;b&gt;" in escaped and "<b>" not in escaped


def test_moved_pdf_falls_back_to_the_stored_text(tmp_path: Path) -> None:
    page_text = "Heading\n\nA passage from a PDF that was moved away."
    start = page_text.index("A passage")
    cited = _Cited(str(tmp_path / "gone.pdf"), "pdf", 3, page_text[start:], start, len(page_text))
    view, _ = source_view(cited, page_text)
    assert view.kind == "text" and view.located and view.page == 3
    assert "no longer there" in view.note and "gone.pdf" in view.note
