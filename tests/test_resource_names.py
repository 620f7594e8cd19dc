"""auditor.io.resource_names: the one parser of BigQuery resource names.

It replaced four regular expressions (history/compare, report/views, report/definitions,
remediate/intents). They are kept here, verbatim, as the specification: on any text the
parser must answer as each of them did.
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from auditor.io.resource_names import (
    BigQueryName,
    dataset_of,
    dataset_or_table,
    parse_bigquery_name,
)
from auditor.model import dataset_resource, table_resource_name

# The four patterns as they were written before (commit 62e87c2).
COMPARE = re.compile(r"^//bigquery\.googleapis\.com/projects/([^/]+)(?:/datasets/([^/]+))?")
VIEWS = re.compile(r"^//bigquery\.googleapis\.com/projects/([^/]+)/datasets/([^/]+)")
DEFINITIONS = re.compile(
    r"^//bigquery\.googleapis\.com/projects/[^/]+/datasets/([^/]+)/tables/([^/]+)$"
)
INTENTS = re.compile(
    r"^//bigquery\.googleapis\.com/projects/(?P<p>[^/]+)/datasets/(?P<d>[^/]+)"
    r"(?:/tables/(?P<t>[^/]+))?$"
)

PREFIX = "//bigquery.googleapis.com/projects/"


def test_parts_of_each_kind_of_name() -> None:
    assert parse_bigquery_name(dataset_resource("p-1", "tenant_a")) == BigQueryName(
        "p-1", "tenant_a"
    )
    assert parse_bigquery_name(table_resource_name("p", "d", "t")) == BigQueryName("p", "d", "t")
    assert parse_bigquery_name(f"{PREFIX}p") == BigQueryName("p")
    assert parse_bigquery_name(f"{PREFIX}p/datasets/d/routines/r") == BigQueryName(
        "p", "d", rest="/routines/r"
    )
    assert parse_bigquery_name(f"{PREFIX}p/datasets/d/tables/t/x") == BigQueryName(
        "p", "d", "t", "/x"
    )
    assert parse_bigquery_name(f"{PREFIX}p/datasets/") == BigQueryName("p", rest="/datasets/")
    for other in ("templates/a.json", f"{PREFIX}", f"{PREFIX}/datasets/d", "//iam/p", ""):
        assert parse_bigquery_name(other) is None


def test_dataset_or_table_takes_exact_names_only() -> None:
    assert dataset_or_table(dataset_resource("p", "d")) == ("p", "d", None)
    assert dataset_or_table(table_resource_name("p", "d", "t")) == ("p", "d", "t")
    assert dataset_or_table(f"{PREFIX}p") is None
    assert dataset_or_table(f"{PREFIX}p/datasets/d/routines/r") is None
    assert dataset_or_table(f"{PREFIX}p/datasets/d/tables/") is None
    assert dataset_or_table("schemas/tenant/x_meta_pipeline_runs.json") is None


# Text built from the pieces the patterns care about, so that most draws come near a name.
_PIECES = st.sampled_from(
    ["/", "datasets", "tables", "routines", "p", "d", "t", "\n", "", ".", ":", "x/y"]
)
_TAIL = st.lists(_PIECES | st.text(max_size=3), max_size=8).map("".join)
_NAMES = st.one_of(
    _TAIL.map(lambda tail: PREFIX + tail),
    _TAIL.map(lambda tail: f"{PREFIX}p/datasets/{tail}"),
    _TAIL.map(lambda tail: f"{PREFIX}p/datasets/d/tables/{tail}"),
    st.text(max_size=20),
)


@given(_NAMES)
def test_answers_as_the_four_patterns_did(resource: str) -> None:
    name = parse_bigquery_name(resource)
    old = COMPARE.match(resource)
    assert (name is not None) == (old is not None)
    if name is not None and old is not None:
        assert (name.project, name.dataset) == old.groups()

    old_view = VIEWS.match(resource)
    assert dataset_of(resource) == (f"{old_view[1]}.{old_view[2]}" if old_view else "")

    exact = dataset_or_table(resource)
    old_exact = INTENTS.match(resource)
    assert exact == ((old_exact["p"], old_exact["d"], old_exact["t"]) if old_exact else None)

    old_table = DEFINITIONS.match(resource)
    table = (exact[1], exact[2]) if exact is not None and exact[2] is not None else None
    assert table == (old_table.groups() if old_table else None)
