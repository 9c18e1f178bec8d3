"""Is extracted text junk? Scores for text that extractors produce from broken fonts.

pypdf turns some Chinese PDFs into plausible-looking junk without an error: a GBK font
without a ToUnicode map becomes Latin-1 mojibake (``Ä¿ ¡¡ Â¼``), a broken CMap gives
rare ideographs and modifier letters (``Buyer˖哾㦓``). Such text is recognised by the share
of characters a real English or Chinese paper almost never contains.
"""

from __future__ import annotations

import unicodedata

GARBLED = 0.12  # share of suspicious characters above which a page is junk
_MIN_SUSPICIOUS = 2


def _common_hanzi(char: str) -> bool:
    """True for the ideographs of everyday Chinese (in GB2312 or Big5)."""
    for encoding in ("gb2312", "big5"):
        try:
            char.encode(encoding)
            return True
        except UnicodeEncodeError:
            pass
    return False


def _suspicious(char: str) -> bool:
    code = ord(char)
    if code == 0xFFFD or 0xE000 <= code <= 0xF8FF or 0xF0000 <= code:
        return True  # replacement and private-use characters
    if 0xA1 <= code <= 0xBF or char in "×÷":
        return True  # Latin-1 signs: GBK bytes read as Latin-1 (¡¡ is the GBK ideographic space)
    if 0x02B0 <= code <= 0x02FF or unicodedata.category(char) in ("Cc", "Co", "Cn"):
        return True  # spacing modifier letters (˖ for ：), controls, unassigned
    if 0x3400 <= code <= 0x9FFF or 0x20000 <= code <= 0x2FA1F:
        return not _common_hanzi(char)
    return False


def garble_score(text: str) -> float:
    """Share of suspicious characters among the letters and signs of ``text`` (0 = clean).

    ASCII digits, punctuation and spaces are left out of the count: they are the same in
    clean and broken extractions.
    """
    chars = [c for c in text if not c.isspace() and not (c.isascii() and not c.isalpha())]
    if not chars:
        return 0.0
    return _suspicious_count(chars) / len(chars)


def _suspicious_count(chars: list[str]) -> int:
    """Suspicious characters; accented Latin letters count only when they are most letters.

    French or German names in an English paper are a few accented letters among many
    plain ones; GBK mojibake is made of nothing else.
    """
    accented = sum(1 for c in chars if "\u00c0" <= c <= "\u00ff" and c not in "×÷")
    plain = sum(1 for c in chars if c.isascii())
    count = sum(1 for c in chars if _suspicious(c))
    return count + (accented if accented > 0.3 * (accented + plain) else 0)


def is_garbled(text: str) -> bool:
    """True when ``text`` looks like the junk of a broken font encoding."""
    chars = [c for c in text if not c.isspace() and not (c.isascii() and not c.isalpha())]
    return _suspicious_count(chars) >= _MIN_SUSPICIOUS and garble_score(text) > GARBLED


def repair_gbk_mojibake(text: str) -> str | None:
    """Undo GBK bytes read as Latin-1 (``Ä¿`` -> ``目``); None when ``text`` is not that."""
    try:
        return text.encode("latin-1").decode("gbk")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None
