"""Paragraphs rebuilt from extracted lines.

pypdf (and text copied out of PDFs) gives one line per printed line and no blank line
between paragraphs. Lines are joined while the sentence goes on; a paragraph ends at a
short last line that ends a sentence, at a heading, a label (``Abstract:``) or a list item.
Captions and footnotes float: they become their own blocks and the sentence they
interrupted continues after them.
"""

from __future__ import annotations

import re
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from paperbridge.ingest import lines as L
from paperbridge.ingest.lines import Line
from paperbridge.ingest.text import cjk_count, display_width, is_cjk, is_cjk_text_char, latin_words

_SHORT = 0.8  # a line under this share of the column width is a paragraph's last line
_FUNCTION_WORDS = frozenset(
    "a an the of and or to in on for with by from at as is are was were be that this which".split()
)
_INNER_PUNCT = re.compile(r"[，。；,;]")
# Longer than any heading seen in the sample and real documents (the longest, a paper title
# with its subtitle, runs to about 150 characters).
_MAX_TITLE_CHARS = 200
# A finished sentence followed by another ("...gearing. Typical speeds..."), not "Vol. 44".
_INNER_SENTENCE_END = re.compile(r"[a-z]{2}[.!?]\s+[A-Z]|[。！？].")
_NO_SPACE_AFTER = "—–/([（《“‘"
_NO_SPACE_BEFORE = ")]）》”’,.;:!?%，。；：！？、"
_URL_END = re.compile(r"(?:https?://|www\.)\S*[/\-_.\w]$")
_RUN = 3  # short lines in a row that are a list rather than titles
_SUFFIX = 8  # characters of a masked running header that stay the same across sections


@dataclass(frozen=True)
class Block:
    """A paragraph-like piece of a page: ``kind`` is body, heading, caption or note."""

    text: str
    kind: str
    page: int  # 0-based


@dataclass(frozen=True)
class _Widths:
    """Typical full line width of Chinese and of English lines (None: unknown)."""

    zh: float | None
    en: float | None

    def is_short(self, text: str) -> bool:
        zh = cjk_count(text) * 2 >= len(latin_words(text))
        width = self.zh if zh else self.en
        return width is not None and display_width(text) < _SHORT * width


def column_widths(lines: Iterable[Line]) -> _Widths:
    """The 90th-percentile width of Chinese and English lines (the column width)."""
    zh: list[int] = []
    en: list[int] = []
    for line in lines:
        width = display_width(line.text)
        if width >= 10:
            (zh if cjk_count(line.text) * 2 >= len(latin_words(line.text)) else en).append(width)

    def p90(values: list[int]) -> float | None:
        if len(values) < 5:
            return None
        return statistics.quantiles(values, n=10)[-1]

    return _Widths(p90(zh), p90(en))


def join_lines(left: str, right: str, vocabulary: set[str]) -> str:
    """Join two printed lines of one paragraph: no space in Chinese, one in English.

    A hyphen at the line end is dropped when it split a word (``im-`` + ``provement``) and
    kept when the document spells the compound with a hyphen elsewhere (``high-performance``).
    """
    if not left or not right:
        return left or right
    if _URL_END.search(left) and not right[0].isupper() and not right[0].isspace():
        return left + right  # a URL broken over two lines
    hyphen = re.search(r"([A-Za-z]+)-$", left)
    if hyphen and right[0].islower():
        head = hyphen.group(1)
        tail = re.match(r"[A-Za-z]*", right).group()  # type: ignore[union-attr]
        if f"{head}-{tail}".lower() in vocabulary and f"{head}{tail}".lower() not in vocabulary:
            return left + right
        return left[:-1] + right
    if is_cjk(left[-1]) and right[0].isascii() and right[0].isalnum():
        return f"{left} {right}"  # Chinese typesetting spaces Latin words and numbers off
    if left[-1].isascii() and left[-1].isalnum() and is_cjk(right[0]):
        return f"{left} {right}"
    if is_cjk_text_char(left[-1]) or is_cjk_text_char(right[0]):
        return left + right
    if left[-1] in _NO_SPACE_AFTER or right[0] in _NO_SPACE_BEFORE:
        return left + right
    return f"{left} {right}"


def vocabulary_of(texts: Iterable[str]) -> set[str]:
    """Lower-cased words (hyphenated compounds included) used to judge line-end hyphens."""
    words: set[str] = set()
    for text in texts:
        words.update(w.lower() for w in re.findall(r"[A-Za-z]+(?:-[A-Za-z]+)*", text))
        words.update(w.lower() for w in re.findall(r"[A-Za-z]+", text))
    return words


