"""Frozen data shared by every stage: what sources collect, what checks emit.

Sources fill an Inventory; checks read it and emit CheckResults; the engine turns those
into Findings; reporters render a Report. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {
    Severity.INFO: 0,
    Severity.LOW: 1,
    Severity.MEDIUM: 2,
    Severity.HIGH: 3,
    Severity.CRITICAL: 4,
}


class Status(StrEnum):
    PASS = "PASS"  # noqa: S105  (a status, not a password)
    FAIL = "FAIL"
    ERROR = "ERROR"
    WAIVED = "WAIVED"
    SKIPPED = "SKIPPED"


class Origin(StrEnum):
    """Where a table definition came from."""

    TEMPLATE = "template"
    SQL_DOC = "sql_doc"
    LIVE = "live"


# BigQuery's legacy type names and their standard SQL equivalents.
LEGACY_TYPE_ALIASES: Mapping[str, str] = {
    "INTEGER": "INT64",
    "FLOAT": "FLOAT64",
    "BOOLEAN": "BOOL",
    "RECORD": "STRUCT",
}


def canonical_type(type_name: str) -> str:
    """Upper-case standard SQL name of a BigQuery type (INTEGER -> INT64, RECORD -> STRUCT)."""
    upper = type_name.upper()
    return LEGACY_TYPE_ALIASES.get(upper, upper)


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a file: path relative to the scanned root, 1-based line."""

    path: str
    line: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else self.path


@dataclass(frozen=True)
class Field:
    """One column of a table schema; RECORD/STRUCT columns carry their sub-fields."""

    name: str
    type: str
    mode: str = "NULLABLE"
    description: str | None = None
    fields: tuple[Field, ...] = ()
    policy_tags: tuple[str, ...] = ()
    line: int | None = None

    @property
    def canonical_type(self) -> str:
        return canonical_type(self.type)

    @property
    def is_record(self) -> bool:
        return self.canonical_type == "STRUCT"


def walk_fields(fields: tuple[Field, ...], prefix: str = "") -> Iterator[tuple[str, Field]]:
    """Yield (dotted path, field) for every field, parents before their children."""
    for f in fields:
        path = f"{prefix}.{f.name}" if prefix else f.name
        yield path, f
        if f.fields:
            yield from walk_fields(f.fields, path)


@dataclass(frozen=True)
class TableSchema:
    """A table definition: a JSON template or a CREATE TABLE in a SQL doc.

    `dataset` is the dataset as written in a SQL doc (e.g. "{tenant_id}" or "customers");
    templates carry None (their folder says which dataset kind they serve).
    """

    name: str
    fields: tuple[Field, ...]
    origin: Origin
    location: Location
    dataset: str | None = None

    def columns(self) -> Iterator[tuple[str, Field]]:
        return walk_fields(self.fields)


@dataclass(frozen=True)
class Problem:
    """Something invalid in an input file, found while loading it."""

    path: str
    message: str
    line: int | None = None
    column: str | None = None  # dotted column path, when the problem is about one column
    # True when part of the file could not be read at all, so its contents went unchecked.
    unread: bool = False

    @property
    def location(self) -> Location:
        return Location(self.path, self.line)

    def __str__(self) -> str:
        where = f"{self.location}"
        col = f" [{self.column}]" if self.column else ""
        return f"{where}{col}: {self.message}"


@dataclass(frozen=True)
class CoverageGap:
    """Part of the estate the audit could not examine, and why. Makes the run incomplete."""

    scope: str
    reason: str


@dataclass(frozen=True)
class InputFile:
    """An input the audit read, for the evidence manifest."""

    path: str
    sha256: str


class InputKind(StrEnum):
    """What discovery made of a file under a scanned root."""

    TEMPLATE = "template"
    SQL_DOC = "sql_doc"
    SKIPPED = "skipped"


class TemplateScope(StrEnum):
    """Which kind of dataset a template serves (by its path): the rules' tenant/customers
    scopes, or neither."""

    TENANT = "tenant"
    CUSTOMERS = "customers"
    OTHER = "other"


@dataclass(frozen=True)
class DiscoveredInput:
    """One file discovery looked at and how it was classified: a template (and its scope), a
    SQL doc (and its dialect), or skipped (and why)."""

    path: str  # relative to the scanned root, posix
    kind: InputKind
    scope: TemplateScope | None = None  # templates only
    dialect: str | None = None  # SQL docs only
    reason: str | None = None  # skipped files only

    @property
    def label(self) -> str:
        """How a listing names the classification: 'tenant template', 'SQL doc (bigquery)',
        'skipped: <why>'."""
        if self.kind is InputKind.TEMPLATE:
            return f"{(self.scope or TemplateScope.OTHER).value} template"
        if self.kind is InputKind.SQL_DOC:
            return f"SQL doc ({self.dialect or 'bigquery'})"
        return f"skipped: {self.reason or 'no reason recorded'}"


