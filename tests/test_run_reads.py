"""What a run reads: the optional parts of a live estate by the rules it runs
(auditor/policy/checks: Reads, from each check kind's declared permissions), and the
datasets a local engine makes for itself (auditor/local/endpoints.py)."""

from __future__ import annotations

import pytest

from auditor.cli.common import load_rules
from auditor.local.endpoints import engine_datasets, is_local_endpoint
from auditor.model import CoverageGap, Dataset, Table
from auditor.policy.checks import ALWAYS_READ, PART_PERMISSIONS, Reads, load_all, reads_of

P = "gac-prod-471220"
IAM, TABLE_IAM, CONTENTS = Reads.IAM, Reads.TABLE_IAM, Reads.CONTENTS


@pytest.fixture(scope="module")
def pack() -> dict[str, object]:
    rules, _ = load_rules(())
    return {r.id: r for r in rules}


@pytest.mark.parametrize(
    ("only", "parts"),
    [
        (("AUD-014",), {CONTENTS}),
        (("AUD-007", "AUD-009", "AUD-010"), set()),
        (("AUD-006",), {TABLE_IAM}),
        (("AUD-011",), {IAM, TABLE_IAM}),
        (("AUD-012", "AUD-013"), {IAM, TABLE_IAM}),
        (("AUD-015",), {IAM, TABLE_IAM}),
        (("AUD-011", "AUD-014"), {IAM, TABLE_IAM, CONTENTS}),
    ],
)
def test_a_run_reads_what_its_rules_need(
    pack: dict[str, object], only: tuple[str, ...], parts: set[Reads]
) -> None:
    assert reads_of([pack[r] for r in only], load_all()) == parts  # type: ignore[misc]


def test_a_rule_of_an_unknown_kind_needs_everything(pack: dict[str, object]) -> None:
    rule = pack["AUD-007"]
    odd = type(rule)(**{**rule.__dict__, "check": "not-registered"})  # type: ignore[call-arg]
    assert reads_of([odd], load_all()) == set(Reads)


def test_every_declared_permission_says_what_it_reads() -> None:
    """A kind that declares a permission nobody mapped would be read, or skipped, by chance."""
    mapped = ALWAYS_READ.union(*PART_PERMISSIONS.values())
    declared = {p: kind.name for kind in load_all().values() for p in kind.permissions}
    assert {p: k for p, k in declared.items() if p not in mapped} == {}


# ----------------------------------------------------------------------------- engine datasets

LOCAL = "http://127.0.0.1:9050"
ENGINE_OWN = Dataset(P, "local", "US")


@pytest.mark.parametrize(
    ("endpoint", "local"),
    [
        (LOCAL, True),
        ("http://localhost:9050", True),
        ("http://[::1]:9050", True),
        ("http://127.0.0.2:1", True),
        ("https://bigquery.googleapis.com", False),
        ("http://10.0.0.5:9050", False),
        (None, False),
        ("", False),
    ],
)
def test_local_endpoints(endpoint: str | None, local: bool) -> None:
    assert is_local_endpoint(endpoint) is local


def test_the_engines_own_empty_dataset_is_left_out_on_a_local_endpoint() -> None:
    tenant = Dataset(P, "acme_corp", "US", {"dataset_role": "tenant"})
    assert engine_datasets(LOCAL, [ENGINE_OWN, tenant], []) == (ENGINE_OWN,)
    assert engine_datasets(None, [ENGINE_OWN], []) == ()  # Google's API: a user's dataset
    assert engine_datasets("http://10.0.0.5:9050", [ENGINE_OWN], []) == ()


@pytest.mark.parametrize(
    "why",
    ["it holds a table", "it carries a label", "it could not be read"],
)
def test_a_dataset_named_local_that_is_more_than_the_engines_is_audited(why: str) -> None:
    dataset, tables, gaps = ENGINE_OWN, [], []
    if why == "it holds a table":
        tables = [Table(P, "local", "t")]
    elif why == "it carries a label":
        dataset = Dataset(P, "local", "US", {"dataset_role": "tenant"})
    else:
        gaps = [CoverageGap(f"{ENGINE_OWN.resource}/tables/t", "403 Forbidden")]
    assert engine_datasets(LOCAL, [dataset], tables, gaps) == ()
