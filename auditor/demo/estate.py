"""The demo estate as data: which datasets, their labels, ACLs, keys, tables, planted violations.

`build_estate(options)` reads the platform's table templates (schemas/tenant, schemas/customers)
and returns plain frozen data; it never talks to BigQuery. `auditor.demo.seed` creates it and
`auditor.demo.rows` fills it.

The estate, for project P (default gac-prod-471220):

- `customers`: labels {dataset_role: customers}, default key .../cryptoKeys/customers, ACL
  OWNER group:platform-admins and READER the onboarding service account only (none of the
  projectOwners/Readers/Writers special groups), the 5 tables of schemas/customers. Its
  encrypted_* columns carry a policy tag and customer_subscriptions grants the billing service
  account roles/bigquery.dataViewer through table IAM (faithful engine only: `faithful=False`
  strips table IAM, policy tags and dataset-kind access entries from the whole estate).
- one dataset per tenant (`tenant_ids(n)`): labels {dataset_role: tenant, tenant_id: ID},
  default key .../cryptoKeys/tenants, ACL OWNER group:platform-admins and READER the platform's
  GenAI agent (allowed by policy), the 5 tables of schemas/tenant.
- `scratch_analytics`: no dataset_role label (unclassified), otherwise compliant (default key,
  named groups only), one small table.

Every dataset carries the label `seeded_by: auditor-demo`; `reset` deletes only those.
Tables carry the dataset's key explicitly, as BigQuery does when it applies a dataset's default
key at creation (neither local engine does that on its own).
Then PLANTS change that baseline; each plant names the violation it introduces.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path
from typing import Any

from auditor.detect.values import join_example
from auditor.errors import InputError
from auditor.model import GranteeKind
from auditor.resources import SCHEMAS_DIR

DEFAULT_PROJECT = "gac-prod-471220"
LOCATION = "US"
SEEDED_BY_LABEL = "seeded_by"
SEEDED_BY_VALUE = "auditor-demo"

CUSTOMERS_DATASET = "customers"
SCRATCH_DATASET = "scratch_analytics"
SCRATCH_TABLE = "tmp_order_rollup"
NAMED_TENANTS = ("acme_corp", "globex", "initech", "umbrella")

PLATFORM_ADMINS = "platform-admins@convergence.example"
DATA_ANALYSTS = "data-analysts@convergence.example"
GENAI_AGENT = "service-123456789012@gcp-sa-aiplatform.iam.gserviceaccount.com"
# GenAI path (b): a group granted on customers whose members (examples/demo-iam) include the
# platform's RAG indexing account, a GenAI principal by AUD-011's genai_members pattern.
ML_ENGINEERS = "ml-engineers@convergence.example"
# GenAI path (a): a view in a tenant dataset, authorized on customers.
CUSTOMER_LOOKUP_VIEW = "customer_lookup"

TENANT_TABLES = (
    "x_meta_pipeline_runs",
    "x_meta_step_logs",
    "x_meta_dq_results",
    "x_meta_pipeline_queue",
    "x_meta_scheduled_runs",
)
CUSTOMERS_TABLES = (
    "customer_profiles",
    "customer_api_keys",
    "customer_cloud_credentials",
    "customer_subscriptions",
    "customer_usage_quotas",
)

# The scratch table: hand-made, no template.
SCRATCH_FIELDS: tuple[Mapping[str, Any], ...] = (
    {"name": "order_date", "type": "DATE", "mode": "REQUIRED", "description": "Order day."},
    {"name": "region", "type": "STRING", "mode": "NULLABLE", "description": "Sales region."},
    {"name": "orders", "type": "INTEGER", "mode": "NULLABLE", "description": "Orders placed."},
    {"name": "revenue_usd", "type": "NUMERIC", "mode": "NULLABLE", "description": "Revenue."},
    {"name": "created_by", "type": "STRING", "mode": "NULLABLE", "description": "Analyst."},
)


def kms_key(project: str, key: str) -> str:
    """A CryptoKey of the platform's key ring in `project`."""
    return f"projects/{project}/locations/us/keyRings/platform/cryptoKeys/{key}"


