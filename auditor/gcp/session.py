"""The HTTP session of the BigQuery client: google-auth's AuthorizedSession (token, refresh on
401) over requests, minus the per-request work its calls never need.

requests.Session.request merges the session's cookies, auth, hooks and settings into every
request, looks up the environment (off here: auditor.gcp.clients.read_environment_once),
dispatches hooks, stores cookies and follows redirects. The Google clients send a method, a
URL they built, headers and a body, with none of those features set: for such a call,
`LeanSession` prepares the request itself and hands it to the same transport adapter, with the
session's proxies, CA bundle and client certificate. That is about a fifth of the client's CPU
per call (benchmarks/latency.py; README, "Collection at API latency"). Anything else (query
params, cookies, auth, hooks, streaming, per-call proxies or TLS settings, a session that reads
the environment or holds cookies) takes requests' own path. A redirect is returned as it is,
never followed: Google's APIs answer JSON calls without one, and a 3xx then fails the call like
any other answer outside 2xx, naming its status.
"""

from __future__ import annotations

from typing import Any

import requests
from google.auth.transport.requests import AuthorizedSession
from requests.hooks import default_hooks
from requests.structures import CaseInsensitiveDict
from requests.utils import requote_uri

__all__ = ["LeanSession"]


class _PlainRequests(requests.Session):
    """requests.Session whose `request` sends a plain call without the session machinery."""

    def request(  # requests' own signature, spelled out
        self,
        method: str,
        url: str | bytes,
        params: Any = None,
        data: Any = None,
        headers: Any = None,
        cookies: Any = None,
        files: Any = None,
        auth: Any = None,
        timeout: Any = None,
        allow_redirects: bool = True,
        proxies: Any = None,
        hooks: Any = None,
        stream: bool | None = None,
        verify: Any = None,
        cert: Any = None,
        json: Any = None,
    ) -> requests.Response:
        plain = (
            not (params or cookies or files or proxies or hooks or stream)
            and auth is None
            and verify is None
            and cert is None
            and json is None
        )
        if not (plain and self._is_plain(url)):
            return super().request(
                method, url, params=params, data=data, headers=headers, cookies=cookies,
                files=files, auth=auth, timeout=timeout, allow_redirects=allow_redirects,
                proxies=proxies, hooks=hooks, stream=stream, verify=verify, cert=cert, json=json,
            )  # fmt: skip
        prepared = requests.PreparedRequest()
        prepared.prepare_method(method)
        prepared.url = requote_uri(str(url))  # prepare_url's result for an ASCII http(s) URL
        merged = CaseInsensitiveDict(self.headers)
        merged.update(headers or {})
        prepared.prepare_headers({k: v for k, v in merged.items() if v is not None})
        prepared.prepare_body(data, None, None)
        prepared.hooks = default_hooks()
        adapter = self.get_adapter(prepared.url)
        response = adapter.send(
            prepared,
            stream=False,
            timeout=timeout,
            verify=self.verify,
            cert=self.cert,
            proxies=self.proxies,
        )
        response.content  # noqa: B018  (read the body now, as requests does without stream)
        return response

    def _is_plain(self, url: Any) -> bool:
        """True for an ASCII http(s) URL on a session that sets none of the features the
        plain path leaves out."""
        return (
            isinstance(url, str)
            and url.isascii()
            and url.lower().startswith(("http://", "https://"))
            and not self.trust_env
            and self.auth is None
            and not self.cookies
            and not any(self.hooks.values())
            and not self.params
        )


class LeanSession(AuthorizedSession, _PlainRequests):  # type: ignore[misc]  # (see below)
    """google-auth's AuthorizedSession (credentials, refresh on 401) over _PlainRequests: its
    `request` adds the token and calls _PlainRequests.request (mypy sees two signatures of
    one method; the call between them passes requests' keywords through)."""
