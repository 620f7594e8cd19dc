"""BigQuery resource names read back into their parts: the names model.dataset_resource and
model.table_resource_name write (`//bigquery.googleapis.com/projects/P/datasets/D[/tables/T]`).

One parser for every room that needs the project, dataset or table of a finding's resource
(history's comparison, the report's views and definitions, the remediation planner). Names
of anything else (template paths, IAM scopes) give None.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditor.model import BIGQUERY_RESOURCE_PREFIX

_PROJECTS = f"{BIGQUERY_RESOURCE_PREFIX}projects/"


@dataclass(frozen=True)
class BigQueryName:
    """The parts of a BigQuery resource name, read as far as they go. `rest` is what follows
    them ("" when the name is exactly a project, dataset or table): `/routines/R` of a
    routine, `/jobs/J` of a job."""

    project: str
    dataset: str | None = None
    table: str | None = None
    rest: str = ""


def _segment(text: str, head: str) -> tuple[str, str] | None:
    """(the non-empty segment after `head`, what follows it), or None."""
    if not text.startswith(head):
        return None
    segment, slash, after = text[len(head) :].partition("/")
    return (segment, slash + after) if segment else None


def parse_bigquery_name(resource: str) -> BigQueryName | None:
    """The project, dataset and table of a BigQuery resource name; None when `resource` is
    not one (it does not start with `//bigquery.googleapis.com/projects/P`)."""
    project = _segment(resource, _PROJECTS)
    if project is None:
        return None
    name, rest = project
    dataset = _segment(rest, "/datasets/")
    if dataset is None:
        return BigQueryName(name, rest=rest)
    dataset_id, rest = dataset
    table = _segment(rest, "/tables/")
    if table is None:
        return BigQueryName(name, dataset_id, rest=rest)
    table_id, rest = table
    return BigQueryName(name, dataset_id, table_id, rest)


def dataset_or_table(resource: str) -> tuple[str, str, str | None] | None:
    """(project, dataset, table or None) of a name that is exactly a dataset's or a table's;
    None for anything else (a project, a routine, a file)."""
    name = parse_bigquery_name(resource)
    if name is None or name.dataset is None or name.rest:
        return None
    return name.project, name.dataset, name.table


__all__ = ["BigQueryName", "dataset_or_table", "parse_bigquery_name"]
