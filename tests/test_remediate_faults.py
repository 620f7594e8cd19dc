"""Remediation under faults: the applier is stopped at random points, then run again.

After every stop of `auditor remediate apply` the tests check what docs/remediation.md
promises:

- the journal reads back up to the stop (a torn last line is tolerated and reported);
- the estate holds exactly the plan's first m actions, m read from the journal (plus the
  action in flight when its write reached the engine);
- applying the same plan again, with the same journal, writes exactly what is left and ends
  in the plan's desired state (read back from the engine and compared with the actions'
  pure effects);
- `auditor remediate rollback` then restores the estate from before the apply exactly;
- nothing is ever deleted: every dataset, table and column seen before is still there with
  the same number of rows, after the stop, after the re-run and after the rollback.

The runs of one family share one plan and one journal: after each rollback the same plan
applies again, its preconditions moved forward by the journal.

How the applier is stopped:

- in process, at its k-th mutating HTTP request (faults in the client's transport, see
  Injector): a crash before the request leaves, a crash after the engine applied it but
  before the answer is read (the hard case), the answer lost once or on every retry, the
  network gone right after the write; or a crash while the k-th journal record is written,
  leaving a torn last line. Every third run also crashes its first rollback at a write.
- for real: `auditor remediate apply` runs as a subprocess through a FaultProxy that injects
  429/500/503/reset/truncated answers on mutating calls, and gets SIGKILL once the proxy
  has seen its k-th mutating request, or while the proxy holds a write (never forwarded).
- API errors only (test_injected_api_errors): transient ones are retried and the run goes
  through; a persistent one stops it (exit 3) and the next run converges.

The faithful engine (local-bigquery) checks If-Match and table IAM etags, so its estate gets
every kind of change a remediation plan makes (default CMEK, access entries, a table, a
column, table IAM). The fast engine (bqemulator) ignores If-Match, so there a retried write
lands again; it keeps access entries faithfully, and its family removes public ones.

CI: 28 stops (23 of apply, 5 of rollback) and 3 fault-only runs. AUDITOR_FAULT_RUNS=N runs
N stops of each kind per family instead; AUDITOR_FAULT_SEED picks other kill points (a
failure names the seed, the mode and k).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from google.cloud import bigquery

from auditor.cli import main
from auditor.model import Dataset, Table, walk_fields
from auditor.remediate import bigquery as remediate_bigquery
from auditor.remediate.actions import DatasetAction, TableAction, entry_key
from auditor.remediate.apply import apply_plan
from auditor.remediate.bigquery import BigQueryEstate
from auditor.remediate.journal import Journal, JournalError
from auditor.remediate.plan import Plan
from auditor.remediate.planfile import read_plan
from auditor.remediate.rollback import rollback
from auditor.remediate.state import ApplyError
from auditor.resources import PROJECT_DIR, SCHEMAS_DIR
from auditor.sources.bigquery import make_client
from tests.conftest import LocalBigQuery
from tests.support.faultproxy import FaultProxy

P = "gac-prod-471220"
IAM = ["--iam-exports", str(PROJECT_DIR / "examples" / "demo-iam")]
ADMINS = "platform-admins@convergence.example"
RUNS = int(os.environ.get("AUDITOR_FAULT_RUNS", "0"))
SEED = int(os.environ.get("AUDITOR_FAULT_SEED", "20261127"))
ATTEMPTS = 4  # BigQueryEstate's tries per request
STATS: dict[str, Any] = {}


def runs(ci: int) -> int:
    return RUNS or ci


def now() -> datetime:
    return datetime.now(UTC)


# ----------------------------------------------------------------------------- the estates


def _template(name: str) -> list[bigquery.SchemaField]:
    fields = json.loads((SCHEMAS_DIR / "tenant" / f"{name}.json").read_text(encoding="utf-8"))
    return [bigquery.SchemaField.from_api_repr(f) for f in fields]


_VALUES = {"STRING": "x", "TIMESTAMP": "2026-01-01T00:00:00Z", "INTEGER": 1, "BOOLEAN": True}


def _rows(schema: Sequence[bigquery.SchemaField], count: int) -> list[dict[str, Any]]:
    """`count` rows with every REQUIRED column filled and one NULLABLE STRING set."""
    optional = next(f.name for f in schema if f.mode == "NULLABLE" and f.field_type == "STRING")
    required = {f.name: _VALUES[f.field_type] for f in schema if f.mode == "REQUIRED"}
    return [{**required, optional: f"row-{i}"} for i in range(count)]


def _dataset(
    client: bigquery.Client, dataset_id: str, public: Sequence[str], *, tenant: bool = True
) -> None:
    ds = bigquery.Dataset(f"{P}.{dataset_id}")
    ds.location = "US"
    ds.labels = {"dataset_role": "tenant", "tenant_id": dataset_id} if tenant else {}
    ds.access_entries = [
        bigquery.AccessEntry("OWNER", "groupByEmail", ADMINS),
        *(bigquery.AccessEntry("READER", "specialGroup", group) for group in public),
    ]
    client.delete_dataset(ds.reference, delete_contents=True, not_found_ok=True)
    client.create_dataset(ds)


def _table(
    client: bigquery.Client,
    dataset_id: str,
    name: str,
    rows: int,
    schema: Sequence[bigquery.SchemaField] | None = None,
    without: str | None = None,
) -> bigquery.Table:
    fields = [f for f in schema or _template(name) if f.name != without]
    table = client.create_table(bigquery.Table(f"{P}.{dataset_id}.{name}", schema=fields))
    assert client.insert_rows_json(table, _rows(fields, rows)) == []
    return table


EVENTS = [
    bigquery.SchemaField("event_id", "STRING", "REQUIRED"),
    bigquery.SchemaField("detail", "STRING", "NULLABLE"),
]


def seed_faithful(client: bigquery.Client) -> None:
    """fx_a (tenant): no default key, a public entry, a template table missing, a column
    missing. fx_b (unclassified): a public entry, and a public reader in its table's IAM."""
    _dataset(client, "fx_a", ["allAuthenticatedUsers"])
    _table(client, "fx_a", "x_meta_pipeline_runs", rows=3)
    _table(client, "fx_a", "x_meta_step_logs", rows=2, without="step_type")
    _dataset(client, "fx_b", ["allAuthenticatedUsers"], tenant=False)
    events = _table(client, "fx_b", "events", rows=2, schema=EVENTS)
    policy = client.get_iam_policy(events)
    policy.bindings.append({"role": "roles/bigquery.dataViewer", "members": {"allUsers"}})
    client.set_iam_policy(events, policy)


