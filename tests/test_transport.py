"""The retry policy every Google API call goes through (auditor.gcp), over real HTTP.

The real client libraries - google-cloud-bigquery (its JSON connection) and a generated
client over REST (Resource Manager) - talk to recorded answers (tests/support/recorded.py)
through the fault proxy (tests/support/faultproxy.py), which breaks requests on the wire:
Google error answers, resets, stalls past the client's timeout, bodies cut short, bodies
that are not JSON. What is checked is what reaches the proxy (how many tries) and what the
caller gets back (the answer, or GaveUp / CallFailed with its wording):

- transient failures are tried again and the answer comes through; permanent ones are
  given up at once;
- answers cut short or not JSON are transient, JSON of the wrong shape is not;
- attempts are bounded; a deadline stops the retries;
- 429 halves the concurrency and good answers bring it back;
- reasons never hold the server's text where it may quote data, nor its echo in logs.
"""

from __future__ import annotations

import http.server
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.auth.transport.requests import AuthorizedSession
from google.cloud import bigquery, resourcemanager_v3

# No type stubs for protobuf among the allowed packages; only ParseError is used.
from google.protobuf import json_format  # type: ignore[import-untyped]

from auditor.content.dlp import inspect_sample, make_dlp_client
from auditor.content.sample import SampledRows
from auditor.errors import UsageError
from auditor.gcp import retry
from auditor.gcp.calls import Caller, CallFailed
from auditor.gcp.clients import NO_RETRY, bigquery_client, rest_client
from auditor.gcp.counting import counting
from auditor.gcp.pacing import Pacer
from auditor.gcp.retry import GarbledAnswer, GaveUp, MalformedAnswer, RetryPolicy, is_transient
from auditor.gcp.session import LeanSession
from auditor.gcp.wording import ServerText, describe
from tests.support.background import BackgroundServer, QuietServer
from tests.support.faultproxy import FaultProxy, google_error
from tests.support.latencyproxy import LatencyProxy
from tests.support.recorded import RecordedServer

DATA = Path(__file__).parent / "data" / "recorded"
P = "gac-prod-471220"
DATASET_PATH = rf"^/bigquery/v2/projects/{P}/datasets/tenant_a$"
DATASET = {
    "kind": "bigquery#dataset",
    "id": f"{P}:tenant_a",
    "datasetReference": {"projectId": P, "datasetId": "tenant_a"},
    "location": "US",
    "etag": "ZXRhZw==",
}
PROJECT_PATH = rf"^/v3/projects/{P}$"
TIMEOUT = 0.5  # per request: the recorded server answers in milliseconds
STALL = 0.9  # a stalled request outlasts it
# No waiting between tries in these tests (the waits themselves are checked apart).
FAST = RetryPolicy(attempts=4, initial=0.0, timeout=TIMEOUT)
TRANSIENT_KINDS = ("429", "500", "503", "reset", "truncated", "malformed", "timeout")


@pytest.fixture(scope="module")
def recorded() -> Iterator[RecordedServer]:
    with RecordedServer(DATA / "iam") as server:
        yield server


@pytest.fixture
def server(recorded: RecordedServer) -> Iterator[RecordedServer]:
    recorded.reset()
    recorded.answer("GET", DATASET_PATH, body=DATASET)
    yield recorded
    recorded.reset()


@pytest.fixture
def proxy(server: RecordedServer) -> Iterator[FaultProxy]:
    with FaultProxy(server.url) as faults:
        faults.stall_seconds = STALL
        yield faults


@dataclass
class Api:
    """One real client library and the request it sends."""

    name: str
    method: str
    path: str
    fetch: Callable[[str, float], Any]  # (endpoint, timeout) -> a comparable answer


def _get_dataset(endpoint: str, timeout: float) -> Any:
    client = bigquery_client(P, endpoint)
    ref = bigquery.DatasetReference(P, "tenant_a")
    return client.get_dataset(ref, retry=NO_RETRY, timeout=timeout)._properties


def _get_project(endpoint: str, timeout: float) -> Any:
    client = rest_client(resourcemanager_v3.ProjectsClient, "Resource Manager", endpoint)
    found = client.get_project(name=f"projects/{P}", retry=NO_RETRY, timeout=timeout)
    return (found.name, found.parent)


