"""What changed since the last run, comparing like with like.

A run examines a part of the estate: the rules it ran (all of them, or those --only named),
the datasets it read (all, or those --dataset matched), minus what it could not read (its
coverage gaps). A finding outside that part says nothing about this run: it is neither
resolved nor new here. So the comparison does not take "the run before" as the state of
everything; it takes, for each finding, the newest earlier run that examined it:

- walk the earlier runs newest first; the newest run that saw a finding fail decides it:
  it is known to fail, unless a newer run (still earlier than this one) examined it and did
  not see it fail; older observations of it say nothing more;
- stop at a run that examined everything this history can ask about (no --only, no
  --dataset narrower than this run's, no coverage gap): nothing older can change the answer.

Then, for this run: failing and known to fail is *persisting*; failing and not known to
fail is *new since the last run*; known to fail, not failing and examined is *resolved*;
known to fail and not examined is *not examined* (carried over, neither resolved nor new).

Like with like, for the inputs too: a coverage gap outside BigQuery (IAM policies, groups,
an export file) can hide any access path, so a run with such a gap examines a finding only
if the run that saw it fail lacked the same inputs. A gap on a BigQuery resource (a
project, dataset or table that could not be read) hides that resource and what is under it.

Runs recorded before the history kept their scope are taken to have examined everything,
as the history assumed then.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from auditor.history.records import FindingRecord, RunRecord
from auditor.io.resource_names import parse_bigquery_name
from auditor.model import RunScope
from auditor.report.summary import iso_utc
from auditor.report.views import ChangedFinding, ChangeSet, PreviousRun

__all__ = ["Comparison", "Coverage", "Observed", "RecordLoader", "compare"]

@dataclass(frozen=True)
class Coverage:
    """What one run examined, as far as comparing findings needs to know."""

    known: bool  # False: recorded without a scope; taken to have examined everything
    rules: frozenset[str] | None  # None: no --only, the whole policy pack ran
    project: str | None
    dataset_filter: tuple[str, ...]  # dataset globs applied (a config's or --dataset's); empty: all
    bigquery_gaps: tuple[str, ...]  # BigQuery resource names that could not be read
    other_gaps: frozenset[str]  # gap scopes outside BigQuery (IAM, groups, files)

    @classmethod
    def of(cls, scope: RunScope | None, gap_scopes: Iterable[str]) -> Coverage:
        if scope is None:
            return cls(False, None, None, (), (), frozenset())
        gaps = tuple(gap_scopes)
        return cls(
            known=True,
            rules=frozenset(scope.rules) if scope.rule_filter else None,
            project=scope.project,
            dataset_filter=tuple(scope.dataset_filter),
            bigquery_gaps=tuple(sorted({g for g in gaps if parse_bigquery_name(g)})),
            other_gaps=frozenset(g for g in gaps if not parse_bigquery_name(g)),
        )

    @classmethod
    def of_run(cls, run: RunRecord) -> Coverage:
        return cls.of(run.scope, run.gap_scopes)

    def examines(
        self, rule_id: str, resource: str, seen_without: Collection[str] = frozenset()
    ) -> bool:
        """Whether this run checked `rule_id` on `resource` with inputs as good as those of
        the run that saw it fail (`seen_without`: the non-BigQuery gaps that run had)."""
        if not self.known:
            return True
        if self.rules is not None and rule_id not in self.rules:
            return False
        if not self.other_gaps <= frozenset(seen_without):
            return False
        name = parse_bigquery_name(resource)
        if name is None:  # templates, SQL docs, IAM exports: read whatever the filters
            return True
        project, dataset = name.project, name.dataset
        if self.project is not None and project != self.project:
            return False
        if (
            dataset is not None
            and self.dataset_filter
            and not any(fnmatchcase(dataset, glob) for glob in self.dataset_filter)
        ):
            return False
        return not any(resource == g or resource.startswith(g + "/") for g in self.bigquery_gaps)

    def settles_all_before(self, current: Coverage) -> bool:
        """Whether this run examined everything `current` can ask about, so that no run
        before it can change the comparison."""
        if not self.known:
            return True
        if self.rules is not None or self.bigquery_gaps or self.other_gaps:
            return False
        if not self.dataset_filter:
            return True
        return bool(current.dataset_filter) and set(current.dataset_filter) <= set(
            self.dataset_filter
        )


@dataclass(frozen=True)
class Comparison:
    """A run against the history before it (each list sorted by fingerprint)."""

    previous: RunRecord | None  # the run recorded just before; None for the first run
    new: tuple[str, ...]  # failing now, not known to fail before: new since the last run
    resolved: tuple[FindingRecord, ...]  # known to fail, examined now, not failing now
    persisting: tuple[str, ...]  # failing now and known to fail before
    not_examined: tuple[FindingRecord, ...]  # known to fail, outside this run's scope
    consulted: tuple[str, ...]  # ids of the earlier runs read, newest first

    def change_set(self) -> ChangeSet:
        """What the HTML report shows (report.reader rebuilds the same from `as_json`)."""
        last = self.previous
        previous = None if last is None else PreviousRun(
            last.id, last.started_at, last.complete, last.narrowed
        )
        return ChangeSet(
            new=self.new,
            resolved=tuple(r.fingerprint for r in self.resolved),
            persisting=self.persisting,
            not_examined=tuple(r.fingerprint for r in self.not_examined),
            # What each resolved finding was, so the page names it (issue 17).
            details={
                r.fingerprint: ChangedFinding(
                    r.rule_id, r.rule_name, r.severity, r.status, r.resource, r.column, r.principal
                )
                for r in self.resolved
            },
            previous=previous,
            compared=self.consulted,
        )

    def as_json(self) -> dict[str, Any]:
        """The JSON report's `since_last_run` block (schemas/formats/report.schema.json)."""
        previous = self.previous
        return {
            "previous_run": None
            if previous is None
            else {
                "id": previous.id,
                "started_at": iso_utc(previous.started_at),
                "complete": previous.complete,
                "narrowed": previous.narrowed,
            },
            "compared_runs": list(self.consulted),
            "counts": {
                "new": len(self.new),
                "resolved": len(self.resolved),
                "persisting": len(self.persisting),
                "not_examined": len(self.not_examined),
            },
            "new": list(self.new),
            "resolved": [_brief(r) for r in self.resolved],
            "persisting": list(self.persisting),
            "not_examined": [_brief(r) for r in self.not_examined],
        }


