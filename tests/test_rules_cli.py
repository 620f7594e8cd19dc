"""`auditor rules explain` and `auditor rules table`, and the README's table kept in sync."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditor.cli import main
from auditor.report.ruledoc import TABLE_BEGIN, TABLE_END, markdown_table, replace_table
from auditor.resources import POLICIES_DIR, PROJECT_DIR
from tests.support.rulefixtures import shipped_rules

AUD_002 = POLICIES_DIR / "AUD-002-tenant-no-credential-templates.yaml"
REGENERATE = "auditor rules table --markdown --update README.md"


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_explain_prints_the_whole_doc_in_order() -> None:
    code, out, err = run("rules", "explain", "AUD-002")
    assert (code, err) == (0, "")
    rule = shipped_rules()[0]["AUD-002"]
    assert rule.example is not None and rule.use_instead is not None
    lines = out.splitlines()
    assert lines[:2] == [
        "AUD-002  tenant-no-credential-templates  (critical)",
        "The tenant onboarding folder holds no credential table templates",
    ]
    headings = [line for line in lines if line and not line.startswith(" ")][2:]
    assert headings == [
        "What it checks",
        "Why it matters",
        "Example (fails)",
        "Use instead (passes)",
        "Remediation",
        "References",
        "Framework mappings",
        f"Check kind: no-credential-tables, defined in {AUD_002}",
    ]
    example = out.split("Example (fails)\n")[1].split("\n\nUse instead")[0]
    assert example.startswith("  A credential table template left in the onboarding folder,")
    assert "  templates/customer/onboarding/schemas/x_meta_api_keys.json, in the platform repo:\n"
    for line in rule.example.text.rstrip("\n").split("\n"):
        assert f"\n    {line}" in example  # the file as it is, indented
    assert "  schemas/customers/customer_api_keys.json, in the platform repo:\n" in out
    assert "  - https://cloud.google.com/bigquery/docs/access-control\n" in out
    assert out.endswith(
        "Framework mappings\n"
        "  SOC 2: CC6.1, CC8.1\n"
        "  ISO/IEC 27001:2022: A.8.3, A.8.12, A.8.32\n\n"
        f"Check kind: no-credential-tables, defined in {AUD_002}\n"
    )


@pytest.mark.parametrize("ref", ["tenant-no-credential-templates", "aud-002"])
def test_explain_takes_the_name_or_the_id_in_any_case(ref: str) -> None:
    assert run("rules", "explain", ref) == run("rules", "explain", "AUD-002")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("AUD-02", "unknown rule 'AUD-02' (did you mean 'AUD-002'?)"),
        ("aud12", "unknown rule 'aud12' (did you mean 'AUD-012'?)"),
        ("AUD-099", "unknown rule 'AUD-099' (did you mean 'AUD-009'?)"),
        ("datasets-not-publik", "unknown rule 'datasets-not-publik' (did you mean "
                                "'datasets-not-public'?)"),
        ("nothing-like-it", "unknown rule 'nothing-like-it'"),
    ],
)  # fmt: skip
def test_explain_an_unknown_rule_exits_2_with_a_suggestion(ref: str, message: str) -> None:
    code, out, err = run("rules", "explain", ref)
    assert (code, out) == (2, "")
    assert err == f"error: {message}; `auditor rules list` shows them all\n"


def test_explain_a_rule_without_doc_examples(tmp_path: Path) -> None:
    text = AUD_002.read_text(encoding="utf-8")
    text = re.sub(r"(?ms)^example:.*?(?=^scope:)", "", text)  # example and use_instead
    text = re.sub(r"(?ms)^description: >\n.*?(?=^rationale:)", "", text)
    (tmp_path / "r.yaml").write_text(text, encoding="utf-8")
    code, out, _ = run("rules", "explain", "AUD-002", "-p", str(tmp_path))
    assert code == 0
    assert "What it checks\n  (not documented)\n\nWhy it matters\n" in out
    assert "Example" not in out and "Use instead" not in out


def test_explain_escapes_control_characters_from_the_rule_file(tmp_path: Path) -> None:
    text = AUD_002.read_text(encoding="utf-8")
    text = text.replace("  note: The table lives", '  note: "\\e]0;pwned\\a\\u202e The table lives')
    text = text.replace(
        "outside the folder onboarding reads, and stores the key encrypted.",
        'outside the folder onboarding reads, and stores the key encrypted."',
    )
    (tmp_path / "r.yaml").write_text(text, encoding="utf-8")
    code, out, _ = run("rules", "explain", "AUD-002", "-p", str(tmp_path))
    assert code == 0
    assert "  \\x1b]0;pwned\\x07\\u202e The table lives" in out
    assert not {c for c in out if ord(c) < 0x20 and c != "\n"} and "\u202e" not in out


def test_table_is_one_row_per_rule_in_id_order(tmp_path: Path) -> None:
    for source in sorted(POLICIES_DIR.glob("*.yaml"))[:2]:
        text = source.read_text(encoding="utf-8")
        text = text.replace("title: The tenant onboarding", "title: A | B\\ The tenant onboarding")
        (tmp_path / source.name).write_text(text, encoding="utf-8")
    code, out, _ = run("rules", "table", "--markdown", "-p", str(tmp_path))
    assert code == 0
    assert out == (
        "| id | name | severity | the good state |\n"
        "|---|---|---|---|\n"
        "| AUD-001 | tenant-no-credential-columns | critical | Tenant table definitions have no "
        "credential-like columns |\n"
        "| AUD-002 | tenant-no-credential-templates | critical | A \\| B\\\\ The tenant onboarding "
        "folder holds no credential table templates |\n"
    )


def test_table_needs_the_markdown_flag() -> None:
    code, _, err = run("rules", "table")
    assert code == 2
    assert "Missing option '--markdown'" in err


def test_table_update_rewrites_only_between_the_markers(tmp_path: Path) -> None:
    doc = tmp_path / "README.md"
    doc.write_text(f"# Title\n\nbefore\n{TABLE_BEGIN}\nold table\n{TABLE_END}\nafter\n")
    code, out, err = run("rules", "table", "--markdown", "--update", str(doc))
    assert (code, out, err) == (0, "", f"updated: {doc}\n")
    table = markdown_table(list(shipped_rules()[0].values()))
    assert doc.read_text() == f"# Title\n\nbefore\n{TABLE_BEGIN}\n{table}{TABLE_END}\nafter\n"
    code, out, err = run("rules", "table", "--markdown", "--update", str(doc))
    assert (code, err) == (0, f"up to date: {doc}\n")


@pytest.mark.parametrize(
    "text",
    [
        "no markers\n",
        f"{TABLE_END}\n{TABLE_BEGIN}\n",
        f"{TABLE_BEGIN}\n{TABLE_BEGIN}\n{TABLE_END}\n",
    ],
    ids=["none", "reversed", "twice"],
)
def test_table_update_refuses_a_file_without_one_marked_table(text: str, tmp_path: Path) -> None:
    doc = tmp_path / "README.md"
    doc.write_text(text)
    code, _, err = run("rules", "table", "--markdown", "--update", str(doc))
    assert code == 2
    assert err.startswith(f"error: {doc}: no rules table to update; put the lines ")
    assert doc.read_text() == text
    assert replace_table(text, "x\n") is None


def test_the_readme_table_is_generated_from_the_rule_files() -> None:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    table = markdown_table(list(shipped_rules()[0].values()))
    assert replace_table(readme, table) == readme, (
        f"README.md's policy table differs from the rule files in policies/; run: {REGENERATE}"
    )
