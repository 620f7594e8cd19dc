"""Rows of the five customers tables: one customer per tenant, KMS ciphertext as random bytes.

Each tenant's customer has a profile, an API key (stored as ciphertext, a hash and a short
prefix), cloud credentials (ciphertext), a subscription and a day of usage. No plaintext
secret is made: the "encrypted" columns hold random bytes, as KMS ciphertext looks.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Sequence
from datetime import timedelta
from decimal import Decimal

from auditor.demo.fake_values import (
    BASE_TIME,
    PEOPLE,
    Row,
    random_hex,
    random_uuid,
    tenant_company,
)
from auditor.demo.specs import CUSTOMERS_TABLES, kms_key, onboarding_account

_INDUSTRIES = ("retail", "manufacturing", "fintech", "healthcare", "logistics", "media")
_PLANS = (("STARTER", Decimal("99.00")), ("PROFESSIONAL", Decimal("499.00")),
          ("ENTERPRISE", Decimal("2500.00")))  # fmt: skip


def customers_rows(tenants: Sequence[str], project: str, seed: int) -> dict[str, list[Row]]:
    """One customer per tenant in each customers table; ciphertext is random bytes."""
    tables: dict[str, list[Row]] = {name: [] for name in CUSTOMERS_TABLES}
    for tenant in tenants:
        rng = random.Random(f"{seed}/customer/{tenant}")  # noqa: S311  (demo data, not crypto)
        for name, row in _customer(tenant, project, rng):
            tables[name].append(row)
    return tables


def _customer(tenant: str, project: str, rng: random.Random) -> Iterator[tuple[str, Row]]:
    company, domain = tenant_company(tenant)
    customer_id = random_uuid(rng)
    onboarded = BASE_TIME - timedelta(days=rng.randint(60, 700))
    onboarder = f"serviceAccount:{onboarding_account(project)}"
    plan, price = rng.choice(_PLANS)
    customers_key = kms_key(project, "customers")
    yield (
        "customer_profiles",
        {
            "customer_id": customer_id,
            "tenant_id": tenant,
            "company_name": f"{company} Inc.",
            "admin_email": f"{rng.choice(PEOPLE)}@{domain}",
            "status": "ACTIVE",
            "subscription_plan": plan,
            "data_location": "US",
            "tenant_dataset_created": True,
            "kms_key_name": kms_key(project, "tenants"),
            "metadata": {
                "industry": rng.choice(_INDUSTRIES),
                "account_manager": rng.choice(PEOPLE),
            },
            "created_at": onboarded,
            "created_by": onboarder,
            "updated_at": onboarded + timedelta(days=rng.randint(0, 50)),
            "deleted_at": None,
        },
    )
    key_secret = rng.randbytes(32)
    yield (
        "customer_api_keys",
        {
            "api_key_id": random_uuid(rng),
            "customer_id": customer_id,
            "tenant_id": tenant,
            "display_name": rng.choice(("ci-pipeline", "airflow-prod", "dbt-cloud")),
            "encrypted_api_key": rng.randbytes(rng.randint(96, 128)),
            "api_key_hash": hashlib.sha256(key_secret).hexdigest(),
            "api_key_prefix": f"cvk_{random_hex(rng, 4)}",
            "kms_key_name": customers_key,
            "kms_key_version": f"{customers_key}/cryptoKeyVersions/{rng.randint(1, 4)}",
            "scopes": ["pipelines.run", "pipelines.read"],
            "is_active": True,
            "expires_at": BASE_TIME + timedelta(days=rng.randint(30, 365)),
            "last_used_at": BASE_TIME - timedelta(minutes=rng.randint(1, 5000)),
            "created_at": onboarded,
            "created_by": onboarder,
            "revoked_at": None,
            "revoked_reason": None,
        },
    )
    slug = tenant.replace("_", "-")
    aws_account = rng.randint(10**11, 10**12 - 1)
    provider, credential_type, principal = rng.choice((
        ("GCP", "SERVICE_ACCOUNT_KEY", f"etl@{slug}-prod.iam.gserviceaccount.com"),
        ("AWS", "AWS_ACCESS_KEY", f"arn:aws:iam::{aws_account}:role/convergence-reader"),
        ("AZURE", "AZURE_CLIENT_SECRET", random_uuid(rng)),
    ))  # fmt: skip
    yield (
        "customer_cloud_credentials",
        {
            "credential_id": random_uuid(rng),
            "customer_id": customer_id,
            "tenant_id": tenant,
            "provider": provider,
            "credential_type": credential_type,
            "credential_name": f"prod-{provider.lower()}-billing-export",
            "encrypted_credentials": rng.randbytes(rng.randint(256, 1024)),
            "kms_key_name": customers_key,
            "kms_key_version": f"{customers_key}/cryptoKeyVersions/{rng.randint(1, 4)}",
            "principal_identifier": principal,
            "scopes": ["billing.read"],
            "is_active": True,
            "validation_status": rng.choice(("VALID", "VALID", "INVALID", "UNTESTED")),
            "last_validated_at": BASE_TIME - timedelta(hours=rng.randint(1, 48)),
            "last_rotated_at": BASE_TIME - timedelta(days=rng.randint(1, 90)),
            "expires_at": None,
            "created_at": onboarded,
            "created_by": onboarder,
            "updated_at": BASE_TIME - timedelta(days=rng.randint(1, 90)),
        },
    )
    start = onboarded.date()
    yield (
        "customer_subscriptions",
        {
            "subscription_id": random_uuid(rng),
            "customer_id": customer_id,
            "plan_name": plan,
            "status": "ACTIVE",
            "billing_cycle": rng.choice(("MONTHLY", "ANNUAL")),
            "start_date": start,
            "end_date": None,
            "trial_end_date": start + timedelta(days=14),
            "auto_renew": True,
            "price_usd": price,
            "external_billing_id": f"sub_{random_hex(rng, 14)}",
            "limits": {
                "max_pipelines": {"STARTER": 5, "PROFESSIONAL": 25}.get(plan, 200),
                "max_concurrent_runs": {"STARTER": 2, "PROFESSIONAL": 10}.get(plan, 50),
                "max_daily_runs": {"STARTER": 50, "PROFESSIONAL": 500}.get(plan, 5000),
                "max_storage_gb": {"STARTER": 100, "PROFESSIONAL": 1000}.get(plan, 20000),
                "max_monthly_tokens": {"STARTER": 10**6, "PROFESSIONAL": 2 * 10**7}.get(
                    plan, 5 * 10**8
                ),
            },
            "created_at": onboarded,
            "updated_at": onboarded + timedelta(days=rng.randint(0, 30)),
        },
    )
    day = (BASE_TIME - timedelta(days=1)).date()
    ran = rng.randint(5, 400)
    failed = rng.randint(0, ran // 10)
    yield (
        "customer_usage_quotas",
        {
            "usage_id": f"{customer_id}_{day.isoformat()}",
            "customer_id": customer_id,
            "tenant_id": tenant,
            "usage_date": day,
            "pipelines_run_today": ran,
            "pipelines_succeeded_today": ran - failed,
            "pipelines_failed_today": failed,
            "concurrent_pipelines_running": rng.randint(0, 4),
            "bytes_processed_today": rng.randint(10**8, 10**13),
            "tokens_used_today": rng.randint(0, 2 * 10**6),
            "daily_limit": 5000,
            "concurrent_limit": 50,
            "quota_exceeded": False,
            "last_pipeline_started_at": BASE_TIME - timedelta(minutes=rng.randint(1, 600)),
            "last_updated": BASE_TIME - timedelta(minutes=rng.randint(0, 30)),
        },
    )
