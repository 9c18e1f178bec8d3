"""The question commands (ask, batch, eval) and the help of every command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperbridge.cli import main
from paperbridge.index import IndexConfig, Library
from tests.conftest import ROOT, SAMPLE


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "library"
    Library.open(path, IndexConfig(encoders=("hash",)), create=True).add(sorted(SAMPLE.glob("*.txt")))
    return path


def run(library: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--library", str(library), *args])
    return result.exit_code, result.output


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_has_help_with_examples(command: str) -> None:
    out = CliRunner().invoke(main, [command, "--help"]).output
    assert "Examples:" in out or "Example:" in out
    assert f"paperbridge {command}" in out


def test_python_dash_m_works() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "paperbridge", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert "ask" in done.stdout and "serve" in done.stdout


def test_ask_prints_numbered_citations(library: Path) -> None:
    code, out = run(library, "ask", "日本 科技 创新 研发投入 强度", "-k", "3")
    assert code == 0
    assert "[1] " in out and "[3] " in out and "page 1, paragraph" in out


def test_ask_json_and_filters(library: Path) -> None:
    code, out = run(library, "ask", "K Program economic security", "--json", "--lang", "en")
    data = json.loads(out)
    assert code == 0 and data["question_lang"] == "en"
    assert data["citations"] and {c["lang"] for c in data["citations"]} == {"en"}
    title = data["citations"][0]["title"]
    code, out = run(library, "ask", "K Program", "--json", "--doc", title)
    assert code == 0 and {c["title"] for c in json.loads(out)["citations"]} == {title}


def test_ask_rejects_an_empty_question_with_a_message(library: Path) -> None:
    code, out = run(library, "ask", "   ")
    assert code == 1 and "question is empty" in out


def test_ask_on_a_missing_library_says_how_to_create_it(tmp_path: Path) -> None:
    code, out = run(tmp_path / "none", "ask", "What is the K Program?")
    assert code == 1 and "paperbridge add" in out


def test_batch_reports_bad_lines_and_exits_1(library: Path, tmp_path: Path) -> None:
    src = tmp_path / "q.jsonl"
    src.write_text('{"id": 1, "question": "Society 5.0"}\n{broken\n', encoding="utf-8")
    out_file = tmp_path / "a.jsonl"
    code, out = run(library, "batch", str(src), "--out", str(out_file))
    assert code == 1 and "q.jsonl:2" in out and "1 answered, 1 failed" in out
    assert json.loads(out_file.read_text(encoding="utf-8"))["id"] == 1


def test_eval_prints_the_table_and_writes_json(library: Path, tmp_path: Path) -> None:
    report = tmp_path / "eval.json"
    code, out = run(
        library, "eval", str(ROOT / "tests" / "data" / "sample_questions.jsonl"), "--json", str(report)
    )
    assert code == 0 and "recall@1" in out and "no-answer recall" in out
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["questions"] == 42 and data["answerable"] == 32


def test_ask_kind_references_searches_the_reference_list_only(tmp_path: Path) -> None:
    realdocs = ROOT.parent / "shared" / "realdocs"
    if not realdocs.is_dir():
        pytest.skip("../shared/realdocs not found")
    library = tmp_path / "library"
    Library.open(library, IndexConfig(encoders=("hash",)), create=True).add(
        [realdocs / "en_tidy_data_jss2014.pdf"])
    question = "Wickham Journal of Statistical Software R package"
    code, out = run(library, "ask", question, "--kind", "references", "--json")
    cited = json.loads(out)["citations"]
    assert code == 0 and cited and {c["passage_kind"] for c in cited} == {"references"}
    code, out = run(library, "ask", question, "--json")
    assert code == 0 and "references" not in {c["passage_kind"] for c in json.loads(out)["citations"]}
    code, out = run(library, "ask", question, "--kind", "references", "-k", "2")
    assert code == 0 and "| references |" in out and "confidence:" in out
