"""Sentences and token counts of English and Chinese text.

Passages are cut at sentence boundaries and sized in embedding-model tokens. The sentences
that count as evidence for an answer (:func:`evidence_spans`) are defined here too, once:
the index embeds them when passages are written and the question-answering layer scores
and quotes them, and both must cut a passage into the same sentences.
"""

from __future__ import annotations

import math
import re

from paperbridge.ingest.text import cjk_count

_CLOSERS = "\"'”’）)】」』》\\]"
# A sentence ends after Chinese final punctuation (no space needed), or after . ! ? that is
# followed by a space (or the end), so "3.0%", "No.267" and "e.g.," stay inside.
_ZH_END = re.compile(rf"(?:[。！？；]|…+|\.{{3,}})[{_CLOSERS}]*")
_EN_END = re.compile(rf"[.!?]+[{_CLOSERS}]*(?=\s|$)")
_ABBREVIATIONS = frozenset(
    "no nos fig figs eq eqs ref refs vol vols pp p e.g i.e etc cf al vs mr mrs ms dr prof st "
    "jan feb mar apr jun jul aug sep sept oct nov dec approx dept univ inc ltd co corp sec ch"
    .split()
)
_TOKENS_PER_WORD = 1.3
#: Pieces shorter than this are no evidence of their own (list markers, "Fig. 3.", "1)").
MIN_SENTENCE_CHARS = 8
_QUESTION_CLOSERS = "\"'”’)）"


def _is_false_end(text: str, end: int, match: re.Match[str]) -> bool:
    """True when the '.' at ``match`` ends an abbreviation or an initial, not a sentence."""
    if not match.group().startswith(".") or match.group().startswith("..."):
        return False
    before = re.search(r"([A-Za-z][A-Za-z.]*)$", text[: match.start()])
    if before is None:
        return False
    word = before.group(1)
    if word.lower().rstrip(".") in _ABBREVIATIONS:
        return True
    # Initials such as "U. S." or "J. Smith": a single capital letter.
    if len(word) == 1 and word.isupper():
        return True
    following = text[end:].lstrip()
    # Lower-case after the stop: not a new sentence ("approx. five", "et al. showed").
    return bool(following) and following[0].islower()


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Character spans ``(start, end)`` of the sentences of ``text``, whitespace trimmed.

    Works on mixed English and Chinese text; spans never overlap and cover all of the
    non-space text.
    """
    ends: set[int] = set()
    for match in _ZH_END.finditer(text):
        ends.add(match.end())
    for match in _EN_END.finditer(text):
        if not _is_false_end(text, match.end(), match):
            ends.add(match.end())
    ends.add(len(text))
    spans = []
    start = 0
    for end in sorted(ends):
        piece = text[start:end]
        if piece.strip():
            lead = len(piece) - len(piece.lstrip())
            trail = len(piece) - len(piece.rstrip())
            spans.append((start + lead, end - trail))
        start = end
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (English and Chinese), stripped, in order.

    Example: ``split_sentences("研发强度为3.0%。No.267 report. It grew!")`` gives
    ``["研发强度为3.0%。", "No.267 report.", "It grew!"]``.
    """
    return [text[start:end] for start, end in sentence_spans(text)]


def count_tokens(text: str) -> int:
    """Approximate embedding-model tokens of ``text``.

    About one token per Chinese character and 1.3 per English word (sub-word pieces);
    numbers and other symbols count as words. Cheap enough to call per sentence.
    """
    cjk = cjk_count(text)
    others = len(re.findall(r"[^\W\u3400-\u9fff\uf900-\ufaff]+", text))
    symbols = len(re.findall(r"[^\w\s]", text))
    return cjk + math.ceil(_TOKENS_PER_WORD * others + 0.25 * symbols)


def evidence_spans(text: str) -> list[tuple[int, int, bool]]:
    """The sentences of a passage that can be evidence: ``(start, end, is_question)``.

    Sentences of :func:`split_sentences` in order, pieces under :data:`MIN_SENTENCE_CHARS`
    characters skipped; a passage with none of that length is one sentence, its whole
    stripped text. ``is_question`` marks sentences ending in a question mark (an FAQ or an
    exercise restates a question without answering it). The index stores one vector per
    span (``paperbridge.index.sentences``) and ``qa.evidence`` reads them by position, so
    this function must stay the one place that decides the spans.
    """
    found: list[tuple[int, int, bool]] = []
    cursor = 0
    for raw in split_sentences(text):
        sentence = raw.strip()
        at = text.find(sentence, cursor)
        if at < 0 or len(sentence) < MIN_SENTENCE_CHARS:
            continue
        cursor = at + len(sentence)
        found.append((at, cursor, is_question(sentence)))
    if not found and text.strip():
        whole = text.strip()
        at = text.find(whole)
        found.append((at, at + len(whole), False))
    return found


def is_question(sentence: str) -> bool:
    """True when the sentence ends in a question mark (closing quotes or brackets aside)."""
    return sentence.rstrip(_QUESTION_CLOSERS).endswith(("?", "？"))
