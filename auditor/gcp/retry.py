"""The retry policy of every Google API call: what is worth another try, how long to wait,
when to give up.

Built on google.api_core.retry: `call` runs a fetch through `retry_target` (the loop, the
predicate, the deadline, RetryError on a deadline) with waits from
`exponential_sleep_generator`: truncated exponential backoff with full jitter, a wait drawn
from [0, d], d starting at `initial` and multiplied by `multiplier` up to `maximum`. A
policy without jitter waits d itself: jitter spreads callers that retry at the same time
and buys one that reads alone (project IAM, one after another) nothing.

Transient (tried again while attempts and the deadline allow):
- HTTP 429, 500, 502, 503, 504, or an error reason saying the same (BigQuery answers
  rateLimitExceeded with a 403, backendError/internalError with other codes);
- a lost connection, a reset, a transport timeout (requests' ConnectionError, Timeout);
- an answer cut short (ChunkedEncodingError: the body ended before its Content-Length);
- an answer that is not JSON at all (garbled or cut short in transit: requests'
  InvalidJSONError, a protobuf ParseError of text that does not load as JSON, GarbledAnswer).
Permanent (given up at once): every other HTTP status (400, 401, 403, 404, 409, 412 ...), a
request we built wrong (invalid URL or header), credentials refused, a JSON answer of the
wrong shape (MalformedAnswer: the server means it, asking again gives the same), and our own
wait deadlines (TimeoutError).

Bounds: `attempts` tries in all, the first included; `deadline` seconds for all tries of one
call, waits included (no try starts after it; one in flight runs to its own `timeout`); and
`timeout` seconds per HTTP request, which callers pass to each request.

Limits per API (the project's; each module that calls an API uses its own):
- BIGQUERY: 4 attempts, 0.5 s doubling to 8 s, jittered (32 workers retry together), 30 s
  per request. The remediation estate and content scans take these too.
- IAM: 5 attempts, 1 s doubling to 30 s, not jittered (reads go one after another), 60 s.
  Resource Manager and IAM quotas are per minute, so waits are longer.
- DLP: IAM's numbers, jittered (several tables are inspected at once).
- KMS: BigQuery's numbers, 30 s per request.
- HISTORY_SINK: 6 attempts, 1 s doubling to 30 s within a 120 s deadline (what the BigQuery
  client's DEFAULT_RETRY allowed the sink before), 60 s per request.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import requests
from google.api_core import exceptions as api_exceptions
from google.api_core.retry import RetryFailureReason, exponential_sleep_generator
from google.api_core.retry.retry_unary import retry_target
from google.auth import exceptions as auth_exceptions

# No type stubs for protobuf among the allowed packages; only ParseError is used.
from google.protobuf import json_format  # type: ignore[import-untyped]

from auditor.errors import UsageError

__all__ = [
    "BIGQUERY",
    "DLP",
    "HISTORY_SINK",
    "IAM",
    "KMS",
    "QUERY_WAIT_FACTOR",
    "TRANSIENT_CODES",
    "TRANSIENT_REASONS",
    "GarbledAnswer",
    "GaveUp",
    "MalformedAnswer",
    "RetryPolicy",
    "call",
    "is_transient",
]

T = TypeVar("T")

# A query may wait this many times the per-request timeout for its job to finish.
QUERY_WAIT_FACTOR = 4
TRANSIENT_CODES = frozenset({429, 500, 502, 503, 504})
# Error reasons of Google's JSON APIs that mean "try again" whatever the status code.
TRANSIENT_REASONS = frozenset(
    {"rateLimitExceeded", "RATE_LIMIT_EXCEEDED", "backendError", "internalError", "badGateway"}
)
# requests' errors that say the request itself is wrong: asking again cannot help.
_REQUEST_BUILT_WRONG = (
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
    requests.exceptions.URLRequired,
)


# google.api_core.retry logs each retry at DEBUG with the error's text, which can quote what
# the server read (table values, a secret it echoes): its records are reworded without it.
RETRY_LOGGER = "google.api_core.retry"
_QUIET = threading.Lock()


class _WithoutErrorText(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Retrying due to "):
            record.msg = "Retrying a Google API call (its error is not logged: it may quote data)"
            record.args = ()
        return True


def _quiet_retry_logs() -> None:
    """Installed on the first call (not at import), once."""
    retry_logger = logging.getLogger(RETRY_LOGGER)
    if any(isinstance(f, _WithoutErrorText) for f in retry_logger.filters):
        return
    with _QUIET:
        if not any(isinstance(f, _WithoutErrorText) for f in retry_logger.filters):
            retry_logger.addFilter(_WithoutErrorText())


class MalformedAnswer(ValueError):
    """An answer that does not have the shape it must have (permanent)."""


class GarbledAnswer(MalformedAnswer):
    """An answer that is not JSON at all: garbled or cut short in transit (transient)."""


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff (see the module doc)."""

    attempts: int = 4  # tries in all, the first included
    initial: float = 0.5  # seconds: the first wait's ceiling
    maximum: float = 8.0  # seconds: no wait is longer
    multiplier: float = 2.0
    timeout: float = 30.0  # seconds per HTTP request (callers pass it to each request)
    deadline: float | None = None  # seconds for all tries, waits included; None: no bound
    jitter: bool = True  # full jitter (concurrent callers); False: the ceiling itself
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise UsageError("retry attempts must be at least 1")
        if self.initial < 0 or self.maximum < 0 or self.multiplier < 1:
            raise UsageError("backoff must not be negative, its multiplier at least 1")
        if not self.timeout > 0 or (self.deadline is not None and not self.deadline > 0):
            raise UsageError("timeout and deadline must be positive")

    def waits(self) -> Iterator[float]:
        """The waits before the 2nd, 3rd ... tries (endless; attempts bound their use)."""
        if self.jitter:
            yield from exponential_sleep_generator(self.initial, self.maximum, self.multiplier)
            return
        ceiling = min(self.initial, self.maximum)
        while True:
            yield ceiling
            ceiling = min(ceiling * self.multiplier, self.maximum)


