"""The structure of a document: what each block is, and the section it belongs to.

A book's table of contents, its index and a paper's reference list are dense with the
words of every topic the document covers, so as passages they would top nearly every
question. They are recognised and kept apart by kind (``toc``, ``index``, ``references``),
as are code listings, tables and front/back matter (``boilerplate``). The rules are
general, not tuned to one file:

- a section of such a kind starts at its heading (``References``, ``参考文献``,
  ``目录``, ``Index``, ``人物索引`` ...) and goes on over the following pages while their
  lines look like its entries (a reference: ``[12] ...`` or an author list with a year; a
  table-of-contents or index entry: text ending in page numbers);
- a page most of whose lines are such entries is of that kind even without a heading;
- headings give the section path (``6.2 简单循环网络 > 6.2.1 ...``) from their numbering.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from paperbridge.ingest.lines import Line
from paperbridge.ingest.paragraphs import Block
from paperbridge.ingest.text import cjk_count, latin_words

_SPECIAL_HEADINGS = {
    "references": re.compile(
        r"^(?:\d{1,2}\.?\s*)?(?:references?|bibliography|works cited|literature cited|"
        r"参考文献|参考资料|引用文献|文献)$", re.IGNORECASE),
    "index": re.compile(
        r"^(?:(?:subject|author|name|general)\s+)?index$|^(?:\S{0,4})索引$", re.IGNORECASE),
    "toc": re.compile(r"^(?:(?:table\s+of\s+)?contents|目录|目次)$", re.IGNORECASE),
}
_ENDS_SPECIAL = re.compile(
    r"^(?:appendix|appendices|附录|supplementary|acknowledge?ments?|致谢|后记|index|索引)",
    re.IGNORECASE)
_REFERENCE_LINE = re.compile(
    r"^(?:\[\d{1,4}\]|\d{1,3}\.\s+[A-Z\u4e00-\u9fff]|[A-Z][A-Za-z'\-]+,\s+(?:[A-Z]\.|[A-Z][a-z]+)"
    r"|[A-Z][a-z'\-]+\s+[A-Z]{1,2}[,.]\s)")
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d[a-z]?(?!\d)")
# What the lines of a reference list carry besides their opening: years, venues, pages.
_REFERENCE_TRAIT = re.compile(
    r"(?<!\d)(?:19|20)\d\d[a-z]?(?!\d)|arxiv|proceedings|proc\.|conference|journal|"
    r"transactions|\bpp\.|\bvol\.|\bin:|et al\.|preprint|doi|https?://|出版社|学报|[\[［]\d+[\]］]"
    r"|(?:[A-Z][a-z]+ (?:[A-Z]\.? )?[A-Z][a-z'\-]+, ){2,}",
    re.IGNORECASE)
# Text, then one page number (roman in front matter): "1.2 背景 5", "Introduction xi".
_ENTRY_END = re.compile(r"[^\d\s,.%]\s*(?:\d{1,4}|[ivxlc]{1,6})\s*$", re.IGNORECASE)
_INDEX_LINE = re.compile(r"^\S.{0,60}?[,，]?\s+\d{1,4}(?:\s*[,，–-]\s*\d{1,4})*$")
# A copyright or licence notice. "未经许可" counts only with the copying it forbids (a GDPR
# definition says data were disclosed "未经同意"), and "仅供参考" only as a notice of its own
# (_SHORT_NOTICE): in a paragraph of a guide it says the advice is tentative.
_BOILERPLATE = re.compile(
    r"all rights reserved|版权所有|版权声明|\bISBN\b|^(?:©|copyright\b|\(c\)\s*\d{4})|"
    r"未经.{0,12}(?:许可|同意).{0,12}(?:转载|复制|翻印|翻录|摘编|传播|抄袭|发行|出版|商业)",
    re.IGNORECASE)
_SHORT_NOTICE = re.compile(r"仅供.{0,6}(?:学习|参考|使用|交流)")
_SHORT_NOTICE_CHARS = 60
_CODE_TOKEN = re.compile(
    r"\\[A-Za-z]+|[{}]|;\s*$|\);|==|!=|<-|->|=>|%>%|::|\b(?:def|return|import|function|var|let|"
    r"const|#include|printf)\b", re.MULTILINE)
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?%?")
_CHAPTER = re.compile(r"^(?:第\s*[一二三四五六七八九十百\d]{1,4}\s*[章部篇]|chapter\s+\d+|part\s+[ivx\d]+)",
                      re.IGNORECASE)
_ZH_SECTION = re.compile(r"^第\s*[一二三四五六七八九十\d]{1,3}\s*节")
_NUMBERED = re.compile(r"^([1-9]\d?(?:\.\d{1,2}){0,4})(?:\.\s*|\s+|(?=[\u4e00-\u9fff]))(?=\S)")
_ZH_ORDINAL = re.compile(r"^[一二三四五六七八九十]{1,3}[、.．]")
_ZH_PAREN_ORDINAL = re.compile(r"^[（(][一二三四五六七八九十]{1,3}[)）]")
_ROMAN = re.compile(r"^[IVX]{1,4}\.\s")
_LETTERED = re.compile(r"^(?:appendix\s+)?[A-H](?:\.\d{1,2}){0,3}\s+[A-Z\u4e00-\u9fff]")


def special_kind(heading: str) -> str | None:
    """"references", "index" or "toc" for the heading of such a section, else None."""
    text = re.sub(r"\s+", "", heading) if cjk_count(heading) else heading.strip()
    for kind, pattern in _SPECIAL_HEADINGS.items():
        if pattern.match(text):
            return kind
    return None


_NAMED_INDEX = re.compile(r"^(?:(?:[A-Z][A-Za-z]*|and|&)\s+){1,4}(?:Index|INDEX)$|^\S{1,8}索引$")


def _back_matter(page: int, pages: int) -> bool:
    """A page in the last 30% of a document of five pages or more, where indexes are."""
    return pages >= 5 and page >= 0.7 * pages


def _back_index(heading: str, page: int, pages: int) -> str | None:
    """A manual's "Concept Index" or "Function and Data Index" in its last pages: an index,
    like a plain "Index" (earlier in a document, "Price Index" may be a section of its own)."""
    return "index" if _back_matter(page, pages) and _NAMED_INDEX.match(heading.strip()) else None


def line_kind(text: str) -> str | None:
    """What a single line looks like: a "references" entry, a "toc"/"index" entry, or None."""
    if _REFERENCE_LINE.match(text) and (_YEAR.search(text) or text.startswith("[")):
        return "references"
    if _INDEX_LINE.match(text) and not _YEAR.search(text[-6:]):
        return "index"
    if _ENTRY_END.search(text) and len(text) > 4 and not text.rstrip()[-1:].isalpha():
        return "toc"
    return None


@dataclass(frozen=True)
class PageProfile:
    """Shares of a page's lines that look like reference, index and table-of-contents entries."""

    lines: int
    references: float  # reference entries (an opening "[12] ..." or "Smith, J." with a year)
    entries: float  # toc or index entries (text ending in page numbers)
    reference_traits: float  # lines with a year, a venue, pages, "et al."
    headings_only: bool  # a list of chapter headings and nothing else (a bare TOC)

    def continues(self, kind: str) -> bool:
        """True when this page goes on with a section of ``kind`` begun on an earlier page."""
        if kind == "references":
            return self.references >= 0.1 or self.reference_traits >= 0.25
        return self.entries >= 0.3


