"""The wheel installs one top-level package, `paperbridge`, and works from a plain install.

The wheel is built from the repository, installed non-editable into a fresh venv, and the
CLI is run from there, away from the source tree. The fresh venv borrows the third-party
dependencies of the running interpreter through PYTHONPATH (so no multi-GB reinstall of
torch): PYTHONPATH skips .pth files, so the editable install of the source tree stays out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import time
import urllib.request
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT, SAMPLE


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    """(fresh venv's bin folder, environment to run it in, the wheel)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"  # a copy, so the build writes nothing into the working tree
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", "artifacts", ".*cache", ".ci-library"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(work / "dist"), str(source)],
        check=True, capture_output=True, text=True,
    )
    wheel = next((work / "dist").glob("paperbridge-*.whl"))
    venv.EnvBuilder(with_pip=True).create(work / "venv")
    bin_dir = work / "venv" / "bin"
    subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True, capture_output=True, text=True)
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"],
           "PAPERBRIDGE_MODELS": "hash", "PAPERBRIDGE_LIBRARY": str(work / "library")}
    return bin_dir, env, wheel


def _run(bin_dir: Path, env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(bin_dir / "paperbridge"), *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_wheel_has_exactly_one_top_level_package(installed: tuple[Path, dict[str, str], Path]) -> None:
    _, _, wheel = installed
    with zipfile.ZipFile(wheel) as zf:
        top_level = next(n for n in zf.namelist() if n.endswith(".dist-info/top_level.txt"))
        assert zf.read(top_level).decode().split() == ["paperbridge"]
        roots = {name.split("/", 1)[0] for name in zf.namelist()}
    assert {r for r in roots if not r.endswith(".dist-info")} == {"paperbridge"}
    assert "paperbridge/ingest/sample/papers/002_f74b1f1c159f20b4.txt" in zf.namelist()


def test_cli_runs_from_the_plain_install(installed: tuple[Path, dict[str, str], Path],
                                         tmp_path: Path) -> None:
    bin_dir, env, _ = installed
    where = _run(bin_dir, env, "--help", cwd=tmp_path)
    assert where.returncode == 0 and "add" in where.stdout
    probe = subprocess.run([str(bin_dir / "python"), "-c", "import paperbridge; print(paperbridge.__file__)"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, check=True)
    assert str(bin_dir.parent) in probe.stdout, "paperbridge was imported from the source tree"
    added = _run(bin_dir, env, "add", "--sample", cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    assert "Added 5" in added.stdout
    listed = _run(bin_dir, env, "list", "--json", cwd=tmp_path)
    assert listed.returncode == 0 and listed.stdout.count('"doc_id"') == 5
    asked = _run(bin_dir, env, "ask", "Global Innovation Index 2023 Japan rank", "--json", cwd=tmp_path)
    assert asked.returncode == 0, asked.stderr
    assert '"citations"' in asked.stdout
    module = subprocess.run([str(bin_dir / "python"), "-m", "paperbridge", "list"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=300)
    assert module.returncode == 0 and "Japan" in module.stdout
    first = json.loads(listed.stdout)[0]["doc_id"]
    removed = _run(bin_dir, env, "remove", first, cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    rebuilt = _run(bin_dir, env, "rebuild", cwd=tmp_path)
    assert rebuilt.returncode == 0 and "Rebuilt 4 documents" in rebuilt.stdout


def test_serve_runs_from_the_plain_install(installed: tuple[Path, dict[str, str], Path],
                                           tmp_path: Path) -> None:
    bin_dir, env, _ = installed
    _run(bin_dir, env, "add", str(SAMPLE / "003_80f01615cb902946.txt"), cwd=tmp_path)
    port = "7871"
    proc = subprocess.Popen([str(bin_dir / "paperbridge"), "serve", "--port", port], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
                    assert page.status == 200
                    assert "PaperBridge" in page.read().decode("utf-8", "replace")
                    return
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                time.sleep(1)
        pytest.fail("paperbridge serve did not answer within 180 s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
