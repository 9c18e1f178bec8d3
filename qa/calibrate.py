"""What is measured once per library version: the anchors its passages contain.

Earlier versions measured each passage's hubness, each language pool's bias and a refusal
threshold from probes cut out of the library's own passages. On real documents that
machinery hurt more than it helped (its probes came from tables of contents and formula
lines, so it learned those as typical; its threshold refused a third of answerable
questions), and it is gone: hubs are now kept out by passage kind, languages compete on
the language-neutral encoder's cosine, and the refusal line is one fixed similarity
(:mod:`qa.config`). What remains per library is the set of anchors (:mod:`qa.anchors`)
its passages contain, so that a question about a name the library never mentions can be
refused. It is cached as a side file of the version (``Library.read_side``).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

from paperbridge.index import Library
from paperbridge.qa.anchors import vocabulary

log = logging.getLogger(__name__)

_CACHE_FILE = "calibration.json"
_FORMAT = 8  # bump when what is measured changes, so old caches are recomputed
_CHUNK = 5000


@dataclass(frozen=True)
class Calibration:
    """The library version's measured facts: which anchors and words its passages contain.

    ``words`` counts the passages using each BM25 token, by passage language: a translation
    of a question's word that no passage of the other language uses cannot match anything
    there (:mod:`qa.translate`), and rare words weigh more in a question (:mod:`qa.coverage`).
    """

    generation: int
    anchors: frozenset[str]
    words: dict[str, dict[str, int]] = field(default_factory=dict)
    documents: dict[str, frozenset[str]] = field(default_factory=dict)  # each document's anchors


def calibrate(library: Library, *_: object) -> Calibration:
    """The anchors and BM25 words of every passage of the library (cached per version)."""
    generation = library.manifest.generation if library.manifest else 0
    version = getattr(library, "version_id", None)
    cached = _load(library, version, generation)
    if cached is not None:
        return cached
    log.info("indexing the anchors of %s (once per library version)", library.path)
    ids = library.passage_ids()
    documents = {d.doc_id: set(vocabulary([d.title, d.source, *d.authors])) for d in library.documents()}
    for start in range(0, len(ids), _CHUNK):  # a chunk of passage texts in memory at a time
        texts: dict[str, list[str]] = {}
        for passage in library.passages(ids[start : start + _CHUNK]):
            texts.setdefault(passage.doc_id, []).append(passage.text)
        for doc, parts in texts.items():
            documents.setdefault(doc, set()).update(vocabulary(parts))
    words = {lang: dict(counts) for lang, counts in library.vocabulary().items()}
    found = {doc: frozenset(anchors) for doc, anchors in documents.items()}
    result = Calibration(generation, frozenset().union(*found.values()), words, found)
    _save(library, version, result)
    return result


def _load(library: Library, version: str | None, generation: int, *_: object) -> Calibration | None:
    raw = library.read_side(_CACHE_FILE, version) if version else None
    if raw is None:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
        if data.get("format") == _FORMAT and data["generation"] == generation:
            words = {str(lang): {str(w): int(n) for w, n in ws.items()} for lang, ws in data["words"].items()}
            documents = {str(doc): frozenset(str(a) for a in anchors)
                         for doc, anchors in data["documents"].items()}
            return Calibration(generation, frozenset(str(a) for a in data["anchors"]), words, documents)
    except (ValueError, KeyError, TypeError, AttributeError):
        pass
    return None


def _save(library: Library, version: str | None, calibration: Calibration) -> None:
    """Store the result beside the version; a reader that cannot write recomputes next time."""
    if not version:
        return
    data = {"format": _FORMAT, "generation": calibration.generation, "anchors": sorted(calibration.anchors),
            "words": calibration.words,
            "documents": {doc: sorted(found) for doc, found in calibration.documents.items()}}
    if not library.write_side(_CACHE_FILE, json.dumps(data).encode("utf-8"), version):
        log.info("could not cache the anchors of %s (a writer is busy); recomputed next time", library.path)
