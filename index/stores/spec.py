"""Where a library keeps its vectors and BM25 index, and where its embedding runs, as settings.

A *store* is named by a string (``IndexConfig.store``, ``--store``, ``PAPERBRIDGE_STORE``):

* ``""`` or ``faiss``: FAISS and bm25s files in each version folder (the default, one machine);
* ``milvus://HOST:PORT`` (``milvus+https://`` for TLS; ``milvus://USER:PASSWORD@HOST:PORT``
  for a server with authentication; the credentials are never written to disk): a Milvus
  standalone or cluster server;
* ``milvus-lite`` (a ``milvus.db`` folder inside the library folder) or a path ending in
  ``.db``: embedded Milvus Lite, for tests and small libraries (one process at a time).

A *cluster* (``IndexConfig.cluster``, ``--cluster``, ``PAPERBRIDGE_CLUSTER``) is ``""``
(embed in this process), ``tcp://HOST:PORT`` (a running Dask scheduler) or ``local:N`` (a
Dask cluster of N worker processes started on 127.0.0.1 for the write).

This module parses and checks those strings only; it needs none of the optional packages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from paperbridge.ingest.errors import LibraryError

FAISS = "faiss"
MILVUS = "milvus"
LITE_IN_LIBRARY = "milvus.db"  # what ``--store milvus-lite`` means, inside the library folder
_CLUSTER = re.compile(r"^(tcp|tls)://[^\s/:]+:\d{1,5}$|^local:\d{1,3}$")


@dataclass(frozen=True)
class StoreSpec:
    """A parsed store setting.

    Attributes:
        kind: ``faiss`` or ``milvus``.
        uri: for a server, pymilvus's ``http(s)://host:port``; for Milvus Lite, the ``.db``
            path (relative paths are relative to the library folder).
        token: ``user:password`` for a server with authentication ("" without).
    """

    kind: str = FAISS
    uri: str = ""
    token: str = ""

    @property
    def lite(self) -> bool:
        """True for embedded Milvus Lite (a local path, not a server)."""
        return self.kind == MILVUS and not self.uri.startswith(("http://", "https://"))

    def address(self, root: Path) -> str:
        """What pymilvus connects to: the server URL, or the Lite path made absolute."""
        if not self.lite:
            return self.uri
        path = Path(self.uri).expanduser()
        return str(path if path.is_absolute() else (root / path).resolve())

    def shown(self) -> str:
        """The setting as it may be printed or stored (never with credentials)."""
        if self.kind == FAISS:
            return FAISS
        if self.lite:
            return self.uri
        scheme = "milvus+https" if self.uri.startswith("https://") else "milvus"
        return f"{scheme}://{self.uri.split('://', 1)[1]}"


def parse_store(text: str) -> StoreSpec:
    """Parse a store setting (see the module doc).

    Raises:
        LibraryError: the string is none of the accepted forms.
    """
    value = text.strip()
    if value in ("", FAISS):
        return StoreSpec()
    if value == "milvus-lite":
        return StoreSpec(MILVUS, LITE_IN_LIBRARY)
    if value.startswith(("milvus://", "milvus+https://", "milvus+http://")):
        return _server(value)
    if value.endswith(".db") and "://" not in value:
        return StoreSpec(MILVUS, value)
    raise LibraryError(
        f"Not a store: {text!r}. Use faiss (the default), milvus://HOST:PORT for a Milvus "
        "server, milvus-lite (Milvus Lite inside the library folder) or a path ending in .db."
    )


def _server(value: str) -> StoreSpec:
    parts = urlsplit(value)
    if not parts.hostname or parts.port is None or parts.path not in ("", "/"):
        raise LibraryError(f"Not a Milvus address: {value!r}. Write milvus://HOST:PORT, e.g. "
                           "milvus://127.0.0.1:19530.")
    scheme = "https" if parts.scheme == "milvus+https" else "http"
    token = ""
    if parts.username:
        token = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return StoreSpec(MILVUS, f"{scheme}://{host}:{parts.port}", token)


def check_cluster(text: str) -> str:
    """A cluster setting, stripped; raises LibraryError unless it is "", tcp://HOST:PORT or local:N."""
    value = text.strip()
    if value and not _CLUSTER.match(value):
        raise LibraryError(f"Not a cluster: {text!r}. Use tcp://HOST:PORT (a Dask scheduler) or "
                           "local:N (N worker processes on this machine).")
    if value.startswith("local:") and int(value[6:]) < 1:
        raise LibraryError(f"A local cluster needs at least one worker, not {value!r}.")
    return value
