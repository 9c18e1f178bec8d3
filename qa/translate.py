"""The question's content words, each with the forms the other language writes it in.

A Chinese question about an English paper shares no word with it, except names written
in Latin letters; the same holds the other way round. Looking the question's words up in
the bilingual lexicon (:mod:`paperbridge.index.lexicon`) gives the words the other
language's passages would use ("注意力偏置" -> attention, bias; "forget gate" -> 遗忘, 门).
BM25 then searches the other language's passages with them (:meth:`QuestionTerms.query`),
and :mod:`qa.coverage` checks which of the question's words a sentence states, in either
language. Dictionary translation is noisy (a word has many senses), so each sense is a
separate, equally weak form, and senses that no passage of the library uses are dropped
(they cannot match anything).

Names, numbers and acronyms (TableFormer, BM25, GPT-1, 2023) are written the same way in
both languages and stand for themselves.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from paperbridge.index.lexical import segment, stopword, tokenize
from paperbridge.index.lexicon import Lexicon

SENSES = 3  # translations taken per word or phrase, first senses first
MAX_SENSE_CHARS = 4  # longer Chinese glosses describe a word rather than translate it
MAX_PHRASE = 3  # English phrases of up to this many words are looked up whole

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LATIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-+]*")
# A name keeps its digits, inner capitals and joiners whole (H800, GPT-1, DeepSeek-V3,
# Qwen2.5-72B, Post-LN); any other hyphenated word is its words ("forget-gate").
_EN_NAME = re.compile(
    r"[A-Za-z0-9]*(?:\d[A-Za-z]|[A-Za-z]\d|[a-z][A-Z]|[A-Z]{2})[A-Za-z0-9]*(?:[-.][A-Za-z0-9]+)*"
    r"|[A-Za-z]+(?:[-.][A-Za-z0-9]*\d[A-Za-z0-9]*|-[A-Z][A-Za-z0-9]*)+"
)
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z']*|\d+(?:[.,]\d+)*%?")
# Words of a question that ask rather than say what about: no passage states them.
_ZH_ASKING = frozenset(
    "什么 哪些 哪个 哪种 哪几 哪 多少 几 怎么 怎样 如何 为什么 为何 是否 是不是 吗 呢 请问 一共 总共 "
    "分别 大概 大约 一般 主要 具体 到底 有 有没有 会 能 能否 可以 应该 要 需要 叫做 称为 指 "
    "里 中 上 下 时 后 前 说 提到 认为 觉得 那个 这个 那篇 这篇 论文 文中 书中 报告 一下".split()
)
_EN_ASKING = frozenset(
    "what which who whom whose when where why how many much does did do is are was were be been "
    "can could should would will shall may might must according paper report book chapter say "
    "says said describe describes explain explains mean means roughly about there "
    "under over between among during after before since until upon within without via versus vs "
    "each every any all some other another same such also only just very more most less least "
    "give gives given get gets got make makes made use uses used way ways thing things kind".split()
)

#: known(form, lang): does any passage in ``lang`` use all of the form's BM25 tokens?
Known = Callable[[tuple[str, ...], str], bool]


@dataclass(frozen=True)
class Term:
    """One content word (or phrase) of the question and the forms a passage may state it in.

    Attributes:
        word: as the question writes it.
        own: its BM25 tokens in the question's language (names: in both).
        senses: its translations into the other language, each as BM25 tokens.
        name: a name, number or acronym, written alike in both languages.
    """

    word: str
    own: tuple[str, ...]
    senses: tuple[tuple[str, ...], ...]
    name: bool

    @property
    def forms(self) -> tuple[tuple[str, ...], ...]:
        """Every way of stating it: its own tokens, then each translation's."""
        return ((self.own,) if self.own else ()) + self.senses


@dataclass(frozen=True)
class QuestionTerms:
    """A question's content terms, in the question's language ("en" or "zh")."""

    lang: str
    terms: tuple[Term, ...]

    def query(self, pool: str) -> str:
        """The BM25 query for passages in ``pool`` when it is the other language: every
        sense of every term, and the names; empty when ``pool`` is the question's language."""
        if pool == self.lang or pool not in ("en", "zh"):
            return ""
        parts = [" ".join(s) for t in self.terms for s in t.senses]
        parts += [t.word for t in self.terms if t.name]
        return " ".join(parts)


def is_chinese(text: str) -> bool:
    """True when the text has Chinese characters (a Chinese or mixed question)."""
    return bool(_CJK.search(text))


