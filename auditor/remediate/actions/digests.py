"""State digests: the content preconditions of a plan where an etag is not available.

What the plan saw of a dataset (ACL, labels, key, location, description), a table (type,
names, types and modes of its fields, key) and an IAM policy, hashed the same way on both
sides: the planner over the inventory, the applier over its fresh read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from auditor.detect.values import redact_secrets
from auditor.model import AccessEntry, Dataset, Field, IamBinding, Table, walk_fields
from auditor.sources.scrub import scrub_labels


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def entry_key(entry: AccessEntry) -> dict[str, Any]:
    """An access entry as plain data (normalised role), for digests and comparisons."""
    out: dict[str, Any] = {"kind": entry.kind.value, "entity": entry.entity, "role": entry.role}
    if entry.target_types:
        out["target_types"] = list(entry.target_types)
    if entry.condition is not None:
        out["condition"] = entry.condition.expression
    return out


def dataset_digest(ds: Dataset) -> str:
    """What the plan saw of a dataset: ACL (order-insensitive), labels, key, location,
    description. The etag, when the engine gives one, is the stronger precondition."""
    return _digest(
        {
            "access": sorted((entry_key(e) for e in ds.access), key=sort_key),
            # As the audit saw them (auditor.sources.scrub): a plan made from a collected
            # inventory matches the applier's fresh read of the same dataset.
            "labels": scrub_labels(ds.labels),
            "default_kms_key": ds.default_kms_key,
            "location": (ds.location or "").upper(),
            "description": redact_secrets(ds.description) if ds.description else ds.description,
        }
    )


def fields_key(fields: tuple[Field, ...]) -> list[list[str]]:
    # Names, standard types and modes: what every source (API, INFORMATION_SCHEMA, snapshot)
    # reports identically. Descriptions and policy tags are left out on purpose.
    return [[p.lower(), f.canonical_type, f.mode.upper()] for p, f in walk_fields(fields)]


def table_digest(table: Table) -> str:
    return _digest(
        {"type": table.type, "fields": fields_key(table.fields), "kms_key": table.kms_key}
    )


def iam_digest(bindings: Iterable[IamBinding]) -> str:
    return _digest(
        sorted(
            (
                [b.role, b.condition.expression if b.condition else "", sorted(b.members)]
                for b in bindings
            ),
            key=sort_key,
        )
    )


def sort_key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)
