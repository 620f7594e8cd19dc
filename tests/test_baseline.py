"""Baselines: fingerprints from a previous report, marking findings, extracting a git ref."""

from __future__ import annotations

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest

from auditor.errors import InputError
from auditor.model import Finding, Severity, Status
from auditor.policy.baseline import checkout_ref, fingerprints_from_report, mark_baseline


def finding(resource: str, status: Status = Status.FAIL, column: str | None = None) -> Finding:
    return Finding(
        rule_id="AUD-001", rule_name="tenant-no-credential-columns", status=status,
        severity=Severity.HIGH, resource=resource, message="m", column=column,
    )


def report(tmp_path: Path, findings: object) -> Path:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"version": 1, "findings": findings}, indent=2), encoding="utf-8")
    return path


# --- fingerprints from a report ------------------------------------------------------------


def test_fingerprints_of_failing_findings_only(tmp_path: Path) -> None:
    path = report(tmp_path, [
        {"fingerprint": "f-fail", "status": "FAIL", "rule_id": "AUD-001"},
        {"fingerprint": "f-error", "status": "ERROR"},
        {"fingerprint": "f-waived", "status": "WAIVED"},
        {"fingerprint": "f-pass", "status": "PASS"},
        {"fingerprint": "f-skipped", "status": "SKIPPED"},
    ])
    assert fingerprints_from_report(path) == frozenset({"f-fail", "f-error", "f-waived"})


def test_empty_findings(tmp_path: Path) -> None:
    assert fingerprints_from_report(report(tmp_path, [])) == frozenset()


def test_bad_json_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text('{\n  "findings": [\n    {"status": "FAIL",}\n  ]\n}\n', encoding="utf-8")
    with pytest.raises(InputError) as caught:
        fingerprints_from_report(path)
    assert str(caught.value) == (
        f"{path}:3: invalid JSON: Expecting property name enclosed in double quotes (column 23)"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ([], "not an auditor JSON report: no 'findings' list at the top level"),
        ({"findings": {}}, "not an auditor JSON report: no 'findings' list at the top level"),
        ({"findings": ["x"]}, "findings[0]: expected an object"),
        ({"findings": [{"fingerprint": "a", "status": "FAIL"}, {"fingerprint": "b"}]},
         "findings[1]: unknown status None"),
        ({"findings": [{"fingerprint": "a", "status": "fail"}]},
         "findings[0]: unknown status 'fail'"),
        ({"findings": [{"status": "PASS"}]}, "findings[0]: missing 'fingerprint'"),
        ({"findings": [{"status": "FAIL", "fingerprint": ""}]},
         "findings[0]: missing 'fingerprint'"),
    ],
)
def test_not_a_report(tmp_path: Path, content: object, message: str) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(content), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        fingerprints_from_report(path)
    assert (caught.value.path, caught.value.line, caught.value.detail) == (str(path), None, message)


