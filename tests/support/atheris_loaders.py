"""Coverage-guided fuzzing of the text loaders with atheris (optional; not run by the suite).

atheris is not a dependency: install it into any Python 3.11 environment (its wheel needs no
compiler) and put that environment's site-packages on PYTHONPATH, then:

    PYTHONPATH=/path/to/site-packages .venv/bin/python tests/support/atheris_loaders.py -runs=50000

The oracle is tests/test_fuzz_loaders.py's: a loader returns, or raises InputError naming the
input; any other exception is a crash that atheris reports with the input that caused it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import atheris

with atheris.instrument_imports():
    from auditor.config import parse_config
    from auditor.errors import InputError
    from auditor.io.yamlpos import load_yaml
    from auditor.remediate.planfile import load_plan
    from auditor.report.reader import report_from_json
    from auditor.sources.snapshot.read import load_snapshot
    from auditor.sources.sqldocs import parse_sql_doc
    from auditor.sources.templates import parse_template

NAME = "fuzzed"
BASE = Path.cwd()

# Loaders that refuse bad input with InputError.
RAISING: tuple[Callable[[str], Any], ...] = (
    lambda text: load_yaml(text, NAME),
    lambda text: parse_config(text, NAME, BASE),
    lambda text: load_snapshot(text, NAME),
    lambda text: load_plan(text, NAME),
    lambda text: report_from_json(text, NAME),
)
# Loaders that report bad input as Problems and never raise.
REPORTING: tuple[Callable[[str], Any], ...] = (
    lambda text: parse_template(text, NAME),
    lambda text: parse_sql_doc(text, NAME),
)


def one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    which = provider.ConsumeIntInRange(0, len(RAISING) + len(REPORTING) - 1)
    text = provider.ConsumeUnicodeNoSurrogates(len(data))
    if which >= len(RAISING):
        load = REPORTING[which - len(RAISING)](text)
        assert all(problem.path == NAME for problem in load.problems), load.problems
        return
    try:
        RAISING[which](text)
    except InputError as exc:
        assert exc.path == NAME, exc


if __name__ == "__main__":
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()
