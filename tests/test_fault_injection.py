"""Fault injection on the live path: the scan through a proxy that breaks its requests.

The property (issue 8): under seeded random faults (429, 500, 503, stalls past the client's
timeout, TCP resets, truncated bodies, malformed JSON) the live scan retries within its
limits and finishes, and EITHER reports exactly what the fault-free run reports, OR reports
exactly the objects whose requests kept failing as coverage gaps and exits 3. Never a false
PASS: a finding of the fault-free run only disappears when its resource is (under) a gap,
and nothing read from a broken answer ever reaches the inventory.

"Kept failing": the last try of a request (same method, path and query) got a fault. The
proxy's history says which requests did; `bigquery_scope` / `IamScopes.of` name the object
each request reads, so the expected gaps are derived from the fault log, not hard-coded.
"Within limits": no request is sent more often than the client's attempts (4 for BigQuery,
5 for IAM; query-job polls aside), and a run sends at most that many times the requests of
the clean run.

BigQuery runs on the fast engine (bqemulator). It answers 405 to tables.getIamPolicy, so a
second proxy in front of it answers every table an empty IAM policy (a table without
table-level grants): client -> chaos proxy -> IAM stub -> engine. IAM runs against the
recorded-response server (tests/support/recorded.py) behind the same kind of proxy.

By default one seed per rate (about 50 s with the engine start). AUDITOR_FAULT_SEEDS=N runs
seeds 1..N per rate instead; AUDITOR_FAULT_TALLY=FILE appends, as one JSON line, the faults
injected per kind in the runs that passed and how many of them ended identical or with gaps.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import pytest
from click.testing import CliRunner

from auditor.audit import audit
from auditor.cli import main
from auditor.cli.common import load_rules
from auditor.cli.scan import SHIPPED_TEMPLATE_GLOBS
from auditor.collect import EstateSource, collect_estate
from auditor.content.base import ContentOptions
from auditor.demo.seed import SeedOptions, seed
from auditor.model import Finding, Inventory, Severity, Status, Table
from auditor.report.summary import exit_code
from auditor.resources import PROJECT_DIR, SCHEMAS_DIR
from auditor.sources import iam, iamjson
from auditor.sources.bigquery import CollectOptions, make_client
from auditor.sources.iam import IamCollection, IamEndpoints, Retries, collect_iam
from tests.conftest import LocalBigQuery
from tests.support.faultproxy import FAULT_KINDS, Exchange, FaultProxy
from tests.support.recorded import RecordedServer, load_recordings

pytestmark = pytest.mark.emulator

P = "gac-prod-471220"
BQ = f"//bigquery.googleapis.com/projects/{P}"
DATASETS = ("acme_corp", "customers", "globex", "scratch_analytics")  # the tenants=2 estate
DEMO_IAM = PROJECT_DIR / "examples" / "demo-iam"
RECORDED_IAM = Path(__file__).parent / "data" / "recorded" / "iam"
EMPTY_TABLE_POLICY = {"version": 1, "etag": "ACAB"}
NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)

# Seconds per HTTP call in the library runs, generous for a loaded machine (a spurious
# timeout would be retried, but would spoil the exact request counts); a stall outlasts it.
CLIENT_TIMEOUT = 2.0
STALL = 2.5
ATTEMPTS = 4  # CollectOptions.attempts and ContentOptions.attempts (defaults)
IAM_TIMEOUT = 0.5  # the recorded server answers in milliseconds
IAM_STALL = 0.8
IAM_ATTEMPTS = Retries().attempts
SEEDS = int(os.environ.get("AUDITOR_FAULT_SEEDS", "0"))

RAG_INDEXER = f"serviceAccount:rag-indexer@{P}.iam.gserviceaccount.com"
STEP_LOGS = f"{BQ}/datasets/globex/tables/x_meta_step_logs"
RUNS = f"{BQ}/datasets/acme_corp/tables/x_meta_pipeline_runs"
TABLES = {
    "acme_corp": (
        "x_meta_dq_results",
        "x_meta_pipeline_queue",
        "x_meta_pipeline_runs",
        "x_meta_scheduled_runs",
        "x_meta_step_logs",
    ),
    "customers": (
        "customer_api_keys",
        "customer_cloud_credentials",
        "customer_profiles",
        "customer_subscriptions",
        "customer_usage_quotas",
    ),
    "scratch_analytics": ("tmp_order_rollup",),
}
TABLES["globex"] = TABLES["acme_corp"]
# The fast engine drops encryption settings, so every dataset and table fails the CMEK rules;
# it has no authorized views, so of the two GenAI paths only the group one (RAG indexer) is left.
EXPECTED = {
    *{("dataset-default-cmek", f"{BQ}/datasets/{d}", None, None) for d in DATASETS},
    *{("table-cmek", f"{BQ}/datasets/{d}/tables/{t}", None, None) for d, ts in TABLES.items()
      for t in ts},
    ("datasets-classified", f"{BQ}/datasets/scratch_analytics", None, None),
    ("tenant-no-credential-columns", STEP_LOGS, "api_token", None),
    ("tenant-tables-match-templates", STEP_LOGS, "api_token", None),
    ("tenant-no-credential-values", STEP_LOGS, "error_message", None),
    ("tenant-no-credential-values", RUNS, "error_message", None),
    ("genai-cannot-reach-customers", f"{BQ}/datasets/customers", None, RAG_INDEXER),
    ("no-broad-project-data-roles", f"{BQ}/datasets/customers", None,
     "group:bi-analysts@convergence.example"),
    # AUD-015: the unapproved readers of customers (no authorized view here: no Vertex agent).
    *{("only-approved-readers-of-customers", f"{BQ}/datasets/customers", None, member)
      for member in (RAG_INDEXER, "user:amara.diallo@convergence.example",
                     "user:kenji.watanabe@convergence.example",
                     "user:priya.nair@convergence.example",
                     "user:sofia.rossi@convergence.example",
                     "user:wei.zhang@convergence.example")},
}  # fmt: skip

Failing = set[tuple[str, str, str | None, str | None]]


# ============================================================================ the fault log


def last_tries(history: Iterable[Exchange]) -> dict[tuple[str, str, str], Exchange]:
    """The last try of every distinct request (method, path, query)."""
    return {(e.method, e.path, e.query): e for e in history}


def kept_failing(history: Sequence[Exchange]) -> list[Exchange]:
    return [e for e in last_tries(history).values() if e.fault is not None]


def most_tries(history: Iterable[Exchange], ignore: re.Pattern[str] | None = None) -> int:
    """How often the most retried request was sent (polls matching `ignore` left out)."""
    counts = Counter(
        (e.method, e.path, e.query)
        for e in history
        if ignore is None or ignore.search(e.path) is None
    )
    return max(counts.values(), default=0)


def under(resource: str, scopes: Iterable[str]) -> bool:
    """resource is one of the scopes or inside one (a table inside its dataset)."""
    return any(resource == s or resource.startswith(s + "/") for s in scopes)


@pytest.fixture(scope="module")
def tally() -> Iterator[Counter[str]]:
    """Faults injected per kind in the runs whose checks passed (figures for the issue)."""
    counts: Counter[str] = Counter()
    yield counts
    target = os.environ.get("AUDITOR_FAULT_TALLY")
    if target:
        with open(target, "a", encoding="utf-8") as out:
            out.write(json.dumps(dict(sorted(counts.items()))) + "\n")


def count_faults(
    counts: Counter[str], part: str, history: Iterable[Exchange], gaps: set[str]
) -> None:
    """Add one run's faults per kind, and whether it ended identical or with gaps."""
    counts.update(f"{part} {e.fault}" for e in history if e.fault is not None)
    counts[f"{part} runs {'with gaps' if gaps else 'identical'}"] += 1