def seed_fast(client: bigquery.Client) -> None:
    """Three tenant datasets with public entries, each with a table holding rows."""
    for n in range(3):
        _dataset(client, f"fxf_{n}", ["allAuthenticatedUsers"] if n < 2 else [])
        _table(client, f"fxf_{n}", "x_meta_pipeline_runs", rows=2 + n)
    ds = client.get_dataset(f"{P}.fxf_2")
    ds.access_entries = [
        *ds.access_entries,
        bigquery.AccessEntry("READER", "iamMember", "allUsers"),
    ]
    client.update_dataset(ds, ["access_entries"])


# ----------------------------------------------------------------------------- reading back


@dataclass(frozen=True)
class Estate:
    datasets: dict[str, Dataset]
    tables: dict[tuple[str, str], Table]
    rows: dict[tuple[str, str], int]

    def normal(self) -> dict[str, Any]:
        return normal(self.datasets, self.tables)


def normal(
    datasets: Mapping[str, Dataset | None], tables: Mapping[tuple[str, str], Table | None]
) -> dict[str, Any]:
    """What remediation may change, comparable across reads and predictions (access as a
    set: BigQuery keeps no meaningful order; etags left out: every write changes them)."""
    out: dict[str, Any] = {}
    for name, d in sorted(datasets.items()):
        if d is not None:
            out[name] = {
                "access": sorted(json.dumps(entry_key(e), sort_keys=True) for e in d.access),
                "labels": dict(d.labels),
                "kms": d.default_kms_key,
                "location": (d.location or "").upper(),
            }
    for (ds, name), t in sorted(tables.items()):
        if t is not None:
            out[f"{ds}.{name}"] = {
                "kms": t.kms_key,
                "fields": [(p, f.canonical_type, f.mode) for p, f in walk_fields(t.fields)],
                "iam": sorted((b.role, sorted(b.members)) for b in t.iam or ()),
            }
    return out


