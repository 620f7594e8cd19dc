"""The suite's own promise: every engine a test starts is stopped, and a session that leaves
one running fails (tests/conftest.py, pytest_sessionfinish).

Run as a session of its own (pytester, in a subprocess) with the project's conftest as its
plugin: one test there starts the fast engine and never stops it. (That a session which
stops what it starts passes is shown by every run of this suite.)
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from auditor.resources import PROJECT_DIR

LEAKY = """
from pathlib import Path

from auditor.local import Engine, start


def test_starts_an_engine_and_forgets_it():
    started = start(Engine.FAST)
    assert started.running
    Path("leaked.pid").write_text(str(started.pid))
"""


def _gone(pid: int, within: float = 10.0) -> bool:
    """Whether `pid` is gone (or a zombie, being reaped) within `within` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        stat = Path(f"/proc/{pid}/stat")
        if stat.exists() and stat.read_text().rsplit(")", 1)[-1].split()[:1] == ["Z"]:
            return True
        time.sleep(0.1)
    return False


def _session(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, test: str) -> Any:
    monkeypatch.setenv("PYTHONPATH", str(PROJECT_DIR))
    pytester.makeconftest('pytest_plugins = ["tests.conftest"]\n')
    pytester.makepyfile(test_inner=test)
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=300)


@pytest.mark.emulator
def test_a_session_that_leaves_an_engine_running_fails(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _session(pytester, monkeypatch, LEAKY)
    result.assert_outcomes(passed=1)  # the test itself passed ...
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # ... the session did not
    output = result.stdout.str()
    assert "a fast engine started by the suite is still running after it" in output, output
    assert "the test that started it must stop it" in output
    leaked = int((pytester.path / "leaked.pid").read_text())
    assert f"pid {leaked}" in output
    assert _gone(leaked)  # the check stopped it, too: the machine is left clean
