"""Cloud Asset Inventory's searchAllIamPolicies for a generated estate, over real HTTP.

    with AssetResponder({table_resource: policy_json, ...}) as cai:
        AssetInventory(cai.url)(project, call)

For estates too large to record by hand (the latency benchmark's 10,000 tenants): answers
`GET /v1/projects/<p>:searchAllIamPolicies` with the given table policies, in resource-name
order, `pageSize` (at most 500, the API's cap) per page with a numeric `pageToken`, shaped as
the REST reference gives IamPolicySearchResult (resource, assetType, project, policy). Any
other request gets Google's 404 error JSON. Hand-written recordings of the same API for the
demo estate are in tests/data/recorded/asset/. Standard library only.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.background import BackgroundServer

from .faultproxy import google_error

TABLE_ASSET_TYPE = "bigquery.googleapis.com/Table"
PAGE_CAP = 500


class AssetResponder(BackgroundServer):
    def __init__(self, policies: Mapping[str, Mapping[str, Any]], project_number: int = 1) -> None:
        self.policies = sorted(policies.items())
        self.project_number = project_number
        self.requests = 0
        self._lock = threading.Lock()

    def page(self, path: str, query: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests += 1
        if not path.startswith("/v1/projects/") or not path.endswith(":searchAllIamPolicies"):
            return 404, google_error(404, f"no such method: {path}")
        params = parse_qs(query)
        if params.get("assetTypes") != [TABLE_ASSET_TYPE]:
            return 400, google_error(400, "this responder answers table policies only")
        size = min(int(params.get("pageSize", [str(PAGE_CAP)])[0]) or PAGE_CAP, PAGE_CAP)
        start = int(params.get("pageToken", ["0"])[0] or 0)
        chunk = self.policies[start : start + size]
        body: dict[str, Any] = {
            "results": [
                {
                    "resource": resource,
                    "assetType": TABLE_ASSET_TYPE,
                    "project": f"projects/{self.project_number}",
                    "policy": dict(policy),
                }
                for resource, policy in chunk
            ]
        }
        if start + size < len(self.policies):
            body["nextPageToken"] = str(start + size)
        return 200, body

    def _make_server(self) -> ThreadingHTTPServer:
        return ThreadingHTTPServer(("127.0.0.1", 0), type("Handler", (_Handler,), {"app": self}))


class _Handler(BaseHTTPRequestHandler):
    app: AssetResponder
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        status, body = self.app.page(parts.path, parts.query)
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""
