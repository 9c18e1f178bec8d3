"""Bounded reading: every file is read in a child process with a memory and time budget.

A PDF of a few hundred kilobytes can hold a content stream that inflates to gigabytes (pypdf
caps what it inflates, pdfium does not), fifty pages can share one huge stream that takes
minutes to parse, and a malformed file can crash a C reader or raise anything from deep in
pypdf. None of that may take the whole ``add`` (or the web server) down with it. So files
are read by :class:`BoundedReader`:

* one worker process (``python -m paperbridge.ingest.budget``), started once per reader,
  single-threaded, with the ingestion modules imported;
* for each file it forks a child that sets its own limits (address space, CPU seconds, no
  core dumps), reads the file with :func:`~paperbridge.ingest.reader.read_document` and
  sends the document back through a pipe; the worker kills a child that overruns its wall
  clock;
* the parent turns whatever happened into a :class:`~paperbridge.ingest.document.Document`
  or one :class:`~paperbridge.ingest.errors.IngestError` with the file's name and the
  reason in one line: over budget, a crashed reader, or an exception from a reader.

The parent never forks itself (it may hold threads, e.g. the web server's or torch's), and
changes no process-wide state: the limits apply to the children only.

Special files are refused before anything opens them: a FIFO would block a reader forever,
a device would stream without end, and a symlink loop has no file behind it.
"""

from __future__ import annotations

import errno
import logging
import os
import pickle
import resource
import select
import signal
import stat
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from paperbridge.ingest.config import IngestConfig
from paperbridge.ingest.document import Document
from paperbridge.ingest.errors import (
    CorruptFileError,
    IngestError,
    PaperBridgeError,
    UnsupportedFileError,
)

__all__ = [
    "BoundedReader",
    "Budget",
    "OverBudgetError",
    "SpecialFileError",
    "check_regular_file",
    "find_readable",
]

log = logging.getLogger(__name__)

_HEADER = struct.Struct("!Q")
_MAX_RECORDS = 200  # log records a child may send back (a broken PDF can warn per object)


class OverBudgetError(IngestError):
    """Reading the file needed more memory or time than its budget allows."""


class SpecialFileError(UnsupportedFileError):
    """A FIFO, device, socket or symlink loop was named where a file was expected."""


@dataclass(frozen=True)
class Budget:
    """What reading one file may cost.

    Attributes:
        memory_mb: address space the reading child may add to what it starts with (the
            worker's imported modules). Real papers and books need well under 100 MB; a
            decompression bomb is stopped here.
        cpu_seconds: CPU time of the child (the slowest real book measured: ~15 s).
        wall_seconds: wall-clock time of the child, for a reader stuck without using CPU.
    """

    memory_mb: int = 1024
    cpu_seconds: int = 120
    wall_seconds: int = 300

    def __post_init__(self) -> None:
        for name in ("memory_mb", "cpu_seconds", "wall_seconds"):
            if getattr(self, name) < 1:
                raise ValueError(f"Budget.{name} must be a positive integer, got {getattr(self, name)}")


def check_regular_file(path: Path) -> os.stat_result:
    """The ``stat`` of ``path`` if it is a regular file (symlinks followed).

    Raises:
        SpecialFileError: a FIFO, device, socket, or a symlink loop.
        IngestError: missing or unreadable (the reason from the OS, and what to do).
    """
    try:
        info = os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise SpecialFileError(f"{path} is a symlink loop (it never reaches a file): "
                                   "fix or remove the link") from err
        raise IngestError(f"{path}: cannot read it ({err.strerror}): check the path and its "
                          "permissions") from err
    if stat.S_ISDIR(info.st_mode):
        raise UnsupportedFileError(f"{path} is a folder: name the folder itself to add what is in it")
    if not stat.S_ISREG(info.st_mode):
        raise SpecialFileError(f"{path} is a {_kind(info.st_mode)}, not a regular file: skipped "
                               "(copy its content into a file to add it)")
    return info


