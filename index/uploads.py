"""Kept uploads: files a user handed over (e.g. through the web UI), copied into the library.

They live in ``<library>/files/`` under names that cannot leave that folder, and are part of
the library's layout: :meth:`Library.add_uploads <paperbridge.index.Library.add_uploads>`
keeps and adds them under one hold of the writer lock, and drops the copies it could not add.

A name is taken atomically: the bytes are written to a hidden temporary file first, then
hard-linked to the name, which fails if the name exists. Two uploads of one name at the same
moment never overwrite each other or interleave their bytes (the second gets ``-1``), and a
name is reused only for the very same bytes.
"""

from __future__ import annotations

import errno
import filecmp
import os
import re
import shutil
import unicodedata
import uuid
from collections.abc import Sequence
from pathlib import Path

from paperbridge.ingest.errors import LibraryError

SUFFIXES = (".pdf", ".txt", ".md")
FOLDER = "files"  # inside the library folder
_MAX_VARIANTS = 10_000


def uploads_folder(library: Path) -> Path:
    """Where the library at ``library`` keeps copies of uploaded files."""
    return library / FOLDER


def is_kept_upload(library: Path, source: str) -> bool:
    """True when ``source`` is a copy the library keeps in its uploads folder."""
    return os.path.realpath(Path(source).parent) == os.path.realpath(uploads_folder(library))


class UploadError(LibraryError):
    """An uploaded file is refused (too large, not a type PaperBridge reads)."""


def safe_upload_name(name: str) -> str:
    """A file name for an upload that cannot leave the folder it is saved in.

    Keeps only the last path component (``/`` and ``\\`` both count), letters of any script,
    digits and ``._-``; no leading dots, at most 120 characters, the suffix kept.
    """
    base = re.split(r"[\\/]", unicodedata.normalize("NFKC", name))[-1]
    base = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in base)
    base = re.sub(r"_+", "_", base).lstrip("._-")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    suffix = suffix[:10].lower()
    stem = stem[: 120 - len(suffix) - 1].rstrip("._-") or "upload"
    return f"{stem}.{suffix}" if suffix else stem


def check_uploads(uploads: Sequence[Path], *, max_bytes: int) -> tuple[list[Path], list[tuple[str, str]]]:
    """The uploads a library may keep, and ``(original name, why)`` for each refused one.

    Refused: over ``max_bytes``, not a type PaperBridge reads, or unreadable.
    """
    accepted: list[Path] = []
    refused: list[tuple[str, str]] = []
    for upload in map(Path, uploads):
        try:
            _check_one(upload, max_bytes)
            accepted.append(upload)
        except UploadError as err:
            refused.append((upload.name, str(err)))
        except OSError as err:
            refused.append((upload.name, f"{upload.name} cannot be read ({err.strerror})."))
    return accepted, refused


def _check_one(upload: Path, max_bytes: int) -> None:
    size = upload.stat().st_size
    if size > max_bytes:
        raise UploadError(
            f"{upload.name} is {_size(size)}, over the {_size(max_bytes)} upload limit: add it "
            "from the command line (`paperbridge add`) or raise --max-upload-mb."
        )
    if not safe_upload_name(upload.name).lower().endswith(SUFFIXES):
        raise UploadError(f"{upload.name} is not a PDF, .txt or .md file: PaperBridge cannot read it.")


def store_uploads(
    uploads: Sequence[Path], files_dir: Path, *, max_bytes: int
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Copy uploaded files into ``files_dir`` under safe names (no library, no lock).

    Returns the stored paths and, per refused file, ``(original name, why)``. A file whose
    safe name is taken by different bytes gets ``-1``, ``-2``... appended; identical bytes
    reuse the stored copy. A library keeps uploads with ``Library.add_uploads`` instead.
    """
    accepted, refused = check_uploads(uploads, max_bytes=max_bytes)
    stored: list[Path] = []
    for upload in accepted:
        try:
            stored.append(keep_file(files_dir, upload.name, upload)[0])
        except OSError as err:
            refused.append((upload.name, f"{upload.name} could not be stored in {files_dir} "
                            f"({err.strerror}): check free space and permissions."))
    return stored, refused


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.1f} KB"


def keep_file(folder: Path, name: str, data: bytes | Path) -> tuple[Path, bool]:
    """Store ``data`` in ``folder`` under :func:`safe_upload_name` of ``name`` (``-1``... when
    that name holds other bytes).

    Returns the stored path and whether this call created it (False: the same bytes were
    already kept under that name).

    Raises:
        OSError: the copy cannot be written (full disk, permissions); nothing is left behind.
    """
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".incoming-{uuid.uuid4().hex}"
    try:
        _write(tmp, data)
        return _claim(folder, safe_upload_name(name), tmp)
    finally:
        tmp.unlink(missing_ok=True)


def _write(tmp: Path, data: bytes | Path) -> None:
    with open(tmp, "xb") as out:
        if isinstance(data, bytes):
            out.write(data)
        else:
            with open(data, "rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())


def _claim(folder: Path, safe: str, tmp: Path) -> tuple[Path, bool]:
    stem, suffix = Path(safe).stem, Path(safe).suffix
    for n in range(_MAX_VARIANTS):
        target = folder / (safe if n == 0 else f"{stem}-{n}{suffix}")
        if target.resolve().parent != folder.resolve():
            raise UploadError(f"{safe} would be saved outside {folder}: rename the file.")
        try:
            os.link(tmp, target)
            return target, True
        except FileExistsError:
            if target.is_file() and filecmp.cmp(tmp, target, shallow=False):
                return target, False
        except OSError as err:
            if err.errno not in (errno.EPERM, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
                raise
            if _create_exclusive(tmp, target):  # a file system without hard links
                return target, True
    raise UploadError(f"{safe}: too many uploads of that name in {folder}; rename the file.")


def _create_exclusive(tmp: Path, target: Path) -> bool:
    try:
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as out, open(tmp, "rb") as src:
        shutil.copyfileobj(src, out, 1 << 20)
    return True
