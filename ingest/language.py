"""Which language a text is in: "en", "zh" or "mixed".

Long passages are judged by counting scripts (Chinese characters against English words,
both in token units), which is exact for these two languages and costs nothing. Short
texts such as a user's question carry too little evidence for counting alone, so they go
to lingua, restricted to English and Chinese and built once on first use.
"""

from __future__ import annotations

import functools
from typing import Any

from paperbridge.ingest.text import cjk_count, latin_words

# Below this many script units a text is "short" and lingua decides.
_SHORT = 40
# A passage is "mixed" when the minority script holds at least this share of the units.
_MIXED_SHARE = 0.25


@functools.cache
def _detector() -> Any:
    from lingua import Language, LanguageDetectorBuilder

    return LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.CHINESE).build()


def _by_scripts(zh: int, en: int) -> str:
    total = zh + en
    if total == 0:
        return "en"
    share_zh = zh / total
    if min(share_zh, 1 - share_zh) >= _MIXED_SHARE:
        return "mixed"
    return "zh" if share_zh > 0.5 else "en"


def _by_lingua(text: str) -> str:
    from lingua import Language

    values = {c.language: c.value for c in _detector().compute_language_confidence_values(text)}
    zh, en = values.get(Language.CHINESE, 0.0), values.get(Language.ENGLISH, 0.0)
    if zh == 0.0 and en == 0.0:
        return "en"
    if min(zh, en) >= _MIXED_SHARE:
        return "mixed"
    return "zh" if zh > en else "en"


def detect_language(text: str) -> str:
    """Return "en", "zh" or "mixed" for ``text``.

    A text with no letters at all counts as "en". Chinese characters count one unit each and
    English words 1.3 (their share of an embedding budget); "mixed" means both scripts hold a
    substantial share (a quarter or more).
    """
    zh = cjk_count(text)
    en = round(1.3 * len(latin_words(text)))
    if zh == 0 or en == 0:
        return "zh" if zh else "en"
    if zh + en < _SHORT:
        return _by_lingua(text)
    return _by_scripts(zh, en)
