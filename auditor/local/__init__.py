"""The embedded local BigQuery: two engines the project installs and runs itself.

`faithful` (local-bigquery, Python 3.13) is closer to BigQuery; `fast` (bqemulator) scales.
Both listen on 127.0.0.1 only. See `auditor.local.emulator` for the state layout.
"""

from auditor.local.emulator import (
    EmulatorStatus,
    engines_dir,
    ensure_installed,
    is_installed,
    running_engines,
    start,
    state_dir,
    status,
    stop,
)
from auditor.local.engines import EmulatorError, Engine

__all__ = [
    "EmulatorError",
    "EmulatorStatus",
    "Engine",
    "engines_dir",
    "ensure_installed",
    "is_installed",
    "running_engines",
    "start",
    "state_dir",
    "status",
    "stop",
]