def onboarding_account(project: str) -> str:
    return f"onboarding@{project}.iam.gserviceaccount.com"


def billing_account(project: str) -> str:
    return f"billing@{project}.iam.gserviceaccount.com"


def rag_indexer_account(project: str) -> str:
    """The platform's RAG indexing service account (a member of ML_ENGINEERS in the demo IAM)."""
    return f"rag-indexer@{project}.iam.gserviceaccount.com"


def secrets_policy_tag(project: str) -> str:
    """Policy tag put on the customers dataset's encrypted_* columns (faithful engine only)."""
    return f"projects/{project}/locations/us/taxonomies/4242424242/policyTags/7171717171"


def tenant_ids(count: int) -> tuple[str, ...]:
    """The first `count` tenant ids: the four named tenants, then tenant_00005, tenant_00006..."""
    if count < 0:
        raise ValueError(f"tenant count must be >= 0, not {count}")
    named = NAMED_TENANTS[:count]
    return named + tuple(f"tenant_{i:05d}" for i in range(len(NAMED_TENANTS) + 1, count + 1))


@dataclass(frozen=True)
class SeedOptions:
    """What to seed. `faithful=False` skips what the fast engine lacks: table IAM, policy
    tags, dataset-kind access entries, and plants that only the faithful engine keeps."""

    tenants: int = 4
    rows_per_table: int = 20
    seed: int = 7
    project: str = DEFAULT_PROJECT
    workers: int = 4
    faithful: bool = True


DEFAULT_OPTIONS = SeedOptions()


class DatasetKind(StrEnum):
    CUSTOMERS = "customers"
    TENANT = "tenant"
    SCRATCH = "scratch"


@dataclass(frozen=True)
class Grant:
    """One dataset access entry as the API spells it: role is OWNER/WRITER/READER, or None
    for view/routine/dataset entries; `entity` is the grantee (email, special group, member)."""

    kind: GranteeKind
    entity: str
    role: str | None = None


@dataclass(frozen=True)
class TableGrant:
    """One table IAM binding member."""

    role: str
    member: str


@dataclass(frozen=True)
class TableSpec:
    table_id: str
    fields: tuple[Mapping[str, Any], ...]  # BigQuery JSON schema fields (API form)
    template: str | None  # e.g. "tenant/x_meta_step_logs.json"; None for hand-made tables
    kms_key: str | None = None
    iam: tuple[TableGrant, ...] = ()


@dataclass(frozen=True)
class CellValue:
    """A value written into one row of a table (content-secret plants)."""

    table: str
    row: int
    column: str  # dotted path, e.g. "run_config.source.query"
    value: str


@dataclass(frozen=True)
class ViewSpec:
    """A logical view (standard SQL); the seeder creates views after every table exists."""

    view_id: str
    query: str


@dataclass(frozen=True)
class DatasetSpec:
    dataset_id: str
    kind: DatasetKind
    labels: Mapping[str, str]
    description: str
    kms_key: str | None
    access: tuple[Grant, ...]
    tables: tuple[TableSpec, ...]
    cells: tuple[CellValue, ...] = ()
    views: tuple[ViewSpec, ...] = ()

    def table(self, table_id: str) -> TableSpec:
        for table in self.tables:
            if table.table_id == table_id:
                return table
        raise KeyError(f"{self.dataset_id} has no table {table_id}")


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


# ---------------------------------------------------------------------------- templates


def load_template(relative: str, root: Path = SCHEMAS_DIR) -> tuple[Mapping[str, Any], ...]:
    """The field list of a template (an array, {"fields": [...]} or {"schema": {"fields"}})."""
    path = root / relative
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(str(path), f"cannot read template: {exc}") from exc
    fields = doc
    if isinstance(doc, dict):
        fields = doc.get("fields", doc.get("schema", {}).get("fields"))
    if not isinstance(fields, list) or not all(_is_field(f) for f in _walk(fields)):
        raise InputError(str(path), "not a BigQuery field list (each field needs name and type)")
    return tuple(fields)