@dataclass(frozen=True)
class Family:
    """One estate, one plan and one journal, applied and rolled back run after run."""

    name: str
    endpoint: str
    prefix: str  # of the family's datasets
    iam_datasets: tuple[str, ...]  # whose tables' IAM is read back (bqemulator has none)
    plan_path: Path
    plan: Plan
    before: Estate  # what the plan was made from; every rollback returns to it
    rng: random.Random
    outcomes: list[str] = field(default_factory=list)

    @property
    def journal(self) -> Path:
        return self.plan_path.with_suffix(".journal.jsonl")

    @property
    def n(self) -> int:
        return len(self.plan.actions)

    def read(self) -> Estate:
        client = make_client(P, self.endpoint)
        estate = BigQueryEstate(client)
        datasets: dict[str, Dataset] = {}
        tables: dict[tuple[str, str], Table] = {}
        rows: dict[tuple[str, str], int] = {}
        for item in client.list_datasets():
            if not item.dataset_id.startswith(self.prefix):
                continue
            ds = estate.get_dataset(P, item.dataset_id)
            assert ds is not None
            datasets[item.dataset_id] = ds.model
            for t in client.list_tables(item.dataset_id):
                iam = item.dataset_id in self.iam_datasets
                got = estate.get_table(P, item.dataset_id, t.table_id, iam=iam)
                assert got is not None
                tables[(item.dataset_id, t.table_id)] = got.model
                rows[(item.dataset_id, t.table_id)] = int(got.raw.get("numRows") or 0)
        return Estate(datasets, tables, rows)

    def predict(self, applied: int) -> dict[str, Any]:
        """The estate after the plan's first `applied` actions, from their pure effects."""
        datasets: dict[str, Dataset | None] = dict(self.before.datasets)
        tables: dict[tuple[str, str], Table | None] = dict(self.before.tables)
        for action in self.plan.actions[:applied]:
            if isinstance(action, TableAction):
                key = (action.dataset_id, action.table_id or "")
                tables[key] = action.effect(tables.get(key))
            else:
                assert isinstance(action, DatasetAction)
                datasets[action.dataset_id] = action.effect(datasets.get(action.dataset_id))
        return normal(datasets, tables)

    def assert_nothing_lost(self, estate: Estate, when: str) -> None:
        """Every dataset, table and column of the original estate is there, rows and all."""
        assert set(self.before.datasets) <= set(estate.datasets), when
        for key, table in self.before.tables.items():
            assert key in estate.tables, f"{when}: table {key} disappeared"
            paths = {p for p, _ in walk_fields(estate.tables[key].fields)}
            lost = [p for p, _ in walk_fields(table.fields) if p not in paths]
            assert not lost, f"{when}: columns {lost} of {key} disappeared"
            assert estate.rows[key] == self.before.rows[key], f"{when}: rows of {key} changed"


def make_family(
    name: str, bq: LocalBigQuery, tmp: Path, prefix: str, iam: tuple[str, ...], *options: str
) -> Family:
    plan_path = tmp / f"{name}.json"
    code, output = cli(
        "remediate", "plan", "--endpoint", bq.endpoint, *IAM, "-o", str(plan_path),
        "--dataset", f"{prefix}*", *options,
    )  # fmt: skip
    assert code == 0, output
    rng = random.Random(f"{SEED}-{name}")
    empty = Estate({}, {}, {})
    family = Family(name, bq.endpoint, prefix, iam, plan_path, read_plan(plan_path), empty, rng)
    return replace(family, before=family.read())


def short(resource: str) -> str:
    return resource.split("/datasets/", 1)[1].replace("/tables/", ".")


@pytest.fixture(scope="module")
def faithful(faithful_bq: LocalBigQuery, tmp_path_factory: pytest.TempPathFactory) -> Family:
    seed_faithful(make_client(P, faithful_bq.endpoint))
    # Two of fx_a's three missing tables are left out: fewer tables to read back each run.
    fx_a = f"//bigquery.googleapis.com/projects/{P}/datasets/fx_a"  # the dataset alone
    scope = (fx_a, "fx_a.x_meta_step_logs", "fx_a.x_meta_scheduled_runs", "fx_b")
    family = make_family(
        "faithful", faithful_bq, tmp_path_factory.mktemp("faithful"), "fx_", ("fx_b",),
        *(arg for glob in scope for arg in ("--only-resource", glob)),
    )  # fmt: skip
    assert [(a.id, a.kind.value, short(a.resource)) for a in family.plan.actions] == [
        ("A01", "SetDefaultEncryption", "fx_a"),
        ("A02", "RemoveAccessEntries", "fx_a"),
        ("A03", "RemoveAccessEntries", "fx_b"),
        ("A04", "CreateTable", "fx_a.x_meta_scheduled_runs"),
        ("A05", "AddColumns", "fx_a.x_meta_step_logs"),
        ("A06", "RemoveTableIamMember", "fx_b.events"),
    ]
    return family


