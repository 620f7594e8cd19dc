"""The users' paths, end to end, typed as a user types them.

Every command here runs as a separate `auditor` process through the shell's rules (argv
split like a pasted line, PATH lookup), in a scratch directory, with no Google credentials
and no endpoint in the environment unless the path itself exports one:

- `make demo`'s steps, then `auditor local stop` (nothing running: exit 0);
- the README's local engine lines (start, status, stop) and its remediation walkthrough
  (demo, plan, apply, rollback, stop) as written;
- `remediate plan` -> the `apply` command it prints -> the `rollback` command that prints
  -> the `auditor provision` of a manual step -> its apply -> its rollback: each pasted
  as printed, each succeeding, the estate as seeded at the end;
- re-applying after someone re-added what a plan removed: fixed, or refused;
- `provision customers`: what it leaves, and the `remediate plan` command it prints;
- a run reads only what its rules need (`--only AUD-014` needs no IAM), and an incomplete
  run says why on stderr;
- every command that builds a Google client, without credentials: exit 2 and what to do.

The tests that need an engine use the session's faithful engine (tests/conftest.py), except
the two that start and stop engines themselves as the user does: those get a state dir of
their own, and a finalizer stops what they started whatever happens.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from google.cloud import bigquery

from auditor.cli import main
from auditor.demo.seed import SeedOptions, seed
from auditor.local import Engine, stop
from auditor.resources import PROJECT_DIR
from auditor.sources.bigquery import make_client
from tests.conftest import LocalBigQuery
from tests.test_remediate_apply import DEMO, state

P = "gac-prod-471220"
BIN = Path(sys.executable).parent
IAM_EXPORTS = PROJECT_DIR / "examples" / "demo-iam"
ONLY_DEMO = " ".join(f"--dataset {d}" for d in DEMO)
GROUP_ENTRY = ("READER", "groupByEmail", "ml-engineers@convergence.example")


# ----------------------------------------------------------------------------- as a user


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user with the tool installed and nothing else set up: no Google
    credentials (none on disk, no metadata server asked), no endpoint exported."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "AUDITOR_BIGQUERY_ENDPOINT",
            "AUDITOR_IAM_ENDPOINT",
            "AUDITOR_DLP_ENDPOINT",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_CLOUD_PROJECT",
            "CLOUDSDK_CONFIG",
        )
    }
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        NO_GCE_CHECK="True",  # google-auth: do not ask a metadata server for credentials
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        COLUMNS="200",
    )
    env.update(extra)
    return env


def run(line: str, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """One pasted command line (words split as a shell splits them, `auditor` from PATH)."""
    done = subprocess.run(
        shlex.split(line),
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def printed(output: str, after: str) -> str:
    """The command a line of `output` prints after `after` (the rest of that line)."""
    for line in output.splitlines():
        if after in line:
            return line.split(after, 1)[1].strip().strip("`")
    raise AssertionError(f"no line with {after!r} in:\n{output}")


NOT_RUNNING = "the faithful engine was not running; nothing to stop\n"


def readme_block(after: str) -> list[str]:
    """The lines of the README's first `sh` block after the text `after`."""
    readme = (PROJECT_DIR / "README.md").read_text()
    block = readme.split(after, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def workdir(tmp_path: Path) -> Path:
    """A scratch directory where relative paths of the README work (examples/)."""
    here = tmp_path / "work"
    here.mkdir()
    (here / "examples").symlink_to(PROJECT_DIR / "examples")
    return here


# ----------------------------------------------------------------------------- engines


@pytest.fixture
def own_engines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A state dir of the test's own (the engines `auditor demo` starts land there); every
    engine still running there at the end is stopped."""
    local = tmp_path / "state"
    monkeypatch.setenv("AUDITOR_LOCAL_DIR", str(local))
    yield local
    for engine in Engine:
        stop(engine)


@pytest.fixture(scope="module")
def estate(faithful_bq: LocalBigQuery) -> Iterator[LocalBigQuery]:
    seed(make_client(P, faithful_bq.endpoint), SeedOptions())
    yield faithful_bq
    seed(make_client(P, faithful_bq.endpoint), SeedOptions())  # as the next module expects


@pytest.fixture(scope="module")
def seeded(estate: LocalBigQuery) -> dict[str, Any]:
    return state(estate.endpoint)


def add_back(endpoint: str, *, label: str | None = None) -> None:
    """What a colleague does by hand: the group entry back on customers (and a label)."""
    client = make_client(P, endpoint)
    ds = client.get_dataset(f"{P}.customers")
    ds.access_entries = [*ds.access_entries, bigquery.AccessEntry(*GROUP_ENTRY)]
    fields = ["access_entries"]
    if label is not None:
        ds.labels = {**ds.labels, label: "by-hand"}
        fields.append("labels")
    client.update_dataset(ds, fields)


def drop_label(endpoint: str, label: str) -> None:
    client = make_client(P, endpoint)
    ds = client.get_dataset(f"{P}.customers")
    ds.labels = {label: None}
    client.update_dataset(ds, ["labels"])


def customers_groups(endpoint: str) -> set[str]:
    ds = make_client(P, endpoint).get_dataset(f"{P}.customers")
    return {e.entity_id for e in ds.access_entries if e.entity_type == "groupByEmail"}


# ----------------------------------------------------------------------------- no engine


def test_stopping_a_stopped_engine_says_so_and_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = user_env(tmp_path / "home", AUDITOR_LOCAL_DIR=str(tmp_path / "state"))
    for engine in ("faithful", "fast"):
        result = invoke(f"auditor local stop --engine {engine}", env, monkeypatch)
        assert result.exit_code == 0, result.output
        assert result.output == f"the {engine} engine was not running; nothing to stop\n"


def invoke(line: str, env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """A command line run in this process (faster than a process each) in `env`."""
    for key in set(os.environ) - set(env):
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    words = shlex.split(line)
    assert words[0] == "auditor"
    result = CliRunner().invoke(main, words[1:])
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture(scope="module")
def google_plan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A plan (from the recorded demo snapshot) whose endpoint is Google's API, and a journal
    of an apply run there."""
    here = tmp_path_factory.mktemp("google")
    snapshot = PROJECT_DIR / "tests" / "data" / "remediate" / "demo-estate.snapshot.json"
    result = CliRunner().invoke(
        main, ["remediate", "plan", "--snapshot", str(snapshot), "-o", str(here / "plan.json")]
    )
    assert result.exit_code == 0, result.output
    plan = json.loads((here / "plan.json").read_text())
    plan["endpoint"] = None  # as made from a snapshot of Google's estate
    (here / "plan.json").write_text(json.dumps(plan))
    record = {
        "at": "2026-12-07T00:00:00Z",
        "record": "run",
        "op": "apply",
        "journal_version": "1",
        "plan_digest": "0" * 64,
        "plan": "plan.json",
        "project": P,
        "endpoint": None,
    }
    (here / "old.journal.jsonl").write_text(json.dumps(record) + "\n")
    return here


GOOGLE_COMMANDS = {
    "scan": "auditor scan --only AUD-007",
    "scan needing IAM": "auditor scan --only AUD-011",
    "snapshot": "auditor snapshot -o {tmp}/estate.json",
    "remediate plan": "auditor remediate plan -o {tmp}/p2.json",
    "remediate apply": "auditor remediate apply {google}/plan.json --journal {tmp}/j.jsonl",
    "remediate rollback": "auditor remediate rollback {tmp}/old.journal.jsonl",
    "provision": "auditor provision hooli -o {tmp}/hooli.json",
    "access explain": "auditor access explain --dataset customers",
    "nightly": "auditor nightly --output-dir {tmp}/out --history {tmp}/h.sqlite --log-format text",
}


@pytest.mark.parametrize("name", list(GOOGLE_COMMANDS))
def test_missing_credentials_is_a_configuration_error(
    name: str, google_plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(google_plan / "old.journal.jsonl", tmp_path / "old.journal.jsonl")
    env = user_env(tmp_path / "home", AUDITOR_LOCAL_DIR=str(tmp_path / "state"))
    line = GOOGLE_COMMANDS[name].format(tmp=tmp_path, google=google_plan)
    result = invoke(line, env, monkeypatch)
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "internal error" not in said
    assert "no Google credentials for the BigQuery API" in said
    assert "gcloud auth application-default login" in said
    assert "pass --endpoint URL (`auditor local start` prints it)" in said
    assert f"auditor-nightly@{P}.iam.gserviceaccount.com" in said
    assert not (tmp_path / "j.jsonl").exists()  # nothing was recorded as applied
    assert (tmp_path / "old.journal.jsonl").read_text().count("\n") == 1  # nor rolled back


# ----------------------------------------------------------------------------- the demo


@pytest.mark.emulator
def test_make_demo_then_the_readme_walkthrough(own_engines: Path, tmp_path: Path) -> None:
    here = workdir(tmp_path)
    env = user_env(tmp_path / "home", AUDITOR_LOCAL_DIR=str(own_engines))
    # `make demo`: the Makefile's own lines, with $(BIN) the installed tool.
    recipe = (PROJECT_DIR / "Makefile").read_text().split("\ndemo:", 1)[1].split("\n\n", 1)[0]
    recipe = recipe.replace("\\\n", " ")  # continued lines
    steps = re.findall(r"\$\(BIN\)/(auditor [^;]+?)(?:\s*>\s*/dev/null)?;", recipe)
    assert [s.split()[1] for s in steps] == ["demo", "gate"], recipe
    for step in steps:
        done = run(step, here, env)
        assert done.returncode == 1, (step, done.stdout[-2000:], done.stderr[-2000:])
    scan = json.loads((here / "reports" / "scan.json").read_text())
    assert scan["run"]["complete"], scan["run"]["coverage"]
    assert not [f for f in scan["findings"] if "/datasets/local" in f["resource"]]
    # The demo stopped its engine: stopping again is no error.
    done = run("auditor local stop", here, env)
    assert (done.returncode, done.stdout) == (0, NOT_RUNNING)

    # The README's local engine lines (optional parts left out; `auditor demo` ran above).
    section = readme_block("## The embedded local BigQuery")
    lines = [re.sub(r"\s*\[[^\]]*\]", "", line.split("#")[0]).strip() for line in section]
    assert lines[-1] == "auditor demo", lines
    outputs = [run(line, here, env) for line in lines[:-1]]
    assert [o.returncode for o in outputs] == [0, 0, 0], [(o.stdout, o.stderr) for o in outputs]
    endpoint = outputs[0].stdout.strip()
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", endpoint), outputs[0].stdout
    assert f"endpoint: {endpoint}" in outputs[1].stdout
    assert outputs[2].stdout == "stopped the faithful engine\n"
    done = run("auditor local status", here, env)
    assert done.returncode == 1 and "running:  no" in done.stdout

    # The README's walkthrough, line by line in one shell, as written.
    lines = readme_block("Try it on the local engine")
    script = "".join(f'{line}\necho "::exit $?::"\n' for line in lines)
    done = subprocess.run(
        ["bash", "-c", script], cwd=here, env=env, capture_output=True, text=True, timeout=1800
    )
    codes = [int(c) for c in re.findall(r"::exit (\d+)::", done.stdout)]
    words = [line.split("#")[0].split()[:3] for line in lines]
    expected = [1 if w[:2] == ["auditor", "demo"] else 0 for w in words]
    assert codes == expected, (lines, done.stdout[-3000:], done.stderr[-3000:])
    assert "applied 4, already in place 0, done earlier 0" in done.stdout
    assert "undid 4 action(s)" in done.stdout and "stopped the faithful engine" in done.stdout


# ----------------------------------------------------------------------------- remediation


@pytest.mark.emulator
def test_every_printed_command_works_when_pasted(
    estate: LocalBigQuery, seeded: dict[str, Any], tmp_path: Path
) -> None:
    here = workdir(tmp_path)
    env = user_env(tmp_path / "home")  # no endpoint exported: the plan and journal say where
    ep = estate.endpoint
    done = run(
        f"auditor remediate plan --endpoint {ep} --iam-exports {IAM_EXPORTS} {ONLY_DEMO} "
        "-o plan.json",
        here,
        env,
    )
    assert done.returncode == 0, done.stderr
    plan_output = done.stdout
    assert json.loads((here / "plan.json").read_text())["endpoint"] == ep

    apply_line = printed(plan_output, "Review the plan, then: ")
    assert apply_line == "auditor remediate apply plan.json"
    done = run(apply_line, here, env)
    assert done.returncode == 0, done.stderr
    assert f"to project {P} at {ep}" in done.stdout
    assert "applied 4, already in place 0, done earlier 0" in done.stdout
    assert state(ep) != seeded

    undo_line = printed(done.stdout, "undo with: ")
    assert undo_line == "auditor remediate rollback plan.journal.jsonl"
    done = run(undo_line, here, env)
    assert done.returncode == 0, done.stderr
    assert "undid 4 action(s)" in done.stdout
    assert state(ep) == seeded

    # A manual step's command (classify scratch_analytics as a tenant), then its own prints.
    provision_line = printed(plan_output, "(or `").removesuffix("`)")
    assert provision_line == (f"auditor provision scratch_analytics --project {P} --endpoint {ep}")
    done = run(provision_line, here, env)
    assert done.returncode == 0, done.stderr
    apply_line = printed(done.stdout, "Review the plan, then: ")
    assert apply_line == (
        "auditor remediate apply reports/remediation/provision-scratch_analytics.json"
    )
    done = run(apply_line, here, env)
    assert done.returncode == 0, done.stderr
    tenant = make_client(P, ep).get_dataset(f"{P}.scratch_analytics")
    assert tenant.labels["dataset_role"] == "tenant"
    done = run(printed(done.stdout, "undo with: "), here, env)
    assert done.returncode == 0, done.stderr
    assert state(ep) == seeded


@pytest.mark.emulator
def test_reapplying_reads_the_estate_again(
    estate: LocalBigQuery, seeded: dict[str, Any], tmp_path: Path
) -> None:
    here = workdir(tmp_path)
    env = user_env(tmp_path / "home")
    ep = estate.endpoint
    plan = f"auditor remediate plan --endpoint {ep} --iam-exports {IAM_EXPORTS} {ONLY_DEMO}"
    assert run(f"{plan} -o plan.json", here, env).returncode == 0
    assert run("auditor remediate apply plan.json", here, env).returncode == 0
    assert "ml-engineers@convergence.example" not in customers_groups(ep)

    # Someone adds back an entry the plan removed: re-applying removes it again.
    add_back(ep)
    done = run("auditor remediate apply plan.json", here, env)
    assert done.returncode == 0, done.stderr
    assert "drift since the journal: A02" in done.stdout
    assert "its precondition holds: applying it again" in done.stdout
    assert "applied 1 (again after drift: 1), already in place 0, done earlier 3" in done.stdout
    assert "ml-engineers@convergence.example" not in customers_groups(ep)
    records = [json.loads(line) for line in (here / "plan.journal.jsonl").read_text().splitlines()]
    again = [r for r in records if r.get("action_id") == "A02" and r["record"] == "action"]
    assert [r["status"] for r in again] == ["started", "done", "started", "done"]
    assert "drift" in again[2]["message"]

    # Nothing undone since: done earlier, verified live.
    done = run("auditor remediate apply plan.json", here, env)
    assert "applied 0, already in place 0, done earlier 4" in done.stdout, done.stderr

    # Added back together with another change: refused, nothing written.
    add_back(ep, label="reviewed")
    before = state(ep)
    done = run("auditor remediate apply plan.json", here, env)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "customers: A02 done by an earlier run, undone since" in done.stderr
    assert "make a new plan" in done.stderr
    assert state(ep) == before

    # Rollback undoes both applications of A02: the estate is back as seeded.
    drop_label(ep, "reviewed")
    done = run("auditor remediate rollback plan.journal.jsonl", here, env)
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "undid 4 action(s)" in done.stdout
    assert state(ep) == seeded


@pytest.mark.emulator
def test_provision_customers_says_what_it_leaves(
    estate: LocalBigQuery, seeded: dict[str, Any], tmp_path: Path
) -> None:
    here = workdir(tmp_path)
    env = user_env(tmp_path / "home")
    ep = estate.endpoint
    done = run(
        f"auditor provision customers --endpoint {ep} --iam-exports {IAM_EXPORTS} -o c.json",
        here,
        env,
    )
    assert done.returncode == 0, done.stderr
    assert "fixes 0 of 0" not in done.stdout
    assert "  0 action(s), 0 manual step(s)\n" in done.stdout
    assert "Hardening does not cover (plan these with `remediate plan`):" in done.stdout
    for rule in ("AUD-011", "AUD-012", "AUD-013", "AUD-015", "AUD-008", "AUD-005"):
        assert f"({rule})" in done.stdout, done.stdout
    line = "auditor remediate plan " + printed(done.stdout, "  auditor remediate plan ")
    assert line == (
        f"auditor remediate plan --only-resource customers --project {P} --endpoint {ep} "
        f"--iam-exports {IAM_EXPORTS}"
    )
    done = run(line, here, env)
    assert done.returncode == 0, done.stderr
    plan = json.loads((here / "reports" / "remediation" / "plan.json").read_text())
    planned = {(f["rule_id"], f.get("principal")) for f in plan["findings"]}
    assert ("AUD-011", f"serviceAccount:rag-indexer@{P}.iam.gserviceaccount.com") in planned
    assert ("AUD-013", "group:bi-analysts@convergence.example") in planned
    assert state(ep) == seeded  # plans only


# ----------------------------------------------------------------------------- what a run reads


@pytest.mark.emulator
def test_a_run_reads_only_what_its_rules_need(estate: LocalBigQuery, tmp_path: Path) -> None:
    here = workdir(tmp_path)
    env = user_env(tmp_path / "home")
    scan = f"auditor scan --endpoint {estate.endpoint} {ONLY_DEMO} -f json"
    done = run(f"{scan} --only AUD-014 -o v.json", here, env)
    report = json.loads((here / "v.json").read_text())
    assert report["run"]["complete"] is True, report["run"]["coverage"]
    assert done.returncode == 1, done.stderr  # the planted secrets, and nothing incomplete
    assert {f["rule_id"] for f in report["findings"]} == {"AUD-014"}
    assert report["run"]["scope"]["sources"] == ["templates", "bigquery"]
    assert "IAM not read (project, folder and organization policies" in done.stderr
    assert "table IAM policies not read: no rule of this run needs them" in done.stderr
    assert "incomplete" not in done.stderr

    # A rule that reads IAM, without an IAM source: incomplete, and stderr says why.
    done = run(f"{scan} --only AUD-011 -o a.json", here, env)
    assert done.returncode == 3
    lines = done.stderr.splitlines()
    at = lines.index("incomplete audit (exit 3): 1 coverage gap(s), 1 rule(s) that did not run")
    assert lines[at + 1].startswith(
        f"  coverage gap: //cloudresourcemanager.googleapis.com/projects/{P}: IAM not collected"
    )
    assert lines[at + 2].startswith("  rule AUD-011 (genai-cannot-reach-customers) did not run")


def test_a_stopped_engine_named_in_a_plan_is_a_clear_error(
    google_plan: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = json.loads((google_plan / "plan.json").read_text())
    plan["endpoint"] = "http://127.0.0.1:9"  # a local engine that is gone (discard port)
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    monkeypatch.chdir(tmp_path)
    result = invoke("auditor remediate apply plan.json", user_env(tmp_path / "home"), monkeypatch)
    assert result.exit_code == 2, result.output
    assert (
        "error: the BigQuery endpoint http://127.0.0.1:9 (recorded in plan.json) does not "
        "answer: the local engine is not running there."
    ) in " ".join(result.output.split())
    assert not (tmp_path / "plan.journal.jsonl").exists()
