"""Which documents a question names: by title, short title, well-known name, author or file.

"In the DeepSeek-V3 report…", "《大语言模型综述》中…", "Hadley Wickham 的 Tidy Data 论文…",
"香农 1948 年那篇论文…": a question that names a document wants that document's passages,
even when another document (often one in the question's own language) says something
similar. Two signals, each measured per document:

* **names in the question's words**: a word of the document's title, its authors or its
  file name that the question contains and that is distinctive for that document (its
  passages hold most of the library's occurrences of it: "TableFormer", "Tidy", "GDPR",
  not "data"); a Chinese title's run of four or more characters counts the same way;
* **names across languages**: the language-neutral encoder's similarity between the
  question and the document's identity (title, authors, year, file name), so "香农" finds
  "C. E. Shannon" and "the GDPR" finds 《通用数据保护条例》. It counts only when one document
  stands clearly above the others.

The identities are built once per library version. A question that asks who wrote a named
document ("Who wrote the Tidy Data paper?", "《技术立国》那篇论文的作者是谁？") is answered from
the passages of that document that list its authors (:meth:`DocumentNames.author_passages`):
they are the evidence, however unlike the question their words are.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from paperbridge.index import DocumentInfo, Library

if TYPE_CHECKING:
    from paperbridge.qa.retrieve import Retriever

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
_CJK_RUN = re.compile(r"[\u3400-\u9fff]{4,}")
_CJK_RUN_ANY = re.compile(r"[\u3400-\u9fff]+")
_CJK_GRAM = 6  # this many title characters in a row name a document (a whole shorter title too)
_QUOTED = re.compile(r"《([^》]{4,})》")  # a title in book quotes names a document it is part of
_STOP = frozenset(
    "the a an of and for in on at to with from by into via its their our is are be using based "
    "toward towards new study paper report technical survey analysis approach method methods "
    "introduction chapter notes version edition draft vol volume part".split()
)
_DISTINCT_SHARE = 0.6  # share of a word's BM25 hits in one document for it to name that one
_DENSE_MARGIN = 0.08  # identity similarity above the runner-up document's that counts as naming
# "Who wrote …", "the authors of …", "…的作者是谁", "谁写的": the question asks for the authors.
_ASKS_AUTHORS = re.compile(
    r"\bwho\s+(?:wrote|authored|writes|is\s+the\s+author|are\s+the\s+authors)\b|\bauthors?\s+of\b"
    r"|\bwritten\s+by\b|作者|谁写|谁撰写|由谁(?:撰写|写)",
    re.IGNORECASE,
)
_NAME_NOISE = re.compile(r"[\s.\-·‧,]+")
AUTHORS_SHARE = 0.5  # share of a document's authors a passage must list to answer "who wrote"


def asks_for_authors(question: str) -> bool:
    """True when the question asks who wrote a document."""
    return bool(_ASKS_AUTHORS.search(unicodedata.normalize("NFKC", question)))


def _squashed_name(text: str) -> str:
    """Lowercase, NFKC, without spaces, dots and hyphens: "C. E. SHANNON" is "ceshannon"."""
    return _NAME_NOISE.sub("", unicodedata.normalize("NFKC", text).lower())


@dataclass(frozen=True)
class _Identity:
    doc_id: str
    words: frozenset[str]  # lowercased Latin words of title, authors and file name
    grams: frozenset[str]  # 6-character runs of the Chinese title
    text: str  # what the neutral encoder embeds
    title: str  # without spaces, for titles quoted in 《》
    people: frozenset[str] = frozenset()  # lowercased Latin words of the authors' names
    authors: tuple[str, ...] = ()  # each author's name squashed (:func:`_squashed_name`)


def _file_words(source: str) -> str:
    """A file name as words: "en_tidy_data_jss2014.pdf" -> "en tidy data jss2014"."""
    return re.sub(r"[_\-.]+", " ", Path(source).stem)


def identity(info: DocumentInfo) -> _Identity:
    """What names a document: its title, authors, year and file name."""
    title = unicodedata.normalize("NFKC", info.title)
    authors = " ".join(info.authors)
    file_words = _file_words(info.source)
    latin = f"{title} {authors} {file_words}"
    words = frozenset(w.lower() for w in _WORD.findall(latin) if len(w) >= 3 and w.lower() not in _STOP)
    grams = frozenset(
        run[i : i + _CJK_GRAM]
        for run in _CJK_RUN.findall(title)
        for i in range(max(1, len(run) - _CJK_GRAM + 1))
    )
    year = str(info.year) if info.year else ""
    text = " ".join(part for part in (title, authors, year) if part) or file_words
    names = _WORD.findall(unicodedata.normalize("NFKC", authors))
    people = frozenset(w.lower() for w in names if len(w) >= 3)
    squashed = tuple(n for n in (_squashed_name(a) for a in info.authors) if n)
    return _Identity(info.doc_id, words, grams, text, re.sub(r"\s+", "", title), people, squashed)


class DocumentNames:
    """The library's documents' identities, rebuilt when the library changes."""

    def __init__(self, library: Library, retriever: Retriever) -> None:
        self.library = library
        self.retriever = retriever
        self._lock = threading.Lock()
        self._version: object = None
        self._identities: list[_Identity] = []
        self._vectors: np.ndarray | None = None
        self._distinct: dict[str, str | None] = {}
        self._people: frozenset[str] = frozenset()

    def _current(self) -> tuple[list[_Identity], np.ndarray | None]:
        manifest = self.library.manifest
        version = (getattr(self.library, "version_id", None), manifest.generation if manifest else 0)
        with self._lock:
            if version != self._version:
                identities = [identity(d) for d in self.library.documents()]
                encoder = self.library.encoders[self.retriever.neutral_encoder()]
                texts = [i.text for i in identities]
                self._vectors = encoder.encode_passages(texts) if texts else None
                self._identities = identities
                self._distinct = {}
                self._people = frozenset().union(*(i.people for i in identities))
                self._version = version
            return self._identities, self._vectors

    def named(self, question: str, vectors: dict[str, np.ndarray],
              translated: Collection[str] = ()) -> dict[str, float]:
        """Documents the question names, doc id -> strength in (0, 1].

        Args:
            translated: the question's words in the other language (香农 -> "shannon"); they
                name a document as its own words do.
        """
        identities, matrix = self._current()
        if len(identities) < 2 or matrix is None:
            return {}
        out = self._by_words(question, identities, translated)
        sims = matrix @ vectors[self.retriever.neutral_encoder()]
        order = np.argsort(-sims)
        margin = float(sims[order[0]] - sims[order[1]])
        if margin >= _DENSE_MARGIN:
            doc = identities[int(order[0])].doc_id
            out[doc] = max(out.get(doc, 0.0), min(1.0, margin / (2 * _DENSE_MARGIN)))
        return out

    def names_a_document(self, word: str, named: Collection[str]) -> bool:
        """True when a question's word (or phrase) belongs to the name of one of the
        ``named`` documents: its title, authors or file name ("Tidy Data", "survey", "香农"
        in 香农的论文 when the document is Shannon's). Such words say which document, not
        what fact, so they are no evidence that a passage states the answer."""
        identities, _ = self._current()
        lowered = unicodedata.normalize("NFKC", word).lower()
        parts = [w.lower() for w in _WORD.findall(lowered)]
        for ident in identities:
            if ident.doc_id not in named:
                continue
            if parts and all(p in ident.words for p in parts):
                return True
            if _CJK_RUN_ANY.fullmatch(lowered) and len(lowered) >= 2 and lowered in ident.title:
                return True
        return False

    def author_passages(self, named: Collection[str], limit: int = 3) -> dict[int, float]:
        """Passages of the named documents that list their authors: passage id -> the share
        (``AUTHORS_SHARE``..1) of the document's authors it names, for documents whose
        authors are known."""
        out: dict[int, float] = {}
        for info in self.library.documents():
            if info.doc_id not in named or not info.authors:
                continue
            hits = self.library.lexical_search(" ".join(info.authors), 20, doc_ids=[info.doc_id])
            found = []
            for passage in self.retriever.meta([pid for pid, _ in hits]).values():
                share = self.author_share(info.doc_id, passage.text)
                if share >= AUTHORS_SHARE:
                    found.append((share, -passage.page, passage.id))
            for share, _, pid in sorted(found, reverse=True)[:limit]:
                out[pid] = share
        return out

    def author_share(self, doc_id: str, text: str) -> float:
        """The share (0..1) of a document's known authors that ``text`` names."""
        identities, _ = self._current()
        names = next((i.authors for i in identities if i.doc_id == doc_id), ())
        if not names:
            return 0.0
        squashed = _squashed_name(text)
        return sum(name in squashed for name in names) / len(names)

    def author_words(self) -> frozenset[str]:
        """The words of every document's authors' names (lowercase): a question may write
        them translated (香农 for Shannon) where the paper itself never does."""
        self._current()
        return self._people

    def _by_words(self, question: str, identities: list[_Identity],
                  translated: Collection[str] = ()) -> dict[str, float]:
        text = unicodedata.normalize("NFKC", question)
        people = self.author_words()
        words = {w.lower() for w in _WORD.findall(text)} | {w for w in translated if w in people}
        squashed = re.sub(r"\s+", "", text)
        out: dict[str, float] = {}
        quoted = [q for q in _QUOTED.findall(squashed)]
        for ident in identities:
            if any(g in squashed for g in ident.grams) or any(q in ident.title for q in quoted):
                out[ident.doc_id] = 1.0
        for word in words:
            owners = [i.doc_id for i in identities if word in i.words]
            if owners and (doc := self._distinct_owner(word, owners)) is not None:
                out[doc] = 1.0
        return out

    def _distinct_owner(self, word: str, owners: list[str]) -> str | None:
        """The document a word names, if most of its occurrences in the library are there."""
        if word in self._distinct:
            return self._distinct[word]
        hits = self.library.lexical_search(word, 100)
        docs = [p.doc_id for p in self.retriever.meta([pid for pid, _ in hits]).values()]
        best = max(owners, key=docs.count)
        owner = best if docs and docs.count(best) / len(docs) >= _DISTINCT_SHARE else None
        if not docs and len(owners) == 1:
            owner = owners[0]  # in the title or file name only: as distinctive as it gets
        with self._lock:
            self._distinct[word] = owner
        return owner