def _is_field(value: object) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("name"), str)
        and isinstance(value.get("type"), str)
        and isinstance(value.get("fields", []), list)
    )


def _walk(fields: Sequence[Any]) -> Iterator[Any]:
    for f in fields:
        yield f
        if isinstance(f, dict) and isinstance(f.get("fields"), list):
            yield from _walk(f["fields"])


# ---------------------------------------------------------------------------- building


def _customers(project: str, root: Path) -> DatasetSpec:
    key = kms_key(project, "customers")
    billing = TableGrant("roles/bigquery.dataViewer", f"serviceAccount:{billing_account(project)}")
    tables = []
    for name in CUSTOMERS_TABLES:
        fields = tuple(
            _tag_encrypted(f, secrets_policy_tag(project))
            for f in load_template(f"customers/{name}.json", root)
        )
        iam = (billing,) if name == "customer_subscriptions" else ()
        tables.append(TableSpec(name, fields, f"customers/{name}.json", key, iam))
    return DatasetSpec(
        dataset_id=CUSTOMERS_DATASET,
        kind=DatasetKind.CUSTOMERS,
        labels={"dataset_role": "customers", SEEDED_BY_LABEL: SEEDED_BY_VALUE},
        description=(
            "Customer registry, KMS-encrypted API keys and cloud credentials, subscriptions "
            "and usage quotas. Highly protected: no GenAI access."
        ),
        kms_key=key,
        access=(
            Grant(GranteeKind.GROUP, PLATFORM_ADMINS, "OWNER"),
            Grant(GranteeKind.USER, onboarding_account(project), "READER"),
        ),
        tables=tuple(tables),
    )


def _tag_encrypted(f: Mapping[str, Any], tag: str) -> Mapping[str, Any]:
    if str(f["name"]).startswith("encrypted_"):
        return {**f, "policyTags": {"names": [tag]}}
    return f


def _tenant(
    tenant_id: str, project: str, templates: Mapping[str, tuple[Mapping[str, Any], ...]]
) -> DatasetSpec:
    key = kms_key(project, "tenants")
    return DatasetSpec(
        dataset_id=tenant_id,
        kind=DatasetKind.TENANT,
        labels={"dataset_role": "tenant", "tenant_id": tenant_id, SEEDED_BY_LABEL: SEEDED_BY_VALUE},
        description=(
            f"Operational pipeline logs of tenant {tenant_id}. Safe for GenAI: no credentials."
        ),
        kms_key=key,
        access=(
            Grant(GranteeKind.GROUP, PLATFORM_ADMINS, "OWNER"),
            Grant(GranteeKind.USER, GENAI_AGENT, "READER"),
        ),
        tables=tuple(
            TableSpec(name, templates[name], f"tenant/{name}.json", key) for name in TENANT_TABLES
        ),
    )


def _scratch(project: str) -> DatasetSpec:
    key = kms_key(project, "analytics")
    return DatasetSpec(
        dataset_id=SCRATCH_DATASET,
        kind=DatasetKind.SCRATCH,
        labels={"team": "analytics", SEEDED_BY_LABEL: SEEDED_BY_VALUE},
        description="Ad-hoc analysis tables.",
        kms_key=key,
        access=(
            Grant(GranteeKind.GROUP, PLATFORM_ADMINS, "OWNER"),
            Grant(GranteeKind.GROUP, DATA_ANALYSTS, "WRITER"),
        ),
        tables=(TableSpec(SCRATCH_TABLE, SCRATCH_FIELDS, None, key),),
    )


@dataclass(frozen=True)
class Estate:
    project: str
    datasets: tuple[DatasetSpec, ...]
    planted: tuple[PlantedViolation, ...] = field(default=())

    def dataset(self, dataset_id: str) -> DatasetSpec:
        for spec in self.datasets:
            if spec.dataset_id == dataset_id:
                return spec
        raise KeyError(dataset_id)


