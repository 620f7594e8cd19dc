"""The detector catalog: what a credential VALUE looks like, as data, loaded and checked.

The catalog (`catalog.yaml` beside this file) has one entry per kind of secret, with an RE2
pattern, prefilter keywords, optional Python-only refinements (`auditor.detect.validators`),
the matching DLP infoType, a severity and labelled examples. It is compiled three ways:
by Python's `re` (`auditor.detect.values` scans with it); to BigQuery `REGEXP_CONTAINS` (the
scan runs where the data is); and to DLP custom infoTypes. So every pattern must mean the
same in RE2 and in Python: loading checks each with `auditor.detect.re2compat`, compiles it
with `re.ASCII` (so `\\b`, `\\s`, `\\w` and `\\d` mean what they mean in RE2) and refuses the
file, naming its line, on any problem.

Examples in the catalog and rows of the labelled corpus may contain `EXAMPLE_SPLIT`
(`{{}}`) inside token-shaped literals so that repository secret scanners do not flag
them; `join_example` removes it, and the loader does so for examples. Apart from the
scanner: this module says what the detectors are, `values` what a scan does with them.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from auditor.detect.re2compat import re2_problems
from auditor.detect.validators import VALIDATORS
from auditor.errors import InputError
from auditor.io.yamlpos import Positioned, dotted, load_yaml, read_yaml, schema_problems
from auditor.model import Severity

CATALOG_PATH = Path(__file__).with_name("catalog.yaml")
EXAMPLE_SPLIT = "{{}}"


@dataclass(frozen=True)
class Detector:
    """One kind of credential value. See catalog.yaml for what each field means."""

    id: str
    name: str
    description: str
    pattern: str  # RE2 syntax; Python-compatible
    dlp_info_type: str | None
    keywords: tuple[str, ...]  # lower case; every match contains at least one
    min_entropy: float | None
    validate: tuple[str, ...]  # names in VALIDATORS, Python only
    severity: Severity
    positive_examples: tuple[str, ...]
    negative_examples: tuple[str, ...]
    secret_group: int  # 1 if the pattern has a capturing group (the secret), else 0
    regex: re.Pattern[str] = field(repr=False, compare=False)


def join_example(text: str) -> str:
    """An example or corpus value with its scanner-evading splits removed."""
    return text.replace(EXAMPLE_SPLIT, "")


_ID = r"^[a-z0-9]+(-[a-z0-9]+)*$"
_STRINGS = {"type": "array", "items": {"type": "string", "minLength": 1}}
_CATALOG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["detectors"],
    "properties": {
        "detectors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": [
                    "id",
                    "name",
                    "description",
                    "pattern",
                    "keywords",
                    "min_entropy",
                    "validate",
                    "dlp_info_type",
                    "severity",
                    "examples",
                ],
                "properties": {
                    "id": {"type": "string", "pattern": _ID},
                    "name": {"type": "string", "minLength": 1},
                    "description": {"type": "string", "minLength": 1},
                    "pattern": {"type": "string", "minLength": 1},
                    "keywords": {
                        "type": "array",
                        "items": {"type": "string", "minLength": 2, "pattern": "^[^A-Z]+$"},
                    },
                    "min_entropy": {"type": ["number", "null"], "minimum": 0, "maximum": 8},
                    "validate": {
                        "type": "array",
                        "uniqueItems": True,
                        "items": {"enum": sorted(VALIDATORS)},
                    },
                    "dlp_info_type": {"type": ["string", "null"], "pattern": "^[A-Z][A-Z0-9_]*$"},
                    "severity": {"enum": [s.value for s in Severity]},
                    "examples": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["positive", "negative"],
                        "properties": {
                            "positive": {**_STRINGS, "minItems": 2},
                            "negative": {**_STRINGS, "minItems": 2},
                        },
                    },
                },
            },
        }
    },
}


@lru_cache(maxsize=1)
def catalog() -> tuple[Detector, ...]:
    """The shipped catalog, loaded and validated once."""
    return load_catalog(CATALOG_PATH)


def load_catalog(path: Path) -> tuple[Detector, ...]:
    """Read and validate a catalog file; InputError naming the file and line if invalid."""
    return _build(read_yaml(path))


def parse_catalog(text: str, path: str = "<catalog>") -> tuple[Detector, ...]:
    """Validate catalog YAML text; `path` names it in errors."""
    return _build(load_yaml(text, path))


def _build(doc: Positioned) -> tuple[Detector, ...]:
    problems = [(p.line, p.message) for p in schema_problems(doc, _CATALOG_SCHEMA)]
    if not problems:
        problems = _semantic_problems(doc)
    if problems:
        problems.sort()
        line, message = problems[0]
        more = f" (and {len(problems) - 1} more problems)" if len(problems) > 1 else ""
        raise InputError(doc.path, message + more, line)
    return tuple(_detector(entry) for entry in doc.value["detectors"])


def _semantic_problems(doc: Positioned) -> list[tuple[int, str]]:
    problems: list[tuple[int, str]] = []
    seen: dict[str, int] = {}
    for index, entry in enumerate(doc.value["detectors"]):
        where = ("detectors", index)
        detector_id = entry["id"]
        if detector_id in seen:
            line = doc.line_of((*where, "id"))
            problems.append(
                (line, f"duplicate detector id '{detector_id}' (first at line {seen[detector_id]})")
            )
        seen.setdefault(detector_id, doc.line_of((*where, "id")))
        pointer = (*where, "pattern")
        for problem in re2_problems(entry["pattern"]):
            problems.append((doc.line_of(pointer), f"{dotted(pointer)} ({detector_id}): {problem}"))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error")  # FutureWarning on ambiguous sets, etc.
                re.compile(entry["pattern"], re.ASCII)
        except (re.error, FutureWarning, DeprecationWarning) as exc:
            problems.append((doc.line_of(pointer), f"{dotted(pointer)} ({detector_id}): {exc}"))
    return problems


def _detector(entry: Mapping[str, Any]) -> Detector:
    regex = re.compile(entry["pattern"], re.ASCII)
    examples: Mapping[str, Sequence[str]] = entry["examples"]
    return Detector(
        id=entry["id"],
        name=entry["name"],
        description=entry["description"],
        pattern=entry["pattern"],
        dlp_info_type=entry["dlp_info_type"],
        keywords=tuple(entry["keywords"]),
        min_entropy=None if entry["min_entropy"] is None else float(entry["min_entropy"]),
        validate=tuple(entry["validate"]),
        severity=Severity(entry["severity"]),
        positive_examples=tuple(join_example(e) for e in examples["positive"]),
        negative_examples=tuple(join_example(e) for e in examples["negative"]),
        secret_group=min(regex.groups, 1),
        regex=regex,
    )
