"""`auditor nightly`: settings (auditor.toml + options), structured logs, the deploy recipe,
and three nightly runs on the demo estate in the local BigQuery.

The estate changes between the first two runs: acme_corp's x_meta_pipeline_runs gains a
credential column (`api_key`: two new findings) and initech stops being public (two resolved
findings); everything else that failed keeps failing. The third run changes nothing: no new
finding, and the job still exits 1 on the persisting ones.
"""

from __future__ import annotations

import hashlib
import io
import json
import shlex
import subprocess
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result

from auditor.cli import main
from auditor.cli.nightly import NightlySettings, nightly, resolve
from auditor.cli.scan import DEFAULT_PROJECT, SHIPPED_TEMPLATE_GLOBS, LiveOptions
from auditor.config import ConfigError, load_config, parse_config
from auditor.detect.values import scan_value
from auditor.history import HistoryStore
from auditor.logs import LABELS_KEY, OPERATION_KEY, JsonLog, LogSeverity, scrub
from auditor.model import Severity
from auditor.model import fingerprint as _fingerprint
from auditor.resources import PROJECT_DIR
from tests.conftest import LocalBigQuery

P = "gac-prod-471220"
BQ = f"//bigquery.googleapis.com/projects/{P}/datasets"
DEMO_IAM = PROJECT_DIR / "examples" / "demo-iam"
DEPLOY = PROJECT_DIR / "deploy"
ESTATE = ("customers", "acme_corp", "globex", "initech", "umbrella", "scratch_analytics", "local")
ACME_RUNS = f"{BQ}/acme_corp/tables/x_meta_pipeline_runs"
# Built here so no scanner flags this file; the detector catalog recognises it (asserted).
SECRET = "ghp_" + "Zq8Rt2Lm9Xv4Bn7Kc1Wd5Fh3Jp6Ys00tocn1"  # GitHub checksum valid
SEVERITIES = {s.value for s in LogSeverity}


# ------------------------------------------------------------------------------ logs


def test_scrub_masks_secrets_and_keeps_ids() -> None:
    assert [m.detector_id for m in scan_value(f"x {SECRET}")] == ["github-token"]
    text = scrub(
        f"http://bob:hunter2@127.0.0.1:9050/bigquery?access_token=abc123&page=2 token {SECRET} "
        "AIzaSyD-1234567890abcdefghijklmnopqrstu"
    )
    for secret in ("hunter2", "abc123", SECRET, "AIzaSyD-1234567890"):
        assert secret not in text
    assert "page=2" in text
    kept = (
        "run 20261127T040808Z-808d4b fingerprint 4a2230037fd2f12ed09426e3 wrote "
        f"reports/nightly-20261127T040808Z-808d4b.json {BQ}/initech AUD-001 (critical)"
    )
    assert scrub(kept) == kept


def test_json_log_lines_are_cloud_logging_entries() -> None:
    stream = io.StringIO()
    log = JsonLog(
        run_id="r-1",
        labels={"command": "nightly"},
        producer="auditor-nightly",
        stream=stream,
        clock=lambda: datetime(2025, 11, 17, 2, 0, tzinfo=UTC),
    )
    log.label("project", P)
    log.log(LogSeverity.WARNING, f"leaked {SECRET}", count=3, where=f"?key={SECRET}", ok=True)
    with pytest.raises(ValueError, match="time"):
        log.log(LogSeverity.INFO, "x", time="spoofed")
    (line,) = stream.getvalue().splitlines()
    entry = json.loads(line)
    assert entry == {
        "severity": "WARNING",
        "message": "leaked [redacted github-token]",
        "time": "2025-11-17T02:00:00Z",
        LABELS_KEY: {"run_id": "r-1", "command": "nightly", "project": P},
        OPERATION_KEY: {"id": "r-1", "producer": "auditor-nightly"},
        "run_id": "r-1",
        "count": 3,
        "where": "?key=[redacted]",
        "ok": True,
    }


# ------------------------------------------------------------------------------ config


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_example_config_and_the_deploy_config_are_valid() -> None:
    example = load_config(PROJECT_DIR / "auditor.toml.example")
    assert (example.project, example.fail_on, example.formats) == (
        DEFAULT_PROJECT,
        "high",
        ("json", "sarif", "html"),
    )
    deployed = load_config(DEPLOY / "auditor.toml")
    assert deployed.history_archive == Path("/mnt/auditor/history.sqlite")


