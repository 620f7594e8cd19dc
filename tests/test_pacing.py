"""Calls within quotas (auditor.gcp.pacing), and the latency proxy the benchmark uses.
The retry policy's own tests are in test_transport.py."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from google.api_core import exceptions as api_exceptions

from auditor.gcp.pacing import ConcurrencyLimit, Pacer, is_throttle
from tests.support.latencyproxy import LatencyProxy
from tests.support.recorded import RecordedServer

RECORDED_IAM = Path(__file__).parent / "data" / "recorded" / "iam"


def _throttle() -> api_exceptions.GoogleAPICallError:
    return api_exceptions.TooManyRequests("slow down")  # type: ignore[no-untyped-call]


def test_throttles_are_429_or_a_rate_limit_reason() -> None:
    assert is_throttle(_throttle())
    rate_limited = api_exceptions.Forbidden(  # type: ignore[no-untyped-call]
        "Exceeded rate limits", errors=[{"reason": "rateLimitExceeded"}]
    )
    assert is_throttle(rate_limited)
    assert not is_throttle(api_exceptions.Forbidden("no"))  # type: ignore[no-untyped-call]
    assert not is_throttle(ConnectionError("reset"))


def test_concurrency_halves_on_a_throttle_and_grows_back() -> None:
    limit = ConcurrencyLimit(8)
    for _ in range(3):
        limit.acquire()
        limit.release(throttled=True)
    assert (limit.limit, limit.lowest) == (1, 1)
    limit.acquire()
    limit.release(throttled=True)
    assert limit.limit == 1  # never below one
    grown = []
    for _ in range(1 + 2 + 3):  # `limit` good answers in a row raise it by one
        limit.acquire()
        limit.release(throttled=False)
        grown.append(limit.limit)
    assert grown == [2, 2, 3, 3, 3, 4]
    assert ConcurrencyLimit(1000).maximum == 300  # BigQuery: 300 concurrent per user


def test_concurrency_limit_blocks_the_call_over_the_limit() -> None:
    limit = ConcurrencyLimit(2)
    limit.acquire()
    limit.acquire()
    entered = threading.Event()

    def third() -> None:
        limit.acquire()
        entered.set()

    worker = threading.Thread(target=third)
    worker.start()
    assert not entered.wait(0.2)
    limit.release(throttled=False)
    assert entered.wait(5)
    worker.join()


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))


def test_pacer_spaces_each_method_at_its_documented_rate() -> None:
    clock = FakeClock()
    pacer = Pacer(32, clock=clock, sleep=clock.sleep)
    for method in ("tables.get", "tables.get", "tables.get", "datasets.get", "jobs.get"):
        with pacer.slot(method):
            pass
    # 100 per second per method: the 2nd and 3rd tables.get wait 10 and 20 ms (no time
    # passes on this clock); datasets.get and jobs.get are paced on their own.
    assert clock.slept == [0.01, 0.02]
    assert pacer.stats.calls == {"datasets.get": 1, "jobs.get": 1, "tables.get": 3}
    clock.now += 1.0
    with pacer.slot("tables.get"):
        pass
    assert clock.slept == [0.01, 0.02]  # its turn had come


def test_pacer_counts_throttles_and_lowers_concurrency() -> None:
    pacer = Pacer(16)
    with pytest.raises(api_exceptions.TooManyRequests), pacer.slot("tables.get"):
        raise _throttle()
    with pytest.raises(api_exceptions.Forbidden), pacer.slot("tables.get"):
        raise api_exceptions.Forbidden("no")  # type: ignore[no-untyped-call]
    stats = pacer.stats
    assert (stats.throttled, stats.concurrency, stats.lowest_concurrency) == (1, 16, 8)


# ----------------------------------------------------------------------------- the proxy


def test_latency_proxy_holds_every_request_and_forwards_it() -> None:
    with (
        RecordedServer(RECORDED_IAM) as upstream,
        LatencyProxy(upstream.url, latency=0.15, jitter=0.05, seed=3) as proxy,
    ):
        started = time.perf_counter()
        with urllib.request.urlopen(f"{proxy.url}/v3/projects/gac-prod-471220") as answer:
            body = answer.read()
        elapsed = time.perf_counter() - started
        recorded = json.loads((RECORDED_IAM / "resourcemanager" / "projects.get.json").read_text())
        assert json.loads(body) == recorded["response"]["body"]
        assert elapsed >= 0.10  # 150 ms - 50 ms at least
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"{proxy.url}/v3/projects/nope")
        assert missing.value.code == 404  # answers pass through unchanged
        assert proxy.requests == 2
        assert 0.2 <= proxy.delayed_seconds <= 0.4
        assert [r.path for r in upstream.requests] == [
            "/v3/projects/gac-prod-471220",
            "/v3/projects/nope",
        ]


def test_latency_proxy_jitter_is_reproducible_and_bounded() -> None:
    holds = []
    for _ in range(2):
        proxy = LatencyProxy("http://127.0.0.1:9", latency=0.08, jitter=0.02, seed=7)
        holds.append([proxy.delay() for _ in range(200)])
    assert holds[0] == holds[1]
    assert all(0.06 <= h <= 0.10 for h in holds[0])
    assert 0.075 < sum(holds[0]) / 200 < 0.085
    with pytest.raises(ValueError):
        LatencyProxy("http://127.0.0.1:9", latency=-1)
