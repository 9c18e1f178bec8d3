"""Citable passages cut from paragraph blocks, with offsets into the cleaned page text.

A paragraph is one passage when it fits the embedding budget; a longer one is cut at
sentence boundaries with a small overlap. The items of a list, with the line that leads
into it, are read as one paragraph. Headings are not passages (they are short and answer
nothing; they stay in the page text); captions and footnotes are their own passages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from paperbridge.ingest.config import IngestConfig
from paperbridge.ingest.document import Passage
from paperbridge.ingest.language import detect_language
from paperbridge.ingest.lines import is_bullet
from paperbridge.ingest.paragraphs import Block
from paperbridge.ingest.sentences import count_tokens, sentence_spans
from paperbridge.ingest.text import cjk_count, latin_words

PARAGRAPH_SEPARATOR = "\n\n"
_ITEM_CHARS = 300  # a list item longer than this is a paragraph of its own
_SOFT_CUT = re.compile(r"[，,、；;：:\s]")


def has_content(text: str) -> bool:
    """True when ``text`` says something: four Chinese characters or three English words."""
    return cjk_count(text) >= 4 or len([w for w in latin_words(text) if len(w) > 1]) >= 3


def page_texts_of(blocks: Sequence[Block], pages: int) -> tuple[tuple[str, ...], list[int]]:
    """The cleaned text of each page (its blocks joined by blank lines) and each block's offset."""
    parts: list[list[str]] = [[] for _ in range(pages)]
    sizes = [0] * pages
    starts = []
    for block in blocks:
        if parts[block.page]:
            sizes[block.page] += len(PARAGRAPH_SEPARATOR)
        starts.append(sizes[block.page])
        parts[block.page].append(block.text)
        sizes[block.page] += len(block.text)
    return tuple(PARAGRAPH_SEPARATOR.join(p) for p in parts), starts


def _fit(text: str, start: int, end: int, budget: int) -> int:
    """The furthest ``pos`` in ``(start, end]`` with ``text[start:pos]`` within ``budget`` tokens.

    Token counts only grow as a prefix grows, so the cut is found by doubling the window and
    then halving it: each probe counts at most about twice the piece that is cut, and a long
    unpunctuated run costs O(n log n), not O(n²).
    """
    lo, width = start + 1, 64
    while True:
        hi = min(end, start + width)
        if count_tokens(text[start:hi]) > budget:
            break
        if hi == end:
            return end
        lo, width = hi, width * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if count_tokens(text[start:mid]) <= budget:
            lo = mid
        else:
            hi = mid
    return lo


def _cut_sentence(text: str, start: int, end: int, budget: int) -> list[tuple[int, int]]:
    """Cut one over-long sentence into spans of at most ``budget`` tokens, at soft breaks."""
    spans = []
    while end > start:
        cut = _fit(text, start, end, budget)
        if cut == end:
            spans.append((start, end))
            break
        soft = [m.end() for m in _SOFT_CUT.finditer(text, start, cut)]
        if soft and soft[-1] - start > (cut - start) // 2:
            cut = soft[-1]
        spans.append((start, cut))
        start = cut + len(text[cut:end]) - len(text[cut:end].lstrip())
    return spans


def chunk_spans(text: str, config: IngestConfig) -> list[tuple[int, int]]:
    """Spans of ``text`` that each fit ``config.max_tokens``, cut between sentences.

    Consecutive chunks share ``config.overlap_sentences`` sentences. A text within budget is
    one span covering all of it.
    """
    if count_tokens(text) <= config.max_tokens:
        return [(0, len(text))]
    sentences: list[tuple[int, int]] = []
    for start, end in sentence_spans(text):
        sentences.extend(_cut_sentence(text, start, end, config.max_tokens))
    chunks: list[tuple[int, int]] = []
    first = 0
    while first < len(sentences):
        last = first
        begin = sentences[first][0]
        while (
            last + 1 < len(sentences)
            and count_tokens(text[begin : sentences[last + 1][1]]) <= config.max_tokens
        ):
            last += 1
        chunks.append((sentences[first][0], sentences[last][1]))
        if last + 1 >= len(sentences):
            break
        first = max(first + 1, last + 1 - config.overlap_sentences)
    return chunks


def make_passages(
    doc_id: str,
    blocks: Sequence[Block],
    starts: Sequence[int],
    config: IngestConfig,
    sections: Sequence[str] | None = None,
) -> tuple[Passage, ...]:
    """Passages of every block that carries content, numbered by paragraph from 1.

    Each passage takes its block's kind and section path (``sections``, one per block).
    Headings and table-of-contents headings are left out (they name sections, they answer
    nothing), unless the document has nothing else (a one-line file).
    """
    paths = list(sections) if sections is not None else [""] * len(blocks)
    passages = _passages(doc_id, blocks, starts, config, paths, with_headings=False)
    return passages or _passages(doc_id, blocks, starts, config, paths, with_headings=True)


def _is_item(block: Block) -> bool:
    """A short body block that is a list item ("1. Each variable forms a column.")."""
    return (block.kind == "body" and len(block.text) <= _ITEM_CHARS and is_bullet(block.text)
            and not block.text.startswith("["))


def _leads_in(block: Block) -> bool:
    """A body block that introduces a list ("In tidy data:")."""
    return block.kind == "body" and block.text.rstrip().endswith((":", "："))


def list_runs(blocks: Sequence[Block], budget: int) -> list[tuple[int, int]]:
    """Block index ranges [first, last] read as one paragraph: a list's items (with the line
    that leads into it) on one page, while they fit the token budget together; every other
    block alone. A list item alone is too short to be found or to answer ("2. Each
    observation forms a row." says nothing without the list it belongs to)."""
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(blocks):
        last = i
        if _is_item(blocks[i]) or _leads_in(blocks[i]):
            tokens = count_tokens(blocks[i].text)
            while last + 1 < len(blocks) and _is_item(blocks[last + 1]) \
                    and blocks[last + 1].page == blocks[i].page:
                tokens += count_tokens(blocks[last + 1].text)
                if tokens > budget:
                    break
                last += 1
        runs.append((i, last))
        i = last + 1
    return runs


def _passages(
    doc_id: str,
    blocks: Sequence[Block],
    starts: Sequence[int],
    config: IngestConfig,
    paths: Sequence[str],
    with_headings: bool,
) -> tuple[Passage, ...]:
    passages: list[Passage] = []
    paragraph = 0
    for first, last in list_runs(blocks, config.max_tokens):
        block, offset, section = blocks[first], starts[first], paths[first]
        text = PARAGRAPH_SEPARATOR.join(b.text for b in blocks[first : last + 1])
        if (block.kind == "heading" and not with_headings) or not has_content(text):
            continue
        paragraph += 1
        for part, (start, end) in enumerate(chunk_spans(text, config)):
            piece = text[start:end]
            passages.append(
                Passage(
                    doc_id=doc_id,
                    paragraph=paragraph,
                    part=part,
                    page=block.page + 1,
                    lang=detect_language(piece),
                    start=offset + start,
                    end=offset + end,
                    text=piece,
                    kind="body" if block.kind == "note" else block.kind,
                    section=section,
                )
            )
    return tuple(passages)
