"""Typed settings of the question-answering layer."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class QAConfig:
    """How questions are retrieved, answered and judged unanswerable.

    The fusion weights were chosen by measurement on mixed English/Chinese pools
    (``bench/xquad.py``) and the sample question set (``tests/data/sample_questions.jsonl``).
    """

    top_k: int = 5
    max_question_chars: int = 1000
    answer_sentences: int = 3
    depth: int = 100  # candidates taken from each (encoder, language) pool
    lexical_weight: float = 0.05  # BM25 only ever matches the question's own language: a tiebreaker
    encoder_weights: dict[str, float] = field(default_factory=dict)  # default 1.0 each
    answer_margin: float = 0.08  # extra sentences must score within this of the best one
    refusal_quantile: float = 0.9  # of the off-topic probes' confidences (qa.calibrate)
    # The encoder whose raw cosine is comparable across languages (USE is trained to be
    # language-neutral; e5's scores favour same-language text). It scores answer sentences
    # and decides whether the library answers at all; if the library lacks it, its first
    # encoder is used.
    neutral_encoder: str = "use-multilingual-v3"
    hubness_weight: float = 0.5  # CSLS: subtract this times a passage's hubness (qa.calibrate)
    hubness_k: int = 5
    language_bias_weight: float = 1.0  # share of each pool's measured language bias removed

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise ValueError(f"top_k must be at least 1, got {self.top_k}")
        if self.max_question_chars < 10:
            raise ValueError(f"max_question_chars must be at least 10, got {self.max_question_chars}")
        if not 1 <= self.answer_sentences <= 10:
            raise ValueError(f"answer_sentences must be 1..10, got {self.answer_sentences}")
        if self.depth < self.top_k:
            raise ValueError(f"depth ({self.depth}) must be at least top_k ({self.top_k})")
        if not 0.0 < self.refusal_quantile < 1.0:
            raise ValueError(f"refusal_quantile must be in (0, 1), got {self.refusal_quantile}")

    def weight(self, encoder: str) -> float:
        """The fusion weight of one encoder's normalized scores."""
        return self.encoder_weights.get(encoder, 1.0)