def find_readable(paths: Sequence[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """:func:`~paperbridge.ingest.reader.find_files`, plus what it passes over in silence.

    Returns the files to read, and ``(path, message)`` for each entry under the folders that
    has a readable suffix but is no regular file (a FIFO, a device, a symlink loop), so that
    the caller reports it instead of skipping it without a word. Named paths are checked
    when they are read (:func:`check_regular_file`).
    """
    from paperbridge.ingest.reader import SUPPORTED, find_files

    skipped: list[tuple[str, str]] = []
    for folder in (p for p in paths if Path(p).is_dir()):
        for top, _, names in os.walk(folder):
            for name in sorted(n for n in names if Path(n).suffix.lower() in SUPPORTED):
                try:
                    check_regular_file(Path(top) / name)
                except IngestError as err:
                    skipped.append((str(Path(top) / name), str(err)))
    return find_files(list(paths)), skipped


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


# ---- the parent side ---------------------------------------------------------------------
@dataclass(frozen=True)
class _Request:
    path: str
    password: str | None
    config: IngestConfig
    budget: Budget
    log_level: int


@dataclass(frozen=True)
class _Outcome:
    """What the worker saw of one child: how it ended, what it cost, what it sent."""

    status: int  # os.wait status
    max_rss_kb: int
    cpu_seconds: float
    timed_out: bool
    payload: bytes


class BoundedReader:
    """Read files in child processes with a :class:`Budget` each.

    Use as a context manager (the worker process ends with it); reads are serialized, and
    may come from another thread than the one that closes the reader: a read running when
    it is closed fails (within the few seconds the worker takes to stop), later ones at once.

    Example:
        >>> with BoundedReader(Budget(memory_mb=512)) as reader:
        ...     document = reader.read(Path("paper.pdf"))
    """

    def __init__(self, budget: Budget | None = None) -> None:
        self.budget = budget or Budget()
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> BoundedReader:
        """Start the worker now: it imports the readers (~0.5 s) while the caller sets up."""
        if _CAN_FORK:
            with self._lock:
                self._worker()
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker (it also stops on its own when the parent goes away)."""
        self._closed = True
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()
            proc.wait()
        finally:
            if proc.stdout:
                proc.stdout.close()

    def read(self, path: Path, *, password: str | None = None,
             config: IngestConfig | None = None) -> Document:
        """Read one file within the budget.

        Raises:
            IngestError: the file could not be read: its own reason (encrypted, no text...),
                :class:`OverBudgetError`, :class:`SpecialFileError`, or
                :class:`~paperbridge.ingest.errors.CorruptFileError` when a reader crashed or
                failed on it; the message names the file.
        """
        path = Path(path)
        check_regular_file(path)
        if not _CAN_FORK:  # no fork (Windows): read in this process, unbounded
            from paperbridge.ingest.reader import read_document

            return read_document(path, password=password, config=config or IngestConfig())
        request = _Request(str(path), password, config or IngestConfig(), self.budget,
                           logging.getLogger().getEffectiveLevel())
        with self._lock:
            if self._closed:
                raise IngestError(f"{path.name}: not read: the write stopped before it was done")
            outcome = self._exchange(request)
        return _result(path, outcome, self.budget)

    def _exchange(self, request: _Request) -> _Outcome:
        """Send one request to the worker and wait for its answer (restarting a dead worker)."""
        for attempt in (1, 2):
            proc = self._worker()
            assert proc.stdin is not None and proc.stdout is not None
            try:
                _send(proc.stdin, pickle.dumps(request))
                raw = _receive(proc.stdout, deadline=time.monotonic() + request.budget.wall_seconds + 60)
            except (OSError, EOFError, TimeoutError) as err:
                if self._closed:  # closed from another thread while this file was read
                    raise IngestError(f"{Path(request.path).name}: not read: the write stopped "
                                      "before it was done") from err
                log.warning("the reading worker failed (%s); restarting it", err)
                self._kill()
                if attempt == 2:
                    raise CorruptFileError(f"{Path(request.path).name}: the reading process failed "
                                           f"({err}): try adding the file again") from err
                continue
            outcome = pickle.loads(raw)
            assert isinstance(outcome, _Outcome)
            return outcome
        raise AssertionError("unreachable")

    def _worker(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "paperbridge.ingest.budget"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, close_fds=True,
            )
        return self._proc

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            for pipe in (self._proc.stdin, self._proc.stdout):
                if pipe:
                    pipe.close()
            self._proc = None


def _result(path: Path, outcome: _Outcome, budget: Budget) -> Document:
    """The document the child sent, or the error that says what happened to it."""
    over = _over_budget(path, outcome, budget)
    if over is not None:
        raise over
    if os.WIFSIGNALED(outcome.status) or not outcome.payload:
        sig = os.WTERMSIG(outcome.status) if os.WIFSIGNALED(outcome.status) else None
        code = os.waitstatus_to_exitcode(outcome.status)
        how = f"signal {signal.Signals(sig).name}" if sig else f"exit code {code}"
        raise CorruptFileError(f"{path.name}: the PDF reader crashed on it ({how}): the file is "
                               "probably damaged; download or export it again")
    kind, value, records = pickle.loads(outcome.payload)
    _replay(records)
    if kind == "ok":
        assert isinstance(value, Document)
        return value
    if kind == "memory":
        raise _memory_error(path, budget)
    if isinstance(value, IngestError):
        raise value
    raise CorruptFileError(f"{path.name}: could not be read ({value}): the file is probably damaged "
                           "or uses something the readers do not support; export it again (e.g. "
                           "print it to PDF)")


def _over_budget(path: Path, outcome: _Outcome, budget: Budget) -> OverBudgetError | None:
    if outcome.timed_out:
        return OverBudgetError(
            f"{path.name}: reading it took longer than {budget.wall_seconds} s: skipped (a file "
            "this slow to read is huge or malformed; split or re-export it, e.g. print it to "
            "PDF, and add it again)")
    sig = os.WTERMSIG(outcome.status) if os.WIFSIGNALED(outcome.status) else None
    if sig == signal.SIGXCPU or (sig is not None and outcome.cpu_seconds >= budget.cpu_seconds):
        return OverBudgetError(
            f"{path.name}: reading it took more than {budget.cpu_seconds} s of CPU time: skipped "
            "(huge or shared content streams?); split or re-export the file and add it again")
    if sig is not None and outcome.max_rss_kb >= budget.memory_mb * 1024 // 2:
        return _memory_error(path, budget)
    return None


def _memory_error(path: Path, budget: Budget) -> OverBudgetError:
    return OverBudgetError(
        f"{path.name}: reading it needed more than {budget.memory_mb} MB of memory: skipped (a "
        "compressed stream that inflates enormously, a decompression bomb?); re-export the "
        "file or split it, and add it again")


def _replay(records: list[logging.LogRecord]) -> None:
    """Hand the child's log records to this process's loggers, as if logged here."""
    for record in records:
        logger = logging.getLogger(record.name)
        if logger.isEnabledFor(record.levelno):
            logger.handle(record)


# ---- framing -------------------------------------------------------------------------------
def _send(out: IO[bytes], data: bytes) -> None:
    out.write(_HEADER.pack(len(data)) + data)
    out.flush()


def _receive(inp: IO[bytes], *, deadline: float | None = None) -> bytes:
    """One framed message; EOFError when the other side has gone, TimeoutError after deadline."""
    header = _read_exactly(inp, _HEADER.size, deadline)
    return _read_exactly(inp, _HEADER.unpack(header)[0], deadline)


def _read_exactly(inp: IO[bytes], size: int, deadline: float | None) -> bytes:
    fd, parts, left = inp.fileno(), [], size
    while left:
        if deadline is not None:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError("no answer from the reading process")
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise EOFError("the reading process ended")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


# ---- the worker and its children ---------------------------------------------------------
_CAN_FORK = hasattr(os, "fork") and sys.platform != "win32"


def _serve(inp: IO[bytes], out: IO[bytes]) -> None:
    """The worker's loop: one request in, one child per request, one outcome out."""
    import paperbridge.ingest.pdf  # noqa: F401 - imported once here, shared by every child
    import paperbridge.ingest.reader  # noqa: F401
    from paperbridge.ingest.language import detect_language

    detect_language("warm up the language detector once")
    while True:
        try:
            request = pickle.loads(_receive(inp))
        except EOFError:
            return
        _send(out, pickle.dumps(_run_child(request)))


def _run_child(request: _Request) -> _Outcome:
    """Fork a child to read one file, collect what it sends, kill it past its wall clock."""
    rfd, wfd = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        os.close(rfd)
        _child(request, wfd)
    os.close(wfd)
    payload, timed_out = _collect(rfd, time.monotonic() + request.budget.wall_seconds)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status, usage = os.wait4(pid, 0)
    os.close(rfd)
    return _Outcome(status, int(usage.ru_maxrss), usage.ru_utime + usage.ru_stime, timed_out, payload)


def _collect(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Everything the child writes until it closes the pipe, or (partial, True) at deadline."""
    parts: list[bytes] = []
    while True:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            return b"".join(parts), True
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(parts), False
        parts.append(chunk)


class _Keep(logging.Handler):
    """Collects a child's log records to send them to the parent."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < _MAX_RECORDS:
            record.msg, record.args, record.exc_info = record.getMessage(), None, None
            self.records.append(record)


def _child(request: _Request, wfd: int) -> None:
    """Limit this process, read the file, write (kind, value, log records) to ``wfd``, exit."""
    code = 0
    try:
        devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(devnull, 0)
        os.dup2(devnull, 1)  # stdout is the worker's channel to its parent: keep it clean
        keep = _Keep()
        root = logging.getLogger()
        root.handlers, root.level = [keep], request.log_level
        _limit(request.budget)
        payload = pickle.dumps(_read(request, keep))
    except MemoryError:
        payload = pickle.dumps(("memory", None, []))
    except BaseException:  # noqa: BLE001 - the child must always reach os._exit
        payload, code = b"", 1
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(wfd, view):]
    finally:
        os._exit(code)


def _read(request: _Request, keep: _Keep) -> tuple[str, Any, list[logging.LogRecord]]:
    from paperbridge.ingest.reader import read_document

    try:
        document = read_document(Path(request.path), password=request.password, config=request.config)
        return "ok", document, keep.records
    except PaperBridgeError as err:
        return "error", err, keep.records
    except (MemoryError, RecursionError) as err:
        if isinstance(err, MemoryError):
            raise
        return "crash", "RecursionError: nesting too deep", keep.records
    except Exception as err:  # noqa: BLE001 - any reader failure becomes this file's error
        return "crash", _describe(err), keep.records


def _describe(err: BaseException) -> str:
    """``AttributeError in pypdf/_page.py: 'NullObject' object has no attribute 'get'``."""
    where, tb = "", err.__traceback__
    while tb is not None:  # the innermost frame: where the reader gave up
        parts = Path(tb.tb_frame.f_code.co_filename).parts
        inside = parts[parts.index("site-packages") + 1:] if "site-packages" in parts else parts[-2:]
        where = f"{'/'.join(inside)} line {tb.tb_lineno}"
        tb = tb.tb_next
    message = " ".join(str(err).split())[:200]
    return f"{type(err).__name__}{' in ' + where if where else ''}{': ' + message if message else ''}"


def _limit(budget: Budget) -> None:
    """Cap this child's address space growth and CPU time; no core dumps."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            start = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # no /proc: the budget is then the whole address space
        start = 0
    memory = start + budget.memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (budget.cpu_seconds, budget.cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _main() -> None:
    """Entry point of the worker process (``python -m paperbridge.ingest.budget``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which stops us
    _serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    # Run the imported module's _main, not this __main__ copy's: what the worker pickles must
    # name classes the parent can find (paperbridge.ingest.budget._Outcome).
    from paperbridge.ingest.budget import _main as main

    main()
