"""The applier's Estate over a google-cloud-bigquery client (see state.Estate).

Raw REST calls through the client's connection, so each request is exactly what the plan
shows, with If-Match where the action says so. Calls are retried by the shared policy
(auditor.gcp.retry, BigQuery's limits: 429, 5xx, a lost connection, an answer cut short or
not JSON); every write is conditional (an etag, or a create that fails when the object
exists), so a retried write cannot apply twice. A call that fails for good raises its last
error. A read of something that does not exist is None.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from google.api_core import exceptions as api_exceptions
from google.cloud import bigquery

from auditor.gcp import retry
from auditor.gcp.clients import NO_RETRY
from auditor.gcp.retry import GaveUp
from auditor.remediate.state import ApplyError, DatasetState, TableState
from auditor.sources.bqconvert import dataset_from_api, iam_from_api, table_from_api


def _sleep(seconds: float) -> None:
    time.sleep(seconds)  # looked up when called, so that a test can stop the waiting


class BigQueryEstate:
    """state.Estate over a BigQuery client (see the module doc)."""

    def __init__(
        self, client: bigquery.Client, *, timeout: float = 30.0, attempts: int = 4
    ) -> None:
        self.client = client
        self.timeout = timeout
        self.attempts = attempts
        self.policy = replace(retry.BIGQUERY, attempts=attempts, timeout=timeout, sleep=_sleep)

    # -- plumbing

    def _call(self, fetch: Callable[[], Any]) -> Any:
        try:
            return retry.call(fetch, self.policy)
        except GaveUp as gave_up:
            raise gave_up.error from None

    def _request(
        self, method: str, path: str, data: Any = None, headers: Any = None, query: Any = None
    ) -> Any:
        connection = self.client._connection
        return self._call(
            lambda: connection.api_request(  # type: ignore[no-untyped-call]
                method=method,
                path=path,
                data=data,
                headers=headers,
                query_params=query,
                timeout=self.timeout,
            )
        )

    def _get(self, path: str, data: Any = None, method: str = "GET") -> Any:
        try:
            return self._request(method, path, data)
        except api_exceptions.NotFound:
            return None

    # -- reads

    def get_dataset(self, project: str, dataset_id: str) -> DatasetState | None:
        raw = self._get(f"/projects/{project}/datasets/{dataset_id}")
        if raw is None:
            return None
        model, _ = dataset_from_api(raw, project, dataset_id)
        return DatasetState(raw, model)

    def get_table(
        self, project: str, dataset_id: str, table_id: str, *, iam: bool
    ) -> TableState | None:
        path = f"/projects/{project}/datasets/{dataset_id}/tables/{table_id}"
        raw = self._get(path)
        if raw is None:
            return None
        model = table_from_api(raw, project, dataset_id, table_id)
        policy = None
        if iam:
            policy = self._get(
                f"{path}:getIamPolicy", {"options": {"requestedPolicyVersion": 3}}, "POST"
            )
            model = replace(model, iam=iam_from_api(policy or {}))
        return TableState(raw, model, policy)

    # -- writes

    def insert_dataset(self, project: str, body: Mapping[str, Any]) -> None:
        self._request("POST", f"/projects/{project}/datasets", dict(body))

    def patch_dataset(
        self, project: str, dataset_id: str, body: Mapping[str, Any], etag: str | None
    ) -> None:
        headers = {"If-Match": etag} if etag else None
        self._request("PATCH", f"/projects/{project}/datasets/{dataset_id}", dict(body), headers)

    def insert_table(self, project: str, dataset_id: str, body: Mapping[str, Any]) -> None:
        self._request("POST", f"/projects/{project}/datasets/{dataset_id}/tables", dict(body))

    def patch_table(
        self,
        project: str,
        dataset_id: str,
        table_id: str,
        body: Mapping[str, Any],
        etag: str | None,
    ) -> None:
        headers = {"If-Match": etag} if etag else None
        path = f"/projects/{project}/datasets/{dataset_id}/tables/{table_id}"
        self._request("PATCH", path, dict(body), headers)

    def set_table_iam(
        self, project: str, dataset_id: str, table_id: str, policy: Mapping[str, Any]
    ) -> None:
        path = f"/projects/{project}/datasets/{dataset_id}/tables/{table_id}:setIamPolicy"
        self._request("POST", path, {"policy": dict(policy)})

    # -- rollback only: removal of what an action created, guarded by the caller

    def delete_table(self, project: str, dataset_id: str, table_id: str) -> None:
        self._request("DELETE", f"/projects/{project}/datasets/{dataset_id}/tables/{table_id}")

    def delete_empty_dataset(self, project: str, dataset_id: str) -> None:
        # Without deleteContents BigQuery refuses a dataset that still has tables.
        self._request(
            "DELETE",
            f"/projects/{project}/datasets/{dataset_id}",
            query={"deleteContents": "false"},
        )

    def values_in(self, project: str, dataset_id: str, table_id: str, column: str) -> int:
        _check_names(project, dataset_id, table_id, column)
        # Identifiers cannot be query parameters; _check_names vetted them.
        sql = f"SELECT COUNT(*) AS n FROM `{project}.{dataset_id}.{table_id}` WHERE `{column}` IS NOT NULL"  # noqa: S608, E501
        rows = self._call(
            lambda: list(
                self.client.query_and_wait(
                    sql, project=project, api_timeout=self.timeout, retry=NO_RETRY,
                    job_retry=NO_RETRY,
                )
            )
        )  # fmt: skip
        if len(rows) != 1:  # COUNT(*) answers one row; anything else is no proof of "empty"
            raise ApplyError(
                f"counting the values of {dataset_id}.{table_id}.{column} answered "
                f"{len(rows)} rows, not 1: the column is kept"
            )
        return int(rows[0]["n"])

    def drop_column(self, project: str, dataset_id: str, table_id: str, column: str) -> None:
        _check_names(project, dataset_id, table_id, column)
        sql = f"ALTER TABLE `{project}.{dataset_id}.{table_id}` DROP COLUMN IF EXISTS `{column}`"
        self._call(
            lambda: self.client.query_and_wait(
                sql, project=project, api_timeout=self.timeout, retry=NO_RETRY, job_retry=NO_RETRY
            )
        )


_PROJECT_RE = re.compile(r"(?:[a-z][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
_NAME_RE = re.compile(r"[A-Za-z0-9_]{1,1024}")  # dataset ids, and the columns we add
_TABLE_RE = re.compile(r"[^`\\\x00-\x1f]{1,1024}")


def _check_names(project: str, dataset_id: str, table_id: str, column: str) -> None:
    """Identifiers go into SQL text (BigQuery cannot bind them): refuse anything that could
    close a backquote."""
    if not (
        _PROJECT_RE.fullmatch(project)
        and _NAME_RE.fullmatch(dataset_id)
        and _TABLE_RE.fullmatch(table_id)
        and _NAME_RE.fullmatch(column)
    ):
        raise ApplyError(f"refusing SQL on an unexpected name: {dataset_id}.{table_id}.{column}")