class _Builder:
    """Accumulates lines into blocks; see :func:`build_blocks`."""

    def __init__(self, widths: _Widths, vocabulary: set[str]) -> None:
        self.widths = widths
        self.vocabulary = vocabulary
        self.blocks: list[Block] = []
        self.floats: list[Block] = []
        self.text = ""
        self.page = 0
        self.count = 0  # lines in the open paragraph
        self.last: Line | None = None

    def flush(self) -> None:
        if self.text:
            kind = "heading" if self.count == 1 and self._title_like(self.text) else "body"
            self.blocks.append(Block(self.text, kind, self.page))
        self.blocks.extend(self.floats)
        self.text, self.count, self.floats = "", 0, []

    def _title_like(self, text: str) -> bool:
        """A lone line that is short and ends no sentence: a title or heading.

        Without line widths to compare (a text file of one line per paragraph) a line
        longer than any title, or holding a finished sentence, is a paragraph whose end
        lacks a full stop ("...[citation needed]", "...:212"), which must stay searchable.
        """
        if L.ends_sentence(text) or L.continues(text) or L.is_label(text):
            return False
        if self.widths.zh is self.widths.en is None:
            return len(text) <= _MAX_TITLE_CHARS and not _INNER_SENTENCE_END.search(text)
        return self.widths.is_short(text) and not _INNER_PUNCT.search(text)

    def add_float(self, block: Block) -> None:
        (self.floats if self.text else self.blocks).append(block)

    def breaks_before(self, line: Line) -> bool:
        assert self.last is not None
        prev, text = self.last.text, line.text
        if L.is_label(text) or (L.is_bullet(text) and not text[0].isdigit()):
            return True
        closed = L.ends_sentence(prev)
        if L.is_bullet(text) and (closed or self.widths.is_short(prev)):
            return True
        if closed and (self.widths.is_short(prev) or line.indent > self.last.indent):
            return True
        # A short lone line with no final punctuation, followed by more text: a title.
        return self.count == 1 and self._title_like(prev) and self.widths.is_short(prev)

    def _standalone(self, text: str) -> bool:
        """A short line without final punctuation right after a finished sentence: a title.

        In justified text only a paragraph's last line is short, so such a line cannot be
        running text. English text may be ragged, so it must be shorter still, capitalised,
        and not end on a function word.
        """
        if self.text and not L.ends_sentence(self.text):
            return False
        if L.ends_sentence(text) or L.continues(text) or L.is_label(text) or L.is_bullet(text):
            return False
        if not self.widths.is_short(text) or _INNER_PUNCT.search(text):
            return False
        if cjk_count(text) * 2 >= len(latin_words(text)):
            return True
        last = text.split()[-1].lower()
        width = self.widths.en or 0.0
        return (
            display_width(text) < 0.6 * width and text[0].isupper() and last not in _FUNCTION_WORDS
        )

    def add(self, line: Line) -> None:
        text = line.text
        if not text or L.is_noise(text):
            return
        if line.entry:
            self.flush()
            self.blocks.append(Block(text, "body", line.page))
            self.last = None
            return
        if L.is_caption(text) or L.is_note(text):
            self.add_float(Block(text, "caption" if L.is_caption(text) else "note", line.page))
            return
        if L.is_heading(text) or self._standalone(text):
            self.flush()
            self.blocks.append(Block(re.sub(r"^#+\s*", "", text), "heading", line.page))
            self.last = None
            return
        if self.text and self.last is not None and self.breaks_before(line):
            self.flush()
        if self.text:
            self.text = join_lines(self.text, text, self.vocabulary)
        else:
            self.text, self.page = text, line.page
        self.count += 1
        self.last = line


def build_blocks(lines: Sequence[Line], widths: _Widths, vocabulary: set[str]) -> list[Block]:
    """Join ``lines`` (one stream, across pages) into blocks in reading order.

    A paragraph that runs over a page break belongs to the page it starts on.
    """
    builder = _Builder(widths, vocabulary)
    rows: list[Line] = []
    for line in lines:
        if is_table_row(line) and (not rows or rows[-1].page == line.page):
            rows.append(line)
            continue
        _close_table(builder, rows)
        builder.add(line)
    _close_table(builder, rows)
    builder.flush()
    return _merge_short_runs(builder.blocks)


def _merge_short_runs(blocks: list[Block]) -> list[Block]:
    """Three or more short lines in a row taken for titles are a list, code or a table.

    A short line without final punctuation reads as a title on its own, but real titles
    do not come three in a row; such a run (none of them a numbered or named heading) is
    one block of lines, so that its text is a passage and not lost between headings.
    """
    out: list[Block] = []
    run: list[Block] = []

    def close() -> None:
        if len(run) >= _RUN:
            out.append(Block("\n".join(b.text for b in run), "body", run[0].page))
        else:
            out.extend(run)
        run.clear()

    for block in blocks:
        if block.kind == "heading" and not L.is_heading(block.text) and (
            not run or run[-1].page == block.page
        ):
            run.append(block)
            continue
        close()
        out.append(block)
    close()
    return out


_CELL = re.compile(r"[-+±]?\(?\d[\d,.]*\)?(?:[A-Za-z%]{1,2})?[*†‡]*|[-–—✓✗×]")


