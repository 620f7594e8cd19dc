"""Inventory snapshots: save what the sources collected, replay an audit from it offline.

`auditor snapshot` writes dump_snapshot's text; `--snapshot FILE` reads it back with
read_snapshot, and the checks see the very same Inventory. A snapshot holds every Inventory
field and nothing else (the inventory holds no secret values, so neither does a snapshot),
plus a small header: format version, tool, and when it was taken.

Loading parses with jsonpos (strict JSON, lines, depth and size limits), refuses a format
version it does not know, validates against the shipped JSON Schema
(schemas/formats/snapshot.schema.json) and only then builds the dataclasses. Every problem
is an InputError naming the file, the line and the JSON path of the offending value.

Field lists nest (RECORD columns), so a schema validation that followed them would recurse
once per level inside jsonschema. Instead the document is validated with field lists taken
as they are, and each field object is validated on its own while an explicit stack walks
them. The nesting is bounded twice over: MAX_JSON_DEPTH when parsing, and dump_snapshot
refuses an inventory whose file could not be read back.
"""

from __future__ import annotations

import copy
import difflib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from auditor import limits
from auditor.errors import AuditorError, InputError
from auditor.io.files import UnreadableFile, read_text_bounded
from auditor.io.jsonpos import Pointer, Positioned, parse_json
from auditor.io.jsonwords import did_you_mean, json_type, with_article
from auditor.model import (
    AccessEntry,
    Condition,
    ContentScan,
    CoverageGap,
    CustomRole,
    Dataset,
    DenyPolicy,
    DenyRule,
    Field,
    GranteeKind,
    GroupMembership,
    IamBinding,
    InputFile,
    Inventory,
    Location,
    Origin,
    Problem,
    ResourcePolicy,
    RoleStatus,
    Table,
    TableSchema,
    ValueHit,
)
from auditor.resources import format_schema

# 2: the IAM parts of the inventory (ancestry, IAM and deny policies, groups, custom roles).
# 3: the content scan (content_scans and value_hits: never a value, only where, how many,
#    a redacted prefix and a fingerprint).
# 4: role definitions carry a status and a detail (predefined roles the catalog lacks are
#    looked up; one that does not exist grants nothing, one whose lookup failed stays unknown).
SNAPSHOT_VERSION = 4
SCHEMA_NAME = "snapshot"
TOOL_NAME = "auditor"

# Refused before reading (loading speed and memory: see auditor.limits).
MAX_SNAPSHOT_BYTES = limits.MAX_SNAPSHOT_BYTES
MAX_JSON_DEPTH = limits.MAX_SNAPSHOT_DEPTH
# The object of a table sits 4 levels deep (document, inventory, table list, table); each
# field level adds an array and an object, and the deepest field's own arrays one more.
_TABLE_DEPTH = 4
MAX_FIELD_DEPTH = (MAX_JSON_DEPTH - _TABLE_DEPTH - 1) // 2  # 125; BigQuery allows 15

_TABLE_LISTS = ("templates", "sql_tables", "live_tables")
_FIELD_HOLDERS = ("tableSchema", "table", "field")  # schema $defs with a `fields` list


# ---------------------------------------------------------------------------- public API


def dump_snapshot(inventory: Inventory, *, created_at: datetime, tool_version: str) -> str:
    """The snapshot of inventory as JSON text: sorted keys, 1-space indent, ASCII only, a
    final newline; lists keep the inventory's order. The same input gives the same text.

    A naive created_at is taken to be UTC. Raises AuditorError when a field nests deeper
    than MAX_FIELD_DEPTH levels, because load_snapshot could not read such a file back.
    """
    _check_field_depth(inventory)
    document = {
        "snapshot_version": SNAPSHOT_VERSION,
        "tool": {"name": TOOL_NAME, "version": tool_version},
        "created_at": _iso_utc(created_at),
        "inventory": _inventory_json(inventory),
    }
    # ASCII only: any str survives the trip (even a lone surrogate) and no raw control
    # character reaches a terminal or a diff.
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=True) + "\n"


def load_snapshot(text: str, path: str) -> Inventory:
    """The Inventory in a snapshot's text. Raises InputError(path, message, line) when the
    text is not JSON, is nested too deep, has an unknown snapshot_version or does not match
    the snapshot schema; the message names the JSON path of the first problem.
    """
    return _load(text, path)[0]


