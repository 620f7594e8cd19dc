"""Shared fixtures: real local BigQuery engines, one per test session, and the check that the
suite leaves no engine running.

The whole session gets one private state dir (run files, data, logs: $AUDITOR_LOCAL_DIR, set
before any test runs), so every engine the suite starts, through a fixture, `start()` or the
CLI (`auditor demo`, `auditor local start`), lands there and a developer's own running
engines are never touched; engine installs are shared so they happen once per machine.
Tests that want a state dir of their own (tests/test_local_emulator.py) set one and stop what
they start. At the end of the session any engine process still alive with its data under the
session's state dir or pytest's temporary directories fails the suite (and is stopped).
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from auditor.local import Engine, engines_dir, running_engines, start, stop
from auditor.local.processes import RunningEngine, signal_group

pytest_plugins = ["pytester"]  # tests/test_engine_leaks.py runs a session of its own

PROJECT = "gac-prod-471220"
LOCAL_DIR_ENV = "AUDITOR_LOCAL_DIR"
ENGINES_DIR_ENV = "AUDITOR_LOCAL_ENGINES_DIR"

# Hypothesis profiles: "ci" keeps Hypothesis' default example count (tests that need fewer
# or more say so); "fuzz" (AUDITOR_FUZZ=1) runs AUDITOR_FUZZ_EXAMPLES (default 10,000) a
# test, for a long opt-in fuzzing run of the loaders (tests/test_fuzz_loaders.py).
settings.register_profile("ci", max_examples=100, database=None)
settings.register_profile(
    "fuzz",
    max_examples=int(os.environ.get("AUDITOR_FUZZ_EXAMPLES", "10000")),
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile("fuzz" if os.environ.get("AUDITOR_FUZZ") == "1" else "ci")


@dataclass
class _Session:
    """Where this session's engines live, and what the environment was before."""

    root: Path | None = None
    saved: dict[str, str | None] | None = None
    basetemp: Path | None = None


_SESSION = _Session()


def pytest_configure(config: pytest.Config) -> None:
    shared_engines = engines_dir()  # resolved before the state dir moves
    _SESSION.saved = {k: os.environ.get(k) for k in (LOCAL_DIR_ENV, ENGINES_DIR_ENV)}
    _SESSION.root = Path(tempfile.mkdtemp(prefix="auditor-tests-"))
    os.environ[LOCAL_DIR_ENV] = str(_SESSION.root / "state")
    os.environ[ENGINES_DIR_ENV] = str(shared_engines)


def pytest_unconfigure(config: pytest.Config) -> None:
    for key, value in (_SESSION.saved or {}).items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    if _SESSION.root is not None:
        shutil.rmtree(_SESSION.root, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _remember_basetemp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Where tests' own state dirs are (tmp_path): the session-end check looks there too."""
    _SESSION.basetemp = tmp_path_factory.getbasetemp()


def leaked_engines() -> list[RunningEngine]:
    """Engine processes still running with their data under this session's directories."""
    roots = [p for p in (_SESSION.root, _SESSION.basetemp) if p is not None]
    return running_engines(roots)


@pytest.hookimpl(trylast=True)  # after the session fixtures are torn down
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaked = leaked_engines()
    if not leaked:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    for engine in leaked:
        message = (
            f"a {engine.engine.value} engine started by the suite is still running after it "
            f"(pid {engine.pid}, data {engine.cwd}): the test that started it must stop it"
        )
        if reporter is not None:
            reporter.write_line(f"ERROR: {message}", red=True, bold=True)
        signal_group(engine.pid, signal.SIGKILL)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED


@dataclass(frozen=True)
class LocalBigQuery:
    engine: Engine
    endpoint: str
    project: str


def _session_engine(engine: Engine) -> Iterator[LocalBigQuery]:
    try:
        status = start(engine, project=PROJECT, timeout=120)
        assert status.endpoint is not None
        yield LocalBigQuery(engine, status.endpoint, PROJECT)
    finally:
        stop(engine)


@pytest.fixture(scope="session")
def faithful_bq() -> Iterator[LocalBigQuery]:
    """local-bigquery: access entries of every kind, policy tags, table IAM, INFORMATION_SCHEMA."""
    yield from _session_engine(Engine.FAITHFUL)


@pytest.fixture(scope="session")
def fast_bq() -> Iterator[LocalBigQuery]:
    """bqemulator: fast, but no table IAM, policy tags or region-wide COLUMNS."""
    yield from _session_engine(Engine.FAST)
