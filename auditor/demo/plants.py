"""The violations planted in the demo estate: each plant is a change to the baseline estate
and the violation it introduces, so a scan of the estate can be checked against exactly them.

Three catalogs: VIOLATION_PLANTS (schema, ACL and key problems), CONTENT_SECRET_PLANTS
(secrets inside row values) and GENAI_PATH_PLANTS (ways for a GenAI principal to reach the
customers dataset). `active_plants` picks those an estate's options keep; `apply_change` makes
one change to a dataset spec (pure). Apart from `auditor.demo.estate`, which builds the
baseline and applies these: what is planted is data a reader checks on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from auditor.demo.specs import (
    CUSTOMER_LOOKUP_VIEW,
    CUSTOMERS_DATASET,
    DEFAULT_OPTIONS,
    GENAI_AGENT,
    ML_ENGINEERS,
    SCRATCH_DATASET,
    CellValue,
    DatasetSpec,
    Grant,
    SeedOptions,
    TableGrant,
    TableSpec,
    ViewSpec,
    tenant_ids,
)
from auditor.detect.catalog import join_example
from auditor.model import GranteeKind


class ViolationKind(StrEnum):
    CREDENTIAL_COLUMN = "credential-column"
    PUBLIC_DATASET = "public-dataset"
    SCHEMA_DRIFT = "schema-drift"
    MISSING_DEFAULT_CMEK = "missing-default-cmek"
    CONTENT_SECRET = "content-secret"  # noqa: S105  (a kind name; CONTENT_SECRET_PLANTS)
    GENAI_PATH = "genai-path"  # GENAI_PATH_PLANTS


@dataclass(frozen=True)
class PlantedViolation:
    """A violation the demo estate contains on purpose. `table` and `column` are None when
    the violation is about the dataset; `detail` says what exactly was planted."""

    kind: ViolationKind
    dataset: str
    table: str | None
    column: str | None
    detail: str


# ---------------------------------------------------------------------------- changes


@dataclass(frozen=True)
class AddColumn:
    field: Mapping[str, Any]


@dataclass(frozen=True)
class RetypeColumn:
    column: str  # top-level column
    type: str


@dataclass(frozen=True)
class DropColumn:
    column: str  # top-level column


@dataclass(frozen=True)
class AddAccess:
    grant: Grant


@dataclass(frozen=True)
class DropDefaultKmsKey:
    """The dataset loses its default key; its tables keep theirs (created before)."""


@dataclass(frozen=True)
class SetCell:
    """Hook for content-secret plants: write `value` into one row's column."""

    row: int
    column: str
    value: str


@dataclass(frozen=True)
class AddTableIam:
    """Hook for GenAI-path plants: a table IAM binding (faithful engine only)."""

    grant: TableGrant


@dataclass(frozen=True)
class AddView:
    """A view named by the plant's `table` in the plant's dataset. `query` may say
    `{project}` for the estate's project. With `authorize_on`, that dataset's access list
    also gets a `view` entry for it (an authorized view: whoever can query the view reads
    the authorizing dataset's data through it; faithful engine only)."""

    query: str
    authorize_on: str | None = None


Change = (
    AddColumn
    | RetypeColumn
    | DropColumn
    | AddAccess
    | DropDefaultKmsKey
    | SetCell
    | AddTableIam
    | AddView
)


@dataclass(frozen=True)
class Plant:
    """One change to the baseline estate and the violation it introduces. A plant on a
    tenant the options do not create is skipped, and so is a faithful-only plant on the fast
    engine; `planted_violations` lists exactly the plants that apply."""

    violation: PlantedViolation
    change: Change
    faithful_only: bool = False


def _public_grant(kind: GranteeKind, entity: str) -> Grant:
    return Grant(kind, entity, "READER")