def test_config_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "exports").mkdir()
    write(tmp_path / "waivers.yaml", "[]\n")
    cfg = write(
        tmp_path / "conf" / "auditor.toml",
        '[project]\niam_exports = "../exports"\n[outputs]\ndir = "out"\n'
        '[policies]\nwaivers = "../waivers.yaml"\n',
    )
    config = load_config(cfg)
    assert config.iam_exports is not None
    assert config.iam_exports.resolve() == (tmp_path / "exports").resolve()
    assert config.output_dir == tmp_path.resolve() / "conf" / "out"
    assert config.waivers is not None and config.waivers.is_file()


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ('[project]\nid = "gac-prod-471220\n', 2, "not valid TOML"),
        ("[project]\nid = 1\n", 2, "[project] id: expected a non-empty string"),
        ('[outputs]\ndir = "r"\nformt = ["json"]\n', 3, "did you mean 'formats'"),
        ('[outputs]\nformats = ["json", "pdf"]\n', 2, "unknown format(s) 'pdf'"),
        ('[output]\ndir = "r"\n', 1, "unknown section [output] (did you mean 'outputs'?)"),
        ('[thresholds]\n\nfail_on = "severe"\n', 3, "expected one of critical"),
        ("[thresholds]\nallow_partial = 1\n", 2, "expected true or false"),
        ('[project]\niam_exports = "nowhere"\n', 2, "is not a folder"),
        ('[project]\nbigquery_endpoint = "http://u:pw@h:1"\n', 2, "credentials do not belong"),
        ('[scope]\ndatasets = "tenant_*"\n', 2, "expected a non-empty list"),
        ('[outputs]\nbigquery_sink = "a b"\n', 2, "expected a BigQuery dataset"),
        ('[outputs]\nbigquery_sink = "compliance\\n"\n', 2, "expected a BigQuery dataset"),
        ('[outputs]\nbigquery_sink = "comp\u0131iance"\n', 2, "expected a BigQuery dataset"),
        ('[project]\nid = "gac-prod-471220\\n"\n', 2, "[project] id: "),
        ('[project]\ndlp_endpoint = "ftp://h"\n', 2, "[project] dlp_endpoint: "),
    ],
)
def test_config_errors_name_the_file_and_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "conf/auditor.toml", tmp_path)
    assert caught.value.path == "conf/auditor.toml"
    assert caught.value.line == line
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"conf/auditor.toml:{line}: ")


def run_nightly(*args: str) -> Result:
    result = CliRunner().invoke(main, ["nightly", "--log-format", "json", *args])
    assert "Traceback" not in result.output, result.output
    return result


def log_lines(result: Result) -> list[dict[str, Any]]:
    """Every stderr line, parsed (each must be one JSON object)."""
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    for entry in entries:
        assert entry["severity"] in SEVERITIES
        assert isinstance(entry["message"], str)
        datetime.fromisoformat(entry["time"])
        assert entry[LABELS_KEY]["run_id"] == entry["run_id"]
    return entries


def test_a_config_error_exits_2_naming_the_file(tmp_path: Path) -> None:
    cfg = write(tmp_path / "auditor.toml", '[outputs]\ndir = "r"\nformt = ["json"]\n')
    result = run_nightly("--config", str(cfg))
    assert result.exit_code == 2
    last = log_lines(result)[-1]
    assert last["severity"] == "ERROR" and last["exit_code"] == 2
    assert f"{cfg}:3: unknown key 'formt'" in last["message"]
    assert result.stdout == ""

    missing = tmp_path / "nope.toml"
    result = run_nightly("--config", str(missing))
    assert result.exit_code == 2
    assert f"{missing}: cannot read" in log_lines(result)[-1]["message"]


def test_a_history_file_that_is_not_one_exits_2_before_the_scan(tmp_path: Path) -> None:
    bad = write(tmp_path / "history.sqlite", "not a database " * 100)
    result = run_nightly(
        "--history", str(bad), "--endpoint", "http://127.0.0.1:9", "--output-dir", str(tmp_path)
    )
    assert result.exit_code == 2
    messages = [e["message"] for e in log_lines(result)]
    assert f"{bad}: not a readable SQLite history file" in messages[-1]
    assert not any("reading BigQuery" in m for m in messages)


