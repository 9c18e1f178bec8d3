"""Shared fixtures: where the real test files are, and a private library per test."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "ingest" / "sample" / "papers"
SHARED = ROOT.parent / "shared"
SHARED_PDFS = SHARED / "pdfs"
XQUAD = SHARED / "data" / "xquad"


@pytest.fixture(autouse=True)
def _private_library(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point PAPERBRIDGE_LIBRARY at a fresh folder so no test touches the user's library."""
    lib = tmp_path_factory.mktemp("library")
    monkeypatch.setenv("PAPERBRIDGE_LIBRARY", str(lib))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    return lib


@pytest.fixture(scope="session")
def shared_pdfs() -> Path:
    """../shared/pdfs, the real PDFs with known traps (present in CI beside the clone)."""
    if not SHARED_PDFS.is_dir():
        pytest.skip(f"{SHARED_PDFS} not found: clone the project beside ../shared to run this test")
    return SHARED_PDFS


@pytest.fixture(scope="session")
def sample_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A library of the sample corpus embedded with the REAL default models, built once.

    Tests that need it may read it (open it, serve it) but must not add to it: copy it
    with ``shutil.copytree`` first.
    """
    from paperbridge.index import Library

    path = tmp_path_factory.mktemp("sample") / "library"
    library = Library.open(path, create=True)
    report = library.add(sorted(p for p in SAMPLE.iterdir() if p.suffix == ".txt"))
    assert not report.failed, report.failed
    return path