BIGQUERY = RetryPolicy()
IAM = RetryPolicy(attempts=5, initial=1.0, maximum=30.0, timeout=60.0, jitter=False)
DLP = RetryPolicy(attempts=5, initial=1.0, maximum=30.0, timeout=60.0)
KMS = RetryPolicy(timeout=30.0)
HISTORY_SINK = RetryPolicy(attempts=6, initial=1.0, maximum=30.0, timeout=60.0, deadline=120.0)


class GaveUp(Exception):
    """A call that failed for good: its last error, the tries made and, when the deadline
    stopped it, that deadline."""

    def __init__(self, error: Exception, attempts: int, deadline: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.attempts = attempts
        self.deadline = deadline

    @property
    def note(self) -> str:
        """What a reason adds: " (gave up after 4 attempts)", "" after one permanent error."""
        if self.deadline is not None:
            tries = f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"
            return f" (gave up after {tries}: the {self.deadline:g} s deadline passed)"
        return f" (gave up after {self.attempts} attempts)" if self.attempts > 1 else ""


def is_transient(error: BaseException) -> bool:
    """True for a failure worth another try (see the module doc)."""
    if isinstance(error, api_exceptions.GoogleAPICallError):
        if error.code in TRANSIENT_CODES:
            return True
        reasons = error.errors or []
        return any(isinstance(e, Mapping) and e.get("reason") in TRANSIENT_REASONS for e in reasons)
    if isinstance(error, MalformedAnswer):
        return isinstance(error, GarbledAnswer)
    if isinstance(error, json_format.ParseError):
        return is_not_json(error)
    if isinstance(error, (TimeoutError, *_REQUEST_BUILT_WRONG)):
        return False  # a wait deadline of ours (queries), or a request built wrong
    # requests' ConnectionError, Timeout, ChunkedEncodingError and InvalidJSONError are
    # OSErrors; google-auth's TransportError is a lost connection while getting a token.
    return isinstance(error, OSError | auth_exceptions.TransportError)


def is_not_json(error: json_format.ParseError) -> bool:
    """A ParseError of text that does not load as JSON at all (protobuf raises it `from`
    the JSON decoder's ValueError), not of JSON with the wrong fields."""
    return isinstance(error.__cause__, ValueError)


def call(
    fetch: Callable[[], T],
    policy: RetryPolicy,
    *,
    transient: Callable[[BaseException], bool] = is_transient,
    on_retry: Callable[[Exception], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """fetch(), tried again while `transient(error)`, attempts remain and the deadline
    allows. Raises GaveUp with the last error (every failure: never another exception)."""
    _quiet_retry_logs()
    tries = 0
    started = clock()

    def target() -> T:
        nonlocal tries
        tries += 1
        return fetch()

    def retryable(error: Exception) -> bool:
        return tries < policy.attempts and transient(error)

    def waits() -> Iterator[float]:
        # The wait happens here, through the policy's sleep (tests pass one that does not
        # wait); retry_target is handed 0 then, or infinity when the wait would end past
        # the deadline, which makes it stop with a RetryError.
        for wait in policy.waits():
            if policy.deadline is not None and clock() - started + wait > policy.deadline:
                yield math.inf
                return
            policy.sleep(wait)
            yield 0.0

    def gave_up(
        errors: list[Exception], reason: RetryFailureReason, _timeout: float | None
    ) -> tuple[Exception, Exception | None]:
        last = errors[-1] if errors else RuntimeError("no try was made")
        deadline = policy.deadline if reason is RetryFailureReason.TIMEOUT else None
        return GaveUp(last, tries, deadline), last

    answer: T = retry_target(
        target,
        retryable,
        waits(),
        timeout=policy.deadline,
        on_error=on_retry,
        exception_factory=gave_up,
    )
    return answer
