"""A synthetic telemetry table as large as one Mozilla deploys, for BigQuery's column limit.

Models the layout of Firefox for Android's `metrics` ping table (mozilla-services/
mozilla-pipeline-schemas, branch `generated-schemas`, commit
19c97f5cd31cffddb9074782ac69c31fb5170ff4, `schemas/org-mozilla-fenix/metrics/metrics.1.bq`;
deployed as `org_mozilla_fenix_stable.metrics_v1`): 9,220 leaf fields, 12,004 fields counting
its 2,784 RECORD columns, nested 6 levels deep. Those counts are the facts kept; the names and
the mix of metric shapes below are ours.
"""

from __future__ import annotations

from typing import Any

LEAVES = 9_220
FIELDS = 12_004
DEPTH = 6

Field = dict[str, Any]


def _leaf(name: str, type_: str, mode: str = "NULLABLE") -> Field:
    return {"name": name, "type": type_, "mode": mode}


def _record(name: str, fields: list[Field], mode: str = "NULLABLE") -> Field:
    return {"name": name, "type": "RECORD", "mode": mode, "fields": fields}


def _key_value(name: str, value: Field, mode: str = "REPEATED") -> Field:
    return _record(name, [_leaf("key", "STRING"), value], mode)


def _ratio(name: str) -> Field:
    return _record(name, [_leaf("numerator", "INT64"), _leaf("denominator", "INT64")])


def _histogram(name: str) -> Field:
    """Two RECORDs, five leaves: a distribution with its buckets."""
    return _record(
        name,
        [
            _leaf("count", "INT64"),
            _leaf("sum", "INT64"),
            _leaf("range", "FLOAT64", "REPEATED"),
            _key_value("values", _leaf("value", "INT64")),
        ],
    )


def _labeled_histogram(name: str) -> Field:
    """Three RECORDs, five leaves, three levels below the metric: the deepest shape."""
    inner = _record(
        "value",
        [
            _leaf("count", "INT64"),
            _leaf("sum", "INT64"),
            _key_value("values", _leaf("value", "INT64")),
        ],
    )
    return _key_value(name, inner)


# (group, how many metrics, how one is built): counts chosen so that the table has the
# upstream leaf and field totals.
_GROUPS: tuple[tuple[str, int, Any], ...] = (
    ("flag", 400, lambda n: _leaf(n, "BOOL")),
    ("count", 2_000, lambda n: _leaf(n, "INT64")),
    ("text", 883, lambda n: _leaf(n, "STRING")),
    ("labeled_count", 1_500, lambda n: _key_value(n, _leaf("value", "INT64"))),
    ("ratio", 73, _ratio),
    ("distribution", 450, _histogram),
    ("labeled_distribution", 100, _labeled_histogram),
)  # fmt: skip


def telemetry_fields() -> list[Field]:
    """The table's field list (BigQuery's JSON schema form)."""
    metrics = [
        _record(group, [build(f"{group}_{i:04d}") for i in range(count)])
        for group, count, build in _GROUPS
    ]
    client = [_leaf(f"client_attribute_{i:02d}", "STRING") for i in range(20)]
    ping = [_leaf(f"ping_attribute_{i}", "STRING") for i in range(7)]
    events = [
        _leaf("category", "STRING"),
        _leaf("name", "STRING"),
        _leaf("timestamp", "INT64"),
        _leaf("extra", "STRING"),
        _leaf("sequence", "INT64"),
    ]
    return [
        _leaf("document_id", "STRING"),
        _leaf("submission_timestamp", "TIMESTAMP"),
        _leaf("sample_id", "INT64"),
        *(_leaf(n, "STRING") for n in ("app_name", "channel", "country", "os", "os_version")),
        _leaf("additional_properties", "STRING"),
        _record("client_info", client),
        _record("ping_info", ping),
        _record("events", events, "REPEATED"),
        _record("metrics", metrics),
    ]


def shape(fields: list[Field], depth: int = 1) -> tuple[int, int, int]:
    """(leaf fields, all fields, deepest level) of a field list."""
    leaves = total = 0
    deepest = depth if fields else 0
    for field in fields:
        total += 1
        if field.get("fields"):
            sub_leaves, sub_total, sub_depth = shape(field["fields"], depth + 1)
            leaves, total, deepest = leaves + sub_leaves, total + sub_total, max(deepest, sub_depth)
        else:
            leaves += 1
    return leaves, total, deepest