def question_terms(question: str, lexicon: Lexicon | None, known: Known | None = None) -> QuestionTerms:
    """The question's content terms with their translations (see :class:`Term`).

    Args:
        lexicon: the bilingual lexicon; None gives terms without translations.
        known: drops translations no passage of the other language uses; None keeps all.
    """
    text = unicodedata.normalize("NFKC", question)
    if is_chinese(text):
        return QuestionTerms("zh", tuple(_chinese_terms(text, lexicon, known)))
    return QuestionTerms("en", tuple(_english_terms(text, lexicon, known)))


def _senses(found: tuple[str, ...], lang: str, known: Known | None) -> tuple[tuple[str, ...], ...]:
    """The first senses worth searching for, as BM25 tokens: short ones ("偏斜的" as "偏斜"),
    used by some passage in ``lang`` when ``known`` is given."""
    out: list[tuple[str, ...]] = []
    for sense in found:
        if _CJK.search(sense):
            sense = sense.removesuffix("的")
            if len(sense) > MAX_SENSE_CHARS:
                continue
        tokens = tuple(tokenize(sense))
        if tokens and tokens not in out and (known is None or known(tokens, lang)):
            out.append(tokens)
        if len(out) == SENSES:
            break
    return tuple(out)


def _chinese_terms(text: str, lexicon: Lexicon | None, known: Known | None) -> list[Term]:
    terms: list[Term] = []
    for word in segment(text):
        if _LATIN.fullmatch(word):
            if not stopword(word) and any(c.isalnum() for c in word):
                terms.append(Term(word, tuple(tokenize(word)), (), True))
        elif _CJK.search(word) and len(word) >= 2 and word not in _ZH_ASKING and not stopword(word):
            senses = _senses(lexicon.english_terms(word), "en", known) if lexicon else ()
            if lexicon and not senses and len(word) >= 3:  # a compound the lexicon lacks: by its parts
                senses = tuple(s for part in segment_parts(word)
                               for s in _senses(lexicon.english_terms(part), "en", known))
            terms.append(Term(word, tuple(tokenize(word)), senses, False))
    return terms


def segment_parts(word: str) -> list[str]:
    """The known words inside a Chinese compound (冗余度 -> 冗余), longest first at each place."""
    out: list[str] = []
    start = 0
    while start < len(word):
        for end in range(len(word), start + 1, -1):
            if end - start < len(word) and len(segment(word[start:end])) == 1:
                out.append(word[start:end])
                start = end
                break
        else:
            start += 1
    return out


def _english_words(text: str) -> list[str]:
    """The question's words in order, names whole, possessives dropped ("TeX's" -> "TeX")."""
    words: list[str] = []
    for chunk in re.split(r"[\s;:!?()\"“”‘’/]+|,(?!\d)", text):
        chunk = chunk.strip(".'")
        if _EN_NAME.fullmatch(chunk.removesuffix("'s")):
            words.append(chunk.removesuffix("'s"))
        else:
            words += [w.removesuffix("'s").strip("'") for w in _EN_WORD.findall(chunk.replace("-", " "))]
    return [w for w in words if w]


def _english_terms(text: str, lexicon: Lexicon | None, known: Known | None) -> list[Term]:
    content = [w for w in _english_words(text) if w.lower() not in _EN_ASKING and not stopword(w)]
    terms: list[Term] = []
    i = 0
    while i < len(content):
        size, senses = _longest_phrase(content[i:], lexicon, known)
        phrase = " ".join(content[i : i + size])
        name = size == 1 and _is_name(content[i])
        own = tuple(tokenize(phrase)) if not name else tuple(tokenize(phrase.replace("-", " ")))
        terms.append(Term(phrase, own, senses, name))
        i += size
    return terms


def _longest_phrase(words: list[str], lexicon: Lexicon | None,
                    known: Known | None) -> tuple[int, tuple[tuple[str, ...], ...]]:
    """How many of ``words`` form the longest phrase with a translation some passage uses,
    and its senses; (1, ()) when none has. A phrase whose translations no passage of the
    other language uses ("project team") is looked up by its words ("project", "team")."""
    for size in range(min(MAX_PHRASE, len(words)), 0, -1):
        head = words[:size]
        if not (lexicon and all(w.isalpha() for w in head)):
            continue
        found = lexicon.chinese_terms(head)
        if found and size == 1 and head[0].isupper():
            found = found[:1]  # an acronym's first sense only: "GPT" is no 通用终端
        senses = _senses(found, "zh", known)
        if senses:
            return size, senses
    return 1, ()


def _is_name(word: str) -> bool:
    """A word Chinese text keeps in Latin letters: numbers, acronyms, capitalized names."""
    return word[0].isdigit() or word[0].isupper() or any(c.isdigit() for c in word)
