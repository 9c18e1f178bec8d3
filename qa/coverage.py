"""How much of the question a sentence states, word by word, in either language.

Embedding similarity says a sentence is about the question's topic; it does not say the
sentence holds the asked-for fact. The sentence that does usually repeats the question's
specific words: its names and numbers, its rare terms, or their translations ("遗忘门" for
"forget gate"). Coverage is the share of the question's content terms (:mod:`qa.translate`)
that a sentence states in any of their forms, each term weighted by how rare it is in the
library (inverse document frequency), so "data" counts little and "YaRN" a lot.

It ranks the sentences an answer quotes, adds to a passage's evidence, and tells the
refusal decision whether the library states the question's specifics at all.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence

from paperbridge.qa.translate import QuestionTerms, Term


def form_df(form: Sequence[str], df: Mapping[str, Mapping[str, int]]) -> int:
    """Passages that may use a form (its rarest token's count, over every language)."""
    return min((sum(counts.get(tok, 0) for counts in df.values()) for tok in form), default=0)


def term_weight(term: Term, df: Mapping[str, Mapping[str, int]], passages: int) -> float:
    """A term's inverse document frequency: that of its most specific form the library uses,
    or of a word used once when no form is used at all (the library never states it)."""
    counts = [n for n in (form_df(f, df) for f in term.forms) if n > 0]
    found = min(counts) if counts else 1
    return math.log(1.0 + passages / found)


def weights(terms: QuestionTerms, df: Mapping[str, Mapping[str, int]], passages: int) -> list[float]:
    """Every term's weight (see :func:`term_weight`), in question order.

    Args:
        df: passages using each token, by language (``qa.calibrate.Calibration.words``).
        passages: passages in the library.
    """
    return [term_weight(t, df, max(1, passages)) for t in terms.terms]


def states(term: Term, tokens: Collection[str]) -> bool:
    """True when the tokens hold one of the term's forms whole."""
    return any(all(tok in tokens for tok in form) for form in term.forms)


def coverage(terms: QuestionTerms, term_weights: Sequence[float], tokens: Collection[str]) -> float:
    """The weighted share (0..1) of the question's terms the tokens state."""
    total = sum(term_weights)
    if total <= 0:
        return 0.0
    found = sum(w for t, w in zip(terms.terms, term_weights, strict=True) if states(t, tokens))
    return found / total
