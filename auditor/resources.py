"""Where the project's shipped data lives (JSON Schemas, default policies, table templates).

From a source checkout (the usual, editable install) that is the checkout itself. A regular
install (wheel) carries the same files as data files under `<prefix>/share/auditor`
(see `[tool.setuptools.data-files]` in pyproject.toml), and keeps local state in the user's
cache directory instead of the read-only install tree.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

_SOURCE_DIR = Path(__file__).resolve().parent.parent


def _data_dir() -> Path:
    if (_SOURCE_DIR / "pyproject.toml").is_file() and (_SOURCE_DIR / "policies").is_dir():
        return _SOURCE_DIR
    return Path(sys.prefix) / "share" / "auditor"


def _local_dir(data_dir: Path) -> Path:
    if data_dir == _SOURCE_DIR:
        return _SOURCE_DIR / ".local"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "auditor"


PROJECT_DIR = _data_dir()
SCHEMAS_DIR = PROJECT_DIR / "schemas"
FORMATS_DIR = SCHEMAS_DIR / "formats"
POLICIES_DIR = PROJECT_DIR / "policies"
EXAMPLES_DIR = PROJECT_DIR / "examples"
LOCAL_DIR = _local_dir(PROJECT_DIR)


def format_schema(name: str) -> Path:
    """Path of one of our own JSON Schemas, e.g. format_schema("policy-rule")."""
    return FORMATS_DIR / f"{name}.schema.json"