VIOLATION_PLANTS: tuple[Plant, ...] = (
    Plant(
        PlantedViolation(
            ViolationKind.CREDENTIAL_COLUMN,
            "globex",
            "x_meta_step_logs",
            "api_token",
            "extra column api_token STRING in a tenant table (values left NULL)",
        ),
        AddColumn(
            {
                "name": "api_token",
                "type": "STRING",
                "mode": "NULLABLE",
                "description": "API token used by the step to call the source system.",
            }
        ),
    ),
    Plant(
        PlantedViolation(
            ViolationKind.PUBLIC_DATASET,
            "initech",
            None,
            None,
            "specialGroup:allAuthenticatedUsers READER",
        ),
        AddAccess(_public_grant(GranteeKind.SPECIAL_GROUP, "allAuthenticatedUsers")),
    ),
    Plant(
        PlantedViolation(
            ViolationKind.PUBLIC_DATASET,
            "initech",
            None,
            None,
            "iamMember:allUsers READER",
        ),
        AddAccess(_public_grant(GranteeKind.IAM_MEMBER, "allUsers")),
        faithful_only=True,
    ),
    Plant(
        PlantedViolation(
            ViolationKind.SCHEMA_DRIFT,
            "umbrella",
            "x_meta_dq_results",
            "pass_rate",
            "type STRING, template says FLOAT",
        ),
        RetypeColumn("pass_rate", "STRING"),
    ),
    Plant(
        PlantedViolation(
            ViolationKind.SCHEMA_DRIFT,
            "umbrella",
            "x_meta_dq_results",
            "rows_failed",
            "column missing, template says INTEGER",
        ),
        DropColumn("rows_failed"),
    ),
    Plant(
        PlantedViolation(
            ViolationKind.MISSING_DEFAULT_CMEK,
            "umbrella",
            None,
            None,
            "no default KMS key (CIS GCP 7.3); its tables keep their CMEK",
        ),
        DropDefaultKmsKey(),
    ),
)
"""The planted violations (1)-(4):

1. globex: x_meta_step_logs has an extra `api_token STRING` column (a credential column in a
   GenAI-readable tenant table); its values are NULL, so no secret value is planted.
2. initech is public: specialGroup allAuthenticatedUsers READER, and on the faithful engine
   also iamMember allUsers READER (faithful-only by design; the fast engine would store it).
3. umbrella: x_meta_dq_results drifted from its template: pass_rate is STRING instead of FLOAT,
   rows_failed is missing (two violations, one per column).
4. umbrella has no default KMS key (CIS GCP 7.3). Its tables keep the CMEK they were created
   with, so the table-level control (CIS 7.2) passes.

A scan of the estate also shows consequences of these: the drift check sees globex's extra
column, and the scratch dataset is unclassified by design; neither is listed here.
"""


def _content_secret(dataset: str, table: str, column: str, detail: str, value: str) -> Plant:
    """A secret written into row 0 (so it applies whatever rows_per_table is, from 1)."""
    return Plant(
        PlantedViolation(ViolationKind.CONTENT_SECRET, dataset, table, column, detail),
        SetCell(row=0, column=column, value=join_example(value)),
    )


CONTENT_SECRET_PLANTS: tuple[Plant, ...] = (
    _content_secret(
        "globex",
        "x_meta_step_logs",
        "error_message",
        "a Google API key (google-api-key) in a logged request URL",
        "403 Forbidden from GET https://maps.googleapis.com/maps/api/geocode/json?address="
        "Berlin&key=AIza{{}}FAKEd3m0Gl0b3xK9Tf2Qw7ZpL4vN8sR1hJ5: API key not valid. "
        "Please pass a valid API key.",
    ),
    _content_secret(
        "acme_corp",
        "x_meta_pipeline_runs",
        "error_message",
        "a bearer token (authorization-bearer) in logged request headers",
        "401 Unauthorized from POST https://api.acme-crm.example/v2/export (request headers: "
        "Authorization: Bearer FAKE{{}}acme7Qw9Zt2Lp4Xv8Rn3Ks6Hd1Jf5Mb0Yc2Wg8)",
    ),
    _content_secret(
        "initech",
        "x_meta_pipeline_runs",
        "run_config.source.query",
        "a PostgreSQL DSN with its password (url-credentials) in a logged extraction query",
        "SELECT * FROM EXTERNAL_QUERY('postgresql://etl_reader:Sx9-FAKE{{}}-pw4Tq@10.20.0.5:"
        "5432/sales', 'SELECT order_id, total FROM orders WHERE updated_at >= "
        "@processing_date')",
    ),
)
"""The secrets inside tenant values (5a), one per tenant table, each in row 0:

a. globex x_meta_step_logs.error_message: a Google API key in the URL of a failed request.
b. acme_corp x_meta_pipeline_runs.error_message: a bearer token in logged request headers.
c. initech x_meta_pipeline_runs.run_config.source.query (a STRING inside RECORDs): a
   PostgreSQL connection string with its password in a logged extraction query.

Fake but format-valid, and clean positives: exactly one catalog detector matches each, in
Python and as bare patterns (no validator or overlap needed), so the local and pushdown
content scans report the same three hits. Written with the catalog's `{{}}` split so that
repository secret scanners do not flag this file; `join_example` removes it. None is
faithful-only: both engines store cells."""

