"""The embedded local BigQuery: real engines started, spoken to over REST, and stopped.

Tests marked `emulator` install the engines on first use (into the shared engines dir, about
a minute each, once) and start real processes on 127.0.0.1. Each test gets its own state dir
(run files, data, logs), so a developer's own running engines are never touched.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from auditor.local import (
    EmulatorError,
    Engine,
    engines_dir,
    start,
    state_dir,
    status,
    stop,
)
from auditor.local import engines as engines_module

PROJECT = "gac-prod-471220"


def rest(method: str, url: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        return int(response.status), json.loads(response.read() or b"null")


def dataset_ids(endpoint: str) -> set[str]:
    code, body = rest("GET", f"{endpoint}/bigquery/v2/projects/{PROJECT}/datasets")
    assert code == 200
    return {d["datasetReference"]["datasetId"] for d in body.get("datasets") or []}


def create_dataset(endpoint: str, dataset: str) -> None:
    body = {"datasetReference": {"projectId": PROJECT, "datasetId": dataset},
            "labels": {"kind": "tenant"}}
    code, answer = rest("POST", f"{endpoint}/bigquery/v2/projects/{PROJECT}/datasets", body)
    assert code == 200
    assert answer["datasetReference"]["datasetId"] == dataset


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def local_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private state dir; engine installs stay shared so they happen once per machine."""
    shared_engines = engines_dir()
    monkeypatch.setenv("AUDITOR_LOCAL_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("AUDITOR_LOCAL_ENGINES_DIR", str(shared_engines))
    return tmp_path / "state"


def _engine_fixture(engine: Engine) -> Iterator[Engine]:
    pids: set[int] = set()
    yield engine
    current = status(engine)
    if current.pid is not None:
        pids.add(current.pid)
    try:
        stop(engine)
    finally:
        for pid in pids:  # last resort if stop() itself failed
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def fast(local_dir: Path) -> Iterator[Engine]:
    yield from _engine_fixture(Engine.FAST)


@pytest.fixture
def faithful(local_dir: Path) -> Iterator[Engine]:
    yield from _engine_fixture(Engine.FAITHFUL)


# --------------------------------------------------------------------------- real engines


@pytest.mark.emulator
def test_fast_engine_lifecycle(fast: Engine) -> None:
    started = start(fast)
    assert started.running and started.pid is not None
    assert started.endpoint is not None and started.endpoint.startswith("http://127.0.0.1:")
    assert status(fast) == started
    assert started.log.is_file()

    create_dataset(started.endpoint, "tenant_acme")
    assert dataset_ids(started.endpoint) == {"tenant_acme"}

    assert stop(fast) is True
    after = status(fast)
    assert not after.running and after.pid is None and after.endpoint is None
    assert not _alive(started.pid)
    assert stop(fast) is False


@pytest.mark.emulator
def test_fast_start_is_idempotent_and_refuses_other_settings(fast: Engine) -> None:
    first = start(fast)
    assert start(fast) == first
    assert first.endpoint is not None
    port = int(first.endpoint.rsplit(":", 1)[1])
    assert start(fast, port=port) == first
    with pytest.raises(EmulatorError, match="already runs"):
        start(fast, project="another-project-1")


@pytest.mark.emulator
def test_fast_fresh_start_wipes_data(fast: Engine, tmp_path: Path) -> None:
    data_dir = tmp_path / "fast-data"
    first = start(fast, data_dir=data_dir)
    assert first.data_dir == data_dir.resolve() and first.endpoint is not None
    create_dataset(first.endpoint, "tenant_old")

    again = start(fast, data_dir=data_dir, fresh=True)
    assert again.running and again.pid != first.pid and again.endpoint is not None
    assert dataset_ids(again.endpoint) == set()


@pytest.mark.emulator
def test_faithful_engine_lifecycle(faithful: Engine) -> None:
    started = start(faithful)
    assert started.running and started.endpoint is not None and started.pid is not None
    assert status(faithful).running

    create_dataset(started.endpoint, "tenant_acme")
    assert "tenant_acme" in dataset_ids(started.endpoint)  # it also creates `local` itself

    assert stop(faithful) is True
    assert not status(faithful).running
    assert not _alive(started.pid)


# --------------------------------------------------------------------------- no install


def _write_run_file(pid: int) -> Path:
    run = state_dir() / "run" / "fast.json"
    run.parent.mkdir(parents=True)
    run.write_text(json.dumps({
        "engine": "fast", "pid": pid, "port": 9, "grpc_port": 10,
        "endpoint": "http://127.0.0.1:9", "project": PROJECT,
        "data_dir": str(state_dir() / "data" / "fast"),
        "log": str(state_dir() / "logs" / "fast.log"), "started_at": "2026-01-01T00:00:00+00:00",
    }))
    return run


def test_stale_run_file_of_a_dead_process_is_not_running(local_dir: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    run = _write_run_file(gone.pid)

    current = status(Engine.FAST)
    assert not current.running and current.pid is None and current.endpoint is None
    assert stop(Engine.FAST) is False
    assert not run.exists()


def test_run_file_whose_pid_is_another_program_is_not_running(local_dir: Path) -> None:
    # A live pid that is not the engine (pid reuse): this very test process.
    run = _write_run_file(os.getpid())

    assert not status(Engine.FAST).running
    assert stop(Engine.FAST) is False  # and, above all, did not signal us
    assert not run.exists()


def test_stop_when_never_started_returns_false(local_dir: Path) -> None:
    assert stop(Engine.FAST) is False
    assert not status(Engine.FAITHFUL).running


def test_unreadable_run_file_is_a_clear_error(local_dir: Path) -> None:
    run = state_dir() / "run" / "fast.json"
    run.parent.mkdir(parents=True)
    run.write_text("{not json")
    with pytest.raises(EmulatorError, match=r"fast\.json"):
        status(Engine.FAST)


def test_state_dir_follows_the_environment(local_dir: Path) -> None:
    assert state_dir() == local_dir.resolve()


@pytest.mark.parametrize("engine", list(Engine))
def test_start_commands_bind_loopback_and_name_a_data_dir(engine: Engine) -> None:
    args = engines_module.ServeArgs(Path("/venv/bin/x"), 9050, 9060, PROJECT, Path("/d"))
    argv = engines_module.spec(engine).build_argv(args)
    flags = {
        flag: value for flag, value in zip(argv, [*argv[1:], ""], strict=True)
        if flag.startswith("--") and not value.startswith("--")
    }
    assert argv[0] == "/venv/bin/x"
    assert flags["--data-dir"] == "/d" and flags["--project"] == PROJECT
    hosts = {k: v for k, v in flags.items() if k.endswith("host")}
    assert hosts and set(hosts.values()) == {"127.0.0.1"}


def test_missing_python313_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        engines_module, "_python313_candidates", lambda: iter([Path("/nonexistent/python3.13")])
    )
    with pytest.raises(EmulatorError, match=r"needs Python 3\.13.*AUDITOR_PYTHON313"):
        engines_module.find_python313()


@pytest.mark.parametrize("project", [f"{PROJECT}\n", "", "Gac-prod", "gac prod 1", "a" * 40])
def test_a_bad_project_id_is_refused_before_anything_starts(project: str) -> None:
    with pytest.raises(EmulatorError, match="not a BigQuery project id"):
        start(Engine.FAST, project=project)
