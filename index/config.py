"""Settings of the index layer, typed and checked once when created.

Nothing here reads the environment: the CLI and the UI map ``PAPERBRIDGE_MODELS`` and their
flags onto these fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from paperbridge.index.stores.spec import check_cluster, parse_store
from paperbridge.ingest.errors import LibraryError

#: Default encoders: e5-small is the stronger retriever within a language, USE multilingual
#: the less language-biased one; retrieval fuses both (issue 3 measurements). e5 runs on
#: onnxruntime int8 (issue 13: XQuAD R@5 of the fused retrieval within 0.002 of fp32).
DEFAULT_ENCODERS: tuple[str, ...] = ("multilingual-e5-small@onnx-int8", "use-multilingual-v3")


@dataclass(frozen=True)
class IndexConfig:
    """How a library embeds and indexes passages.

    Attributes:
        encoders: encoder specs for ``load_encoder`` (model names, folders, or ``hash`` in tests).
            Each passage is embedded by every one of them.
        ann_threshold: passages per (encoder, language) FAISS index above which HNSW replaces
            exact flat inner product.
        hnsw_m: HNSW graph degree.
        hnsw_ef_search: HNSW search breadth (recall vs speed).
        max_tokens: chunking setting handed to ingest; recorded in the manifest.
        store: where vectors and BM25 live (:mod:`paperbridge.index.stores.spec`): "" for
            FAISS files in the library folder, ``milvus://HOST:PORT`` or a Milvus Lite path.
        cluster: where passages are embedded: "" in this process, ``tcp://HOST:PORT`` (a
            Dask scheduler) or ``local:N`` (:mod:`paperbridge.index.fanout`).
        neutral_encoder: the name of the language-neutral encoder (``qa.QAConfig`` ranks and
            scores sentences with the same one); when the library has no encoder of that
            name, its first encoder plays the part. It embeds every passage.
        answers_only: the other encoders embed only passages that can answer
            (``ingest.ANSWER_KINDS``), not tables of contents, reference lists, indexes, code
            or page furniture (recorded per encoder in the manifest).
        sentence_vectors: the neutral encoder also embeds the sentences of answer passages
            when they are written (:mod:`paperbridge.index.sentences`), so that asking does
            not embed them. These three apply when a library is created or rebuilt.
    """

    encoders: tuple[str, ...] = field(default=DEFAULT_ENCODERS)
    ann_threshold: int = 100_000
    hnsw_m: int = 32
    hnsw_ef_search: int = 512  # ~3.5 ms a query up to 1M; recall@10 0.99 at 200k, 0.91 at 1M
    max_tokens: int = 256
    store: str = field(default="", repr=False)  # may carry a password: never printed
    cluster: str = ""
    neutral_encoder: str = "use-multilingual-v3"
    answers_only: bool = True
    sentence_vectors: bool = True

    def neutral(self, names: Sequence[str]) -> str:
        """Which of the encoder ``names`` is the language-neutral one (see the attribute)."""
        return self.neutral_encoder if self.neutral_encoder in names else names[0]

    def __post_init__(self) -> None:
        specs = tuple(s.strip() for s in self.encoders)
        if not specs or any(not s for s in specs):
            raise LibraryError(
                "IndexConfig.encoders must name at least one model (e.g. multilingual-e5-small)."
            )
        if len(set(specs)) != len(specs):
            raise LibraryError(f"IndexConfig.encoders lists a model twice: {', '.join(specs)}.")
        object.__setattr__(self, "encoders", specs)
        parse_store(self.store)  # raises LibraryError for a malformed setting
        object.__setattr__(self, "cluster", check_cluster(self.cluster))
        for name in ("ann_threshold", "hnsw_m", "hnsw_ef_search", "max_tokens"):
            if getattr(self, name) < 1:
                raise LibraryError(
                    f"IndexConfig.{name} must be a positive integer, got {getattr(self, name)}."
                )
