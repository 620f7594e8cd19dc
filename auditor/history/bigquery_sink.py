"""A copy of the run history in BigQuery: tables `runs` and `findings` of a compliance dataset.

The rows are exactly the SQLite history's (`RunRecord.row()`, `FindingRecord.row()`), so a
dashboard or a scheduled query can read every estate's runs in one place.

- The dataset and both tables are created when missing; a table made by an older auditor
  gets the columns it lacks added (nullable or repeated, so its rows stay as they are);
  nothing is ever dropped, changed or deleted. To pick the dataset's location, KMS key or
  ACL, create it beforehand; the sink only needs `roles/bigquery.dataEditor` on that one
  dataset then.
- Rows are streamed with insertAll (`insert_rows_json`) in batches, each row with an insert
  id (run id, fingerprint, status), so a retried request does not duplicate rows.
- Findings are written before their run: a `runs` row means its findings are all there.
- Every call is retried by the shared policy (auditor.gcp.retry.HISTORY_SINK: within 120 s);
  any failure is then a SinkError naming the table and why; nothing is swallowed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, TypeVar

from google.api_core.exceptions import NotFound
from google.cloud import bigquery

from auditor.errors import AuditorError, UsageError
from auditor.gcp import retry
from auditor.gcp.clients import NO_RETRY
from auditor.gcp.retry import GaveUp, RetryPolicy
from auditor.gcp.wording import describe
from auditor.history.store import HistoryStore

__all__ = [
    "FINDINGS_SCHEMA",
    "FINDINGS_TABLE",
    "RUNS_SCHEMA",
    "RUNS_TABLE",
    "BigQuerySink",
    "SinkError",
    "parse_dataset",
]

RUNS_TABLE = "runs"
FINDINGS_TABLE = "findings"
INSERT_BATCH = 500
T = TypeVar("T")

_DATASET = re.compile(
    r"^(?:(?P<project>[a-z][a-z0-9.:-]{4,62}[a-z0-9])\.)?(?P<dataset>[A-Za-z0-9_]{1,1024})\Z"
)


def _field(name: str, kind: str, required: bool = True) -> bigquery.SchemaField:
    return bigquery.SchemaField(name, kind, mode="REQUIRED" if required else "NULLABLE")


def _list(name: str) -> bigquery.SchemaField:
    return bigquery.SchemaField(name, "STRING", mode="REPEATED")


# Same columns, same order as the SQLite history (store.RunRecord.row / FindingRecord.row).
RUNS_SCHEMA: tuple[bigquery.SchemaField, ...] = (
    _field("id", "STRING"),
    _field("started_at", "TIMESTAMP"),
    _field("finished_at", "TIMESTAMP"),
    _field("command", "STRING"),
    _field("root", "STRING"),
    _field("complete", "BOOLEAN"),
    _field("tool_version", "STRING"),
    _field("results_sha256", "STRING", required=False),
    _field("findings", "INTEGER"),
    _field("pass_count", "INTEGER"),
    _field("fail_count", "INTEGER"),
    _field("error_count", "INTEGER"),
    _field("waived_count", "INTEGER"),
    _field("skipped_count", "INTEGER"),
    _field("fail_critical", "INTEGER"),
    _field("fail_high", "INTEGER"),
    _field("fail_medium", "INTEGER"),
    _field("fail_low", "INTEGER"),
    _field("fail_info", "INTEGER"),
    _field("coverage_gaps", "INTEGER"),
    _field("errors", "INTEGER"),
    # The run's scope (history schema 2); null / empty for runs recorded before it.
    _field("narrowed", "BOOLEAN", required=False),
    _list("scope_rules"),
    _field("scope_project", "STRING", required=False),
    _list("scope_datasets"),
    _list("rule_filter"),
    _list("dataset_filter"),
    _list("sources"),
    _list("gap_scopes"),
    # History schema 3: the standing scope's dataset globs (a config's [scope] datasets).
    _list("configured_datasets"),
)
FINDINGS_SCHEMA: tuple[bigquery.SchemaField, ...] = (
    _field("run_id", "STRING"),
    _field("fingerprint", "STRING"),
    _field("rule_id", "STRING"),
    _field("rule_name", "STRING"),
    _field("status", "STRING"),
    _field("severity", "STRING"),
    _field("resource", "STRING"),
    _field("column_path", "STRING", required=False),
    _field("principal", "STRING", required=False),
    _field("message", "STRING"),
)


class SinkError(AuditorError):
    """The run could not be written to the BigQuery sink."""


def parse_dataset(text: str, default_project: str) -> bigquery.DatasetReference:
    """`dataset` or `project.dataset` as a reference (UsageError when it is neither)."""
    match = _DATASET.match(text)
    if match is None:
        raise UsageError(f"not a BigQuery dataset (dataset or project.dataset): {text!r}")
    return bigquery.DatasetReference(match["project"] or default_project, match["dataset"])


class BigQuerySink:
    """Writes recorded runs to `dataset` through `client`."""

    def __init__(
        self,
        client: bigquery.Client,
        dataset: bigquery.DatasetReference,
        policy: RetryPolicy = retry.HISTORY_SINK,
    ) -> None:
        self.client = client
        self.dataset = dataset
        self.policy = policy
        self._ready = False

    @property
    def name(self) -> str:
        return f"{self.dataset.project}.{self.dataset.dataset_id}"

    def ensure(self) -> None:
        """Create the dataset and the two tables when they do not exist."""
        what = f"cannot prepare the history sink {self.name}"
        timeout = self.policy.timeout
        try:
            self._call(
                lambda: self.client.get_dataset(self.dataset, retry=NO_RETRY, timeout=timeout)
            )
        except GaveUp as gave_up:
            if not isinstance(gave_up.error, NotFound):
                raise self._failed(what, gave_up) from gave_up.error
            self._checked(
                what,
                lambda: self.client.create_dataset(
                    bigquery.Dataset(self.dataset), exists_ok=True, retry=NO_RETRY,
                    timeout=timeout,
                ),
            )  # fmt: skip
        for table_id, schema in ((RUNS_TABLE, RUNS_SCHEMA), (FINDINGS_TABLE, FINDINGS_SCHEMA)):
            table = bigquery.Table(self.dataset.table(table_id), schema=list(schema))
            create = partial(
                self.client.create_table, table, exists_ok=True, retry=NO_RETRY, timeout=timeout
            )
            made = self._checked(what, create)
            self._add_missing_columns(made, schema)
        self._ready = True

    def _call(self, fetch: Callable[[], T]) -> T:
        return retry.call(fetch, self.policy)

    def _checked(self, what: str, fetch: Callable[[], T]) -> T:
        """fetch(), retried; a SinkError starting with `what` when it fails for good."""
        try:
            return self._call(fetch)
        except GaveUp as gave_up:
            raise self._failed(what, gave_up) from gave_up.error

    @staticmethod
    def _failed(what: str, gave_up: GaveUp) -> SinkError:
        return SinkError(f"{what}: {describe(gave_up.error, gave_up.deadline)}{gave_up.note}")

    def _add_missing_columns(
        self, table: bigquery.Table, schema: Sequence[bigquery.SchemaField]
    ) -> None:
        """A table an older auditor made lacks the newer columns: append them (never a
        REQUIRED one, which BigQuery cannot add to a table that has rows)."""
        present = {f.name for f in table.schema}
        missing = [f for f in schema if f.name not in present]
        if not missing:
            return
        required = [f.name for f in missing if f.mode == "REQUIRED"]
        if required:
            raise SinkError(
                f"{self.name}.{table.table_id} lacks required column(s) {', '.join(required)}; "
                "it was not made by the auditor's history sink"
            )
        table.schema = [*table.schema, *missing]
        self._checked(
            f"cannot prepare the history sink {self.name}",
            lambda: self.client.update_table(
                table, ["schema"], retry=NO_RETRY, timeout=self.policy.timeout
            ),
        )

    def write(self, run: Mapping[str, Any], findings: Sequence[Mapping[str, Any]]) -> None:
        """Stream one run's rows: its findings first, then the run."""
        if not self._ready:
            self.ensure()
        run_id = str(run["id"])
        self._insert(
            FINDINGS_TABLE,
            findings,
            [f"{run_id}/{f['fingerprint']}/{f['status']}" for f in findings],
        )
        self._insert(RUNS_TABLE, [run], [run_id])

    def write_run(self, store: HistoryStore, run_id: str) -> int:
        """Copy one recorded run from `store`; returns the number of finding rows."""
        findings = [f.row() for f in store.findings(run_id)]
        self.write(store.run(run_id).row(), findings)
        return len(findings)

    def _insert(
        self, table_id: str, rows: Sequence[Mapping[str, Any]], row_ids: Sequence[str]
    ) -> None:
        ref = self.dataset.table(table_id)
        for start in range(0, len(rows), INSERT_BATCH):
            chunk = [dict(r) for r in rows[start : start + INSERT_BATCH]]
            ids = list(row_ids[start : start + INSERT_BATCH])
            insert = partial(
                self.client.insert_rows_json,
                ref,
                chunk,
                row_ids=ids,
                retry=NO_RETRY,
                timeout=self.policy.timeout,
            )
            errors = self._checked(f"cannot write to {self.name}.{table_id}", insert)
            if errors:
                raise SinkError(
                    f"{self.name}.{table_id} rejected {len(errors)} row(s): {errors[:3]}"
                )
