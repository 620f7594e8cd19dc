"""Read a snapshot: text -> checked document -> the Inventory it holds.

Parsing uses jsonpos (strict JSON, lines, depth and size limits); the checks
(`auditor.sources.snapshot.checks`) refuse an unknown format version, validate against the
shipped schema and check created_at; only then are the dataclasses built. Every problem
is an InputError naming the file, the line and the JSON path of the offending value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from auditor.errors import InputError
from auditor.io.files import UnreadableFile, read_text_bounded
from auditor.io.jsonpos import parse_json
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
from auditor.sources.snapshot.checks import check_created_at, check_version, schema_problems
from auditor.sources.snapshot.format import MAX_JSON_DEPTH, MAX_SNAPSHOT_BYTES


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
    check_version(doc, path)
    problems = sorted(schema_problems(doc), key=lambda p: p.line)
    if problems:
        first = problems[0]
        more = len(problems) - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise InputError(path, first.message + suffix, first.line)
    created_at = check_created_at(doc, path)
    return _inventory(doc.value["inventory"]), created_at


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
