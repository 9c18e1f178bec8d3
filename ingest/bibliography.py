"""Title, authors and year of a document, from its metadata or else its first page.

PDF metadata is often empty or wrong (``proc.dvi``, ``Microsoft Word - x.docx``, an author
"微软用户"), so each field is taken from the metadata only when it reads as one, and
otherwise from the first page: the title is the text set in the largest font (or the first
title-like heading when the fonts give no sizes), the authors are the name lines right
below it, the year the publication year printed near the top. A title is never the file's
own name.
"""

from __future__ import annotations

import difflib
import functools
import gzip
import logging
import re
from collections.abc import Sequence
from pathlib import Path

from paperbridge.ingest import lines as L
from paperbridge.ingest.dictionaries import cedict_path
from paperbridge.ingest.errors import ModelError
from paperbridge.ingest.paragraphs import Block
from paperbridge.ingest.text import cjk_count, latin_words, quiet

_FILE_NAME = re.compile(
    r"^(?:microsoft\s+(?:word|powerpoint|excel)\s*-\s*)?(?P<stem>.*?)"
    r"(?P<ext>\.(?:dvi|pdf|docx?|tex|txt|ps|rtf|odt|pptx?|xlsx?|indd|eps|wpd|pages|md))?\s*$",
    re.IGNORECASE,
)
# A section's name set large on page 1 is not the document's title ("Abstract").
_SECTION_NAME = re.compile(
    r"^(?:abstract|introduction|contents|table of contents|preface|foreword|keywords|references|"
    r"acknowledge?ments|摘\s*要|目\s*录|引\s*言|前\s*言|序\s*言|关键词|参考文献)[:：]?$", re.IGNORECASE)
_GENERIC_TITLE = re.compile(r"^(?:untitled|title|document\d*|slide\s*\d*|new document|无标题|文档\d*)$",
                            re.IGNORECASE)
_GENERIC_AUTHOR = re.compile(
    r"^(?:admin(?:istrator)?|user|owner|author|unknown|anonymous|windows\s*用户|微软用户|"
    r"用户|作者|lenovo|hp|dell|pc|microsoft\s+office\s+user|[a-z]{1,3}\d*)$", re.IGNORECASE)
_STAMP = re.compile(r"arxiv:\s*\d{4}\.\d{4,5}|^doi\b|https?://|www\.|@", re.IGNORECASE)
_NAVIGATION = re.compile(
    r"[>|»›]|https?://|www\.|@|\b(?:previous|next|home|menu|log ?in|sign in|subscribe)\b"
    r"|上一篇|下一篇|首页|返回",
    re.IGNORECASE,
)
_TAG = re.compile(r"^\s*[\[【]([^\]】]{1,30})[\]】]\s*")  # "[Paper Express] ..." / "【论文速递】..."
_BANNER = re.compile(r"仅供.{0,6}(?:学习|参考|使用)|all rights reserved|版权所有|confidential|draft",
                     re.IGNORECASE)
_YEAR = r"(?:19[4-9]\d|20[0-4]\d)"
_YEAR_PATTERNS = (
    re.compile(rf"({_YEAR})\s*年"),
    re.compile(rf"(?:©|\(c\)|copyright)\s*({_YEAR})", re.IGNORECASE),
    re.compile(rf"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,?\s+(?:\d{{1,2}},?\s+)?({_YEAR})\b",
               re.IGNORECASE),
    re.compile(rf"\b(?:vol(?:ume)?\.?|no\.|issue|proceedings|conference|journal)\b.{{0,80}}?\b({_YEAR})\b",
               re.IGNORECASE),
    re.compile(rf"\b({_YEAR})\b"),
)
_ARXIV = re.compile(r"arxiv:\s*(\d\d)(\d\d)\.\d{4,5}", re.IGNORECASE)
_AUTHOR_LABEL = re.compile(r"^(?:作者|authors?|by)\s*[:：]?\s*", re.IGNORECASE)
_NAME_MARKS = re.compile(r"[∗*†‡§¶♯#⋆?✉\d]+|\([^)]*\)")
_EN_NAME = re.compile(
    r"^(?:[A-Z]\.?\s*-?){0,3}(?:[A-Z][a-z'’]+(?:-[A-Z]?[a-z'’]+)?|[A-Z]{2,}[a-z]*)"
    r"(?:\s+[A-Z][a-z'’]+(?:-[A-Z]?[a-z'’]+)?){0,2}$")
