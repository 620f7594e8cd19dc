"""Live metadata without the secrets people paste into it.

Descriptions, view SQL and label values are free text the auditor reads but does not judge;
they go into inventories, snapshots, reports and history. A credential someone put there
(a DSN in a dataset description, a token in a view's string literal, `deploy_token: ...` as
a label) would travel on with them, so every secret the detector catalog recognises is
replaced by its redacted form (`detect.values.redact_secrets`) as the live estate is
collected, and so is every coverage gap's reason (servers quote what they choked on). A
label is read as `key=value`, so a high-entropy value under a secret-like key is caught too.

Only the audit's copy is scrubbed: the applier reads objects afresh and writes back what it
read, never this text. Its journal keeps a scrubbed copy of what it read
(`scrub_labels`, `scrub_api_fields`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from auditor.detect.redact import redact
from auditor.detect.values import redact_secrets, scan_value
from auditor.model import Dataset, Field, Inventory, Table

__all__ = [
    "scrub_api_fields",
    "scrub_dataset",
    "scrub_inventory",
    "scrub_labels",
    "scrub_table",
]


def scrub_inventory(inventory: Inventory) -> Inventory:
    """The live parts of `inventory`, and every coverage gap's reason (a server's error
    message may quote what it read), scrubbed."""
    return replace(
        inventory,
        datasets=tuple(scrub_dataset(d) for d in inventory.datasets),
        live_tables=tuple(scrub_table(t) for t in inventory.live_tables),
        gaps=tuple(replace(g, reason=redact_secrets(g.reason)) for g in inventory.gaps),
    )


def scrub_dataset(dataset: Dataset) -> Dataset:
    return _changed(
        dataset, description=_text(dataset.description), labels=scrub_labels(dataset.labels)
    )


def scrub_table(table: Table) -> Table:
    return _changed(
        table,
        description=_text(table.description),
        view_query=_text(table.view_query),
        labels=scrub_labels(table.labels),
        fields=_fields(table.fields),
    )


def _fields(fields: tuple[Field, ...]) -> tuple[Field, ...]:
    scrubbed = tuple(
        _changed(f, description=_text(f.description), fields=_fields(f.fields)) for f in fields
    )
    return fields if scrubbed == fields else scrubbed


_T = TypeVar("_T", Dataset, Table, Field)


def _changed(item: _T, **values: Any) -> _T:
    """`item` itself when nothing differs: a large estate is not copied for nothing."""
    if all(getattr(item, k) == v for k, v in values.items()):
        return item
    return replace(item, **values)


def _text(text: str | None) -> str | None:
    return None if text is None else redact_secrets(text)


def scrub_labels(labels: Mapping[str, str]) -> dict[str, str]:
    return {key: _label_value(key, value) for key, value in labels.items()}


def scrub_api_fields(fields: Sequence[Any]) -> list[Any]:
    """Schema fields in the API's form (dicts) with their descriptions scrubbed."""
    out = []
    for f in fields:
        if isinstance(f, Mapping):
            f = dict(f)
            if isinstance(f.get("description"), str):
                f["description"] = redact_secrets(f["description"])
            if isinstance(f.get("fields"), list):
                f["fields"] = scrub_api_fields(f["fields"])
        out.append(f)
    return out


def _label_value(key: str, value: str) -> str:
    # Any match reaching into the value: the value is (part of) a secret.
    if any(m.end > len(key) + 1 for m in scan_value(f"{key}={value}", max_chars=1024)):
        return redact(value)
    return value