def is_table_row(line: Line) -> bool:
    """A printed table row: three cells or more, most of them numbers (or dashes).

    ``MMLU (EM) 78.2 80.6 85.3 88.6``, ``Activated Params 21B 21B 72B 405B - - 37B``. A
    dated line or a sentence with a few numbers has too many words for it.
    """
    if line.entry or L.ends_sentence(line.text) or _INNER_PUNCT.search(line.text):
        return False
    cells = line.text.split()
    numbers = sum(1 for c in cells if _CELL.fullmatch(c))
    words = [c for c in cells if not _CELL.fullmatch(c)]
    short = sum(display_width(w) for w in words) <= 16 * max(1, len(words))
    return len(cells) >= 3 and numbers >= 2 and numbers >= 0.4 * len(cells) and short


def _close_table(builder: _Builder, rows: list[Line]) -> None:
    """Rows in a row become one table block (a row alone is just a line)."""
    if len(rows) >= 2:
        builder.flush()
        builder.blocks.append(Block("\n".join(r.text for r in rows), "table", rows[0].page))
    else:
        for row in rows:
            builder.add(row)
    rows.clear()


def _running_key(text: str) -> str:
    return re.sub(r"\d+", "#", text.lower()).strip()


def _suffix_key(text: str) -> str:
    """The end of a masked edge line: what a running header keeps when its title changes.

    ``6.2 简单循环网络 2019 年 4 月 10 日 143`` and ``6.6 基于门控的循环神经网络 2019 年 4 月
    10 日 151`` share ``#年#月#日#``.
    """
    key = re.sub(r"\s+", "", _running_key(text))
    return key[-_SUFFIX:] if len(key) >= _SUFFIX + 2 and len(text) <= 80 else ""


def _is_banner_text(text: str) -> bool:
    """A line with enough words to be a banner rather than a formula piece or a label."""
    return cjk_count(text) >= 4 or len(latin_words(text)) >= 3


def drop_running_lines(pages: Sequence[Sequence[Line]], edge: int = 3) -> list[list[Line]]:
    """Remove headers, footers and banners: lines that repeat across pages.

    Digits are masked so "Page 3" and "Page 4" count as the same footer. A line near a
    page's top or bottom must recur on at least two pages and on a third of them; a first or
    last line whose end recurs so (a header naming the current section) goes too. A banner
    ("仅供内部学习使用", a copyright line) can sit anywhere on the page: a line with words
    that recurs on half the pages (at least three) is dropped wherever it is.
    """
    if len(pages) < 2:
        return [list(page) for page in pages]
    kept_pages = [[line for line in page if line.text] for page in pages]
    threshold = max(2, len(pages) / 3)
    edges, suffixes, anywhere = _repeats(kept_pages, edge)
    numbered = _page_number_lines(kept_pages)
    repeated = {key for key, n in edges.items() if n >= threshold and key}
    common_ends = {key for key, n in suffixes.items() if n >= threshold and key}
    banners = {key for key, n in anywhere.items() if n >= max(3, len(pages) / 2)}
    result = []
    for page_index, kept in enumerate(kept_pages):
        keep_edges = set(range(edge, max(edge, len(kept) - edge)))
        outer = {0, len(kept) - 1}
        result.append([
            line for i, line in enumerate(kept)
            if not (
                (i not in keep_edges and _running_key(line.text) in repeated)
                or (i in outer and _suffix_key(line.text) in common_ends)
                or _running_key(line.text) in banners
                or (page_index, i) in numbered
            )
        ])
    return result


_EDGE_NUMBER = re.compile(r"^(\d{1,4})\s+\S|\S\s+(\d{1,4})$")


def _page_number_lines(pages: Sequence[Sequence[Line]]) -> set[tuple[int, int]]:
    """(page, line) of first/last lines that carry the printed page number beside a title.

    ``10 第一章: 简介`` and ``1.1: 历史回顾 11``: the number goes up with the page, so a
    page's edge line whose number differs from a nearby page's by exactly their distance
    is a running header or footer, whatever title it carries.
    """
    found: dict[tuple[int, int], int] = {}
    for p, page in enumerate(pages):
        for i in {0, len(page) - 1} if page else set():
            match = _EDGE_NUMBER.search(page[i].text)
            if match and len(page[i].text) <= 80:
                found[(p, i)] = int(match.group(1) or match.group(2))
    by_page: dict[int, list[int]] = {}
    for (p, _), number in found.items():
        by_page.setdefault(p, []).append(number)
    return {
        (p, i) for (p, i), n in found.items()
        if any(n + d in by_page.get(p + d, []) or n - d in by_page.get(p - d, []) for d in (1, 2))
    }


def _repeats(
    pages: Sequence[Sequence[Line]], edge: int
) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Pages on which each edge line, each first/last line's end, and each line recur."""
    edges: dict[str, int] = {}
    suffixes: dict[str, int] = {}
    anywhere: dict[str, int] = {}
    for page in pages:
        texts = [line.text for line in page]
        for key in {_running_key(t) for t in texts[:edge] + texts[-edge:]}:
            edges[key] = edges.get(key, 0) + 1
        for key in {_suffix_key(t) for t in texts[:1] + texts[-1:]}:
            suffixes[key] = suffixes.get(key, 0) + 1
        for key in {_running_key(t) for t in texts if _is_banner_text(t)}:
            anywhere[key] = anywhere.get(key, 0) + 1
    return edges, suffixes, anywhere
