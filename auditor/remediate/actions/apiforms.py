"""Model objects in the BigQuery API's JSON form, and back (access entries, fields)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from auditor.model import AccessEntry, Field, GranteeKind

_LEGACY_ROLE = {
    "roles/bigquery.dataOwner": "OWNER",
    "roles/bigquery.dataEditor": "WRITER",
    "roles/bigquery.dataViewer": "READER",
}
_REF_KINDS = (GranteeKind.VIEW, GranteeKind.ROUTINE, GranteeKind.DATASET)


def entry_to_api(entry: AccessEntry) -> dict[str, Any]:
    """A model access entry in the datasets API's form (basic roles in their legacy names)."""
    out: dict[str, Any] = {}
    if entry.kind in _REF_KINDS:
        parts = entry.entity.split("/")
        ref: dict[str, Any] = {"projectId": parts[1], "datasetId": parts[3]}
        if entry.kind is GranteeKind.DATASET:
            out["dataset"] = {"dataset": ref, "targetTypes": list(entry.target_types)}
        else:
            ref["tableId" if entry.kind is GranteeKind.VIEW else "routineId"] = parts[5]
            out[entry.kind.value] = ref
    else:
        out[entry.kind.value] = entry.entity
    if entry.role is not None:
        out["role"] = _LEGACY_ROLE.get(entry.role, entry.role)
    if entry.condition is not None:
        condition = {"expression": entry.condition.expression}
        if entry.condition.title:
            condition["title"] = entry.condition.title
        if entry.condition.description:
            condition["description"] = entry.condition.description
        out["condition"] = condition
    return out


def field_to_api(f: Field) -> dict[str, Any]:
    out: dict[str, Any] = {"name": f.name, "type": f.type, "mode": f.mode.upper()}
    if f.description:
        out["description"] = f.description
    if f.policy_tags:
        out["policyTags"] = {"names": list(f.policy_tags)}
    if f.fields:
        out["fields"] = [field_to_api(sub) for sub in f.fields]
    return out


def field_from_api(raw: Mapping[str, Any]) -> Field:
    tags = raw.get("policyTags", {}).get("names", [])
    return Field(
        name=str(raw["name"]),
        type=str(raw["type"]),
        mode=str(raw.get("mode") or "NULLABLE").upper(),
        description=raw.get("description"),
        fields=tuple(field_from_api(sub) for sub in raw.get("fields", ())),
        policy_tags=tuple(tags),
    )


def entry_from_api(raw: Mapping[str, Any]) -> AccessEntry:
    # The source's parser: the same normalisation the inventory went through.
    from auditor.sources.bqconvert import access_entry_from_api

    return access_entry_from_api(raw)


def add_api_field(
    fields: list[dict[str, Any]], parent: str | None, new: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The same on API field dicts (what the applier sends), keeping every other key."""
    if parent is None:
        if any(str(f.get("name", "")).lower() == str(new["name"]).lower() for f in fields):
            return fields
        return [*fields, dict(new)]
    head, _, rest = parent.partition(".")
    out = []
    for f in fields:
        if str(f.get("name", "")).lower() == head.lower():
            f = {**f, "fields": add_api_field(list(f.get("fields", [])), rest or None, new)}
        out.append(f)
    return out