NO_STALL = tuple(k for k in FAULT_KINDS if k != "timeout")


def chaos_cases(
    rates: Sequence[tuple[float, tuple[str, ...]]], first_seeds: Sequence[int]
) -> list[tuple[float, int, tuple[str, ...]]]:
    """(rate, seed, kinds) per rate: the given seeds, or AUDITOR_FAULT_SEEDS seeds each."""
    cases = []
    for index, (rate, kinds) in enumerate(rates):
        seeds = range(1, SEEDS + 1) if SEEDS else [first_seeds[index]]
        cases += [(rate, seed, kinds) for seed in seeds]
    return cases


# ============================================================================ BigQuery

_BQ_OBJECT = re.compile(
    r"^/bigquery/v2/projects/(?P<project>[^/]+)/datasets"
    r"(?:/(?P<dataset>[^/]+)(?:/tables(?:/(?P<table>[^/:]+)(?::getIamPolicy|/data)?)?)?)?$"
)
_BQ_QUERY = re.compile(r"^/bigquery/v2/projects/[^/]+/(queries|jobs)(/|$)")


def bigquery_scope(path: str) -> str | None:
    """The object a BigQuery request reads, as its gap scope; None for the region-wide
    INFORMATION_SCHEMA queries, whose failure only sends tables down the per-table path."""
    if _BQ_QUERY.match(path):
        return None
    found = _BQ_OBJECT.match(path)
    assert found is not None, f"a request the scope map does not know: {path}"
    project, dataset, table = (unquote(found[k]) if found[k] else None for k in found.groupdict())
    scope = f"//bigquery.googleapis.com/projects/{project}"
    if dataset is not None:
        scope = f"{scope}/datasets/{dataset}"
    if table is not None:
        scope = f"{scope}/tables/{table}"
    return scope