def profile_pages(pages: Sequence[Sequence[Line]]) -> list[PageProfile]:
    """One :class:`PageProfile` per page of cleaned lines."""
    from paperbridge.ingest.lines import is_heading

    profiles = []
    for page in pages:
        texts = [line.text for line in page if line.text]
        n = max(1, len(texts))
        kinds = [line_kind(t) for t in texts]
        entries = sum(1 for k, line in zip(kinds, page, strict=False)
                      if k in ("toc", "index") or line.entry)
        chapters = sum(1 for t in texts if _CHAPTER.match(t) or (is_heading(t) and len(t) < 40))
        traits = sum(1 for t in texts if _REFERENCE_TRAIT.search(t))
        profiles.append(PageProfile(
            len(texts), kinds.count("references") / n, entries / n, traits / n,
            len(texts) >= 6 and chapters >= 0.8 * len(texts)))
    return profiles


def _standalone_kind(profile: PageProfile) -> str | None:
    """The kind of a page that is entries through and through, even without a heading."""
    if profile.lines >= 6 and profile.references >= 0.5:
        return "references"
    if profile.lines >= 8 and profile.entries >= 0.6:
        return "toc"
    if profile.headings_only:
        return "toc"
    return None


def classify(blocks: Sequence[Block], profiles: Sequence[PageProfile]) -> list[Block]:
    """Blocks with their kinds set: toc / index / references sections, code, table, boilerplate.

    Headings keep kind "heading"; a section opened by a special heading goes on over the
    next pages while their profile says so, and ends at an appendix-like heading.
    """
    out: list[Block] = []
    mode: str | None = None
    page = -1
    for block in blocks:
        if block.page != page:
            page = block.page
            if mode and not profiles[page].continues(mode):
                mode = None
        standalone = _standalone_kind(profiles[block.page])
        if block.kind == "heading":
            found = special_kind(block.text) or _back_index(block.text, page, len(profiles))
            if found:
                mode = found
            elif mode in ("references", "index") and _ENDS_SPECIAL.match(block.text.strip()):
                mode = None
            out.append(replace(block, kind="toc") if (mode == "toc" or standalone == "toc")
                       and not found else block)
            continue
        kind = mode or _standalone_at(standalone, page, len(profiles))
        if kind in ("toc", "index") and _prose(block.text):
            kind = None  # an abstract on the page of a short table of contents
        kind = kind or _block_kind(block, page, len(profiles))
        head = _prose_head(block.text) if kind == "code" else None
        if head:
            out += [replace(block, text=head[0], kind="body"), replace(block, text=head[1], kind="code")]
            continue
        out.append(replace(block, kind=kind) if kind != block.kind else block)
    return out


