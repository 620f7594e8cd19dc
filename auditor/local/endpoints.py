"""What the auditor knows about an endpoint served by a local engine.

- Whether an endpoint is local (a loopback address: the engines bind 127.0.0.1 only).
- Whether it answers (the health check `start` waits for; the applier asks it before
  sending a plan to an engine that may have been stopped since the plan was made).
- Which datasets an engine makes for itself. local-bigquery 0.3.2 creates its `--dataset`
  (default `local`) in the project it serves at every start, empty and unlabelled
  (local_bigquery/engine/database.py, `_connect`: CREATE SCHEMA IF NOT EXISTS, read
  2026-12-07 in the pinned wheel); bqemulator 1.4.0 creates none (tests/test_local_emulator.py
  lists a fresh engine's datasets). Such a dataset is no part of the estate being audited.
"""

from __future__ import annotations

import ipaddress
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from auditor.local.engines import Engine
from auditor.model import CoverageGap, Dataset, Table, dataset_resource

# The datasets each engine creates by itself, whatever it is asked to serve.
ENGINE_DATASETS: Mapping[Engine, tuple[str, ...]] = {
    Engine.FAITHFUL: ("local",),
    Engine.FAST: (),
}


def is_local_endpoint(endpoint: str | None) -> bool:
    """True for an http(s) URL whose host is a loopback address or `localhost`."""
    if not endpoint:
        return False
    host = urlsplit(endpoint).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def answers(endpoint: str, project: str, timeout: float = 5.0) -> bool:
    """Whether the BigQuery API at `endpoint` lists the datasets of `project` (HTTP 200)."""
    url = f"{endpoint.rstrip('/')}/bigquery/v2/projects/{project}/datasets"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy
    try:
        with opener.open(url, timeout=timeout) as response:
            return int(response.status) == 200
    except (urllib.error.URLError, OSError, ValueError):
        return False


def engine_datasets(
    endpoint: str | None,
    datasets: Iterable[Dataset],
    tables: Iterable[Table],
    gaps: Iterable[CoverageGap] = (),
) -> tuple[Dataset, ...]:
    """The datasets among `datasets` that a local engine at `endpoint` made for itself:
    named as an engine names its own, with no label, and holding no table (known: no
    coverage gap on it). Anything else, a dataset of that name included, is the estate's."""
    if not is_local_endpoint(endpoint):
        return ()
    own = {name for names in ENGINE_DATASETS.values() for name in names}
    holding = {(t.project, t.dataset_id) for t in tables}
    unread = [gap.scope for gap in gaps]
    return tuple(
        d
        for d in datasets
        if d.dataset_id in own
        and not d.labels
        and (d.project, d.dataset_id) not in holding
        and not any(_within(scope, dataset_resource(d.project, d.dataset_id)) for scope in unread)
    )


def _within(scope: str, resource: str) -> bool:
    return scope == resource or scope.startswith(resource + "/")


__all__ = ["ENGINE_DATASETS", "answers", "engine_datasets", "is_local_endpoint"]
