"""What a live BigQuery collection is asked (CollectOptions) and gives back (LiveCollection,
with CollectStats for the report's run.collection), and the bulk reader of table IAM it may
be given (TablePolicyReader, e.g. auditor.sources.assets). The collection itself is
auditor.sources.bigquery.collect.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from auditor.errors import UsageError
from auditor.gcp import pacing, retry
from auditor.gcp.retry import RetryPolicy
from auditor.model import CollectionStats, CoverageGap, Dataset, IamBinding, Table
from auditor.sources import infoschema

__all__ = [
    "Call",
    "CollectOptions",
    "CollectStats",
    "LiveCollection",
    "TablePolicies",
    "TablePolicyReader",
]


@dataclass(frozen=True)
class CollectOptions:
    # Calls in flight at most (threads). BigQuery allows 300 concurrent requests per user
    # and 100 per second per method; pacing keeps to both and halves this on a 429.
    workers: int = 32
    fast_path: bool = True  # INFORMATION_SCHEMA schemas, one query per view and location
    # Locations whose INFORMATION_SCHEMA is read (e.g. ("us", "europe-west4")); empty: every
    # location the datasets live in. Datasets elsewhere have their tables read one by one.
    regions: tuple[str, ...] = ()
    table_iam: bool = True  # read table IAM policies
    # Datasets (fnmatch globs) whose tables must carry column policy tags. Where
    # INFORMATION_SCHEMA has no policy_tags column, their tables are read one by one; other
    # tables then come without policy tags (no rule reads them today).
    policy_tags: tuple[str, ...] = ()
    datasets: tuple[str, ...] = ()  # fnmatch globs (case-sensitive) to limit the scan
    # Requests per second per API method: BigQuery's documented default quota (100; jobs.get
    # 1,000). A project whose quota was raised may say so here.
    method_rate: float = pacing.BIGQUERY_METHOD_RATE
    timeout: float = 30.0  # per HTTP call; a query may run QUERY_WAIT_FACTOR times longer
    attempts: int = 4  # tries per call, the first included
    backoff: float = 0.5  # seconds before the first retry; doubles, with jitter, up to 8 s

    def check(self, project: str) -> None:
        """UsageError for an invalid project or option (before any request)."""
        if not isinstance(project, str) or infoschema.PROJECT_RE.fullmatch(project) is None:
            raise UsageError(f"invalid project id {project!r}")
        for region in self.regions:
            if infoschema.REGION_RE.fullmatch(region) is None:
                raise UsageError(f"invalid region {region!r} (e.g. us, eu, us-central1)")
        if self.workers < 1 or self.attempts < 1:
            raise UsageError("workers and attempts must be at least 1")
        if not self.method_rate > 0:
            raise UsageError("method_rate must be positive")
        if not self.timeout > 0 or self.backoff < 0:
            raise UsageError("timeout must be positive and backoff not negative")

    @property
    def retry_policy(self) -> RetryPolicy:
        """BigQuery's retry limits with these attempts, backoff and timeout."""
        return replace(
            retry.BIGQUERY, attempts=self.attempts, initial=self.backoff, timeout=self.timeout
        )


@dataclass(frozen=True)
class CollectStats:
    api_calls: int  # HTTP requests sent through the client's session (and to the asset API)
    queries: int  # INFORMATION_SCHEMA queries issued
    fast_path_used: bool  # at least one table was taken from INFORMATION_SCHEMA
    fallbacks: int  # tables read one by one although the fast path was on
    seconds: float
    # Why the fast path did not serve some tables: "N tables read one by one: <reason>".
    notes: tuple[str, ...] = ()
    calls: Mapping[str, int] = field(default_factory=dict)  # HTTP requests per API method
    fast_path_tables: int = 0
    fallback_kinds: Mapping[str, int] = field(default_factory=dict)  # Fallback -> tables
    locations: tuple[str, ...] = ()  # locations whose INFORMATION_SCHEMA was read
    table_iam: str = ""  # where table IAM came from
    throttled: int = 0
    concurrency: int = 0
    lowest_concurrency: int = 0
    rate_wait: float = 0.0  # seconds calls waited for their method's turn, summed

    def run_section(self) -> CollectionStats:
        """These figures as the report's run.collection."""
        return CollectionStats(
            seconds=self.seconds,
            calls=dict(self.calls),
            fast_path_tables=self.fast_path_tables,
            fallbacks=dict(self.fallback_kinds),
            locations=self.locations,
            table_iam=self.table_iam,
            throttled=self.throttled,
            concurrency=self.concurrency,
            lowest_concurrency=self.lowest_concurrency,
            notes=self.notes,
        )


@dataclass(frozen=True)
class LiveCollection:
    datasets: tuple[Dataset, ...]
    tables: tuple[Table, ...]
    gaps: tuple[CoverageGap, ...]
    stats: CollectStats


TablePolicies = Mapping[str, tuple[IamBinding, ...]]  # table resource name -> bindings
Call = Callable[[Callable[[], Any], str], Any]  # (fetch, method) -> answer, paced and retried


class TablePolicyReader(Protocol):
    """Reads, in bulk, the IAM policies of a project's tables that have one (by resource
    name); a table it does not name has none. Raises CallFailed or Malformed."""

    source: str  # named in the run section, e.g. "cloud-asset-inventory"
    methods: tuple[str, ...]  # the API methods it calls (counted in the run section)

    def __call__(self, project: str, call: Call) -> TablePolicies: ...
