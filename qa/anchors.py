"""Anchors: the names in a question that survive translation, and whether the library has them.

Acronyms (CCPA, GDPR), names with digits or inner capitals (BM25F, H800, GPT-1, HybridQA)
and numbered references (Article 100, 第100条) are written the same way in English and
Chinese text. When a question hinges on one that appears nowhere in the library, the
library is very unlikely to answer it, however close its passages come in meaning: a
paper on a neighbouring topic scores high on similarity but never mentions the model,
law or article the question is about. That is the commonest way a plausible question has
no answer, and similarity alone cannot see it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# An acronym (two or more capitals), a word with a digit and a letter, or one with an inner
# capital; hyphenated or dotted parts stay one anchor ("GPT-1", "Qwen2.5-72B", "TREC-4").
_LATIN = re.compile(
    r"(?<![A-Za-z0-9])"
    r"(?:[A-Z]{2,}[A-Za-z0-9]*|[A-Za-z]+[0-9][A-Za-z0-9]*|[0-9]+[A-Za-z][A-Za-z0-9]*|[a-z]*[A-Z][a-z]+[A-Z][A-Za-z0-9]*)"
    r"(?:[-.][A-Z0-9][A-Za-z0-9]*)*"
    r"(?![A-Za-z0-9])"
)
# Ordinals, decades and roman numerals read as anchors but are written out in translation.
_ORDINARY = re.compile(r"\d+(?:st|nd|rd|th|s)|[ivxlcdm]+", re.IGNORECASE)
# Numbered parts of a law or a document: 第100条, 第 3 章, Article 100, Section 4.2.
_NUMBERED = re.compile(
    r"第\s*(\d+)\s*([条章节款])|\b(Article|Section|Chapter)\s+(\d+(?:\.\d+)*)\b", re.IGNORECASE
)
_SEPARATORS = re.compile(r"[-.\s]")
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN_WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
# Units and scales that read as anchors but are ordinary words of any text.
_COMMON = frozenset({"ok", "id", "ids", "pdf", "vs", "etc", "ie", "eg", "usa", "us", "uk", "eu", "ai"})


_TITLE = re.compile(r"《([^》]{2,40})》")
# A capitalized word inside an English sentence (not its first word): a proper name when it
# is rare as an English word ("Overleaf", "Mamba"), not when it is a common one ("Law").
_PROPER = re.compile(r"(?<=[a-z0-9,;:'\"]\s)[A-Z][a-z]{2,}(?:[A-Z][a-z]+)*")
_RARE_ZIPF = 3.0


def quoted_titles(question: str) -> list[str]:
    """The titles a question quotes in 《》 (a law, a book, a report)."""
    return [t.strip() for t in _TITLE.findall(unicodedata.normalize("NFKC", question)) if t.strip()]


# Mandarin syllables in pinyin without tones: an English question writes a Chinese name in
# pinyin ("Qiu Xipeng") where a Chinese document writes it in characters (邱锡鹏), so such a
# name is no evidence that the library lacks it.
_PINYIN = frozenset(
    "a ai an ang ao ba bai ban bang bao bei ben beng bi bian biao bie bin bing bo bu ca cai can cang "
    "cao ce cen ceng cha chai chan chang chao che chen cheng chi chong chou chu chua chuai chuan "
    "chuang chui chun chuo ci cong cou cu cuan cui cun cuo da dai dan dang dao de dei den deng di dia "
    "dian diao die ding diu dong dou du duan dui dun duo e ei en eng er fa fan fang fei fen feng fo fou "
    "fu ga gai gan gang gao ge gei gen geng gong gou gu gua guai guan guang gui gun guo ha hai han hang "
    "hao he hei hen heng hong hou hu hua huai huan huang hui hun huo ji jia jian jiang jiao jie jin "
    "jing jiong jiu ju juan jue jun ka kai kan kang kao ke kei ken keng kong kou ku kua kuai kuan kuang "
    "kui kun kuo la lai lan lang lao le lei leng li lia lian liang liao lie lin ling liu lo long lou lu "
    "luan lun luo lv lve ma mai man mang mao me mei men meng mi mian miao mie min ming miu mo mou mu na "
    "nai nan nang nao ne nei nen neng ni nian niang niao nie nin ning niu nong nou nu nuan nuo nv nve o "
    "ou pa pai pan pang pao pei pen peng pi pian piao pie pin ping po pou pu qi qia qian qiang qiao qie "
    "qin qing qiong qiu qu quan que qun ran rang rao re ren reng ri rong rou ru rua ruan rui run ruo sa "
    "sai san sang sao se sen seng sha shai shan shang shao she shei shen sheng shi shou shu shua shuai "
    "shuan shuang shui shun shuo si song sou su suan sui sun suo ta tai tan tang tao te teng ti tian "
    "tiao tie ting tong tou tu tuan tui tun tuo wa wai wan wang wei wen weng wo wu xi xia xian xiang "
    "xiao xie xin xing xiong xiu xu xuan xue xun ya yan yang yao ye yi yin ying yo yong you yu yuan yue "
    "yun za zai zan zang zao ze zei zen zeng zha zhai zhan zhang zhao zhe zhei zhen zheng zhi zhong "
    "zhou zhu zhua zhuai zhuan zhuang zhui zhun zhuo zi zong zou zu zuan zui zun zuo".split()
)


def is_pinyin(word: str) -> bool:
    """True when the word splits wholly into pinyin syllables (Xipeng, Zhang, Qiu)."""
    word = word.lower()
    reachable = [True] + [False] * len(word)
    for end in range(1, len(word) + 1):
        reachable[end] = any(reachable[start] and word[start:end] in _PINYIN
                             for start in range(max(0, end - 6), end))
    return reachable[-1]


def _common_word(word: str) -> bool:
    """A lowercase everyday English word ("what" in "what is K计划?"), which names nothing."""
    from wordfreq import zipf_frequency

    return word.islower() and zipf_frequency(word, "en") >= _RARE_ZIPF


def _proper_names(text: str) -> set[str]:
    from wordfreq import zipf_frequency

    return {normalize(w) for w in _PROPER.findall(text)
            if zipf_frequency(w.lower(), "en") < _RARE_ZIPF and not is_pinyin(w)}


def normalize(anchor: str) -> str:
    """Lowercase, NFKC, separators dropped: "TREC-4", "trec 4" and "TREC4" are one anchor."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", anchor).lower())


