"""Clients for every Google API the auditor calls, built one way.

An endpoint is None (Google's API, with application default credentials) or the base URL of
a local stand-in (a local BigQuery engine, a recorded-response server, a fault proxy), used
with anonymous credentials. Both go through the same code: only the credentials and the
base URL differ. No credentials found is `MissingCredentials` naming the API, raised when
the client is built. Building a client opens no connection; the first request does.

The generated clients (DLP, KMS, Cloud Asset, Resource Manager, IAM v2) are used over REST,
with their own retry turned off at each call (`retry=NO_RETRY`): auditor.gcp.retry retries.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar, cast
from urllib.parse import urlsplit

import google.auth
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials, Credentials
from google.auth.exceptions import GoogleAuthError
from google.auth.transport.requests import AuthorizedSession
from google.cloud import asset_v1, bigquery, dlp_v2, kms_v1
from requests import Session
from requests.adapters import HTTPAdapter

from auditor.errors import MissingCredentials, UsageError
from auditor.gcp.session import LeanSession

__all__ = [
    "BIGQUERY_SCOPES",
    "CLOUD_PLATFORM",
    "KMS_SCOPES",
    "NO_RETRY",
    "asset_client",
    "authorized_session",
    "bigquery_client",
    "check_endpoint",
    "credentials_for",
    "dlp_client",
    "kms_client",
    "read_environment_once",
    "rest_client",
    "widen_pool",
]

CLOUD_PLATFORM = ("https://www.googleapis.com/auth/cloud-platform",)
BIGQUERY_SCOPES = ("https://www.googleapis.com/auth/bigquery", *CLOUD_PLATFORM)
KMS_SCOPES = ("https://www.googleapis.com/auth/cloudkms",)
# The client libraries document retry=None as "do not retry"; their hints say Retry.
NO_RETRY = cast(Retry, None)
REQUESTS_POOL = 10  # connections per host requests keeps by default
BIGQUERY_API = "https://bigquery.googleapis.com"


def check_endpoint(endpoint: str, api: str) -> str:
    """`endpoint` when it is an http(s) base URL; UsageError otherwise."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(f"invalid {api} endpoint {endpoint!r} (expected http(s)://host:port)")
    return endpoint


def credentials_for(
    api: str,
    endpoint: str | None,
    *,
    project: str | None = None,
    scopes: Sequence[str] = CLOUD_PLATFORM,
) -> Credentials:
    """Application default credentials for Google's endpoint (None), anonymous ones for any
    other. MissingCredentials (naming `api`) when Google's has none."""
    if endpoint is not None:
        check_endpoint(endpoint, api)
        return AnonymousCredentials()  # type: ignore[no-untyped-call]
    try:
        found, _ = google.auth.default(scopes=list(scopes))
    except GoogleAuthError as exc:
        raise MissingCredentials(api, project, str(exc)) from None
    credentials: Credentials = found
    return credentials


def bigquery_client(project: str, endpoint: str | None = None) -> bigquery.Client:
    """A BigQuery client for `project` (see the module doc for `endpoint`)."""
    credentials = credentials_for(
        "the BigQuery API", endpoint, project=project, scopes=BIGQUERY_SCOPES
    )
    options = {"api_endpoint": endpoint} if endpoint is not None else None
    # The session google-cloud-core would build (a token refresh waits at most 300 s; mutual
    # TLS when the environment asks for it), as a LeanSession.
    session = LeanSession(credentials, refresh_timeout=300)  # type: ignore[no-untyped-call]
    session.configure_mtls_channel()  # type: ignore[no-untyped-call]
    read_environment_once(session, endpoint or BIGQUERY_API)
    return bigquery.Client(
        project=project, credentials=credentials, client_options=options, _http=session
    )


def read_environment_once(session: Session, base_url: str) -> None:
    """Take the environment's proxy and CA-bundle settings for `base_url` now, once. With
    `trust_env` on, requests reads them again on every request (a fifth to a third of the
    client's CPU per call, benchmarks/latency.py at 200 tenants), and ~/.netrc too, whose
    basic auth would replace the token. A session talks to one API: the answer is the same
    each time."""
    settings = session.merge_environment_settings(base_url, {}, None, None, None)
    session.proxies.update(settings["proxies"])
    session.verify = settings["verify"]
    session.trust_env = False


class _RestClient(Protocol):
    def __init__(
        self, *, transport: str, credentials: Credentials | None, client_options: Any
    ) -> None: ...


C = TypeVar("C", bound=_RestClient)


def rest_client(
    kind: type[C],
    api: str,
    endpoint: str | None = None,
    *,
    credentials: Credentials | None = None,
    scopes: Sequence[str] = CLOUD_PLATFORM,
) -> C:
    """A generated client (`kind`, e.g. dlp_v2.DlpServiceClient) over REST; `credentials`
    given are used as they are."""
    if credentials is None:
        credentials = credentials_for(api, endpoint, scopes=scopes)
    elif endpoint is not None:
        check_endpoint(endpoint, api)
    options = {"api_endpoint": endpoint} if endpoint is not None else {}
    return kind(transport="rest", credentials=credentials, client_options=options)


def dlp_client(endpoint: str | None = None) -> dlp_v2.DlpServiceClient:
    """A DLP client over REST. Its requests carry table values: the bodies the Google
    libraries log at DEBUG are replaced first (see hide_logged_bodies)."""
    hide_logged_bodies()
    return rest_client(dlp_v2.DlpServiceClient, "the DLP API", endpoint)


def kms_client(endpoint: str | None = None) -> kms_v1.KeyManagementServiceClient:
    """A Cloud KMS client over REST."""
    return rest_client(kms_v1.KeyManagementServiceClient, "Cloud KMS", endpoint, scopes=KMS_SCOPES)


def asset_client(
    endpoint: str | None = None, credentials: Credentials | None = None
) -> asset_v1.AssetServiceClient:
    """A Cloud Asset Inventory client over REST."""
    return rest_client(
        asset_v1.AssetServiceClient, "Cloud Asset Inventory", endpoint, credentials=credentials
    )


def authorized_session(credentials: Credentials) -> AuthorizedSession:
    """A requests session that adds the credentials' token (APIs called as plain REST). It
    reads the environment on every request, as it talks to more than one host."""
    return AuthorizedSession(credentials)  # type: ignore[no-untyped-call]


def widen_pool(session: Any, workers: int) -> None:
    """Keep a connection per worker on `session` (requests keeps 10 per host; the others
    would be opened and closed on every call)."""
    if workers > REQUESTS_POOL:
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=workers)
        for prefix in ("http://", "https://"):
            session.mount(prefix, adapter)


# ---------------------------------------------------------------------------- logging

# Loggers that put HTTP bodies in their DEBUG records: the DLP REST transport (the request
# as JSON) and google-auth's AuthorizedSession (the body, when it is given as bytes).
PAYLOAD_LOGGERS = (
    "google.cloud.dlp_v2.services.dlp_service.transports.rest",
    "google.auth.transport.requests",
)
OMITTED = "<omitted by auditor: may hold table values>"


class _DropPayloads(logging.Filter):
    """Replace the request/response bodies the Google libraries log at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key in ("httpRequest", "httpResponse"):
            data = getattr(record, key, None)
            if isinstance(data, dict):
                hidden = {k: OMITTED for k in ("payload", "body") if data.get(k) is not None}
                setattr(record, key, {**data, **hidden})
        return True


def hide_logged_bodies() -> None:
    """Add a filter to PAYLOAD_LOGGERS that replaces the bodies of their records (for every
    client that uses them, which only hides data)."""
    for name in PAYLOAD_LOGGERS:
        payload_logger = logging.getLogger(name)
        if not any(isinstance(f, _DropPayloads) for f in payload_logger.filters):
            payload_logger.addFilter(_DropPayloads())
