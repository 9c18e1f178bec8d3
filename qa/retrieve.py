"""Retrieval: candidates from every encoder and BM25, ranked by sentence-level evidence.

Measured on real documents (``bench/realdocs.py``), three things decide the ranking:

* **Where the fact is written.** A question asks for one fact, stated in one sentence of a
  long paragraph; the paragraph's embedding averages that sentence with the others, so a
  short heading or table header on the same topic outscores it. The top candidates are
  therefore re-scored by their best sentence (:mod:`qa.evidence`), blended with the
  passage score.
* **What a passage is.** Tables of contents, reference lists, indexes and page furniture
  sit close to every question on their topic (they list its words) and never answer one.
  Only the answer kinds (``ingest.ANSWER_KINDS``: body, captions, tables) compete unless the
  caller asks for other kinds.
* **Which document the question names** (:mod:`qa.documents`): "the DeepSeek-V3 report",
  "《大语言模型综述》", "Shannon's 1948 paper" lift that document's passages.

Scores are cosines of the language-neutral encoder (USE multilingual: its cosines are
comparable across languages, unlike e5's, which favour the question's own language), so
English and Chinese passages compete on one scale without per-library normalization. e5
and BM25 add what they see within each language pool (a z-score over the pool's
candidates, positive part only), with small weights.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field

import numpy as np

from paperbridge.index import Library, StoredPassage
from paperbridge.index.lexical import tokenize
from paperbridge.index.lexicon import Lexicon, load_lexicon
from paperbridge.ingest import ANSWER_KINDS, detect_language
from paperbridge.ingest.errors import ModelError
from paperbridge.qa.config import QAConfig
from paperbridge.qa.coverage import coverage, weights
from paperbridge.qa.documents import DocumentNames, asks_for_authors
from paperbridge.qa.evidence import Sentence, SentenceCache
from paperbridge.qa.translate import QuestionTerms, question_terms

log = logging.getLogger(__name__)

_MIN_POOL = 8  # below this many candidates, a pool's score spread is too noisy to normalize by
# Signals that are not e5's z-scores (every other key of a hit's signals is an e5 encoder's).
_NOT_E5 = frozenset({"dense", "bm25", "cross", "sentence", "coverage", "passage_coverage", "similarity",
                     "authors"})


@dataclass(frozen=True)
class Hit:
    """A retrieved passage id with its score and the signals that made it."""

    passage_id: int
    score: float
    signals: dict[str, float]
    sentence: int = -1  # index of its best sentence (``qa.evidence.sentences_of``), -1 if unscored


@dataclass(frozen=True)
class Retrieval:
    """The hits for a question, best first, and what the refusal decision needs.

    ``evidence`` is the best sentence similarity among the hits (language-neutral encoder);
    ``named`` the documents the question names, with how clearly.
    """

    hits: list[Hit]
    question_lang: str  # "en", "zh" or "mixed"
    evidence: float = -1.0
    named: dict[str, float] = field(default_factory=dict)
    terms: QuestionTerms | None = None  # the question's content terms (qa.translate)
    weights: tuple[float, ...] = ()  # each term's weight (qa.coverage)
    coverage: float = 0.0  # the best share of the question's terms one of the top hits states
    gap: float = 0.0  # how far the best hit's score stands above the pack (ranks 6-30)
    authors: float = 0.0  # the share of a named document's authors the best hit lists, when asked


def _positive_z(results: Sequence[tuple[int, float]]) -> dict[int, float]:
    """Scores as z-scores within their list, negatives cut to 0 (only positive evidence counts)."""
    if len(results) < 2:
        return {pid: 0.0 for pid, _ in results}
    arr = np.asarray([s for _, s in results], dtype=np.float64)
    mean, std = float(arr.mean()), max(float(arr.std()), 1e-3)
    return {pid: max(0.0, (s - mean) / std) for pid, s in results}


class Retriever:
    """Ranks one library's passages for a question (thread-safe)."""

    def __init__(self, library: Library, config: QAConfig,
                 words: Callable[[], dict[str, dict[str, int]]] | None = None) -> None:
        """Args:
            words: the library's BM25 words by language (``qa.calibrate``), to translate
                questions into words its passages use; None translates without that check.
        """
        self.library = library
        self.config = config
        self._words = words
        self._lexicon: Lexicon | None = None
        self._no_lexicon = False
        self._sentences: SentenceCache | None = None
        self._meta: dict[int, StoredPassage] = {}
        self._tokens: dict[tuple[int, tuple[int, int]], frozenset[str]] = {}
        self._meta_lock = threading.Lock()
        self.names = DocumentNames(library, self)

    # ---- encoders ------------------------------------------------------------------------
    def encode(self, question: str) -> dict[str, np.ndarray]:
        """Query vectors of every encoder of the library, by encoder name (each (dim,))."""
        return {name: enc.encode_queries([question])[0] for name, enc in self.library.encoders.items()}

    def neutral_encoder(self) -> str:
        """Name of the encoder whose raw cosines are comparable across languages."""
        names = list(self.library.encoders)
        return self.config.neutral_encoder if self.config.neutral_encoder in names else names[0]

    def sentences(self) -> SentenceCache:
        """The sentence cache of the neutral encoder."""
        if self._sentences is None:
            self._sentences = SentenceCache(self.library.encoders[self.neutral_encoder()])
        return self._sentences

    def pools(self, langs: Collection[str] | None) -> list[str]:
        """The languages present in the library, those in ``langs`` only if given."""
        present = [lang for lang, n in self.library.languages().items() if n > 0]
        return [lang for lang in present if langs is None or lang in langs]

    def lexicon(self) -> Lexicon | None:
        """The bilingual lexicon, or None when it cannot be built (then questions are not
        translated: a warning says why, and retrieval goes on with the encoders and BM25)."""
        if self._lexicon is None and not self._no_lexicon:
            try:
                self._lexicon = load_lexicon()
            except ModelError as err:
                log.warning("Questions are not translated word by word: %s", err)
                self._no_lexicon = True
        return self._lexicon

    def terms(self, question: str) -> QuestionTerms:
        """The question's content terms with their translations into the other language,
        keeping only translations some passage of that language uses, or that name a
        document's author (香农 -> "shannon", the author of a paper that never writes his name)."""
        words = self._words() if self._words is not None else None
        names = self.names.author_words() if words is not None else frozenset()

        def known(tokens: tuple[str, ...], lang: str) -> bool:
            if words is None:
                return True
            return all(t in words.get(lang, ()) for t in tokens) or (len(tokens) == 1 and tokens[0] in names)

        return question_terms(question, self.lexicon(), known)

    # ---- search --------------------------------------------------------------------------
    def search(
        self,
        question: str,
        k: int,
        *,
        doc_ids: Collection[str] | None = None,
        langs: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
        vectors: dict[str, np.ndarray] | None = None,
    ) -> Retrieval:
        """The k best passages for a question, best first.

        Args:
            question: the user's question, any language.
            k: how many hits to return.
            doc_ids: only search these documents.
            langs: only search passages in these languages ("en", "zh", "mixed").
            kinds: passage kinds that may answer (default ``ingest.ANSWER_KINDS``).
            vectors: precomputed query vectors (from :meth:`encode`), to encode once.
        """
        vectors = vectors if vectors is not None else self.encode(question)
        question_lang = detect_language(question)
        allowed = frozenset(kinds) if kinds is not None else frozenset(ANSWER_KINDS)
        terms = self.terms(question)
        translated = [sense[0] for t in terms.terms for sense in t.senses if len(sense) == 1]
        named = self.names.named(question, vectors, translated)
        # Words that name the document say which one, not which of its sentences answers:
        # they count for no coverage, and the named document is also searched without them,
        # so that its title page and tables full of its name do not crowd out the passage
        # that states the fact.
        naming = [bool(named) and self.names.names_a_document(t.word, named) for t in terms.terms]
        signals = self._candidates(question, terms, vectors, self.pools(langs), doc_ids, allowed)
        if not signals:
            return Retrieval([], question_lang, terms=terms)
        first = self._first_stage(signals, named)[: max(k, self.config.rerank_depth)]
        first += self._closest_sentences(signals, first, vectors, named)
        if any(naming) and self.config.named_depth > 0:
            first += self._inside_named(question, terms, naming, named, vectors, langs, doc_ids, allowed,
                                        {h.passage_id for h in first})
        if named and asks_for_authors(question):
            first = self._with_authors(first, named, doc_ids, langs, allowed)
        weights = tuple(0.0 if name else w
                        for name, w in zip(naming, self.weights(terms), strict=True))
        hits = self._distinct(self._rerank(first, vectors, named, terms, weights))
        top = hits[: self.config.evidence_depth]
        evidence = max((h.signals.get("similarity", -1.0) for h in top), default=-1.0)
        best = max((h.signals.get("passage_coverage", 0.0) for h in top), default=0.0)
        authors = hits[0].signals.get("authors", 0.0) if hits else 0.0
        return Retrieval(hits[:k], question_lang, evidence, named, terms, weights, best, _gap(hits), authors)

    def _closest_sentences(self, signals: dict[int, dict[str, float]], first: list[Hit],
                           vectors: dict[str, np.ndarray], named: dict[str, float]) -> list[Hit]:
        """The ``sentence_depth`` candidates below the rerank cut whose best stored sentence is
        closest to the question. A long paragraph that states the fact in one of its sentences
        ranks low as a whole ("There is one important difference between the continuous and
        discrete entropies" opens a page-long paragraph of Shannon's), and only the rerank
        looks at sentences."""
        depth = self.config.sentence_depth
        seen = {h.passage_id for h in first}
        rest = [pid for pid in signals if pid not in seen]
        if depth <= 0 or not rest:
            return []
        meta = self.meta(rest)
        vector = vectors[self.neutral_encoder()]
        stored = self.sentences().stored([meta[pid] for pid in rest])
        closest = sorted(((float(np.max(vecs @ vector)), pid) for pid, (sentences, vecs) in stored.items()
                          if len(sentences)), reverse=True)
        return self._first_stage({pid: signals[pid] for _, pid in closest[:depth]}, named)

    def _inside_named(self, question: str, terms: QuestionTerms, naming: Sequence[bool],
                      named: dict[str, float], vectors: dict[str, np.ndarray],
                      langs: Collection[str] | None, doc_ids: Collection[str] | None,
                      kinds: frozenset[str], seen: set[int]) -> list[Hit]:
        """The best ``named_depth`` passages of the named documents for the question without
        the words that name them, that are not candidates already."""
        inside = [d for d in named if doc_ids is None or d in doc_ids]
        if not inside:
            return []
        query, query_terms = _content(question, terms, naming)
        extra = self._candidates(query, query_terms, vectors, self.pools(langs), inside, kinds,
                                 depth=self.config.named_depth)
        return self._first_stage({pid: sig for pid, sig in extra.items() if pid not in seen}, named)

    def _with_authors(self, first: list[Hit], named: dict[str, float], doc_ids: Collection[str] | None,
                      langs: Collection[str] | None, kinds: frozenset[str]) -> list[Hit]:
        """The candidates plus the passages that list a named document's authors (of the
        languages and kinds asked for), each marked with the share of its authors it names
        (the ``authors`` signal)."""
        listed = self.names.author_passages([d for d in named if doc_ids is None or d in doc_ids])
        meta = self.meta(list(listed))
        listed = {pid: share for pid, share in listed.items()
                  if meta[pid].passage_kind in kinds and (langs is None or meta[pid].lang in langs)}
        if not listed:
            return first
        floor = min((h.signals["dense"] for h in first), default=0.0)
        seen = {h.passage_id for h in first}
        first = first + [Hit(pid, floor, {"dense": floor}) for pid in listed if pid not in seen]
        for hit in first:
            if hit.passage_id in listed:
                hit.signals["authors"] = listed[hit.passage_id]
        return first

    def weights(self, terms: QuestionTerms) -> list[float]:
        """Each term's weight in the library (its rarity, :func:`qa.coverage.weights`)."""
        words = self._words() if self._words is not None else {}
        return weights(terms, words, sum(self.library.languages().values()))

    def sentence_coverage(self, cached: Sequence[tuple[Sequence[Sentence], np.ndarray]],
                          terms: QuestionTerms, term_weights: Sequence[float]) -> list[np.ndarray]:
        """Per passage, the coverage (0..1) of the question's terms by each of its sentences.

        Args:
            cached: per passage, its sentences and their vectors (:meth:`SentenceCache.get`);
                the coverage arrays follow those sentences one to one.
        """
        return [_coverages(terms, term_weights, self._tokens_of(sentences)) for sentences, _ in cached]

    def _tokens_of(self, sentences: Sequence[Sentence]) -> list[frozenset[str]]:
        """Sentences as BM25 token sets, cached by passage id and span."""
        out = []
        for sentence in sentences:
            key = (sentence.passage_id, sentence.span)
            with self._meta_lock:
                found = self._tokens.get(key)
            if found is None:
                found = frozenset(tokenize(sentence.text))
                with self._meta_lock:
                    if len(self._tokens) > 200_000:
                        self._tokens.clear()
                    self._tokens[key] = found
            out.append(found)
        return out

    def _candidates(
        self,
        question: str,
        terms: QuestionTerms,
        vectors: dict[str, np.ndarray],
        pools: list[str],
        doc_ids: Collection[str] | None,
        kinds: frozenset[str],
        depth: int | None = None,
    ) -> dict[int, dict[str, float]]:
        """Every candidate passage of an allowed kind, with its signals by name."""
        signals: dict[int, dict[str, float]] = {}
        neutral = self.neutral_encoder()
        depth = depth or self.config.depth
        for lang in pools:
            for name, vec in vectors.items():
                found = self.library.dense_search(name, vec, depth, lang=lang, doc_ids=doc_ids)
                found = self._keep(found, kinds)
                if name == neutral:
                    for pid, score in found:
                        signals.setdefault(pid, {})["dense"] = score
                elif len(found) >= _MIN_POOL:
                    for pid, z in _positive_z(found).items():
                        signals.setdefault(pid, {})[name] = z
            lexical = self._keep(
                [
                    h
                    for h in self.library.lexical_search(question, depth, lang=lang, doc_ids=doc_ids)
                    if h[1] > 0
                ],
                kinds,
            )
            for pid, z in _positive_z(lexical).items():
                signals.setdefault(pid, {})["bm25"] = z
            for pid, z in self._crossed(terms.query(lang), lang, depth, doc_ids, kinds).items():
                signals.setdefault(pid, {})["cross"] = z
        # Candidates found by e5 or BM25 only score the lowest neutral cosine seen: they were
        # not among its best ``depth`` of any pool.
        floor = min((sig["dense"] for sig in signals.values() if "dense" in sig), default=0.0)
        for sig in signals.values():
            sig.setdefault("dense", floor)
        return signals

    def _crossed(self, query: str, lang: str, depth: int, doc_ids: Collection[str] | None,
                 kinds: frozenset[str]) -> dict[int, float]:
        """BM25 of the question's translated words in a pool of the other language, as
        positive z-scores (empty when the question is in the pool's language)."""
        if not query or self.config.cross_weight <= 0:
            return {}
        found = self.library.lexical_search(query, depth, lang=lang, doc_ids=doc_ids)
        return _positive_z(self._keep([h for h in found if h[1] > 0], kinds))

    def _keep(self, found: list[tuple[int, float]], kinds: frozenset[str]) -> list[tuple[int, float]]:
        meta = self.meta([pid for pid, _ in found])
        return [(pid, s) for pid, s in found if meta[pid].passage_kind in kinds]

    def meta(self, ids: Sequence[int]) -> dict[int, StoredPassage]:
        """Stored passages by id, cached (ids are never reused within a library)."""
        with self._meta_lock:
            missing = [pid for pid in ids if pid not in self._meta]
        if missing:
            fetched = self.library.passages(missing)
            with self._meta_lock:
                if len(self._meta) > 200_000:
                    self._meta.clear()
                self._meta.update({p.id: p for p in fetched})
        with self._meta_lock:
            return {pid: self._meta[pid] for pid in ids}

    def _prior(self, sig: dict[str, float], pid: int, named: dict[str, float]) -> float:
        """What the first and second stage share: e5, BM25, the named-document lift, and a
        penalty for very short passages (headings, captions, table headers: close to every
        question on their topic, and too short to state an answer)."""
        cfg = self.config
        e5 = sum(v for key, v in sig.items() if key not in _NOT_E5)
        passage = self._meta[pid]
        short = cfg.short_penalty * max(0.0, 1.0 - len(passage.text) / cfg.short_chars)
        return (
            cfg.e5_weight * e5
            + cfg.lexical_weight * sig.get("bm25", 0.0)
            + cfg.cross_weight * sig.get("cross", 0.0)
            + cfg.named_weight * named.get(passage.doc_id, 0.0)
            + cfg.authors_weight * sig.get("authors", 0.0)
            - short
        )

    def _first_stage(self, signals: dict[int, dict[str, float]], named: dict[str, float]) -> list[Hit]:
        hits = [Hit(pid, sig["dense"] + self._prior(sig, pid, named), sig) for pid, sig in signals.items()]
        hits.sort(key=lambda h: -h.score)
        return hits

    def _rerank(self, hits: list[Hit], vectors: dict[str, np.ndarray], named: dict[str, float],
                terms: QuestionTerms, term_weights: Sequence[float]) -> list[Hit]:
        """Blend each hit's passage score with its best sentence's: the sentence most similar
        to the question that also states most of its terms (:mod:`qa.coverage`)."""
        passages = list(self.meta([h.passage_id for h in hits]).values())
        vector = vectors[self.neutral_encoder()]
        cfg = self.config
        out = []
        for hit, (sentences, vecs) in zip(hits, self.sentences().get(passages), strict=True):
            tokens = self._tokens_of(sentences)
            sims = vecs @ vector if len(sentences) else np.zeros(0)
            # The sentence that adds most to the passage's score below: similarity weighted
            # by sentence_weight, coverage by coverage_weight.
            score, index, best_cov = _best_sentence(sentences, sims, _coverages(terms, term_weights, tokens),
                                                   cfg.coverage_weight / max(cfg.sentence_weight, 1e-6))
            passage_cov = coverage(terms, term_weights, frozenset().union(*tokens))
            sig = {**hit.signals, "sentence": score, "coverage": best_cov, "passage_coverage": passage_cov,
                   "similarity": _most_similar(sentences, sims)}
            blended = (1 - cfg.sentence_weight) * sig["dense"] + cfg.sentence_weight * score
            blended += cfg.coverage_weight * best_cov
            out.append(Hit(hit.passage_id, blended + self._prior(sig, hit.passage_id, named), sig, index))
        out.sort(key=lambda h: -h.score)
        return out

    def _distinct(self, hits: list[Hit]) -> list[Hit]:
        """The hits without repeats: a passage whose text its document already gave at a
        better rank (a manual's "Returns: ASN1_SUCCESS if successful", a clause repeated
        word for word) adds no evidence and would take a citation from another passage."""
        meta = self.meta([h.passage_id for h in hits])
        seen: set[tuple[str, str]] = set()
        out = []
        for hit in hits:
            passage = meta[hit.passage_id]
            key = (passage.doc_id, " ".join(passage.text.split()))
            if key not in seen:
                seen.add(key)
                out.append(hit)
        return out


