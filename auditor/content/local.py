"""Local mode: sample a table's rows through the API and scan them in Python.

`sample_table` reads rows with tabledata.list (`maxResults`, `selectedFields`): only the
top-level columns that hold text leaves, at most `sample_rows` rows and, counting the UTF-8
size of the text cells, at most `max_sample_bytes` (the row that would cross the budget is
left out unless it is the first; pages shrink as the budget fills, so one answer never
brings much more than the budget). Each cell keeps its first `max_cell_chars` characters,
the part scan_value reads anyway. Cells are flattened into `SampledRows`: one text cell per
STRING or JSON leaf (see `columns`), REPEATED values joined with newlines, JSON as compact
text.

The answer is parsed from the REST form ({"f": [{"v": ...}]}) against the table's own
schema, not through `list_rows`: the client pairs cells with `selected_fields` in the order
given, while engines answer in schema order (the faithful engine) or in request order (the
fast engine), and the faithful engine sends JSON cells as objects, which the client's JSON
parser refuses. Selected fields are therefore always listed in schema order. Neither engine
selects sub-fields (`a.b`: the fast engine answers 500, the faithful one ignores it), so
whole top-level columns are read.

`scan_sample` hands every sampled cell to `content.confirm`, the judge all modes share:
per (column, detector) how many sampled rows matched and the redacted prefix and
fingerprint of one match. Values are never kept beyond the scan of their table.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from google.cloud import bigquery

from auditor.content.base import ContentMode, ContentOptions, TableOutcome
from auditor.content.columns import TextColumn
from auditor.content.confirm import Cell, confirm_cells
from auditor.content.sample import SampledRows
from auditor.model import ContentScan, Field, Table, ValueHit
from auditor.sources.infoschema import Malformed

__all__ = ["PAGE_ROWS", "sample_table", "scan_sample", "scan_table"]

PAGE_ROWS = 500  # rows asked for per tabledata.list page at most

Fetch = Callable[[Callable[[], Any]], Any]  # runs one API call with retries


def scan_table(
    client: bigquery.Client,
    table: Table,
    columns: Sequence[TextColumn],
    options: ContentOptions,
    call: Fetch,
) -> TableOutcome:
    """Sample `table` and scan the sample. Raises what the call or the answer raised."""
    sample = sample_table(client, table, columns, options, call)
    hits = scan_sample(sample, options.max_cell_chars)
    scan = ContentScan(table.resource, ContentMode.LOCAL.value, len(sample.rows), sample.columns)
    return TableOutcome(scan, hits)


# ---------------------------------------------------------------------------- sampling


def sample_table(
    client: bigquery.Client,
    table: Table,
    columns: Sequence[TextColumn],
    options: ContentOptions,
    call: Fetch,
) -> SampledRows:
    """Up to `options.sample_rows` rows of `columns`, within `options.max_sample_bytes`."""
    paths = tuple(c.path for c in columns)
    wanted = {c.top for c in columns}
    tops = tuple(f for f in table.fields if f.name in wanted)  # schema order
    flattener = _Flattener(paths, options.max_cell_chars)
    ref = bigquery.TableReference(
        bigquery.DatasetReference(table.project, table.dataset_id), table.table_id
    )
    selected = ",".join(f.name for f in tops)
    rows: list[tuple[str | None, ...]] = []
    bytes_read = 0
    token: str | None = None
    page = min(PAGE_ROWS, options.sample_rows)
    while True:
        params: dict[str, Any] = {"maxResults": page, "selectedFields": selected}
        if token is not None:
            params["pageToken"] = token
        answer = call(functools.partial(_list_page, client, f"{ref.path}/data", params, options))
        items, token = _page(answer)
        full = False
        for item in items:
            cells = flattener.row(_row_cells(item, len(tops)), tops)
            size = sum(len(c.encode("utf-8", "surrogatepass")) for c in cells if c)
            if rows and bytes_read + size > options.max_sample_bytes:
                full = True
                break
            rows.append(cells)
            bytes_read += size
            if len(rows) >= options.sample_rows:
                break
        left = options.sample_rows - len(rows)
        if full or left <= 0 or not items or token is None:
            break
        average = max(1, bytes_read // len(rows))
        page = max(1, min(PAGE_ROWS, left, (options.max_sample_bytes - bytes_read) // average))
    return SampledRows(table.resource, paths, tuple(rows), bytes_read)


def _list_page(
    client: bigquery.Client, path: str, params: Mapping[str, Any], options: ContentOptions
) -> Any:
    """One tabledata.list call (the REST answer, unparsed)."""
    return client._connection.api_request(  # type: ignore[no-untyped-call]
        method="GET", path=path, query_params=dict(params), timeout=options.timeout
    )


def _page(answer: Any) -> tuple[list[Any], str | None]:
    if not isinstance(answer, Mapping):
        raise Malformed("tabledata.list answer is not an object")
    items = answer.get("rows") or []
    token = answer.get("pageToken")
    if not isinstance(items, list):
        raise Malformed("tabledata.list rows are not a list")
    if token is not None and (not isinstance(token, str) or not token):
        raise Malformed("tabledata.list page token is not a string")
    return items, token


def _row_cells(item: Any, width: int) -> list[Any]:
    if not isinstance(item, Mapping) or not isinstance(item.get("f"), list):
        raise Malformed("a row is not an object with a cell list")
    cells: list[Any] = item["f"]
    if len(cells) != width:
        raise Malformed(f"a row has {len(cells)} cells for {width} selected columns")
    return [_value(cell) for cell in cells]


def _value(cell: Any) -> Any:
    if not isinstance(cell, Mapping) or "v" not in cell:
        raise Malformed("a cell is not an object with a value")
    return cell["v"]


class _Flattener:
    """Turns one row's top-level cells into the text cells of `paths`."""

    def __init__(self, paths: tuple[str, ...], max_chars: int) -> None:
        self._paths = paths
        self._max_chars = max_chars
        # Every prefix of a wanted path: subtrees without text are not walked.
        self._walk = {p.rsplit(".", n)[0] for p in paths for n in range(p.count(".") + 1)}

    def row(self, values: list[Any], tops: tuple[Field, ...]) -> tuple[str | None, ...]:
        found: dict[str, list[str]] = {}
        for value, f in zip(values, tops, strict=True):
            self._field(value, f, f.name, found)
        cells: list[str | None] = []
        for path in self._paths:
            texts = found.get(path)
            cells.append("\n".join(texts)[: self._max_chars] if texts else None)
        return tuple(cells)

    def _field(self, value: Any, f: Field, path: str, found: dict[str, list[str]]) -> None:
        if value is None or path not in self._walk:
            return
        if f.mode == "REPEATED":
            if not isinstance(value, list):
                raise Malformed(f"REPEATED column {path} is not a list")
            for item in value:
                self._single(_value(item), f, path, found)
        else:
            self._single(value, f, path, found)

    def _single(self, value: Any, f: Field, path: str, found: dict[str, list[str]]) -> None:
        if value is None:
            return
        if f.is_record:
            if not isinstance(value, Mapping) or not isinstance(value.get("f"), list):
                raise Malformed(f"RECORD column {path} is not an object with a cell list")
            cells = value["f"]
            if len(cells) != len(f.fields):
                raise Malformed(f"RECORD column {path} has {len(cells)} cells, not {len(f.fields)}")
            for sub, cell in zip(f.fields, cells, strict=True):
                self._field(_value(cell), sub, f"{path}.{sub.name}", found)
            return
        found.setdefault(path, []).append(_text(value, f, path))


def _text(value: Any, f: Field, path: str) -> str:
    if isinstance(value, str):
        return value
    if f.canonical_type == "JSON" and isinstance(value, dict | list | int | float | bool):
        # The faithful engine sends JSON cells as JSON values; BigQuery sends text.
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    raise Malformed(f"column {path} holds a {type(value).__name__}, not text")


# ---------------------------------------------------------------------------- scanning


def scan_sample(sample: SampledRows, max_chars: int) -> tuple[ValueHit, ...]:
    """The value hits of a sample: every cell confirmed by the catalog (content.confirm)."""
    cells = (
        Cell(index, text)
        for row in sample.rows
        for index, text in enumerate(row)
        if text is not None
    )
    return confirm_cells(sample.table, sample.columns, cells, max_chars)
