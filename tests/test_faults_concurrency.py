"""Concurrent users: uploads of one name at the same moment, writers queueing for the lock.

The uploads go through the web UI's own handlers (the code a Gradio event runs), several at
once from threads, against one shared PaperBridge, as a server with several users runs them.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from paperbridge import ui
from paperbridge.index import IndexConfig, Library
from paperbridge.index.lock import writer_lock
from paperbridge.qa import PaperBridge
from tests.conftest import SAMPLE
from tests.test_library import check_consistent

HASH = IndexConfig(encoders=("hash",))
PAPERS = sorted(SAMPLE.glob("*.txt"))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def test_concurrent_uploads_of_one_name_keep_each_users_bytes(tmp_path: Path) -> None:
    handlers = ui._Handlers(PaperBridge(tmp_path / "lib", models=["hash"]), max_upload_mb=50)
    users = 4
    uploads = []
    for i in range(users):  # four users, four different files, one name
        folder = tmp_path / f"user{i}"
        folder.mkdir()
        paper = folder / "paper.txt"
        body = PAPERS[i].read_text(encoding="utf-8")
        paper.write_text(f"# Findings of user number {i} on Japanese research policy\n\n{body}\n",
                         encoding="utf-8")
        uploads.append(paper)
    start = threading.Barrier(users)
    results: dict[int, Any] = {}

    def upload(i: int) -> None:
        start.wait()
        try:
            results[i] = handlers.upload([str(uploads[i])], "")
        except Exception as err:  # noqa: BLE001 - recorded and asserted on below
            results[i] = err

    threads = [threading.Thread(target=upload, args=(i,)) for i in range(users)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    errors = {i: r for i, r in results.items() if isinstance(r, Exception)}
    assert not errors, errors  # nobody was told "another process is writing": they queued
    files = tmp_path / "lib" / "files"
    kept = sorted(p.name for p in files.iterdir())
    assert kept == ["paper-1.txt", "paper-2.txt", "paper-3.txt", "paper.txt"]
    for i in range(users):  # each user is told "added as X", and X holds that user's bytes
        report = results[i][0].replace("\\", "")
        assert report.startswith("- added ") and "failed" not in report
        name = re.search(r"\((paper(?:-\d)?\.txt), \d+ passages\)", report)
        assert name is not None and (files / name.group(1)).read_bytes() == uploads[i].read_bytes()
    lib = Library.open(tmp_path / "lib")
    docs = lib.documents()
    assert sorted(d.doc_id for d in docs) == sorted(_digest(u) for u in uploads)
    for doc in docs:  # what the index holds is exactly what files/ holds under that name
        assert _digest(Path(doc.source)) == doc.doc_id
    check_consistent(lib)


def test_the_same_bytes_uploaded_twice_at_once_are_kept_once(tmp_path: Path) -> None:
    handlers = ui._Handlers(PaperBridge(tmp_path / "lib", models=["hash"]), max_upload_mb=50)
    start = threading.Barrier(2)
    results: list[Any] = []

    def upload() -> None:
        start.wait()
        results.append(handlers.upload([str(PAPERS[0])], ""))

    threads = [threading.Thread(target=upload) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert len(results) == 2
    assert [p.name for p in (tmp_path / "lib" / "files").iterdir()] == [PAPERS[0].name]
    assert len(Library.open(tmp_path / "lib").documents()) == 1


def test_a_writer_of_this_process_waits_with_progress_and_another_process_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "lib"
    Library.open(path, HASH, create=True).add(PAPERS[:1])
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with writer_lock(path):
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    env = {**os.environ, "PAPERBRIDGE_LIBRARY": str(path)}
    started = time.monotonic()
    other = subprocess.run([sys.executable, "-m", "paperbridge", "add", str(PAPERS[1])], env=env,
                           capture_output=True, text=True, timeout=120)
    assert other.returncode == 1 and "Another PaperBridge process is writing" in other.stdout + other.stderr
    assert "Traceback" not in other.stderr and time.monotonic() - started < 60  # at once, not after a wait
    threading.Timer(2.0, release.set).start()
    waited = time.monotonic()
    report = Library.open(path, HASH).add(PAPERS[1:2], progress=True)  # this process: waits its turn
    assert time.monotonic() - waited >= 1.5 and len(report.added) == 1
    holder.join(10)
    assert "waiting for another write to this library to finish" in capsys.readouterr().err
    assert len(Library.open(path, HASH).documents()) == 2


def test_a_failed_upload_leaves_no_copy_and_the_good_ones_are_added(
        tmp_path: Path, shared_pdfs: Path) -> None:
    handlers = ui._Handlers(PaperBridge(tmp_path / "lib", models=["hash"]), max_upload_mb=50)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n" + os.urandom(3000))
    scanned = shared_pdfs / "en_scanned_no_text_layer_175.pdf"
    report = handlers.upload([str(broken), str(scanned), str(PAPERS[0]), str(PAPERS[1])], "")[0]
    assert "failed: broken" in report and "failed: en" in report.replace("\\", "")
    kept = sorted(p.name for p in (tmp_path / "lib" / "files").iterdir())
    assert kept == sorted([PAPERS[0].name, PAPERS[1].name])  # no copy of what could not be read
    assert len(Library.open(tmp_path / "lib").documents()) == 2