_SENTENCE_END = re.compile(r"[。！？：:](?=\s*\S)|[.!?](?=\s+\S)")


def _is_code(text: str) -> bool:
    """Dense with code tokens (``\\begin``, braces, ``::``, ``def``) for its length."""
    words = len(latin_words(text)) + cjk_count(text) // 2
    code = len(_CODE_TOKEN.findall(text))
    return code >= 4 and code >= 0.25 * max(1, words)


def _prose_head(text: str) -> tuple[str, str] | None:
    """A code block's leading sentences and the code after them, when it starts with
    prose: "建议使用 booktabs 宏包制作表格……表 1 是一个示例：\\begin{table}…" lost its blank line in
    the PDF's text, and the advice before the listing is an answer, the listing is not."""
    for end in reversed([m.end() for m in _SENTENCE_END.finditer(text)]):
        head, tail = text[:end].strip(), text[end:].strip()
        if _is_code(tail) and not _is_code(head) and _prose_sentences(head):
            return head, tail
    return None


def _prose_sentences(text: str) -> bool:
    """At least one full sentence of words (20+ characters, mostly not symbols)."""
    letters = len(latin_words(text)) * 4 + cjk_count(text)
    return len(text) >= 20 and letters >= 0.6 * len(text)


def _standalone_at(kind: str | None, page: int, pages: int) -> str | None:
    """Entries ending in page numbers near the end of a document are its index, not a TOC."""
    if kind == "toc" and _back_matter(page, pages):
        return "index"
    return kind


def _prose(text: str) -> bool:
    """Running sentences (two or more), not a list of entries."""
    return len(text) >= 80 and len(re.findall(r"[。！？]|[a-z)][.!?](?:\s|$)", text)) >= 2


def is_notice(text: str) -> bool:
    """A copyright or licence notice ("All rights reserved", "版权所有，未经许可不得转载",
    "本资料仅供学习交流使用"), not a paragraph that uses the same words."""
    if _BOILERPLATE.search(text):
        return True
    return len(text) <= _SHORT_NOTICE_CHARS and bool(_SHORT_NOTICE.search(text))


def _block_kind(block: Block, page: int, pages: int) -> str:
    """Body blocks that are code, tables or boilerplate by their own text."""
    text = block.text
    if block.kind in ("caption",):
        return block.kind
    if is_notice(text) and (len(text) <= 400 or page < 3 or page >= pages - 1):
        return "boilerplate"
    if _is_code(text):
        return "code"
    numbers = len(_NUMBER.findall(text))
    words = len(latin_words(text)) + cjk_count(text) // 2
    if numbers >= 8 and numbers >= 0.5 * max(1, words) and text.count("。") + text.count(". ") <= 1:
        return "table"
    return "body" if block.kind == "note" else block.kind


