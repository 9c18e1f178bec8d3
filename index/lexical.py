"""The lexical (BM25) half of retrieval, for English and Chinese in one index.

Words the embedding models blur (names, numbers, rare terms) are found by BM25. Chinese has
no spaces, so CJK runs are segmented with jieba (search mode: it also emits the short words
inside long ones, which measured better on XQuAD zh, see :data:`JIEBA_MODE`); Latin runs are
lowercased and stemmed with PyStemmer's English stemmer. A mixed passage keeps both kinds of
token. Scoring is bm25s's, never hand-written.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import jieba
import numpy as np
import Stemmer

from paperbridge.ingest.text import quiet

# bm25s sets its own logger to DEBUG when imported, which floods an application's stderr.
# Undo exactly that: the logger keeps whatever level the application gave it before.
_bm25s_level = logging.getLogger("bm25s").level
import bm25s  # noqa: E402

logging.getLogger("bm25s").setLevel(_bm25s_level)

_log = logging.getLogger(__name__)

#: "search" (jieba.cut_for_search) or "plain" (jieba.cut). Measured on XQuAD zh (1190 questions
#: -> gold paragraph among 240, BM25): plain R@1 0.920 R@5 0.989, search R@1 0.918 R@5 0.989, a
#: tie; search is kept because it also matches the parts of long compounds a question may split.
#: English stemming measured on XQuAD en: stemmed R@1 0.934 R@5 0.987, unstemmed 0.926 / 0.985.
JIEBA_MODE = "search"

_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[A-Za-z0-9]+(?:[.'][A-Za-z0-9]+)*")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_EN_STOP = frozenset(
    "a an and are as at be but by for if in into is it its of on or such that the their then "
    "there these they this to was were will with what which who whom how why when where do does "
    "did from has have had not no can we our you your i he she his her them than so".split()
)
_ZH_STOP = frozenset(
    "的 了 是 在 和 与 及 或 也 都 而 就 被 把 对 从 这 那 之 其 于 为 以 中 个 吗 呢 吧 啊".split()
)


@cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


_jieba_lock = threading.Lock()
_jieba_tokenizer: list[jieba.Tokenizer] = []  # the one tokenizer, once its dictionary is loaded


def _jieba() -> jieba.Tokenizer:
    """jieba with its dictionary loaded (~0.9 s the first time in a process, then free)."""
    if not _jieba_tokenizer:
        with _jieba_lock:  # a writer and the UI's askers (threads) may come first at once
            if not _jieba_tokenizer:
                tokenizer = jieba.Tokenizer()
                with quiet(logging.getLogger("jieba")):
                    tokenizer.initialize()
                _jieba_tokenizer.append(tokenizer)
    return _jieba_tokenizer[0]


def load_dictionary() -> None:
    """Load jieba's dictionary now, unless it is loaded (~0.6-0.9 s, once per process).

    A write calls this before it takes its first document: when files are read ahead, the
    dictionary then loads while the reading process starts and parses the first file. A
    background thread would not do: loading holds the GIL for long stretches, and stalled
    the thread that starts the reading process (by 0.6 s, measured).
    """
    _jieba()


def stem(word: str) -> str:
    """One lowercase English word as BM25 indexes it ("biases" -> "bias")."""
    return str(_stemmer().stemWord(word.lower()))


def stopword(word: str) -> bool:
    """True for words BM25 leaves out (English or Chinese function words)."""
    return word.lower() in _EN_STOP or word in _ZH_STOP


def segment(text: str) -> list[str]:
    """Chinese text cut into words (jieba's precise mode), punctuation and spaces dropped."""
    return [w for w in _jieba().cut(text) if w.strip()]


def tokenize(text: str, mode: str = JIEBA_MODE) -> list[str]:
    """Turn English, Chinese or mixed text into BM25 tokens.

    Args:
        text: any text; CJK runs and Latin runs are tokenized separately and both kept.
        mode: jieba mode for CJK runs, "search" or "plain".

    Returns:
        Tokens in text order: stemmed lowercase English words, Chinese words, digits.
    """
    tokens: list[str] = []
    for run in _RUN.findall(text):
        if _CJK.match(run):
            cut = _jieba().cut_for_search(run) if mode == "search" else _jieba().cut(run)
            tokens.extend(w for w in cut if w.strip() and w not in _ZH_STOP)
        else:
            word = run.lower()
            if word not in _EN_STOP:
                tokens.append(_stemmer().stemWord(word))
    return tokens


class LexicalIndex:
    """BM25 over the library's passages; row ``i`` of bm25s is passage ``ids[i]``."""

    def __init__(self, bm25: bm25s.BM25 | None, ids: np.ndarray) -> None:
        self._bm25 = bm25
        self.ids = ids

    @classmethod
    def build(cls, ids: Sequence[int], token_lists: Sequence[list[str]]) -> LexicalIndex:
        """Index already-tokenized passages (tokens are cached in SQLite, so adds never re-cut)."""
        id_array = np.asarray(ids, dtype=np.int64)
        if not len(id_array):
            return cls(None, id_array)
        bm25 = bm25s.BM25()
        bm25.index([list(t) for t in token_lists], show_progress=False)
        return cls(bm25, id_array)

    def save(self, folder: Path) -> None:
        """Write the index into ``folder`` (created)."""
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "ids.npy", self.ids)
        if self._bm25 is not None:
            self._bm25.save(str(folder), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        """Read an index written by :meth:`save` (memory-mapped: readers share the pages)."""
        ids = np.load(folder / "ids.npy")
        if not len(ids):
            return cls(None, ids)
        return cls(bm25s.BM25.load(str(folder), mmap=True, show_progress=False), ids)

    def search(
        self, query: str, k: int, allowed: np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """BM25 top ``k`` as (passage id, score), best first, only positive scores.

        Args:
            query: the question text, tokenized like the passages.
            k: how many hits at most.
            allowed: optional bool mask over :attr:`ids` (shape (len(ids),)) for lang/doc filters.
        """
        tokens = tokenize(query)
        if self._bm25 is None or not tokens or k <= 0:
            return []
        token_ids = self._bm25.get_tokens_ids(tokens)
        if not token_ids:
            return []
        scores = np.asarray(self._bm25.get_scores_from_ids(token_ids), dtype=np.float32)
        if allowed is not None:
            scores = np.where(allowed, scores, 0.0)
        if len(scores) > 4 * k:
            part = np.argpartition(-scores, k)[:k]
            top = part[np.argsort(-scores[part], kind="stable")]
        else:
            top = np.argsort(-scores, kind="stable")[:k]
        return [(int(self.ids[i]), float(scores[i])) for i in top if scores[i] > 0]