_NAME_RUN = re.compile(
    r"(?:[A-Z]\.?\s+){1,3}[A-Z][a-z'’]+(?:-[A-Z][a-z'’]+)?|[A-Z][a-z'’]+\s+[A-Z][a-z'’]+(?:-[A-Z][a-z'’]+)?")
_FOOTNOTE_MARK = re.compile(r"(?<=[\u4e00-\u9fff）)])[*∗†‡\d]{1,2}$")  # "…的介绍1"
_BYLINE = re.compile(r"\s*(?:编写|编著|著|主编|译|编|撰)$")
_CONTACT = re.compile(r"<?[\w.+-]+@[\w.-]+>?|\S*https?://\S*")
_ZH_NAME = re.compile(r"^[\u4e00-\u9fff]{2,4}$")
_ORG = re.compile(r"(?:研究院|研究所|大学|学院|中心|实验室|委员会|协会|公司|集团|院|部|局)$")


def _meaningful_title(text: str | None, path: Path) -> str | None:
    """The metadata title cleaned of a file name's trappings, or None if it names nothing."""
    if not text:
        return None
    match = _FILE_NAME.match(text.strip())
    title = (match.group("stem") if match else text).strip(" -_")
    if match and match.group("ext") and re.fullmatch(r"[\w\-. ]+", title):
        return None  # "proc.dvi", "shannon1948.dvi": a file name, not a title
    if not title or _GENERIC_TITLE.match(title) or _same_name(title, path):
        return None
    if cjk_count(title) >= 2 or len(latin_words(title)) >= 2:
        return title
    return None


def _same_name(text: str, path: Path) -> bool:
    def norm(s: str) -> str:
        return re.sub(r"[\W_]+", "", s.lower())

    return norm(text) == norm(path.stem)


def title_like(text: str) -> bool:
    """A heading that can serve as a title: real words, not navigation, a date or a label."""
    if _NAVIGATION.search(text) or L.is_label(text.strip()) or len(text) > 200:
        return False
    if L.is_bullet(text) or L.is_noise(text) or text[0] in "(（[【" or _BANNER.search(text):
        return False
    if sum(c.isdigit() for c in text) > 0.2 * len(text.replace(" ", "")):
        return False  # a table row or a date line
    if cjk_count(text) >= 4:
        return True
    words = [w for w in latin_words(text) if len(w) > 1]
    capitalised = sum(1 for w in words if w[0].isupper())
    return len(words) >= 2 and capitalised >= 0.6 * len(words) and len(words) <= 30


def _set_as_title(text: str) -> bool:
    """Text in the page's largest font that can be its title (the size already says a lot).

    Any case will do ("Camlidl user's manual", "Libtasn1"); navigation, labels, list items,
    banners and number-heavy lines will not.
    """
    if _NAVIGATION.search(text) or L.is_label(text.strip()) or len(text) > 200 or _BANNER.search(text):
        return False
    if L.is_bullet(text) or L.is_noise(text) or _SECTION_NAME.match(text.strip()):
        return False
    if sum(c.isdigit() for c in text) > 0.4 * len(text.replace(" ", "")):
        return False
    return cjk_count(text) >= 2 or any(len(w) >= 4 for w in latin_words(text))


def _from_fonts(largest: Sequence[Sequence[str]], first_lines: Sequence[str]) -> str | None:
    """The title as set in the largest font, completed from the page's line that holds it."""
    for group in largest:
        parts = [t for t in group if not _STAMP.search(t) and not _BANNER.search(t)]
        text = " ".join(parts).strip()
        if not text or not _set_as_title(text) or _names_in(_BYLINE.sub("", text)):
            continue  # a byline set large ("Karl Berry 编写") is no title
        return _full_line(text, first_lines)
    return None


