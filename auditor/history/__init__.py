"""The run history (SQLite) and its optional BigQuery copy."""

from auditor.history.store import (
    DEFAULT_HISTORY,
    FindingRecord,
    HistoryError,
    HistoryStore,
    RunRecord,
    new_run_id,
)

__all__ = [
    "DEFAULT_HISTORY",
    "FindingRecord",
    "HistoryError",
    "HistoryStore",
    "RunRecord",
    "new_run_id",
]