def _numbered(match: re.Match[str]) -> str:
    if match.group(1):
        return f"第{match.group(1)}{match.group(2)}"
    return f"{match.group(3).lower()}{match.group(4)}"


def anchors(text: str) -> set[str]:
    """The normalized anchors of a text (a question or a passage).

    In Chinese text every Latin word of three letters or more is one too (except everyday
    lowercase English words): whoever writes "Mamba" or "Overleaf" inside a Chinese question
    keeps the name as the documents write it.
    In English text a capitalized word inside a sentence that is rare as an English word is
    one ("the Overleaf editor"; not "Law" or "Survey").
    """
    text = unicodedata.normalize("NFKC", text)
    found = {normalize(m.group(0)) for m in _LATIN.finditer(text)}
    if _CJK.search(text):
        found |= {normalize(w) for w in _LATIN_WORD.findall(text) if len(w) >= 3 and not _common_word(w)}
    else:
        found |= _proper_names(text)
    found |= {normalize(_numbered(m)) for m in _NUMBERED.finditer(text)}
    return {a for a in found if a not in _COMMON and len(a) >= 2 and not _ORDINARY.fullmatch(a)}


def is_strong(anchor: str, question: str) -> bool:
    """True for an anchor documents of either language write the same way: one with a digit
    (BM25F, GPT-4, 第100条), capitals inside (TableFormer, HybridQA) or all capitals (CCPA).
    A proper name (Priestley, Overleaf) may be transliterated in a document of the other
    language, so its absence says less. (An acronym the lexicon translates, NASA as
    美国国家航空航天局, counts as mentioned when the library uses the translation.)"""
    if any(c.isdigit() for c in anchor):
        return True
    words = re.findall(r"[A-Za-z][A-Za-z0-9.\-]*", unicodedata.normalize("NFKC", question))
    return any(normalize(w) == anchor and (re.search(r"[a-z][A-Z]", w) or w.isupper()) for w in words)


def vocabulary(texts: Iterable[str]) -> frozenset[str]:
    """Every anchor of the texts, and each one's parts ("gpt-4o" also gives "gpt"): what a
    question's anchor is looked up in. Parts count so that "Llama" in a question matches
    "LLaMA-3.1" in a passage."""
    out: set[str] = set()
    for text in texts:
        text = unicodedata.normalize("NFKC", text)
        for m in _LATIN.finditer(text):
            whole = m.group(0)
            out.add(normalize(whole))
            out.update(normalize(part) for part in re.split(r"[-.]", whole) if part)
        out.update(normalize(_numbered(m)) for m in _NUMBERED.finditer(text))
        out.update(normalize(w) for w in _LATIN_WORD.findall(text) if len(w) >= 3)  # for Chinese questions
    return frozenset(out)


def as_written(anchor: str, question: str) -> str:
    """The anchor as the question spells it ("xer" -> "XER", "trec4" -> "TREC-4"), for messages."""
    text = unicodedata.normalize("NFKC", question)
    tokens = re.findall(r"[A-Za-z0-9]+|[\u4e00-\u9fff]", text)
    for size in (1, 2, 3):
        for i in range(len(tokens) - size + 1):
            if normalize("".join(tokens[i:i + size])) == anchor:
                found = re.search(r"[-.\s]*".join(map(re.escape, tokens[i:i + size])), text)
                return found.group(0) if found else anchor
    return anchor


def missing(question: str, known: frozenset[str]) -> list[str]:
    """The question's anchors that no passage of the library has (by prefix of a known one:
    "trec4" is found in "trec4b", "llama3" in "llama31")."""
    out = []
    for anchor in sorted(anchors(question)):
        if anchor in known:
            continue
        if not any(k.startswith(anchor) for k in known if len(k) > len(anchor)):
            out.append(anchor)
    return out
