"""Lifecycle of the embedded local BigQuery: install into a private venv, start, check, stop.

Layout under `state_dir()` (.local/ in a source checkout, the user's cache directory for a
regular install, or $AUDITOR_LOCAL_DIR):

    engines/<engine>/venv/          the engine's own virtualenv ($AUDITOR_LOCAL_ENGINES_DIR
    engines/<engine>/home/          moves engines/); home/ holds the preinstalled DuckDB
    engines/<engine>/installed.json extensions (it is HOME for the engine's processes)
    data/<engine>/                  default data dir
    run/<engine>.json               pid, ports, endpoint, project, data dir of a started engine
    logs/<engine>.log               output of the running engine (one run per file)
    logs/<engine>-install.log       output of the last install

Only the standard library is used: subprocess with list argv, urllib for the health check.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditor.local import processes
from auditor.local.endpoints import answers
from auditor.local.engines import LOOPBACK, EmulatorError, Engine, ServeArgs, spec
from auditor.resources import LOCAL_DIR

STATE_DIR_ENV = "AUDITOR_LOCAL_DIR"
ENGINES_DIR_ENV = "AUDITOR_LOCAL_ENGINES_DIR"
DEFAULT_PROJECT = "gac-prod-471220"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
INSTALL_TIMEOUT = 1200.0
DATA_MARKER = ".auditor-emulator-data"

_PROJECT_RE = re.compile(r"(?:[a-z][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
# Variables that would make the engine's Python load code other than its own venv's.
_SCRUBBED_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "__PYVENV_LAUNCHER__")


@dataclass(frozen=True)
class EmulatorStatus:
    """What is known about one engine. `running` means its process is alive."""

    engine: Engine
    running: bool
    pid: int | None
    endpoint: str | None
    data_dir: Path
    log: Path


@dataclass(frozen=True)
class _RunInfo:
    """The content of run/<engine>.json."""

    engine: Engine
    pid: int
    port: int
    grpc_port: int
    endpoint: str
    project: str
    data_dir: Path
    log: Path
    started_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "engine": self.engine.value,
            "pid": self.pid,
            "port": self.port,
            "grpc_port": self.grpc_port,
            "endpoint": self.endpoint,
            "project": self.project,
            "data_dir": str(self.data_dir),
            "log": str(self.log),
            "started_at": self.started_at,
        }


# ----------------------------------------------------------------------------- paths


def state_dir() -> Path:
    """Where the local engines keep everything: resources.LOCAL_DIR or $AUDITOR_LOCAL_DIR."""
    override = os.environ.get(STATE_DIR_ENV)
    return Path(override).expanduser().resolve() if override else LOCAL_DIR


def engines_dir() -> Path:
    """Where engines are installed: state_dir()/engines or $AUDITOR_LOCAL_ENGINES_DIR."""
    override = os.environ.get(ENGINES_DIR_ENV)
    return Path(override).expanduser().resolve() if override else state_dir() / "engines"


def _engine_root(engine: Engine) -> Path:
    return engines_dir() / Engine(engine).value


def _venv(engine: Engine) -> Path:
    return _engine_root(engine) / "venv"


def _home(engine: Engine) -> Path:
    return _engine_root(engine) / "home"


def _stamp(engine: Engine) -> Path:
    return _engine_root(engine) / "installed.json"


def _run_file(engine: Engine) -> Path:
    return state_dir() / "run" / f"{Engine(engine).value}.json"


def _log_file(engine: Engine) -> Path:
    return state_dir() / "logs" / f"{Engine(engine).value}.log"


def _install_log(engine: Engine) -> Path:
    return state_dir() / "logs" / f"{Engine(engine).value}-install.log"


def _default_data_dir(engine: Engine) -> Path:
    return state_dir() / "data" / Engine(engine).value


@contextlib.contextmanager
def _locked(path: Path, timeout: float) -> Iterator[None]:
    """An exclusive inter-process lock on `path`, given up on after `timeout` seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise EmulatorError(
                        f"another process holds {path} for more than {timeout:.0f} s"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:]) or f"(empty log {path})"