def build_estate(options: SeedOptions = DEFAULT_OPTIONS, root: Path = SCHEMAS_DIR) -> Estate:
    """The estate `options` describe, plants applied. Reads the templates under `root`."""
    templates = {name: load_template(f"tenant/{name}.json", root) for name in TENANT_TABLES}
    specs = [_customers(options.project, root)]
    specs += [_tenant(t, options.project, templates) for t in tenant_ids(options.tenants)]
    specs.append(_scratch(options.project))
    plants = active_plants(options)
    by_id = {s.dataset_id: s for s in specs}
    for plant in plants:
        target = by_id[plant.violation.dataset]
        change = _in_project(plant.change, options.project)
        by_id[target.dataset_id] = apply_change(target, plant.violation.table, change)
        if isinstance(change, AddView) and change.authorize_on is not None:
            ref = f"projects/{options.project}/datasets/{target.dataset_id}"
            view = Grant(GranteeKind.VIEW, f"{ref}/tables/{_need(plant.violation.table)}")
            by_id[change.authorize_on] = apply_change(
                by_id[change.authorize_on], None, AddAccess(view)
            )
    datasets = tuple(by_id[s.dataset_id] for s in specs)
    if not options.faithful:
        datasets = tuple(_for_fast_engine(s) for s in datasets)
    return Estate(options.project, datasets, tuple(p.violation for p in plants))


def _in_project(change: Change, project: str) -> Change:
    """`change` with `{project}` in a view query replaced by the estate's project."""
    if isinstance(change, AddView):
        return replace(change, query=change.query.replace("{project}", project))
    return change


def _for_fast_engine(spec: DatasetSpec) -> DatasetSpec:
    """`spec` without what the fast engine cannot store: table IAM, policy tags,
    dataset-kind access entries."""
    return replace(
        spec,
        access=tuple(g for g in spec.access if g.kind is not GranteeKind.DATASET),
        tables=tuple(
            replace(t, iam=(), fields=tuple(_untagged(f) for f in t.fields)) for t in spec.tables
        ),
    )


def _untagged(f: Mapping[str, Any]) -> Mapping[str, Any]:
    out = {k: v for k, v in f.items() if k != "policyTags"}
    if "fields" in f:
        out["fields"] = [_untagged(sub) for sub in f["fields"]]
    return out


def apply_change(spec: DatasetSpec, table: str | None, change: Change) -> DatasetSpec:
    """`spec` with one plant's change made (pure)."""
    match change:
        case AddAccess(grant=grant):
            return replace(spec, access=(*spec.access, grant))
        case DropDefaultKmsKey():
            return replace(spec, kms_key=None)
        case SetCell(row=row, column=column, value=value):
            return replace(spec, cells=(*spec.cells, CellValue(_need(table), row, column, value)))
        case AddTableIam(grant=grant):
            return _with_table(spec, _need(table), lambda t: replace(t, iam=(*t.iam, grant)))
        case AddView(query=query):
            view_id = _need(table)
            if view_id in {t.table_id for t in spec.tables} | {v.view_id for v in spec.views}:
                raise ValueError(f"{spec.dataset_id} already has a table or view {view_id}")
            return replace(spec, views=(*spec.views, ViewSpec(view_id, query)))
        case AddColumn(field=new):
            return _with_table(spec, _need(table), lambda t: replace(t, fields=(*t.fields, new)))
        case RetypeColumn(column=column, type=new_type):
            return _with_table(
                spec,
                _need(table),
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
                _need(table),
                lambda t: replace(t, fields=tuple(f for f in t.fields if f["name"] != column)),
            )
    raise TypeError(f"unknown change {change!r}")


def _need(table: str | None) -> str:
    if table is None:
        raise ValueError("this change needs the violation to name a table")
    return table


def _with_table(
    spec: DatasetSpec, table_id: str, edit: Callable[[TableSpec], TableSpec]
) -> DatasetSpec:
    spec.table(table_id)  # KeyError if absent
    tables = tuple(edit(t) if t.table_id == table_id else t for t in spec.tables)
    return replace(spec, tables=tables)