def test_an_unreadable_estate_exits_3_and_the_archive_keeps_the_history(tmp_path: Path) -> None:
    """Cloud Run's disk does not outlive a run: the history lives in the archive."""
    work, archive = tmp_path / "work" / "history.sqlite", tmp_path / "volume" / "history.sqlite"
    args = ("--endpoint", "http://127.0.0.1:9", "--output-dir", str(tmp_path / "out"),
            "--history", str(work), "--history-archive", str(archive))  # fmt: skip
    first = run_nightly(*args)
    assert first.exit_code == 3, first.stderr
    assert archive.is_file()
    for leftover in work.parent.iterdir():  # a fresh container
        leftover.unlink()
    second = run_nightly(*args, "--allow-partial")
    assert second.exit_code == 0, second.stderr
    messages = [e["message"] for e in log_lines(second)]
    assert f"restored the history from {archive}" in messages
    with HistoryStore.open(archive) as store:
        runs = store.runs()
        # Both runs read nothing: nothing resolved, nothing new (the history compares what
        # each run examined, so an unread estate resolves nothing).
        assert (
            f"since run {runs[0].id}: 0 new since the last run, 0 resolved, 0 persisting, "
            "0 not examined by this run"
        ) in messages
        assert [r.complete for r in runs] == [False, False]
        assert all(r.coverage_gaps >= 1 for r in runs)


def settings(*args: str) -> NightlySettings:
    """What the command would run with, without running it."""
    ctx = nightly.make_context("nightly", list(args))
    with ctx:
        params = dict(ctx.params)
        params["template_globs"] = params["template_globs"] or SHIPPED_TEMPLATE_GLOBS
        live = LiveOptions(**{k: params.pop(k) for k in LiveOptions.__dataclass_fields__})
        config = params.pop("config_path")
        params.pop("log_format")
        return resolve(ctx, live, config, params)


def test_options_override_the_config_which_overrides_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AUDITOR_BIGQUERY_ENDPOINT", raising=False)
    monkeypatch.delenv("AUDITOR_CONFIG", raising=False)
    plain = settings()
    assert plain.config is None
    assert (plain.live.project, plain.output_dir, plain.history_path) == (
        DEFAULT_PROJECT,
        Path("reports"),
        Path("reports/history.sqlite"),
    )
    assert (plain.formats, plain.fail_on, plain.allow_partial) == (
        ("json", "sarif", "html"),
        Severity.HIGH,
        False,
    )

    write(
        tmp_path / "auditor.toml",  # found in the working folder without --config
        '[project]\nid = "other-project-1"\nbigquery_endpoint = "http://127.0.0.1:1"\n'
        'dlp_endpoint = "http://127.0.0.1:3"\n'
        '[scope]\ndatasets = ["a*"]\n'
        '[outputs]\ndir = "out"\nformats = ["html"]\n'
        '[thresholds]\nfail_on = "critical"\nallow_partial = true\n',
    )
    configured = settings()
    assert configured.config == Path("auditor.toml")
    assert configured.live.project == "other-project-1"
    assert configured.live.endpoint == "http://127.0.0.1:1"
    assert configured.live.dlp_endpoint == "http://127.0.0.1:3"
    assert configured.live.datasets == ("a*",)
    assert configured.output_dir == tmp_path.resolve() / "out"
    assert configured.history_path == tmp_path.resolve() / "out" / "history.sqlite"
    assert configured.formats == ("json", "html")
    assert (configured.fail_on, configured.allow_partial) == (Severity.CRITICAL, True)

    monkeypatch.setenv("AUDITOR_BIGQUERY_ENDPOINT", "http://127.0.0.1:2")
    overridden = settings("--fail-on", "none", "--dataset", "b*", "--no-allow-partial")
    assert overridden.live.endpoint == "http://127.0.0.1:2"  # environment beats the file
    assert overridden.live.datasets == ("b*",)
    assert (overridden.fail_on, overridden.allow_partial) == (None, False)
    assert overridden.live.project == "other-project-1"


