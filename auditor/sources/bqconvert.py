"""Conversion of BigQuery REST answers (datasets.get, tables.get, getIamPolicy) into model
objects. Each function fails closed: an answer without the shape it must have raises
Malformed naming what is wrong, and nothing here does I/O.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from auditor.model import (
    AccessEntry,
    Condition,
    Dataset,
    Field,
    GranteeKind,
    IamBinding,
    Table,
    canonical_type,
)
from auditor.sources.infoschema import Malformed

# ----------------------------------------------------------------------------- conversion

LEGACY_ROLES: Mapping[str, str] = {
    "OWNER": "roles/bigquery.dataOwner",
    "WRITER": "roles/bigquery.dataEditor",
    "READER": "roles/bigquery.dataViewer",
}
_GRANTEES = {kind.value: kind for kind in GranteeKind}
_ENTRY_KEYS = frozenset({*_GRANTEES, "role", "condition"})
_TABLE_ID_RE = re.compile(r"[^\x00-\x1f\x7f/`\\]{1,1024}")
MODES = frozenset({"NULLABLE", "REQUIRED", "REPEATED"})
MAX_FIELD_DEPTH = 16
# Distinct schemas whose Fields are shared across tables (schema_fields), and the longest
# schema text shared: bigger schemas are rare, and their text would fill the cache.
SHARED_SCHEMAS = 1024
SHARED_SCHEMA_TEXT = 64 * 1024


def dataset_from_api(
    raw: Mapping[str, Any], project: str, dataset_id: str
) -> tuple[Dataset, list[str]]:
    """A Dataset from a datasets.get answer, and the problems of entries left out."""
    _check_mapping(raw, "dataset")
    access: list[AccessEntry] = []
    problems: list[str] = []
    entries = raw.get("access") or []
    if not isinstance(entries, list):
        raise Malformed("access is not a list")
    for index, entry in enumerate(entries):
        try:
            access.append(access_entry_from_api(entry))
        except Malformed as exc:
            problems.append(f"access entry #{index + 1} left out: {exc}")
    encryption = _optional_mapping(raw, "defaultEncryptionConfiguration")
    return (
        Dataset(
            project=project,
            dataset_id=dataset_id,
            location=_optional_str(raw, "location"),
            labels=_labels(raw),
            description=_optional_str(raw, "description"),
            access=tuple(access),
            default_kms_key=_optional_str(encryption, "kmsKeyName"),
            etag=_optional_str(raw, "etag"),
        ),
        problems,
    )


def access_entry_from_api(raw: Any) -> AccessEntry:
    """One dataset access entry, role normalised, authorized objects as resource paths."""
    _check_mapping(raw, "access entry")
    unknown = sorted(set(raw) - _ENTRY_KEYS)
    if unknown:
        raise Malformed(f"unknown field {unknown[0]!r}")
    grantees = [key for key in raw if key in _GRANTEES]
    if len(grantees) != 1:
        raise Malformed(f"{len(grantees)} grantees instead of one")
    kind = _GRANTEES[grantees[0]]
    value = raw[kind.value]
    role = _optional_str(raw, "role")
    condition = _condition(raw.get("condition"))
    target_types: tuple[str, ...] = ()
    if kind is GranteeKind.VIEW:
        entity = _ref_path(value, "tableId", "tables")
    elif kind is GranteeKind.ROUTINE:
        entity = _ref_path(value, "routineId", "routines")
    elif kind is GranteeKind.DATASET:
        _check_mapping(value, "dataset entry")
        if value.get("dataset") is None:
            raise Malformed("dataset entry without a dataset reference")
        entity = _ref_path(value["dataset"], None, None)
        types = value.get("targetTypes") or []
        if not isinstance(types, list) or not all(isinstance(t, str) and t for t in types):
            raise Malformed("targetTypes is not a list of names")
        target_types = tuple(types)
    else:
        if not isinstance(value, str) or not value:
            raise Malformed(f"{kind.value} is empty")
        entity = value
    return AccessEntry(
        kind=kind,
        entity=entity,
        role=LEGACY_ROLES.get(role, role) if role is not None else None,
        target_types=target_types,
        condition=condition,
    )


def _ref_path(value: Any, leaf_key: str | None, leaf_kind: str | None) -> str:
    _check_mapping(value, "reference")
    parts = [value.get("projectId"), value.get("datasetId")]
    if leaf_key is not None:
        parts.append(value.get(leaf_key))
    if not all(isinstance(p, str) and p and "/" not in p for p in parts):
        raise Malformed("reference with an empty or invalid projectId/datasetId/id")
    path = f"projects/{parts[0]}/datasets/{parts[1]}"
    return f"{path}/{leaf_kind}/{parts[2]}" if leaf_kind else path


def _condition(raw: Any) -> Condition | None:
    if raw is None:
        return None
    _check_mapping(raw, "condition")
    expression = raw.get("expression")
    if not isinstance(expression, str) or not expression:
        raise Malformed("condition without an expression")
    return Condition(
        expression=expression,
        title=_optional_str(raw, "title"),
        description=_optional_str(raw, "description"),
    )


def listed_tables(items: Sequence[Any]) -> dict[str, str]:
    tables: dict[str, str] = {}
    for item in items:
        table_id, table_type = getattr(item, "table_id", None), getattr(item, "table_type", None)
        if not isinstance(table_id, str) or _TABLE_ID_RE.fullmatch(table_id) is None:
            raise Malformed(f"tables.list gave the table id {table_id!r}")
        if not isinstance(table_type, str) or not table_type:
            raise Malformed(f"tables.list gave no type for {table_id}")
        tables[table_id] = table_type
    return tables


def table_from_api(raw: Mapping[str, Any], project: str, dataset_id: str, table_id: str) -> Table:
    """A Table (iam None) from a tables.get answer; Malformed when it lacks what it needs."""
    _check_mapping(raw, "table")
    table_type = raw.get("type")
    if not isinstance(table_type, str) or not table_type:
        raise Malformed("table without a type")
    schema = _optional_mapping(raw, "schema")
    view_query: str | None = None
    for kind, key in (("VIEW", "view"), ("MATERIALIZED_VIEW", "materializedView")):
        definition = _optional_mapping(raw, key)
        query = _optional_str(definition, "query")
        if table_type == kind and query is None:
            raise Malformed(f"{kind.lower().replace('_', ' ')} without a query")
        view_query = view_query or query
    return Table(
        project=project,
        dataset_id=dataset_id,
        table_id=table_id,
        type=table_type,
        fields=schema_fields(schema.get("fields")),
        view_query=view_query,
        kms_key=_optional_str(_optional_mapping(raw, "encryptionConfiguration"), "kmsKeyName"),
        labels=_labels(raw),
        description=_optional_str(raw, "description"),
    )


def schema_fields(raw: Any) -> tuple[Field, ...]:
    """fields_from_api(raw, 1), built once per distinct schema of up to SHARED_SCHEMA_TEXT
    characters: a multi-tenant estate repeats the same few schemas in every tenant, so the
    frozen Fields are shared instead of rebuilt (and kept) per table."""
    if raw is None:
        return ()
    text = json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
    if len(text) > SHARED_SCHEMA_TEXT:
        return fields_from_api(raw, 1)
    return _shared_fields(text)


@lru_cache(maxsize=SHARED_SCHEMAS)
def _shared_fields(text: str) -> tuple[Field, ...]:
    return fields_from_api(json.loads(text), 1)


def fields_from_api(raw: Any, depth: int) -> tuple[Field, ...]:
    """Schema fields, types in canonical standard SQL spelling (INTEGER -> INT64)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise Malformed("schema fields are not a list")
    if depth > MAX_FIELD_DEPTH:
        raise Malformed("schema nested too deeply")
    fields: list[Field] = []
    for item in raw:
        _check_mapping(item, "schema field")
        name, type_name = item.get("name"), item.get("type")
        if not isinstance(name, str) or not name or not isinstance(type_name, str):
            raise Malformed("schema field without a name or type")
        mode = item.get("mode") or "NULLABLE"
        if mode not in MODES:
            raise Malformed(f"field {name} has mode {mode!r}")
        tags = _optional_mapping(item, "policyTags").get("names") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
            raise Malformed(f"field {name} has unreadable policy tags")
        fields.append(
            Field(
                # Interned: thousands of tenant tables repeat the same few schemas, and
                # each answer would otherwise keep its own copy of every name and text.
                name=sys.intern(name),
                type=canonical_type(type_name),
                mode=sys.intern(mode),
                description=_interned(_optional_str(item, "description")),
                fields=fields_from_api(item.get("fields"), depth + 1),
                policy_tags=tuple(tags),
            )
        )
    return tuple(fields)


