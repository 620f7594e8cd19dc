"""Waivers: loading with lines, and what they do to findings on a given day."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from auditor.errors import InputError
from auditor.model import Finding, Location, Severity, Status, WaiverRef
from auditor.policy.waivers import Waiver, apply_waivers, load_waivers

TODAY = date(2026, 3, 1)

WAIVERS = """\
# accepted risks
waivers:
  - rule: AUD-001
    resource: "tenant/*.json"
    column: "config.*"
    reason: Migration ticket SEC-12
    owner: data-platform@example.com
    expires: 2026-06-30

  - rule: customers-secrets-encrypted-bytes
    resource: docs/customers.sql#customer_api_keys
    principal: "serviceAccount:*@genai.iam.gserviceaccount.com"
    reason: legacy
    owner: alice
    expires: "2026-01-01"
"""


def write(tmp_path: Path, text: str, name: str = "waivers.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def finding(
    rule_id: str = "AUD-001",
    resource: str = "tenant/x_meta_pipeline_runs.json",
    *,
    status: Status = Status.FAIL,
    column: str | None = None,
    principal: str | None = None,
    rule_name: str = "tenant-no-credential-columns",
) -> Finding:
    return Finding(
        rule_id=rule_id,
        rule_name=rule_name,
        status=status,
        severity=Severity.CRITICAL,
        resource=resource,
        message=f"{resource} is bad",
        column=column,
        principal=principal,
    )


def waiver(
    rule: str = "AUD-001",
    resource: str = "tenant/*.json",
    expires: date = date(2026, 6, 30),
    *,
    column: str | None = None,
    principal: str | None = None,
    line: int = 3,
) -> Waiver:
    return Waiver(
        rule=rule, resource=resource, reason="because", owner="bob", expires=expires,
        column=column, principal=principal, source=Location("waivers.yaml", line),
    )


# --- loading ---------------------------------------------------------------------------


def test_load_waivers(tmp_path: Path) -> None:
    path = write(tmp_path, WAIVERS)
    assert load_waivers(path) == (
        Waiver(
            rule="AUD-001",
            resource="tenant/*.json",
            column="config.*",
            reason="Migration ticket SEC-12",
            owner="data-platform@example.com",
            expires=date(2026, 6, 30),
            source=Location(str(path), 3),
        ),
        Waiver(
            rule="customers-secrets-encrypted-bytes",
            resource="docs/customers.sql#customer_api_keys",
            principal="serviceAccount:*@genai.iam.gserviceaccount.com",
            reason="legacy",
            owner="alice",
            expires=date(2026, 1, 1),
            source=Location(str(path), 10),
        ),
    )


def test_empty_list_is_no_waivers(tmp_path: Path) -> None:
    assert load_waivers(write(tmp_path, "waivers: []\n")) == ()


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ("    reason: legacy\n", "", 10, "waivers[1]: missing required key 'reason'"),
        ("    owner: alice\n", "    owner: alice\n    ownr: bob\n", 15,
         "unknown key 'ownr' in waivers[1] (did you mean 'owner'?)"),
        ('expires: "2026-01-01"', "expires: 01/01/2026", 15,
         "waivers[1].expires: '01/01/2026' does not match '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'"),
        ('expires: "2026-01-01"', "expires: 2026-02-30", 15,
         "waivers[1].expires: '2026-02-30' is not a 'date'"),
        ("    reason: legacy\n", "    reason: ''\n", 13,
         "waivers[1].reason: '' should be non-empty"),
        ("rule: AUD-001", "rule: AUD 1", 3,
         "waivers[0].rule: 'AUD 1' does not match '^(AUD-[0-9]{3}|[a-z0-9]+(-[a-z0-9]+)*)$'"),
        ("waivers:", "waiver:", 2, "unknown key 'waiver' (did you mean 'waivers'?)"),
    ],
)
def test_invalid_waivers(tmp_path: Path, old: str, new: str, line: int, message: str) -> None:
    assert old in WAIVERS
    path = write(tmp_path, WAIVERS.replace(old, new))
    with pytest.raises(InputError) as caught:
        load_waivers(path)
    assert (caught.value.path, caught.value.line, caught.value.detail) == (str(path), line, message)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", 1, "empty file; expected 'waivers:' and a list"),
        ("- rule: AUD-001\n", 1, "(top level): expected a mapping, got a list"),
        ("waivers:\n  rule: AUD-001\n", 1, "waivers: expected a list, got a mapping"),
        ("waivers: []\nwaivers: []\n", 2, "duplicate key 'waivers' (first at line 1)"),
    ],
)
def test_waivers_file_shape(tmp_path: Path, text: str, line: int, message: str) -> None:
    with pytest.raises(InputError) as caught:
        load_waivers(write(tmp_path, text))
    assert (caught.value.line, caught.value.detail) == (line, message)


# --- applying ----------------------------------------------------------------------------


def test_unexpired_waiver_waives() -> None:
    f = finding()
    (result,), notes = apply_waivers([f], [waiver()], TODAY)
    assert result == Finding(
        rule_id="AUD-001",
        rule_name="tenant-no-credential-columns",
        status=Status.WAIVED,
        severity=Severity.CRITICAL,
        resource="tenant/x_meta_pipeline_runs.json",
        message="tenant/x_meta_pipeline_runs.json is bad",
        waiver=WaiverRef(reason="because", owner="bob", expires="2026-06-30", expired=False),
    )
    assert notes == ()
    assert f.status is Status.FAIL  # the input is untouched


def test_waiver_is_valid_on_its_expiry_day() -> None:
    (result,), notes = apply_waivers([finding()], [waiver(expires=TODAY)], TODAY)
    assert result.status is Status.WAIVED
    assert notes == ()


def test_expired_waiver_keeps_the_failure_and_says_so() -> None:
    (result,), notes = apply_waivers([finding()], [waiver(expires=date(2026, 1, 1), line=12)],
                                     TODAY)
    assert result.status is Status.FAIL
    assert result.message == (
        "tenant/x_meta_pipeline_runs.json is bad (waiver expired on 2026-01-01)"
    )
    assert result.waiver == WaiverRef("because", "bob", "2026-01-01", expired=True)
    assert notes == (
        "waivers.yaml:12: waiver for AUD-001 on 'tenant/*.json' expired on 2026-01-01",
    )


def test_unexpired_waiver_wins_over_an_earlier_expired_one() -> None:
    old = waiver(expires=date(2025, 12, 31), line=3)
    new = waiver(expires=date(2026, 12, 31), line=9)
    (result,), notes = apply_waivers([finding()], [old, new], TODAY)
    assert (result.status, result.waiver) == (
        Status.WAIVED, WaiverRef("because", "bob", "2026-12-31"),
    )
    assert notes == (
        "waivers.yaml:3: waiver for AUD-001 on 'tenant/*.json' expired on 2025-12-31",
    )


def test_matching_by_rule_name_column_and_principal() -> None:
    findings = [
        finding(column="config.auth.token"),  # 0: waived by column glob
        finding(column="api_key"),  # 1: column does not match
        finding(),  # 2: no column: a column waiver does not cover it
        finding("AUD-005", "docs/customers.sql#customer_api_keys",
                principal="serviceAccount:bot@genai.iam.gserviceaccount.com",
                rule_name="customers-secrets-encrypted-bytes"),  # 3: by name and principal
        finding("AUD-005", "docs/customers.sql#customer_api_keys",
                principal="user:alice@example.com",
                rule_name="customers-secrets-encrypted-bytes"),  # 4: principal does not match
        finding("AUD-002", "tenant/x.json"),  # 5: other rule
        finding(resource="Tenant/x.json", column="config.a"),  # 6: globs are case-sensitive
        finding(status=Status.ERROR, column="config.b"),  # 7: errors can be waived
    ]
    waivers = [
        waiver(column="config.*"),
        waiver("customers-secrets-encrypted-bytes", "docs/*#customer_api_keys",
               principal="serviceAccount:*@genai.iam.gserviceaccount.com", line=9),
    ]
    result, notes = apply_waivers(findings, waivers, TODAY)
    waived = [i for i, f in enumerate(result) if f.status is Status.WAIVED]
    assert waived == [0, 3, 7]
    assert [f for i, f in enumerate(result) if i not in waived] == [
        f for i, f in enumerate(findings) if i not in waived
    ]
    assert notes == ()


def test_only_failures_are_waived_and_count_as_matches() -> None:
    passing = finding(status=Status.PASS)
    skipped = finding(status=Status.SKIPPED)
    result, notes = apply_waivers([passing, skipped], [waiver(line=7)], TODAY)
    assert result == (passing, skipped)
    assert notes == ("waivers.yaml:7: waiver for AUD-001 on 'tenant/*.json' matches no finding",)


def test_notes_in_waiver_order() -> None:
    waivers = [
        waiver("AUD-009", "nothing/*", line=3),
        waiver(expires=date(2026, 2, 1), line=9),
        waiver("AUD-008", "gone/*", expires=date(2025, 1, 1), line=15),
    ]
    _, notes = apply_waivers([finding()], waivers, TODAY)
    assert notes == (
        "waivers.yaml:3: waiver for AUD-009 on 'nothing/*' matches no finding",
        "waivers.yaml:9: waiver for AUD-001 on 'tenant/*.json' expired on 2026-02-01",
        "waivers.yaml:15: waiver for AUD-008 on 'gone/*' expired on 2025-01-01 "
        "and matches no finding",
    )


def test_loaded_waivers_apply(tmp_path: Path) -> None:
    path = write(tmp_path, WAIVERS)
    findings = [
        finding(column="config.secret"),
        finding("AUD-005", "docs/customers.sql#customer_api_keys",
                principal="serviceAccount:x@genai.iam.gserviceaccount.com",
                rule_name="customers-secrets-encrypted-bytes"),
    ]
    result, notes = apply_waivers(findings, load_waivers(path), TODAY)
    assert [(f.status, f.message) for f in result] == [
        (Status.WAIVED, "tenant/x_meta_pipeline_runs.json is bad"),
        (Status.FAIL,
         "docs/customers.sql#customer_api_keys is bad (waiver expired on 2026-01-01)"),
    ]
    assert notes == (
        f"{path}:10: waiver for customers-secrets-encrypted-bytes on "
        "'docs/customers.sql#customer_api_keys' expired on 2026-01-01",
    )
