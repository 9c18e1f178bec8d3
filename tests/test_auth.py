"""Who may use the web UI: loopback detection, logins from the environment or a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperbridge import auth


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
    assert auth.is_loopback(host) is loopback


def test_serving_beyond_loopback_without_login_is_refused() -> None:
    with pytest.raises(auth.ServeError, match="PAPERBRIDGE_AUTH=user:password"):
        auth.check_login("0.0.0.0", [], allow_no_auth=False)
    auth.check_login("0.0.0.0", [], allow_no_auth=True)
    auth.check_login("0.0.0.0", [("ann", "pw")], allow_no_auth=False)
    auth.check_login("127.0.0.1", [], allow_no_auth=False)


def test_credentials_from_env_and_file(tmp_path: Path) -> None:
    users = tmp_path / "users"
    users.write_text("# team\nann:s3cret:with:colons\n\nbo: pw \n", encoding="utf-8")
    logins = auth.load_credentials(users, {auth.AUTH_ENV: "root:toor"})
    assert logins == [("root", "toor"), ("ann", "s3cret:with:colons"), ("bo", " pw")]
    users.write_text("ann:ok\nnocolon\n", encoding="utf-8")
    with pytest.raises(auth.ServeError, match=r"users line 2: expected user:password"):
        auth.load_credentials(users, {})
    with pytest.raises(auth.ServeError, match="Cannot read the auth file"):
        auth.load_credentials(tmp_path / "missing", {})


