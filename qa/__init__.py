"""Questions to cited answers: retrieval, answers, batch runs and evaluation."""

from paperbridge.qa.answer import Answer, Citation
from paperbridge.qa.batch import BatchReport, run_batch
from paperbridge.qa.bridge import PaperBridge
from paperbridge.qa.config import QAConfig
from paperbridge.qa.evaluate import EvalReport, evaluate
from paperbridge.qa.source import SourceView

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
]