@dataclass(frozen=True)
class Outcome:
    inventory: Inventory
    findings: tuple[Finding, ...]
    code: int
    requests: int


def live_scan(proxy: FaultProxy, workers: int = 1, timeout: float = CLIENT_TIMEOUT) -> Outcome:
    """collect_estate (bigquery.collect, the content scan, demo IAM exports) + the audit."""
    source = EstateSource(
        project=P,
        templates=SCHEMAS_DIR,
        template_globs=SHIPPED_TEMPLATE_GLOBS,
        endpoint=proxy.url,
        bigquery=CollectOptions(workers=workers, datasets=DATASETS, timeout=timeout, backoff=0.01),
        iam_exports=DEMO_IAM,
        # One worker: the fast engine mixes up concurrent tabledata.list answers.
        content=ContentOptions(workers=1, timeout=timeout, backoff=0.01),
    )
    inventory = collect_estate(source, lambda _message: None)
    rules, registry = load_rules(())
    report = audit(inventory, rules, registry, lambda: NOW).report
    code = exit_code(report, Severity.HIGH, allow_partial=False)
    return Outcome(inventory, report.findings, code, proxy.requests)


def failing(findings: Iterable[Finding]) -> Failing:
    return {
        (f.rule_name, f.resource, f.column, f.principal)
        for f in findings
        if f.status is Status.FAIL
    }


def gap_scopes(inventory: Inventory) -> set[str]:
    return {g.scope for g in inventory.gaps}


@pytest.fixture(scope="module")
def engine(fast_bq: LocalBigQuery) -> Iterator[str]:
    """The small demo estate on the fast engine, behind the table-IAM stub: its URL."""
    seed(make_client(P, fast_bq.endpoint), SeedOptions(tenants=2, faithful=False))
    with FaultProxy(fast_bq.endpoint) as stub:
        stub.fail("POST", r"/tables/[^/]+:getIamPolicy$", 200, EMPTY_TABLE_POLICY)
        yield stub.url


@pytest.fixture(scope="module")
def baseline(engine: str) -> Outcome:
    with FaultProxy(engine) as proxy:
        return live_scan(proxy)


def check_survived(base: Outcome, run: Outcome, history: Sequence[Exchange]) -> set[str]:
    """The property, for one faulted run; returns the gap scopes."""
    assert most_tries(history, ignore=_BQ_QUERY) <= ATTEMPTS
    assert run.requests <= ATTEMPTS * base.requests
    affected = {bigquery_scope(e.path) for e in kept_failing(history)} - {None}
    gaps = gap_scopes(run.inventory)
    assert gaps == affected
    if not gaps:
        assert run.code == base.code
        assert run.findings == base.findings
        assert same_reads(run.inventory, base.inventory)
        return gaps
    assert run.code == 3
    check_nothing_broken_was_read(base.inventory, run.inventory, gaps)
    check_no_false_pass(base.findings, run.findings, gaps)
    return gaps


def same_reads(a: Inventory, b: Inventory) -> bool:
    return (a.datasets, a.live_tables, a.content_scans, a.value_hits, a.gaps) == (
        b.datasets,
        b.live_tables,
        b.content_scans,
        b.value_hits,
        b.gaps,
    )


def check_nothing_broken_was_read(base: Inventory, run: Inventory, gaps: set[str]) -> None:
    """Every object read equals the fault-free read; every object outside a gap was read."""
    expected_datasets = {d.resource: d for d in base.datasets}
    expected_tables = {t.resource: t for t in base.live_tables}
    expected_scans = {s.table: s for s in base.content_scans}
    for name, got, expected in (
        ("dataset", {d.resource: d for d in run.datasets}, expected_datasets),
        ("table", {t.resource: t for t in run.live_tables}, expected_tables),
        ("content scan", {s.table: s for s in run.content_scans}, expected_scans),
    ):
        for resource, value in got.items():
            clean = expected[resource]
            if isinstance(clean, Table) and under(resource, gaps):
                clean_or_unknown_iam = (clean, replace(clean, iam=None))  # IAM unread: None
                assert value in clean_or_unknown_iam, f"table {resource} differs"
                continue
            assert value == clean, f"{name} {resource} differs from the clean read"
        missing = {r for r in expected if r not in got and not under(r, gaps)}
        assert not missing, f"{name}s missing without a gap: {sorted(missing)}"
    assert set(run.value_hits) <= set(base.value_hits)
    lost_hits = {h for h in base.value_hits if h not in run.value_hits}
    assert all(under(h.table, gaps) for h in lost_hits)