def _full_line(text: str, lines: Sequence[str]) -> str:
    """The page line(s) the font run came from (runs lose small capitals: ``T ABLE F ORMER``).

    The run and the extracted lines differ in spacing and in pieces set in other sizes
    (the "A" of LaTeX), so they are compared by similarity, one line or two joined.
    """
    squeezed = _squeeze(text)
    best, best_ratio = text, 0.8
    for i, line in enumerate(lines[:40]):
        options = [line]
        if i + 1 < len(lines):
            sep = "" if cjk_count(line[-1:]) else " "
            options.append(line + sep + lines[i + 1])
        for option in options:
            ratio = difflib.SequenceMatcher(None, squeezed, _squeeze(option)).ratio()
            if ratio > best_ratio:
                best, best_ratio = option, ratio
    return best


def _squeeze(text: str) -> str:
    return re.sub(r"\W+", "", text).lower()


def choose_title(
    path: Path,
    metadata_title: str | None,
    blocks: Sequence[Block],
    largest: Sequence[Sequence[str]] = (),
    first_lines: Sequence[str] = (),
) -> str:
    """The metadata title if meaningful, else the largest text of page 1, else a heading.

    The file name is the last resort only when the document has no title-like text at all.
    """
    title = _meaningful_title(metadata_title, path) or _from_fonts(largest, first_lines)
    if title:
        return _FOOTNOTE_MARK.sub("", title)
    for block in blocks[:12]:
        text = _TAG.sub("", block.text)
        if block.kind == "heading" and text and title_like(text) and not _same_name(text, path):
            return text
    for line in first_lines[:8]:
        if title_like(line) and not _same_name(line, path):
            return line
    embedded = _FILE_NAME.match(metadata_title or "")  # the name of the file it was made from
    if embedded and embedded.group("ext") and not _same_name(embedded.group("stem"), path):
        name = re.sub(r"[_\-]+", " ", embedded.group("stem")).strip()
        if len(name) >= 4:
            return name
    return path.stem


def choose_year(first_lines: Sequence[str]) -> int | None:
    """The publication year printed near the top of the first pages (None if none is).

    An arXiv stamp (anywhere on the first pages) names the version's month; otherwise
    stronger patterns win over a bare number: ``2022年``, ``© 2014``, a month and a year,
    a journal's volume line. Only the top lines count, so that years cited in the text do not.
    """
    arxiv = _ARXIV.search("\n".join(first_lines))
    if arxiv:
        return 2000 + int(arxiv.group(1))
    head = list(first_lines[:40])
    text = "\n".join(head)
    for pattern in _YEAR_PATTERNS[:-1]:
        match = pattern.search(text)
        if match:
            return int(match.group(1))
    bare = _YEAR_PATTERNS[-1].search("\n".join(head[:12]))
    return int(bare.group(1)) if bare else None


def choose_authors(metadata_author: str | None, first_lines: Sequence[str], title: str) -> tuple[str, ...]:
    """Authors from the metadata if it names people, else from the lines under the title."""
    meta = _split_names(_CONTACT.sub(" ", metadata_author or ""))
    if meta and not any(_GENERIC_AUTHOR.match(m) for m in meta):
        return tuple(meta)
    start = _after_title(first_lines, title)
    names: list[str] = []
    for number, line in enumerate(first_lines[start:start + 8]):
        if not _NAME_MARKS.sub("", line).strip(" ,，"):
            continue  # a line of footnote marks only ("∗", "†")
        found = _names_in(line) or ([line.strip()] if number == 0 and _lone_name(line.strip()) else [])
        if found:
            names.extend(found)
        elif names:
            break
    return tuple(dict.fromkeys(names))


