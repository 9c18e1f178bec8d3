"""PaperBridge: the Python API over one library; the CLI and the UI are thin layers on it."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from paperbridge.index import AddReport, DocumentInfo, Encoder, IndexConfig, Library
from paperbridge.qa.answer import Answer
from paperbridge.qa.asking import Asker
from paperbridge.qa.batch import BatchReport, run_batch
from paperbridge.qa.calibrate import Calibration
from paperbridge.qa.config import QAConfig
from paperbridge.qa.evaluate import EvalReport
from paperbridge.qa.retrieve import Retrieval


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
        config: QAConfig | None = None,
        index_config: IndexConfig | None = None,
        create: bool = True,
        encoders: Sequence[Encoder] | None = None,
    ) -> None:
        self.config = config or QAConfig()
        self.library = Library.open(Path(library), index_config, create=create, encoders=encoders)
        self._asker = Asker(self.library, self.config)

    # ---- questions (qa/asking.py) ----------------------------------------------------
    def ask(
        self,
        question: str,
        *,
        top_k: int | None = None,
        doc_ids: Collection[str] | None = None,
        langs: Collection[str] | None = None,
    ) -> Answer:
        """Answer a question from the library, citing the passages the answer comes from.

        Raises:
            QuestionError: the question is empty or longer than the configured limit.
        """
        return self._asker.ask(question, top_k=top_k, doc_ids=doc_ids, langs=langs)

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

        The new version is calibrated at once, so the next question does not wait for it.
        """
        report = self.library.add(paths, password=password, progress=progress)
        if len(self.library):
            self.calibration()
        return report

    def remove(self, refs: Sequence[str]) -> list[DocumentInfo]:
        """Remove documents by id (or unique id prefix) or exact title."""
        return self.library.remove(refs)

    def documents(self) -> list[DocumentInfo]:
        """The documents in the library."""
        self.library.refresh()
        return self.library.documents()
