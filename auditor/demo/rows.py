"""Realistic, deterministic rows for the demo estate, ready for `insert_rows_json`.

`dataset_rows` picks the generator of a dataset's kind (`auditor.demo.tenant_rows`,
`auditor.demo.customer_rows`, or the scratch rows below), writes the plants' cells into them,
then fits every row to its table's live (possibly drifted) schema with
`auditor.demo.conform`. The same seed and dataset id always give the same rows, whatever the
number of tenants or the order datasets are seeded in. No secret-looking value is made up by
the generators: content secrets are planted only through `CellValue`s.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

from auditor.demo.conform import JsonRow, conform
from auditor.demo.customer_rows import customers_rows
from auditor.demo.fake_values import BASE_TIME, PEOPLE, Row
from auditor.demo.specs import SCRATCH_TABLE, CellValue, DatasetKind, DatasetSpec, tenant_ids
from auditor.demo.tenant_rows import tenant_rows


def dataset_rows(
    spec: DatasetSpec, project: str, count: int, seed: int, tenants: int
) -> dict[str, list[JsonRow]]:
    """Rows of every table of `spec`, conformed to its (possibly drifted) schema.

    `count` rows per tenant and scratch table; the customers tables get one row per tenant,
    at most `count`. `tenants` is the estate's tenant count (the customers rows name them).
    """
    rng = random.Random(f"{seed}/{spec.dataset_id}")  # noqa: S311  (demo data, not crypto)
    match spec.kind:
        case DatasetKind.TENANT:
            raw = tenant_rows(spec.dataset_id, project, count, rng)
        case DatasetKind.CUSTOMERS:
            ids = tenant_ids(tenants)[:count]
            raw = customers_rows(ids, project, seed)
        case DatasetKind.SCRATCH:
            raw = {SCRATCH_TABLE: scratch_rows(count, rng)}
    _apply_cells(raw, spec.cells)
    return {
        t.table_id: [conform(r, t.fields) for r in raw.get(t.table_id, [])] for t in spec.tables
    }


def _apply_cells(raw: dict[str, list[Row]], cells: Sequence[CellValue]) -> None:
    for cell in cells:
        rows = raw.get(cell.table, [])
        if 0 <= cell.row < len(rows):
            target = rows[cell.row]
            *parents, leaf = cell.column.split(".")
            for name in parents:
                if not isinstance(target.get(name), dict):
                    target[name] = {}
                target = target[name]
            target[leaf] = cell.value


# ---------------------------------------------------------------------------- scratch


def scratch_rows(count: int, rng: random.Random) -> list[Row]:
    regions = ("NA", "EMEA", "APAC", "LATAM")
    return [
        {
            "order_date": (BASE_TIME - timedelta(days=1 + i // len(regions))).date(),
            "region": regions[i % len(regions)],
            "orders": (orders := rng.randint(50, 5_000)),
            "revenue_usd": Decimal(orders * rng.randint(2_000, 20_000)) / 100,
            "created_by": f"{rng.choice(PEOPLE)}@convergence.example",
        }
        for i in range(count)
    ]
