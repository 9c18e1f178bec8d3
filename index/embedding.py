"""Embedding a write's new passages while the next files are still being read.

A write used to read every file first and embed afterwards, so the reading child process
(parsing on its own core) and the encoders took turns. Now the writer hands each document
to :class:`Embedding` as soon as it is stored, and the encoders work while the reader
parses the next file:

* the encoder that embeds sentences (the language-neutral one, USE, ``EncoderEntry.sentences``)
  embeds each document's passages, and the sentences of its answer passages, on the
  writer's thread when the document arrives: USE embeds every text on its own, so its
  vectors do not depend on what else is in the call;
* the other encoders (e5) embed blocks of :data:`paperbridge.index.fanout.BATCH` of the
  passages they embed (``EncoderEntry.kinds``) on one thread of their own, beside the
  writer's (blocks as a cluster cuts them; e5 runs each passage alone, so its vectors do
  not depend on the blocks either);
* rows reach the indexes, on the writer's thread, once every encoder has embedded them (a
  Milvus row holds every vector); sentence vectors go into the version's database at once.

On a cluster (``IndexConfig.cluster``) everything is collected and embedded there at the
end, as before. Nothing here publishes anything: the write stays all or nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
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
    """New passages not yet in the indexes. Rows are numbered from the write's first new
    passage on (``first`` is the number of ``ids[0]``); numbers never shift."""

    first: int = 0
    ids: list[int] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    tokens: list[list[str]] = field(default_factory=list)
    done: dict[int, dict[int, np.ndarray]] = field(default_factory=dict)  # slot -> row -> vector

    @property
    def end(self) -> int:
        """The number of the next row to come."""
        return self.first + len(self.ids)

    def passage(self, row: int) -> Passage:
        return self.passages[row - self.first]


@dataclass
class _Block:
    """One block of a block slot, embedded on the encoders' thread."""

    slot: int
    rows: list[int]
    covers: int  # every row before this one is embedded or not the slot's once the block is
    job: Future[np.ndarray]


