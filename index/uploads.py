"""Kept uploads: files a user handed over (e.g. through the web UI), copied into the library.

They live in ``<library>/files/`` under names that cannot leave that folder. A name is
reserved atomically (``O_CREAT | O_EXCL``) before the bytes are written, so two uploads of
the same name at the same moment never overwrite each other: the second one gets ``-1``.
"""

from __future__ import annotations

import os
import re
import shutil
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from paperbridge.ingest.errors import LibraryError

SUFFIXES = (".pdf", ".txt", ".md")
FOLDER = "files"  # inside the library folder


def uploads_folder(library: Path) -> Path:
    """Where the library at ``library`` keeps copies of uploaded files."""
    return library / FOLDER


def is_kept_upload(library: Path, source: str) -> bool:
    """True when ``source`` is a copy the library keeps in its uploads folder."""
    return Path(source).resolve().parent == uploads_folder(library).resolve()


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


def store_uploads(
    uploads: Sequence[Path], files_dir: Path, *, max_bytes: int
) -> tuple[list[Path], list[tuple[str, str]]]:
    """Copy uploaded files into ``files_dir`` under safe names.

    Returns the stored paths and, per refused file, ``(original name, why)``. A file whose
    safe name is taken by different bytes gets ``-1``, ``-2``... appended; identical bytes
    reuse the stored copy (the library then skips it as unchanged).
    """
    files_dir.mkdir(parents=True, exist_ok=True)
    stored: list[Path] = []
    refused: list[tuple[str, str]] = []
    for upload in uploads:
        try:
            stored.append(_store_one(Path(upload), files_dir, max_bytes))
        except UploadError as err:
            refused.append((Path(upload).name, str(err)))
        except OSError as err:
            refused.append((Path(upload).name, f"{Path(upload).name} could not be stored in "
                            f"{files_dir} ({err.strerror}): check free space and permissions."))
    return stored, refused


def _store_one(upload: Path, files_dir: Path, max_bytes: int) -> Path:
    size = upload.stat().st_size
    if size > max_bytes:
        raise UploadError(
            f"{upload.name} is {_size(size)}, over the {_size(max_bytes)} upload limit: add it "
            "from the command line (`paperbridge add`) or raise --max-upload-mb."
        )
    name = safe_upload_name(upload.name)
    if not name.lower().endswith(SUFFIXES):
        raise UploadError(f"{upload.name} is not a PDF, .txt or .md file: PaperBridge cannot read it.")
    return _reserve_and_copy(upload, files_dir, name)


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.1f} KB"


def _reserve_and_copy(upload: Path, files_dir: Path, name: str) -> Path:
    """``files_dir / name`` (or a numbered variant), created exclusively, then filled.

    A name already holding the same bytes is reused as it is.
    """
    stem, suffix = Path(name).stem, Path(name).suffix
    data = upload.read_bytes()
    for n in range(10_000):
        target = files_dir / (name if n == 0 else f"{stem}-{n}{suffix}")
        if target.resolve().parent != files_dir.resolve():
            raise UploadError(f"{upload.name} would be saved outside {files_dir}: rename the file.")
        try:
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if target.read_bytes() == data:
                return target
            continue
        try:
            with os.fdopen(fd, "wb") as out, open(upload, "rb") as src:
                shutil.copyfileobj(src, out)
        except OSError:
            target.unlink(missing_ok=True)
            raise
        return target
    raise UploadError(f"{upload.name}: too many uploads of that name in {files_dir}; rename the file.")