def test_missing_report(tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        fingerprints_from_report(tmp_path / "nope.json")
    assert str(caught.value) == f"{tmp_path / 'nope.json'}: no such file"


# --- marking ------------------------------------------------------------------------------


def test_mark_baseline() -> None:
    old = finding("tenant/a.json", column="token")
    moved = finding("tenant/a.json", column="token", status=Status.WAIVED)
    new = finding("tenant/b.json")
    passing = finding("tenant/a.json", status=Status.PASS, column="token")
    marked = mark_baseline([old, moved, new, passing], frozenset({old.fingerprint, "zzz"}))
    assert [f.in_baseline for f in marked] == [True, True, False, False]
    assert marked[0] == dataclasses.replace(old, in_baseline=True)  # Finding has slots
    assert marked[2] is new
    assert not old.in_baseline  # findings are frozen; the input is untouched


def test_report_round_trip(tmp_path: Path) -> None:
    findings = [finding("tenant/a.json"), finding("tenant/b.json", status=Status.PASS)]
    path = report(tmp_path, [{"fingerprint": f.fingerprint, "status": f.status.value}
                             for f in findings])
    marked = mark_baseline([finding("tenant/a.json"), finding("tenant/b.json")],
                           fingerprints_from_report(path))
    assert [f.in_baseline for f in marked] == [True, False]


# --- git refs -----------------------------------------------------------------------------


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com",
         "-c", "commit.gpgsign=false", "-C", str(repo), *args],
        check=True, capture_output=True, text=True,
    )
    return done.stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Two commits: the first has platform/tenant/a.json; the second edits it and adds b.json."""
    root = tmp_path / "repo"
    tenant = root / "platform" / "tenant"
    tenant.mkdir(parents=True)
    git(root, "init", "-q")
    (tenant / "a.json").write_text('["v1"]\n', encoding="utf-8")
    (root / "README").write_text("readme\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    git(root, "tag", "v1")
    (tenant / "a.json").write_text('["v2"]\n', encoding="utf-8")
    (tenant / "b.json").write_text("[]\n", encoding="utf-8")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "second")
    (tenant / "a.json").write_text('["uncommitted"]\n', encoding="utf-8")
    return root


def files(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
        for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_checkout_top_level(repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "base"
    assert checkout_ref(repo, "HEAD~1", dest) == dest
    assert files(dest) == {"README": "readme\n", "platform/tenant/a.json": '["v1"]\n'}
    assert files(checkout_ref(repo, "HEAD", tmp_path / "head")) == {
        "README": "readme\n",
        "platform/tenant/a.json": '["v2"]\n',  # committed, not the working tree
        "platform/tenant/b.json": "[]\n",
    }


def test_checkout_from_a_subfolder(repo: Path, tmp_path: Path) -> None:
    dest = tmp_path / "base"
    root = checkout_ref(repo / "platform", "v1", dest)
    assert root == dest / "platform"
    assert files(root) == {"tenant/a.json": '["v1"]\n'}
    assert not (dest / "README").exists()  # only the subfolder is extracted


def test_subfolder_missing_at_ref(repo: Path, tmp_path: Path) -> None:
    (repo / "later").mkdir()
    (repo / "later" / "x.json").write_text("[]\n", encoding="utf-8")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "third")
    root = checkout_ref(repo / "later", "v1", tmp_path / "base")
    assert root == tmp_path / "base" / "later"
    assert root.is_dir()
    assert files(tmp_path / "base") == {}


def test_repository_is_left_alone(repo: Path, tmp_path: Path) -> None:
    before = git(repo, "status", "--porcelain"), git(repo, "worktree", "list", "--porcelain")
    checkout_ref(repo, "HEAD~1", tmp_path / "base")
    after = git(repo, "status", "--porcelain"), git(repo, "worktree", "list", "--porcelain")
    assert before == after
    assert (repo / "platform" / "tenant" / "a.json").read_text(encoding="utf-8") == (
        '["uncommitted"]\n'
    )


def test_unknown_ref(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        checkout_ref(repo, "no-such-branch", tmp_path / "base")
    assert str(caught.value) == (
        f"{repo}: unknown git ref 'no-such-branch': fatal: Needed a single revision"
    )


def test_option_like_ref_is_refused(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(InputError) as caught:
        checkout_ref(repo, "--output=/tmp/x", tmp_path / "base")
    assert str(caught.value) == f"{repo}: invalid git ref '--output=/tmp/x'"


def test_not_a_git_repository(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(InputError) as caught:
        checkout_ref(plain, "HEAD", tmp_path / "base")
    assert caught.value.path == str(plain)
    assert caught.value.detail.startswith("not a git repository: fatal: not a git repository")


def test_links_leaving_the_tree_are_skipped(repo: Path, tmp_path: Path) -> None:
    tenant = repo / "platform" / "tenant"
    (tenant / "abs.json").symlink_to("/etc/passwd")
    (tenant / "up.json").symlink_to("../../../../outside.json")
    (tenant / "ok.json").symlink_to("b.json")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "links")
    root = checkout_ref(repo, "HEAD", tmp_path / "base")
    tenant_copy = root / "platform" / "tenant"
    assert sorted(p.name for p in tenant_copy.iterdir()) == ["a.json", "b.json", "ok.json"]
    assert (tenant_copy / "ok.json").is_symlink()
