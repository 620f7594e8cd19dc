"""The role catalog: generated from the reference copy of Google's definitions, equal to it
on every tracked permission of every role, carrying its source and date; regenerated from
the live IAM API by `auditor access roles refresh` (recorded answers over local HTTP)."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.access.agents import agent_catalog, is_google_managed
from auditor.access.catalog import (
    CATALOG,
    PREFIXES,
    REFERENCE,
    build_catalog,
    catalog_text,
    parse_reference,
    read_reference,
    reference_from_roles,
)
from auditor.access.principals import _genai_catalog, is_genai
from auditor.access.roles import TRACKED, builtin_catalog
from auditor.cli import main
from auditor.errors import InputError
from tests.support.recorded import RecordedServer

RECORDED = Path(__file__).parent / "data" / "recorded" / "iam"


def test_the_catalog_equals_the_reference_for_every_role() -> None:
    reference = read_reference(REFERENCE)
    catalog = builtin_catalog()
    assert len(reference.roles) == 2461
    assert set(catalog.roles) == set(reference.roles)
    differ = {
        role: (sorted(catalog.roles[role]), sorted(set(perms) & TRACKED.keys()))
        for role, perms in reference.roles.items()
        if catalog.roles[role] != frozenset(perms) & TRACKED.keys()
    }
    assert differ == {}
    assert catalog.tracked == frozenset(TRACKED)
    assert (catalog.source, catalog.published) == (reference.source, "2026-08-22")
    assert "iann0036/iam-dataset" in catalog.source
    assert "2073fa52ac008a45477aa0b1b4580cd99135bf60" in catalog.source


def test_the_shipped_catalog_is_what_the_generator_writes() -> None:
    reference = read_reference(REFERENCE)
    doc = build_catalog(reference, "python -m auditor.access.catalog --reference " + REFERENCE.name)
    assert CATALOG.read_text(encoding="utf-8") == catalog_text(doc)


def test_every_tracked_permission_is_one_the_reference_keeps() -> None:
    assert all(p.startswith(PREFIXES) for p in TRACKED)
    assert read_reference(REFERENCE).prefixes == PREFIXES


@pytest.mark.parametrize(
    ("role", "holds"),
    [
        # The roles the hand-written catalog got wrong, each a missed escalation path.
        (
            "roles/owner",
            {
                "bigquery.datasets.update",
                "bigquery.datasets.setIamPolicy",
                "bigquery.tables.setIamPolicy",
                "iam.serviceAccountKeys.create",
                "iam.roles.update",
            },
        ),
        ("roles/iam.securityAdmin", {"bigquery.datasets.setIamPolicy"}),
        (
            "roles/resourcemanager.organizationAdmin",
            {"resourcemanager.projects.setIamPolicy", "resourcemanager.folders.setIamPolicy"},
        ),
        ("roles/editor", {"iam.serviceAccountKeys.create"}),
        ("roles/iam.serviceAccountTokenCreator", {"iam.serviceAccounts.implicitDelegation"}),
        ("roles/iam.roleAdmin", {"iam.roles.update"}),
    ],
)
def test_escalation_permissions_of_well_known_roles(role: str, holds: set[str]) -> None:
    assert holds <= (builtin_catalog().permissions(role) or set())


def test_organization_viewer_is_known_and_reads_nothing() -> None:
    assert builtin_catalog().permissions("roles/resourcemanager.organizationViewer") == frozenset()


def test_a_bad_reference_names_the_file_and_the_role(tmp_path: Path) -> None:
    good = {
        "source": "x of 2026-01-02",
        "permission_prefixes_kept": list(PREFIXES),
        "roles_total": 1,
        "roles": {"roles/a.b": {"title": "A", "stage": "GA", "permissions": ["bigquery.x"]}},
    }
    assert parse_reference(good, "r.json").published == "2026-01-02"
    bad = dict(good, roles={"roles/a.b": {"permissions": "all"}})
    with pytest.raises(InputError, match=r"role roles/a\.b: 'permissions' must list strings"):
        parse_reference(bad, "r.json")
    with pytest.raises(InputError, match="roles_total is 3 but 1 roles are listed"):
        parse_reference(dict(good, roles_total=3), "r.json")
    with pytest.raises(InputError, match="does not keep the tracked permissions"):
        parse_reference(dict(good, permission_prefixes_kept=["bigquery"]), "r.json")
    broken = tmp_path / "r.json.gz"
    broken.write_bytes(gzip.compress(b"{not json"))
    with pytest.raises(InputError, match=r"r\.json\.gz: not a readable reference"):
        read_reference(broken)


def test_a_reference_from_roles_list_drops_deleted_roles_and_other_permissions() -> None:
    items = [
        {"name": "roles/a", "includedPermissions": ["bigquery.tables.getData", "logging.x"]},
        {"name": "roles/gone", "deleted": True},
    ]
    reference = reference_from_roles(items, "test", "2026-10-01")
    assert dict(reference.roles) == {"roles/a": ("bigquery.tables.getData",)}
    with pytest.raises(InputError, match="refusing to write an empty catalog"):
        reference_from_roles([], "test", "2026-10-01")


# ---------------------------------------------------------------------------- the CLI


@pytest.fixture(scope="module")
def iam_server() -> Iterator[RecordedServer]:
    with RecordedServer(RECORDED) as server:
        yield server


def test_roles_show() -> None:
    result = CliRunner().invoke(main, ["access", "roles", "show"])
    assert result.exit_code == 0
    assert result.output.startswith("2461 predefined roles, published 2026-08-22\nsource: ")
    result = CliRunner().invoke(main, ["access", "roles", "show", "READER"])
    assert result.output == (
        "roles/bigquery.dataViewer: bigquery.datasets.get, bigquery.routines.get, "
        "bigquery.tables.getData\n"
    )
    assert CliRunner().invoke(main, ["access", "roles", "show", "roles/nope"]).exit_code == 1


def test_roles_refresh_writes_a_catalog_and_a_reference_from_roles_list(
    iam_server: RecordedServer, tmp_path: Path
) -> None:
    iam_server.reset()
    catalog, reference = tmp_path / "roles.json", tmp_path / "ref.json.gz"
    args = ["access", "roles", "refresh", "--iam-endpoint", iam_server.url]
    result = CliRunner().invoke(
        main, [*args, "--catalog", str(catalog), "--reference", str(reference)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(catalog.read_text())
    assert doc["roles"] == {
        "roles/bigquery.dataViewer": [
            "bigquery.datasets.get",
            "bigquery.routines.get",
            "bigquery.tables.getData",
        ],
        "roles/iam.serviceAccountTokenCreator": [
            "iam.serviceAccounts.getAccessToken",
            "iam.serviceAccounts.implicitDelegation",
            "iam.serviceAccounts.signBlob",
            "iam.serviceAccounts.signJwt",
        ],
        "roles/logging.viewer": [],
    }
    assert doc["source"].startswith(f"IAM roles.list view=FULL at {iam_server.url}, read ")
    assert doc["generated_by"] == "auditor access roles refresh"
    written = read_reference(reference)
    assert written.published == doc["published"]
    assert written.roles["roles/logging.viewer"] == ("resourcemanager.projects.get",)
    assert iam_server.count("GET", r"^/v1/roles$") == 2  # both pages


def test_a_failed_refresh_writes_nothing(iam_server: RecordedServer, tmp_path: Path) -> None:
    iam_server.reset()
    iam_server.fail("GET", r"^/v1/roles$", 403, message="Permission iam.roles.list denied")
    catalog = tmp_path / "roles.json"
    args = [
        "access",
        "roles",
        "refresh",
        "--iam-endpoint",
        iam_server.url,
        "--catalog",
        str(catalog),
    ]
    result = CliRunner().invoke(main, [*args, "--reference", str(tmp_path / "ref.json.gz")])
    assert result.exit_code == 2
    assert "IAM roles.list: 403 Forbidden: Permission iam.roles.list denied" in result.output
    assert not catalog.exists()
    iam_server.reset()


# ---------------------------------------------------------------------------- service agents


def test_the_service_agent_list_carries_its_source_and_date() -> None:
    agents = agent_catalog()
    assert agents.published == "2026-04-22"
    assert "cloud-foundation-fabric" in agents.source
    assert "https://cloud.google.com/iam/docs/service-agents" in agents.source
    assert len(agents.agents) == 298


@pytest.mark.parametrize(
    ("address", "managed"),
    [
        ("service-1@gcp-sa-logging.iam.gserviceaccount.com", True),
        ("service-1@cloud-ml.iam.gserviceaccount.com", True),  # not gcp-sa-*, documented
        ("service-1@cloud-ml.google.com.iam.gserviceaccount.com", True),  # legacy form
        ("service-1@compute-system.iam.gserviceaccount.com", True),
        ("1@cloudservices.gserviceaccount.com", True),
        ("service-1@gcp-sa-brand-new.iam.gserviceaccount.com", True),  # newer than the list
        ("etl@p.iam.gserviceaccount.com", False),
        ("p@appspot.gserviceaccount.com", False),
        ("1-compute@developer.gserviceaccount.com", False),
    ],
)
def test_google_managed_service_agents(address: str, managed: bool) -> None:
    assert is_google_managed(address) is managed


def test_the_genai_catalog_is_reconciled_with_the_documented_service_agents() -> None:
    """Every documented agent of a GenAI API is a GenAI principal, and every domain entry of
    the GenAI catalog is a documented agent (or a documented legacy form, or a glob)."""
    genai = _genai_catalog()
    agents = agent_catalog()
    assert genai.reconciled == agents.published
    missed = [
        a.domain
        for a in agents.agents
        if a.api in genai.apis
        and is_genai(f"serviceAccount:{_address(a.account, a.domain)}") is None
    ]
    assert missed == []
    documented = {a.domain.removesuffix(".iam.gserviceaccount.com") for a in agents.agents}
    legacy = {"cloud-ml.google.com", "gcp-sa-bigquery-condel"}
    unknown = [
        entry.domain
        for entry in genai.agents
        if "*" not in entry.domain and entry.domain not in documented | legacy
    ]
    assert unknown == []
    # Not every documented agent is GenAI: Cloud Logging's and GKE's are not.
    assert is_genai("serviceAccount:service-1@gcp-sa-logging.iam.gserviceaccount.com") is None


def _address(account: str, domain: str) -> str:
    return f"{account.replace('[0-9]*', '123')}@{domain}"
