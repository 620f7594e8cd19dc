"""BigQuery resource names read back into their parts: the names model.dataset_resource and
model.table_resource_name write (`//bigquery.googleapis.com/projects/P/datasets/D[/tables/T]`).

One parser for every room that needs the project, dataset or table of a finding's resource
(history's comparison, the report's views and definitions, the remediation planner). Names
of anything else (template paths, IAM scopes) give None.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from auditor.model import BIGQUERY_RESOURCE_PREFIX

# Segments are non-empty and hold no "/"; the rest is whatever follows (newlines included).
_NAME = re.compile(
    re.escape(f"{BIGQUERY_RESOURCE_PREFIX}projects/")
    + r"([^/]+)(?:/datasets/([^/]+)(?:/tables/([^/]+))?)?(.*)",
    re.DOTALL,
)


class BigQueryName(NamedTuple):
    """The parts of a BigQuery resource name, read as far as they go. `rest` is what follows
    them ("" when the name is exactly a project, dataset or table): `/routines/R` of a
    routine, `/jobs/J` of a job. (A tuple, not a dataclass: reports parse one per finding.)"""

    project: str
    dataset: str | None = None
    table: str | None = None
    rest: str = ""


def parse_bigquery_name(resource: str) -> BigQueryName | None:
    """The project, dataset and table of a BigQuery resource name; None when `resource` is
    not one (it does not start with `//bigquery.googleapis.com/projects/P`)."""
    match = _NAME.match(resource)
    if match is None:
        return None
    project, dataset, table, rest = match.groups()
    return BigQueryName(project, dataset, table, rest)


def dataset_of(resource: str) -> str:
    """`project.dataset` of a BigQuery resource name; "" for anything else (files). Straight
    from the match: the HTML and CSV reports call it once per finding."""
    match = _NAME.match(resource)
    return f"{match[1]}.{match[2]}" if match and match[2] else ""


def dataset_or_table(resource: str) -> tuple[str, str, str | None] | None:
    """(project, dataset, table or None) of a name that is exactly a dataset's or a table's;
    None for anything else (a project, a routine, a file)."""
    name = parse_bigquery_name(resource)
    if name is None or name.dataset is None or name.rest:
        return None
    return name.project, name.dataset, name.table


__all__ = ["BigQueryName", "dataset_of", "dataset_or_table", "parse_bigquery_name"]
