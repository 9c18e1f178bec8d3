"""Who may use the web UI: logins from the environment or a file, never the command line.

Served beyond the loopback interface, anyone on the network could upload and delete
documents, so the UI then requires a login unless told explicitly not to. This is an edge
module: it reads ``PAPERBRIDGE_AUTH`` itself.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from paperbridge.ingest.errors import PaperBridgeError

AUTH_ENV = "PAPERBRIDGE_AUTH"


class ServeError(PaperBridgeError):
    """The UI cannot be started as asked (missing login off loopback, bad auth file)."""


def is_loopback(host: str) -> bool:
    """True when ``host`` is only reachable from this machine (127.x, ::1, localhost)."""
    if host.strip().lower() in {"localhost", "localhost.localdomain"}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def load_credentials(auth_file: Path | None, env: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """Logins from ``auth_file`` (``user:password`` lines) and env ``PAPERBRIDGE_AUTH``.

    Blank lines and ``#`` comments are skipped; the password is everything after the first
    colon. Raises ServeError naming the file and line of a malformed entry.
    """
    env = os.environ if env is None else env
    entries: list[tuple[str, str]] = []
    if env.get(AUTH_ENV):
        entries.append((AUTH_ENV, env[AUTH_ENV].strip()))
    if auth_file is not None:
        try:
            lines = Path(auth_file).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as err:
            raise ServeError(f"Cannot read the auth file {auth_file}: {err}.") from err
        entries += [(f"{auth_file} line {i}", ln.strip()) for i, ln in enumerate(lines, 1)]
    logins: list[tuple[str, str]] = []
    for where, entry in entries:
        if not entry or entry.startswith("#"):
            continue
        user, colon, password = entry.partition(":")
        if not colon or not user.strip() or not password:
            raise ServeError(f"{where}: expected user:password with a non-empty password.")
        logins.append((user.strip(), password))
    return logins


def check_login(host: str, logins: Sequence[tuple[str, str]], *, allow_no_auth: bool) -> None:
    """Refuse to serve beyond loopback without a login, unless explicitly allowed."""
    if logins or allow_no_auth or is_loopback(host):
        return
    raise ServeError(
        f"Serving on {host} lets anyone on the network upload and delete documents. Set "
        f"{AUTH_ENV}=user:password or pass --auth-file FILE (user:password lines), or pass "
        "--allow-no-auth to serve without a login."
    )
