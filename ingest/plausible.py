"""How plausible an extracted text is as prose in English and Chinese.

Two extractors reading the same page through a broken font map give different junk, and
both junks can look like text. What they cannot fake is the statistics of real language:

- Chinese prose is made of the few thousand ideographs of everyday writing (GB2312 level 1,
  Big5's frequently used set); a wrong map gives rare ideographs (``濄漕澻``), Bopomofo,
  Tifinagh, or letters of other scripts (Indic, Tibetan, Georgian, Hangul Jamo ...).
- English prose is made of dictionary words (wordfreq's English list); a kern-split or a
  glued text is made of fragments (``b een``, ``exp eriments``).

:func:`plausibility` counts the units that speak for the text and those against it.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from paperbridge.ingest.text import is_cjk

_WORD = re.compile(r"[A-Za-z]+")
_TOKEN = re.compile(r"\S+")
_MACRO = re.compile(r"\\[A-Za-z@_:]+")
_SPACED_LETTERS = re.compile(r"(?<![A-Za-z])(?:[A-Za-z] ){3,}[A-Za-z](?![A-Za-z])")
_ESCAPE = re.compile(r"/[0-9{}()\[\],.;:=+\-]|/#[0-9A-F]{2}")
_VOCABULARY_SIZE = 200_000
_COMMON_SIZE = 40_000
_GLUED = 12  # an unknown word this long is mostly several words without their spaces
# Letters that belong in an English or Chinese paper: Latin, Greek (mathematics), Han.
_OWN_SCRIPTS = ("LATIN", "GREEK", "CJK", "FULLWIDTH", "MATHEMATICAL", "DOUBLE-STRUCK", "SCRIPT")


@dataclass(frozen=True)
class Plausibility:
    """Evidence for and against a text being real prose (in units of words / ideographs)."""

    good: float
    bad: float
    script_good: float = 0.0  # of which: common ideographs
    script_bad: float = 0.0  # of which: rare ideographs and letters of other scripts; a
    # broken font map shows here, while unknown words alone may be code or an index

    @property
    def score(self) -> float:
        """Share of the evidence that speaks for the text (1.0 for no evidence either way)."""
        total = self.good + self.bad
        return self.good / total if total else 1.0

    @property
    def evidence(self) -> float:
        """How much there was to judge."""
        return self.good + self.bad


@functools.cache
def english_words() -> frozenset[str]:
    """Lower-cased English words in use (wordfreq's list), loaded once."""
    from wordfreq import top_n_list

    return frozenset(w for w in top_n_list("en", _VOCABULARY_SIZE) if w.isascii() and w.isalpha())


@functools.cache
def common_english_words() -> frozenset[str]:
    """The most frequent English words (wordfreq): safe targets for joining split words."""
    from wordfreq import top_n_list

    return frozenset(w for w in top_n_list("en", _COMMON_SIZE) if w.isascii() and w.isalpha())


def is_common_english_word(word: str) -> bool:
    """True for a frequent English word (any case); misspellings such as "choosen" are not."""
    return len(word) > 1 and word.lower() in common_english_words()


def is_english_word(word: str) -> bool:
    """True when ``word`` (any case) is an English word in use; single letters only a/I."""
    if len(word) == 1:
        return word in "aAI"
    return word.lower() in english_words()


@functools.cache
def is_common_hanzi(char: str) -> bool:
    """True for an ideograph of everyday Chinese: GB2312 level 1 or Big5's frequent set."""
    try:
        code = char.encode("gb2312")
        if 0xB0 <= code[0] <= 0xD7:
            return True
    except UnicodeEncodeError:
        pass
    try:
        big5 = char.encode("big5")
        return 0xA440 <= int.from_bytes(big5, "big") <= 0xC67E
    except UnicodeEncodeError:
        return False


@functools.cache
def _foreign(char: str) -> bool:
    """A letter or sign of a script that an English or Chinese paper does not use."""
    code = ord(char)
    if code < 0x250 or is_cjk(char) or 0x2100 <= code <= 0x214F:
        return False  # Latin, Han, letterlike symbols of mathematics (ℎ, ℓ, ℝ)
    if 0x3100 <= code <= 0x312F or 0x2D30 <= code <= 0x2DFF or 0x2E00 <= code <= 0x2E7F:
        return True  # Bopomofo, Tifinagh / Ethiopic extended, supplemental punctuation
    if not char.isalpha():
        return False
    name = unicodedata.name(char, "")
    return not name.startswith(_OWN_SCRIPTS) and not 0x3040 <= code <= 0x30FF


def plausibility(text: str) -> Plausibility:
    """Evidence that ``text`` is English or Chinese prose rather than a broken font's junk.

    For: common ideographs, dictionary words. Against: rare ideographs, letters of other
    scripts, fragments that are no word (lower-case non-words, stray single letters),
    slash escapes. Capitalised unknown words (names, acronyms) count neither way.
    """
    good = bad = 0.0
    script_good, script_bad = _script_evidence(text)
    spaced = _SPACED_LETTERS.findall(text)
    bad += sum(len(run.replace(" ", "")) for run in spaced)  # "d o c u m e n t": lost spacing
    text = _MACRO.sub(" ", _SPACED_LETTERS.sub(" ", text))  # \section is code, no evidence
    good, bad = good + script_good, bad + script_bad
    for word in _WORD.findall(text):
        if is_english_word(word):
            good += 1
        elif len(word) == 1:
            bad += 0.3  # a stray letter: a split word, or a formula's variable
        elif word.islower() or (len(word) >= _GLUED and not word.isupper()):
            bad += 1  # a fragment, or words glued together ("orbyanymeans", "OxfordEnglishDict")
    bad += len(_ESCAPE.findall(text))
    return Plausibility(good, bad, script_good, script_bad)


def _script_evidence(text: str) -> tuple[float, float]:
    """(common ideographs, rare ideographs + letters of other scripts) in ``text``."""
    good = bad = 0.0
    for char in text:
        if is_cjk(char):
            if is_common_hanzi(char):
                good += 1
            else:
                bad += 1
        elif _foreign(char):
            bad += 1
    return good, bad


def _script(char: str) -> str:
    """The first word of a character's Unicode name: its script, roughly ("HANGUL", "ARMENIAN")."""
    return unicodedata.name(char, "?").split(" ", 1)[0]


def drop_stray_letters(text: str) -> str:
    """Remove letters of other scripts that sit in a token of mixed scripts (a font's junk).

    ``ͩNjƂֻ뻭`` mixes Greek marks, Hebrew points and Hangul: no writing system does that,
    a broken glyph map does. A run of one foreign script (a Russian name, a Korean
    title) is kept.
    """
    if text.isascii():
        return text

    def clean(match: re.Match[str]) -> str:
        token = match.group()
        foreign = [c for c in token if _foreign(c) or unicodedata.combining(c)]
        if not foreign:
            return token
        scripts = {_script(c) for c in token if c.isalpha() or unicodedata.combining(c)}
        if len(scripts) <= 1:
            return token
        return "".join(c for c in token if not (_foreign(c) or unicodedata.combining(c)))

    return _TOKEN.sub(clean, text)
