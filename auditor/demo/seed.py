"""Create the demo estate in BigQuery (a local engine, usually) and remove it again.

Idempotent by reset: `seed` first deletes every dataset labelled `seeded_by: auditor-demo`
(the previous demo estate, whatever its size), then creates the estate from scratch, so two
runs with the same options give the same datasets, ACLs, schemas and row values. It refuses
to touch a dataset it would create that exists without that label.

Datasets are built concurrently (`options.workers` threads); each worker creates one dataset,
its tables, table IAM, and inserts its rows with insertAll (`insert_rows_json`): load jobs
are not an option, the fast engine rejects the client's multipart upload.
Then, as BigQuery needs what they name to exist, the views are created, and last the
authorized view/routine/dataset entries are added to the access lists (a dataset patch with
its etag).
Progress messages go to the optional callback, from the calling thread.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any, TypeVar

from google.api_core.exceptions import GoogleAPIError
from google.cloud import bigquery
from google.cloud.bigquery.retry import DEFAULT_RETRY

from auditor.demo.conform import JsonRow
from auditor.demo.estate import build_estate
from auditor.demo.plants import PlantedViolation
from auditor.demo.rows import dataset_rows
from auditor.demo.specs import (
    DEFAULT_OPTIONS,
    LOCATION,
    SEEDED_BY_LABEL,
    SEEDED_BY_VALUE,
    DatasetSpec,
    Grant,
    SeedOptions,
    TableSpec,
)
from auditor.errors import AuditorError, UsageError
from auditor.model import GranteeKind

Progress = Callable[[str], None]

INSERT_BATCH = 500  # rows per insertAll request
CALL_TIMEOUT = 60.0  # seconds per HTTP request
# The client's default retry gives up after 600 s; a local engine answering 500 to a bad row
# would stall a seed for ten minutes. One minute of retries is plenty for a transient error.
RETRY = DEFAULT_RETRY.with_timeout(60.0)

_PROJECT_RE = re.compile(r"^(?:[a-z][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]\Z")
_REF_RE = re.compile(
    r"^projects/(?P<p>[^/]+)/datasets/(?P<d>[^/]+)(?:/(?P<kind>tables|routines)/(?P<n>[^/]+))?$"
)

__all__ = ["SeedError", "SeedOptions", "SeedSummary", "reset", "seed"]

_AUTHORIZED = (GranteeKind.VIEW, GranteeKind.ROUTINE, GranteeKind.DATASET)


class SeedError(AuditorError):
    """The estate could not be (completely) created or removed."""


@dataclass(frozen=True)
class SeedSummary:
    datasets: tuple[str, ...]  # in estate order: customers, tenants, scratch_analytics
    tables: int
    rows: int
    planted: tuple[PlantedViolation, ...]
    seconds: float
    views: int = 0


@dataclass(frozen=True)
class _Built:
    dataset_id: str
    tables: int
    rows: int


def seed(
    client: bigquery.Client,
    options: SeedOptions = DEFAULT_OPTIONS,
    progress: Progress | None = None,
) -> SeedSummary:
    """Replace the demo estate in `options.project` with the one `options` describe."""
    started = time.monotonic()
    _validate(options)
    estate = build_estate(options)
    existing = _list_datasets(client, options.project)
    foreign = sorted(
        s.dataset_id
        for s in estate.datasets
        if s.dataset_id in existing and not _is_seeded(existing[s.dataset_id])
    )
    if foreign:
        raise SeedError(
            f"refusing to seed: dataset(s) {', '.join(foreign)} exist in {options.project} "
            f"without the label {SEEDED_BY_LABEL}={SEEDED_BY_VALUE}; they are not the seeder's"
        )
    stale = sorted(d for d, labels in existing.items() if _is_seeded(labels))
    _delete(client, options.project, stale, options.workers, progress)
    _say(progress, f"creating {len(estate.datasets)} datasets with {options.workers} workers")
    built = _parallel(
        estate.datasets,
        lambda spec: _build(client, spec, options),
        options.workers,
        progress,
        lambda b, done, total: (
            f"dataset {b.dataset_id}: {b.tables} tables, {b.rows} rows ({done}/{total})"
        ),
        "seed",
    )
    views = _create_views(client, estate.datasets, options.project, progress)
    _authorize(client, estate.datasets, options.project, progress)
    return SeedSummary(
        datasets=tuple(s.dataset_id for s in estate.datasets),
        tables=sum(b.tables for b in built),
        rows=sum(b.rows for b in built),
        planted=estate.planted,
        seconds=time.monotonic() - started,
        views=views,
    )


def reset(
    client: bigquery.Client,
    project: str,
    *,
    workers: int = 4,
    progress: Progress | None = None,
) -> tuple[str, ...]:
    """Delete (with their contents) the datasets of `project` labelled seeded_by=auditor-demo,
    and only those. Returns the deleted dataset ids, sorted."""
    if workers < 1:
        raise UsageError(f"workers must be at least 1, not {workers}")
    seeded = sorted(
        d for d, labels in _list_datasets(client, project).items() if _is_seeded(labels)
    )
    _delete(client, project, seeded, workers, progress)
    return tuple(seeded)


# ---------------------------------------------------------------------------- internals


def _validate(options: SeedOptions) -> None:
    if options.tenants < 0 or options.rows_per_table < 0:
        raise UsageError("tenants and rows_per_table must not be negative")
    if options.workers < 1:
        raise UsageError(f"workers must be at least 1, not {options.workers}")
    if not _PROJECT_RE.match(options.project):
        raise UsageError(f"not a BigQuery project id: {options.project!r}")


def _say(progress: Progress | None, message: str) -> None:
    if progress is not None:
        progress(message)


def _is_seeded(labels: Mapping[str, str]) -> bool:
    return labels.get(SEEDED_BY_LABEL) == SEEDED_BY_VALUE


def _list_datasets(client: bigquery.Client, project: str) -> dict[str, Mapping[str, str]]:
    """dataset id -> labels, for every dataset of `project` (labels filtered here, since the
    fast engine ignores the list filter)."""
    try:
        items = client.list_datasets(project, include_all=True, retry=RETRY, timeout=CALL_TIMEOUT)
        return {item.dataset_id: dict(item.labels or {}) for item in items}
    except (GoogleAPIError, OSError) as exc:
        raise SeedError(f"cannot list the datasets of {project}: {exc}") from exc


def _delete(
    client: bigquery.Client,
    project: str,
    dataset_ids: Sequence[str],
    workers: int,
    progress: Progress | None,
) -> None:
    if not dataset_ids:
        return
    _say(progress, f"deleting {len(dataset_ids)} datasets of an earlier demo estate")

    def delete(dataset_id: str) -> str:
        client.delete_dataset(
            bigquery.DatasetReference(project, dataset_id),
            delete_contents=True,
            not_found_ok=True,
            retry=RETRY,
            timeout=CALL_TIMEOUT,
        )
        return dataset_id

    _parallel(dataset_ids, delete, workers, None, None, "delete")


_In = TypeVar("_In")
_Out = TypeVar("_Out")


def _parallel(
    items: Iterable[_In],
    work: Callable[[_In], _Out],
    workers: int,
    progress: Progress | None,
    describe: Callable[[_Out, int, int], str] | None,
    verb: str,
) -> list[_Out]:
    """Run `work` on every item with at most `workers` threads; stop starting new items after
    the first failure and raise one SeedError naming every item that failed."""
    todo = list(items)
    results: list[_Out] = []
    failures: list[tuple[_In, BaseException]] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="auditor-seed") as pool:
        futures: dict[Future[_Out], _In] = {pool.submit(work, item): item for item in todo}
        for future in as_completed(futures):
            if future.cancelled():
                continue
            try:
                result = future.result()
            except (GoogleAPIError, OSError, SeedError) as exc:
                failures.append((futures[future], exc))
                for pending in futures:
                    pending.cancel()
                continue
            results.append(result)
            if describe is not None:
                _say(progress, describe(result, len(results), len(todo)))
    if failures:
        listed = "; ".join(f"{item}: {exc}" for item, exc in failures[:5])
        more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
        raise SeedError(
            f"{verb} failed for {len(failures)} of {len(todo)} datasets "
            f"({len(results)} done): {listed}{more}"
        ) from failures[0][1]
    return results


def _build(client: bigquery.Client, spec: DatasetSpec, options: SeedOptions) -> _Built:
    project = options.project
    dataset = bigquery.Dataset(bigquery.DatasetReference(project, spec.dataset_id))
    dataset.location = LOCATION
    dataset.description = spec.description
    dataset.labels = dict(spec.labels)
    if spec.kms_key:
        dataset.default_encryption_configuration = bigquery.EncryptionConfiguration(spec.kms_key)
    # Authorized objects come last (_authorize): the views they name do not exist yet.
    dataset.access_entries = [_access_entry(g) for g in spec.access if g.kind not in _AUTHORIZED]
    client.create_dataset(dataset, retry=RETRY, timeout=CALL_TIMEOUT)
    rows = dataset_rows(spec, project, options.rows_per_table, options.seed, options.tenants)
    inserted = 0
    for table in spec.tables:
        ref = _create_table(client, project, spec.dataset_id, table)
        inserted += _insert(client, ref, rows.get(table.table_id, []))
    return _Built(spec.dataset_id, len(spec.tables), inserted)


def _create_table(
    client: bigquery.Client, project: str, dataset_id: str, spec: TableSpec
) -> bigquery.TableReference:
    ref = bigquery.TableReference(bigquery.DatasetReference(project, dataset_id), spec.table_id)
    table = bigquery.Table(
        ref, schema=[bigquery.SchemaField.from_api_repr(dict(f)) for f in spec.fields]
    )
    if spec.kms_key:
        table.encryption_configuration = bigquery.EncryptionConfiguration(spec.kms_key)
    client.create_table(table, retry=RETRY, timeout=CALL_TIMEOUT)
    if spec.iam:
        policy = client.get_iam_policy(ref, retry=RETRY, timeout=CALL_TIMEOUT)
        bindings: dict[str, set[str]] = {b["role"]: set(b["members"]) for b in policy.bindings}
        for grant in spec.iam:
            bindings.setdefault(grant.role, set()).add(grant.member)
        policy.bindings = [{"role": r, "members": m} for r, m in sorted(bindings.items())]
        client.set_iam_policy(ref, policy, retry=RETRY, timeout=CALL_TIMEOUT)
    return ref


def _create_views(
    client: bigquery.Client,
    specs: Sequence[DatasetSpec],
    project: str,
    progress: Progress | None,
) -> int:
    """Create every view (after all tables exist: a view's query must resolve)."""
    created = 0
    for spec in specs:
        for view in spec.views:
            ref = bigquery.TableReference(
                bigquery.DatasetReference(project, spec.dataset_id), view.view_id
            )
            table = bigquery.Table(ref)
            table.view_query = view.query
            try:
                client.create_table(table, retry=RETRY, timeout=CALL_TIMEOUT)
            except (GoogleAPIError, OSError) as exc:
                where = f"{spec.dataset_id}.{view.view_id}"
                raise SeedError(f"cannot create view {where}: {exc}") from exc
            created += 1
    if created:
        _say(progress, f"created {created} view(s)")
    return created


def _authorize(
    client: bigquery.Client,
    specs: Sequence[DatasetSpec],
    project: str,
    progress: Progress | None,
) -> None:
    """Add the authorized view/routine/dataset entries, once the objects they name exist."""
    for spec in specs:
        grants = [g for g in spec.access if g.kind in _AUTHORIZED]
        if not grants:
            continue
        try:
            dataset = client.get_dataset(
                bigquery.DatasetReference(project, spec.dataset_id),
                retry=RETRY,
                timeout=CALL_TIMEOUT,
            )
            dataset.access_entries = [
                *dataset.access_entries,
                *(_access_entry(g) for g in grants),
            ]
            client.update_dataset(dataset, ["access_entries"], retry=RETRY, timeout=CALL_TIMEOUT)
        except (GoogleAPIError, OSError) as exc:
            raise SeedError(f"cannot authorize objects on {spec.dataset_id}: {exc}") from exc
        _say(progress, f"authorized {len(grants)} object(s) on {spec.dataset_id}")


def _insert(client: bigquery.Client, ref: bigquery.TableReference, rows: Sequence[JsonRow]) -> int:
    for start in range(0, len(rows), INSERT_BATCH):
        chunk = rows[start : start + INSERT_BATCH]
        errors = client.insert_rows_json(ref, chunk, retry=RETRY, timeout=CALL_TIMEOUT)
        if errors:
            raise SeedError(
                f"insertAll into {ref.dataset_id}.{ref.table_id} rejected rows: {errors[:3]}"
            )
    return len(rows)


def _access_entry(grant: Grant) -> bigquery.AccessEntry:
    """The client's AccessEntry for a Grant; view/routine/dataset grants name their target as
    projects/P/datasets/D[/tables/T | /routines/R]."""
    if grant.kind not in (GranteeKind.VIEW, GranteeKind.ROUTINE, GranteeKind.DATASET):
        return bigquery.AccessEntry(grant.role, grant.kind.value, grant.entity)
    match = _REF_RE.match(grant.entity)
    if match is None:
        raise SeedError(f"not a BigQuery object path: {grant.entity!r}")
    ref: dict[str, Any] = {"projectId": match["p"], "datasetId": match["d"]}
    if grant.kind is GranteeKind.DATASET:
        return bigquery.AccessEntry(None, "dataset", {"dataset": ref, "targetTypes": ["VIEWS"]})
    if match["n"] is None:
        raise SeedError(f"a {grant.kind.value} grant needs a table or routine: {grant.entity!r}")
    ref["routineId" if grant.kind is GranteeKind.ROUTINE else "tableId"] = match["n"]
    return bigquery.AccessEntry(None, grant.kind.value, ref)
