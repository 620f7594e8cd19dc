"""The live BigQuery source: datasets, access entries, tables, schemas and table IAM.

`collect` reads one project through a google-cloud-bigquery client and returns frozen model
objects plus a CoverageGap for every object it could not read. It fails closed: a 403, a
404 mid-crawl, a timeout, retries given up, or an answer without the shape it must have all
become a gap naming the object's full resource name and the reason; collect() itself only
raises UsageError, for invalid arguments, before any request.

Reads, per project: datasets.list (hidden datasets included); per dataset datasets.get and
tables.list; per table tables.get and tables.getIamPolicy (policy version 3, so conditional
bindings keep their conditions). With `fast_path`, one INFORMATION_SCHEMA query per view for
the whole region stands in for tables.get wherever its answer is complete and plausible
(see auditor.sources.infoschema); every other table is read one by one (a "fallback").

Every call is retried on 429, 5xx, a lost connection or a transport timeout, with
exponential backoff and jitter, `attempts` times in all. `CollectStats.api_calls` counts
the HTTP requests sent through the client's session while collect() runs (retries,
pagination and query polling included; credential refreshes use their own transport and are
not counted).
"""

from __future__ import annotations

import random
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from google.api_core import exceptions as api_exceptions
from google.api_core.client_options import ClientOptions
from google.api_core.retry import Retry
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery
from requests.exceptions import InvalidJSONError

from auditor.detect.values import redact_secrets
from auditor.errors import MissingCredentials, UsageError
from auditor.model import (
    BIGQUERY_RESOURCE_PREFIX,
    AccessEntry,
    Condition,
    CoverageGap,
    Dataset,
    Field,
    GranteeKind,
    IamBinding,
    Table,
    canonical_type,
    dataset_resource,
    table_resource_name,
)
from auditor.sources import apierrors, infoschema
from auditor.sources.infoschema import Malformed, Plan, QueryAnswer, QueryFailed, TableKey

T = TypeVar("T")

# ----------------------------------------------------------------------------- public API


def make_client(project: str, endpoint: str | None = None) -> bigquery.Client:
    """A BigQuery client for `project`.

    endpoint None: the real API with application default credentials. Otherwise anonymous
    credentials against `endpoint` (a local engine or a test proxy), the same code path.
    Builds no connection; the first request does.
    """
    if endpoint is None:
        try:
            return bigquery.Client(project=project)
        except auth_exceptions.DefaultCredentialsError as exc:
            raise MissingCredentials("the BigQuery API", project, str(exc)) from None
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"invalid BigQuery endpoint {endpoint!r} (expected http(s)://host:port)")
    return bigquery.Client(
        project=project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        client_options=ClientOptions(api_endpoint=endpoint),
    )


@dataclass(frozen=True)
class CollectOptions:
    workers: int = 8  # bounded concurrency (threads)
    fast_path: bool = True  # INFORMATION_SCHEMA schemas for the whole region
    region: str = "us"  # for `region-us`.INFORMATION_SCHEMA
    table_iam: bool = True  # read table IAM policies (tables.getIamPolicy)
    # Policy tags are part of every schema read. False lets the fast path serve a region whose
    # COLUMN_FIELD_PATHS has no policy_tags column (then Field.policy_tags stays empty).
    policy_tags: bool = True
    datasets: tuple[str, ...] = ()  # fnmatch globs (case-sensitive) to limit the scan
    timeout: float = 30.0  # per HTTP call; a query may run QUERY_WAIT_FACTOR times longer
    attempts: int = 4  # tries per call, the first included
    backoff: float = 0.5  # seconds before the first retry; doubles, with jitter, up to 8 s


