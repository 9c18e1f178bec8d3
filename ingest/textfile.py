"""Plain-text and Markdown files: bytes to lines, whatever the encoding.

Chinese text files are often GB18030/GBK rather than UTF-8; charset-normalizer detects
them. Text copied out of a PDF keeps one printed line per line (often with a blank line
after each); such "hard-wrapped" files are rebuilt like PDF pages, while ordinary files
keep their blank lines as paragraph breaks.
"""

from __future__ import annotations

import logging
from pathlib import Path

from charset_normalizer import from_bytes

from paperbridge.ingest.errors import DecodeError, EmptyDocumentError
from paperbridge.ingest.lines import Line
from paperbridge.ingest.paragraphs import Block, build_blocks, column_widths, vocabulary_of
from paperbridge.ingest.text import clean_line, display_width, normalize_chars

log = logging.getLogger(__name__)


def decode_text(path: Path, data: bytes) -> str:
    """Decode a text file's bytes: UTF-8 first, else the encoding charset-normalizer finds.

    Raises:
        EmptyDocumentError: the file holds no text.
        DecodeError: binary data, or bytes that are text in no detectable encoding.
    """
    if not data.strip():
        raise EmptyDocumentError(f"{path.name} is empty: nothing to read")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if b"\x00" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DecodeError(f"{path.name} is binary data, not text: pass a PDF, .txt or .md file")
    best = from_bytes(data).best()
    if best is None or best.encoding is None:
        raise DecodeError(
            f"{path.name} is not text in any encoding PaperBridge can detect: "
            "save it as UTF-8 and add it again"
        )
    log.info("%s decoded as %s", path.name, best.encoding)
    return str(best)


def _is_hard_wrapped(lines: list[str]) -> bool:
    """True for text with one printed line per line (copied from a PDF).

    Most lines are then close to one column width, and that width is modest; in ordinary
    files a paragraph is one long line, or lines vary freely.
    """
    widths = sorted(display_width(line) for line in lines if line.strip())
    if len(widths) < 8:
        return False
    column = widths[int(len(widths) * 0.9) - 1]
    near_full = sum(1 for w in widths if w >= 0.75 * column)
    return column <= 160 and near_full >= 0.6 * len(widths)


def _line(raw: str) -> Line:
    normalized = normalize_chars(raw)
    indent = len(normalized) - len(normalized.lstrip(" \t"))
    return Line(clean_line(normalized), 0, indent)


def text_blocks(path: Path, text: str) -> list[Block]:
    """Paragraph blocks of a text file (all on page 0)."""
    raw_lines = text.splitlines()
    lines = [_line(raw) for raw in raw_lines]
    vocabulary = vocabulary_of(line.text for line in lines)
    if _is_hard_wrapped(raw_lines):
        log.debug("%s looks hard-wrapped: rebuilding paragraphs from lines", path.name)
        body = [line for line in lines if line.text]
        return build_blocks(body, column_widths(body), vocabulary)
    blocks: list[Block] = []
    group: list[Line] = []
    no_widths = column_widths([])
    for line in [*lines, Line("", 0, 0)]:
        if line.text:
            group.append(line)
        elif group:
            blocks.extend(build_blocks(group, no_widths, vocabulary))
            group = []
    return blocks