class Embedding:
    """The embedding of one write's new passages (one writer thread, one encoder thread)."""

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
        self._blocks: list[_Block] = []  # submitted, not yet collected, in order
        self._submitted: dict[int, int] = {}  # block slot -> rows before this one are submitted
        self._covered: dict[int, int] = {}  # block slot -> rows before this one are embedded
        self._pool: ThreadPoolExecutor | None = None
        self.embedded = 0

    # ---- feeding ------------------------------------------------------------------------
    def add(self, ids: Sequence[int], passages: Sequence[Passage], tokens: Sequence[list[str]]) -> None:
        """One document's new passages (stored already): embedded now or with their block."""
        if not ids:
            return
        self._start()
        pending = self._pending
        first = pending.end
        pending.ids += ids
        pending.passages += passages
        pending.tokens += tokens
        self.embedded += len(ids)
        for slot, entry in enumerate(self._entries):
            self._bars[slot].total += sum(entry.embeds(p.kind) for p in passages)
            self._bars[slot].refresh()
        if self.cluster:
            return
        self._submit(final=False)  # e5 starts on its thread before USE takes this document
        for slot in self._eager_slots():
            self._embed_now(slot, range(first, pending.end))
            self._store_sentences(slot, range(first, pending.end))
        self._collect(wait=False)
        self._flush(self._ready())

    def finish(self) -> None:
        """Embed what is still pending and hand every row to the indexes."""
        if not self._entries:
            return
        if self.cluster:
            self._embed_on_cluster()
        else:
            self._submit(final=True)
            self._collect(wait=True)
        self._flush(self._pending.end)

    def close(self) -> None:
        """Stop the encoder thread (after an error: what it runs is dropped) and the bars."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
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
        if not self.cluster and len(self._eager_slots()) < len(found):
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="paperbridge-embed")

    def _eager_slots(self) -> list[int]:
        """Slots embedded on the writer's thread as documents arrive: the one that also
        embeds sentences."""
        return [slot for slot, entry in enumerate(self._entries) if entry.sentences]

    def _block_slots(self) -> list[int]:
        return [slot for slot, entry in enumerate(self._entries) if not entry.sentences]

    def _mine(self, slot: int, start: int) -> list[int]:
        """The rows from ``start`` on that encoder ``slot`` embeds."""
        entry, pending = self._entries[slot], self._pending
        return [r for r in range(max(start, pending.first), pending.end)
                if entry.embeds(pending.passage(r).kind)]

    def _embed_now(self, slot: int, rows: range) -> None:
        chosen = self._mine(slot, rows.start)
        if not chosen:
            return
        pending = self._pending
        vectors = self._encoders[slot].encode_passages([pending.passage(r).text for r in chosen])
        pending.done.setdefault(slot, {}).update(zip(chosen, np.asarray(vectors, np.float32), strict=True))
        self._bars[slot].update(len(chosen))

    def _submit(self, *, final: bool) -> None:
        """Hand full blocks of BATCH rows (and the rest if final) to the encoder thread."""
        assert self._pool is not None or not self._block_slots()
        for slot in self._block_slots():
            rows = self._mine(slot, self._submitted.get(slot, 0))
            while len(rows) >= BATCH or (final and rows):
                block, rows = rows[:BATCH], rows[BATCH:]
                covers = rows[0] if rows else (self._pending.end if final else block[-1] + 1)
                texts = [self._pending.passage(r).text for r in block]
                job = self._pool.submit(self._encoders[slot].encode_passages, texts)  # type: ignore[union-attr]
                self._blocks.append(_Block(slot, block, covers, job))
                self._submitted[slot] = block[-1] + 1

    def _collect(self, *, wait: bool) -> None:
        """Take the vectors of the blocks done (all of them if ``wait``), in order."""
        while self._blocks and (wait or self._blocks[0].job.done()):
            block = self._blocks.pop(0)
            vectors = np.asarray(block.job.result(), np.float32)  # raises what the encoder raised
            self._pending.done.setdefault(block.slot, {}).update(zip(block.rows, vectors, strict=True))
            self._covered[block.slot] = block.covers
            self._bars[block.slot].update(len(block.rows))

    def _ready(self) -> int:
        """The number of the first row some block slot has not embedded yet (rows before it
        can go to the indexes)."""
        ready = self._pending.end
        for slot in self._block_slots():
            later = self._mine(slot, self._covered.get(slot, 0))
            ready = min(ready, later[0] if later else self._pending.end)
        return ready

    def _store_sentences(self, slot: int, rows: range) -> None:
        """Embed the sentences of the answer passages among ``rows`` (one document's) and
        store them. A passage that is one sentence (40% of the ingest benchmark's: captions,
        table rows, short paragraphs) has its passage vector already: same text, same vector."""
        pending, done = self._pending, self._pending.done.get(slot, {})
        answers = [r for r in rows if pending.passage(r).kind in ANSWER_KINDS]
        spans = sentences.split(pending.passage(r).text for r in answers)
        whole = [ss == [(0, len(pending.passage(r).text))] and r in done
                 for r, ss in zip(answers, spans, strict=True)]
        texts = [pending.passage(r).text[a:b] for r, ss, w in zip(answers, spans, whole, strict=True)
                 if not w for a, b in ss]
        fresh = iter(self._encoders[slot].encode_passages(texts) if texts else [])
        vectors = [done[r][None, :] if w else np.stack([next(fresh) for _ in ss])
                   for r, ss, w in zip(answers, spans, whole, strict=True) if ss]
        stacked = np.concatenate(vectors) if vectors else np.zeros((0, 1), np.float32)
        ids = [(pending.ids[r - pending.first], pending.passage(r)) for r in answers]
        self.store.insert_sentences(_packed(ids, spans, stacked))

    # ---- handing rows to the indexes ------------------------------------------------------
    def _flush(self, end: int) -> None:
        """Hand the pending rows before row ``end`` to the indexes and forget them."""
        pending = self._pending
        count = end - pending.first
        if count <= 0:
            return
        rows = Rows(np.asarray(pending.ids[:count], dtype=np.int64),
                    [p.lang for p in pending.passages[:count]],
                    [p.doc_id for p in pending.passages[:count]],
                    [p.kind for p in pending.passages[:count]], pending.tokens[:count])
        embedded = []
        for slot, encoder in enumerate(self._encoders):
            done = pending.done.get(slot, {})
            mine = sorted(r for r in done if r < end)
            at = np.asarray([r - pending.first for r in mine], dtype=np.int64)
            vecs = np.stack([done.pop(r) for r in mine]) if mine else np.zeros((0, encoder.dim), np.float32)
            embedded.append(Embedded(at, vecs))
        self.indexes.add(rows, embedded)
        del pending.ids[:count], pending.passages[:count], pending.tokens[:count]
        pending.first = end

    # ---- on a cluster -----------------------------------------------------------------------
    def _embed_on_cluster(self) -> None:
        """Embed every pending row and sentence on the cluster (passages per encoder, then the
        sentences), in order."""
        from paperbridge.index.fanout import embed_jobs

        jobs, chosen = [], []
        for s, (entry, encoder) in enumerate(zip(self._entries, self._encoders, strict=True)):
            rows = self._mine(s, 0)
            chosen.append(rows)
            jobs.append((entry.spec, encoder, [self._pending.passage(r).text for r in rows]))
        answers, spans, slot = self._sentence_job(jobs)
        vectors = embed_jobs(self.cluster, jobs, progress=self.progress)
        for s, (rows, vecs) in enumerate(zip(chosen, vectors, strict=False)):
            self._pending.done[s] = dict(zip(rows, vecs, strict=True))
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
