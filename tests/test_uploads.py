"""Kept uploads: names that cannot leave the library's folder, size limits, reserved names."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperbridge.index import uploads


@pytest.mark.parametrize(
    ("given", "safe"),
    [
        ("paper.pdf", "paper.pdf"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("..\\..\\windows\\evil.PDF", "evil.pdf"),
        ("/abs/path/x.md", "x.md"),
        ("...hidden.txt", "hidden.txt"),
        ("日本 科技 创新.pdf", "日本_科技_创新.pdf"),
        ("a<b>|c:d?.txt", "a_b_c_d.txt"),
        ("..", "upload"),
        ("", "upload"),
        ("x" * 300 + ".pdf", "x" * 116 + ".pdf"),
    ],
)
def test_upload_names_cannot_leave_the_folder(given: str, safe: str) -> None:
    assert uploads.safe_upload_name(given) == safe


def test_uploads_are_stored_under_safe_names_and_oversized_ones_refused(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    small = src / "..notes.txt"
    small.write_text("Japan keeps R&D intensity above 3%.", encoding="utf-8")
    big = src / "big.pdf"
    big.write_bytes(b"%PDF-1.4\n" + b"0" * 3000)
    other = src / "data.csv"
    other.write_text("a,b\n", encoding="utf-8")
    files = tmp_path / "library" / "files"
    stored, refused = uploads.store_uploads([small, big, other], files, max_bytes=2048)
    assert stored == [files / "notes.txt"]
    assert stored[0].read_text(encoding="utf-8") == small.read_text(encoding="utf-8")
    assert [name for name, _ in refused] == ["big.pdf", "data.csv"]
    assert "big.pdf is 2.9 KB, over the 2.0 KB upload limit" in refused[0][1]
    assert "--max-upload-mb" in refused[0][1]
    assert "not a PDF, .txt or .md" in refused[1][1]
    assert sorted(p.name for p in files.iterdir()) == ["notes.txt"]


def test_same_name_other_bytes_gets_a_new_name_same_bytes_reuses(tmp_path: Path) -> None:
    files = tmp_path / "files"
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    (first / "p.txt").write_text("one", encoding="utf-8")
    (second / "p.txt").write_text("two", encoding="utf-8")
    mb = 2**20
    assert uploads.store_uploads([first / "p.txt"], files, max_bytes=mb)[0] == [files / "p.txt"]
    assert uploads.store_uploads([second / "p.txt"], files, max_bytes=mb)[0] == [files / "p-1.txt"]
    assert uploads.store_uploads([first / "p.txt"], files, max_bytes=mb)[0] == [files / "p.txt"]
    assert (files / "p-1.txt").read_text(encoding="utf-8") == "two"