@dataclass(frozen=True)
class Discovery:
    """What the gate looked at: every discovered file, the config it read, and warnings
    about the inputs (e.g. nothing in tenant scope)."""

    files: tuple[DiscoveredInput, ...] = ()
    config: str | None = None  # the project config file, when one was read
    warnings: tuple[str, ...] = ()

    @property
    def summary(self) -> str:
        """'12 files: 3 tenant templates, 1 other template, 2 SQL docs (bigquery), 6 skipped'."""
        counts: dict[str, int] = {}
        for item in self.files:
            key = item.label if item.kind is not InputKind.SKIPPED else "skipped"
            counts[key] = counts.get(key, 0) + 1
        order = [f"{s.value} template" for s in TemplateScope]
        keys = sorted(counts, key=lambda k: (order.index(k) if k in order else len(order), k))
        parts = ", ".join(_counted(counts[k], k) for k in keys) or "nothing"
        return f"{_counted(len(self.files), 'file')}: {parts}"


def _counted(count: int, noun: str) -> str:
    """'1 tenant template', '2 tenant templates', '2 SQL docs (bigquery)', '3 skipped'."""
    if count == 1 or noun == "skipped":
        return f"{count} {noun}"
    head, paren, rest = noun.partition(" (")
    return f"{count} {head}s{paren}{rest}"


BIGQUERY_RESOURCE_PREFIX = "//bigquery.googleapis.com/"


def dataset_resource(project: str, dataset_id: str) -> str:
    return f"{BIGQUERY_RESOURCE_PREFIX}projects/{project}/datasets/{dataset_id}"


def table_resource_name(project: str, dataset_id: str, table_id: str) -> str:
    return f"{dataset_resource(project, dataset_id)}/tables/{table_id}"


class GranteeKind(StrEnum):
    """The grantee field of a dataset access entry, named as in the BigQuery REST API."""

    USER = "userByEmail"
    GROUP = "groupByEmail"
    DOMAIN = "domain"
    SPECIAL_GROUP = "specialGroup"
    IAM_MEMBER = "iamMember"
    VIEW = "view"
    ROUTINE = "routine"
    DATASET = "dataset"


@dataclass(frozen=True)
class Condition:
    """An IAM condition (CEL expression), kept as written."""

    expression: str
    title: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class AccessEntry:
    """One dataset access entry.

    `entity` is what the API names: an email, a domain, a special group (projectReaders,
    allAuthenticatedUsers), an IAM member (allUsers), or for view/routine/dataset entries the
    authorized object as `projects/P/datasets/D[/tables/T | /routines/R]`.
    `role` is normalised to the IAM name (READER -> roles/bigquery.dataViewer); None for
    view/routine/dataset entries, which carry no role.
    """

    kind: GranteeKind
    entity: str
    role: str | None = None
    target_types: tuple[str, ...] = ()
    condition: Condition | None = None


@dataclass(frozen=True)
class IamBinding:
    role: str
    members: tuple[str, ...]
    condition: Condition | None = None


@dataclass(frozen=True)
class Dataset:
    project: str
    dataset_id: str
    location: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    access: tuple[AccessEntry, ...] = ()
    default_kms_key: str | None = None
    etag: str | None = None

    @property
    def resource(self) -> str:
        return dataset_resource(self.project, self.dataset_id)


@dataclass(frozen=True)
class Table:
    """A live table or view."""

    project: str
    dataset_id: str
    table_id: str
    type: str = "TABLE"  # TABLE, VIEW, MATERIALIZED_VIEW, EXTERNAL, SNAPSHOT
    fields: tuple[Field, ...] = ()
    view_query: str | None = None
    kms_key: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    description: str | None = None
    # Table-level IAM; None when it was not read (then a coverage gap says why).
    iam: tuple[IamBinding, ...] | None = None

    @property
    def resource(self) -> str:
        return table_resource_name(self.project, self.dataset_id, self.table_id)

    @property
    def schema(self) -> TableSchema:
        return TableSchema(
            name=self.table_id,
            fields=self.fields,
            origin=Origin.LIVE,
            location=Location(self.resource),
            dataset=self.dataset_id,
        )


