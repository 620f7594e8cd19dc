"""Run the labelled values corpus through every content-scan mode, on a local engine.

Each case of the corpus gets a cell of its own: tables of COLUMNS_PER_TABLE STRING columns
(`v000`, `v001`, ...) and one row, so a hit names its case by its column. The tables are
scanned by the local mode (tabledata.list + Python), the pushdown mode (SQL narrows, Python
confirms) and the DLP mode (the real DLP client against tests/support/dlp_responder.py:
its requests captured, answered from each request alone, then replayed). Used by
benchmarks/content.py (--corpus) and by tests/test_content_modes.py.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from google.cloud import bigquery

from auditor.content.base import ContentMode, ContentOptions
from auditor.content.scan import ContentResult, scan_contents
from auditor.model import Table, ValueHit
from auditor.sources.bigquery import CollectOptions, collect, make_client
from tests.support.dlp_responder import write_recordings
from tests.support.recorded import RecordedServer

COLUMNS_PER_TABLE = 50
# A RecordedServer needs recordings to start: the capture serves the repository's (none
# matches these requests; every one is logged).
CAPTURE_FROM = Path(__file__).resolve().parents[2] / "tests" / "data" / "recorded" / "dlp"


@dataclass(frozen=True)
class Planted:
    """Where each case sits: table resource name and column, by case index."""

    dataset: str
    cells: tuple[tuple[str, str], ...]  # (table resource, column), case order


def plant(client: bigquery.Client, project: str, dataset: str, values: Sequence[str]) -> Planted:
    """One cell per value, in new tables of `dataset` (created, or replaced)."""
    client.delete_dataset(f"{project}.{dataset}", delete_contents=True, not_found_ok=True)
    client.create_dataset(bigquery.Dataset(f"{project}.{dataset}"))
    cells: list[tuple[str, str]] = []
    for start in range(0, len(values), COLUMNS_PER_TABLE):
        chunk = values[start : start + COLUMNS_PER_TABLE]
        table_id = f"cases_{start // COLUMNS_PER_TABLE:03d}"
        columns = [f"v{n:03d}" for n in range(len(chunk))]
        table = bigquery.Table(
            f"{project}.{dataset}.{table_id}",
            schema=[bigquery.SchemaField(c, "STRING") for c in columns],
        )
        client.create_table(table)
        errors = client.insert_rows_json(table, [dict(zip(columns, chunk, strict=True))])
        if errors:
            raise RuntimeError(f"insert into {table_id} failed: {errors}")
        resource = (
            f"//bigquery.googleapis.com/projects/{project}/datasets/{dataset}/tables/{table_id}"
        )
        cells += [(resource, c) for c in columns]
    return Planted(dataset, tuple(cells))


def tables_of(client: bigquery.Client, project: str, dataset: str) -> tuple[Table, ...]:
    live = collect(client, project, CollectOptions(table_iam=False, datasets=(dataset,)))
    if live.gaps:
        raise RuntimeError(f"collecting {dataset}: {live.gaps}")
    return tuple(t for t in live.tables if t.type == "TABLE")


def run_modes(endpoint: str, project: str, dataset: str) -> dict[str, ContentResult]:
    """The scan of every table of `dataset` in the three modes (local with one worker: the
    fast engine mixes up concurrent tabledata.list answers)."""
    client = make_client(project, endpoint)
    tables = tables_of(client, project, dataset)
    results = {
        "local": scan_contents(client, tables, ContentOptions(mode=ContentMode.LOCAL, workers=1)),
        "pushdown": scan_contents(client, tables, ContentOptions(mode=ContentMode.PUSHDOWN)),
    }
    dlp = ContentOptions(mode=ContentMode.DLP, workers=1, attempts=1)
    with tempfile.TemporaryDirectory(prefix="auditor-dlp-") as folder:
        with RecordedServer(CAPTURE_FROM) as capture:
            scan_contents(client, tables, _with_endpoint(dlp, capture.url))
            sent = list(capture.requests)
        write_recordings(sent, Path(folder))
        with RecordedServer(Path(folder)) as replay:
            results["dlp"] = scan_contents(client, tables, _with_endpoint(dlp, replay.url))
    return results


def _with_endpoint(options: ContentOptions, url: str) -> ContentOptions:
    return replace(options, dlp_endpoint=url)


def flagged(planted: Planted, hits: Sequence[ValueHit]) -> list[set[str]]:
    """Per case, the detectors that reported its cell."""
    index = {cell: n for n, cell in enumerate(planted.cells)}
    found: list[set[str]] = [set() for _ in planted.cells]
    for hit in hits:
        found[index[(hit.table, hit.column)]].add(hit.detector)
    return found