@dataclass(frozen=True)
class CollectStats:
    api_calls: int  # HTTP requests sent through the client's session during collect()
    queries: int  # INFORMATION_SCHEMA queries issued
    fast_path_used: bool  # at least one table was taken from INFORMATION_SCHEMA
    fallbacks: int  # tables read one by one although the fast path was on
    seconds: float
    # Why the fast path did not serve some tables: "N tables read one by one: <reason>".
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class LiveCollection:
    datasets: tuple[Dataset, ...]
    tables: tuple[Table, ...]
    gaps: tuple[CoverageGap, ...]
    stats: CollectStats


QUERY_WAIT_FACTOR = 4
# Items per list page asked for: few calls for a large project (the server may cap a page
# and go on with a page token).
LIST_PAGE_SIZE = 10_000
MAX_BACKOFF = 8.0
# The client documents retry=None as "do not retry" (we retry ourselves); its hints say Retry.
NO_RETRY = cast(Retry, None)


def collect(
    client: bigquery.Client, project: str, options: CollectOptions = CollectOptions()
) -> LiveCollection:
    """Read `project` through `client`. Never raises for what it reads (see module doc)."""
    _check_arguments(project, options)
    started = time.monotonic()
    with (
        _counting(client) as counter,
        ThreadPoolExecutor(max_workers=options.workers, thread_name_prefix="bq-collect") as pool,
    ):
        crawl = _Crawl(client, project, options, pool)
        crawl.run()
    return LiveCollection(
        datasets=tuple(sorted(crawl.datasets, key=lambda d: d.dataset_id)),
        tables=tuple(sorted(crawl.tables, key=lambda t: (t.dataset_id, t.table_id))),
        gaps=tuple(sorted(set(crawl.gaps), key=lambda g: (g.scope, g.reason))),
        stats=CollectStats(
            api_calls=counter.count,
            queries=crawl.queries,
            fast_path_used=crawl.fast_tables > 0,
            fallbacks=crawl.fallbacks,
            seconds=round(time.monotonic() - started, 3),
            notes=tuple(crawl.notes),
        ),
    )


def _check_arguments(project: str, options: CollectOptions) -> None:
    if not isinstance(project, str) or infoschema.PROJECT_RE.fullmatch(project) is None:
        raise UsageError(f"invalid project id {project!r}")
    if options.fast_path and infoschema.REGION_RE.fullmatch(options.region) is None:
        raise UsageError(f"invalid region {options.region!r} (e.g. us, eu, us-central1)")
    if options.workers < 1 or options.attempts < 1:
        raise UsageError("workers and attempts must be at least 1")
    if not options.timeout > 0 or options.backoff < 0:
        raise UsageError("timeout must be positive and backoff not negative")


# ----------------------------------------------------------------------------- counting


class _Counter:
    def __init__(self) -> None:
        self.count = 0


