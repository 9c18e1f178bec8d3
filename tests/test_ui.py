"""The UI module itself: importing it starts nothing; a refused serve loads no model."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner

from paperbridge import auth
from paperbridge.cli import main


def test_cli_refuses_before_loading_any_model(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(auth.AUTH_ENV, raising=False)
    result = CliRunner().invoke(main, ["serve", "--host", "0.0.0.0", "--port", "7999"])
    assert result.exit_code == 1
    assert "--allow-no-auth" in result.output and "--auth-file" in result.output
    assert "Traceback" not in result.output


def test_importing_ui_starts_nothing() -> None:
    code = "import paperbridge.ui, threading; print(threading.active_count())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "1"


