"""What the history keeps of a run and of its findings: plain frozen records.

The SQLite store writes and reads them; the BigQuery sink copies their `row()`s; the
comparison (auditor.history.compare) reads their scope to compare like with like.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from auditor.model import RunScope, Severity, Status
from auditor.report.summary import SEVERITIES_DESC, iso_utc

__all__ = ["FindingRecord", "RunRecord"]


@dataclass(frozen=True)
class RunRecord:
    """One recorded run: what the JSON report's `run` and `summary` blocks say, in short."""

    id: str
    started_at: datetime
    finished_at: datetime
    command: str
    root: str
    complete: bool
    tool_version: str
    results_sha256: str | None
    findings: int  # every finding, PASS included
    by_status: Mapping[str, int]  # every Status, zero included
    fail_by_severity: Mapping[str, int]  # FAIL findings per severity, zero included
    coverage_gaps: int
    errors: int
    # What the run examined; None for runs recorded before the history kept it (schema 1),
    # which are taken to have examined everything, as the history then assumed.
    scope: RunScope | None = None
    gap_scopes: tuple[str, ...] = ()  # the scope of each coverage gap, in report order

    @property
    def narrowed(self) -> bool:
        return self.scope is not None and self.scope.narrowed

    @property
    def partial(self) -> bool:
        """Narrowed (--only, --dataset narrower than the standing scope) or incomplete: it
        cannot speak for the whole estate."""
        return self.narrowed or not self.complete

    def row(self) -> dict[str, Any]:
        """The run as a flat JSON-ready row (the sink's `runs` table has these columns)."""
        scope = self.scope
        return {
            "id": self.id,
            "started_at": iso_utc(self.started_at),
            "finished_at": iso_utc(self.finished_at),
            "command": self.command,
            "root": self.root,
            "complete": self.complete,
            "tool_version": self.tool_version,
            "results_sha256": self.results_sha256,
            "findings": self.findings,
            **{f"{s.value.lower()}_count": self.by_status[s.value] for s in Status},
            **{f"fail_{s.value}": self.fail_by_severity[s.value] for s in SEVERITIES_DESC},
            "coverage_gaps": self.coverage_gaps,
            "errors": self.errors,
            # Unknown scope (schema-1 runs): narrowed is null, the lists are empty.
            "narrowed": None if scope is None else scope.narrowed,
            "scope_rules": list(scope.rules) if scope else [],
            "scope_project": scope.project if scope else None,
            "scope_datasets": list(scope.datasets) if scope else [],
            "rule_filter": list(scope.rule_filter) if scope else [],
            "dataset_filter": list(scope.dataset_filter) if scope else [],
            "sources": list(scope.sources) if scope else [],
            "gap_scopes": list(self.gap_scopes),
            "configured_datasets": list(scope.configured_datasets) if scope else [],
        }


@dataclass(frozen=True)
class FindingRecord:
    """One stored finding of one run (never PASS)."""

    run_id: str
    fingerprint: str
    rule_id: str
    rule_name: str
    status: Status
    severity: Severity
    resource: str
    column: str | None
    principal: str | None
    message: str

    def row(self) -> dict[str, Any]:
        """The finding as a flat JSON-ready row (the sink's `findings` table has these)."""
        return {
            "run_id": self.run_id,
            "fingerprint": self.fingerprint,
            "rule_id": self.rule_id,
            "rule_name": self.rule_name,
            "status": self.status.value,
            "severity": self.severity.value,
            "resource": self.resource,
            "column_path": self.column,
            "principal": self.principal,
            "message": self.message,
        }