def _child_env(home: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    if home is not None:
        env["HOME"] = str(home)
    return env


# ----------------------------------------------------------------------------- install


def _wanted_stamp(engine: Engine) -> dict[str, Any]:
    data = spec(engine)
    return {"packages": list(data.packages), "extensions": list(data.extensions)}


def _extensions_present(engine: Engine) -> bool:
    root = _home(engine) / ".duckdb" / "extensions"
    return all(any(root.glob(f"*/*/{name}.duckdb_extension")) for name in spec(engine).extensions)


def is_installed(engine: Engine) -> bool:
    """True when the engine's venv matches its pinned package list (no install needed)."""
    try:
        stamp = json.loads(_stamp(engine).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    venv = _venv(engine)
    return (
        stamp == _wanted_stamp(engine)
        and (venv / "bin" / "python").exists()
        and (venv / "bin" / spec(engine).script).exists()
        and _extensions_present(engine)
    )


def _run_step(argv: list[str], log: Path, env: dict[str, str], what: str) -> None:
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
        out.flush()
        try:
            done = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                timeout=INSTALL_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise EmulatorError(
                f"{what} took more than {INSTALL_TIMEOUT:.0f} s; log {log}:\n{_tail(log)}"
            ) from None
        except OSError as exc:
            raise EmulatorError(f"{what} could not run {argv[0]}: {exc}") from exc
    if done.returncode != 0:
        raise EmulatorError(f"{what} failed (exit {done.returncode}); log {log}:\n{_tail(log)}")


_IMPORT_EXTENSIONS = (
    "import sys\n"
    "from duckdb_extensions import import_extension\n"
    "for name in sys.argv[1:]:\n"
    "    import_extension(name, force_install=True)\n"
)


def ensure_installed(engine: Engine) -> Path:
    """Install the engine into its own venv unless its stamp matches; return the venv.

    Idempotent and safe to call from several processes at once (a file lock serialises them).
    A changed package list reinstalls from scratch.
    """
    engine = Engine(engine)
    if is_installed(engine):
        return _venv(engine)
    root = _engine_root(engine)
    with _locked(engines_dir() / f".{engine.value}-install.lock", INSTALL_TIMEOUT):
        if is_installed(engine):
            return _venv(engine)
        data = spec(engine)
        python = data.find_python()
        for stale in (_stamp(engine), _venv(engine), _home(engine)):
            if stale.is_dir():
                shutil.rmtree(stale)
            elif stale.exists():
                stale.unlink()
        _home(engine).mkdir(parents=True)
        log = _install_log(engine)
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_bytes(b"")
        venv = _venv(engine)
        vpython = str(venv / "bin" / "python")
        _run_step([str(python), "-m", "venv", str(venv)], log, _child_env(None), "creating venv")
        _run_step(
            [vpython, "-m", "pip", "install", *data.packages],
            log,
            _child_env(None),
            f"installing {engine.value} engine packages",
        )
        _run_step(
            [vpython, "-c", _IMPORT_EXTENSIONS, *data.extensions],
            log,
            _child_env(_home(engine)),
            "installing DuckDB extensions",
        )
        tmp = root / "installed.json.tmp"
        tmp.write_text(json.dumps(_wanted_stamp(engine), indent=2) + "\n", encoding="utf-8")
        tmp.replace(_stamp(engine))
        if not is_installed(engine):
            raise EmulatorError(f"{engine.value} engine install left no {data.script} in {venv}")
        return venv


# ----------------------------------------------------------------------------- run file


def _read_run(engine: Engine) -> _RunInfo | None:
    path = _run_file(engine)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise EmulatorError(f"{path}: unreadable run file ({exc}); delete it") from exc
    try:
        info = _RunInfo(
            engine=Engine(raw["engine"]),
            pid=int(raw["pid"]),
            port=int(raw["port"]),
            grpc_port=int(raw["grpc_port"]),
            endpoint=str(raw["endpoint"]),
            project=str(raw["project"]),
            data_dir=Path(raw["data_dir"]),
            log=Path(raw["log"]),
            started_at=str(raw["started_at"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise EmulatorError(f"{path}: malformed run file ({exc!r}); delete it") from exc
    if info.engine is not engine or info.pid <= 1:
        raise EmulatorError(f"{path}: run file is not for the {engine.value} engine; delete it")
    return info


def _write_run(info: _RunInfo) -> None:
    path = _run_file(info.engine)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info.to_json(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)


def _remove_run(engine: Engine) -> None:
    _run_file(engine).unlink(missing_ok=True)


# ----------------------------------------------------------------------------- processes


def _is_engine_process(pid: int, engine: Engine) -> bool:
    return processes.is_engine_process(pid, _venv(engine))


def _terminate(pid: int, engine: Engine) -> None:
    processes.terminate(pid, _venv(engine), Engine(engine).value, STOP_TIMEOUT)


def running_engines(under: Iterable[Path]) -> list[processes.RunningEngine]:
    """Engine processes of any engine, started by anyone, whose data dir is below `under`."""
    return processes.running_engines({e: _venv(e) for e in Engine}, under)


def _free_ports(count: int, exclude: set[int]) -> list[int]:
    sockets: list[socket.socket] = []
    try:
        ports: list[int] = []
        while len(ports) < count:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((LOOPBACK, 0))
            port = int(sock.getsockname()[1])
            if port not in exclude:
                ports.append(port)
        return ports
    finally:
        for sock in sockets:
            sock.close()


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


# ----------------------------------------------------------------------------- health


def _wait_healthy(info: _RunInfo, alive: Callable[[], bool], timeout: float) -> None:
    url = f"{info.endpoint}/bigquery/v2/projects/{info.project}/datasets"
    deadline = time.monotonic() + timeout
    while not answers(info.endpoint, info.project):
        if not alive():
            raise EmulatorError(
                f"{info.engine.value} engine exited before answering GET {url}; "
                f"log {info.log}:\n{_tail(info.log)}"
            )
        if time.monotonic() > deadline:
            raise EmulatorError(
                f"{info.engine.value} engine did not answer GET {url} within {timeout:.0f} s; "
                f"log {info.log}:\n{_tail(info.log)}"
            )
        time.sleep(0.25)


# ----------------------------------------------------------------------------- lifecycle


def _status_of(engine: Engine, info: _RunInfo | None) -> EmulatorStatus:
    if info is not None and _is_engine_process(info.pid, engine):
        return EmulatorStatus(engine, True, info.pid, info.endpoint, info.data_dir, info.log)
    data_dir = info.data_dir if info is not None else _default_data_dir(engine)
    return EmulatorStatus(engine, False, None, None, data_dir, _log_file(engine))


def status(engine: Engine) -> EmulatorStatus:
    """Whether the engine runs. A run file whose process is gone (or is another program,
    after pid reuse) counts as not running. Never starts, stops or installs anything."""
    engine = Engine(engine)
    return _status_of(engine, _read_run(engine))


def _prepare_data_dir(path: Path, fresh: bool) -> None:
    marker = path / DATA_MARKER
    if fresh and path.exists():
        if not marker.exists() and any(path.iterdir()):
            raise EmulatorError(
                f"refusing to wipe {path}: it is not empty and has no {DATA_MARKER} marker, "
                "so it is not a data dir this auditor created"
            )
        for child in path.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    path.mkdir(parents=True, exist_ok=True)
    marker.touch()


def _check_same(info: _RunInfo, project: str, port: int | None, data_dir: Path | None) -> None:
    wanted = {
        "project": (project, info.project),
        "port": (port, info.port),
        "data dir": (data_dir, info.data_dir),
    }
    for name, (asked, actual) in wanted.items():
        if asked is not None and asked != actual:
            raise EmulatorError(
                f"the {info.engine.value} engine already runs (pid {info.pid}) with {name} "
                f"{actual}, not {asked}; stop it first"
            )


def start(
    engine: Engine,
    *,
    project: str = DEFAULT_PROJECT,
    port: int | None = None,
    data_dir: Path | None = None,
    fresh: bool = False,
    timeout: float = START_TIMEOUT,
    in_memory: bool = False,
) -> EmulatorStatus:
    """Start the engine on 127.0.0.1 (installing it on first use) and wait until it answers.

    Idempotent: if it already runs with the same settings, returns its status. `fresh=True`
    stops it if running and wipes its data dir first. `in_memory=True` (fast engine only)
    keeps no data on disk, about three times faster for scale benchmarks. The process is
    detached (own session), so it outlives the caller until `stop()`.
    """
    engine = Engine(engine)
    if in_memory and engine is not Engine.FAST:
        raise EmulatorError("only the fast engine can run in memory")
    if not _PROJECT_RE.fullmatch(project):
        raise EmulatorError(f"not a BigQuery project id: {project!r}")
    if port is not None and not 0 < port < 65536:
        raise EmulatorError(f"not a TCP port: {port}")
    wanted_dir = data_dir.expanduser().resolve() if data_dir is not None else None
    venv = ensure_installed(engine)
    with _locked(state_dir() / "run" / f".{engine.value}.lock", timeout + STOP_TIMEOUT + 10):
        current = _read_run(engine)
        if current is not None and _is_engine_process(current.pid, engine):
            _check_same(current, project, port, wanted_dir)
            if not fresh:
                pid = current.pid
                _wait_healthy(current, lambda: _is_engine_process(pid, engine), timeout)
                return _status_of(engine, current)
            _terminate(current.pid, engine)
        _remove_run(engine)
        return _launch(engine, venv, project, port, wanted_dir, fresh, timeout, in_memory)


def _launch(
    engine: Engine,
    venv: Path,
    project: str,
    port: int | None,
    data_dir: Path | None,
    fresh: bool,
    timeout: float,
    in_memory: bool = False,
) -> EmulatorStatus:
    data = spec(engine)
    directory = data_dir if data_dir is not None else _default_data_dir(engine)
    _prepare_data_dir(directory, fresh)
    if port is None:
        port, grpc_port = _free_ports(2, set())
    elif not _port_free(port):
        # Checked first: another server there could answer the health check for us.
        raise EmulatorError(f"port {port} on {LOOPBACK} is already in use")
    else:
        (grpc_port,) = _free_ports(1, {port})
    argv = data.build_argv(
        ServeArgs(venv / "bin" / data.script, port, grpc_port, project, directory, in_memory)
    )
    log = _log_file(engine)
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        out.write(f"$ {' '.join(argv)}\n".encode())
        out.flush()
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(directory),
                env=_child_env(_home(engine)),
                start_new_session=True,
            )
        except OSError as exc:
            raise EmulatorError(f"cannot start {argv[0]}: {exc}") from exc
    processes.track(proc)
    info = _RunInfo(
        engine=engine,
        pid=proc.pid,
        port=port,
        grpc_port=grpc_port,
        endpoint=f"http://{LOOPBACK}:{port}",
        project=project,
        data_dir=directory,
        log=log,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    _write_run(info)
    try:
        _wait_healthy(info, lambda: proc.poll() is None, timeout)
    except BaseException:
        with contextlib.suppress(EmulatorError):
            _terminate(proc.pid, engine)
        _remove_run(engine)
        raise
    return EmulatorStatus(engine, True, proc.pid, info.endpoint, directory, log)


def stop(engine: Engine) -> bool:
    """Stop the engine: SIGTERM, then SIGKILL after a timeout. False if it was not running.

    The run file is removed either way (a stale one included).
    """
    engine = Engine(engine)
    with _locked(state_dir() / "run" / f".{engine.value}.lock", STOP_TIMEOUT + START_TIMEOUT):
        current = _read_run(engine)
        if current is None:
            return False
        running = _is_engine_process(current.pid, engine)
        if running:
            _terminate(current.pid, engine)
        _remove_run(engine)
        return running