class _RequestTap:
    """Wraps a requests session's `request` once; counts into every active _Counter."""

    ATTRIBUTE = "_auditor_request_tap"

    def __init__(self, session: Any) -> None:
        self._lock = threading.Lock()
        self._counters: list[_Counter] = []
        original = session.request

        def request(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                for counter in self._counters:
                    counter.count += 1
            return original(*args, **kwargs)

        setattr(session, "request", request)  # noqa: B010  (shadowing a method on purpose)

    def add(self, counter: _Counter) -> None:
        with self._lock:
            self._counters.append(counter)

    def remove(self, counter: _Counter) -> None:
        with self._lock:
            self._counters.remove(counter)


_TAP_LOCK = threading.Lock()


@contextmanager
def _counting(client: bigquery.Client) -> Iterator[_Counter]:
    """Count the HTTP requests the client sends while the block runs (all threads)."""
    session = client._http
    with _TAP_LOCK:
        tap = getattr(session, _RequestTap.ATTRIBUTE, None)
        if not isinstance(tap, _RequestTap):
            tap = _RequestTap(session)
            setattr(session, _RequestTap.ATTRIBUTE, tap)
    counter = _Counter()
    tap.add(counter)
    try:
        yield counter
    finally:
        tap.remove(counter)


# ----------------------------------------------------------------------------- calls


class _Failed(Exception):
    """A call that failed for good; `reason` goes into the CoverageGap."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


_TRANSIENT_CODES = frozenset({429, 500, 502, 503, 504})
_TRANSIENT_REASONS = frozenset({"rateLimitExceeded", "backendError", "internalError"})
_KEYWORD_RE = re.compile(r"[A-Za-z]{1,64}")  # an error reason such as accessDenied
MAX_REASON = 300


def _transient(exc: BaseException) -> bool:
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        if exc.code in _TRANSIENT_CODES:
            return True
        errors = exc.errors or []
        return any(isinstance(e, dict) and e.get("reason") in _TRANSIENT_REASONS for e in errors)
    if isinstance(exc, TimeoutError):  # a wait deadline of ours (query), not the transport
        return False
    # requests' ConnectionError, Timeout and ChunkedEncodingError are OSErrors.
    return isinstance(exc, OSError | auth_exceptions.TransportError)


def describe(
    exc: BaseException, timeout: float | None = None, *, server_message: bool = True
) -> str:
    """Status code and a short message for a failed call, fit for a CoverageGap reason.

    server_message=False keeps only the status and the error's reason keyword: calls that
    read table contents get answers whose free text may quote the values they choked on.
    """
    if isinstance(exc, api_exceptions.GoogleAPICallError) and exc.code is not None:
        errors = exc.errors or []
        first = errors[0] if errors and isinstance(errors[0], dict) else {}
        status = apierrors.status_line(exc)
        if not server_message:
            keyword = str(first.get("reason", ""))
            shown = f" ({keyword})" if _KEYWORD_RE.fullmatch(keyword) else ""
            return f"{status}{shown}; message withheld: it may quote table data"
        message = apierrors.server_message(exc)
        if not message and first:
            message = str(first.get("message", ""))
        return _short(f"{status}: {message or 'no message'}")
    if isinstance(exc, Malformed):
        return _short(f"malformed answer: {exc}")
    if isinstance(exc, InvalidJSONError):  # an OSError too: not a connection error
        return _short(f"malformed answer: not JSON ({type(exc).__name__}: {exc})")
    if isinstance(exc, TimeoutError):
        return f"timeout after {timeout:g} s" if timeout else "timeout"
    if isinstance(exc, OSError | auth_exceptions.TransportError):
        name = type(exc).__name__
        return _short(f"{'timeout' if 'Timeout' in name else 'connection error'} ({name}: {exc})")
    return _short(f"unexpected {type(exc).__name__}: {exc}")


def _short(text: str) -> str:
    # Secrets a server quoted are redacted before the cut, which could hide them.
    line = " ".join(redact_secrets(text).split())
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 3] + "..."


class _Caller:
    """Runs one API call with bounded retries; failures come out as _Failed(reason)."""

    def __init__(self, options: CollectOptions, *, server_messages: bool = True) -> None:
        self._options = options
        self._server_messages = server_messages  # see describe()
        self._random = random.Random()  # noqa: S311  (jitter, not security)

    def __call__(self, fetch: Callable[[], T], timeout: float | None = None) -> T:
        attempts = self._options.attempts
        for attempt in range(1, attempts + 1):
            try:
                return fetch()
            except Exception as exc:  # every failure becomes a reason, never an escape
                if attempt == attempts or not _transient(exc):
                    reason = describe(
                        exc, timeout or self._options.timeout, server_message=self._server_messages
                    )
                    if attempt > 1:
                        reason += f" (gave up after {attempt} attempts)"
                    raise _Failed(reason) from exc
                delay = min(self._options.backoff * 2 ** (attempt - 1), MAX_BACKOFF)
                time.sleep(delay * self._random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")

    def read(self, fetch: Callable[[], Any], convert: Callable[[Any], T]) -> T:
        """fetch (retried) then convert (not retried); a malformed answer is a _Failed."""
        answer = self(fetch)
        try:
            return convert(answer)
        except Malformed as exc:
            raise _Failed(describe(exc)) from exc
        except Exception as exc:  # a conversion that trips over the answer: malformed too
            raise _Failed(describe(Malformed(f"{type(exc).__name__}: {exc}"))) from exc


# ----------------------------------------------------------------------------- crawl


@dataclass
class _DatasetRead:
    dataset: Dataset | None = None
    tables: dict[str, str] | None = None  # table id -> type, None when not listed
    gaps: list[CoverageGap] = field(default_factory=list)


class _Crawl:
    """One collect() run: the state shared by its phases."""

    def __init__(
        self,
        client: bigquery.Client,
        project: str,
        options: CollectOptions,
        pool: ThreadPoolExecutor,
    ) -> None:
        self.client = client
        self.project = project
        self.options = options
        self.pool = pool
        self.call = _Caller(options)
        self.datasets: list[Dataset] = []
        self.tables: list[Table] = []
        self.gaps: list[CoverageGap] = []
        self.notes: list[str] = []
        self.queries = 0
        self.fallbacks = 0
        self.fast_tables = 0

    # -- phases

    def run(self) -> None:
        dataset_ids = self._list_datasets()
        if dataset_ids is None:
            return
        snapshot: Future[infoschema.RegionSnapshot] | None = None
        if self.options.fast_path and dataset_ids:
            snapshot = self.pool.submit(self._read_region, frozenset(dataset_ids))
        reads = [self.pool.submit(self._safe_dataset, d) for d in dataset_ids]
        listed: dict[str, dict[str, str]] = {}
        for future in reads:
            read = future.result()
            self.gaps.extend(read.gaps)
            if read.dataset is not None:
                self.datasets.append(read.dataset)
                if read.tables is not None:
                    listed[read.dataset.dataset_id] = read.tables
        plan = self._plan(snapshot, listed)
        tasks = [
            self.pool.submit(self._safe_table, key, plan.use.get(key))
            for key in sorted({*plan.use, *plan.fallback})
        ]
        for task in tasks:
            result = task.result()
            self.gaps.extend(result.gaps)
            if result.table is not None:
                self.tables.append(result.table)

    def _list_datasets(self) -> list[str] | None:
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
                )
            )
        except _Failed as failed:
            self.gaps.append(CoverageGap(scope, f"datasets could not be listed: {failed.reason}"))
            return None
        if counted is not None and counted > len(items):
            self.gaps.append(CoverageGap(scope, _cut_short("datasets", len(items), counted)))
        chosen: list[str] = []
        for item in items:
            dataset_id = getattr(item, "dataset_id", None)
            if not isinstance(dataset_id, str) or not infoschema.is_valid_dataset_id(dataset_id):
                self.gaps.append(
                    CoverageGap(scope, f"malformed answer: datasets.list gave {dataset_id!r}")
                )
            elif not self.options.datasets or any(
                fnmatchcase(dataset_id, glob) for glob in self.options.datasets
            ):
                chosen.append(dataset_id)
        return sorted(set(chosen))

    # Unexpected exceptions (bugs) in a task become a gap for its object, not a crash.

    def _safe_dataset(self, dataset_id: str) -> _DatasetRead:
        try:
            return self._read_dataset(dataset_id)
        except Exception as exc:
            scope = dataset_resource(self.project, dataset_id)
            return _DatasetRead(gaps=[CoverageGap(scope, f"could not be read: {describe(exc)}")])

    def _safe_table(self, key: TableKey, prebuilt: Table | None) -> _TableRead:
        try:
            return self._read_table(key, prebuilt)
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
            )
        except _Failed as failed:
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
                )
            )
            read.tables = self.call.read(lambda: items, _listed_tables)
        except _Failed as failed:
            read.gaps.append(CoverageGap(scope, f"tables could not be listed: {failed.reason}"))
            return read
        if counted is not None and counted > len(items):
            read.gaps.append(CoverageGap(scope, _cut_short("tables", len(items), counted)))
        return read

    def _read_region(self, dataset_ids: frozenset[str]) -> infoschema.RegionSnapshot:
        return infoschema.read_region(
            self._run_query,
            self.project,
            self.options.region,
            dataset_ids,
            require_policy_tags=self.options.policy_tags,
        )

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
            return self.call(fetch, wait)
        except _Failed as failed:
            raise QueryFailed(failed.reason) from failed

    def _plan(
        self,
        snapshot: Future[infoschema.RegionSnapshot] | None,
        listed: Mapping[str, Mapping[str, str]],
    ) -> Plan:
        readable = [d for d in self.datasets if d.dataset_id in listed]
        if snapshot is None:
            keys = {(d, t) for d, tables in listed.items() for t in tables}
            return Plan({}, dict.fromkeys(keys, "fast path off"))
        try:
            region = snapshot.result()
        except Exception as exc:  # a bug in the fast path must not lose the crawl
            region = infoschema.RegionSnapshot(
                self.options.region, {}, {}, {}, (f"fast path failed: {describe(exc)}",), 0, False
            )
        self.queries = region.queries
        plan = infoschema.reconcile(region, readable, listed)
        self.fallbacks = len(plan.fallback)
        self.fast_tables = len(plan.use)
        for reason, count in sorted(Counter(plan.fallback.values()).items()):
            self.notes.append(f"{count} table{'s' if count != 1 else ''} read one by one: {reason}")
        return plan

    def _read_table(self, key: TableKey, prebuilt: Table | None) -> _TableRead:
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
                )
            except _Failed as failed:
                result.gaps.append(CoverageGap(scope, f"table could not be read: {failed.reason}"))
                return result
        if self.options.table_iam:
            try:
                iam = self.call.read(
                    lambda: self.client._connection.api_request(  # type: ignore[no-untyped-call]
                        method="POST",
                        path=f"{ref.path}:getIamPolicy",
                        data={"options": {"requestedPolicyVersion": 3}},
                        timeout=timeout,
                    ),
                    iam_from_api,
                )
                table = replace(table, iam=iam)
            except _Failed as failed:
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


@dataclass
class _TableRead:
    table: Table | None = None
    gaps: list[CoverageGap] = field(default_factory=list)


# ----------------------------------------------------------------------------- conversion

LEGACY_ROLES: Mapping[str, str] = {
    "OWNER": "roles/bigquery.dataOwner",
    "WRITER": "roles/bigquery.dataEditor",
    "READER": "roles/bigquery.dataViewer",
}
_GRANTEES = {kind.value: kind for kind in GranteeKind}
_ENTRY_KEYS = frozenset({*_GRANTEES, "role", "condition"})
_TABLE_ID_RE = re.compile(r"[^\x00-\x1f\x7f/`\\]{1,1024}")
MODES = frozenset({"NULLABLE", "REQUIRED", "REPEATED"})
MAX_FIELD_DEPTH = 16


def dataset_from_api(
    raw: Mapping[str, Any], project: str, dataset_id: str
) -> tuple[Dataset, list[str]]:
    """A Dataset from a datasets.get answer, and the problems of entries left out."""
    _check_mapping(raw, "dataset")
    access: list[AccessEntry] = []
    problems: list[str] = []
    entries = raw.get("access") or []
    if not isinstance(entries, list):
        raise Malformed("access is not a list")
    for index, entry in enumerate(entries):
        try:
            access.append(access_entry_from_api(entry))
        except Malformed as exc:
            problems.append(f"access entry #{index + 1} left out: {exc}")
    encryption = _optional_mapping(raw, "defaultEncryptionConfiguration")
    return (
        Dataset(
            project=project,
            dataset_id=dataset_id,
            location=_optional_str(raw, "location"),
            labels=_labels(raw),
            description=_optional_str(raw, "description"),
            access=tuple(access),
            default_kms_key=_optional_str(encryption, "kmsKeyName"),
            etag=_optional_str(raw, "etag"),
        ),
        problems,
    )


def access_entry_from_api(raw: Any) -> AccessEntry:
    """One dataset access entry, role normalised, authorized objects as resource paths."""
    _check_mapping(raw, "access entry")
    unknown = sorted(set(raw) - _ENTRY_KEYS)
    if unknown:
        raise Malformed(f"unknown field {unknown[0]!r}")
    grantees = [key for key in raw if key in _GRANTEES]
    if len(grantees) != 1:
        raise Malformed(f"{len(grantees)} grantees instead of one")
    kind = _GRANTEES[grantees[0]]
    value = raw[kind.value]
    role = _optional_str(raw, "role")
    condition = _condition(raw.get("condition"))
    target_types: tuple[str, ...] = ()
    if kind is GranteeKind.VIEW:
        entity = _ref_path(value, "tableId", "tables")
    elif kind is GranteeKind.ROUTINE:
        entity = _ref_path(value, "routineId", "routines")
    elif kind is GranteeKind.DATASET:
        _check_mapping(value, "dataset entry")
        if value.get("dataset") is None:
            raise Malformed("dataset entry without a dataset reference")
        entity = _ref_path(value["dataset"], None, None)
        types = value.get("targetTypes") or []
        if not isinstance(types, list) or not all(isinstance(t, str) and t for t in types):
            raise Malformed("targetTypes is not a list of names")
        target_types = tuple(types)
    else:
        if not isinstance(value, str) or not value:
            raise Malformed(f"{kind.value} is empty")
        entity = value
    return AccessEntry(
        kind=kind,
        entity=entity,
        role=LEGACY_ROLES.get(role, role) if role is not None else None,
        target_types=target_types,
        condition=condition,
    )


def _ref_path(value: Any, leaf_key: str | None, leaf_kind: str | None) -> str:
    _check_mapping(value, "reference")
    parts = [value.get("projectId"), value.get("datasetId")]
    if leaf_key is not None:
        parts.append(value.get(leaf_key))
    if not all(isinstance(p, str) and p and "/" not in p for p in parts):
        raise Malformed("reference with an empty or invalid projectId/datasetId/id")
    path = f"projects/{parts[0]}/datasets/{parts[1]}"
    return f"{path}/{leaf_kind}/{parts[2]}" if leaf_kind else path


def _condition(raw: Any) -> Condition | None:
    if raw is None:
        return None
    _check_mapping(raw, "condition")
    expression = raw.get("expression")
    if not isinstance(expression, str) or not expression:
        raise Malformed("condition without an expression")
    return Condition(
        expression=expression,
        title=_optional_str(raw, "title"),
        description=_optional_str(raw, "description"),
    )


def _listed_tables(items: Sequence[Any]) -> dict[str, str]:
    tables: dict[str, str] = {}
    for item in items:
        table_id, table_type = getattr(item, "table_id", None), getattr(item, "table_type", None)
        if not isinstance(table_id, str) or _TABLE_ID_RE.fullmatch(table_id) is None:
            raise Malformed(f"tables.list gave the table id {table_id!r}")
        if not isinstance(table_type, str) or not table_type:
            raise Malformed(f"tables.list gave no type for {table_id}")
        tables[table_id] = table_type
    return tables


def table_from_api(raw: Mapping[str, Any], project: str, dataset_id: str, table_id: str) -> Table:
    """A Table (iam None) from a tables.get answer; Malformed when it lacks what it needs."""
    _check_mapping(raw, "table")
    table_type = raw.get("type")
    if not isinstance(table_type, str) or not table_type:
        raise Malformed("table without a type")
    schema = _optional_mapping(raw, "schema")
    view_query: str | None = None
    for kind, key in (("VIEW", "view"), ("MATERIALIZED_VIEW", "materializedView")):
        definition = _optional_mapping(raw, key)
        query = _optional_str(definition, "query")
        if table_type == kind and query is None:
            raise Malformed(f"{kind.lower().replace('_', ' ')} without a query")
        view_query = view_query or query
    return Table(
        project=project,
        dataset_id=dataset_id,
        table_id=table_id,
        type=table_type,
        fields=fields_from_api(schema.get("fields"), 1),
        view_query=view_query,
        kms_key=_optional_str(_optional_mapping(raw, "encryptionConfiguration"), "kmsKeyName"),
        labels=_labels(raw),
        description=_optional_str(raw, "description"),
    )


def fields_from_api(raw: Any, depth: int) -> tuple[Field, ...]:
    """Schema fields, types in canonical standard SQL spelling (INTEGER -> INT64)."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise Malformed("schema fields are not a list")
    if depth > MAX_FIELD_DEPTH:
        raise Malformed("schema nested too deeply")
    fields: list[Field] = []
    for item in raw:
        _check_mapping(item, "schema field")
        name, type_name = item.get("name"), item.get("type")
        if not isinstance(name, str) or not name or not isinstance(type_name, str):
            raise Malformed("schema field without a name or type")
        mode = item.get("mode") or "NULLABLE"
        if mode not in MODES:
            raise Malformed(f"field {name} has mode {mode!r}")
        tags = _optional_mapping(item, "policyTags").get("names") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
            raise Malformed(f"field {name} has unreadable policy tags")
        fields.append(
            Field(
                # Interned: thousands of tenant tables repeat the same few schemas, and
                # each answer would otherwise keep its own copy of every name and text.
                name=sys.intern(name),
                type=canonical_type(type_name),
                mode=sys.intern(mode),
                description=_interned(_optional_str(item, "description")),
                fields=fields_from_api(item.get("fields"), depth + 1),
                policy_tags=tuple(tags),
            )
        )
    return tuple(fields)


def _interned(text: str | None) -> str | None:
    return None if text is None else sys.intern(text)


def iam_from_api(raw: Any) -> tuple[IamBinding, ...]:
    """Table IAM bindings, members sorted and bindings in a fixed order."""
    _check_mapping(raw, "IAM policy")
    bindings = raw.get("bindings") or []
    if not isinstance(bindings, list):
        raise Malformed("IAM bindings are not a list")
    out: list[IamBinding] = []
    for binding in bindings:
        _check_mapping(binding, "IAM binding")
        role, members = binding.get("role"), binding.get("members") or []
        if not isinstance(role, str) or not role:
            raise Malformed("IAM binding without a role")
        if not isinstance(members, list) or not all(isinstance(m, str) and m for m in members):
            raise Malformed(f"IAM binding for {role} has unreadable members")
        out.append(IamBinding(role, tuple(sorted(members)), _condition(binding.get("condition"))))
    return tuple(sorted(out, key=_binding_order))


def _binding_order(binding: IamBinding) -> tuple[str, str, tuple[str, ...]]:
    condition = binding.condition.expression if binding.condition else ""
    return binding.role, condition, binding.members


def _check_mapping(value: Any, what: str) -> None:
    if not isinstance(value, Mapping):
        raise Malformed(f"{what} is not an object")


def _optional_mapping(raw: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = raw.get(key)
    if value is None:
        return {}
    _check_mapping(value, key)
    return value  # type: ignore[no-any-return]


def _optional_str(raw: Mapping[str, Any], key: str) -> str | None:
    """A string field; absent and empty are both None."""
    value = raw.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Malformed(f"{key} is not a string")
    return value


def _labels(raw: Mapping[str, Any]) -> dict[str, str]:
    labels = _optional_mapping(raw, "labels")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()):
        raise Malformed("labels are not strings")
    return dict(labels)