def read_snapshot(path: Path) -> Inventory:
    """Read and load a snapshot file; InputError when it cannot be read or is invalid.

    The inventory's collected_at is the snapshot's created_at: a replay is evaluated as of
    the collection, so it gives the same answer whenever it runs."""
    name = str(path)
    try:  # strict UTF-8: the product writes snapshots without a BOM
        text = read_text_bounded(path, MAX_SNAPSHOT_BYTES, encoding="utf-8")
    except UnreadableFile as exc:
        raise InputError(name, exc.message, exc.line) from None
    inventory, created_at = _load(text, name)
    return replace(inventory, collected_at=created_at)


def _load(text: str, path: str) -> tuple[Inventory, datetime]:
    doc = parse_json(text, path, max_depth=MAX_JSON_DEPTH, max_bytes=MAX_SNAPSHOT_BYTES)
    _check_version(doc, path)
    problems = sorted(_schema_problems(doc), key=lambda p: p.line)
    if problems:
        first = problems[0]
        more = len(problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise InputError(path, first.message + suffix, first.line)
    created_at = _check_created_at(doc, path)
    return _inventory(doc.value["inventory"]), created_at


# ---------------------------------------------------------------------------- writing


def _inventory_json(inv: Inventory) -> dict[str, Any]:
    return {
        "root": inv.root,
        "templates": [_table_schema_json(t) for t in inv.templates],
        "sql_tables": [_table_schema_json(t) for t in inv.sql_tables],
        "problems": [_problem_json(p) for p in inv.problems],
        "gaps": [{"scope": g.scope, "reason": g.reason} for g in inv.gaps],
        "inputs": [{"path": i.path, "sha256": i.sha256} for i in inv.inputs],
        "project": inv.project,
        "datasets": [_dataset_json(d) for d in inv.datasets],
        "live_tables": [_table_json(t) for t in inv.live_tables],
        "ancestry": list(inv.ancestry),
        "iam_policies": [_resource_policy_json(p) for p in inv.iam_policies],
        "deny_policies": [_deny_policy_json(p) for p in inv.deny_policies],
        "group_memberships": [
            {"group": m.group, "member": m.member} for m in inv.group_memberships
        ],
        "custom_roles": [_custom_role_json(r) for r in inv.custom_roles],
        "content_scans": [
            {
                "table": s.table,
                "mode": s.mode,
                "rows_scanned": s.rows_scanned,
                "columns": list(s.columns),
            }
            for s in inv.content_scans
        ],
        "value_hits": [
            {
                "table": h.table,
                "column": h.column,
                "detector": h.detector,
                "rows": h.rows,
                "prefix": h.prefix,
                "fingerprint": h.fingerprint,
            }
            for h in inv.value_hits
        ],
    }


def _field_json(f: Field) -> dict[str, Any]:
    # Recursion is bounded: _check_field_depth ran first.
    return {
        "name": f.name,
        "type": f.type,
        "mode": f.mode,
        "description": f.description,
        "fields": [_field_json(sub) for sub in f.fields],
        "policy_tags": list(f.policy_tags),
        "line": f.line,
    }


def _table_schema_json(t: TableSchema) -> dict[str, Any]:
    return {
        "name": t.name,
        "fields": [_field_json(f) for f in t.fields],
        "origin": t.origin.value,
        "location": {"path": t.location.path, "line": t.location.line},
        "dataset": t.dataset,
    }


def _custom_role_json(r: CustomRole) -> dict[str, Any]:
    return {
        "name": r.name,
        "permissions": list(r.permissions),
        "status": r.status.value,
        "detail": r.detail,
    }


def _problem_json(p: Problem) -> dict[str, Any]:
    return {
        "path": p.path,
        "message": p.message,
        "line": p.line,
        "column": p.column,
        "unread": p.unread,
    }


def _condition_json(c: Condition | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"expression": c.expression, "title": c.title, "description": c.description}


def _dataset_json(d: Dataset) -> dict[str, Any]:
    return {
        "project": d.project,
        "dataset_id": d.dataset_id,
        "location": d.location,
        "labels": dict(d.labels),
        "description": d.description,
        "access": [
            {
                "kind": a.kind.value,
                "entity": a.entity,
                "role": a.role,
                "target_types": list(a.target_types),
                "condition": _condition_json(a.condition),
            }
            for a in d.access
        ],
        "default_kms_key": d.default_kms_key,
        "etag": d.etag,
    }


def _binding_json(b: IamBinding) -> dict[str, Any]:
    return {"role": b.role, "members": list(b.members), "condition": _condition_json(b.condition)}


def _resource_policy_json(p: ResourcePolicy) -> dict[str, Any]:
    return {
        "resource": p.resource,
        "bindings": [_binding_json(b) for b in p.bindings],
        "etag": p.etag,
    }


def _deny_policy_json(p: DenyPolicy) -> dict[str, Any]:
    return {
        "attachment": p.attachment,
        "name": p.name,
        "rules": [
            {
                "denied_principals": list(r.denied_principals),
                "denied_permissions": list(r.denied_permissions),
                "exception_principals": list(r.exception_principals),
                "exception_permissions": list(r.exception_permissions),
                "condition": _condition_json(r.condition),
            }
            for r in p.rules
        ],
    }


def _table_json(t: Table) -> dict[str, Any]:
    iam = None if t.iam is None else [_binding_json(b) for b in t.iam]
    return {
        "project": t.project,
        "dataset_id": t.dataset_id,
        "table_id": t.table_id,
        "type": t.type,
        "fields": [_field_json(f) for f in t.fields],
        "view_query": t.view_query,
        "kms_key": t.kms_key,
        "labels": dict(t.labels),
        "description": t.description,
        "iam": iam,
    }


def _check_field_depth(inv: Inventory) -> None:
    """AuditorError if a field nests deeper than load_snapshot accepts (an explicit stack,
    so even an absurdly deep inventory cannot exhaust Python's)."""
    tables = [(str(t.location), t.fields) for t in (*inv.templates, *inv.sql_tables)]
    tables += [(t.resource, t.fields) for t in inv.live_tables]
    for table, fields in tables:
        stack: list[tuple[int, tuple[Field, ...]]] = [(1, fields)]
        while stack:
            level, items = stack.pop()
            for f in items:
                if level > MAX_FIELD_DEPTH:
                    raise AuditorError(
                        f"{table}: field {f.name!r} is nested {level} levels deep, more than"
                        f" the {MAX_FIELD_DEPTH} a snapshot can hold"
                    )
                if f.fields:
                    stack.append((level + 1, f.fields))


def _iso_utc(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


# ---------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class _SchemaProblem:
    line: int
    message: str


def _check_version(doc: Positioned, path: str) -> None:
    """Refuse an unknown version before the schema, whose other rules it may change."""
    value = doc.value
    if not isinstance(value, dict) or "snapshot_version" not in value:
        return  # the schema says what is wrong
    version = value["snapshot_version"]
    if type(version) is not int or version != SNAPSHOT_VERSION:
        raise InputError(
            path,
            f"unsupported snapshot_version {_shown(version)}; this auditor reads"
            f" snapshot_version {SNAPSHOT_VERSION} (take a new snapshot with this version)",
            doc.line_of(("snapshot_version",)),
        )


def _check_created_at(doc: Positioned, path: str) -> datetime:
    """The schema checks the shape of created_at; this checks that it is a real time."""
    value = doc.value["created_at"]
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError:
        line = doc.line_of(("created_at",))
        raise InputError(path, f"created_at: {value!r} is not a valid time", line) from None


@lru_cache(maxsize=1)
def _validators() -> tuple[Draft202012Validator, Draft202012Validator]:
    """(document validator, field validator), from the shipped schema on first use.

    In both, the items of every field list are accepted as they are: _schema_problems walks
    the field lists itself and validates each field with the field validator.
    """
    with format_schema(SCHEMA_NAME).open(encoding="utf-8") as handle:
        schema = json.load(handle)
    defs = copy.deepcopy(schema["$defs"])
    for name in _FIELD_HOLDERS:
        defs[name]["properties"]["fields"]["items"] = True
    dialect = schema["$schema"]
    shallow = {k: v for k, v in schema.items() if k != "$id"} | {"$defs": defs}
    field = {**defs["field"], "$schema": dialect, "$defs": defs}
    Draft202012Validator.check_schema(shallow)
    Draft202012Validator.check_schema(field)
    return Draft202012Validator(shallow), Draft202012Validator(field)


def _schema_problems(doc: Positioned) -> list[_SchemaProblem]:
    """Every schema problem once (jsonschema reports each missing key with the whole list of
    required keys), in the order found."""
    document, field = _validators()
    found: dict[_SchemaProblem, None] = {}
    for error in document.iter_errors(doc.value):
        found.update(dict.fromkeys(_explain(error, tuple(error.absolute_path), doc)))
    for pointer, item in _field_nodes(doc.value):
        for error in field.iter_errors(item):
            found.update(dict.fromkeys(_explain(error, (*pointer, *error.absolute_path), doc)))
    return list(found)


def _field_nodes(value: Any) -> Iterator[tuple[Pointer, Any]]:
    """(pointer, item) of every item of every field list, at any depth, whatever it is."""
    inventory = value.get("inventory") if isinstance(value, dict) else None
    if not isinstance(inventory, dict):
        return
    stack: list[tuple[Pointer, list[Any]]] = []
    for key in _TABLE_LISTS:
        tables = inventory.get(key)
        for index, table in enumerate(tables if isinstance(tables, list) else ()):
            if isinstance(table, dict) and isinstance(table.get("fields"), list):
                stack.append((("inventory", key, index, "fields"), table["fields"]))
    while stack:
        pointer, items = stack.pop()
        for index, item in enumerate(items):
            here = (*pointer, index)
            yield here, item
            if isinstance(item, dict) and isinstance(item.get("fields"), list):
                stack.append(((*here, "fields"), item["fields"]))


def _explain(error: ValidationError, pointer: Pointer, doc: Positioned) -> Iterator[_SchemaProblem]:
    where = _dotted(pointer)
    line = doc.line_of(pointer) or 1
    schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
    expected: Any = error.validator_value
    instance = error.instance
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = list(schema.get("properties", {}))
        for key in instance:
            if key not in known:
                message = f"{where}: unknown key {key!r}{did_you_mean(key, known)}"
                yield _SchemaProblem(doc.line_of((*pointer, key)) or line, message)
    elif error.validator == "required" and isinstance(instance, dict):
        misspelt = _misspelt(instance, schema)
        for key in expected:
            if key not in instance and key not in misspelt:
                yield _SchemaProblem(line, f"{where}: missing required key {key!r}")
    elif error.validator == "type":
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(with_article(name) for name in names)
        yield _SchemaProblem(line, f"{where}: expected {wanted}, got {_shown(instance)}")
    elif error.validator == "enum":
        allowed = ", ".join(map(str, expected))
        yield _SchemaProblem(line, f"{where}: expected one of {allowed}, got {_shown(instance)}")
    elif error.validator == "const":
        yield _SchemaProblem(line, f"{where}: expected {_shown(expected)}, got {_shown(instance)}")
    elif error.validator == "pattern":
        wanted = schema.get("title", f"a string matching {expected}")
        yield _SchemaProblem(line, f"{where}: expected {wanted}, got {_shown(instance)}")
    else:  # pragma: no cover - the schema uses only the keywords above
        yield _SchemaProblem(line, f"{where}: {error.message}")


def _dotted(pointer: Sequence[str | int]) -> str:
    """("inventory", "datasets", 0, "access") -> inventory.datasets[0].access."""
    text = ""
    for part in pointer:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text or "(top level)"


def _misspelt(instance: Mapping[str, Any], schema: Mapping[str, Any]) -> set[str]:
    """Known keys that an unknown key of instance seems to misspell: already reported."""
    known = list(schema.get("properties", {}))
    unknown = [key for key in instance if key not in known]
    return {m for key in unknown for m in difflib.get_close_matches(key, known, n=1, cutoff=0.6)}


def _shown(value: Any) -> str:
    """A JSON value for a message: scalars shown (shortened), containers only named."""
    if isinstance(value, list | dict) or value is None:
        return with_article(json_type(value))
    if isinstance(value, bool):
        return f"boolean {'true' if value else 'false'}"
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) > 40:
        text = text[:37] + "..."
    return f"{json_type(value)} {text}"


# ---------------------------------------------------------------------------- building
# The document matched the schema, so every key is there with its JSON type.


def _inventory(data: Mapping[str, Any]) -> Inventory:
    return Inventory(
        root=data["root"],
        templates=tuple(_table_schema(t) for t in data["templates"]),
        sql_tables=tuple(_table_schema(t) for t in data["sql_tables"]),
        problems=tuple(_problem(p) for p in data["problems"]),
        gaps=tuple(CoverageGap(g["scope"], g["reason"]) for g in data["gaps"]),
        inputs=tuple(InputFile(i["path"], i["sha256"]) for i in data["inputs"]),
        project=data["project"],
        datasets=tuple(_dataset(d) for d in data["datasets"]),
        live_tables=tuple(_table(t) for t in data["live_tables"]),
        ancestry=tuple(data["ancestry"]),
        iam_policies=tuple(_resource_policy(p) for p in data["iam_policies"]),
        deny_policies=tuple(_deny_policy(p) for p in data["deny_policies"]),
        group_memberships=tuple(
            GroupMembership(m["group"], m["member"]) for m in data["group_memberships"]
        ),
        custom_roles=tuple(
            CustomRole(
                r["name"],
                tuple(r["permissions"]),
                RoleStatus(r["status"]),
                r["detail"],
            )
            for r in data["custom_roles"]
        ),
        content_scans=tuple(
            ContentScan(s["table"], s["mode"], int(s["rows_scanned"]), tuple(s["columns"]))
            for s in data["content_scans"]
        ),
        value_hits=tuple(
            ValueHit(
                h["table"],
                h["column"],
                h["detector"],
                int(h["rows"]),
                h["prefix"],
                h["fingerprint"],
            )
            for h in data["value_hits"]
        ),
    )


def _int(value: Any) -> int | None:
    # JSON Schema counts 3.0 as an integer; the model wants an int.
    return None if value is None else int(value)


def _fields(items: Sequence[Mapping[str, Any]]) -> tuple[Field, ...]:
    # Recursion is bounded: parse_json allows MAX_JSON_DEPTH, so MAX_FIELD_DEPTH levels.
    return tuple(
        Field(
            name=f["name"],
            type=f["type"],
            mode=f["mode"],
            description=f["description"],
            fields=_fields(f["fields"]),
            policy_tags=tuple(f["policy_tags"]),
            line=_int(f["line"]),
        )
        for f in items
    )


def _table_schema(data: Mapping[str, Any]) -> TableSchema:
    location = data["location"]
    return TableSchema(
        name=data["name"],
        fields=_fields(data["fields"]),
        origin=Origin(data["origin"]),
        location=Location(location["path"], _int(location["line"])),
        dataset=data["dataset"],
    )


def _problem(data: Mapping[str, Any]) -> Problem:
    return Problem(
        path=data["path"],
        message=data["message"],
        line=_int(data["line"]),
        column=data["column"],
        unread=data["unread"],
    )


def _condition(data: Mapping[str, Any] | None) -> Condition | None:
    if data is None:
        return None
    return Condition(data["expression"], data["title"], data["description"])


def _dataset(data: Mapping[str, Any]) -> Dataset:
    return Dataset(
        project=data["project"],
        dataset_id=data["dataset_id"],
        location=data["location"],
        labels=dict(data["labels"]),
        description=data["description"],
        access=tuple(
            AccessEntry(
                kind=GranteeKind(a["kind"]),
                entity=a["entity"],
                role=a["role"],
                target_types=tuple(a["target_types"]),
                condition=_condition(a["condition"]),
            )
            for a in data["access"]
        ),
        default_kms_key=data["default_kms_key"],
        etag=data["etag"],
    )


def _binding(data: Mapping[str, Any]) -> IamBinding:
    return IamBinding(data["role"], tuple(data["members"]), _condition(data["condition"]))


def _resource_policy(data: Mapping[str, Any]) -> ResourcePolicy:
    return ResourcePolicy(
        resource=data["resource"],
        bindings=tuple(_binding(b) for b in data["bindings"]),
        etag=data["etag"],
    )


def _deny_policy(data: Mapping[str, Any]) -> DenyPolicy:
    return DenyPolicy(
        attachment=data["attachment"],
        name=data["name"],
        rules=tuple(
            DenyRule(
                denied_principals=tuple(r["denied_principals"]),
                denied_permissions=tuple(r["denied_permissions"]),
                exception_principals=tuple(r["exception_principals"]),
                exception_permissions=tuple(r["exception_permissions"]),
                condition=_condition(r["condition"]),
            )
            for r in data["rules"]
        ),
    )


def _table(data: Mapping[str, Any]) -> Table:
    iam = data["iam"]
    return Table(
        project=data["project"],
        dataset_id=data["dataset_id"],
        table_id=data["table_id"],
        type=data["type"],
        fields=_fields(data["fields"]),
        view_query=data["view_query"],
        kms_key=data["kms_key"],
        labels=dict(data["labels"]),
        description=data["description"],
        iam=None if iam is None else tuple(_binding(b) for b in iam),
    )
