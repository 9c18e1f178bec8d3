"""The writer lock of a library: writers of this process queue, other processes are refused.

One web server serves many users; two of them uploading at once must not get "another
process is writing": the second upload waits its turn (with a progress bar saying so).
Another process (a `paperbridge add` in a terminal) holding the lock is a different matter:
its write may take minutes, so a writer here is refused at once with a message.

The lock has two halves: a re-entrant lock per library folder inside this process (waited
for), then an OS file lock on ``<library>/lock`` (tried once). A thread holding it may take
it again (an upload keeps its copies and adds them under one hold). Readers never lock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import filelock
from tqdm import tqdm

from paperbridge.ingest.errors import LibraryLockedError

LOCK = "lock"


@dataclass
class _Folder:
    local: threading.RLock = field(default_factory=threading.RLock)
    file: filelock.FileLock | None = None


_folders: dict[str, _Folder] = {}
_guard = threading.Lock()


def _folder(folder: Path) -> _Folder:
    with _guard:
        return _folders.setdefault(os.path.realpath(folder), _Folder())


@contextmanager
def writer_lock(folder: Path, *, wait: bool = True, progress: bool = False) -> Iterator[None]:
    """Hold the writer lock of the library at ``folder`` (created if missing).

    Args:
        folder: the library folder.
        wait: wait for writers of this process (False: refuse at once, e.g. for side files).
        progress: show a progress bar while waiting (the web UI shows tqdm bars).

    Raises:
        LibraryLockedError: another process holds the lock (or another thread of this one
            does and ``wait`` is False).
    """
    held = _folder(folder)
    if not held.local.acquire(blocking=False):
        if not wait:
            raise LibraryLockedError(f"The library at {folder} is being written by this process.")
        _wait(held.local, progress)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if held.file is None:
            held.file = filelock.FileLock(str(folder / LOCK), thread_local=False)
        try:
            held.file.acquire(timeout=0)  # re-entrant: a nested hold only counts up
        except filelock.Timeout as err:
            raise LibraryLockedError(
                f"Another PaperBridge process is writing to the library at {folder}. Wait for it "
                "to finish (reading and searching still work), then try again."
            ) from err
        try:
            yield
        finally:
            held.file.release()
    finally:
        held.local.release()


def _wait(local: threading.RLock, progress: bool) -> None:
    with tqdm(desc="waiting for another write to this library to finish", unit="s",
              disable=not progress, bar_format="{desc}: {elapsed}") as bar:
        while not local.acquire(timeout=0.5):
            bar.update(0)
            bar.refresh()
