"""Character-level cleaning shared by every reader: Unicode normalization and scripts.

PDF extractors hand out ligatures (``ﬁ``), Kangxi radicals (``⽠`` for ``瓜``), full-width
letters and layout spaces between Chinese characters. Everything downstream (sentence
splitting, tokenizers, embedders) works better on one canonical form.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager

# Full-width punctuation is the normal punctuation of Chinese text: NFKC would turn
# "，；：（）！？" into ASCII, which changes how the text reads, so it is kept.
_KEEP = frozenset(chr(c) for c in range(0xFF01, 0xFF66) if not chr(c).isalnum())

_CJK_RANGES = (
    (0x3400, 0x4DBF),
    (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF),
    (0x20000, 0x2FA1F),
)
_CJK_CLASS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Ideographs and the punctuation that sits between them without spaces.
_CJK_TEXT_CLASS = _CJK_CLASS + "\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65"
_SPACE_BETWEEN_CJK = re.compile(
    rf"(?<=[{_CJK_TEXT_CLASS}])[ \t\u00a0\u3000]+(?=[{_CJK_TEXT_CLASS}])"
)
_LONE_ACCENT = re.compile(r"[\u02c6-\u02dd\u00a8\u00af\u00b4\u00b8]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u2028\u2029\ufeff\u00ad]")


def is_cjk(char: str) -> bool:
    """True for a Chinese (Han) ideograph."""
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in _CJK_RANGES)


def is_cjk_text_char(char: str) -> bool:
    """True for an ideograph or CJK punctuation, which join without spaces."""
    return bool(char) and bool(re.match(rf"[{_CJK_TEXT_CLASS}]", char))


def normalize_chars(text: str) -> str:
    """NFKC-normalize ``text`` but keep full-width Chinese punctuation.

    Also drops control and zero-width characters (soft hyphens included) that extractors
    leave behind and that would split words for tokenizers.
    """
    text = _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    if text.isascii():
        return text
    out = []
    for char in text:
        out.append(char if char in _KEEP or char.isascii() else unicodedata.normalize("NFKC", char))
    return "".join(out)


def remove_cjk_spaces(text: str) -> str:
    """Remove layout spaces between two Chinese characters (``关 于 红 军`` -> ``关于红军``)."""
    return _SPACE_BETWEEN_CJK.sub("", text)


def clean_line(line: str) -> str:
    """One extracted line in canonical form: normalized, CJK spaces removed, runs collapsed.

    Spacing accents that formulas leave behind on their own (the hat of ``ĥ`` set apart as
    ``ˆ``) are dropped: they are no text.
    """
    line = remove_cjk_spaces(_LONE_ACCENT.sub("", normalize_chars(line)))
    return re.sub(r"[ \t\u00a0]{2,}", " ", line).strip()


def cjk_count(text: str) -> int:
    """Number of Chinese ideographs in ``text``."""
    return len(re.findall(rf"[{_CJK_CLASS}]", text))


def latin_words(text: str) -> list[str]:
    """Runs of Latin letters (words of English text), digits excluded."""
    return re.findall(r"[A-Za-z\u00c0-\u024f]+(?:['’][A-Za-z]+)?", text)


def display_width(text: str) -> int:
    """Width in columns: a Chinese character or full-width sign counts two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


@contextmanager
def quiet(logger: logging.Logger) -> Iterator[None]:
    """jieba logs its dictionary loading at DEBUG to its own stderr handler; hush that one
    call and give the logger back as it was (its level is the application's business)."""
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)
