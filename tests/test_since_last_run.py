"""`auditor report nightly.json` shows what the nightly page showed since the last run.

The nightly JSON carries `since_last_run` (new, resolved, persisting, not examined, the runs
compared with); the reader rebuilds the page's change set from it, so the page rendered from
the saved JSON has the same "Since the last run" section as the page the job rendered from
its history, not-examined count included. A block that contradicts its findings is refused.
(tests/test_nightly_signed.py compares the two pages of a real nightly run.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditor.cli import main
from auditor.errors import InputError
from auditor.history import HistoryStore
from auditor.history.compare import Comparison
from auditor.model import Report
from auditor.report import html
from auditor.report import json as json_report
from auditor.report.reader import read_report

from .test_history_scope import COLUMN, GENAI, NO_CMEK, PUBLIC, run

_SECTION = re.compile(
    r'<div id="changes">.*?</div>\n</div>\n(?:<div class="cols">.*?</div>\n</div>\n)?', re.S
)


def since_section(page: str) -> str:
    """The page's "Since the last run" block: counts, the run compared with, the lists."""
    found = _SECTION.search(page)
    assert found, "no since-last-run section"
    return found.group(0)


def counts(page: str) -> dict[str, str]:
    return dict(re.findall(r'data-count="(changes-[a-z-]+)">(\d+)<', page))


def nightly_like(tmp_path: Path) -> tuple[Report, Comparison, Path]:
    """A full run, one narrowed to AUD-006, then this run narrowed to AUD-001 and AUD-006,
    written as the nightly job writes its JSON: initech's public access is resolved, the
    credential column persists (known from the full run), umbrella's CMEK finding is not
    examined."""
    with HistoryStore.open(tmp_path / "history.sqlite") as store:
        store.record(run(0, PUBLIC, COLUMN, NO_CMEK))
        store.record(run(1, PUBLIC, only=("AUD-006",)))
        report = run(2, COLUMN, only=("AUD-001", "AUD-006"))
        comparison = store.compare(report)
    path = tmp_path / "nightly.json"
    path.write_text(json_report.render(report, since_last_run=comparison.as_json()), "utf-8")
    return report, comparison, path


def test_the_saved_json_renders_the_nightly_pages_since_section(tmp_path: Path) -> None:
    report, comparison, path = nightly_like(tmp_path)
    assert (len(comparison.new), len(comparison.resolved), len(comparison.persisting),
            len(comparison.not_examined)) == (0, 1, 1, 1)  # fmt: skip
    nightly_page = html.render(report, changes=comparison.change_set())
    page = tmp_path / "page.html"
    result = CliRunner().invoke(main, ["report", str(path), "-o", str(page)])
    assert result.exit_code == 0, result.output
    rendered = page.read_text(encoding="utf-8")
    assert since_section(rendered) == since_section(nightly_page)
    assert counts(rendered) == {
        "changes-new": "0",
        "changes-resolved": "1",
        "changes-persisting": "1",
        "changes-not-examined": "1",
    }
    previous = comparison.previous
    assert previous is not None
    assert (
        f"Compared with run <code>{previous.id}</code> of 2026-12-02T02:00:00Z (a narrowed run), "
        "and 1 earlier run for what it did not examine." in since_section(rendered)
    )
    # The resolved finding is named, not a bare fingerprint.
    assert "was FAIL</span> <code>AUD-006</code> aud-006: //bigquery.googleapis.com/projects/" in (
        since_section(rendered)
    )
    # The findings table marks the persisting finding as such: the same data on both pages.
    data = re.compile(r'<script type="application/json" id="findings-data">(.*?)</script>', re.S)
    found_rendered, found_nightly = data.search(rendered), data.search(nightly_page)
    assert found_rendered and found_nightly
    assert found_rendered.group(1) == found_nightly.group(1)


def test_a_first_run_and_a_report_without_the_block_show_no_since_section(
    tmp_path: Path,
) -> None:
    with HistoryStore.open(tmp_path / "history.sqlite") as store:
        first = run(0, PUBLIC)
        block = store.compare(first).as_json()
    assert block["previous_run"] is None
    for name, text in (
        ("first.json", json_report.render(first, since_last_run=block)),
        ("scan.json", json_report.render(first)),
    ):
        (tmp_path / name).write_text(text, encoding="utf-8")
        saved = read_report(tmp_path / name)
        assert saved.since_last_run is None
        assert 'id="changes"' not in html.render(saved.report, changes=saved.since_last_run)


def _edit(path: Path, change: Any) -> Path:
    data = json.loads(path.read_text(encoding="utf-8"))
    change(data["since_last_run"])
    edited = path.with_name("edited.json")
    edited.write_text(json.dumps(data, indent=2), encoding="utf-8")
    return edited


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b["counts"].update(not_examined=0), "counts.not_examined says 0, the list"),
        (
            lambda b: b["persisting"].clear() or b["counts"].update(persisting=0),
            "new and persisting are not the report's failing",
        ),
        (
            lambda b: b.update(new=[PUBLIC.fingerprint]) or b["counts"].update(new=1),
            "new and persisting are not the report's",
        ),
        (
            lambda b: b["resolved"][0].update(resource="//bigquery.googleapis.com/x"),
            "resolved finding .* is not the one its fields give",
        ),
        (
            lambda b: b["not_examined"].append(
                {**b["not_examined"][0], "fingerprint": GENAI.fingerprint}
            )
            or b["counts"].update(not_examined=2),
            "not examined finding .* is not the one its fields give",
        ),
    ],
    ids=["count", "persisting-dropped", "new-invented", "resolved-renamed", "not-examined-bad"],
)
def test_a_block_that_contradicts_its_report_is_refused(
    tmp_path: Path, change: Any, message: str
) -> None:
    _, _, path = nightly_like(tmp_path)
    edited = _edit(path, change)
    with pytest.raises(InputError, match=rf"since_last_run: {message}"):
        read_report(edited)


def test_a_failing_finding_listed_as_resolved_is_refused(tmp_path: Path) -> None:
    _, _, path = nightly_like(tmp_path)

    def resolve_the_failing_one(block: dict[str, Any]) -> None:
        block["resolved"].append(
            {
                "fingerprint": COLUMN.fingerprint,
                "rule_id": COLUMN.rule_id,
                "rule_name": COLUMN.rule_name,
                "status": "FAIL",
                "severity": "high",
                "resource": COLUMN.resource,
            }
        )
        block["resolved"].sort(key=lambda item: item["fingerprint"])
        block["counts"]["resolved"] += 1

    with pytest.raises(InputError, match="a finding failing now is listed as resolved"):
        read_report(_edit(path, resolve_the_failing_one))