@pytest.fixture(scope="module")
def fast(fast_bq: LocalBigQuery, tmp_path_factory: pytest.TempPathFactory) -> Family:
    seed_fast(make_client(P, fast_bq.endpoint))
    # bqemulator answers 405 to table IAM: the scan has gaps there (--allow-partial).
    family = make_family(
        "fast", fast_bq, tmp_path_factory.mktemp("fast"), "fxf_", (),
        "--only", "AUD-006", "--allow-partial",
    )  # fmt: skip
    assert [(a.id, a.kind.value, short(a.resource)) for a in family.plan.actions] == [
        ("A01", "RemoveAccessEntries", "fxf_0"),
        ("A02", "RemoveAccessEntries", "fxf_1"),
        ("A03", "RemoveAccessEntries", "fxf_2"),
    ]
    return family


@pytest.fixture(scope="module", autouse=True)
def report_stats() -> Iterator[None]:
    yield
    if STATS:
        print("\nremediation under faults:", json.dumps(STATS, sort_keys=True))


def count(key: str, by: int = 1) -> None:
    STATS[key] = STATS.get(key, 0) + by


# ----------------------------------------------------------------------------- helpers


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def records(path: Path) -> list[dict[str, Any]]:
    """The journal's records, read and validated by the applier's own reader."""
    return Journal(path, now).records()


def length(path: Path) -> int:
    """Records in a journal that ends with a whole line (one per line)."""
    return path.read_bytes().count(b"\n") if path.exists() else 0


