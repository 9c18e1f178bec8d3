"""`paperbridge add/list/remove/rebuild`, and kill -9 during `add` (the library stays loadable)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperbridge.cli import main
from paperbridge.index import IndexConfig, Library
from paperbridge.ingest import find_files
from tests.conftest import SAMPLE
from tests.test_library import check_consistent

HASH = IndexConfig(encoders=("hash",))


def run(library: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--library", str(library), *args], env=env)
    return result.exit_code, result.output


def test_add_list_remove_rebuild(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 not really a pdf")
    code, out = run(lib, "add", "--sample", "--model", "hash", str(bad))
    assert code == 1
    n = len(find_files([SAMPLE]))
    assert n >= 5 and f"Added {n}, replaced 0, unchanged 0, failed 1" in out
    assert f"failed: {bad}:" in out
    code, out = run(lib, "add", str(SAMPLE))
    assert code == 0 and f"Added 0, replaced 0, unchanged {n}, failed 0" in out
    code, out = run(lib, "list")
    assert code == 0 and "日本科技创新体系发展特征及对中国启示" in out and "passages" in out.splitlines()[0]
    docs = json.loads(run(lib, "list", "--json")[1])
    assert {"doc_id", "title", "lang", "pages", "passages", "warnings"} <= docs[0].keys()
    target = next(d for d in docs if d["lang"] == "zh")
    code, out = run(lib, "remove", target["doc_id"][:8])
    assert code == 0 and target["title"] in out
    assert target["doc_id"] not in run(lib, "list")[1]
    code, out = run(lib, "add", "--model", "multilingual-e5-small", str(SAMPLE))
    assert code == 1 and "paperbridge rebuild --model multilingual-e5-small" in out
    code, out = run(lib, "rebuild")
    assert code == 0 and f"Rebuilt {n - 1} documents" in out and "hash" in out
    code, out = run(lib, "remove", "no-such-doc")
    assert code == 1 and "No document 'no-such-doc'" in out


def test_list_of_an_empty_library(tmp_path: Path) -> None:
    assert "No documents" in run(tmp_path / "none", "list")[1]
    assert json.loads(run(tmp_path / "none", "list", "--json")[1]) == []


# ---- kill -9 ----------------------------------------------------------------------------
def _make_papers(folder: Path, n: int) -> None:
    """n distinct text files built from the sample corpus's paragraphs."""
    paras = [p.strip() for f in sorted(SAMPLE.glob("*.txt"))
             for p in f.read_text(encoding="utf-8").split("\n\n") if len(p.strip()) > 80]
    folder.mkdir()
    for i in range(n):
        body = "\n\n".join(paras[(i * 7 + j * 13) % len(paras)] for j in range(6))
        (folder / f"paper_{i:03d}.txt").write_text(
            f"Generated paper number {i}\n\n{body}\n\nClosing note {i}.\n", encoding="utf-8")


class _Add:
    """`paperbridge add` in a subprocess, its stderr (tqdm bars) collected as it comes."""

    def __init__(self, library: Path, folder: Path) -> None:
        env = {**os.environ, "PAPERBRIDGE_MODELS": "hash", "PAPERBRIDGE_LIBRARY": str(library)}
        self.proc = subprocess.Popen([sys.executable, "-m", "paperbridge", "add", str(folder)],
                                     env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.err = b""
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        while chunk := os.read(self.proc.stderr.fileno(), 4096):
            self.err += chunk

    def wait_for(self, condition: object, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while not condition() and self.proc.poll() is None and time.monotonic() < end:  # type: ignore[operator]
            time.sleep(0.005)


def _state(path: Path) -> frozenset[str]:
    lib = Library.open(path, HASH)
    check_consistent(lib)
    hits = lib.lexical_search("Japan innovation 日本", 3)
    assert hits and lib.passages([hits[0][0]])[0].text
    return frozenset(d.doc_id for d in lib.documents())


def test_kill_9_during_add_leaves_the_old_or_the_new_library(tmp_path: Path) -> None:
    papers = tmp_path / "papers"
    _make_papers(papers, 60)
    template = tmp_path / "template"
    Library.open(template, HASH, create=True).add(sorted(SAMPLE.glob("*.txt")))
    old = _state(template)
    shutil.copytree(template, tmp_path / "full")
    full = _Add(tmp_path / "full", papers)
    assert full.proc.wait(120) == 0, full.err.decode()[-2000:]
    new = _state(tmp_path / "full")
    assert len(new) == len(old) + 60

    def current(lib: Path) -> str:
        return (lib / "CURRENT").read_text()

    moments = [("start", lambda a, lib, c0: True, 0.3), ("reading", lambda a, lib, c0: True, 1.0)]
    moments += [(f"embedding+{d}", lambda a, lib, c0: b"embedding" in a.err, d)
                for d in (0.0, 0.05, 0.15)]
    moments += [("publishing", lambda a, lib, c0: any((lib / "versions").glob(".tmp-*/lexical")), 0),
                ("renamed", lambda a, lib, c0: len(list((lib / "versions").glob("0*"))) > 1, 0),
                ("swapped", lambda a, lib, c0: current(lib) != c0, 0.0)]
    seen = set()
    for name, condition, delay in moments:
        lib = tmp_path / f"kill-{name}"
        shutil.copytree(template, lib)
        c0 = current(lib)
        add = _Add(lib, papers)
        add.wait_for(lambda a=add, lib=lib, c0=c0, cond=condition: cond(a, lib, c0))
        time.sleep(delay)
        add.proc.send_signal(signal.SIGKILL)
        add.proc.wait()
        state = _state(lib)
        assert state in (old, new), name
        seen.add("old" if state == old else "new")
    assert seen == {"old", "new"}
    again = _Add(lib, papers)  # a later writer recovers (lock freed, leftovers removed)
    assert again.proc.wait(120) == 0 and _state(lib) == new
    assert not list((lib / "versions").glob(".tmp-*"))


@pytest.mark.parametrize("command", ["add", "remove", "list", "rebuild"])
def test_library_commands_have_help_with_examples(command: str) -> None:
    out = CliRunner().invoke(main, [command, "--help"]).output
    assert "Examples:" in out and "paperbridge " + command in out