APIS = [
    Api("bigquery", "GET", DATASET_PATH, _get_dataset),
    Api("rest", "GET", PROJECT_PATH, _get_project),
]
CLEAN = {"bigquery": DATASET, "rest": ("projects/612345678901", "folders/615723004981")}


def run(api: Api, proxy: FaultProxy, policy: RetryPolicy = FAST) -> tuple[Any, list[Exception]]:
    """The answer through the proxy under `policy`, and the errors that were retried."""
    retried: list[Exception] = []
    fetch = lambda: api.fetch(proxy.url, policy.timeout)  # noqa: E731
    return retry.call(fetch, policy, on_retry=retried.append), retried


def given_up(api: Api, proxy: FaultProxy, policy: RetryPolicy = FAST) -> GaveUp:
    with pytest.raises(GaveUp) as gave_up:
        run(api, proxy, policy)
    return gave_up.value


# ----------------------------------------------------------------------------- transient


@pytest.mark.parametrize("api", APIS, ids=lambda a: a.name)
@pytest.mark.parametrize("kind", TRANSIENT_KINDS)
def test_a_transient_failure_is_tried_again_and_the_answer_comes_through(
    api: Api, proxy: FaultProxy, kind: str
) -> None:
    proxy.inject(api.method, api.path, kind, times=2)
    answer, retried = run(api, proxy)
    assert answer == CLEAN[api.name]
    assert [fault for *_, fault in proxy.faulted] == [kind, kind]
    assert proxy.count(api.method, api.path) == 3
    assert len(retried) == 2 and all(is_transient(e) for e in retried)


@pytest.mark.parametrize("api", APIS, ids=lambda a: a.name)
@pytest.mark.parametrize("status", [502, 504])
def test_bad_gateway_and_gateway_timeout_are_transient(
    api: Api, proxy: FaultProxy, status: int
) -> None:
    proxy.fail(api.method, api.path, status, google_error(status, "upstream"), times=1)
    assert run(api, proxy)[0] == CLEAN[api.name]
    assert proxy.count(api.method, api.path) == 2


def test_a_throttle_answered_as_403_is_transient(proxy: FaultProxy) -> None:
    # BigQuery answers "too many requests" as 403 with reason rateLimitExceeded.
    body = google_error(403, "Exceeded rate limits", reason="rateLimitExceeded")
    proxy.fail("GET", DATASET_PATH, 403, body, times=1)
    assert run(APIS[0], proxy)[0] == DATASET
    assert proxy.count("GET", DATASET_PATH) == 2


# ----------------------------------------------------------------------------- permanent


@pytest.mark.parametrize("api", APIS, ids=lambda a: a.name)
@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, api_exceptions.BadRequest),
        # On 401 the session refreshes the credentials first: anonymous ones cannot be.
        (401, (api_exceptions.Unauthorized, auth_exceptions.InvalidOperation)),
        (403, api_exceptions.Forbidden),
        (404, api_exceptions.NotFound),
        (409, api_exceptions.Conflict),
        (412, api_exceptions.PreconditionFailed),
    ],
)
def test_a_permanent_failure_is_given_up_at_once(
    api: Api, proxy: FaultProxy, status: int, error: type[Exception] | tuple[type[Exception], ...]
) -> None:
    proxy.fail(api.method, api.path, status, google_error(status, "no"))
    gave_up = given_up(api, proxy)
    assert isinstance(gave_up.error, error)
    assert (gave_up.attempts, gave_up.note, proxy.count(api.method, api.path)) == (1, "", 1)


def test_json_of_the_wrong_shape_is_permanent_but_text_that_is_not_json_is_not(
    server: RecordedServer, proxy: FaultProxy
) -> None:
    rest = APIS[1]
    server.answer("GET", PROJECT_PATH, body={"name": 7}, times=1)  # JSON, not a Project
    gave_up = given_up(rest, proxy)
    assert isinstance(gave_up.error, json_format.ParseError)
    assert (gave_up.attempts, proxy.count("GET", PROJECT_PATH)) == (1, 1)
    assert not is_transient(gave_up.error)
    assert describe(gave_up.error).startswith("malformed answer: Failed to parse name field")
    server.answer("GET", PROJECT_PATH, text="<html>busy</html>")  # garbled: tried again
    gave_up = given_up(rest, proxy)
    assert isinstance(gave_up.error, json_format.ParseError) and is_transient(gave_up.error)
    assert (gave_up.attempts, proxy.count("GET", PROJECT_PATH)) == (4, 5)
    assert describe(gave_up.error).startswith("malformed answer: not JSON (Expecting value")