@dataclass(frozen=True)
class ResourcePolicy:
    """The IAM allow policy of one resource: `projects/P`, `folders/N`, `organizations/N`,
    or a service account `projects/P/serviceAccounts/EMAIL` (who may impersonate it)."""

    resource: str
    bindings: tuple[IamBinding, ...]
    etag: str | None = None


@dataclass(frozen=True)
class DenyRule:
    """One rule of an IAM deny policy; principals in the IAM v2 form
    (principal://goog/subject/..., principalSet://goog/group/...), permissions as
    `bigquery.googleapis.com/tables.getData`."""

    denied_principals: tuple[str, ...]
    denied_permissions: tuple[str, ...]
    exception_principals: tuple[str, ...] = ()
    exception_permissions: tuple[str, ...] = ()
    condition: Condition | None = None


@dataclass(frozen=True)
class DenyPolicy:
    attachment: str  # e.g. cloudresourcemanager.googleapis.com/projects/gac-prod-471220
    name: str
    rules: tuple[DenyRule, ...]


@dataclass(frozen=True)
class GroupMembership:
    group: str  # the group's email
    member: str  # an IAM member string: user:..., serviceAccount:..., group:...


class RoleStatus(StrEnum):
    DEFINED = "defined"  # the permissions are known
    DELETED = "deleted"  # the estate says the role does not exist: its bindings grant nothing
    UNRESOLVED = "unresolved"  # a lookup failed: the role stays unknown (a coverage gap)


@dataclass(frozen=True)
class CustomRole:
    """A role definition read from the estate: a custom role, or a predefined role the
    shipped catalog lacks (IAM roles.get, or an exported `gcloud iam roles describe`)."""

    name: str  # projects/P/roles/R, organizations/N/roles/R or roles/R
    permissions: tuple[str, ...]
    status: RoleStatus = RoleStatus.DEFINED
    detail: str = ""  # where a looked-up definition came from, or why it is deleted/unresolved


@dataclass(frozen=True)
class ValueHit:
    """Credential-like values found in a table's contents. Never holds a value: the detector,
    where, how many sampled rows matched, a short redacted prefix and a hash of one match."""

    table: str  # full resource name
    column: str  # dotted column path
    detector: str  # detector id from the catalog
    rows: int
    prefix: str
    fingerprint: str


@dataclass(frozen=True)
class ContentScan:
    """One table whose contents were scanned, and how."""

    table: str  # full resource name
    mode: str  # local | pushdown | dlp
    rows_scanned: int
    columns: tuple[str, ...]  # dotted paths of the columns examined


@dataclass(frozen=True)
class Inventory:
    """Everything the sources collected. Checks read only this."""

    root: str
    templates: tuple[TableSchema, ...] = ()
    sql_tables: tuple[TableSchema, ...] = ()
    problems: tuple[Problem, ...] = ()
    gaps: tuple[CoverageGap, ...] = ()
    inputs: tuple[InputFile, ...] = ()
    project: str | None = None
    datasets: tuple[Dataset, ...] = ()
    live_tables: tuple[Table, ...] = ()
    # Resource hierarchy, nearest first: projects/P, folders/N..., organizations/N.
    ancestry: tuple[str, ...] = ()
    iam_policies: tuple[ResourcePolicy, ...] = ()
    deny_policies: tuple[DenyPolicy, ...] = ()
    group_memberships: tuple[GroupMembership, ...] = ()
    custom_roles: tuple[CustomRole, ...] = ()
    content_scans: tuple[ContentScan, ...] = ()
    value_hits: tuple[ValueHit, ...] = ()
    # When the estate was read (a snapshot's creation time): replays evaluate at this time.
    collected_at: datetime | None = None

    @property
    def tables(self) -> tuple[TableSchema, ...]:
        """Every table definition: templates, SQL-doc tables and live tables."""
        return self.templates + self.sql_tables + tuple(t.schema for t in self.live_tables)


@dataclass(frozen=True)
class CheckResult:
    """What a check says about one resource; the engine adds the rule's metadata."""

    status: Status
    resource: str
    message: str
    column: str | None = None
    principal: str | None = None
    location: Location | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class WaiverRef:
    """The waiver that applied to (or expired on) a finding."""

    reason: str
    owner: str
    expires: str  # ISO date
    expired: bool = False


@dataclass(frozen=True, slots=True)  # 100,000 of them in a large report
class Finding:
    rule_id: str
    rule_name: str
    status: Status
    severity: Severity
    resource: str
    message: str
    column: str | None = None
    principal: str | None = None
    location: Location | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    remediation: str | None = None
    waiver: WaiverRef | None = None
    in_baseline: bool = False  # present in the baseline: does not block a pull request

    @property
    def fingerprint(self) -> str:
        """Stable id: the same problem keeps it when lines move or messages are reworded."""
        return fingerprint(self.rule_id, self.resource, self.column, self.principal)


