"""Fault injection on real libraries: every kind of library file lost, cut or garbled.

Each test builds a real library (the ``hash`` encoder: the model is beside the point), does
to it what a sync tool, a careless ``rm``, a crash or a full disk does, and checks two things:
the documents survive (or the damage is refused, never answered from or written over), and
the message says what happened and what to run.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperbridge.cli import main
from paperbridge.index import IndexConfig, Library
from paperbridge.index.doctor import check, repair
from paperbridge.ingest.errors import LibraryDamagedError, LibraryError, LibraryFormatError
from tests.conftest import SAMPLE
from tests.test_library import check_consistent

HASH = IndexConfig(encoders=("hash",))
PAPERS = sorted(SAMPLE.glob("*.txt"))


def _versions(lib: Path) -> list[str]:
    return sorted(p.name for p in (lib / "versions").iterdir() if not p.name.startswith("."))


def _current(lib: Path) -> Path:
    return lib / "versions" / (lib / "CURRENT").read_text().strip()


def _tree_digest(lib: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in lib.rglob("*") if p.is_file() and p.name != "lock"):
        digest.update(str(path.relative_to(lib)).encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "lib"
    lib = Library.open(path, HASH, create=True)
    lib.add(PAPERS[:4])
    lib.add(PAPERS[4:])
    assert len(_versions(path)) == 2 and len(lib.documents()) == 5
    return path


@pytest.fixture()
def library(_template: Path, tmp_path: Path) -> Path:
    """A library written twice: 4 papers, then the 5th (two complete versions on disk)."""
    path = tmp_path / "lib"
    shutil.copytree(_template, path)
    return path


def cli(library: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--library", str(library), *args])
    assert "Traceback" not in result.output, result.output
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"{args}: {type(result.exception).__name__}: {result.exception}")
    return result.exit_code, result.output


def _titles(path: Path) -> set[str]:
    return {d.title for d in Library.open(path, HASH).documents()}


# ---- CURRENT ------------------------------------------------------------------------------
@pytest.mark.parametrize("damage", ["missing", "empty", "junk", "dangling", "escape"])
def test_a_bad_current_is_recovered_from_the_newest_version_never_read_as_empty(
        library: Path, damage: str, tmp_path: Path) -> None:
    titles = _titles(library)
    newest = _current(library).name
    current = library / "CURRENT"
    if damage == "missing":
        current.unlink()
    else:
        current.write_bytes({"empty": b"", "junk": b"\x00\xff\xfe\x1b[31m\x80junk",
                             "dangling": b"000099-deadbeefdeadbeef",
                             "escape": b"../../etc"}[damage])
    lib = Library.open(library, HASH)
    assert {d.title for d in lib.documents()} == titles
    assert lib.note is not None and newest in lib.note and "CURRENT" in lib.note
    state = lib._state
    assert not lib.refresh() and lib._state is state  # questions do not reload it each time
    code, out = cli(library, "list")
    assert code == 0 and "No documents" not in out and len(out.splitlines()) > 5
    extra = tmp_path / "extra.txt"
    extra.write_text("A sixth paper about quantum sensing budgets in Japan.\n", encoding="utf-8")
    report = Library.open(library, HASH).add([extra])  # the next add carries everything over
    assert len(report.added) == 1
    lib = Library.open(library, HASH)
    assert {d.title for d in lib.documents()} == titles | {"extra"} and lib.note is None
    assert lib.manifest is not None and lib.manifest.generation == 3  # never restarts at 1
    assert newest in _versions(library)  # the version it was recovered from is kept for readers
    check_consistent(lib)


def test_an_unchanged_add_still_repairs_current(library: Path) -> None:
    (library / "CURRENT").unlink()
    report = Library.open(library, HASH).add(PAPERS[:1])
    assert report.skipped and not report.added
    assert (library / "CURRENT").read_text() == _versions(library)[-1]


def test_calibration_belongs_to_its_version_not_its_generation_number(tmp_path: Path) -> None:
    from paperbridge.index import HashEncoder
    from paperbridge.qa import PaperBridge

    bridge = PaperBridge(tmp_path / "lib", encoders=[HashEncoder()])
    bridge.add(PAPERS[:2])
    first = bridge.library.version_id
    assert first and bridge.library.read_side("calibration.json", first) is not None
    side = next((tmp_path / "lib" / "versions").glob(f"*-{first}")) / "side" / "calibration.json"
    assert side.is_file()
    # Another library that reaches the same generation number shares nothing with this one.
    other = PaperBridge(tmp_path / "other", encoders=[HashEncoder()])
    other.add(PAPERS[2:3])
    assert other.library.manifest is not None and bridge.library.manifest is not None
    assert other.library.manifest.generation == bridge.library.manifest.generation
    assert other.library.read_side("calibration.json", first) is None
    assert other.library.version_id != first


def test_current_missing_and_the_newest_version_damaged_is_refused(library: Path) -> None:
    (library / "CURRENT").unlink()
    db = _current_newest(library) / "library.sqlite"
    db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    before = _tree_digest(library)
    with pytest.raises(LibraryDamagedError, match="doctor"):
        Library.open(library, HASH)
    with pytest.raises(LibraryDamagedError):
        Library.open(library, HASH, create=True).add(PAPERS[:1])
    code, out = cli(library, "list")
    assert code == 1 and "damaged" in out and "doctor" in out
    assert _tree_digest(library) == before  # nothing deleted, nothing written


def _current_newest(library: Path) -> Path:
    return library / "versions" / _versions(library)[-1]


# ---- files of the current version ----------------------------------------------------------
def _faiss(version: Path) -> Path:
    return next(version.glob("vectors/0/*.faiss"))


DAMAGE = {
    "faiss deleted": lambda v: _faiss(v).unlink(),
    "faiss truncated": lambda v: _faiss(v).write_bytes(_faiss(v).read_bytes()[:100]),
    "faiss garbled": lambda v: _faiss(v).write_bytes(b"\0" * _faiss(v).stat().st_size),
    "lexical deleted": lambda v: next(v.glob("lexical/*.npy")).unlink(),
    "vectors folder deleted": lambda v: shutil.rmtree(v / "vectors"),
    "sqlite truncated": lambda v: (v / "library.sqlite").write_bytes(
        (v / "library.sqlite").read_bytes()[:4096]),
    "sqlite junk": lambda v: (v / "library.sqlite").write_bytes(os.urandom(8192)),
    "manifest deleted": lambda v: (v / "manifest.json").unlink(),
    "manifest junk": lambda v: (v / "manifest.json").write_bytes(b"\xff{not json"),
}
REPAIRABLE = {"faiss deleted", "faiss truncated", "faiss garbled", "lexical deleted",
              "vectors folder deleted"}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_a_damaged_version_is_refused_with_what_to_run_then_repaired(
        library: Path, damage: str, tmp_path: Path) -> None:
    titles = _titles(library)
    DAMAGE[damage](_current(library))
    before = _tree_digest(library)
    with pytest.raises(LibraryDamagedError, match=r"is damaged: version .* doctor"):
        Library.open(library, HASH)
    code, out = cli(library, "list")  # no traceback, never "No documents"
    assert code == 1 and "damaged" in out and "doctor" in out and "No documents" not in out
    extra = tmp_path / "extra.txt"
    extra.write_text("One more paper.\n", encoding="utf-8")
    code, out = cli(library, "add", str(extra))
    assert code == 1 and "damaged" in out
    assert _tree_digest(library) == before  # the write was refused: nothing published on top

    health = check(library)
    assert not health.ok and any(damage.split()[0] in p or "manifest" in p or "missing" in p
                                 for p in health.problems())
    code, out = cli(library, "doctor")
    assert code == 1 and "problem: current version" in out and "doctor --repair" in out
    done = repair(library)
    if damage in REPAIRABLE:
        assert done.health is not None and done.health.ok, done.health.problems() if done.health else ""
        code, out = cli(library, "doctor")
        assert code == 0 and "5 documents, every file checked" in out
        assert any("re-embedded 5 documents" in a for a in done.actions)
        lib = Library.open(library, HASH)
        assert {d.title for d in lib.documents()} == titles
        check_consistent(lib)
        assert lib.lexical_search("Japan innovation", 3)
    else:  # the database or manifest is gone: only going back a version is possible
        assert "--rollback" in health.advice() and "4 documents" in health.advice()
        with pytest.raises(LibraryDamagedError):
            Library.open(library, HASH)
        code, out = cli(library, "doctor", "--repair", "--rollback")
        assert "repaired: CURRENT went back to" in out and "4 documents" in out
        lib = Library.open(library, HASH)
        assert len(lib.documents()) == 4 and {d.title for d in lib.documents()} < titles
        check_consistent(lib)


def test_a_damaged_older_version_is_reported_but_the_current_one_serves(library: Path) -> None:
    older = library / "versions" / _versions(library)[0]
    _faiss(older).unlink()
    lib = Library.open(library, HASH)
    assert len(lib.documents()) == 5
    health = check(library)
    assert health.ok and any("older version" in p for p in health.problems())


def test_doctor_full_catches_a_change_the_sample_checksum_misses(tmp_path: Path) -> None:
    lib = Library.open(tmp_path / "lib", HASH, create=True)
    lib.add(PAPERS)
    version = _current(tmp_path / "lib")
    big = max((p for p in version.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    assert check(tmp_path / "lib", full=True).ok
    data = bytearray(big.read_bytes())
    if len(data) > 8 << 20:  # sampled: flip a byte between the sampled blocks
        data[len(data) // 2 + 70_000] ^= 0xFF
    else:
        data[len(data) // 2] ^= 0xFF
    big.write_bytes(bytes(data))
    assert not check(tmp_path / "lib", full=True).ok


# ---- format --------------------------------------------------------------------------------
def test_a_library_from_a_newer_format_is_refused_and_left_alone(library: Path) -> None:
    manifest = _current(library) / "manifest.json"
    raw = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**raw, "format_version": 7, "new_field": [1, 2]}))
    before = _tree_digest(library)
    with pytest.raises(LibraryFormatError, match="newer PaperBridge.*Upgrade"):
        Library.open(library, HASH)
    code, out = cli(library, "add", str(PAPERS[0]))
    assert code == 1 and "newer PaperBridge" in out
    assert _tree_digest(library) == before


# ---- a full disk ---------------------------------------------------------------------------
@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 6 MB tmpfs (root only; skipped elsewhere)."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small disk needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> None:
    with open(disk / "filler", "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass


def test_a_full_disk_names_the_folder_and_keeps_the_previous_version(
        small_disk: Path, tmp_path: Path) -> None:
    path = small_disk / "lib"
    Library.open(path, HASH, create=True).add(PAPERS[:3])
    titles = _titles(path)
    _fill(small_disk)
    (small_disk / "filler").write_bytes(b"\0" * (max(0, (small_disk / "filler").stat().st_size - 200_000)))
    bigger = tmp_path / "big.txt"  # more than the room left, once indexed
    bigger.write_text("\n\n".join(f"Paragraph {i} about research funding in Japan and China."
                                  + " The K Program and doctoral students matter." * (i % 9)
                                  for i in range(4000)), encoding="utf-8")
    with pytest.raises(LibraryError, match=r"disk holding .* is full.*unchanged.*Free some space"):
        Library.open(path, HASH).add([bigger, *PAPERS[3:]])
    code, out = cli(path, "add", str(bigger))
    assert code == 1 and "is full" in out
    assert _titles(path) == titles
    assert not list((path / "versions").glob(".tmp-*"))  # the half-written version is gone
    check_consistent(Library.open(path, HASH))