def test_an_answer_the_caller_cannot_read_is_given_up_at_once(proxy: FaultProxy) -> None:
    caller = Caller(FAST)

    def convert(raw: Any) -> str:
        raise MalformedAnswer(f"dataset {raw['id']} has no access list")

    with pytest.raises(CallFailed) as failed:
        caller.read(lambda: _get_dataset(proxy.url, TIMEOUT), convert)
    assert failed.value.reason == f"malformed answer: dataset {P}:tenant_a has no access list"
    assert proxy.count("GET", DATASET_PATH) == 1  # the conversion is not retried


def test_a_request_built_wrong_and_our_own_deadlines_are_not_retried() -> None:
    assert not is_transient(requests.exceptions.InvalidURL("http://"))
    assert not is_transient(TimeoutError())  # a query's wait deadline
    assert not is_transient(MalformedAnswer("no schema"))
    assert is_transient(GarbledAnswer("not JSON"))
    assert is_transient(ConnectionResetError(104, "reset"))


def test_call_retries_what_its_predicate_calls_transient() -> None:
    """The loop itself, without HTTP: the errors retried, then the answer; GaveUp with the
    last error after the attempts, or at once for a permanent error."""
    errors = [
        api_exceptions.TooManyRequests("slow down"),  # type: ignore[no-untyped-call]
        api_exceptions.ServiceUnavailable("busy"),  # type: ignore[no-untyped-call]
    ]
    seen: list[Exception] = []

    def fetch() -> str:
        if errors:
            raise errors.pop(0)
        return "answer"

    policy = RetryPolicy(attempts=3, initial=0.0)
    assert retry.call(fetch, policy, on_retry=seen.append) == "answer"
    assert [type(e).__name__ for e in seen] == ["TooManyRequests", "ServiceUnavailable"]
    tries = 0

    def busy() -> None:
        nonlocal tries
        tries += 1
        raise api_exceptions.ServiceUnavailable("busy")  # type: ignore[no-untyped-call]

    with pytest.raises(GaveUp) as gave_up:
        retry.call(busy, policy)
    assert (gave_up.value.attempts, tries) == (3, 3)
    assert isinstance(gave_up.value.error, api_exceptions.ServiceUnavailable)
    with pytest.raises(GaveUp) as gave_up:
        retry.call(busy, policy, transient=lambda _: False)
    assert (gave_up.value.attempts, tries) == (1, 4)


# ----------------------------------------------------------------------------- bounds


@pytest.mark.parametrize("api", APIS, ids=lambda a: a.name)
@pytest.mark.parametrize("kind", ["503", "reset", "truncated", "timeout"])
def test_attempts_are_bounded(api: Api, proxy: FaultProxy, kind: str) -> None:
    proxy.inject(api.method, api.path, kind)
    gave_up = given_up(api, proxy, replace(FAST, attempts=3))
    assert (gave_up.attempts, proxy.count(api.method, api.path)) == (3, 3)
    assert gave_up.note == " (gave up after 3 attempts)"
    assert gave_up.deadline is None


def test_a_transport_timeout_is_worded_as_one(proxy: FaultProxy) -> None:
    proxy.inject("GET", DATASET_PATH, "timeout")
    caller = Caller(replace(FAST, attempts=2))
    with pytest.raises(CallFailed) as failed:
        caller(lambda: _get_dataset(proxy.url, TIMEOUT))
    assert failed.value.reason.startswith("timeout (ReadTimeout: ")
    assert failed.value.reason.endswith(f"(read timeout={TIMEOUT})) (gave up after 2 attempts)")


