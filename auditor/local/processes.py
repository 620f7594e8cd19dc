"""The engines' processes: which pid is an engine, stopping one, finding the ones running.

An engine process is recognised by its command line (it runs from the engine's own venv),
so a reused pid is never mistaken for it. Engines started by this process are kept as
Popen objects, so they can be reaped (no zombies). Linux procfs is used where present.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from auditor.local.engines import EmulatorError, Engine

# Engines started by this process, by pid.
CHILDREN: dict[int, subprocess.Popen[bytes]] = {}
_PROC = Path("/proc")


def track(proc: subprocess.Popen[bytes]) -> None:
    """Remember an engine this process started (for reaping, and for the tests' check)."""
    CHILDREN[proc.pid] = proc


def is_engine_process(pid: int, venv: Path) -> bool:
    """True if `pid` is alive and runs from `venv` (so not a reused pid)."""
    child = CHILDREN.get(pid)
    if child is not None:  # started by this process: Popen knows, and reaps it
        if child.poll() is None:
            return True
        del CHILDREN[pid]
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False  # gone, or someone else's process after pid reuse
    proc = _PROC / str(pid)
    if not proc.is_dir():
        return True  # no procfs: trust the signal check
    try:
        stat = (proc / "stat").read_text(encoding="utf-8", errors="replace")
        cmdline = (proc / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[:1] in (["Z"], ["X"]):
        return False  # exited, waiting for its parent to reap it
    prefix = os.fsencode(str(venv))
    return any(arg.startswith(prefix) for arg in cmdline)


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal the engine's whole process group (it leads one: start_new_session)."""
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def wait_gone(pid: int, venv: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while is_engine_process(pid, venv):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def terminate(pid: int, venv: Path, name: str, timeout: float) -> None:
    """SIGTERM the engine's process group; SIGKILL it if still there after `timeout`."""
    child = CHILDREN.pop(pid, None)
    if child is not None:
        if child.poll() is not None:
            return
        signal_group(pid, signal.SIGTERM)
        try:
            child.wait(timeout)
        except subprocess.TimeoutExpired:
            signal_group(pid, signal.SIGKILL)
            try:
                child.wait(5.0)
            except subprocess.TimeoutExpired:
                raise EmulatorError(f"{name} engine (pid {pid}) survived SIGKILL") from None
        return
    if not is_engine_process(pid, venv):
        return
    signal_group(pid, signal.SIGTERM)
    if not wait_gone(pid, venv, timeout):
        signal_group(pid, signal.SIGKILL)
        if not wait_gone(pid, venv, 5.0):
            raise EmulatorError(f"{name} engine (pid {pid}) survived SIGKILL")


@dataclass(frozen=True)
class RunningEngine:
    """An engine process found running: what it is and where its data is (its cwd)."""

    pid: int
    engine: Engine
    cwd: Path


def running_engines(venvs: Mapping[Engine, Path], under: Iterable[Path]) -> list[RunningEngine]:
    """Every live engine process (started by anyone) whose data dir (its working directory)
    is below one of `under`. Empty without procfs."""
    roots = [Path(p).resolve() for p in under]
    found = []
    if not _PROC.is_dir():
        return []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        for engine, venv in venvs.items():
            if not is_engine_process(pid, venv):
                continue
            try:
                cwd = (entry / "cwd").readlink()
            except OSError:
                continue  # gone meanwhile, or not ours to look into
            if any(cwd == root or root in cwd.parents for root in roots):
                found.append(RunningEngine(pid, engine, cwd))
    return sorted(found, key=lambda r: r.pid)


__all__ = [
    "CHILDREN",
    "RunningEngine",
    "is_engine_process",
    "running_engines",
    "signal_group",
    "terminate",
    "track",
]