def _brief(record: FindingRecord) -> dict[str, Any]:
    """A finding the report no longer lists: enough to know which one it was."""
    out: dict[str, Any] = {
        "fingerprint": record.fingerprint,
        "rule_id": record.rule_id,
        "rule_name": record.rule_name,
        "status": record.status.value,
        "severity": record.severity.value,
        "resource": record.resource,
    }
    if record.column is not None:
        out["column"] = record.column
    if record.principal is not None:
        out["principal"] = record.principal
    return out


# What the walk reads of each earlier failing finding: (fingerprint, rule id, resource).
Observed = tuple[str, str, str]
# The recorded findings of a run, by fingerprint: for the few the comparison lists in full.
RecordLoader = Callable[[str, Collection[str]], Iterable[FindingRecord]]


def compare(
    current: Coverage,
    failing_now: Collection[str],
    history: Iterable[tuple[RunRecord, Iterable[Observed]]],
    load: RecordLoader,
) -> Comparison:
    """Compare the run with coverage `current` and FAIL/ERROR fingerprints `failing_now`
    against `history`: the earlier runs, newest first, each with its FAIL/ERROR findings.
    `history` is read lazily and left unfinished once an earlier run settles the rest;
    `load(run_id, fingerprints)` gives the records of the findings listed as resolved or not
    examined (the walk itself reads only fingerprints, rules and resources)."""
    known: dict[str, tuple[str, str, str, frozenset[str]]] = {}  # fp -> run, rule, resource, gaps
    settled: set[str] = set()  # seen failing, then examined and not failing by a newer run
    newer: list[Coverage] = []
    consulted: list[str] = []
    previous: RunRecord | None = None
    for run, failing in history:
        previous = previous or run
        consulted.append(run.id)
        coverage = Coverage.of_run(run)
        for fp, rule_id, resource in failing:
            if fp in known or fp in settled:
                continue  # a newer run decided it: an older observation says nothing more
            if any(c.examines(rule_id, resource, coverage.other_gaps) for c in newer):
                settled.add(fp)  # a newer run examined it and did not see it fail
            else:
                known[fp] = (run.id, rule_id, resource, coverage.other_gaps)
        newer.append(coverage)
        if coverage.settles_all_before(current):
            break
    now = frozenset(failing_now)
    gone: dict[str, dict[str, bool]] = {}  # run id -> fingerprint -> examined now
    for fp, (run_id, rule_id, resource, seen_without) in known.items():
        if fp not in now:
            gone.setdefault(run_id, {})[fp] = current.examines(rule_id, resource, seen_without)
    resolved: list[FindingRecord] = []
    not_examined: list[FindingRecord] = []
    for run_id, examined in gone.items():
        for record in load(run_id, examined.keys()):
            (resolved if examined[record.fingerprint] else not_examined).append(record)
    return Comparison(
        previous=previous,
        new=tuple(sorted(now - known.keys())),
        resolved=tuple(sorted(resolved, key=lambda r: r.fingerprint)),
        persisting=tuple(sorted(now & known.keys())),
        not_examined=tuple(sorted(not_examined, key=lambda r: r.fingerprint)),
        consulted=tuple(consulted),
    )