class Clock:
    """Time that passes only when the policy waits."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


def test_a_deadline_stops_the_retries_before_a_wait_that_would_pass_it(
    proxy: FaultProxy,
) -> None:
    proxy.inject("GET", DATASET_PATH, "503")
    clock = Clock()
    policy = RetryPolicy(
        attempts=10, initial=1.0, multiplier=2.0, deadline=5.0, jitter=False, sleep=clock.sleep
    )
    with pytest.raises(GaveUp) as gave_up:
        retry.call(lambda: _get_dataset(proxy.url, TIMEOUT), policy, clock=clock)
    # Waits 1 and 2 fit in 5 s; the next (4) would end at 7: no 4th try.
    assert clock.waits == [1.0, 2.0]
    assert proxy.count("GET", DATASET_PATH) == 3
    assert isinstance(gave_up.value.error, api_exceptions.ServiceUnavailable)
    assert gave_up.value.note == " (gave up after 3 attempts: the 5 s deadline passed)"


def test_waits_double_up_to_the_maximum_with_or_without_jitter() -> None:
    steady = RetryPolicy(initial=1.0, maximum=5.0, jitter=False).waits()
    assert [next(steady) for _ in range(5)] == [1.0, 2.0, 4.0, 5.0, 5.0]
    jittered = RetryPolicy(initial=1.0, maximum=5.0).waits()
    drawn = [next(jittered) for _ in range(200)]
    ceilings = [1.0, 2.0, 4.0] + [5.0] * 197
    assert all(0.0 <= w <= c for w, c in zip(drawn, ceilings, strict=True))
    assert len(set(drawn)) > 100  # drawn, not fixed


def test_the_limits_per_api_and_invalid_policies() -> None:
    bigquery_limits = (retry.BIGQUERY.attempts, retry.BIGQUERY.maximum, retry.BIGQUERY.jitter)
    assert bigquery_limits == (4, 8.0, True)
    assert (retry.IAM.attempts, retry.IAM.initial, retry.IAM.jitter) == (5, 1.0, False)
    assert (retry.HISTORY_SINK.deadline, retry.DLP.jitter) == (120.0, True)
    for bad in ({"attempts": 0}, {"initial": -1.0}, {"timeout": 0.0}, {"deadline": 0.0}):
        with pytest.raises(UsageError):
            RetryPolicy(**bad)


def test_retries_are_counted_per_method(proxy: FaultProxy) -> None:
    client = bigquery_client(P, proxy.url)
    ref = bigquery.DatasetReference(P, "tenant_a")
    proxy.inject("GET", DATASET_PATH, "429", times=2)
    with counting(client._http) as counted:
        retry.call(lambda: client.get_dataset(ref, retry=NO_RETRY, timeout=TIMEOUT), FAST)
    assert dict(counted.methods) == {"datasets.get": 3}


# ----------------------------------------------------------------------------- 429


def test_429_halves_the_concurrency_and_good_answers_bring_it_back(
    server: RecordedServer,
) -> None:
    throttle = google_error(429, "Too many requests", reason="rateLimitExceeded")
    with (
        LatencyProxy(server.url, latency=0.15, jitter=0.0, seed=1) as slow,
        FaultProxy(slow.url) as proxy,
    ):
        pacer = Pacer(8)
        caller = Caller(FAST, pacer=pacer)
        in_flight = 0
        most = 0
        lock = threading.Lock()

        def get() -> Any:
            nonlocal in_flight, most
            with lock:
                in_flight += 1
                most = max(most, in_flight)
            try:
                return _get_dataset(proxy.url, 5.0)
            finally:
                with lock:
                    in_flight -= 1

        proxy.fail("GET", DATASET_PATH, 429, throttle, times=2)
        # 429 twice (the limit halves each time), then the answer.
        assert caller(get, method="datasets.get") == DATASET
        stats = pacer.stats
        assert (stats.throttled, stats.lowest_concurrency, stats.limit) == (2, 2, 2)
        most = 0
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(lambda _: caller(get, method="datasets.get"), range(8)))
        assert answers == [DATASET] * 8
        # 8 threads, never more than the limit in flight: 2, +1 after 2 good answers (3),
        # +1 after 3 more (4), +1 after 4 more (5), when none is left to send.
        assert 2 <= most <= 4
        while pacer.stats.limit < 8:  # `limit` good answers in a row add one
            caller(get, method="datasets.get")
        stats = pacer.stats
        assert (stats.throttled, stats.concurrency, stats.limit) == (2, 8, 8)
        assert proxy.count("GET", DATASET_PATH) == sum(stats.calls.values())


# ----------------------------------------------------------------------------- wording


def test_the_server_text_is_withheld_where_it_may_quote_data(proxy: FaultProxy) -> None:
    secret = "tok_FAKE_5f2b9c0e7d41a3"
    quoted = f"cannot parse value '{secret}' in column token"
    proxy.fail("GET", DATASET_PATH, 400, google_error(400, quoted, reason="invalid"))
    withheld = Caller(FAST, server_text=ServerText.WITHHELD)
    with pytest.raises(CallFailed) as failed:
        withheld(lambda: _get_dataset(proxy.url, TIMEOUT))
    assert failed.value.reason == (
        "400 Bad Request (invalid); message withheld: it may quote table data"
    )
    shown = Caller(FAST, scrub=lambda text: text.replace(secret, "tok_…"))
    with pytest.raises(CallFailed) as failed:
        shown(lambda: _get_dataset(proxy.url, TIMEOUT))
    assert failed.value.reason == "400 Bad Request: cannot parse value 'tok_…' in column token"


def test_a_retried_error_is_not_logged_with_its_text(
    proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    echo = "bad cell Bearer eyJhbGciOiJIUzI1NiJ9.FAKE.c2lnbmF0dXJl"
    proxy.fail("GET", DATASET_PATH, 503, google_error(503, echo), times=1)
    with caplog.at_level(logging.DEBUG):
        assert run(APIS[0], proxy)[0] == DATASET
    retried = [r for r in caplog.records if r.name == retry.RETRY_LOGGER]
    assert [r.getMessage() for r in retried] == [
        "Retrying a Google API call (its error is not logged: it may quote data)"
    ]
    assert "FAKE" not in caplog.text


# ----------------------------------------------------------------------------- DLP


def test_dlp_retries_an_answer_cut_short(recorded: RecordedServer) -> None:
    """DLP's own loop used to give up on a truncated answer: it is transient now, as for
    every other API."""
    rows = SampledRows(
        f"//bigquery.googleapis.com/projects/{P}/datasets/acme_corp/tables/x_meta_step_logs",
        ("line",),
        (("plain text",),),
        10,
    )
    with RecordedServer(DATA / "dlp") as dlp, FaultProxy(dlp.url) as proxy:
        dlp.answer("POST", r"/content:inspect$", body={"result": {}})
        proxy.inject("POST", r"/content:inspect$", "truncated", times=1)
        client = make_dlp_client(proxy.url)
        result = inspect_sample(client, P, rows, retries=replace(retry.DLP, initial=0.0))
    assert (result.gaps, result.requests, result.hits) == ((), 2, ())
    assert proxy.count("POST", r"/content:inspect$") == 2


# ------------------------------------------------------------------ proxy environment


@dataclass(frozen=True)
class _Request:
    """A request as a _Recorder saw it: its request line, method, raw target (the absolute
    URL, when sent to a forward proxy), headers (names in lower case) and body."""

    line: str
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


class _Recorder(BackgroundServer):
    """Answers every request itself, as an API or as an HTTP forward proxy: `answer` as JSON,
    or a 302 to /elsewhere for /moved. Records each request."""

    def __init__(self, answer: Any) -> None:
        self.answer = json.dumps(answer).encode()
        self.seen: list[_Request] = []

    def _make_server(self) -> http.server.ThreadingHTTPServer:
        recorder = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def respond(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = tuple(sorted((k.lower(), v) for k, v in self.headers.items()))
                seen = _Request(self.requestline, self.command, self.path, headers, body)
                recorder.seen.append(seen)
                moved = self.path.startswith("/moved")
                answer = b"" if moved else recorder.answer
                self.send_response(302 if moved else 200)
                if moved:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = respond

            def log_message(self, *args: Any) -> None:
                pass

        return QuietServer(("127.0.0.1", 0), Handler)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def forward_proxy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[_Recorder]:
    """A forward proxy that answers DATASET itself, named by HTTP_PROXY."""
    for name in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password hunter2\n")
    monkeypatch.setenv("NETRC", str(netrc))
    with _Recorder(DATASET) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        yield proxy


def test_the_proxy_environment_is_read_once_when_the_client_is_built(
    forward_proxy: _Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"  # nothing listens: only the proxy answers
    client = bigquery_client(P, endpoint)
    monkeypatch.delenv("HTTP_PROXY")  # later changes do not reach a built client
    ref = bigquery.DatasetReference(P, "tenant_a")
    assert client.get_dataset(ref, retry=NO_RETRY, timeout=5)._properties == DATASET
    [seen] = forward_proxy.seen
    path = f"/bigquery/v2/projects/{P}/datasets/tenant_a?prettyPrint=false"
    assert seen.line == f"GET {endpoint}{path} HTTP/1.1"
    # ~/.netrc (here $NETRC) is not read: its basic auth would replace a token.
    assert "authorization" not in dict(seen.headers)


def test_no_proxy_for_the_endpoint_is_honoured(
    forward_proxy: _Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    client = bigquery_client(P, f"http://127.0.0.1:{_closed_port()}")
    with pytest.raises(requests.ConnectionError):
        client.get_dataset(bigquery.DatasetReference(P, "tenant_a"), retry=NO_RETRY, timeout=5)
    assert forward_proxy.seen == []


def test_a_ca_bundle_from_the_environment_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/our-ca.pem")
    client = bigquery_client(P, "https://bigquery.example.test")
    assert (client._http.verify, client._http.trust_env) == ("/etc/ssl/certs/our-ca.pem", False)
    assert isinstance(client._http, LeanSession)


# ------------------------------------------------------------------ the lean session


@pytest.fixture
def echo() -> Iterator[_Recorder]:
    with _Recorder({"ok": True}) as server:
        yield server


# (method, path and query as a Google client builds them, body, extra headers)
CALLS = [
    ("GET", f"/bigquery/v2/projects/{P}/datasets/d/tables/t?prettyPrint=false", None, {}),
    ("GET", f"/bigquery/v2/projects/{P}/datasets/d/tables/a b\"'<x>`|{{}}^", None, {}),
    ("GET", "/v1/groups:lookup?groupKey.id=a%40example.com&view=FULL", None, {}),
    ("POST", f"/bigquery/v2/projects/{P}/queries", b'{"query": "SELECT 1"}',
     {"Content-Type": "application/json"}),
    ("POST", "/v1/x:getIamPolicy", "", {}),
    ("GET", f"/bigquery/v2/projects/{P}/datasets/d/tables/caf\u00e9", None, {}),  # not ASCII
]  # fmt: skip


def test_the_lean_session_sends_what_requests_sends(
    echo: _Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every call reaches the server byte for byte as requests' own path sends it; only the
    call whose URL is not ASCII goes through requests.Session.request."""
    through_requests: list[str] = []
    original = requests.Session.request

    def spy(self: requests.Session, method: str, url: str, **kwargs: Any) -> Any:
        through_requests.append(f"{type(self).__name__} {url.removeprefix(echo.url)}")
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    for kind in (AuthorizedSession, LeanSession):
        session = kind(AnonymousCredentials())
        session.trust_env = False
        for method, path, body, headers in CALLS:
            answer = session.request(
                method, echo.url + path, data=body, headers={"X-Goog-Api-Client": "t", **headers}
            )
            assert (answer.status_code, answer.json()) == (200, {"ok": True})
    assert echo.seen[: len(CALLS)] == echo.seen[len(CALLS) :]
    assert [seen.path for seen in echo.seen[:2]] == [
        f"/bigquery/v2/projects/{P}/datasets/d/tables/t?prettyPrint=false",
        f"/bigquery/v2/projects/{P}/datasets/d/tables/a%20b%22'%3Cx%3E%60%7C%7B%7D%5E",
    ]
    assert through_requests == [f"AuthorizedSession {path}" for _, path, _, _ in CALLS] + [
        f"LeanSession {CALLS[-1][1]}"
    ]


def test_the_lean_session_takes_requests_path_for_what_it_leaves_out(
    echo: _Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Query params, a session that reads the environment, a redirect: requests' path, which
    follows the redirect; the plain path returns it as it is."""
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)  # the environment is read below: no proxy
    session = LeanSession(AnonymousCredentials())
    session.trust_env = False
    moved = session.request("GET", f"{echo.url}/moved")
    assert (moved.status_code, moved.headers["Location"]) == (302, "/elsewhere")
    assert [seen.path for seen in echo.seen] == ["/moved"]
    assert session.request("GET", f"{echo.url}/q", params={"a": "b c"}).json() == {"ok": True}
    session.trust_env = True
    followed = session.request("GET", f"{echo.url}/moved")
    assert followed.status_code == 200
    assert [seen.path for seen in echo.seen] == ["/moved", "/q?a=b+c", "/moved", "/elsewhere"]
