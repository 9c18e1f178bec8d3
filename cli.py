"""The ``paperbridge`` command: thin click commands over ingest -> index -> qa.

Each command parses its options, calls the library, and prints. Library errors
(:class:`ingest.errors.PaperBridgeError`) become one-line messages with exit code 1 in
one place, :func:`_errors_as_messages`.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import click

from ingest.errors import PaperBridgeError


def default_library() -> Path:
    """The library folder used when neither ``--library`` nor PAPERBRIDGE_LIBRARY is set."""
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "paperbridge" / "library"


@contextlib.contextmanager
def _errors_as_messages() -> Iterator[None]:
    """Turn PaperBridge's typed errors into a one-line message and exit code 1."""
    try:
        yield
    except PaperBridgeError as err:
        raise click.ClickException(str(err)) from err


class _Group(click.Group):
    def invoke(self, ctx: click.Context) -> object:
        with _errors_as_messages():
            return super().invoke(ctx)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--library",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="PAPERBRIDGE_LIBRARY",
    default=default_library,
    show_default="~/.local/share/paperbridge/library",
    help="Library folder (env PAPERBRIDGE_LIBRARY).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.pass_context
def main(ctx: click.Context, library: Path, verbose: int) -> None:
    """PaperBridge: ask questions across English and Chinese papers, get cited passages.

    \b
    Examples:
      paperbridge add ingest/sample/           # index the sample corpus
      paperbridge ask "What is the K Program?"
      paperbridge ask "日本的研发投入强度是多少？"
      paperbridge serve                        # the web UI on 127.0.0.1:7860
    """
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = library


# ---- ingest commands ---------------------------------------------------------------


# ---- model commands ------------------------------------------------------------------


# ---- library commands ----------------------------------------------------------------


# ---- question commands -----------------------------------------------------------------


# ---- ui command ------------------------------------------------------------------------


if __name__ == "__main__":
    main()