GENAI_PATH_PLANTS: tuple[Plant, ...] = (
    Plant(
        PlantedViolation(
            ViolationKind.GENAI_PATH,
            "acme_corp",
            CUSTOMER_LOOKUP_VIEW,
            None,
            "view customer_lookup over customers.customer_profiles, authorized on customers: "
            f"serviceAccount:{GENAI_AGENT} (READER on every tenant) reads customers through it",
        ),
        AddView(
            "SELECT customer_id, company_name FROM `{project}.customers.customer_profiles`",
            authorize_on=CUSTOMERS_DATASET,
        ),
        faithful_only=True,
    ),
    Plant(
        PlantedViolation(
            ViolationKind.GENAI_PATH,
            CUSTOMERS_DATASET,
            None,
            None,
            f"groupByEmail:{ML_ENGINEERS} READER; its members (examples/demo-iam) include "
            "serviceAccount:rag-indexer@<project>.iam.gserviceaccount.com, a platform AI "
            "account (AUD-011 genai_members), and a nested group",
        ),
        AddAccess(Grant(GranteeKind.GROUP, ML_ENGINEERS, "READER")),
    ),
)
"""The GenAI paths to customers (5b):

a. Authorized view (faithful engine only): acme_corp gets the view customer_lookup
   (SELECT customer_id, company_name FROM customers.customer_profiles), and customers an
   access entry authorizing it. The Vertex AI service agent (GENAI_AGENT) is READER on every
   tenant dataset, which the policy allows; through the view it reads customers. The demo IAM
   gives the agent no project-level data role, so this is its only path.
b. Group: customers gets group:ml-engineers READER. Its members, in the demo IAM, include the
   platform's RAG indexing account rag-indexer@P (a GenAI principal by the
   serviceAccount:rag-*@... pattern of AUD-011's genai_members) and a nested group.

The IAM half of the estate (project -> folder -> organization policies, the groups' members,
a deny policy, service accounts) is no BigQuery object: it lives in the offline export folder
examples/demo-iam, which `auditor demo` passes to the scan as --iam-exports. Besides the
members behind (b), it grants group:bi-analysts roles/bigquery.dataViewer on the project (a
broad project-level data role that reaches customers: AUD-013) and denies
bigquery.googleapis.com/tables.getData on the project to the contractors group (nested in
bi-analysts: their paths are cut, the other analysts' remain).
"""

PLANTS: tuple[Plant, ...] = VIOLATION_PLANTS + CONTENT_SECRET_PLANTS + GENAI_PATH_PLANTS


def active_plants(options: SeedOptions) -> tuple[Plant, ...]:
    """The plants that apply to an estate seeded with `options`."""
    datasets = {CUSTOMERS_DATASET, SCRATCH_DATASET, *tenant_ids(options.tenants)}
    return tuple(
        p
        for p in PLANTS
        if p.violation.dataset in datasets
        and (options.faithful or not (p.faithful_only or _needs_faithful(p.change)))
    )


def _needs_faithful(change: Change) -> bool:
    """Changes the fast engine cannot store: table IAM, dataset-kind access entries and
    authorized views."""
    if isinstance(change, AddTableIam):
        return True
    if isinstance(change, AddView):
        return change.authorize_on is not None
    return isinstance(change, AddAccess) and change.grant.kind is GranteeKind.DATASET


def planted_violations(options: SeedOptions = DEFAULT_OPTIONS) -> tuple[PlantedViolation, ...]:
    """Exactly the violations an estate seeded with `options` contains on purpose."""
    return tuple(p.violation for p in active_plants(options))


DEFAULT_PLANTED: tuple[PlantedViolation, ...] = planted_violations()
"""The planted violations of the default estate (4 tenants, faithful engine)."""


def apply_change(spec: DatasetSpec, table: str | None, change: Change) -> DatasetSpec:
    """`spec` with one plant's change made (pure)."""
    match change:
        case AddAccess(grant=grant):
            return replace(spec, access=(*spec.access, grant))
        case DropDefaultKmsKey():
            return replace(spec, kms_key=None)
        case SetCell(row=row, column=column, value=value):
            return replace(
                spec, cells=(*spec.cells, CellValue(required_table(table), row, column, value))
            )
        case AddTableIam(grant=grant):
            return _with_table(
                spec, required_table(table), lambda t: replace(t, iam=(*t.iam, grant))
            )
        case AddView(query=query):
            view_id = required_table(table)
            if view_id in {t.table_id for t in spec.tables} | {v.view_id for v in spec.views}:
                raise ValueError(f"{spec.dataset_id} already has a table or view {view_id}")
            return replace(spec, views=(*spec.views, ViewSpec(view_id, query)))
        case AddColumn(field=new):
            return _with_table(
                spec, required_table(table), lambda t: replace(t, fields=(*t.fields, new))
            )
        case RetypeColumn(column=column, type=new_type):
            return _with_table(
                spec,
                required_table(table),
                lambda t: replace(
                    t,
                    fields=tuple(
                        {**f, "type": new_type} if f["name"] == column else f for f in t.fields
                    ),
                ),
            )
        case DropColumn(column=column):
            return _with_table(
                spec,
                required_table(table),
                lambda t: replace(t, fields=tuple(f for f in t.fields if f["name"] != column)),
            )
    raise TypeError(f"unknown change {change!r}")


def required_table(table: str | None) -> str:
    """The table a plant's violation names; ValueError for a change that needs one."""
    if table is None:
        raise ValueError("this change needs the violation to name a table")
    return table


def _with_table(
    spec: DatasetSpec, table_id: str, edit: Callable[[TableSpec], TableSpec]
) -> DatasetSpec:
    spec.table(table_id)  # KeyError if absent
    tables = tuple(edit(t) if t.table_id == table_id else t for t in spec.tables)
    return replace(spec, tables=tables)
