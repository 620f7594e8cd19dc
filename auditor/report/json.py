"""The JSON report (DESIGN "JSON report" contract), and a validating loader for it.

The shape is fixed by schemas/formats/report.schema.json; tests validate rendered output
against it. Optional finding keys are left out when unset rather than written as null.

Two words, two meanings: a finding *not in the baseline* is one the --baseline report did not
have (`summary.fail_not_in_baseline_by_severity`); a finding *new since the last run* is one
the run history did not know to fail (`since_last_run`, written by the nightly job only).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from enum import Enum
from functools import lru_cache
from typing import Any, NoReturn

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from auditor import limits
from auditor.errors import InputError
from auditor.io.jsonpos import load_json_value
from auditor.model import (
    CollectionStats,
    Discovery,
    Finding,
    PolicyPack,
    Report,
    RuleInfo,
    RunInfo,
    RunScope,
)
from auditor.report.schemacheck import Check, compile_schema
from auditor.report.summary import iso_utc, ordered, ordered_rules, summarize
from auditor.resources import format_schema

FORMAT_VERSION = "1"
TOOL_NAME = "auditor"
SCHEMA_NAME = "report"
NOT_IN_BASELINE = "fail_not_in_baseline_by_severity"
# The same counts, as reports written before the rename call them; `load` renames the key.
LEGACY_NOT_IN_BASELINE = "new_fail_by_severity"
_CONTAINER = (dict, list)
# Tuples, not `X | Y` unions, in hot isinstance calls: a union is built on every call.
_SEQUENCE = (list, tuple)
_SET = (set, frozenset)
_SCALAR = (str, int, float, bool)


def jsonable(value: Any) -> Any:
    """Plain JSON data from evidence values (tuples, sets, enums, dates), in a fixed order."""
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:  # most values: at once
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, _SEQUENCE):
        return [jsonable(v) for v in value]
    if isinstance(value, _SET):
        return sorted((jsonable(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, Enum):
        return jsonable(value.value)
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, _SCALAR):
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
        **({"policy_pack": _pack(run.policy_pack)} if run.policy_pack is not None else {}),
        **({"discovery": _discovery(run.discovery)} if run.discovery is not None else {}),
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


def _pack(pack: PolicyPack) -> dict[str, Any]:
    return {
        "origin": pack.origin,
        "sha256": pack.sha256,
        "files": [{"path": f.path, "sha256": f.sha256} for f in pack.files],
    }


def _discovery(discovery: Discovery) -> dict[str, Any]:
    files: list[dict[str, Any]] = []
    for item in discovery.files:
        entry: dict[str, Any] = {"path": item.path, "kind": item.kind.value}
        if item.scope is not None:
            entry["scope"] = item.scope.value
        if item.dialect is not None:
            entry["dialect"] = item.dialect
        if item.reason is not None:
            entry["reason"] = item.reason
        files.append(entry)
    return {"config": discovery.config, "files": files, "warnings": list(discovery.warnings)}


def _scope(scope: RunScope) -> dict[str, Any]:
    return {
        "rules": list(scope.rules),
        "project": scope.project,
        "datasets": list(scope.datasets),
        "rule_filter": list(scope.rule_filter),
        "dataset_filter": list(scope.dataset_filter),
        "configured_datasets": list(scope.configured_datasets),
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
def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(format_schema(SCHEMA_NAME).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return schema


@lru_cache(maxsize=1)
def _validator() -> Draft202012Validator:
    return Draft202012Validator(_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER)


@lru_cache(maxsize=1)
def _conforms() -> Check:
    return compile_schema(_schema())


@lru_cache(maxsize=1)
def finding_check() -> Check:
    """The compiled check of one finding (the schema's #/$defs/finding)."""
    return compile_schema(_schema(), "#/$defs/finding")


def _refuse(errors: Iterator[ValidationError], source: str, prefix: str = "") -> NoReturn:
    error = best_match(errors)
    if error is None:  # the compiled check and jsonschema disagree: refuse all the same
        raise InputError(source, "not an auditor JSON report: it does not match the schema")
    where = prefix + "/".join(str(p) for p in error.absolute_path)
    raise InputError(
        source, f"not an auditor JSON report: at {where or '(top level)'}: {error.message}"
    )


def refuse_finding(value: Any, index: int, source: str) -> NoReturn:
    """Raise the InputError that words why finding `index` does not conform."""
    schema = {"$defs": _schema()["$defs"], "$ref": "#/$defs/finding"}
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    prefix = f"findings/{index}" + ("/" if isinstance(value, dict) else "")
    _refuse(validator.iter_errors(value), source, prefix)


def check_depth(value: Any, source: str, depth: int = 0) -> None:
    """Refuse arrays/objects nested deeper than the report limit (`depth`: levels above)."""
    if limits.MAX_REPORT_DEPTH - depth < 1 or _deeper(value, limits.MAX_REPORT_DEPTH - depth):
        raise InputError(source, f"nesting deeper than {limits.MAX_REPORT_DEPTH} levels")


def _deeper(value: Any, allowed: int) -> bool:
    """Level by level (no recursion, no per-item tuples): saved evidence is shallow."""
    level: list[Any] = [value] if isinstance(value, _CONTAINER) else []
    depth = 0
    while level:
        depth += 1
        if depth > allowed:
            return True
        below: list[Any] = []
        for item in level:
            for child in item.values() if isinstance(item, dict) else item:
                if isinstance(child, _CONTAINER):
                    below.append(child)
        level = below
    return False


def validate(data: Any, source: str = "<report>") -> None:
    """Refuse `data` unless it is a report of this format version (InputError naming
    `source` and where): the compiled check answers, jsonschema words a refusal."""
    if not _conforms()(data):
        _refuse(_validator().iter_errors(data), source)


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
    validate(data, source)
    if not isinstance(data, dict):  # the schema says object; this narrows the type
        raise InputError(source, "not an auditor JSON report: top level is not an object")
    upgrade(data)
    return data


def upgrade(data: dict[str, Any]) -> None:
    """A validated report as this version names things (in place)."""
    summary = data["summary"]
    if LEGACY_NOT_IN_BASELINE in summary:  # written before "new" meant one thing only
        summary[NOT_IN_BASELINE] = summary.pop(LEGACY_NOT_IN_BASELINE)