def check_no_false_pass(base: Sequence[Finding], run: Sequence[Finding], gaps: set[str]) -> None:
    """No failure invented; one lost only under a gap, and never reported as PASS there."""
    base_fail = {f.fingerprint: f for f in base if f.status is Status.FAIL}
    run_fail = {f.fingerprint for f in run if f.status is Status.FAIL}
    run_pass = {f.fingerprint for f in run if f.status is Status.PASS}
    assert run_fail <= set(base_fail)
    lost = [f for fp, f in base_fail.items() if fp not in run_fail]
    assert all(under(f.resource, gaps) for f in lost), [f.resource for f in lost]
    assert not {f.fingerprint for f in lost} & run_pass


def test_the_fault_free_scan_is_complete_and_finds_the_planted_violations(
    baseline: Outcome,
) -> None:
    assert baseline.inventory.gaps == ()
    assert failing(baseline.findings) == EXPECTED
    assert baseline.code == 1
    assert {d.dataset_id for d in baseline.inventory.datasets} == set(DATASETS)
    assert {t.resource for t in baseline.inventory.live_tables} == {
        f"{BQ}/datasets/{d}/tables/{t}" for d, tables in TABLES.items() for t in tables
    }
    assert all(t.iam == () for t in baseline.inventory.live_tables)  # the stub's empty policy


# At 0.6 most requests need retries and some run out of them (gaps); stalls are left out
# there only to keep the run short (each costs a client timeout).
SCAN_CHAOS = chaos_cases([(0.1, FAULT_KINDS), (0.3, FAULT_KINDS), (0.6, NO_STALL)], [2, 1, 1])


@pytest.mark.parametrize(("rate", "seed_", "kinds"), SCAN_CHAOS)
def test_the_scan_survives_random_faults(
    engine: str,
    baseline: Outcome,
    tally: Counter[str],
    rate: float,
    seed_: int,
    kinds: tuple[str, ...],
) -> None:
    with FaultProxy(engine) as proxy:
        proxy.stall_seconds = STALL
        proxy.chaos(rate, seed=seed_, kinds=kinds)
        run = live_scan(proxy)
        history = proxy.history
    assert proxy.faulted, "the seed injected nothing: pick another"
    gaps = check_survived(baseline, run, history)
    count_faults(tally, "scan", history, gaps)


def test_the_scan_survives_random_faults_with_concurrent_reads(
    engine: str, baseline: Outcome, tally: Counter[str]
) -> None:
    """Four collect workers: the fault sequence depends on timing, the property must not."""
    with FaultProxy(engine) as proxy:
        proxy.stall_seconds = STALL
        proxy.chaos(0.25, seed=11, kinds=("429", "503", "reset", "truncated", "malformed"))
        run = live_scan(proxy, workers=4)
        history = proxy.history
    assert proxy.faulted
    gaps = check_survived(baseline, run, history)
    count_faults(tally, "scan", history, gaps)


def clean_run(base: Outcome, lost: Iterable[str]) -> Failing:
    """The fault-free failures except those on or under the `lost` resources."""
    return {f for f in failing(base.findings) if not under(f[1], lost)}


def test_a_table_whose_get_always_fails_is_exactly_that_gap(engine: str, baseline: Outcome) -> None:
    with FaultProxy(engine) as proxy:
        proxy.fail("GET", r"/datasets/globex/tables/x_meta_step_logs$", 500)
        run = live_scan(proxy)
        tries = proxy.count("GET", r"/datasets/globex/tables/x_meta_step_logs$")
    assert [(g.scope, g.reason) for g in run.inventory.gaps] == [
        (
            STEP_LOGS,
            "table could not be read: 500 Internal Server Error: injected 500"
            " (gave up after 4 attempts)",
        )
    ]
    assert tries == ATTEMPTS
    assert run.code == 3
    # Its three planted failures are not claimed either way; everything else is unchanged.
    assert failing(run.findings) == clean_run(baseline, [STEP_LOGS])
    assert STEP_LOGS not in {t.resource for t in run.inventory.live_tables}


def test_a_truncated_table_list_makes_its_dataset_a_gap(engine: str, baseline: Outcome) -> None:
    acme = f"{BQ}/datasets/acme_corp"
    with FaultProxy(engine) as proxy:
        proxy.inject("GET", r"/datasets/acme_corp/tables$", "truncated")
        run = live_scan(proxy)
    [gap] = run.inventory.gaps
    assert gap.scope == acme
    assert gap.reason.startswith("tables could not be listed: connection error")
    assert "IncompleteRead" in gap.reason and gap.reason.endswith("(gave up after 4 attempts)")
    assert run.code == 3
    # The dataset itself was read (its CMEK failure stays); none of its tables are claimed.
    assert failing(run.findings) == clean_run(baseline, [f"{acme}/tables"])
    assert not [t for t in run.inventory.live_tables if t.dataset_id == "acme_corp"]
    # Unlisted is not missing: drift against the templates is skipped there, not failed.
    skipped = {
        (f.resource, f.message)
        for f in run.findings
        if f.rule_name == "tenant-tables-match-templates" and f.status is Status.SKIPPED
    }
    assert skipped == {
        (f"{acme}/tables/{t}", f"table acme_corp.{t} could not be read; drift not checked")
        for t in TABLES["acme_corp"]
    }


