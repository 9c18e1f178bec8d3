"""One core, three doors: the CLI, the Python API and the UI's handlers do the same to a library.

Each operation (add, ask, batch, remove, rebuild) runs through all three on three libraries
of the same files, and the libraries must end up alike: the same documents and passages,
calibrated right after every change, the same citations for the same question, the same
batch answers; a remove also deletes the copy the library kept of an uploaded file, whichever
door the remove came through.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from paperbridge import ui
from paperbridge.cli import main
from paperbridge.index import DocumentInfo
from paperbridge.index.uploads import uploads_folder
from paperbridge.qa import PaperBridge, QAConfig
from paperbridge.qa.calibrate import _load as cached_calibration
from tests.conftest import SAMPLE

PAPERS = sorted(SAMPLE.glob("*.txt"))
QUESTION = "Japan innovation policy R&D intensity"


def _cli(library: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--library", str(library), *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def _docs(library: Path) -> list[tuple[str, str, int]]:
    return sorted((d.doc_id, d.title, d.passages) for d in PaperBridge(library, create=False).documents())


def _calibrated(library: Path) -> bool:
    """The library's current version has its calibration ready (the next question skips it)."""
    lib = PaperBridge(library, create=False).library
    assert lib.manifest is not None
    quantile = QAConfig().refusal_quantile
    return cached_calibration(lib, lib.version_id, lib.manifest.generation, quantile) is not None


def _comparable(out: Path) -> list[dict[str, Any]]:
    """Batch answers without the file paths (the UI's kept copies live elsewhere)."""
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        line["citations"] = [{k: v for k, v in c.items() if k != "source"} for c in line["citations"]]
    return lines


class _Doors:
    """add/ask/batch/remove/rebuild through each door, each on its own library."""

    def __init__(self, root: Path) -> None:
        self.libs = {door: root / door for door in ("cli", "api", "ui")}
        self.api = PaperBridge(self.libs["api"], models=["hash"])
        self.ui = ui._Handlers(PaperBridge(self.libs["ui"], models=["hash"]), max_upload_mb=50)

    def add(self, files: list[Path]) -> None:
        _cli(self.libs["cli"], "add", *map(str, files))
        self.api.add(files)
        self.ui.upload([str(f) for f in files], "")

    def ask(self) -> dict[str, list[tuple[str, int, int]]]:
        answers = {"cli": json.loads(_cli(self.libs["cli"], "ask", QUESTION, "--json")),
                   "api": self.api.ask(QUESTION).to_json(),
                   "ui": ui._ask_json(self.ui.bridge)(QUESTION, 5)}
        return {door: [(c["doc_id"], c["page"], c["paragraph"]) for c in data["citations"]]
                for door, data in answers.items()}

    def batch(self, questions: Path, folder: Path) -> dict[str, list[dict[str, Any]]]:
        _cli(self.libs["cli"], "batch", str(questions), "--out", str(folder / "cli.jsonl"))
        self.api.batch(questions, folder / "api.jsonl")
        from_ui = Path(self.ui.batch(str(questions))[0] or "")
        return {"cli": _comparable(folder / "cli.jsonl"), "api": _comparable(folder / "api.jsonl"),
                "ui": _comparable(from_ui)}

    def remove(self, doc_id: str) -> None:
        _cli(self.libs["cli"], "remove", doc_id)
        self.api.remove([doc_id])
        self.ui.remove([doc_id])

    def rebuild(self) -> None:
        _cli(self.libs["cli"], "rebuild")
        self.api.rebuild()
        self.ui.rebuild()

    def alike(self) -> bool:
        """The three libraries hold the same documents, and each is calibrated."""
        docs = [_docs(lib) for lib in self.libs.values()]
        return docs[0] == docs[1] == docs[2] and all(_calibrated(lib) for lib in self.libs.values())


@pytest.fixture
def doors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> _Doors:
    monkeypatch.setenv("PAPERBRIDGE_MODELS", "hash")
    return _Doors(tmp_path)


def test_cli_api_and_ui_have_the_same_effects(doors: _Doors, tmp_path: Path) -> None:
    doors.add(PAPERS[:3])
    assert doors.alike(), "the same documents, and every add is calibrated at once"
    assert len(_docs(doors.libs["api"])) == 3
    doors.add(PAPERS[3:])
    assert doors.alike()

    asked = doors.ask()
    assert asked["cli"] == asked["api"] == asked["ui"] and len(asked["api"]) == 5

    questions = tmp_path / "q.jsonl"
    questions.write_text('{"id": "a", "question": "K Program"}\n{"id": "b", "question": "技术立国"}\n',
                         encoding="utf-8")
    answers = doors.batch(questions, tmp_path)
    assert answers["cli"] == answers["api"] == answers["ui"]
    assert [a["id"] for a in answers["api"]] == ["a", "b"]

    gone = _docs(doors.libs["api"])[0][0]
    doors.remove(gone)
    assert doors.alike(), "a remove is calibrated at once too"
    assert gone not in {d[0] for d in _docs(doors.libs["ui"])}
    assert len(list(uploads_folder(doors.libs["ui"]).iterdir())) == 4, "the UI's kept copy went with it"

    doors.rebuild()
    assert doors.alike()


def test_a_remove_from_any_door_deletes_the_kept_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAPERBRIDGE_MODELS", "hash")
    library = tmp_path / "lib"
    handlers = ui._Handlers(PaperBridge(library, models=["hash"]), max_upload_mb=50)
    handlers.upload([str(p) for p in PAPERS[:2]], "")
    kept: list[DocumentInfo] = handlers.bridge.documents()
    assert all(Path(d.source).parent == uploads_folder(library) for d in kept)
    _cli(library, "remove", kept[0].doc_id)
    PaperBridge(library, create=False).remove([kept[1].doc_id])
    assert not any(uploads_folder(library).iterdir())
