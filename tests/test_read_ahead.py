"""Adding files while the next ones are read: order, the per-file error boundary, stopping."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from paperbridge.index import HashEncoder, Library
from paperbridge.ingest.budget import BoundedReader
from paperbridge.ingest.errors import LibraryError
from tests.conftest import SAMPLE
from tests.test_library import check_consistent

SAMPLE_TXT = sorted(SAMPLE.glob("*.txt"))


class Slow(HashEncoder):
    """A hash encoder that takes its time and notes when it ran."""

    def __init__(self, seconds: float = 0.3) -> None:
        super().__init__(64)
        self.seconds = seconds
        self.calls: list[tuple[float, float]] = []

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        start = time.monotonic()
        time.sleep(self.seconds)
        self.calls.append((start, time.monotonic()))
        return super().encode_passages(texts, progress=progress)


class Failing(HashEncoder):
    """Fails on its second call (the second document), like a model running out of memory."""

    def __init__(self) -> None:
        super().__init__(64)
        self.calls = 0

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        self.calls += 1
        if self.calls > 2:  # passages and sentences of the first document, then nothing
            raise RuntimeError("out of memory")
        return super().encode_passages(texts, progress=progress)


def test_a_bad_file_among_good_ones_is_reported_in_order_and_the_rest_added(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 not really a pdf")
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    files = [SAMPLE_TXT[0], bad, SAMPLE_TXT[1], empty, *SAMPLE_TXT[2:]]
    lib = Library.open(tmp_path / "lib", create=True, encoders=[HashEncoder(64)])
    report = lib.add(files, progress=True)
    assert [Path(p).name for p, _ in report.failed] == ["broken.pdf", "empty.txt"]
    assert "broken.pdf" in report.failed[0][1]
    assert [d.source for d in report.added] == [str(p) for p in SAMPLE_TXT]
    check_consistent(lib)
    err = capsys.readouterr().err
    assert "reading" in err and "embedding (hash-64)" in err
    again = lib.add(files)
    assert len(again.skipped) == len(SAMPLE_TXT) and len(again.failed) == 2 and not again.added


def test_the_next_file_is_read_while_one_is_embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[float] = []
    original = BoundedReader.read

    def noted(self: BoundedReader, path: Path, **kw: object) -> object:
        reads.append(time.monotonic())
        return original(self, path, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(BoundedReader, "read", noted)
    encoder = Slow()
    lib = Library.open(tmp_path / "lib", create=True, encoders=[encoder])
    assert len(lib.add(SAMPLE_TXT).added) == len(SAMPLE_TXT)
    overlapping = [r for r in reads[1:] if any(a < r < b for a, b in encoder.calls)]
    assert overlapping, (reads, encoder.calls)


def test_a_failure_while_embedding_stops_reading_and_leaves_the_library_unchanged(tmp_path: Path) -> None:
    lib = Library.open(tmp_path / "lib", create=True, encoders=[HashEncoder(64)])
    lib.add(SAMPLE_TXT[:1])
    before = {d.doc_id for d in lib.documents()}
    broken = Library.open(tmp_path / "lib", encoders=[Failing()])
    with pytest.raises(LibraryError, match="unchanged"):
        broken.add(SAMPLE_TXT)
    deadline = time.monotonic() + 10
    while any(t.name == "paperbridge-read-ahead" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the reading thread is still running"
        time.sleep(0.05)
    again = Library.open(tmp_path / "lib", encoders=[HashEncoder(64)])
    assert {d.doc_id for d in again.documents()} == before and Library.check(again.path).ok
    assert not list((again.path / "versions").glob(".tmp-*"))


def test_a_rebuild_reads_ahead_too_and_keeps_every_document(tmp_path: Path) -> None:
    lib = Library.open(tmp_path / "lib", create=True, encoders=[HashEncoder(64)])
    lib.add(SAMPLE_TXT)
    added = {d.doc_id: d.added for d in lib.documents()}
    report = lib.rebuild(encoders=[HashEncoder(32)])
    assert not report.failed and {d.doc_id: d.added for d in lib.documents()} == added
    check_consistent(lib)


class FailingBlocks(HashEncoder):
    """An encoder of answer passages only (like e5) that fails on its encoder thread."""

    def __init__(self) -> None:
        super().__init__(32)

    def encode_passages(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        raise RuntimeError("onnxruntime out of memory")


def test_a_failure_on_the_encoder_thread_leaves_the_library_unchanged(tmp_path: Path) -> None:
    lib = Library.open(tmp_path / "lib", create=True, encoders=[HashEncoder(64), HashEncoder(32)])
    lib.add(SAMPLE_TXT[:1])
    before = {d.doc_id for d in lib.documents()}
    broken = Library.open(tmp_path / "lib", encoders=[HashEncoder(64), FailingBlocks()])
    with pytest.raises(LibraryError, match="out of memory.*unchanged"):
        broken.add(SAMPLE_TXT)
    again = Library.open(tmp_path / "lib", encoders=[HashEncoder(64), HashEncoder(32)])
    assert {d.doc_id for d in again.documents()} == before and Library.check(again.path).ok
    check_consistent(again)


def test_blocks_of_the_second_encoder_cover_every_answer_passage(tmp_path: Path) -> None:
    """Documents arriving one by one, more answer passages than two blocks (fanout.BATCH)
    of the second encoder, references in between that it skips."""
    from paperbridge.index.fanout import BATCH
    from paperbridge.ingest.document import Document, Passage

    def documents() -> Iterator[Document]:
        for d in range(7):
            doc_id = f"{d:016x}"
            texts = [(f"Paragraph {i} of paper {d} on quantum sensing budget number {d * 100 + i}.",
                      "references" if i % 5 == 4 else "body") for i in range(33)]
            page = "\n\n".join(t for t, _ in texts)
            passages, start = [], 0
            for i, (text, kind) in enumerate(texts, start=1):
                passages.append(Passage(doc_id, i, 0, 1, "en", start, start + len(text), text, kind))
                start += len(text) + 2
            yield Document(doc_id, f"Paper {d}", f"/papers/{d}.txt", "text", "en", (page,), tuple(passages))

    lib = Library.open(tmp_path / "lib", create=True, encoders=[HashEncoder(64), HashEncoder(32)])
    report = lib.add_documents(documents())
    assert report.embedded == len(lib) == 7 * 33 and not report.failed
    assert lib._state is not None and len(lib._state.vectors["hash-32"]) == 7 * 27 > 2 * BATCH
    check_consistent(lib)
