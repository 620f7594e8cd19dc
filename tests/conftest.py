"""Shared fixtures: real local BigQuery engines, one per test session.

Each session gets a private state dir (run files, data, logs) so a developer's own running
engines are never touched; engine installs are shared so they happen once per machine.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from auditor.local import Engine, engines_dir, start, stop

PROJECT = "gac-prod-471220"

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


@dataclass(frozen=True)
class LocalBigQuery:
    engine: Engine
    endpoint: str
    project: str


def _session_engine(engine: Engine) -> Iterator[LocalBigQuery]:
    shared_engines = engines_dir()
    saved = {k: os.environ.get(k) for k in ("AUDITOR_LOCAL_DIR", "AUDITOR_LOCAL_ENGINES_DIR")}
    with tempfile.TemporaryDirectory(prefix=f"auditor-{engine.value}-") as tmp:
        os.environ["AUDITOR_LOCAL_DIR"] = str(Path(tmp) / "state")
        os.environ["AUDITOR_LOCAL_ENGINES_DIR"] = str(shared_engines)
        try:
            status = start(engine, project=PROJECT, timeout=120)
            assert status.endpoint is not None
            yield LocalBigQuery(engine, status.endpoint, PROJECT)
        finally:
            stop(engine)
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture(scope="session")
def faithful_bq() -> Iterator[LocalBigQuery]:
    """local-bigquery: access entries of every kind, policy tags, table IAM, INFORMATION_SCHEMA."""
    yield from _session_engine(Engine.FAITHFUL)


@pytest.fixture(scope="session")
def fast_bq() -> Iterator[LocalBigQuery]:
    """bqemulator: fast, but no table IAM, policy tags or region-wide COLUMNS."""
    yield from _session_engine(Engine.FAST)
