"""Model settings (cache folder, threads) and the one function that tunes the process.

Library code never changes process-wide state and never reads environment variables: the
cache folder and thread count travel in a :class:`ModelSettings`, and the CLI and UI (the
edges) call :func:`configure_process` once at start-up, with what they read from the
environment (:func:`cache_from_env`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from paperbridge.ingest.errors import ModelError


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), at most 8: threads for one model."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(8, cores or 1))


def default_cache() -> Path:
    """The model cache when nobody says otherwise: ``~/.cache/paperbridge``."""
    return Path.home() / ".cache" / "paperbridge"


def cache_from_env(environ: Mapping[str, str]) -> Path:
    """The cache an edge should use: ``PAPERBRIDGE_CACHE``, else ``$XDG_CACHE_HOME/paperbridge``.

    Args:
        environ: the environment to read (the CLI and UI pass ``os.environ``).
    """
    if environ.get("PAPERBRIDGE_CACHE"):
        return Path(environ["PAPERBRIDGE_CACHE"]).expanduser()
    if environ.get("XDG_CACHE_HOME"):
        return Path(environ["XDG_CACHE_HOME"]).expanduser() / "paperbridge"
    return default_cache()


@dataclass(frozen=True)
class ModelSettings:
    """Where built models live and how many threads one model may use.

    Attributes:
        cache: the folder that holds ``models/`` (the e5 folder and its ONNX export).
        threads: cores one model may use: torch's intra-op threads, or the passages e5 on
            onnxruntime runs side by side (``index.onnx``); USE always runs on one, see
            ``index.use.USEEncoder``.
    """

    cache: Path = field(default_factory=default_cache)
    threads: int = field(default_factory=usable_cores)

    def __post_init__(self) -> None:
        if self.threads < 1:
            raise ModelError(f"ModelSettings.threads must be at least 1, got {self.threads}.")


_settings = ModelSettings()


def model_settings() -> ModelSettings:
    """The settings encoders load with unless they are given others (see configure_process)."""
    return _settings


def configure_process(
    *, cache: Path | None = None, threads: int | None = None, offline: bool = True
) -> ModelSettings:
    """Tune the process once, from the CLI or UI at start-up; library code never calls this.

    Args:
        cache: model cache for encoders loaded from now on (default ``~/.cache/paperbridge``;
            pass :func:`cache_from_env` ``(os.environ)`` to honour PAPERBRIDGE_CACHE).
        threads: threads per model; also torch's intra-op pool when given (default: usable
            cores, at most 8).
        offline: set HF_HUB_OFFLINE=1 and TRANSFORMERS_OFFLINE=1 (unless already set), so
            transformers and the hub never reach for the network.

    Returns:
        The settings now in force.
    """
    global _settings
    changes: dict[str, object] = {}
    if cache is not None:
        changes["cache"] = Path(cache).expanduser()
    if threads is not None:
        changes["threads"] = threads
    _settings = replace(_settings, **changes)  # type: ignore[arg-type]
    if offline:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    if threads is not None:
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(threads)
        else:  # torch (and OpenMP) read it when they start
            os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    return _settings