def test_malformed_json_on_a_dataset_get_is_a_gap_not_an_empty_dataset(
    engine: str, baseline: Outcome
) -> None:
    scratch = f"{BQ}/datasets/scratch_analytics"
    with FaultProxy(engine) as proxy:
        proxy.inject("GET", r"/datasets/scratch_analytics$", "malformed")
        run = live_scan(proxy)
    [gap] = run.inventory.gaps
    assert gap.scope == scratch
    assert gap.reason.startswith("dataset could not be read: malformed answer: not JSON (")
    assert gap.reason.endswith("(gave up after 4 attempts); its tables were not examined")
    assert run.code == 3
    assert failing(run.findings) == clean_run(baseline, [scratch])
    assert "scratch_analytics" not in {d.dataset_id for d in run.inventory.datasets}


def test_a_stalled_table_iam_read_times_out_into_a_gap(engine: str, baseline: Outcome) -> None:
    keys = f"{BQ}/datasets/customers/tables/customer_api_keys"
    with FaultProxy(engine) as proxy:
        proxy.stall_seconds = 1.3
        proxy.inject("POST", r"/tables/customer_api_keys:getIamPolicy$", "timeout")
        run = live_scan(proxy, timeout=1.0)  # four tries of 1 s, not of CLIENT_TIMEOUT
    [gap] = run.inventory.gaps
    assert gap.scope == keys
    assert gap.reason.startswith("table IAM could not be read: timeout (")
    assert gap.reason.endswith("(gave up after 4 attempts)")
    assert run.code == 3
    # Who can reach customers is no longer fully known: the access rules say so (ERROR)
    # instead of passing, and keep the paths they did find.
    errors = {(f.rule_name, f.resource) for f in run.findings if f.status is Status.ERROR}
    assert errors == {
        ("genai-cannot-reach-customers", f"{BQ}/datasets/customers"),
        ("customers-not-public", f"{BQ}/datasets/customers"),
        ("only-approved-readers-of-customers", f"{BQ}/datasets/customers"),
    }
    assert failing(run.findings) == failing(baseline.findings)
    [table] = [t for t in run.inventory.live_tables if t.resource == keys]
    assert table.iam is None


def test_faults_that_clear_within_the_retries_change_nothing(
    engine: str, baseline: Outcome
) -> None:
    with FaultProxy(engine) as proxy:
        proxy.stall_seconds = STALL
        proxy.inject("GET", r"/projects/[^/]+/datasets$", "503", times=2)
        proxy.inject("GET", r"/datasets/customers$", "reset", times=1)
        proxy.inject("GET", r"/tables/x_meta_pipeline_runs/data$", "truncated", times=3)
        proxy.inject("GET", r"/datasets/globex/tables$", "malformed", times=1)
        proxy.inject("POST", r"/tables/customer_profiles:getIamPolicy$", "timeout", times=1)
        run = live_scan(proxy)
        faults = Counter(kind for _, _, kind in proxy.faulted)
    assert faults == {"503": 2, "reset": 1, "truncated": 3, "malformed": 1, "timeout": 1}
    assert run.inventory.gaps == ()
    assert run.findings == baseline.findings
    assert same_reads(run.inventory, baseline.inventory)
    assert run.code == 1
    assert run.requests == baseline.requests + 8


# ============================================================================ the CLI

# `auditor scan` keeps its own timeouts (30 s a call), so a stall here ends sooner: the
# proxy hangs up without an answer, which the client sees as a dropped connection.
CLI_STALL = 0.5
ONLY_ESTATE = [arg for d in DATASETS for arg in ("--dataset", d)]


def cli_scan(tmp_path: Path, endpoint: str) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "scan.json"
    result = CliRunner().invoke(
        main,
        ["scan", "--endpoint", endpoint, "--iam-exports", str(DEMO_IAM), "--workers", "1",
         *ONLY_ESTATE, "-f", "json", "-o", str(out)],
    )  # fmt: skip
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit), result.output
    return result.exit_code, json.loads(out.read_text(encoding="utf-8"))


def report_gaps(report: Mapping[str, Any]) -> set[str]:
    return {gap["scope"] for gap in report["run"]["coverage"]}


