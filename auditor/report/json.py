"""The JSON report (DESIGN "JSON report" contract), and a validating loader for it.

The shape is fixed by schemas/formats/report.schema.json; tests validate rendered output
against it. Optional finding keys are left out when unset rather than written as null.

Two words, two meanings: a finding *not in the baseline* is one the --baseline report did not
have (`summary.fail_not_in_baseline_by_severity`); a finding *new since the last run* is one
the run history did not know to fail (`since_last_run`, written by the nightly job only).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from auditor import limits
from auditor.errors import InputError
from auditor.model import CollectionStats, Finding, Report, RuleInfo, RunInfo, RunScope
from auditor.report.summary import iso_utc, ordered, ordered_rules, summarize
from auditor.resources import format_schema
from auditor.sources.jsonpos import load_json_value

FORMAT_VERSION = "1"
TOOL_NAME = "auditor"
SCHEMA_NAME = "report"
NOT_IN_BASELINE = "fail_not_in_baseline_by_severity"
# The same counts, as reports written before the rename call them; `load` renames the key.
LEGACY_NOT_IN_BASELINE = "new_fail_by_severity"


def jsonable(value: Any) -> Any:
    """Plain JSON data from evidence values (tuples, sets, enums, dates), in a fixed order."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _run(run: RunInfo) -> dict[str, Any]:
    return {
        "started_at": iso_utc(run.started_at),
        "finished_at": iso_utc(run.finished_at),
        "complete": run.complete,
        "root": run.root,
        "command": run.command,
        "coverage": [{"scope": g.scope, "reason": g.reason} for g in run.coverage],
        "errors": list(run.errors),
        "inputs": [{"path": i.path, "sha256": i.sha256} for i in run.inputs],
        **(
            {"evaluation_time": iso_utc(run.evaluation_time)}
            if run.evaluation_time is not None
            else {}
        ),
        "scope": _scope(run.scope),
        **({"collection": _collection(run.collection)} if run.collection is not None else {}),
    }


def _collection(stats: CollectionStats) -> dict[str, Any]:
    return {
        "seconds": stats.seconds,
        "calls": dict(sorted(stats.calls.items())),
        "fast_path_tables": stats.fast_path_tables,
        "fallbacks": dict(sorted(stats.fallbacks.items())),
        "locations": list(stats.locations),
        "table_iam": stats.table_iam,
        "throttled": stats.throttled,
        "concurrency": stats.concurrency,
        "lowest_concurrency": stats.lowest_concurrency,
        "notes": list(stats.notes),
    }


def _scope(scope: RunScope) -> dict[str, Any]:
    return {
        "rules": list(scope.rules),
        "project": scope.project,
        "datasets": list(scope.datasets),
        "rule_filter": list(scope.rule_filter),
        "dataset_filter": list(scope.dataset_filter),
        "sources": list(scope.sources),
        "narrowed": scope.narrowed,
    }


def _rule(rule: RuleInfo) -> dict[str, Any]:
    return {
        "id": rule.id,
        "name": rule.name,
        "title": rule.title,
        "severity": rule.severity.value,
        "rationale": rule.rationale,
        "remediation": rule.remediation,
        "references": list(rule.references),
        "frameworks": {k: list(rule.frameworks[k]) for k in sorted(rule.frameworks)},
    }


def finding_dict(f: Finding) -> dict[str, Any]:
    """One finding as the JSON report writes it."""
    out: dict[str, Any] = {
        "rule_id": f.rule_id,
        "rule_name": f.rule_name,
        "status": f.status.value,
        "severity": f.severity.value,
        "resource": f.resource,
        "message": f.message,
        "fingerprint": f.fingerprint,
    }
    if f.column is not None:
        out["column"] = f.column
    if f.principal is not None:
        out["principal"] = f.principal
    if f.location is not None:
        location: dict[str, Any] = {"path": f.location.path}
        if f.location.line is not None:
            location["line"] = f.location.line
        out["location"] = location
    if f.evidence:
        out["evidence"] = jsonable(f.evidence)
    if f.remediation is not None:
        out["remediation"] = f.remediation
    if f.waiver is not None:
        out["waiver"] = {
            "reason": f.waiver.reason,
            "owner": f.waiver.owner,
            "expires": f.waiver.expires,
            "expired": f.waiver.expired,
        }
    if f.in_baseline:
        out["in_baseline"] = True
    return out


def to_dict(report: Report, *, since_last_run: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The JSON report as Python data (what `render` serialises).

    `since_last_run`: the run against the history (auditor.history.compare.Comparison
    .as_json): findings new since the last run, resolved, persisting, not examined.
    """
    out: dict[str, Any] = {
        "version": FORMAT_VERSION,
        "tool": {"name": TOOL_NAME, "version": report.run.tool_version},
        "run": _run(report.run),
        "summary": summarize(report),
    }
    if since_last_run is not None:
        out["since_last_run"] = dict(since_last_run)
    out["rules"] = [_rule(r) for r in ordered_rules(report)]
    out["findings"] = [finding_dict(f) for f in ordered(report.findings)]
    return out


def render(report: Report, *, since_last_run: Mapping[str, Any] | None = None) -> str:
    """The JSON report: 2-space indent, ASCII only (so no raw control bytes reach a terminal)."""
    data = to_dict(report, since_last_run=since_last_run)
    return json.dumps(data, indent=2, ensure_ascii=True) + "\n"


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    schema = json.loads(format_schema(SCHEMA_NAME).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def load(text: str, source: str = "<report>") -> dict[str, Any]:
    """Parse a JSON report and validate it against the shipped schema.

    Raises InputError naming `source` (and the line, for a syntax error) when the text is
    not JSON or not a report of this format version.
    """
    try:
        data = load_json_value(
            text, source, max_depth=limits.MAX_REPORT_DEPTH, max_bytes=limits.MAX_REPORT_BYTES
        )
    except json.JSONDecodeError as exc:
        raise InputError(source, f"not valid JSON: {exc.msg}", exc.lineno) from exc
    error = best_match(_validator().iter_errors(data))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise InputError(source, f"not an auditor JSON report: at {where}: {error.message}")
    if not isinstance(data, dict):  # the schema says object; this narrows the type
        raise InputError(source, "not an auditor JSON report: top level is not an object")
    summary = data["summary"]
    if LEGACY_NOT_IN_BASELINE in summary:  # written before "new" meant one thing only
        summary[NOT_IN_BASELINE] = summary.pop(LEGACY_NOT_IN_BASELINE)
    return data
