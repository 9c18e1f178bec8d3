"""Embedding fan-out: the passages of a large write embedded on a Dask cluster.

Embedding is what a large ingest spends its time on (reading and BM25 are a small share), and
it is embarrassingly parallel: every passage is embedded on its own. So when a cluster is
configured (``IndexConfig.cluster``, ``--cluster``), a write cuts its new passages into chunks
of :data:`CHUNK`, each worker embeds chunks with every encoder (loading each model once per
worker process, by its spec, from its own model cache), and the vectors come back in order
to the writer, which indexes them exactly as it indexes vectors computed in-process. Every
chunk starts on a multiple of :data:`BATCH` and is encoded in the same :data:`BATCH`-passage
calls as in-process, so the vectors are the same (``tests/test_distributed_fanout.py``).
Each encoder embeds its own list of texts (e5 only the passages that answer questions, the
language-neutral encoder every passage and the answer passages' sentences).

Clusters: ``tcp://HOST:PORT`` connects to a running Dask scheduler (start one with
``dask scheduler`` and workers with ``dask worker tcp://HOST:PORT --nthreads 1``, each with
``paperbridge[scale]`` and the models installed); ``local:N`` starts N worker processes on
127.0.0.1 for the write and stops them afterwards (for tests and for a many-core machine).

Dask distributed rather than Ray: it is a pure-Python install of a few MB, its scheduler and
workers are one command each, and what is needed here (map a function over chunks, gather
results in order) is its core; Ray's actors, object store and autoscaler would be unused
weight. Dask is optional (``pip install 'paperbridge[scale]'``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import tqdm

from paperbridge.index.encoder import Encoder, load_encoder
from paperbridge.index.runtime import ModelSettings, model_settings
from paperbridge.ingest.errors import LibraryError, ModelError

_log = logging.getLogger(__name__)

#: Passages per encode call, in-process and on workers (a write's e5 blocks). Small blocks let
#: e5 start while the first files are still read; e5 runs each passage alone
#: (``onnx.BATCH_ROWS``), so the block size changes no vector, only when e5 starts: adding the
#: 357 passages of the ingest benchmark took 8.06 / 7.90 / 7.60 s (median of 3, idle machine)
#: with blocks of 64 / 16 / 32.
BATCH = 32
CHUNK = 512  # passages per task: big enough to hide the round trip, small enough to spread
#: Built-in model classes are loaded on each worker by spec (their sessions cannot be pickled
#: and their weights are large); any other encoder object is shipped to the workers as it is.
_LOADED_BY_SPEC = {("paperbridge.index.onnx", "OnnxE5Encoder"), ("paperbridge.index.use", "USEEncoder"),
                   ("paperbridge.index.encoder", "SentenceTransformerEncoder")}


@dataclass(frozen=True)
class Recipe:
    """How a worker gets one encoder: loaded from ``spec`` with ``cache``, or ``encoder`` itself."""

    spec: str
    name: str
    cache: str
    encoder: Encoder | None = None

    @classmethod
    def of(cls, spec: str, encoder: Encoder, settings: ModelSettings) -> Recipe:
        """The recipe for an encoder the writer holds."""
        by_spec = (type(encoder).__module__, type(encoder).__qualname__) in _LOADED_BY_SPEC
        return cls(spec, encoder.name, str(settings.cache), None if by_spec else encoder)


def _worker_threads() -> int:
    try:
        from distributed import get_worker

        return max(1, int(get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return 1


def encode_chunk(recipes: Sequence[Recipe], texts: Sequence[str]) -> list[np.ndarray]:
    """Embed one chunk with every encoder (runs on a worker): one (len(texts), dim) array each."""
    from pathlib import Path

    out = []
    for recipe in recipes:
        encoder = recipe.encoder or load_encoder(
            recipe.spec, ModelSettings(cache=Path(recipe.cache), threads=_worker_threads()))
        if encoder.name != recipe.name:
            raise ModelError(f"The worker loaded {encoder.name} for {recipe.spec!r}, the library "
                             f"was built with {recipe.name}: install the same models on every worker.")
        parts = [encoder.encode_passages(texts[s:s + BATCH]) for s in range(0, len(texts), BATCH)]
        out.append(np.concatenate(parts).astype(np.float32) if parts
                   else np.zeros((0, encoder.dim), np.float32))
    return out


def embed_in_process(encoders: Sequence[Encoder], texts: Sequence[str]) -> list[np.ndarray]:
    """What the writer computes without a cluster (calls of :data:`BATCH`), for comparison."""
    return encode_chunk([Recipe(e.name, e.name, "", e) for e in encoders], texts)


#: One encoder's share of a write: (its spec, the encoder the writer holds, the texts it embeds).
Job = tuple[str, Encoder, Sequence[str]]


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as err:
        raise LibraryError(
            "Embedding on a cluster needs the optional packages of PaperBridge's scale extra: "
            "pip install 'paperbridge[scale]' (dask[distributed]). Without --cluster, passages "
            "are embedded in this process."
        ) from err
    return distributed


class Fanout:
    """A connection to a Dask cluster that embeds chunks of passages."""

    def __init__(self, client: Any, address: str, cluster: Any | None = None) -> None:
        """Use :meth:`start`."""
        self.client, self.address, self._cluster = client, address, cluster

    @classmethod
    @contextmanager
    def start(cls, address: str) -> Iterator[Fanout]:
        """Connect to ``tcp://HOST:PORT``, or start ``local:N`` workers on 127.0.0.1; closed
        (and a local cluster stopped) on leaving.

        Raises:
            LibraryError: dask is not installed, or the scheduler cannot be reached.
        """
        distributed = _distributed()
        cluster = None
        try:
            if address.startswith("local:"):
                cluster = distributed.LocalCluster(
                    n_workers=int(address[6:]), threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=None, scheduler_port=0,
                    silence_logs=logging.WARNING)
                client = distributed.Client(cluster)
            else:
                client = distributed.Client(address, timeout=30)
        except (OSError, TimeoutError) as err:
            if cluster is not None:
                cluster.close()
            raise LibraryError(f"The Dask cluster at {address} cannot be reached ({err}). Start "
                               "the scheduler and workers, or drop --cluster.") from err
        try:
            yield cls(client, address, cluster)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    def workers(self) -> int:
        """Workers connected now."""
        return len(self.client.scheduler_info().get("workers", {}))

    def embed(self, encoders: Sequence[tuple[str, Encoder]], texts: Sequence[str], *,
              progress: bool = False) -> list[np.ndarray]:
        """Embed ``texts`` with every (spec, encoder) on the cluster, in order.

        Returns:
            One float32 array of shape (len(texts), dim) per encoder, rows in ``texts`` order.

        Raises:
            LibraryError: a worker failed (the write then publishes nothing).
        """
        return self.embed_each([(spec, encoder, texts) for spec, encoder in encoders],
                               progress=progress)

    def embed_each(self, jobs: Sequence[Job], *, progress: bool = False) -> list[np.ndarray]:
        """Embed each job's texts with its encoder on the cluster, in order.

        Returns:
            Per job, a float32 array of shape (len(texts), dim), rows in its texts' order.

        Raises:
            LibraryError: a worker failed (the write then publishes nothing).
        """
        settings = model_settings()
        recipes = [Recipe.of(spec, encoder, settings) for spec, encoder, _ in jobs]
        # hash=False: a fresh key per call. Re-scattering the same recipes under their content
        # hash would reuse the key the previous call is releasing ("lost dependencies").
        shared = self.client.scatter(recipes, broadcast=True, hash=False)
        tasks = [(j, s) for j, (_, _, texts) in enumerate(jobs) for s in range(0, len(texts), CHUNK)]
        futures = [self.client.submit(encode_chunk, [shared[j]], list(jobs[j][2][s:s + CHUNK]),
                                      pure=False) for j, s in tasks]
        index = {f.key: i for i, f in enumerate(futures)}
        chunks: list[np.ndarray | None] = [None] * len(futures)
        distributed = _distributed()
        with tqdm(total=sum(len(texts) for _, _, texts in jobs), desc=f"embedding on {self.address}",
                  unit="text", disable=not progress) as bar:
            for future in distributed.as_completed(futures):
                chunks[index[future.key]] = self._result(future)[0]
                bar.update(len(chunks[index[future.key]]))  # type: ignore[arg-type]
        out = []
        for j, (_, encoder, _) in enumerate(jobs):
            mine = [c for (job, _), c in zip(tasks, chunks, strict=True) if job == j and c is not None]
            out.append(np.concatenate(mine) if mine else np.zeros((0, encoder.dim), np.float32))
        return out

    def _result(self, future: Any) -> list[np.ndarray]:
        try:
            return list(future.result())
        except ModelError:
            raise
        except Exception as err:  # noqa: BLE001 - whatever a worker raised or died of
            reason = " ".join(str(err).split())[:200] or type(err).__name__
            raise LibraryError(f"Embedding on the cluster {self.address} failed ({reason}); "
                               "the library is unchanged. Run the command again, or drop "
                               "--cluster to embed in this process.") from err


def embed_on_cluster(address: str, encoders: Sequence[tuple[str, Encoder]], texts: Sequence[str], *,
                     progress: bool = False) -> list[np.ndarray]:
    """Embed ``texts`` on the cluster at ``address`` (see :meth:`Fanout.embed`)."""
    return embed_jobs(address, [(spec, encoder, texts) for spec, encoder in encoders],
                      progress=progress)


def embed_jobs(address: str, jobs: Sequence[Job], *, progress: bool = False) -> list[np.ndarray]:
    """Embed each job's texts on the cluster at ``address`` (see :meth:`Fanout.embed_each`)."""
    with Fanout.start(address) as fanout:
        _log.info("embedding %d texts on %s (%d workers)", sum(len(j[2]) for j in jobs), address,
                  fanout.workers())
        return fanout.embed_each(jobs, progress=progress)
