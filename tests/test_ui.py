"""The UI's guards, without a browser: upload names and sizes, login off loopback, rendering."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from paperbridge import ui
from paperbridge.cli import main
from paperbridge.qa import Answer, Citation
from tests.conftest import SAMPLE


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
    assert ui.safe_upload_name(given) == safe


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
    stored, refused = ui.store_uploads([small, big, other], files, max_bytes=2048)
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
    assert ui.store_uploads([first / "p.txt"], files, max_bytes=mb)[0] == [files / "p.txt"]
    assert ui.store_uploads([second / "p.txt"], files, max_bytes=mb)[0] == [files / "p-1.txt"]
    assert ui.store_uploads([first / "p.txt"], files, max_bytes=mb)[0] == [files / "p.txt"]
    assert (files / "p-1.txt").read_text(encoding="utf-8") == "two"


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.0.1", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("192.168.1.20", False),
        ("example.org", False),
    ],
)
def test_loopback_hosts(host: str, loopback: bool) -> None:
    assert ui.is_loopback(host) is loopback


def test_serving_beyond_loopback_without_login_is_refused() -> None:
    with pytest.raises(ui.ServeError, match="PAPERBRIDGE_AUTH=user:password"):
        ui.check_login("0.0.0.0", [], allow_no_auth=False)
    ui.check_login("0.0.0.0", [], allow_no_auth=True)
    ui.check_login("0.0.0.0", [("ann", "pw")], allow_no_auth=False)
    ui.check_login("127.0.0.1", [], allow_no_auth=False)


def test_cli_refuses_before_loading_any_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ui.AUTH_ENV, raising=False)
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "7999"])
    assert result.exit_code == 1
    assert "--allow-no-auth" in result.output and "--auth-file" in result.output
    assert "Traceback" not in result.output


def test_credentials_from_env_and_file(tmp_path: Path) -> None:
    auth = tmp_path / "users"
    auth.write_text("# team\nann:s3cret:with:colons\n\nbo: pw \n", encoding="utf-8")
    logins = ui.load_credentials(auth, {ui.AUTH_ENV: "root:toor"})
    assert logins == [("root", "toor"), ("ann", "s3cret:with:colons"), ("bo", " pw")]
    auth.write_text("ann:ok\nnocolon\n", encoding="utf-8")
    with pytest.raises(ui.ServeError, match=r"users line 2: expected user:password"):
        ui.load_credentials(auth, {})
    with pytest.raises(ui.ServeError, match="Cannot read the auth file"):
        ui.load_credentials(tmp_path / "missing", {})


def test_importing_ui_starts_nothing() -> None:
    code = "import paperbridge.ui, threading; print(threading.active_count())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


def _citation(rank: int, text: str, highlight: tuple[int, int] | None) -> Citation:
    return Citation(
        rank=rank,
        passage_id=rank,
        doc_id="a85917d1829f5e11",
        title="日本科技创新体系发展特征及对中国启示",
        source=str(SAMPLE / "002_f74b1f1c159f20b4.txt"),
        kind="text",
        page=1,
        paragraph=7,
        lang="zh",
        score=0.8123,
        text=text,
        highlight=highlight,
        start=0,
        end=len(text),
    )


def test_cards_highlight_the_answering_sentence_and_escape_the_rest() -> None:
    text = "2016—2021 年日本始终保持 3.0% 以上的研发投入强度。<script>x</script>"
    answer = Answer(
        "What R&D intensity?",
        "en",
        "2016—2021 年日本始终保持 3.0% 以上的研发投入强度。 [1]",
        False,
        (_citation(1, text, (0, text.index("。") + 1)),),
    )
    cards = ui._cards_html(answer)
    assert "<mark>2016—2021 年日本始终保持 3.0% 以上的研发投入强度。</mark>&lt;script&gt;" in cards
    assert "[1] 日本科技创新体系发展特征及对中国启示" in cards and "中文 Chinese" in cards
    assert "score 0.812" in cards and "not an answer" not in cards
    assert '<span class="pb-ref">[1]</span>' in ui._answer_html(answer)


def test_no_answer_is_shown_as_such_with_closest_passages_marked() -> None:
    answer = Answer("How long should I boil an egg?", "en", "", True, (_citation(1, "无关。", None),))
    assert "Not in the library." in ui._answer_html(answer)
    cards = ui._cards_html(answer)
    assert "Closest passages — not an answer" in cards
    assert "pb-closest" in cards and "closest passage — not an answer" in cards