def statuses(recs: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    return [(r["action_id"], r["status"]) for r in recs if r["record"] == "action"]


def full_run(n: int) -> list[tuple[str, str]]:
    """The action records of an apply run that goes through: started, done per action."""
    return [(f"A{i:02d}", s) for i in range(1, n + 1) for s in ("started", "done")]


def counts(output: str) -> tuple[int, int, int]:
    """(applied, already in place, done earlier) from apply's summary line."""
    found = re.search(r"applied (\d+), already in place (\d+), done earlier (\d+)", output)
    assert found is not None, output
    applied, in_place, earlier = (int(g) for g in found.groups())
    return applied, in_place, earlier


# ----------------------------------------------------------------------------- injection


def is_write(method: str, url: str) -> bool:
    return method != "GET" and not url.split("?")[0].endswith(":getIamPolicy")


class Crash(BaseException):
    """The process dies here: nothing after it runs (not an Exception: no handler sees it)."""


@dataclass
class Injector:
    """Faults in a client's transport at its k-th write (a mutating request):

    before     the process dies before the request leaves
    after      the engine applies it; the process dies before reading the answer
    lost       the engine applies it; the answer is lost once (the applier retries)
    lost-all   the answers of the write and of all its retries are lost
    partition  the engine applies it, then the network is gone: no answer, no request
    cut-off    the engine applies it and answers, then the network is gone
    """

    mode: str
    k: int
    writes: int = 0
    lost: int = 0

    def install(self, client: bigquery.Client) -> None:
        session = client._http
        send = session.request

        def request(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            if self.mode in ("partition", "cut-off") and self.writes >= self.k:
                raise requests.ConnectionError("injected: the network is gone")
            if not is_write(method, url):
                return send(method, url, *args, **kwargs)
            self.writes += 1
            if self.writes == self.k and self.mode == "before":
                raise Crash(f"crash before write {self.k}")
            answer = send(method, url, *args, **kwargs)
            if self.writes == self.k and self.mode == "after":
                raise Crash(f"crash after write {self.k} reached the engine")
            if self.loses(self.writes):
                self.lost += 1
                raise requests.ConnectionError("injected: the answer was lost")
            return answer

        session.request = request

    def loses(self, write: int) -> bool:
        """Whether the answer to this write is lost (the k-th write and its retries)."""
        tries = {"lost": 1, "lost-all": ATTEMPTS, "partition": 1}.get(self.mode, 0)
        return self.k <= write < self.k + tries


@pytest.fixture(autouse=True)
def no_backoff(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """In-process retries do not wait (the subprocess runs keep the real backoff)."""
    slept: list[float] = []
    monkeypatch.setattr(remediate_bigquery, "time", SimpleNamespace(sleep=slept.append))
    return slept


def torn_append(j: int) -> Callable[[Journal, Mapping[str, Any]], None]:
    """Journal.append that dies while writing its j-th record: part of the line is on disk."""
    original = Journal.append
    appended = [0]

    def append(self: Journal, record: Mapping[str, Any]) -> None:
        original(self, record)
        appended[0] += 1
        if appended[0] == j:
            data = self.path.read_bytes()
            line_start = data.rstrip(b"\n").rfind(b"\n") + 1
            cut = random.Random(j).randint(line_start + 1, len(data) - 2)  # inside the JSON
            self.path.write_bytes(data[:cut])
            raise Crash(f"crash while writing journal record {j}")

    return append


# ----------------------------------------------------------------------------- the checks


def after_the_stop(family: Family, start: int, label: str, landed: bool | None) -> int:
    """Check the journal and the estate after a stop; the number of actions in effect.
    `landed`: whether the write in flight reached the engine (None: either may be)."""
    steps = statuses(records(family.journal)[start:])
    whole = steps[:-1] if steps[-1:] and steps[-1][1] == "failed" else steps
    assert whole == full_run(family.n)[: len(whole)], f"{label}: {steps}"
    done = sum(1 for _, s in steps if s == "done")
    in_flight = bool(steps) and steps[-1][1] in ("started", "failed")
    stopped = family.read()
    family.assert_nothing_lost(stopped, f"{label}: after the stop")
    if landed is None:
        landed = in_flight and stopped.normal() == family.predict(done + 1)
    assert in_flight or not landed, label
    assert stopped.normal() == family.predict(done + landed), f"{label}: the state after the stop"
    family.outcomes.append("landed" if landed else "in flight" if in_flight else "between")
    return done + landed


def converge(family: Family, done: int, applied: int, label: str, note: str = "") -> None:
    """Apply again (same plan, same journal): exactly what is left is written."""
    code, output = cli("remediate", "apply", str(family.plan_path), "--endpoint", family.endpoint)
    assert code == 0, f"{label}: {output}"
    assert counts(output) == (family.n - applied, applied - done, done), f"{label}: {output}"
    assert note in output, f"{label}: {output}"
    converged = family.read()
    family.assert_nothing_lost(converged, f"{label}: after the re-run")
    assert converged.normal() == family.predict(family.n), f"{label}: not the desired state"


def roll_back(family: Family, label: str, crash: tuple[str, int] | None = None) -> None:
    """Roll back (the first attempt crashed at its k-th write, if asked): the estate is the
    one from before the apply again."""
    start = length(family.journal)
    if crash is not None:
        client = make_client(P, family.endpoint)
        Injector(*crash).install(client)
        with pytest.raises(Crash):
            rollback(family.journal, BigQueryEstate(client), clock=now)
        family.assert_nothing_lost(family.read(), f"{label}: after the stopped rollback")
        count("rollback stops")
    undone = sum(1 for r in records(family.journal)[start:] if r.get("status") == "undone")
    code, output = cli("remediate", "rollback", str(family.journal), "--endpoint", family.endpoint)
    assert code == 0, f"{label}: {output}"
    assert f"undid {family.n - undone} action(s)" in output, f"{label}: {output}"
    back = family.read()
    assert back.normal() == family.before.normal(), f"{label}: the rollback did not restore"
    assert back.rows == family.before.rows, label


# ----------------------------------------------------------------------------- the stops


def stop_in_process(family: Family, mode: str, k: int) -> None:
    """Apply with a fault at the k-th write (the k-th journal record for `torn`), then
    check, converge and roll back."""
    label = f"{family.name} {mode} k={k} (AUDITOR_FAULT_SEED={SEED})"
    start = length(family.journal)
    client = make_client(P, family.endpoint)
    injector = Injector(mode, k)
    if mode != "torn":
        injector.install(client)
    estate = BigQueryEstate(client)

    def apply() -> Any:
        return apply_plan(
            family.plan, estate, family.journal, clock=now, plan_path=str(family.plan_path)
        )

    note = ""
    recorded = full_run(family.n)[: 2 * k - 1]  # up to the k-th action's `started`
    if mode == "torn":
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(Journal, "append", torn_append(k))
            with pytest.raises(Crash):
                apply()
        assert not family.journal.read_bytes().endswith(b"\n"), label
        # The run record comes first, then started and done per action.
        recorded = full_run(family.n)[: max(k - 2, 0)]
        landed = k > 1 and k % 2 == 1  # a torn `done`: its write went through
        note = "was cut short by a crash"
    elif mode in ("before", "after"):
        with pytest.raises(Crash):
            apply()
        landed = mode == "after"
    elif mode in ("lost", "lost-all"):
        # The retries meet the change in place (412, 409, IAM's etag error, the same content
        # again): the state read back says it is done.
        report = apply()
        assert [o.status for o in report.outcomes] == ["done"] * family.n, label
        assert injector.lost == (1 if mode == "lost" else ATTEMPTS), label
        recorded, landed = full_run(family.n), False
    else:  # the write went through, then nothing answers, not even a read
        failed = "failed" if mode == "partition" else "the change was sent but cannot be verified"
        with pytest.raises(ApplyError, match=f"A{k:02d} .*{failed}: .*the network is gone"):
            apply()
        recorded, landed = [*recorded, (f"A{k:02d}", "failed")], True
    assert statuses(records(family.journal)[start:]) == recorded, label
    applied = after_the_stop(family, start, label, landed)
    converge(family, applied - landed, applied, label, note)
    count("apply stops")


def write_rules(plan_path: Path) -> list[tuple[str, str]]:
    """(method, path regex) of each action's request, as the plan file shows it."""
    out = []
    for action in json.loads(plan_path.read_text(encoding="utf-8"))["actions"]:
        method, url = action["api"]["http"].split(" ", 1)
        out.append((method, re.escape(url.split("/bigquery/v2", 1)[1]) + "$"))
    return out


FAULT_KINDS = ("429", "500", "503", "reset", "truncated")


def stop_for_real(family: Family, k: int, hold: bool) -> None:
    """`auditor remediate apply` as a subprocess through a FaultProxy that faults 30 % of the
    writes at random, then SIGKILL:

    hold=False  one write's answer is truncated after the engine applied it; the kill comes
                once the proxy has seen the k-th mutating request (in flight, or landed)
    hold=True   the proxy holds the k-th action's request and never forwards it; the kill
                comes when it arrives (in flight, not landed)
    """
    label = f"{family.name} SIGKILL k={k} hold={hold} (AUDITOR_FAULT_SEED={SEED})"
    start = length(family.journal)
    rules = write_rules(family.plan_path)
    command = [str(Path(sys.executable).parent / "auditor"), "remediate", "apply"]
    with FaultProxy(family.endpoint) as proxy:
        if hold:  # explicit rules come before chaos: this request is held, whatever happens
            held = proxy.inject(*rules[min(k, family.n) - 1], "timeout", times=1)
        else:
            proxy.inject(*family.rng.choice(rules), "truncated", times=1)
        for method in sorted({m for m, _ in rules}):
            writes = "|".join(p for m, p in rules if m == method)
            proxy.chaos(0.3, family.rng.randrange(2**32), FAULT_KINDS, method, writes)
        with subprocess.Popen(
            [*command, str(family.plan_path), "--endpoint", proxy.url],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        ) as process:
            if hold:
                killed = kill_at(process, lambda: held.hits, 1)
            else:
                killed = kill_at(process, lambda: writes_seen(proxy, rules), k)
            output = process.communicate(timeout=300)[0].decode()
        faults = Counter(kind for _, _, kind in proxy.faulted)
    STATS["faults injected (SIGKILL runs)"] = dict(
        Counter(STATS.get("faults injected (SIGKILL runs)", {})) + faults
    )
    # Not killed: fewer mutating requests than k (exit 0), or a write faulted on every try.
    assert process.returncode in ((-signal.SIGKILL,) if killed else (0, 3)), f"{label}: {output}"
    applied = after_the_stop(family, start, label, False if hold else None)
    done = sum(1 for _, s in statuses(records(family.journal)[start:]) if s == "done")
    converge(family, done, applied, label)
    count("apply stops" if killed else "SIGKILL runs that ended first")


def writes_seen(proxy: FaultProxy, rules: Sequence[tuple[str, str]]) -> int:
    return sum(proxy.count(method, path) for method, path in sorted(set(rules)))


def kill_at(process: subprocess.Popen[bytes], seen: Callable[[], int], k: int) -> bool:
    """SIGKILL `process` as soon as `seen()` reaches k; False when it ended before."""
    while process.poll() is None:
        if seen() >= k:
            process.send_signal(signal.SIGKILL)
            return True
        time.sleep(0.0005)
    return False


# ----------------------------------------------------------------------------- the tests

MODES = ("before", "after", "lost", "lost-all", "partition", "cut-off", "torn")
# Where the engine's etag checks decide: the write landed and a retry or re-run meets it.
LANDED_MODES = ("after", "lost", "lost-all", "partition", "cut-off")


def exercise(family: Family, stops: int, modes: Sequence[str]) -> None:
    """`stops` in-process stops, the modes in turn; every third also stops its rollback."""
    t0 = time.monotonic()
    for i in range(stops):
        mode = modes[i % len(modes)]
        k = family.rng.randint(1, 1 + 2 * family.n if mode == "torn" else family.n)
        stop_in_process(family, mode, k)
        crash = None
        if i % 3 == 2:
            crash = (family.rng.choice(("before", "after")), family.rng.randint(1, family.n))
        roll_back(family, f"{family.name} {mode} k={k} rollback crash {crash}", crash)
    STATS[f"{family.name} in process"] = {
        "stops": stops,
        "outcomes": dict(Counter(family.outcomes)),
        "seconds": round(time.monotonic() - t0, 1),
    }


def kill_for_real(family: Family, count: int) -> None:
    t0 = time.monotonic()
    before = len(family.outcomes)
    for i in range(count):
        stop_for_real(family, family.rng.randint(1, family.n + 2), hold=i % 2 == 1)
        roll_back(family, f"{family.name} SIGKILL run {i}")
    STATS[f"{family.name} SIGKILL"] = {
        "runs": count,
        "outcomes": dict(Counter(family.outcomes[before:])),
        "seconds": round(time.monotonic() - t0, 1),
    }


@pytest.mark.emulator
def test_faithful_engine_stopped_in_process(faithful: Family) -> None:
    exercise(faithful, runs(5), LANDED_MODES)


@pytest.mark.emulator
def test_fast_engine_stopped_in_process(fast: Family) -> None:
    exercise(fast, runs(14), MODES)


@pytest.mark.emulator
def test_faithful_engine_killed_for_real(faithful: Family) -> None:
    kill_for_real(faithful, runs(2))


@pytest.mark.emulator
def test_fast_engine_killed_for_real(fast: Family) -> None:
    kill_for_real(fast, runs(2))


@pytest.mark.emulator
def test_injected_api_errors(fast: Family, no_backoff: list[float]) -> None:
    """Transient errors on writes are retried and the run goes through; a persistent one
    stops it with exit 3 and names the action; the next run converges."""
    plan = str(fast.plan_path)
    start = length(fast.journal)
    with FaultProxy(fast.endpoint) as proxy:
        proxy.inject("PATCH", r"/datasets/fxf_0$", "429", times=1)
        proxy.inject("PATCH", r"/datasets/fxf_0$", "500", times=1)
        proxy.inject("PATCH", r"/datasets/fxf_1$", "503", times=1)
        proxy.inject("PATCH", r"/datasets/fxf_1$", "reset", times=1)
        proxy.inject("PATCH", r"/datasets/fxf_2$", "truncated", times=1)  # applied, no answer
        code, output = cli("remediate", "apply", plan, "--endpoint", proxy.url)
        faulted = [(short(path), kind) for _, path, kind in proxy.faulted]
    assert code == 0 and counts(output) == (3, 0, 0), output
    assert faulted == [
        ("fxf_0", "429"), ("fxf_0", "500"), ("fxf_1", "503"), ("fxf_1", "reset"),
        ("fxf_2", "truncated"),
    ]  # fmt: skip
    assert len(no_backoff) == 5  # one wait per fault
    assert statuses(records(fast.journal)[start:]) == full_run(3)
    assert fast.read().normal() == fast.predict(3)
    roll_back(fast, "transient errors")

    # Every try of A02 answered 503: A01 stays done, A02 failed, A03 never started.
    start = length(fast.journal)
    with FaultProxy(fast.endpoint) as proxy:
        proxy.inject("PATCH", r"/datasets/fxf_1$", "503")
        code, output = cli("remediate", "apply", plan, "--endpoint", proxy.url)
        assert [kind for _, _, kind in proxy.faulted] == ["503"] * ATTEMPTS
    assert code == 3, output
    assert "error: A02 (remove 1 access entry from fxf_1" in output
    assert "failed: 503" in output and "fix the cause and apply again" in output
    assert after_the_stop(fast, start, "persistent 503", landed=False) == 1
    converge(fast, 1, 1, "persistent 503")

    # Rollback retries too: a 503 and a reset on its writes, and it restores everything.
    with FaultProxy(fast.endpoint) as proxy:
        proxy.inject("PATCH", r"/datasets/fxf_0$", "503", times=1)
        proxy.reset("PATCH", r"/datasets/fxf_2$", times=1)
        code, output = cli("remediate", "rollback", str(fast.journal), "--endpoint", proxy.url)
        assert [(short(p), kind) for _, p, kind in proxy.faulted] == [
            ("fxf_2", "reset"),
            ("fxf_0", "503"),
        ]
    assert code == 0 and "undid 3 action(s)" in output, output
    assert fast.read().normal() == fast.before.normal()
    count("fault-only runs", 3)
    count("faults injected (fault-only runs)", 5 + ATTEMPTS + 2)


def test_a_torn_last_journal_line_is_dropped_and_reported(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "plan.journal.jsonl", now)
    run = {"record": "run", "op": "apply", "journal_version": "1", "plan_digest": "0" * 64}
    journal.append({**run, "plan": "plan.json", "project": P})
    resource = f"//bigquery.googleapis.com/projects/{P}/datasets/fx_a"
    started = {"record": "action", "action_id": "A01", "kind": "SetLabels"}
    before = {"exists": True, "labels": {}}
    journal.append({**started, "resource": resource, "status": "started", "before": before})
    whole = journal.path.read_bytes()
    first_line = whole[: whole.index(b"\n") + 1]

    journal.path.write_bytes(whole[:-9])  # the second record cut short
    assert [r["record"] for r in journal.records()] == ["run"]
    cut = len(whole) - 9 - len(first_line)
    assert journal.repair() == (
        f"journal {journal.path}: its last line (2) was cut short by a crash ({cut} bytes); ignored"
    )
    assert journal.path.read_bytes() == first_line
    assert journal.repair() is None

    journal.path.write_bytes(whole[:-1])  # a whole record without its line end
    assert [r["record"] for r in journal.records()] == ["run", "action"]
    assert journal.repair() == (
        f"journal {journal.path}: its last line (2) lacked its line end after a crash; "
        "the record is whole and kept"
    )
    assert journal.path.read_bytes() == whole

    journal.path.write_bytes(whole[:-9] + b"\n" + whole)  # torn, but not the last line
    with pytest.raises(JournalError, match=r"plan.journal.jsonl:2: not JSON"):
        journal.records()


@pytest.mark.emulator
def test_a_column_is_dropped_only_on_proof_that_it_is_empty(fast: Family) -> None:
    """bqemulator keeps a column added by a schema patch in the metadata only, and answers
    no row at all to COUNT(*) over it: that is no proof of "no value", so rollback's check
    refuses (and the column is kept) instead of counting it as empty."""
    client = make_client(P, fast.endpoint)
    estate = BigQueryEstate(client)
    table = client.get_table(f"{P}.fxf_0.x_meta_pipeline_runs")
    assert estate.values_in(P, "fxf_0", "x_meta_pipeline_runs", "pipeline_version") == 2
    assert estate.values_in(P, "fxf_0", "x_meta_pipeline_runs", "error_message") == 0
    table.schema = [*table.schema, bigquery.SchemaField("fx_added", "STRING")]
    client.update_table(table, ["schema"])
    try:
        with pytest.raises(ApplyError, match="answered 0 rows, not 1: the column is kept"):
            estate.values_in(P, "fxf_0", "x_meta_pipeline_runs", "fx_added")
    finally:
        table.schema = table.schema[:-1]  # bqemulator accepts a patch that removes a column
        client.update_table(table, ["schema"])
    assert [f.name for f in client.get_table(table).schema][-1] != "fx_added"
