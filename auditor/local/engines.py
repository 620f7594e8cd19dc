"""What each local BigQuery engine is: its pinned packages, its Python, and how it is started.

Pure data plus two small helpers (finding a Python, building the start command). The
lifecycle (install, start, stop) lives in `auditor.local.emulator`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from auditor.errors import AuditorError

LOOPBACK = "127.0.0.1"
DUCKDB_VERSION = "1.5.5"
# Set to a python3.13 executable to skip the search for one.
PYTHON313_ENV = "AUDITOR_PYTHON313"


class EmulatorError(AuditorError):
    """The local BigQuery engine cannot be installed, started or stopped."""


class Engine(StrEnum):
    """The two local engines. FAITHFUL is closer to BigQuery; FAST scales to many datasets."""

    FAITHFUL = "faithful"
    FAST = "fast"


@dataclass(frozen=True)
class ServeArgs:
    """Everything an engine's start command is built from."""

    script: Path
    port: int
    grpc_port: int
    project: str
    data_dir: Path
    in_memory: bool = False  # only the fast engine can; used by scale benchmarks


@dataclass(frozen=True)
class EngineSpec:
    """One engine: pinned packages, DuckDB extensions to preinstall, Python and start command."""

    engine: Engine
    packages: tuple[str, ...]
    extensions: tuple[str, ...]
    script: str
    find_python: Callable[[], Path]
    build_argv: Callable[[ServeArgs], list[str]]


def _python_version(executable: Path) -> tuple[tuple[int, int], Path] | None:
    """(major, minor) and real path of an interpreter, or None if it does not run."""
    code = "import sys; print(sys.version_info[0], sys.version_info[1]); print(sys.executable)"
    try:
        done = subprocess.run(
            [str(executable), "-c", code],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = done.stdout.split("\n")
    if done.returncode != 0 or len(lines) < 2:
        return None
    try:
        major, minor = (int(part) for part in lines[0].split())
    except ValueError:
        return None
    return (major, minor), Path(lines[1].strip() or executable)


def _pyenv_prefix(version: str) -> Path | None:
    pyenv = shutil.which("pyenv")
    if pyenv is None:
        return None
    try:
        done = subprocess.run(
            [pyenv, "prefix", version], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    first = done.stdout.strip().split("\n")[0].strip()
    return Path(first) if done.returncode == 0 and first else None


def _python313_candidates() -> Iterator[Path]:
    override = os.environ.get(PYTHON313_ENV)
    if override:
        yield Path(override)
    prefix = _pyenv_prefix("3.13")
    if prefix is not None:
        yield prefix / "bin" / "python3.13"
    on_path = shutil.which("python3.13")
    if on_path is not None:
        yield Path(on_path)
    pyenv_roots = [Path(os.environ.get("PYENV_ROOT", "~/.pyenv")).expanduser()]
    pyenv_roots.append(Path("/root/.pyenv"))
    for root in pyenv_roots:
        yield from sorted((root / "versions").glob("3.13*/bin/python3.13"), reverse=True)
    yield Path("/usr/local/bin/python3.13")
    yield Path("/usr/bin/python3.13")


def find_python313() -> Path:
    """A working Python 3.13: $AUDITOR_PYTHON313, `pyenv prefix 3.13`, PATH, known places."""
    tried: list[str] = []
    for candidate in _python313_candidates():
        if str(candidate) in tried:
            continue
        tried.append(str(candidate))
        found = _python_version(candidate)
        if found is not None and found[0] == (3, 13):
            return found[1]
    raise EmulatorError(
        "the faithful engine (local-bigquery) needs Python 3.13, and none was found "
        f"(tried: {', '.join(tried) or 'nothing'}). Install one (e.g. `pyenv install 3.13`) "
        f"or set {PYTHON313_ENV} to a python3.13 executable."
    )


def current_python() -> Path:
    """The interpreter running the auditor (Python 3.11 or later, as the project requires)."""
    return Path(sys.executable)


def _faithful_argv(args: ServeArgs) -> list[str]:
    # local-bigquery binds 0.0.0.0 and writes to /data unless told otherwise.
    return [
        str(args.script),
        "serve",
        "--host",
        LOOPBACK,
        "--port",
        str(args.port),
        "--grpc-port",
        str(args.grpc_port),
        "--project",
        args.project,
        "--data-dir",
        str(args.data_dir),
    ]


def _fast_argv(args: ServeArgs) -> list[str]:
    # bqemulator runs in memory unless given a data dir; --persistent says so explicitly.
    storage = (
        ["--ephemeral"] if args.in_memory else ["--persistent", "--data-dir", str(args.data_dir)]
    )
    return [
        str(args.script),
        "start",
        "--rest-host",
        LOOPBACK,
        "--rest-port",
        str(args.port),
        "--grpc-host",
        LOOPBACK,
        "--grpc-port",
        str(args.grpc_port),
        "--project",
        args.project,
        *storage,
    ]


_DUCKDB = (
    f"duckdb=={DUCKDB_VERSION}",
    f"duckdb-extensions=={DUCKDB_VERSION}",
)

SPECS: dict[Engine, EngineSpec] = {
    Engine.FAITHFUL: EngineSpec(
        engine=Engine.FAITHFUL,
        # 0.4.0 needs DuckDB 2.x, for which no extension wheels exist, so every request fails.
        packages=(
            "local-bigquery==0.3.2",
            *_DUCKDB,
            f"duckdb-extension-icu=={DUCKDB_VERSION}",
            f"duckdb-extension-ducklake=={DUCKDB_VERSION}",
            f"duckdb-extension-spatial=={DUCKDB_VERSION}",
        ),
        extensions=("icu", "ducklake", "spatial"),
        script="local-bigquery",
        find_python=find_python313,
        build_argv=_faithful_argv,
    ),
    Engine.FAST: EngineSpec(
        engine=Engine.FAST,
        # numpy is used but not declared; testcontainers is imported by its pytest plugin.
        # Without a preinstalled avro extension it tries a download at every start (~1 s).
        packages=(
            "bqemulator==1.4.0",
            *_DUCKDB,
            f"duckdb-extension-spatial=={DUCKDB_VERSION}",
            f"duckdb-extension-avro=={DUCKDB_VERSION}",
            "numpy",
            "testcontainers",
        ),
        extensions=("spatial", "avro"),
        script="bqemulator",
        find_python=current_python,
        build_argv=_fast_argv,
    ),
}


def spec(engine: Engine) -> EngineSpec:
    """The data of one engine."""
    return SPECS[Engine(engine)]
