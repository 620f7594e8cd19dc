"""Fit a generated row to a table's live schema and serialise it for insertAll.

The generators build Python values (datetime, date, Decimal, bytes, dict); `conform` fits each
row to the table's live (possibly drifted) schema: columns the table lacks are dropped, a
FLOAT now typed STRING is written as text, BYTES become base64 and JSON columns JSON text,
and a REQUIRED column the row lacks gets a neutral value. Apart from the generators: it knows
BigQuery's types, not the platform's tables.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from auditor.demo.fake_values import BASE_TIME
from auditor.model import canonical_type

JsonRow = dict[str, Any]


def conform(row: Mapping[str, Any], fields: Sequence[Mapping[str, Any]]) -> JsonRow:
    """`row` fitted to `fields` and serialised for insertAll (JSON-ready values).

    Keys the schema lacks are dropped; REQUIRED columns the row lacks get a neutral value.
    """
    out: JsonRow = {}
    for f in fields:
        name = str(f["name"])
        mode = str(f.get("mode", "NULLABLE")).upper()
        if name in row and row[name] is not None:
            value = row[name]
            if mode == "REPEATED":
                items = value if isinstance(value, list | tuple) else [value]
                out[name] = [_to_json(v, f) for v in items]
            else:
                out[name] = _to_json(value, f)
        elif mode == "REQUIRED":
            out[name] = _to_json(_neutral(f), f)
    return out


def _to_json(value: Any, f: Mapping[str, Any]) -> Any:
    kind = canonical_type(str(f["type"]))
    if kind == "STRUCT":
        return conform(value if isinstance(value, Mapping) else {}, f.get("fields", []))
    if kind == "STRING":
        return _text(value)
    if kind == "BYTES":
        raw = value if isinstance(value, bytes) else str(value).encode()
        return base64.b64encode(raw).decode("ascii")
    if kind == "JSON":
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    if kind == "INT64":
        return int(value)
    if kind == "FLOAT64":
        return float(value)
    if kind == "BOOL":
        return bool(value)
    if kind in ("NUMERIC", "BIGNUMERIC"):
        return str(value)
    if kind == "TIMESTAMP":
        return _timestamp(value)
    return _text(value)


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return _timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def _timestamp(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value)


def _neutral(f: Mapping[str, Any]) -> Any:
    kind = canonical_type(str(f["type"]))
    neutral: dict[str, Any] = {
        "STRING": "", "BYTES": b"", "INT64": 0, "FLOAT64": 0.0, "BOOL": False,
        "NUMERIC": Decimal(0), "BIGNUMERIC": Decimal(0), "TIMESTAMP": BASE_TIME,
        "DATE": BASE_TIME.date(), "DATETIME": BASE_TIME.replace(tzinfo=None).isoformat(),
        "TIME": "00:00:00", "JSON": {}, "STRUCT": {},
    }  # fmt: skip
    return neutral.get(kind, "")
