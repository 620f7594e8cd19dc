"""The names and shapes of the demo estate, shared by the code that builds and changes it.

The platform's fixed names (project, datasets, tables, groups, service accounts, keys), the
seed options, and the frozen specs (datasets, tables, grants, cells, views) that
`auditor.demo.estate` builds, `auditor.demo.plants` changes and `auditor.demo.seed` creates.
Apart from both so that the estate can apply the plants without the two importing each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from auditor.model import GranteeKind

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
