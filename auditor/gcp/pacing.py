"""Calls to Google APIs within their quotas: a rate per API method, and a concurrency limit
that halves on 429 and grows back (the retries themselves are auditor.gcp.retry's).

`Pacer` is shared by every thread of one collection:

- a rate per API method: requests are spaced at most `rate` per second (the documented
  per-user, per-method quotas below); a call waits for its turn before it is sent;
- a concurrency limit (additive increase, multiplicative decrease): at most `limit` calls in
  flight, starting at the configured maximum (never above the 300 concurrent requests per user
  BigQuery allows); an answer that says "slow down" (429, or a rateLimitExceeded reason) halves
  the limit, and `limit` answers in a row without one raise it by one again;
- counts: calls sent per method, answers that said slow down, the lowest limit reached.

Quotas, as documented (read 2026-12-07; refresh by re-reading the pages):
- BigQuery API: "Most BigQuery API core methods have a maximum of 100 API requests per user
  per method"; jobs.get has 1,000 per second; at most 300 concurrent API requests per user.
  https://docs.cloud.google.com/bigquery/docs/troubleshoot-quotas (Maximum number of API
  requests limit errors) and https://docs.cloud.google.com/bigquery/quotas#api_request_quotas
- Cloud Asset Inventory: SearchAllIamPolicies 400 per minute per consumer project.
  https://cloud.google.com/asset-inventory/docs/quota
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from google.api_core import exceptions as api_exceptions

# Documented quotas (see the module doc): requests per second per user, per method.
BIGQUERY_METHOD_RATE = 100.0
MAX_CONCURRENT_REQUESTS = 300  # BigQuery: concurrent API requests per user
METHOD_RATES: Mapping[str, float] = {
    "jobs.get": 1000.0,
    "cloudasset.searchAllIamPolicies": 400.0 / 60.0,
}
# Error reasons by which Google APIs say "too many requests" (BigQuery may answer them with
# a 403 rather than a 429).
THROTTLE_REASONS = frozenset({"rateLimitExceeded", "RATE_LIMIT_EXCEEDED"})


def is_throttle(error: BaseException) -> bool:
    """True for an answer asking the caller to slow down."""
    if not isinstance(error, api_exceptions.GoogleAPICallError):
        return False
    if error.code == 429:
        return True
    errors = error.errors or []
    return any(isinstance(e, Mapping) and e.get("reason") in THROTTLE_REASONS for e in errors)


class MethodRate:
    """Spaces the requests of one method at most `per_second` apart (no bursts)."""

    def __init__(self, per_second: float, clock: Callable[[], float]) -> None:
        self._interval = 1.0 / per_second
        self._clock = clock
        self._next = 0.0
        self._lock = threading.Lock()

    def delay(self) -> float:
        """Reserve the next slot; the seconds to wait for it."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self._interval
            return start - now


@dataclass
class ConcurrencyLimit:
    """At most `limit` calls in flight; halved on a throttle, +1 after `limit` good answers."""

    maximum: int
    limit: int = 0
    lowest: int = 0
    in_flight: int = 0
    _good: int = 0
    _condition: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.maximum = max(1, min(self.maximum, MAX_CONCURRENT_REQUESTS))
        self.limit = self.lowest = self.maximum

    def acquire(self) -> None:
        with self._condition:
            while self.in_flight >= self.limit:
                self._condition.wait()
            self.in_flight += 1

    def release(self, throttled: bool) -> None:
        with self._condition:
            self.in_flight -= 1
            if throttled:
                self.limit = max(1, self.limit // 2)
                self.lowest = min(self.lowest, self.limit)
                self._good = 0
            else:
                self._good += 1
                if self._good >= self.limit and self.limit < self.maximum:
                    self.limit += 1
                    self._good = 0
            self._condition.notify_all()


@dataclass(frozen=True)
class PacerStats:
    calls: Mapping[str, int]  # calls sent per method (each try counts)
    throttled: int  # answers that said slow down
    concurrency: int  # the configured maximum in flight
    lowest_concurrency: int  # the lowest limit the throttles brought it to
    rate_wait: float  # seconds calls waited for their method's turn, summed over calls
    limit: int = 0  # the limit now (back at `concurrency` once the throttles are past)


class Pacer:
    """Rate per method and adaptive concurrency for every call of one collection."""

    def __init__(
        self,
        concurrency: int,
        rates: Mapping[str, float] = METHOD_RATES,
        default_rate: float = BIGQUERY_METHOD_RATE,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._limit = ConcurrencyLimit(concurrency)
        self._rates = dict(rates)
        self._default_rate = default_rate
        self._clock = clock
        self._sleep = sleep
        self._methods: dict[str, MethodRate] = {}
        self._lock = threading.Lock()
        self._calls: Counter[str] = Counter()
        self._throttled = 0
        self._rate_wait = 0.0

    def _rate(self, method: str) -> MethodRate:
        with self._lock:
            rate = self._methods.get(method)
            if rate is None:
                per_second = self._rates.get(method, self._default_rate)
                rate = self._methods[method] = MethodRate(per_second, self._clock)
            self._calls[method] += 1
            return rate

    @contextmanager
    def slot(self, method: str) -> Iterator[None]:
        """Wait for this method's turn and a free slot; release it with what the answer said."""
        wait = self._rate(method).delay()
        if wait > 0:
            with self._lock:
                self._rate_wait += wait
            self._sleep(wait)
        self._limit.acquire()
        throttled = False
        try:
            yield
        except Exception as error:
            throttled = is_throttle(error)
            if throttled:
                with self._lock:
                    self._throttled += 1
            raise
        finally:
            self._limit.release(throttled)

    @property
    def stats(self) -> PacerStats:
        with self._lock:
            return PacerStats(
                calls=dict(sorted(self._calls.items())),
                throttled=self._throttled,
                concurrency=self._limit.maximum,
                lowest_concurrency=self._limit.lowest,
                rate_wait=self._rate_wait,
                limit=self._limit.limit,
            )
