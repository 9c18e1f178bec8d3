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


def normalize(anchor: str) -> str:
    """Lowercase, NFKC, separators dropped: "TREC-4", "trec 4" and "TREC4" are one anchor."""
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", anchor).lower())


def _numbered(match: re.Match[str]) -> str:
    if match.group(1):
        return f"第{match.group(1)}{match.group(2)}"
    return f"{match.group(3).lower()}{match.group(4)}"


def anchors(text: str) -> set[str]:
    """The normalized anchors of a text (a question or a passage).

    In Chinese text every Latin word of three letters or more is one too: whoever writes
    "Mamba" or "Overleaf" inside a Chinese question keeps the name as the documents write it.
    """
    text = unicodedata.normalize("NFKC", text)
    found = {normalize(m.group(0)) for m in _LATIN.finditer(text)}
    if _CJK.search(text):
        found |= {normalize(w) for w in _LATIN_WORD.findall(text) if len(w) >= 3}
    found |= {normalize(_numbered(m)) for m in _NUMBERED.finditer(text)}
    return {a for a in found if a not in _COMMON and len(a) >= 2 and not _ORDINARY.fullmatch(a)}


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