# ------------------------------------------------------------------------------ deploy


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined, current = [], ""
    for raw in (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        joined.append(current + line)
        current = ""
    assert not current, "the Dockerfile ends inside a continued line"
    out = []
    for line in joined:
        instruction, _, args = line.partition(" ")
        out.append((instruction.upper(), args.strip()))
    return out


def test_the_deploy_recipe_parses_and_names_real_paths() -> None:
    steps = dockerfile()
    known = {"FROM", "ENV", "RUN", "WORKDIR", "COPY", "USER", "ENTRYPOINT", "CMD"}
    assert {i for i, _ in steps} <= known
    assert steps[0] == ("FROM", "python:3.11-slim")
    assert json.loads(dict(steps)["ENTRYPOINT"]) == ["auditor", "nightly"]
    users = [a for i, a in steps if i == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    installs = [shlex.split(a) for i, a in steps if i == "RUN" and "pip install" in a]
    assert any("." in args and "-e" not in args for args in installs)  # a regular install
    copies = [shlex.split(a) for i, a in steps if i == "COPY"]
    for *sources, _ in copies:
        for source in sources:
            assert (PROJECT_DIR / source).exists(), source
    # Every data file the wheel declares must be in the build context the image copies.
    copied = {source.rstrip("/") for *sources, _ in copies for source in sources}
    pyproject = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text(encoding="utf-8"))
    for patterns in pyproject["tool"]["setuptools"]["data-files"].values():
        for pattern in patterns:
            assert any(pattern.startswith(f"{c}/") for c in copied), pattern
    config_in_image = next(dest for *src, dest in copies if src == ["deploy/auditor.toml"])
    env = " ".join(a for i, a in steps if i == "ENV")
    assert f"AUDITOR_CONFIG={config_in_image}" in env

    job = yaml.safe_load((DEPLOY / "cloud-run-job.yaml").read_text(encoding="utf-8"))
    assert (job["apiVersion"], job["kind"]) == ("run.googleapis.com/v1", "Job")
    task = job["spec"]["template"]["spec"]["template"]["spec"]
    assert task["maxRetries"] == 0
    assert task["serviceAccountName"].endswith(".iam.gserviceaccount.com")
    (container,) = task["containers"]
    assert {"name": "AUDITOR_CONFIG", "value": config_in_image} in container["env"]
    assert container["args"] == ["--log-format", "json"]
    (mount,) = container["volumeMounts"]
    assert {v["name"] for v in task["volumes"]} == {mount["name"]}
    deployed = load_config(DEPLOY / "auditor.toml")
    assert deployed.output_dir is not None and deployed.history_archive is not None
    for path in (deployed.output_dir, deployed.history_archive):
        assert path.is_relative_to(mount["mountPath"]), path

    script = DEPLOY / "scheduler.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    text = script.read_text(encoding="utf-8")
    assert f'JOB="${{JOB:-{job["metadata"]["name"]}}}"' in text
    assert "run.googleapis.com/v2/projects/${PROJECT}/locations/${REGION}/jobs/${JOB}:run" in text
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for name in ("Dockerfile", "cloud-run-job.yaml", "scheduler.sh", "auditor.toml"):
        assert f"`{name}`" in readme


# ------------------------------------------------------------------------------ live


@pytest.fixture(scope="module")
def estate(faithful_bq: LocalBigQuery) -> LocalBigQuery:
    from auditor.demo.seed import SeedOptions, seed
    from auditor.sources.bigquery import make_client

    seed(make_client(P, faithful_bq.endpoint), SeedOptions())
    return faithful_bq


def change_the_estate(endpoint: str) -> None:
    """A credential column in one tenant table; initech no longer public."""
    from google.cloud import bigquery

    from auditor.sources.bigquery import make_client

    client = make_client(P, endpoint)
    table = client.get_table(f"{P}.acme_corp.x_meta_pipeline_runs")
    column = bigquery.SchemaField("api_key", "STRING", description=f"e.g. {SECRET}")
    table.schema = [*table.schema, column]
    client.update_table(table, ["schema"])
    dataset = client.get_dataset(f"{P}.initech")
    public = {"allUsers", "allAuthenticatedUsers"}
    dataset.access_entries = [e for e in dataset.access_entries if e.entity_id not in public]
    client.update_dataset(dataset, ["access_entries"])


def fingerprint(
    rule_id: str, resource: str, column: str | None = None, principal: str | None = None
) -> str:
    return _fingerprint(rule_id, resource, column, principal)


def failing_in(report: dict[str, Any]) -> set[str]:
    return {f["fingerprint"] for f in report["findings"] if f["status"] in ("FAIL", "ERROR")}


@pytest.mark.emulator
def test_three_nightly_runs_track_new_resolved_and_persisting(
    estate: LocalBigQuery, tmp_path: Path
) -> None:
    iam = f'iam_exports = "{DEMO_IAM}"' if DEMO_IAM.is_dir() else ""
    partial = "false" if DEMO_IAM.is_dir() else "true"  # else: the IAM gap is accepted
    cfg = write(
        tmp_path / "auditor.toml",
        f'[project]\nid = "{P}"\nbigquery_endpoint = "{estate.endpoint}"\n{iam}\n'
        f"[scope]\ndatasets = {json.dumps(list(ESTATE))}\n"
        '[outputs]\ndir = "out"\nformats = ["json", "sarif", "html"]\n'
        f'[thresholds]\nfail_on = "high"\nallow_partial = {partial}\n',
    )
    out = tmp_path / "out"

    first = run_nightly("--config", str(cfg))
    assert first.exit_code == 1, first.stderr
    change_the_estate(estate.endpoint)
    second = run_nightly("--config", str(cfg))
    assert second.exit_code == 1, second.stderr

    with HistoryStore.open(out / "history.sqlite") as store:
        runs = store.runs()
        assert len(runs) == 2
        one, two = runs
        report_one = json.loads((out / f"nightly-{one.id}.json").read_text())
        report_two = json.loads((out / f"nightly-{two.id}.json").read_text())
        assert store.failing(one.id) == failing_in(report_one)
        assert store.failing(two.id) == failing_in(report_two)
        new = {
            fingerprint("AUD-001", ACME_RUNS, "api_key", None),  # tenant-no-credential-columns
            fingerprint("AUD-009", ACME_RUNS, "api_key", None),  # tenant-tables-match-templates
        }
        resolved = {
            fingerprint("AUD-006", f"{BQ}/initech", None, "allUsers"),  # datasets-not-public
            fingerprint("AUD-006", f"{BQ}/initech", None, "allAuthenticatedUsers"),
        }
        changes = store.changes(two.id)
        assert set(changes.new) == new
        assert set(changes.resolved) == resolved
        assert set(changes.persisting) == failing_in(report_one) - resolved
        assert changes.persisting  # the planted violations that nobody fixed
        trend = store.trend()
        assert [p.run_at for p in trend] == [one.started_at, two.started_at]
        assert all(p.complete for p in trend) is DEMO_IAM.is_dir()

    # The reports: per run and latest; the HTML names the JSON's digest and shows the changes.
    for ext in (".json", ".sarif", ".html"):
        assert (out / f"nightly-{two.id}{ext}").read_bytes() == (
            out / f"nightly-latest{ext}"
        ).read_bytes()
    digest = hashlib.sha256((out / f"nightly-{two.id}.json").read_bytes()).hexdigest()
    assert two.results_sha256 == digest
    page = (out / f"nightly-{two.id}.html").read_text()
    assert digest in page
    assert 'data-count="changes-new">2<' in page
    assert 'data-count="changes-resolved">2<' in page

    # Logs: JSON lines, one run id per run, ids and counts but no finding value or secret.
    for result, run in ((first, one), (second, two)):
        entries = log_lines(result)
        assert {e["run_id"] for e in entries} == {run.id}
        assert entries[-1]["exit_code"] == 1
    last = log_lines(second)[-1]
    assert last["failing_new"] == 1  # AUD-001 is critical; AUD-009 (medium) is below "high"
    assert last["failing_persisting"] > 0
    new_lines = [e for e in log_lines(second) if e.get("fingerprint")]
    assert [e["fingerprint"] for e in new_lines] == [fingerprint("AUD-001", ACME_RUNS, "api_key")]
    logs = first.stderr + second.stderr
    assert SECRET not in logs
    assert "api_key" not in logs
    for f in report_one["findings"] + report_two["findings"]:
        if f["status"] != "PASS":
            assert f["message"] not in logs

    # Nothing changed since: nothing new, and the job still fails on what persists.
    third = run_nightly("--config", str(cfg))
    assert third.exit_code == 1, third.stderr
    last = log_lines(third)[-1]
    assert (last["failing_new"], last["failing"]) == (0, last["failing_persisting"])
    assert last["failing"] > 0
    with HistoryStore.open(out / "history.sqlite") as store:
        latest = store.latest()
        assert latest is not None
        assert store.changes(latest.id).new == ()
        assert len(store.trend()) == 3