def fingerprint(rule_id: str, resource: str, column: str | None, principal: str | None) -> str:
    key = "\x1f".join((rule_id, resource, column or "", principal or ""))
    # surrogatepass: a snapshot can carry an unpaired surrogate; any other string's bytes,
    # and so its fingerprint, are the same as with plain UTF-8.
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:24]


@dataclass(frozen=True)
class RuleInfo:
    """The metadata of a rule that reporters need (SARIF rules, JUnit suites, HTML controls)."""

    id: str
    name: str
    title: str
    severity: Severity
    rationale: str
    remediation: str
    references: tuple[str, ...] = ()
    frameworks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class RunScope:
    """What one run examined. A finding outside a run's scope says nothing about it: a
    narrowed run (--only, --dataset) neither resolves nor raises findings it did not check.
    A config's own dataset list is the standing scope, not a narrowing."""

    rules: tuple[str, ...] = ()  # ids of the rules evaluated
    project: str | None = None
    datasets: tuple[str, ...] = ()  # dataset ids examined (live runs)
    rule_filter: tuple[str, ...] = ()  # --only: empty when the whole pack ran
    dataset_filter: tuple[str, ...] = ()  # dataset globs applied: empty when every dataset was read
    sources: tuple[str, ...] = ()  # where the inventory came from, e.g. "bigquery", "snapshot"
    # The standing scope's dataset globs (auditor.toml [scope] datasets), which every run of
    # that config applies: empty when it is every dataset.
    configured_datasets: tuple[str, ...] = ()

    @property
    def narrowed_datasets(self) -> bool:
        """Whether the dataset globs applied leave out part of the standing scope (a
        --dataset narrower than the config's): globs compared as text, so any other set
        of globs counts as narrower."""
        if not self.dataset_filter:
            return False
        return not self.configured_datasets or not set(self.configured_datasets) <= set(
            self.dataset_filter
        )

    @property
    def narrowed(self) -> bool:
        """Less than the standing scope examined: --only, or --dataset narrower than it."""
        return bool(self.rule_filter) or self.narrowed_datasets


@dataclass(frozen=True)
class CheckContext:
    """What a check may know beyond the inventory and its rule. Checks never read the clock:
    the run's evaluation time decides time-bound IAM conditions, so `scan`, `nightly` and
    `access explain` give one answer, and a snapshot replays as it was collected."""

    evaluation_time: datetime  # timezone-aware
    scope: RunScope = field(default_factory=RunScope)


@dataclass(frozen=True)
class PolicyPack:
    """The rule files a run evaluated, for the evidence manifest. `origin` says whose pack
    it is (the one shipped with a tool version, or the paths given)."""

    files: tuple[InputFile, ...]
    origin: str

    @property
    def sha256(self) -> str:
        """SHA-256 of the `sha256sum` listing of the files ("<hex>  <path>\n"), sorted by
        path: `LC_ALL=C sha256sum FILES | sha256sum` gives it again."""
        listing = "".join(f"{f.sha256}  {f.path}\n" for f in sorted(self.files, key=_path_of))
        return hashlib.sha256(listing.encode("utf-8", "surrogatepass")).hexdigest()


def _path_of(item: InputFile) -> str:
    return item.path


@dataclass(frozen=True)
class RunInfo:
    started_at: datetime
    finished_at: datetime
    root: str
    command: str
    coverage: tuple[CoverageGap, ...] = ()
    errors: tuple[str, ...] = ()
    inputs: tuple[InputFile, ...] = ()
    tool_version: str = ""
    evaluation_time: datetime | None = None  # None only in reports written before it existed
    scope: RunScope = field(default_factory=RunScope)
    policy_pack: PolicyPack | None = None  # None only in reports written before it existed
    discovery: Discovery | None = None  # the gate's inputs and how they were classified

    @property
    def complete(self) -> bool:
        return not self.coverage and not self.errors


@dataclass(frozen=True)
class Report:
    run: RunInfo
    rules: tuple[RuleInfo, ...]
    findings: tuple[Finding, ...]
    # Where a live finding's table is defined, by (resource, column): its template or SQL
    # doc, at the column's line when it is defined there (SARIF points code scanning at it).
    definitions: Mapping[tuple[str, str | None], Location] = field(default_factory=dict)