def _interned(text: str | None) -> str | None:
    return None if text is None else sys.intern(text)


def iam_from_api(raw: Any) -> tuple[IamBinding, ...]:
    """Table IAM bindings, members sorted and bindings in a fixed order."""
    _check_mapping(raw, "IAM policy")
    bindings = raw.get("bindings") or []
    if not isinstance(bindings, list):
        raise Malformed("IAM bindings are not a list")
    out: list[IamBinding] = []
    for binding in bindings:
        _check_mapping(binding, "IAM binding")
        role, members = binding.get("role"), binding.get("members") or []
        if not isinstance(role, str) or not role:
            raise Malformed("IAM binding without a role")
        if not isinstance(members, list) or not all(isinstance(m, str) and m for m in members):
            raise Malformed(f"IAM binding for {role} has unreadable members")
        out.append(IamBinding(role, tuple(sorted(members)), _condition(binding.get("condition"))))
    return tuple(sorted(out, key=_binding_order))


def _binding_order(binding: IamBinding) -> tuple[str, str, tuple[str, ...]]:
    condition = binding.condition.expression if binding.condition else ""
    return binding.role, condition, binding.members


def _check_mapping(value: Any, what: str) -> None:
    if not isinstance(value, Mapping):
        raise Malformed(f"{what} is not an object")


def _optional_mapping(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    _check_mapping(value, key)
    return value  # type: ignore[no-any-return]


def _optional_str(raw: Mapping[str, Any], key: str) -> str | None:
    """A string field; absent and empty are both None."""
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Malformed(f"{key} is not a string")
    return value


def _labels(raw: Mapping[str, Any]) -> dict[str, str]:
    labels = _optional_mapping(raw, "labels")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise Malformed("labels are not strings")
    return dict(labels)
