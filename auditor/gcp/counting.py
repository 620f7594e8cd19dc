"""Counting the HTTP requests a client sends, per API method.

`counting(session)` wraps a requests session once (shared by every block counting on it)
and counts, while the block runs, each request under the method it calls, named from its
HTTP verb and path by `namer` (default `method_name`: BigQuery's REST methods, e.g.
datasets.get, tables.list, jobs.query). Retries, pagination and query polling are counted;
credential refreshes use their own transport and are not.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

_PROJECT = r"/bigquery/v2/projects/[^/]+"
# (verb, path pattern, method name): the first match names the request.
_METHODS = tuple(
    (verb, re.compile(_PROJECT + pattern + r"$"), name)
    for verb, pattern, name in (
        ("GET", r"/datasets", "datasets.list"),
        ("GET", r"/datasets/[^/]+", "datasets.get"),
        ("GET", r"/datasets/[^/]+/tables", "tables.list"),
        ("GET", r"/datasets/[^/]+/tables/[^/:]+", "tables.get"),
        ("POST", r"/datasets/[^/]+/tables/[^/:]+:getIamPolicy", "tables.getIamPolicy"),
        ("GET", r"/datasets/[^/]+/tables/[^/:]+/data", "tabledata.list"),
        ("POST", r"/queries", "jobs.query"),
        ("GET", r"/queries/[^/]+", "jobs.getQueryResults"),
        ("POST", r"/jobs", "jobs.insert"),
        ("GET", r"/jobs/[^/]+", "jobs.get"),
    )
)


Namer = Callable[[str, str], str]  # (HTTP verb, URL) -> method name


def method_name(verb: str, url: str) -> str:
    """The BigQuery REST method a request calls ("other" when unknown)."""
    path = urlsplit(url).path
    for want, pattern, name in _METHODS:
        if verb.upper() == want and pattern.search(path):
            return name
    return "other"


class CallCount:
    """Requests counted per method while a counting() block runs."""

    def __init__(self) -> None:
        self.methods: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.methods.values())


class _RequestTap:
    """Wraps a requests session's `request` once; counts into every active CallCount."""

    ATTRIBUTE = "_auditor_request_tap"

    def __init__(self, session: Any, namer: Namer) -> None:
        self._lock = threading.Lock()
        self._counts: list[CallCount] = []
        original = session.request

        def request(*args: Any, **kwargs: Any) -> Any:
            # requests' (method, url, ...), positional or by keyword (google-cloud-core).
            verb = kwargs.get("method", args[0] if args else "")
            url = kwargs.get("url", args[1] if len(args) > 1 else "")
            name = namer(str(verb), str(url))
            with self._lock:
                for count in self._counts:
                    count.methods[name] += 1
            return original(*args, **kwargs)

        setattr(session, "request", request)  # noqa: B010  (shadowing a method on purpose)

    def add(self, count: CallCount) -> None:
        with self._lock:
            self._counts.append(count)

    def remove(self, count: CallCount) -> None:
        with self._lock:
            self._counts.remove(count)


_TAP_LOCK = threading.Lock()


@contextmanager
def counting(session: Any, namer: Namer = method_name) -> Iterator[CallCount]:
    """Count the HTTP requests sent through `session` while the block runs (all threads).
    A session is tapped once, with the namer of its first count."""
    with _TAP_LOCK:
        tap = getattr(session, _RequestTap.ATTRIBUTE, None)
        if not isinstance(tap, _RequestTap):
            tap = _RequestTap(session, namer)
            setattr(session, _RequestTap.ATTRIBUTE, tap)
    count = CallCount()
    tap.add(count)
    try:
        yield count
    finally:
        tap.remove(count)
