"""The plan file: a Plan as JSON text, and back, validated.

`dump_plan` writes sorted keys and a fixed order, so the same plan gives the same text.
`load_plan` parses strictly (jsonpos: lines, depth and size limits), validates against
schemas/formats/plan.schema.json (nested schema fields one by one, with an explicit
stack), rebuilds every action from its `params` and refuses a file whose stored `api`
method, `resource` or `permissions` disagree with what the params say, or whose `digest`
does not match its actions: a reviewer may delete actions, but an edit that would make the
file say one thing and the applier do another is an error naming the file and line.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from auditor import limits
from auditor.errors import InputError
from auditor.io.jsonpos import Positioned, parse_json
from auditor.remediate.actions import ACTION_TYPES, Action, ActionKind, ManualStep, Precondition
from auditor.remediate.plan import PLAN_VERSION, Plan, PlannedFinding, Purpose
from auditor.resources import format_schema

MAX_PLAN_BYTES = limits.MAX_PLAN_BYTES
MAX_DEPTH = limits.MAX_PLAN_DEPTH


def plan_to_dict(plan: Plan) -> dict[str, Any]:
    kinds = Counter(a.kind.value for a in plan.actions)
    return {
        "plan_version": PLAN_VERSION,
        "tool": {"name": "auditor", "version": plan.tool_version},
        "created_at": _iso(plan.created_at),
        "project": plan.project,
        "purpose": plan.purpose.value,
        "source": plan.source,
        "endpoint": plan.endpoint,
        "digest": plan.digest(),
        "precondition_mode": plan.precondition_mode,
        "desired": dict(plan.desired),
        "summary": {
            "actions": len(plan.actions),
            "manual_steps": len(plan.manual_steps),
            "findings": len(plan.findings),
            "fixed": len(plan.fixed),
            "by_kind": dict(sorted(kinds.items())),
        },
        "findings": [f.to_dict() for f in plan.findings],
        "actions": [a.to_dict(plan.previews.get(a.id)) for a in plan.actions],
        "manual_steps": [m.to_dict() for m in plan.manual_steps],
    }


def dump_plan(plan: Plan) -> str:
    return json.dumps(plan_to_dict(plan), indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def read_plan(path: Path) -> Plan:
    name = str(path)
    try:
        if path.stat().st_size > MAX_PLAN_BYTES:  # refused before a byte of it is read
            raise InputError(
                name, f"file is larger than {limits.size_text(MAX_PLAN_BYTES)}; not read"
            )
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(name, f"cannot read plan: {exc.strerror or type(exc).__name__}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(name, "plan is not valid UTF-8") from None
    return load_plan(text, name)


def load_plan(text: str, path: str) -> Plan:
    doc = parse_json(text, path, max_depth=MAX_DEPTH, max_bytes=MAX_PLAN_BYTES)
    _validate(doc, path)
    raw = doc.value
    actions: list[Action] = []
    previews: dict[str, Mapping[str, Any]] = {}
    seen: set[str] = set()
    for index, item in enumerate(raw["actions"]):
        line = doc.line_of(("actions", index))
        action = _action(item, path, line)
        if action.id in seen:
            raise InputError(path, f"action id {action.id} appears twice", line)
        seen.add(action.id)
        actions.append(action)
        previews[action.id] = item["api"]
    plan = Plan(
        project=raw["project"],
        purpose=Purpose(raw["purpose"]),
        created_at=datetime.fromisoformat(raw["created_at"].replace("Z", "+00:00")),
        source=raw["source"],
        actions=tuple(actions),
        manual_steps=tuple(ManualStep.from_dict(m) for m in raw["manual_steps"]),
        findings=tuple(PlannedFinding.from_dict(f) for f in raw["findings"]),
        desired=raw["desired"],
        previews=previews,
        tool_version=raw["tool"]["version"],
        endpoint=raw.get("endpoint"),
    )
    for action in plan.actions:
        if action.project != plan.project:
            line = doc.line_of(("actions", actions.index(action), "project"))
            raise InputError(
                path,
                f"action {action.id} is for project {action.project}, the plan for {plan.project}",
                line,
            )
    # `digest` records the plan as written; a reviewer who deletes actions changes it, so the
    # applier and its journal use the digest of what is loaded (Plan.digest()).
    return plan


def _action(item: Mapping[str, Any], path: str, line: int | None) -> Action:
    kind = ActionKind(item["kind"])
    cls = ACTION_TYPES[kind]
    try:
        action = cls.from_params(
            item["params"],
            project=item["project"],
            dataset_id=item["dataset"],
            id=item["id"],
            fixes=tuple(item["fixes"]),
            preconditions=tuple(Precondition.from_dict(p) for p in item["preconditions"]),
        )
    except Exception as exc:  # a params value the action cannot take (e.g. a bad entry)
        raise InputError(path, f"action {item['id']} ({kind.value}): {exc}", line) from None
    expected = action.api(None, None).to_dict()
    problems = []
    if item["api"]["method"] != expected["method"] or item["api"]["http"] != expected["http"]:
        problems.append(f"its api says {item['api']['http']} but its params say {expected['http']}")
    if cls.BODY_FROM_PARAMS and item["api"]["body"] != expected["body"]:
        problems.append("its api body is not what its params say")
    if item["resource"] != action.resource:
        problems.append(f"its resource is {item['resource']} but its params say {action.resource}")
    if list(item["permissions"]) != list(cls.PERMISSIONS):
        problems.append(f"its permissions are not those of {kind.value}: {list(cls.PERMISSIONS)}")
    if not any(p.resource == action.dataset_resource for p in action.preconditions):
        problems.append("it has no precondition on its dataset")
    if problems:
        raise InputError(path, f"action {action.id} was edited inconsistently: {problems[0]}", line)
    return action


# ----------------------------------------------------------------------------- validation


@lru_cache(maxsize=1)
def _validators() -> tuple[Draft202012Validator, Draft202012Validator]:
    schema = json.loads(format_schema("plan").read_text(encoding="utf-8"))
    field_schema = {**schema["$defs"]["field"], "$defs": schema["$defs"]}
    return Draft202012Validator(schema), Draft202012Validator(field_schema)


def _validate(doc: Positioned, path: str) -> None:
    document, field = _validators()
    errors = [(tuple(e.absolute_path), e.message) for e in document.iter_errors(doc.value)]
    if not errors:
        for pointer, item in _nested_fields(doc.value):
            errors += [((*pointer, *e.absolute_path), e.message) for e in field.iter_errors(item)]
    if errors:
        pointer, message = min(errors, key=lambda e: doc.line_of(e[0]) or 0)
        where = "/".join(str(p) for p in pointer) or "(top level)"
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InputError(
            path, f"not a valid plan at {where}: {message}{more}", doc.line_of(pointer)
        )


def _nested_fields(value: Any) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """Every field below the top level of CreateTable/AddColumns params."""
    stack: list[tuple[tuple[str | int, ...], Any]] = []
    for i, action in enumerate(value.get("actions", [])):
        params = action.get("params", {})
        for j, f in enumerate(params.get("fields", []) or []):
            stack.append((("actions", i, "params", "fields", j), f))
        for j, c in enumerate(params.get("columns", []) or []):
            stack.append((("actions", i, "params", "columns", j, "field"), c.get("field")))
    while stack:
        pointer, item = stack.pop()
        if isinstance(item, dict):
            for k, sub in enumerate(item.get("fields", []) or []):
                here = (*pointer, "fields", k)
                yield here, sub
                stack.append((here, sub))


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def journal_path(plan_path: Path) -> Path:
    """Where apply writes the journal: next to the plan, `<plan stem>.journal.jsonl`."""
    return plan_path.with_name(f"{plan_path.stem}.journal.jsonl")
