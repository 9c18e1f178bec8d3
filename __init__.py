"""PaperBridge: ask questions across English and Chinese research papers, get cited passages.

The installed package is ``paperbridge``; its parts are the repository's top-level folders:
``paperbridge.ingest`` (files -> passages), ``paperbridge.index`` (the library on disk),
``paperbridge.qa`` (questions -> cited answers; :class:`~paperbridge.qa.PaperBridge` is the
application API), ``paperbridge.ui`` (the Gradio app) and ``paperbridge.cli`` (the command).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paperbridge.qa import PaperBridge

try:
    __version__ = version("paperbridge")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["PaperBridge", "__version__"]


def __getattr__(name: str) -> Any:
    """``paperbridge.PaperBridge`` without importing FAISS and friends on ``import paperbridge``."""
    if name == "PaperBridge":
        from paperbridge.qa import PaperBridge

        return PaperBridge
    raise AttributeError(f"module 'paperbridge' has no attribute {name!r}")