def _after_title(lines: Sequence[str], title: str) -> int:
    """The index of the line after the title's (0 when no line is the title: a running
    head the reader dropped). A sentence that mentions the title is not the title line."""
    squeezed = re.sub(r"\W+", "", title).lower()
    for i, line in enumerate(lines[:40]):
        joined = re.sub(r"\W+", "", line).lower()
        if joined and (joined in squeezed or squeezed in joined and len(joined) <= 2 * len(squeezed)):
            return i + 1
    return 0


def _lone_name(text: str) -> bool:
    """A Chinese personal name alone on the line under the title (邓东升): two or three
    characters that start with a surname and are no word of the language (张量, 高性能)."""
    if not re.fullmatch(r"[\u4e00-\u9fff]{2,3}", text):
        return False
    from wordfreq import zipf_frequency
    from wordfreq.tokens import tokenize

    with quiet(logging.getLogger("jieba")):  # wordfreq segments Chinese with jieba
        word = len(tokenize(text, "zh")) == 1 or zipf_frequency(text, "zh") >= _NAME_ZIPF
    return not word and (text[0] in _surnames() or text[:2] in _surnames())


_NAME_ZIPF = 3.0  # wordfreq's Zipf frequency of a common word; names made of characters score lower


@functools.cache
def _surnames() -> frozenset[str]:
    """The surnames CC-CEDICT lists (its "surname Deng" senses), simplified and traditional;
    none without the dictionary (a lone name under a title then goes unread)."""
    try:
        path = cedict_path()
    except ModelError:
        return frozenset()
    out: set[str] = set()
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            if "/surname " in line or "/polysyllabic surname " in line:
                traditional, simplified = line.split(" ", 2)[:2]
                out.update((traditional, simplified))
    return frozenset(out)


def _split_names(text: str) -> list[str]:
    parts = re.split(r"\s*(?:[,，、;；]|\band\b|&|\s{2,})\s*", text.strip())
    return [p.strip() for p in parts if p.strip()]


def _names_in(line: str) -> list[str]:
    """The personal names (or one institution) a line lists, or [] if it is not such a line."""
    labelled = _AUTHOR_LABEL.match(line)
    text = _NAME_MARKS.sub(" ", line[labelled.end():] if labelled else line)
    text = _CONTACT.sub(" ", text).strip()
    if not text or L.ends_sentence(text) and not labelled:
        return []
    if cjk_count(text):
        parts = [p for p in re.split(r"[\s,，、;；]+", text) if p]
        if len(parts) == 1 and _ORG.search(parts[0]) and len(parts[0]) <= 20:
            return parts
        names = [p for p in parts if _ZH_NAME.match(p)]
        ok = len(names) >= 2 and len(names) >= 0.8 * len(parts)
        return names if ok or (labelled and names) else []
    parts = _split_names(text)
    if any(word in _STOP for part in parts for word in part.split()):
        return []  # "Two-Column Document with Lorem Ipsum": a lower-case "with" is in no name
    if len(parts) == 1:
        parts = _initial_names(text)
    names = [p for p in parts if _EN_NAME.match(p)]
    return names if names and len(names) >= 0.8 * len(parts) and _not_prose(names) else []


def _initial_names(text: str) -> list[str]:
    """Names written without commas: ``S E Robertson S Walker M M Hancock-Beaulieu``."""
    found = _NAME_RUN.findall(text)
    covered = sum(len(f) for f in found)
    return [f.strip() for f in found] if covered >= 0.8 * len(text.replace(" ", "")) else [text]


def _not_prose(names: Sequence[str]) -> bool:
    """Names, not a title or a heading: few words each, and not the words of a sentence."""
    from paperbridge.ingest.plausible import english_words

    words = [w for n in names for w in n.split()]
    common = sum(1 for w in words if w.lower() in _STOP or (w.lower() in english_words() and len(w) > 3
                                                            and w.lower() in _FREQUENT))
    return common <= len(words) // 3 and all(len(n.split()) <= 4 for n in names)


_STOP = frozenset("the of and for in on with a an to by from at as is are introduction abstract".split())
_FREQUENT = frozenset(
    "system systems data model models theory research department university centre center "
    "school institute laboratory science information technology journal report table figure".split())
