"""Embedding a write's new passages while the next files are still being read.

A write used to read every file first and embed afterwards, so the reading child process
(parsing on its own core) and the encoders took turns. Now the writer hands each document
to :class:`Embedding` as soon as it is stored, and the encoders work while the reader
parses the next file:

* the encoder that embeds sentences (the language-neutral one, USE, ``EncoderEntry.sentences``)
  embeds each document's passages, and the sentences of its answer passages, when the
  document arrives: USE embeds every text on its own, so its vectors do not depend on
  what else is in the call;
* the other encoders (e5) embed blocks of :data:`paperbridge.index.fanout.BATCH` of the
  passages they embed (``EncoderEntry.kinds``): e5 sorts a call's passages by length and
  quantizes activations per batch, so long calls pad less, and fixed blocks give the same
  vectors however the files arrive (and as on a cluster, which cuts the same blocks);
* rows reach the indexes once every encoder has embedded them (a Milvus row holds every
  vector), sentence vectors go into the version's database at once.

On a cluster (``IndexConfig.cluster``) everything is collected and embedded there at the
end, as before. Nothing here publishes anything: the write stays all or nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from tqdm import tqdm

from paperbridge.index import sentences
from paperbridge.index.encoder import Encoder
from paperbridge.index.fanout import BATCH
from paperbridge.index.manifest import EncoderEntry
from paperbridge.index.store import Store
from paperbridge.index.stores.base import Embedded, IndexBuilder, Rows
from paperbridge.ingest.document import ANSWER_KINDS, Passage


@dataclass
class _Pending:
    """New passages not yet in the indexes, and what each encoder has made of them so far."""

    ids: list[int] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    tokens: list[list[str]] = field(default_factory=list)
    # per encoder slot: (row position, vector) pairs computed so far, rows ascending
    done: dict[int, list[tuple[int, np.ndarray]]] = field(default_factory=dict)
    blocked: dict[int, int] = field(default_factory=dict)  # per block slot: rows it has covered

    def __len__(self) -> int:
        return len(self.ids)


class Embedding:
    """The embedding of one write's new passages (one writer thread)."""

    def __init__(self, entries: Callable[[], tuple[EncoderEntry, ...]],
                 encoders: Callable[[], dict[str, Encoder]], indexes: IndexBuilder, store: Store,
                 *, cluster: str = "", progress: bool = False) -> None:
        """Embed with ``encoders()`` (loaded on the first passage) as ``entries()`` say."""
        self._entries_of, self._encoders_of = entries, encoders
        self.indexes, self.store, self.cluster, self.progress = indexes, store, cluster, progress
        self._entries: tuple[EncoderEntry, ...] = ()
        self._encoders: list[Encoder] = []
        self._bars: list[tqdm[None]] = []
        self._pending = _Pending()
        self.embedded = 0

    # ---- feeding ------------------------------------------------------------------------
    def add(self, ids: Sequence[int], passages: Sequence[Passage], tokens: Sequence[list[str]]) -> None:
        """One document's new passages (stored already): embedded now or with the next block."""
        if not ids:
            return
        self._start()
        pending = self._pending
        first = len(pending)
        pending.ids += ids
        pending.passages += passages
        pending.tokens += tokens
        self.embedded += len(ids)
        for slot, entry in enumerate(self._entries):
            self._bars[slot].total += sum(entry.embeds(p.kind) for p in passages)
            self._bars[slot].refresh()
        if self.cluster:
            return
        for slot in self._eager_slots():
            self._embed_rows(slot, range(first, len(pending)))
            self._store_sentences(slot, ids, passages)
        self._embed_blocks(final=False)

    def finish(self) -> None:
        """Embed what is still pending and hand every row to the indexes."""
        if not self._entries:
            return
        try:
            if self.cluster:
                self._embed_on_cluster()
            else:
                self._embed_blocks(final=True)
            self._flush(len(self._pending))
        finally:
            for bar in self._bars:
                bar.close()

    def close(self) -> None:
        """Close the progress bars (after an error: nothing more is embedded)."""
        for bar in self._bars:
            bar.close()

    # ---- in this process -------------------------------------------------------------------
    def _start(self) -> None:
        """Load the encoders and open the progress bars, on the first passage of the write."""
        if self._entries:
            return
        found = list(self._encoders_of().values())
        self._entries, self._encoders = self._entries_of(), found
        self._bars = [tqdm(total=0, desc=f"embedding ({e.name})", unit="passage",
                           disable=not self.progress) for e in found]

    def _eager_slots(self) -> list[int]:
        """Slots embedded as documents arrive: the one that also embeds sentences."""
        return [slot for slot, entry in enumerate(self._entries) if entry.sentences]

    def _embed_rows(self, slot: int, rows: range | Sequence[int]) -> None:
        """Embed the rows ``slot`` embeds among ``rows`` (positions in the pending rows)."""
        entry, pending = self._entries[slot], self._pending
        chosen = [r for r in rows if entry.embeds(pending.passages[r].kind)]
        if not chosen:
            return
        vectors = self._encoders[slot].encode_passages([pending.passages[r].text for r in chosen])
        pending.done.setdefault(slot, []).extend(zip(chosen, np.asarray(vectors, np.float32),
                                                     strict=True))
        self._bars[slot].update(len(chosen))

    def _embed_blocks(self, *, final: bool) -> None:
        """Embed full blocks of BATCH passages for every block slot (and the rest if final),
        then hand the rows every slot has covered to the indexes."""
        pending = self._pending
        for slot, entry in enumerate(self._entries):
            if entry.sentences:
                continue
            start = pending.blocked.get(slot, 0)
            eligible = [r for r in range(start, len(pending)) if entry.embeds(pending.passages[r].kind)]
            while len(eligible) >= BATCH or (final and eligible):
                block, eligible = eligible[:BATCH], eligible[BATCH:]
                self._embed_rows(slot, block)
                pending.blocked[slot] = block[-1] + 1
            if final:
                pending.blocked[slot] = len(pending)
        self._flush(self._covered())

    def _covered(self) -> int:
        """How many pending rows (a prefix) every block slot has embedded or passed over."""
        pending = self._pending
        covered = len(pending)
        for slot, entry in enumerate(self._entries):
            if entry.sentences:
                continue
            start = pending.blocked.get(slot, 0)
            later = [r for r in range(start, len(pending)) if entry.embeds(pending.passages[r].kind)]
            covered = min(covered, later[0] if later else len(pending))
        return covered

    def _store_sentences(self, slot: int, ids: Sequence[int], passages: Sequence[Passage]) -> None:
        """Embed the sentences of the answer passages of one document and store them."""
        answers = [(pid, p) for pid, p in zip(ids, passages, strict=True) if p.kind in ANSWER_KINDS]
        spans = sentences.split(p.text for _, p in answers)
        texts = [p.text[a:b] for (_, p), ss in zip(answers, spans, strict=True) for a, b in ss]
        vectors = self._encoders[slot].encode_passages(texts) if texts else np.zeros((0, 1), np.float32)
        self.store.insert_sentences(_packed(answers, spans, vectors))

    # ---- handing rows to the indexes ------------------------------------------------------
    def _flush(self, count: int) -> None:
        """Hand the first ``count`` pending rows to the indexes and forget them."""
        pending = self._pending
        if count <= 0:
            return
        rows = Rows(np.asarray(pending.ids[:count], dtype=np.int64),
                    [p.lang for p in pending.passages[:count]],
                    [p.doc_id for p in pending.passages[:count]],
                    [p.kind for p in pending.passages[:count]], pending.tokens[:count])
        embedded = []
        for slot, encoder in enumerate(self._encoders):
            pairs = pending.done.get(slot, [])
            mine = [(r, v) for r, v in pairs if r < count]
            pending.done[slot] = [(r - count, v) for r, v in pairs if r >= count]
            at = np.asarray([r for r, _ in mine], dtype=np.int64)
            vecs = np.stack([v for _, v in mine]) if mine else np.zeros((0, encoder.dim), np.float32)
            embedded.append(Embedded(at, vecs))
        self.indexes.add(rows, embedded)
        del pending.ids[:count], pending.passages[:count], pending.tokens[:count]
        pending.blocked = {slot: max(0, n - count) for slot, n in pending.blocked.items()}

    # ---- on a cluster -----------------------------------------------------------------------
    def _embed_on_cluster(self) -> None:
        """Embed every pending row and sentence on the cluster (passages per encoder, then the
        sentences), in order."""
        from paperbridge.index.fanout import embed_jobs

        pending = self._pending
        jobs, chosen = [], []
        for entry, encoder in zip(self._entries, self._encoders, strict=True):
            rows = [r for r in range(len(pending)) if entry.embeds(pending.passages[r].kind)]
            chosen.append(rows)
            jobs.append((entry.spec, encoder, [pending.passages[r].text for r in rows]))
        answers, spans, slot = self._sentence_job(jobs)
        vectors = embed_jobs(self.cluster, jobs, progress=self.progress)
        for s, (rows, vecs) in enumerate(zip(chosen, vectors, strict=False)):
            pending.done[s] = list(zip(rows, vecs, strict=True))
            self._bars[s].update(len(rows))
        if slot is not None:
            self.store.insert_sentences(_packed(answers, spans, vectors[-1]))

    def _sentence_job(self, jobs: list[tuple[str, Encoder, list[str]]]
                      ) -> tuple[list[tuple[int, Passage]], list[list[sentences.Span]], int | None]:
        """Append the sentences to embed to ``jobs``; (answer passages, their spans, slot)."""
        slot = next((s for s, e in enumerate(self._entries) if e.sentences), None)
        if slot is None:
            return [], [], None
        pending = self._pending
        answers = [(pid, p) for pid, p in zip(pending.ids, pending.passages, strict=True)
                   if p.kind in ANSWER_KINDS]
        spans = sentences.split(p.text for _, p in answers)
        texts = [p.text[a:b] for (_, p), ss in zip(answers, spans, strict=True) for a, b in ss]
        jobs.append((self._entries[slot].spec, self._encoders[slot], texts))
        return answers, spans, slot


def _packed(answers: Sequence[tuple[int, Passage]], spans: Sequence[Sequence[sentences.Span]],
            vectors: np.ndarray) -> list[tuple[int, bytes, bytes, bytes]]:
    """The sentence table's rows of these passages (vectors: their sentences', in order)."""
    out, at = [], 0
    for (pid, _), ss in zip(answers, spans, strict=True):
        out.append((pid, *sentences.pack(ss, vectors[at:at + len(ss)])))
        at += len(ss)
    return out
