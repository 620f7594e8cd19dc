"""Every rule against its fixtures (tests/rules/ID/{pass,fail}-*) and its doc examples.

A fixture is inputs in the formats the rule reads and the exact findings they must give
(layout in tests/support/rulefixtures.py). The meta-tests keep the pack and the fixtures in
step: a rule file without a pass and a fail fixture fails, and so does a fixture of an
unknown rule. A rule's doc examples run too: each is laid over the rule's first pass fixture,
where "example" must fail and "use instead" must pass.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from auditor.policy.rule import DocExample
from auditor.resources import POLICIES_DIR
from tests.support.rulefixtures import (
    RULES_DIR,
    VERDICTS,
    fixture_folders,
    read_fixture,
    run_fixture,
    shipped_rules,
)

FOLDERS = fixture_folders()
DOC_KEYS = ("example", "use_instead")


def pack_ids() -> list[str]:
    """The id of every rule file of the shipped pack, disabled ones included."""
    return sorted(
        yaml.safe_load(path.read_text(encoding="utf-8"))["id"]
        for path in POLICIES_DIR.glob("*.y*ml")
    )


def _name(folder: Path) -> str:
    return f"{folder.parent.name}/{folder.name}"


@pytest.mark.parametrize("folder", FOLDERS, ids=_name)
def test_rule_gives_exactly_the_expected_findings(folder: Path) -> None:
    fixture = read_fixture(folder)
    rules, _ = shipped_rules()
    if fixture.rule_id not in rules:
        pytest.fail(f"{fixture.name}: no enabled rule {fixture.rule_id} in {POLICIES_DIR}")
    outcome = run_fixture(folder, rules[fixture.rule_id], fixture.evaluation_time)
    assert sorted(outcome.gaps) == sorted(fixture.gaps), f"{fixture.name}: coverage gaps"
    assert sorted(outcome.findings) == sorted(fixture.findings), fixture.about


@pytest.mark.parametrize("folder", FOLDERS, ids=_name)
def test_fixture_verdict_agrees_with_its_findings(folder: Path) -> None:
    """A pass fixture expects PASS and nothing failing (a check that said nothing would not
    pass it); a fail fixture expects at least one FAIL."""
    fixture = read_fixture(folder)
    statuses = {f.status for f in fixture.findings}
    if fixture.verdict == "pass":
        assert "PASS" in statuses and not statuses & {"FAIL", "ERROR"}, fixture.name
    else:
        assert "FAIL" in statuses, fixture.name


def test_every_rule_has_a_pass_and_a_fail_fixture() -> None:
    found = {(f.parent.name, f.name.split("-", 1)[0]) for f in FOLDERS}
    missing = [
        f"tests/rules/{rule_id}/{verdict}-*"
        for rule_id in pack_ids()
        for verdict in VERDICTS
        if (rule_id, verdict) not in found
    ]
    assert missing == [], "rules without fixtures"


def test_fixtures_name_rules_of_the_pack() -> None:
    folders = sorted(p.name for p in RULES_DIR.iterdir() if p.is_dir())
    unknown = sorted(set(folders) - set(pack_ids()))
    assert unknown == [], f"fixture folders of unknown rules under {RULES_DIR}"


def test_meta_tests_see_every_fixture_folder() -> None:
    """Nothing under a rule's folder escapes the parametrised test (a typo like 'pas-x')."""
    stray = [
        _name(p)
        for p in RULES_DIR.glob("*/*")
        if not p.is_dir() or p.name.split("-", 1)[0] not in VERDICTS or "-" not in p.name
    ]
    assert stray == []
    assert len(FOLDERS) >= 2 * len(pack_ids())


@pytest.mark.parametrize("rule_id", pack_ids())
def test_every_rule_documents_what_it_checks_with_examples(rule_id: str) -> None:
    rules, _ = shipped_rules()
    rule = rules[rule_id]
    assert rule.description, f"{rule_id}: no description"
    assert rule.example is not None, f"{rule_id}: no example"
    assert rule.use_instead is not None, f"{rule_id}: no use_instead"
    assert rule.example.input is rule.use_instead.input, "both in the same form"


@pytest.mark.parametrize("key", DOC_KEYS)
@pytest.mark.parametrize("rule_id", pack_ids())
def test_doc_example_gives_its_verdict(rule_id: str, key: str, tmp_path: Path) -> None:
    """The doc cannot lie: its example, laid over the rule's first pass fixture, fails; the
    "use instead" laid over it passes; neither adds a coverage gap."""
    rules, _ = shipped_rules()
    rule = rules[rule_id]
    example = getattr(rule, key)
    assert isinstance(example, DocExample), f"{rule_id}: no {key}"
    bases = [f for f in FOLDERS if f.parent.name == rule_id and f.name.startswith("pass-")]
    if not bases:
        pytest.fail(f"{rule_id}: no pass fixture to lay the example over")
    base = bases[0]
    fixture = read_fixture(base)
    folder = tmp_path / "fixture"
    shutil.copytree(base, folder)
    target = folder / example.input.value / example.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(example.text, encoding="utf-8")

    outcome = run_fixture(folder, rule, fixture.evaluation_time)

    assert outcome.gaps == fixture.gaps
    statuses = {f.status for f in outcome.findings}
    if key == "example":
        assert "FAIL" in statuses, outcome.findings
    else:
        assert "PASS" in statuses and not statuses & {"FAIL", "ERROR"}, outcome.findings
