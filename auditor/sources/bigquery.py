"""The live BigQuery source: datasets, access entries, tables, schemas and table IAM.

`collect` reads one project through a google-cloud-bigquery client and returns frozen model
objects plus a CoverageGap for every object it could not read. It fails closed: a 403, a
404 mid-crawl, a timeout, retries given up, or an answer without the shape it must have all
become a gap naming the object's full resource name and the reason; collect() itself only
raises UsageError, for invalid arguments, before any request.

Reads, per project: datasets.list (hidden datasets included); per dataset datasets.get and
tables.list; per table tables.get and tables.getIamPolicy (policy version 3, so conditional
bindings keep their conditions). With `fast_path`, INFORMATION_SCHEMA is read once per view
for every location the datasets live in (their own `location` says which; `regions` only
narrows), concurrently, and stands in for tables.get wherever its answer is complete and
plausible (auditor.sources.infoschema). What disagrees is read one by one - that table, or
that dataset's tables - and the stats count the tables per reason. With a `table_policies`
reader (Cloud Asset Inventory, auditor.sources.assets), the tables that have an IAM policy
come in bulk instead of one getIamPolicy per table; when it cannot be read, each table's
policy is read as before and a note says why.

Every call goes through the shared transport (auditor.gcp): retried by its policy (429, 5xx,
a lost connection, a transport timeout, an answer cut short or not JSON; `attempts` in all,
exponential backoff with jitter), spaced at the documented per-method rate, and at most
`workers` in flight, halved on 429 and grown back.
Datasets are read as they come and each one's tables as soon as it is read, so the phases
overlap; at most `workers` dataset reads wait in the pool at a time, so table reads never
queue behind the whole estate's dataset reads. `CollectStats` counts the HTTP requests per
method sent through the client's session while collect() runs (retries, pagination and query
polling included).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from itertools import islice
from typing import Any

from google.cloud import bigquery

from auditor.detect.values import redact_secrets
from auditor.gcp import pacing, wording
from auditor.gcp.calls import Caller, CallFailed
from auditor.gcp.clients import NO_RETRY, widen_pool
from auditor.gcp.clients import bigquery_client as make_client
from auditor.gcp.counting import counting
from auditor.gcp.retry import QUERY_WAIT_FACTOR
from auditor.model import (
    BIGQUERY_RESOURCE_PREFIX,
    CoverageGap,
    Dataset,
    Table,
    dataset_resource,
    table_resource_name,
)
from auditor.sources import infoschema
from auditor.sources.bqconvert import dataset_from_api, iam_from_api, listed_tables, table_from_api
from auditor.sources.fastplan import Fallback, Plan, Reason, reconcile_dataset
from auditor.sources.infoschema import Malformed, QueryAnswer, QueryFailed, TableKey
from auditor.sources.livecollection import (
    CollectOptions,
    CollectStats,
    LiveCollection,
    TablePolicies,
    TablePolicyReader,
)

__all__ = [
    "CollectOptions",
    "CollectStats",
    "LiveCollection",
    "TablePolicyReader",
    "collect",
    "describe",
    "make_client",
]

# Items per list page asked for: few calls for a large project (the server may cap a page
# and go on with a page token).
LIST_PAGE_SIZE = 10_000
MAX_NOTES = 20  # distinct fallback reasons listed; the rest are summed up in one note
PER_TABLE_IAM = "getIamPolicy"
DEFAULT_OPTIONS = CollectOptions()


def describe(exc: BaseException, timeout: float | None = None) -> str:
    """A failure worded for the collector's gaps (auditor.gcp.wording), with any secret the
    server quoted redacted."""
    return wording.describe(exc, timeout, scrub=redact_secrets)


def collect(
    client: bigquery.Client,
    project: str,
    options: CollectOptions = DEFAULT_OPTIONS,
    table_policies: TablePolicyReader | None = None,
) -> LiveCollection:
    """Read `project` through `client`. Never raises for what it reads (see module doc)."""
    options.check(project)
    started = time.monotonic()
    pacer = pacing.Pacer(options.workers, default_rate=options.method_rate)
    widen_pool(client._http, options.workers)
    with (
        counting(client._http) as counted,
        ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="bq-collect") as pool,
    ):
        crawl = _Crawl(client, project, options, pool, pacer, table_policies)
        crawl.run()
    paced = pacer.stats
    calls = Counter(counted.methods)
    bulk = table_policies.methods if table_policies is not None else ()
    calls.update({m: n for m, n in paced.calls.items() if m in bulk})  # its own transport
    return LiveCollection(
        datasets=tuple(sorted(crawl.datasets, key=lambda d: d.dataset_id)),
        tables=tuple(sorted(crawl.tables, key=lambda t: (t.dataset_id, t.table_id))),
        gaps=tuple(sorted(set(crawl.gaps), key=lambda g: (g.scope, g.reason))),
        stats=CollectStats(
            api_calls=sum(calls.values()),
            queries=crawl.queries,
            fast_path_used=crawl.fast_tables > 0,
            fallbacks=sum(crawl.fallback_kinds.values()),
            seconds=round(time.monotonic() - started, 3),
            notes=tuple(crawl.region_notes + crawl.fallback_notes() + crawl.iam_notes),
            calls=dict(sorted(calls.items())),
            fast_path_tables=crawl.fast_tables,
            fallback_kinds=dict(sorted(crawl.fallback_kinds.items())),
            locations=tuple(sorted(crawl.regions)),
            table_iam=crawl.table_iam_source,
            throttled=paced.throttled,
            concurrency=paced.concurrency,
            lowest_concurrency=paced.lowest_concurrency,
            rate_wait=round(paced.rate_wait, 3),
        ),
    )


# ----------------------------------------------------------------------------- crawl


@dataclass
class _DatasetRead:
    dataset: Dataset | None = None
    tables: dict[str, str] | None = None  # table id -> type, None when not listed
    gaps: list[CoverageGap] = field(default_factory=list)


@dataclass
class _TableRead:
    table: Table | None = None
    gaps: list[CoverageGap] = field(default_factory=list)


class _Crawl:
    """One collect() run: the state shared by its phases. Only the thread that runs run()
    changes it; the pool's tasks return what they read."""

    def __init__(
        self,
        client: bigquery.Client,
        project: str,
        options: CollectOptions,
        pool: ThreadPoolExecutor,
        pacer: pacing.Pacer,
        table_policies: TablePolicyReader | None,
    ) -> None:
        self.client = client
        self.project = project
        self.options = options
        self.pool = pool
        self.call = Caller(options.retry_policy, scrub=redact_secrets, pacer=pacer)
        self.table_policies = table_policies
        self.datasets: list[Dataset] = []
        self.tables: list[Table] = []
        self.gaps: list[CoverageGap] = []
        self.region_notes: list[str] = []
        self.iam_notes: list[str] = []
        self.queries = 0
        self.fast_tables = 0
        self.fallback_kinds: Counter[str] = Counter()
        self.fallback_details: Counter[str] = Counter()
        self.regions: dict[str, Future[infoschema.RegionSnapshot]] = {}
        # Tables the fast path would serve, per location, until every dataset is read; and
        # per location the first dataset showing that its answers leave KMS keys out.
        self.held: dict[str, list[tuple[TableKey, Table]]] = {}
        self.kms_omitted: dict[str, str] = {}
        self.snapshots: dict[str, infoschema.RegionSnapshot] = {}
        self.dataset_ids: frozenset[str] = frozenset()
        self.table_iam_source = PER_TABLE_IAM if options.table_iam else "not read"
        self._policies: Future[TablePolicies | None] | None = None

    # -- phases

    def run(self) -> None:
        listing = self._list_datasets()
        if listing is None:
            return
        self.dataset_ids = frozenset(listing)
        if self.options.table_iam and self.table_policies is not None and listing:
            self._policies = self.pool.submit(self._read_table_policies)
        for location in sorted({loc for loc in listing.values() if loc}):
            self._region(location)  # started early: the snapshots overlap the dataset reads
        tasks: list[Future[_TableRead]] = []
        for read in self._dataset_reads(sorted(listing)):
            self.gaps.extend(read.gaps)
            if read.dataset is None:
                continue
            self.datasets.append(read.dataset)
            if read.tables is not None:
                tasks.extend(self._collect_tables(read.dataset, read.tables))
        tasks.extend(self._serve_held())
        for task in tasks:
            result = task.result()
            self.gaps.extend(result.gaps)
            if result.table is not None:
                self.tables.append(result.table)
        for location, region in sorted(self.regions.items()):
            self._snapshot(location, region)  # also those no dataset needed in the end
        self.queries = sum(s.queries for s in self.snapshots.values())

    def _dataset_reads(self, dataset_ids: list[str]) -> Iterator[_DatasetRead]:
        """Each dataset read, as it completes. At most `workers` of them wait in the pool at a
        time, so that the table reads each one starts queue behind a few dataset reads, not
        behind all of them: tables.get (five or more per dataset, each method paced on its
        own) then runs from the first seconds instead of after the last datasets.get."""
        pending = iter(dataset_ids)
        reads: dict[Future[_DatasetRead], str] = {}

        def start(count: int) -> None:
            for dataset_id in islice(pending, count):
                reads[self.pool.submit(self._safe_dataset, dataset_id)] = dataset_id

        start(self.options.workers)
        while reads:
            done, _ = wait(reads, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=reads.__getitem__):
                del reads[future]
                start(1)
                yield future.result()

    def _collect_tables(self, dataset: Dataset, listed: dict[str, str]) -> list[Future[_TableRead]]:
        """The dataset's tables read one by one are started now; those the fast path would
        serve are held until every dataset is read (see _serve_held). Returns the reads."""
        plan = self._plan(dataset, listed)
        for key, table in plan.use.items():
            self.held.setdefault((dataset.location or "").lower(), []).append((key, table))
        tasks = []
        for key, reason in sorted(plan.fallback.items()):
            self._count_fallback(reason)
            tasks.append(self.pool.submit(self._safe_table, key, None, self._bulk_policies()))
        return tasks

    def _serve_held(self) -> list[Future[_TableRead]]:
        """The held tables, now that every dataset's answer is in: a region whose
        SCHEMATA_OPTIONS left out a default KMS key that datasets.get shows leaves KMS keys
        out of its answers, so no table key from it can be trusted - its held tables are read
        one by one. The others are served (table IAM in bulk, or one getIamPolicy each)."""
        policies = self._bulk_policies()
        tasks = []
        for location, held in sorted(self.held.items()):
            omitted = self.kms_omitted.get(location)
            for key, table in sorted(held, key=lambda item: item[0]):
                if omitted is not None:
                    self._count_fallback(
                        Reason(
                            Fallback.KMS_KEYS_OMITTED,
                            f"INFORMATION_SCHEMA in region {location} leaves KMS keys out "
                            f"(SCHEMATA_OPTIONS shows none for {omitted}, which has one), so "
                            "table keys can only be read table by table",
                        )
                    )
                    tasks.append(self.pool.submit(self._safe_table, key, None, policies))
                    continue
                self.fast_tables += 1
                if self.options.table_iam and policies is None:
                    tasks.append(self.pool.submit(self._safe_table, key, table, None))
                    continue
                if policies is not None:
                    resource = table_resource_name(self.project, *key)
                    table = replace(table, iam=policies.get(resource, ()))
                self.tables.append(table)
        return tasks

    def _count_fallback(self, reason: Reason) -> None:
        if reason.kind is not Fallback.FAST_PATH_OFF:  # not a fallback: the path is off
            self.fallback_kinds[reason.kind.value] += 1
            self.fallback_details[reason.detail] += 1

    def _list_datasets(self) -> dict[str, str | None] | None:
        """Dataset id -> location (lower case, None when the listing has none)."""
        scope = f"{BIGQUERY_RESOURCE_PREFIX}projects/{self.project}"
        try:
            items, counted = self.call(
                lambda: _all_pages(
                    self.client.list_datasets(
                        self.project,
                        include_all=True,
                        retry=NO_RETRY,
                        timeout=self.options.timeout,
                        page_size=LIST_PAGE_SIZE,
                    )
                ),
                method="datasets.list",
            )
        except CallFailed as failed:
            self.gaps.append(CoverageGap(scope, f"datasets could not be listed: {failed.reason}"))
            return None
        if counted is not None and counted > len(items):
            self.gaps.append(CoverageGap(scope, _cut_short("datasets", len(items), counted)))
        chosen: dict[str, str | None] = {}
        for item in items:
            dataset_id = getattr(item, "dataset_id", None)
            if not isinstance(dataset_id, str) or not infoschema.is_valid_dataset_id(dataset_id):
                self.gaps.append(
                    CoverageGap(scope, f"malformed answer: datasets.list gave {dataset_id!r}")
                )
            elif not self.options.datasets or any(
                fnmatchcase(dataset_id, glob) for glob in self.options.datasets
            ):
                location = getattr(item, "_properties", {}).get("location")
                chosen[dataset_id] = location.lower() if isinstance(location, str) else None
        return chosen

    # -- the fast path

    def _region(self, location: str) -> Future[infoschema.RegionSnapshot] | None:
        """The snapshot of this location's INFORMATION_SCHEMA (started on first use), or
        None when the fast path does not read it."""
        location = location.lower()
        if not self.options.fast_path or infoschema.REGION_RE.fullmatch(location) is None:
            return None
        if self.options.regions and location not in {r.lower() for r in self.options.regions}:
            return None
        future = self.regions.get(location)
        if future is None:
            future = self.regions[location] = self.pool.submit(self._read_region, location)
        return future

    def _read_region(self, location: str) -> infoschema.RegionSnapshot:
        try:
            return infoschema.read_region(self._run_query, self.project, location, self.dataset_ids)
        except Exception as exc:  # a bug in the fast path must not lose the crawl
            reason = f"fast path failed: {describe(exc)}"
            return infoschema.RegionSnapshot(location, {}, {}, {}, (reason,), 0, False)

    def _run_query(self, sql: str) -> QueryAnswer:
        timeout = self.options.timeout
        wait = timeout * QUERY_WAIT_FACTOR

        def fetch() -> QueryAnswer:
            rows = self.client.query_and_wait(
                sql,
                job_config=bigquery.QueryJobConfig(use_legacy_sql=False),
                api_timeout=timeout,
                wait_timeout=wait,
                retry=NO_RETRY,
                job_retry=NO_RETRY,
            )
            columns = tuple(f.name for f in rows.schema or ())
            return QueryAnswer(columns, tuple(dict(row.items()) for row in rows))

        try:
            return self.call(fetch, wait, method="jobs.query")
        except CallFailed as failed:
            raise QueryFailed(failed.reason) from failed

    def _plan(self, dataset: Dataset, listed: Mapping[str, str]) -> Plan:
        keys = [(dataset.dataset_id, t) for t in sorted(listed)]
        if not self.options.fast_path:  # not a fallback: nothing to count
            return Plan.one_by_one(keys, Fallback.FAST_PATH_OFF, "fast path off")
        location = (dataset.location or "").lower()
        future = self._region(location) if location else None
        if future is None:
            detail = (
                f"dataset location {dataset.location} is not among the regions read "
                f"({', '.join(self.options.regions)})"
                if location
                else "dataset has no location"
            )
            plan = Plan.one_by_one(keys, Fallback.LOCATION_NOT_READ, detail)
        else:
            snapshot = self._snapshot(location, future)
            plan = reconcile_dataset(snapshot, dataset, listed, self._needs_tags)
            options = snapshot.dataset_options.get(dataset.dataset_id)
            shown = options.default_kms_key if options is not None else None
            if dataset.default_kms_key and not shown and not snapshot.blockers:
                first = self.kms_omitted.get(location, dataset.dataset_id)
                self.kms_omitted[location] = min(first, dataset.dataset_id)  # in any read order
        return plan

    def _snapshot(
        self, location: str, future: Future[infoschema.RegionSnapshot]
    ) -> infoschema.RegionSnapshot:
        snapshot = self.snapshots.get(location)
        if snapshot is None:
            snapshot = self.snapshots[location] = future.result()
            self.region_notes.extend(f"region {location}: {n}" for n in snapshot.notes)
        return snapshot

    def _needs_tags(self, dataset_id: str) -> bool:
        return any(fnmatchcase(dataset_id, glob) for glob in self.options.policy_tags)

    def fallback_notes(self) -> list[str]:
        ranked = self.fallback_details.most_common()
        notes = [
            f"{count} table{'s' if count != 1 else ''} read one by one: {detail}"
            for detail, count in ranked[:MAX_NOTES]
        ]
        rest = sum(count for _, count in ranked[MAX_NOTES:])
        if rest:
            notes.append(f"{rest} more tables read one by one for other reasons")
        return notes

    # -- table IAM in bulk

    def _read_table_policies(self) -> TablePolicies | None:
        reader = self.table_policies
        assert reader is not None
        try:
            policies = reader(self.project, lambda fetch, method: self.call(fetch, method=method))
        except (CallFailed, Malformed) as exc:
            reason = exc.reason if isinstance(exc, CallFailed) else describe(exc)
            self.iam_notes.append(
                f"{reader.source} could not be read ({reason}): table IAM read per table "
                "with tables.getIamPolicy"
            )
            return None
        except Exception as exc:  # a bug in the bulk read must not lose table IAM
            self.iam_notes.append(
                f"{reader.source} failed ({describe(exc)}): table IAM read per table"
            )
            return None
        self.table_iam_source = reader.source
        self.iam_notes.append(
            f"table IAM from {reader.source} ({len(policies)} tables with a policy): its index "
            "is eventually consistent, a policy changed in the last minutes may show its "
            "previous state"
        )
        return policies

    def _bulk_policies(self) -> TablePolicies | None:
        return self._policies.result() if self._policies is not None else None

    # -- per object. Unexpected exceptions (bugs) in a task become a gap for its object.

    def _safe_dataset(self, dataset_id: str) -> _DatasetRead:
        try:
            return self._read_dataset(dataset_id)
        except Exception as exc:
            scope = dataset_resource(self.project, dataset_id)
            return _DatasetRead(gaps=[CoverageGap(scope, f"could not be read: {describe(exc)}")])

    def _safe_table(
        self, key: TableKey, prebuilt: Table | None, policies: TablePolicies | None
    ) -> _TableRead:
        try:
            return self._read_table(key, prebuilt, policies)
        except Exception as exc:
            scope = table_resource_name(self.project, *key)
            return _TableRead(gaps=[CoverageGap(scope, f"could not be read: {describe(exc)}")])

    def _read_dataset(self, dataset_id: str) -> _DatasetRead:
        scope = dataset_resource(self.project, dataset_id)
        ref = bigquery.DatasetReference(self.project, dataset_id)
        timeout = self.options.timeout
        read = _DatasetRead()
        try:
            dataset, problems = self.call.read(
                lambda: self.client.get_dataset(ref, retry=NO_RETRY, timeout=timeout)._properties,
                lambda raw: dataset_from_api(raw, self.project, dataset_id),
                method="datasets.get",
            )
        except CallFailed as failed:
            read.gaps.append(
                CoverageGap(
                    scope,
                    f"dataset could not be read: {failed.reason}; its tables were not examined",
                )
            )
            return read
        read.dataset = dataset
        read.gaps.extend(CoverageGap(scope, f"malformed answer: {p}") for p in problems)
        try:
            items, counted = self.call(
                lambda: _all_pages(
                    self.client.list_tables(
                        ref, retry=NO_RETRY, timeout=timeout, page_size=LIST_PAGE_SIZE
                    )
                ),
                method="tables.list",
            )
            read.tables = self.call.read(lambda: items, listed_tables)
        except CallFailed as failed:
            read.gaps.append(CoverageGap(scope, f"tables could not be listed: {failed.reason}"))
            return read
        if counted is not None and counted > len(items):
            read.gaps.append(CoverageGap(scope, _cut_short("tables", len(items), counted)))
        return read

    def _read_table(
        self, key: TableKey, prebuilt: Table | None, policies: TablePolicies | None
    ) -> _TableRead:
        dataset_id, table_id = key
        scope = table_resource_name(self.project, dataset_id, table_id)
        ref = bigquery.TableReference(bigquery.DatasetReference(self.project, dataset_id), table_id)
        timeout = self.options.timeout
        result = _TableRead()
        table = prebuilt
        if table is None:
            try:
                table = self.call.read(
                    lambda: self.client.get_table(ref, retry=NO_RETRY, timeout=timeout)._properties,
                    lambda raw: table_from_api(raw, self.project, dataset_id, table_id),
                    method="tables.get",
                )
            except CallFailed as failed:
                result.gaps.append(CoverageGap(scope, f"table could not be read: {failed.reason}"))
                return result
        if self.options.table_iam and policies is not None:
            table = replace(table, iam=policies.get(scope, ()))
        elif self.options.table_iam:
            try:
                iam = self.call.read(
                    lambda: self.client._connection.api_request(  # type: ignore[no-untyped-call]
                        method="POST",
                        path=f"{ref.path}:getIamPolicy",
                        data={"options": {"requestedPolicyVersion": 3}},
                        timeout=timeout,
                    ),
                    iam_from_api,
                    method="tables.getIamPolicy",
                )
                table = replace(table, iam=iam)
            except CallFailed as failed:
                result.gaps.append(
                    CoverageGap(scope, f"table IAM could not be read: {failed.reason}")
                )
        result.table = table
        return result


def _all_pages(iterator: Any) -> tuple[list[Any], int | None]:
    """Every item of a list call, and the total its answers claim (totalItems), if any."""
    items: list[Any] = []
    counted: int | None = None
    for page in iterator.pages:
        items.extend(page)
        raw = getattr(page, "raw_page", None)
        total = raw.get("totalItems") if isinstance(raw, Mapping) else None
        if isinstance(total, int | str) and str(total).isdigit():
            counted = int(total)
    return items, counted


def _cut_short(what: str, listed: int, counted: int) -> str:
    # An engine that ignores paging (bqemulator stops at maxResults without a page token)
    # must not pass for a small estate: what was not listed was not examined.
    return (
        f"malformed answer: {what}.list gave {listed} of the {counted} {what} it counts, "
        f"without a page token; the other {counted - listed} were not examined"
    )
