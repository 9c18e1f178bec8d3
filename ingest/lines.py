"""What each extracted line is: body text, heading, caption, note, list item, or noise.

PDF extractors give lines, not paragraphs. Before lines can be joined into paragraphs,
the ones that are not running text (page numbers, running headers, figure captions,
footnotes, section headings) must be recognised so they are kept out of sentences.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from paperbridge.ingest.text import cjk_count, latin_words

TERMINAL = "。！？!?…．."
_CLOSE = "\"'”’）)】」』》\\]"
_ENDS_SENTENCE = re.compile(rf"(?:[。！？!?…]|[^.\d]\.|\d\.(?!\d))[{_CLOSE}\u25a0■□]*\s*$")
_CONTINUES = re.compile(r"[，,、：:；;—–\-(（《“‘/]$")

_PAGE_NUMBER = re.compile(
    r"^(?:[-–—]?\s*\d{1,4}\s*[-–—]?|page\s+\d+(?:\s+of\s+\d+)?|第\s*\d+\s*页(?:\s*共\s*\d+\s*页)?"
    r"|\d+\s*/\s*\d+|[ivxlc]{1,6})$",
    re.IGNORECASE,
)
_DECORATED_HEADER = re.compile(r"^[·•\-—–|]\s*\S.{0,30}\S\s*[·•\-—–|]$")
_MD_HEADING = re.compile(r"^#{1,6}\s+\S")
_NUMBERED_HEADING = re.compile(
    r"^(?:\d{1,2}(?:\.\d{1,2}){0,3}\.?(?![\d.])|[IVX]{1,4}\.|[一二三四五六七八九十]{1,3}[、.．]|第[一二三四五六七八九十\d]{1,3}[章节部分])"
    r"\s*(?P<rest>\S.*)$"
)
_NAMED_HEADING = re.compile(
    r"^(?:abstract|introduction|conclusions?|references|bibliography|acknowledge?ments?|"
    r"related work|background|methods?|methodology|results|discussion|appendix|contents|"
    r"摘要|引言|前言|参考文献|致谢|结论|结语|目录|附录)$",
    re.IGNORECASE,
)
_LABEL = re.compile(
    r"^(?:abstract|key\s*words?|keywords|index terms|摘要|关键词|关键字|中图分类号|文献标识码|"
    r"doi|基金项目|作者简介|收稿日期|authors?|by|affiliations?|funding|published|online|received|"
    r"e-?mail|citation|作者|通讯作者|发布日期)\s*[:：]",
    re.IGNORECASE,
)
_BULLET = re.compile(
    r"^(?:[•·▪‣◦●○■□◆◇*]\s|-\s|\(\d{1,2}\)|（\d{1,2}）|\d{1,2}[.)]\s+\S|\[\d{1,3}\]\s?)"
)
_CAPTION = re.compile(
    r"^(?:(?:fig\.|figure|table|tab\.|chart|scheme)\s*\d+(?:\.\d+)?[a-z]?\s*(?:[:.|：．]|\s{2,})"
    r"|(?:图|表)\s*\d+(?:[.\-]\d+)?\s*(?P<zh>\S.*)$)",
    re.IGNORECASE,
)
# A Chinese line that starts like a caption but goes on as a sentence ("图 3 为……").
_ZH_CAPTION_VERB = re.compile(r"^[为是中所显给示的可和与及所在从对将由]")
_NOTE = re.compile(r"^(?:[①-⑳㉑-㉟]|\*\s|†|‡)")
_INNER_PUNCT = re.compile(r"[，。；,;！？!?]")


@dataclass(frozen=True)
class Line:
    """One cleaned line, with where it came from."""

    text: str
    page: int  # 0-based page index
    indent: int  # leading spaces in the raw line (text files only; PDFs give 0)
    entry: bool = False  # a table-of-contents entry: a paragraph of its own


def ends_sentence(text: str) -> bool:
    """True when ``text`` ends with sentence-final punctuation (closing quotes allowed)."""
    return bool(_ENDS_SENTENCE.search(text))


def continues(text: str) -> bool:
    """True when ``text`` ends with punctuation that announces more (comma, colon, dash)."""
    return bool(_CONTINUES.search(text))


def is_noise(text: str) -> bool:
    """A lone page number, a decorated running header (``·科技计划与管理·``) or bare punctuation."""
    if _PAGE_NUMBER.match(text) or _DECORATED_HEADER.match(text):
        return True
    return not re.search(r"\w", text)


def is_label(text: str) -> bool:
    """A line that opens a labelled section such as ``Abstract:`` or ``关键词：``."""
    return bool(_LABEL.match(text))


def is_bullet(text: str) -> bool:
    """A list item or a numbered reference entry."""
    return bool(_BULLET.match(text))


def is_caption(text: str) -> bool:
    """A figure or table caption (``Figure 2: ...``, ``图 1　...``, ``表 3 ...``)."""
    match = _CAPTION.match(text)
    if match is None:
        return False
    zh = match.group("zh")
    if zh is None:
        return True
    return not _ZH_CAPTION_VERB.match(zh) and not _INNER_PUNCT.search(zh) and len(zh) <= 60


def is_note(text: str) -> bool:
    """A footnote line (``①　...``, ``* ...``)."""
    return bool(_NOTE.match(text))


def is_heading(text: str) -> bool:
    """A section heading: markdown ``#``, a numbered title, or a bare section name."""
    if _MD_HEADING.match(text) or _NAMED_HEADING.match(re.sub(r"\s+", "", text)):
        return True
    match = _NUMBERED_HEADING.match(text)
    if match is None or ends_sentence(text) or continues(text):
        return False
    rest = match.group("rest")
    if _INNER_PUNCT.search(rest) or rest[0] in "%％年月个万亿位人次":
        return False
    words = latin_words(rest)
    if cjk_count(rest) == 0:
        # English headings are short and capitalised ("2 Related Work", "3.1 Setup").
        return bool(words) and len(words) <= 12 and rest[0].isupper()
    return cjk_count(rest) <= 40 and len(words) <= 8
