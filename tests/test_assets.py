"""Table IAM in bulk from Cloud Asset Inventory: the real google-cloud-asset client (REST)
against recorded answers served over local HTTP (tests/data/recorded/asset)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from auditor.gcp.calls import Caller, CallFailed
from auditor.gcp.pacing import Pacer
from auditor.gcp.retry import RetryPolicy
from auditor.model import Condition, IamBinding
from auditor.sources.assets import AssetInventory
from auditor.sources.infoschema import Malformed
from tests.support.asset_responder import AssetResponder
from tests.support.recorded import RecordedServer

P = "gac-prod-471220"
RECORDED = Path(__file__).parent / "data" / "recorded" / "asset"
TABLES = f"//bigquery.googleapis.com/projects/{P}/datasets"
SEARCH = r"/v1/projects/gac-prod-471220:searchAllIamPolicies$"
CONDITION = Condition("request.time < timestamp('2030-01-01T00:00:00Z')", "until 2030")


@pytest.fixture
def server() -> Iterator[RecordedServer]:
    with RecordedServer(RECORDED) as recorded:
        yield recorded


def caller(pacer: Pacer | None = None) -> Caller:
    return Caller(RetryPolicy(attempts=3, initial=0.0, timeout=5.0), pacer=pacer)


def read(url: str, pacer: Pacer | None = None) -> dict[str, tuple[IamBinding, ...]]:
    call = caller(pacer)
    return AssetInventory(url)(P, lambda fetch, method: call(fetch, method=method))


def test_every_page_is_read_with_conditions_kept(server: RecordedServer) -> None:
    pacer = Pacer(4)
    assert read(server.url, pacer) == {
        f"{TABLES}/customers/tables/customer_subscriptions": (
            IamBinding(
                "roles/bigquery.dataViewer",
                (f"serviceAccount:billing@{P}.iam.gserviceaccount.com",),
            ),
        ),
        f"{TABLES}/acme_corp/tables/x_meta_dropped_last_week": (
            IamBinding(
                "roles/bigquery.dataEditor",
                (f"serviceAccount:etl@{P}.iam.gserviceaccount.com",),
                CONDITION,
            ),
        ),
    }
    assert [(r.method, r.query.get("pageToken")) for r in server.requests] == [
        ("GET", None),
        ("GET", "CkZwYWdlLTI"),
    ]
    assert all(r.query["assetTypes"] == "bigquery.googleapis.com/Table" for r in server.requests)
    assert pacer.stats.calls == {"cloudasset.searchAllIamPolicies": 2}


def test_a_refusal_is_a_call_failure_naming_the_status(server: RecordedServer) -> None:
    server.fail(
        "GET",
        SEARCH,
        403,
        message="Cloud Asset API has not been used in project 123456789012 before or it is "
        "disabled.",
    )
    with pytest.raises(CallFailed) as failed:
        read(server.url)
    assert failed.value.reason == (
        "403 Forbidden: Cloud Asset API has not been used in project 123456789012 before or "
        "it is disabled."
    )
    assert server.count("GET", SEARCH) == 1  # a 403 is not retried


def test_throttling_is_retried_and_slows_the_pacer(server: RecordedServer) -> None:
    server.fail("GET", SEARCH, 429, message="Quota exceeded", times=1)
    pacer = Pacer(8)
    assert len(read(server.url, pacer)) == 2
    stats = pacer.stats
    assert (stats.throttled, stats.lowest_concurrency) == (1, 4)
    assert server.count("GET", SEARCH) == 3


@pytest.mark.parametrize(
    ("result", "message"),
    [
        (
            {"resource": f"{TABLES}/d", "assetType": "bigquery.googleapis.com/Dataset"},
            "a result of asset type 'bigquery.googleapis.com/Dataset', not a table",
        ),
        (
            {
                "resource": "//bigquery.googleapis.com/projects/other-project/datasets/d/tables/t",
                "assetType": "bigquery.googleapis.com/Table",
            },
            "a table IAM policy for '//bigquery.googleapis.com/projects/other-project/datasets"
            "/d/tables/t', outside the project",
        ),
        (
            {
                "resource": f"{TABLES}/d/tables/t",
                "assetType": "bigquery.googleapis.com/Table",
                "policy": {"bindings": [{"role": "roles/bigquery.dataViewer", "members": [""]}]},
            },
            "IAM binding for roles/bigquery.dataViewer has unreadable members",
        ),
    ],
)
def test_answers_of_the_wrong_shape_are_malformed(
    server: RecordedServer, result: dict[str, object], message: str
) -> None:
    server.answer("GET", SEARCH, body={"results": [result]})
    with pytest.raises(Malformed, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        read(server.url)


def test_the_same_table_twice_is_malformed(server: RecordedServer) -> None:
    twice = {
        "resource": f"{TABLES}/d/tables/t",
        "assetType": "bigquery.googleapis.com/Table",
        "policy": {"bindings": []},
    }
    server.answer("GET", SEARCH, body={"results": [twice, twice]})
    with pytest.raises(Malformed, match="two IAM policies for"):
        read(server.url)


def test_generated_estates_page_at_the_api_cap() -> None:
    policies = {
        f"{TABLES}/tenant_{i:05d}/tables/t": {
            "bindings": [{"role": "roles/bigquery.dataViewer", "members": [f"user:u{i}@x.com"]}]
        }
        for i in range(1201)
    }
    with AssetResponder(policies) as responder:
        found = read(responder.url)
        assert responder.requests == 3  # 500 + 500 + 201
    assert len(found) == 1201
    assert found[f"{TABLES}/tenant_01200/tables/t"] == (
        IamBinding("roles/bigquery.dataViewer", ("user:u1200@x.com",)),
    )