def statuses(findings: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    return {f["fingerprint"]: f["status"] for f in findings}


def check_cli_survived(
    base: Outcome, code: int, report: Mapping[str, Any], history: Sequence[Exchange]
) -> set[str]:
    """The property on the CLI's exit code and JSON report; returns the gap scopes."""
    assert most_tries(history, ignore=_BQ_QUERY) <= ATTEMPTS
    assert len(history) <= ATTEMPTS * base.requests
    gaps = report_gaps(report)
    assert gaps == {bigquery_scope(e.path) for e in kept_failing(history)} - {None}
    expected = {f.fingerprint: f.status.value for f in base.findings}
    got = statuses(report["findings"])
    if not gaps:
        assert (code, report["run"]["complete"]) == (base.code, True)
        assert got == expected
        return gaps
    assert (code, report["run"]["complete"]) == (3, False)
    resources = {f.fingerprint: f.resource for f in base.findings}
    for fingerprint, status in expected.items():
        if status == "FAIL" and got.get(fingerprint) != "FAIL":
            assert under(resources[fingerprint], gaps), resources[fingerprint]
            assert got.get(fingerprint) != "PASS"
    assert {fp for fp, s in got.items() if s == "FAIL"} <= set(expected)
    return gaps


@pytest.mark.parametrize("seed_", range(1, SEEDS + 1) if SEEDS else [2])
def test_the_cli_scan_survives_random_faults(
    engine: str, baseline: Outcome, tally: Counter[str], tmp_path: Path, seed_: int
) -> None:
    with FaultProxy(engine) as proxy:
        proxy.stall_seconds = CLI_STALL
        proxy.chaos(0.2, seed=seed_)
        code, report = cli_scan(tmp_path, proxy.url)
        history = proxy.history
    assert proxy.faulted
    gaps = check_cli_survived(baseline, code, report, history)
    count_faults(tally, "cli", history, gaps)


def test_the_cli_exits_3_naming_exactly_the_table_that_kept_failing(
    engine: str, baseline: Outcome, tmp_path: Path
) -> None:
    with FaultProxy(engine) as proxy:
        proxy.fail("GET", r"/datasets/globex/tables/x_meta_step_logs$", 500)
        code, report = cli_scan(tmp_path, proxy.url)
        history = proxy.history
    assert code == 3
    assert report["run"]["coverage"] == [
        {
            "scope": STEP_LOGS,
            "reason": "table could not be read: 500 Internal Server Error: injected 500"
            " (gave up after 4 attempts)",
        }
    ]
    check_cli_survived(baseline, code, report, history)
    got = statuses(report["findings"])
    lost = {f.fingerprint for f in baseline.findings if f.status is Status.FAIL} - set(got)
    assert {f.resource for f in baseline.findings if f.fingerprint in lost} == {STEP_LOGS}


# ============================================================================ IAM


class IamScopes:
    """The gap scope of each request collect_iam sends (resource, service account, group)."""

    _RESOURCE = re.compile(r"^/v3/(?P<r>(projects|folders|organizations)/[^/:]+)(:getIamPolicy)?$")
    _ACCOUNTS = re.compile(r"^/v1/(?P<r>projects/[^/]+)/serviceAccounts$")
    _ACCOUNT = re.compile(r"^/v1/(?P<r>projects/[^/]+/serviceAccounts/[^/:]+):getIamPolicy$")
    _ROLES = re.compile(r"^/v1/(?P<r>(projects|organizations)/[^/]+)/roles$")
    _DENY = re.compile(r"^/v2/policies/(?P<r>[^/]+)/denypolicies(/[^/]+)?$")
    _MEMBERS = re.compile(r"^/v1/(?P<g>groups/[^/]+)/memberships$")

    def __init__(self, recorded: Path) -> None:
        self.groups: dict[str, str] = {}  # groups/ID -> email, from the lookup recordings
        self.numbers: dict[str, str] = {}  # projects/NUMBER -> projects/ID
        for recording in load_recordings(recorded):
            answer = json.loads(recording.answer)
            if recording.path == "/v1/groups:lookup":
                self.groups[answer["name"]] = recording.query["groupKey.id"]
            elif recording.path.startswith("/v3/projects/") and "name" in answer:
                self.numbers[answer["name"]] = recording.path.removeprefix("/v3/")

    def of(self, request: Exchange) -> str:
        path = request.path
        for pattern in (self._RESOURCE, self._ACCOUNTS, self._ACCOUNT, self._ROLES):
            if found := pattern.match(path):
                return unquote(found["r"])
        if found := self._DENY.match(path):
            # cloudresourcemanager.googleapis.com%2Fprojects%2FN, escaped once more on the wire
            resource = unquote(unquote(found["r"])).split("/", 1)[1]
            return self.numbers.get(resource, resource)
        if path == "/v1/groups:lookup":
            return "group:" + parse_qs(request.query)["groupKey.id"][0]
        if found := self._MEMBERS.match(path):
            return "group:" + self.groups[found["g"]]
        raise AssertionError(f"a request the scope map does not know: {path}")


@dataclass(frozen=True)
class IamRun:
    parts: IamCollection
    history: list[Exchange]


@pytest.fixture(scope="module")
def recorded() -> Iterator[RecordedServer]:
    with RecordedServer(RECORDED_IAM) as server:
        yield server


@pytest.fixture(scope="module")
def iam_scopes() -> IamScopes:
    return IamScopes(RECORDED_IAM)


def collect_iam_through(proxy: FaultProxy) -> IamRun:
    retries = Retries(sleep=lambda _seconds: None, timeout=IAM_TIMEOUT)
    parts = collect_iam(P, endpoints=IamEndpoints.local(proxy.url), retries=retries)
    return IamRun(parts, proxy.history)


@pytest.fixture(scope="module")
def iam_baseline(recorded: RecordedServer) -> IamRun:
    with FaultProxy(recorded.url) as proxy:
        return collect_iam_through(proxy)


def check_iam_survived(base: IamRun, run: IamRun, scopes: IamScopes) -> set[str]:
    """The property for collect_iam: gaps are exactly what kept failing; nothing else lost."""
    assert most_tries(run.history) <= IAM_ATTEMPTS
    assert len(run.history) <= IAM_ATTEMPTS * len(base.history)
    gaps = {g.scope for g in run.parts.gaps}
    assert gaps == {scopes.of(e) for e in kept_failing(run.history)}
    got, clean = run.parts, base.parts
    if not gaps:
        assert got == clean
        return gaps
    # Nothing read differs from the clean read ...
    assert got.ancestry == clean.ancestry[: len(got.ancestry)]
    for name in ("iam_policies", "deny_policies", "group_memberships", "custom_roles"):
        assert set(getattr(got, name)) <= set(getattr(clean, name)), name

    # ... and whatever is missing is a gap, or sits behind one (an ancestor not reached,
    # a group named only by a policy that could not be read).
    def explained(resource: str) -> bool:
        return resource in gaps or resource not in got.ancestry

    for policy in set(clean.iam_policies) - set(got.iam_policies):
        owner = policy.resource.split("/serviceAccounts/")[0]
        assert policy.resource in gaps or explained(owner), policy.resource
    for deny in set(clean.deny_policies) - set(got.deny_policies):
        assert explained(deny.attachment.split("/", 1)[1]), deny.name
    for role in set(clean.custom_roles) - set(got.custom_roles):
        assert explained(role.name.split("/roles/")[0]), role.name
    named = {
        *(g for p in got.iam_policies for g in iamjson.binding_groups(p.bindings)),
        *iamjson.deny_groups(got.deny_policies),
        *(m.member.removeprefix("group:") for m in got.group_memberships),
    }
    for membership in set(clean.group_memberships) - set(got.group_memberships):
        group = membership.group
        assert f"group:{group}" in gaps or group not in named, group
    return gaps


def test_the_iam_scope_map_names_every_request(iam_baseline: IamRun, iam_scopes: IamScopes) -> None:
    assert iam_baseline.parts.gaps == ()
    assert {iam_scopes.of(e) for e in iam_baseline.history} == {
        f"projects/{P}",
        "folders/615723004981",
        "folders/309218475561",
        "organizations/482910375812",
        f"projects/{P}/serviceAccounts/etl@{P}.iam.gserviceaccount.com",
        f"projects/{P}/serviceAccounts/genai-agent@{P}.iam.gserviceaccount.com",
        *(f"group:{g}@example.com" for g in
          ("platform-admins", "analysts", "auditors", "genai-agents", "contractors")),
    }  # fmt: skip


IAM_CHAOS = chaos_cases([(0.1, FAULT_KINDS), (0.3, FAULT_KINDS), (0.6, NO_STALL)], [1, 2, 3])


@pytest.mark.parametrize(("rate", "seed_", "kinds"), IAM_CHAOS)
def test_iam_collection_survives_random_faults(
    recorded: RecordedServer,
    iam_baseline: IamRun,
    iam_scopes: IamScopes,
    tally: Counter[str],
    rate: float,
    seed_: int,
    kinds: tuple[str, ...],
) -> None:
    with FaultProxy(recorded.url) as proxy:
        proxy.stall_seconds = IAM_STALL
        proxy.chaos(rate, seed=seed_, kinds=kinds)
        run = collect_iam_through(proxy)
    assert proxy.faulted
    gaps = check_iam_survived(iam_baseline, run, iam_scopes)
    count_faults(tally, "iam", run.history, gaps)


def test_every_iam_request_failing_for_good_is_exactly_its_gap(
    recorded: RecordedServer, iam_baseline: IamRun, iam_scopes: IamScopes, tally: Counter[str]
) -> None:
    """Each distinct request path of the clean run, broken for good with a kind in turn."""
    paths = sorted({(e.method, e.path) for e in iam_baseline.history})
    for index, (method, path) in enumerate(paths):
        kind = NO_STALL[index % len(NO_STALL)]
        with FaultProxy(recorded.url) as proxy:
            proxy.inject(method, f"^{re.escape(path)}$", kind)
            run = collect_iam_through(proxy)
        gaps = check_iam_survived(iam_baseline, run, iam_scopes)
        assert gaps, f"{kind} on {method} {path} left no gap"
        count_faults(tally, "iam", run.history, gaps)


ORG = "organizations/482910375812"
FOLDER = "folders/615723004981"


def test_a_truncated_iam_answer_is_retried_like_a_lost_connection(
    recorded: RecordedServer, iam_baseline: IamRun
) -> None:
    with FaultProxy(recorded.url) as proxy:
        proxy.inject("POST", rf"^/v3/{ORG}:getIamPolicy$", "truncated", times=2)
        proxy.inject("GET", r"^/v1/groups:lookup$", "truncated", times=1)
        run = collect_iam_through(proxy)
    assert run.parts == iam_baseline.parts
    assert len(run.history) == len(iam_baseline.history) + 3


def test_a_stalled_iam_read_times_out_into_a_gap(
    recorded: RecordedServer, iam_baseline: IamRun, iam_scopes: IamScopes
) -> None:
    with FaultProxy(recorded.url) as proxy:
        proxy.stall_seconds = IAM_STALL
        proxy.inject("POST", rf"^/v3/{FOLDER}:getIamPolicy$", "timeout")
        run = collect_iam_through(proxy)
    [gap] = run.parts.gaps
    assert gap.scope == FOLDER
    assert gap.reason.startswith("IAM policy: ReadTimeout: ")
    assert gap.reason.endswith(f"(read timeout={IAM_TIMEOUT}) (gave up after 5 attempts)")
    check_iam_survived(iam_baseline, run, iam_scopes)


def test_malformed_json_on_an_iam_policy_is_a_gap_not_an_empty_policy(
    recorded: RecordedServer, iam_baseline: IamRun, iam_scopes: IamScopes
) -> None:
    with FaultProxy(recorded.url) as proxy:
        proxy.inject("POST", rf"^/v3/{ORG}:getIamPolicy$", "malformed")
        run = collect_iam_through(proxy)
    [gap] = run.parts.gaps
    assert (gap.scope, gap.reason.split(":")[0]) == (ORG, "IAM policy")
    assert "malformed answer" in gap.reason
    assert ORG not in {p.resource for p in run.parts.iam_policies}
    check_iam_survived(iam_baseline, run, iam_scopes)


def test_an_unreadable_project_keeps_its_deny_policy_attached_to_it(
    recorded: RecordedServer, iam_baseline: IamRun
) -> None:
    """The project read maps its number to its id; without it, the deny policy listed under
    the project must still be the project's (else the access graph would not apply it)."""
    with FaultProxy(recorded.url) as proxy:
        proxy.inject("GET", rf"^/v3/projects/{P}$", "503")
        run = collect_iam_through(proxy)
    assert {g.scope for g in run.parts.gaps} == {f"projects/{P}"}
    assert run.parts.ancestry == (f"projects/{P}",)
    [deny] = run.parts.deny_policies
    assert deny.attachment == f"cloudresourcemanager.googleapis.com/projects/{P}"
    assert deny in iam_baseline.parts.deny_policies


# ============================================================================ the proxy


def test_explicit_rules_win_over_chaos_and_a_seed_repeats_its_faults(
    recorded: RecordedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One request order gives one fault sequence: the IAM reads go one at a time here.
    monkeypatch.setattr(iam, "WORKERS", 1)
    runs = []
    for _ in range(2):
        with FaultProxy(recorded.url) as proxy:
            proxy.chaos(1.0, seed=5, kinds=("429",), method="GET", path=r"^/v1/groups")
            proxy.chaos(0.5, seed=9, kinds=("503", "reset"))
            proxy.fail("GET", r"^/v1/groups:lookup$", 403)
            collect_iam_through(proxy)
            runs.append(proxy.faulted)
    assert runs[0] == runs[1]
    lookups = [kind for _, path, kind in runs[0] if path == "/v1/groups:lookup"]
    assert lookups and set(lookups) == {"403"}
    others = {kind for _, path, kind in runs[0] if path != "/v1/groups:lookup"}
    assert others == {"503", "reset"}
