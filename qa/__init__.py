"""Questions to cited answers: retrieval, answers, batch runs and evaluation."""

from qa.answer import Answer, Citation
from qa.batch import BatchReport, run_batch
from qa.bridge import PaperBridge
from qa.config import QAConfig
from qa.evaluate import EvalReport, evaluate
from qa.source import SourceView, source_view

__all__ = [
    "Answer",
    "BatchReport",
    "Citation",
    "EvalReport",
    "PaperBridge",
    "QAConfig",
    "SourceView",
    "evaluate",
    "run_batch",
    "source_view",
]
