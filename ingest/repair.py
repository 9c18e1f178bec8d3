"""Known defects of each PDF text extractor, undone before their texts are compared.

pypdfium2 and pypdf fail differently on the same fonts, and each failure has a fingerprint:

- pdfium ends lines with ``\\r\\n``, marks a line-end hyphenation with U+0002 and drops the
  line break there (``compen\\x02sating``), and hands out the glyph codes of TeX's OT1
  ligatures as control characters when a Type3 font has no Unicode map (``bene\\x0ccial``
  for "beneficial", ``e\\x0bect`` for "effect"); the same fonts put the en dash at ``{``.
- pypdf, on such a font, writes ``/`` before every digit and sign (``TREC/{/3``,
  ``/1/2/0``, ``4///3/3/0`` for 4/330) and breaks words where the font kerns
  (``Rob ertson``, ``do cuments``).

Formula debris (private-use pieces of large brackets and braces, control characters that
stood for Greek letters) is not text in any extraction: :func:`strip_debris` removes it so
that it never counts against a page whose prose reads well.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# TeX OT1 glyph codes 0x0B-0x0F: ff, fi, fl, ffi, ffl. 0x0D is also pdfium's line end, so it
# counts as "fl" only between two letters.
_LIGATURES = {"\x0b": "ff", "\x0c": "fi", "\x0d": "fl", "\x0e": "ffi", "\x0f": "ffl"}
_LIGATURE = re.compile(r"(?<=[A-Za-z])[\x0b-\x0f](?=[A-Za-z])|(?<![A-Za-z])[\x0b\x0c\x0e\x0f](?=[a-z]{2})")
_EN_DASH = re.compile(r"(?<=[A-Za-z0-9])\{ ?(?=[A-Za-z0-9])")
# pypdf's escapes: "/" before a digit or a sign, "//" for a real slash.
_SLASH_ESCAPE = re.compile(r"/(?=[0-9!-.:-@\[-`{-~])")
_ESCAPED = re.compile(r"/[0-9!-.:-@\[-`{-~]")
_HEX_ESCAPE = re.compile(r"/#([2-7][0-9A-F])")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_PUA = re.compile(r"[\ue000-\uf8ff\U000f0000-\U0010ffff\ufffd]")
_KERN_PAIR = re.compile(r"\b([A-Za-z]+) ([a-z]+)\b")


def repair_pdfium(text: str, is_word: Callable[[str], bool] | None = None) -> str:
    """pdfium's text with its line ends, hyphen marks, ligature codes and en dashes repaired.

    ``is_word`` lets words split by a kern be joined (pdfium does it too, more rarely).
    """
    text = text.replace("\r\n", "\n")
    text = text.replace("\x02", "-\n")  # the hyphenated line's break comes back, then joins
    text = _LIGATURE.sub(lambda m: _LIGATURES[m.group()], text)
    text = text.replace("\r", "\n")
    if "}" not in text:  # a font whose "{" is the en dash has no braces at all
        text = _EN_DASH.sub("-", text)
    return join_split_words(text, is_word) if is_word is not None else text


def repair_pypdf(text: str, is_word: Callable[[str], bool] | None = None) -> str:
    """pypdf's text with its slash escapes, ligature codes and kern-split words repaired.

    The slash escapes are undone only on a page where they are the rule (most slashes
    precede a digit or a sign), so that "TCP/IP" or "4/5" elsewhere are left alone.
    ``is_word`` (a vocabulary test) lets split words be joined (``b een`` -> ``been``).
    """
    text = _HEX_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)  # "/#28" is "("
    slashes = text.count("/")
    if slashes >= 8 and len(_ESCAPED.findall(text)) >= 0.6 * slashes:
        text = _SLASH_ESCAPE.sub("", text.replace("//", "\x00")).replace("\x00", "/")
    text = _LIGATURE.sub(lambda m: _LIGATURES[m.group()], text)
    if "}" not in text:
        text = _EN_DASH.sub("-", text)
    if is_word is not None:
        text = join_split_words(text, is_word)
    return text


def join_split_words(text: str, is_word: Callable[[str], bool]) -> str:
    """Join two pieces of one word that a kern split (``Rob ertson``, ``exp eriments``).

    Two neighbours are joined when the joined form is a word and one piece of two letters
    or more is not (``in to`` stays apart: both are words; ``choose n`` too: a lone letter
    is a formula's variable as often as a fragment). Repeated until nothing changes, so a
    word split twice (``mo di fied``) comes back whole.
    """

    def join(match: re.Match[str]) -> str:
        left, right = match.group(1), match.group(2)
        fragment = any(len(p) >= 2 and not is_word(p) for p in (left, right))
        if fragment and is_word(left + right):
            return left + right
        return match.group()

    for _ in range(3):
        joined = _KERN_PAIR.sub(join, text)
        if joined == text:
            break
        text = joined
    return text


def strip_debris(text: str) -> str:
    """Remove formula debris: private-use glyphs, control characters, replacement marks.

    Newlines and tabs stay; a line left empty by the removal stays empty (and is dropped
    later like any blank line).
    """
    text = _PUA.sub("", text)
    return _CONTROL.sub("", text.replace("\t", " "))