def _content(question: str, terms: QuestionTerms, naming: Sequence[bool]) -> tuple[str, QuestionTerms]:
    """The question's words for BM25 without those that name a document ("DeepSeek-V3 的分词器
    词表有多大？" asks BM25 for 分词器 词表), and its terms without them; the whole question when
    every term names one."""
    if not any(naming) or all(naming):
        return question, terms
    text = question
    for term, name in zip(terms.terms, naming, strict=True):
        if name:
            text = re.sub(re.escape(term.word), " ", text, flags=re.IGNORECASE)
    kept = tuple(t for t, name in zip(terms.terms, naming, strict=True) if not name)
    return text, QuestionTerms(terms.lang, kept)


def _coverages(terms: QuestionTerms, term_weights: Sequence[float],
               tokens: Sequence[frozenset[str]]) -> np.ndarray:
    """The coverage (0..1) of the question's terms by each sentence's tokens."""
    return np.asarray([coverage(terms, term_weights, t) for t in tokens], dtype=np.float64)


def _gap(hits: Sequence[Hit]) -> float:
    """The best hit's score minus the median score of ranks 6-30 (of ranks 2.. in a library
    too small for that): a question the library answers has a passage that stands out; an
    on-topic question it cannot answer gets many passages about equally close."""
    if len(hits) < 2:
        return 0.0
    pack = [h.score for h in hits[5:30]] or [h.score for h in hits[1:]]
    return float(hits[0].score - np.median(pack))


def _most_similar(sentences: Sequence[Sentence], sims: np.ndarray) -> float:
    """The highest similarity of a sentence that is not itself a question (-1 if none)."""
    values = [float(v) for s, v in zip(sentences, sims, strict=True) if not s.is_question]
    return max(values, default=-1.0)


def _best_sentence(sentences: Sequence[Sentence], sims: np.ndarray, cov: np.ndarray,
                   cov_weight: float) -> tuple[float, int, float]:
    """(similarity, index, coverage) of the sentence with the best similarity plus weighted
    coverage; sentences that are questions never count (an FAQ restates the question)."""
    if not len(sentences):
        return -1.0, -1, 0.0
    combined = np.where([s.is_question for s in sentences], -np.inf, sims + cov_weight * cov)
    if not np.isfinite(combined).any():
        return -1.0, -1, 0.0
    best = int(np.argmax(combined))
    return float(sims[best]), best, float(cov[best])