def heading_level(text: str, depth: int, chapters: bool) -> int | None:
    """Level of a heading from its numbering (1 = top); None when it is not a section title.

    Unnumbered headings go one level below the current numbered one (``depth``);
    ``chapters`` says whether the document numbers chapters (``第6章``), which puts its
    ``一、`` headings one level down.
    """
    if _CHAPTER.match(text):
        return 1
    if _ZH_SECTION.match(text):
        return 2
    numbered = _NUMBERED.match(text)
    if numbered:
        return numbered.group(1).count(".") + 1
    if _ZH_ORDINAL.match(text) or _ROMAN.match(text):
        return 2 if chapters else 1
    if _ZH_PAREN_ORDINAL.match(text):
        return 3 if chapters else 2
    if special_kind(text) or _ENDS_SPECIAL.match(text) or _LETTERED.match(text):
        return 1
    if len(latin_words(text)) + cjk_count(text) < 2:
        return None
    return depth + 1


_MATH = re.compile(r"[=+·×∑∫<>{}|^_∗]|\.{3}|…")
_GLUED_NUMBER = re.compile(r"^\d+[A-Za-z\u4e00-\u9fff]")  # "6The weighting ...": a footnote
_STRAY_NUMBER = re.compile(r"(?<![\w.])\d+(?![\w.])")


def section_title(text: str) -> bool:
    """True for a heading that can name a section: words, not a formula, table row or footnote.

    Heading detection on lines is generous (a short line without final punctuation); the
    section path must not be, since it is shown with every citation.
    """
    if _GLUED_NUMBER.match(text) or _MATH.search(text) or text[0] in "—–-•·":
        return False
    body = _NUMBERED.sub("", text, count=1) if _NUMBERED.match(text) else text
    if len(_STRAY_NUMBER.findall(body)) >= 2 or re.search(r"[.。!?！？]\s*\S", body):
        return False
    words, hanzi = len([w for w in latin_words(body) if len(w) >= 2]), cjk_count(body)
    if words > 12 or hanzi > 24 or (words == 0 and hanzi < 2):
        return False
    return words + hanzi >= 2 or bool(special_kind(text))


def sections(blocks: Sequence[Block]) -> list[str]:
    """The section path of each block (``"6 循环神经网络 > 6.2 简单循环网络"``).

    Section numbers only go forward (a "2 ..." line inside chapter 6 is a formula's piece or
    a list item, not a section), and in a document whose sections are numbered an
    unnumbered heading names no section unless it is a named one (Abstract, References,
    Appendix): there it is a figure label or a table header more often than not. The
    table of contents names no section either.
    """
    titles = [b.kind == "heading" and section_title(b.text) for b in blocks]
    numbered = sum(1 for b, ok in zip(blocks, titles, strict=True) if ok and _NUMBERED.match(b.text))
    chapters = any(ok and _CHAPTER.match(b.text) for b, ok in zip(blocks, titles, strict=True))
    ordinals = any(ok and _ZH_ORDINAL.match(b.text) for b, ok in zip(blocks, titles, strict=True))
    stack: list[tuple[int, str]] = []
    depth, top = 0, 0
    paths = []
    for block, ok in zip(blocks, titles, strict=True):
        level = _level(block.text, depth, chapters, numbered >= 3, top) if ok else None
        if level is not None and ordinals and _NUMBERED.match(block.text):
            level += 2  # "一、" > "（一）" > "1." > "1.1" in Chinese reports
        if level is not None:
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, _short(block.text)))
            match = _NUMBERED.match(block.text)
            if match:
                top = int(match.group(1).split(".")[0])
            elif _ZH_ORDINAL.match(block.text) or _ZH_PAREN_ORDINAL.match(block.text):
                top = 0  # "1." numbering starts again under each "一、" / "（一）"
            if match or _CHAPTER.match(block.text) or level == 1:
                depth = level
        paths.append(" > ".join(title for _, title in stack))
    return paths


def _level(text: str, depth: int, chapters: bool, numbered: bool, top: int) -> int | None:
    """The level of a heading in the section path, or None when it names no section."""
    if special_kind(text) == "toc":
        return None
    match = _NUMBERED.match(text)
    number = int(match.group(1).split(".")[0]) if match else 0
    if match and (number < top or (top and number > top + 3)):
        return None  # "2 ..." inside section 6, "16. The ..." after section 2
    unnamed = not (match or _CHAPTER.match(text) or _ZH_SECTION.match(text) or _ZH_ORDINAL.match(text)
                   or _ZH_PAREN_ORDINAL.match(text) or _ROMAN.match(text) or special_kind(text)
                   or _ENDS_SPECIAL.match(text) or _LETTERED.match(text))
    if unnamed and numbered:
        return None
    return heading_level(text, depth, chapters)


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:79] + "…"
