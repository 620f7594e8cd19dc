"""`auditor.toml`: the nightly job's settings, validated before anything runs.

    [project]
    id = "gac-prod-471220"
    bigquery_endpoint = "http://127.0.0.1:9050"   # optional: a local BigQuery
    iam_endpoint = "http://127.0.0.1:9051"        # optional
    dlp_endpoint = "http://127.0.0.1:9052"        # optional: Cloud DLP (content_scan dlp)
    iam_exports = "exports/iam"                   # optional: IAM from an export folder

    [scope]
    datasets = ["customers", "tenant_*"]          # globs; default: every dataset

    [outputs]
    dir = "reports"
    formats = ["json", "sarif", "html"]           # json is always written
    history = "reports/history.sqlite"
    history_archive = "/mnt/state/history.sqlite" # optional: durable copy, see below
    bigquery_sink = "compliance"                  # or "project.dataset"; optional
    sign_key = "gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K/cryptoKeyVersions/1"
    signer = "auditor-nightly"                    # optional: the name shown with the signature

    [thresholds]
    fail_on = "high"                              # critical/high/medium/low/info/none
    allow_partial = false

    [policies]
    paths = ["policies"]                          # default: the shipped pack
    waivers = "waivers.yaml"

    [gate]                                        # `auditor gate` only; nightly ignores it
    templates = ["templates/**/*.json"]           # default: discovered (see discovery.py)
    sql_docs = ["database/schemas/*.sql"]         # default: every *.sql, examined
    sql_dialect = "bigquery"
    tenant = ["templates/customer/onboarding/schemas/*.json"]
    customers = ["schemas/customers/*.json"]
    other = ["schemas/staging/*.json"]
    exclude = ["tests/**"]
    allow_empty = false
    baseline = "reports/gate-baseline.json"       # or baseline_ref = "origin/main"

The same tables may sit under `[tool.auditor]` in a `pyproject.toml` (`[tool.auditor.gate]`
...): `auditor gate` reads `auditor.toml` or `pyproject.toml` in the repo it checks.

`history_archive` is for a job whose disk does not outlive it (Cloud Run): the history is
copied from there to `history` before the run and back after it, so the archive may sit on a
file system SQLite cannot lock (a Cloud Storage volume). Relative paths are relative to the
file's folder. Every key is optional; command-line options
override the file. A problem (TOML syntax, an unknown section or key, a wrong type, a path
that does not exist) is a ConfigError naming the file and, where it can be found, the line.
Reading the file is the only I/O here. The shape (tables, keys, value types) is the JSON
Schema's (schemas/formats/config.schema.json, auditor.configschema); the converters below
check what it cannot and turn values into settings.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from auditor import limits
from auditor.configschema import ConfigError, check_shape, line_of
from auditor.errors import UsageError
from auditor.model import Severity

__all__ = [
    "CONFIG_NAME",
    "FAIL_ON_CHOICES",
    "FILE_FORMATS",
    "PYPROJECT_NAME",
    "Config",
    "ConfigError",
    "GateConfig",
    "find_project_config",
    "load_config",
    "parse_config",
]

CONFIG_NAME = "auditor.toml"
PYPROJECT_NAME = "pyproject.toml"
PYPROJECT_PREFIX = "tool.auditor."
FILE_FORMATS = ("json", "sarif", "html", "junit")
FAIL_ON_CHOICES = (*(s.value for s in Severity), "none")
MAX_CONFIG_BYTES = limits.MAX_CONFIG_BYTES

# fullmatch, not `$`: `$` also matches before a trailing newline.
_PROJECT_ID = re.compile(r"(?:[a-z][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
_SINK = re.compile(r"(?:[a-z][a-z0-9.:-]{4,62}[a-z0-9]\.)?[A-Za-z0-9_]{1,1024}")
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


@dataclass(frozen=True)
class GateConfig:
    """The [gate] table: None where it says nothing (discovery's defaults, or the
    command's)."""

    templates: tuple[str, ...] | None = None
    sql_docs: tuple[str, ...] | None = None
    sql_dialect: str | None = None
    tenant: tuple[str, ...] | None = None
    customers: tuple[str, ...] | None = None
    other: tuple[str, ...] | None = None
    exclude: tuple[str, ...] | None = None
    allow_empty: bool | None = None
    baseline: Path | None = None
    baseline_ref: str | None = None


@dataclass(frozen=True)
class Config:
    """The file's settings; None where the file says nothing (the command's default holds)."""

    path: Path | None = None
    project: str | None = None
    bigquery_endpoint: str | None = None
    iam_endpoint: str | None = None
    dlp_endpoint: str | None = None
    iam_exports: Path | None = None
    datasets: tuple[str, ...] | None = None
    output_dir: Path | None = None
    formats: tuple[str, ...] | None = None
    history: Path | None = None
    history_archive: Path | None = None
    bigquery_sink: str | None = None
    sign_key: str | None = None  # a Cloud KMS key version (gcpkms://...) or an Ed25519 PEM file
    signer: str | None = None
    fail_on: str | None = None
    allow_partial: bool | None = None
    policies: tuple[Path, ...] | None = None
    waivers: Path | None = None
    gate: GateConfig = GateConfig()

    def given(self) -> dict[str, Any]:
        """The settings the file made for every command, by attribute name (the gate's own
        table is `gate`)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("path", "gate") and getattr(self, f.name) is not None
        }


# A converter takes the TOML value and the config file's folder and returns the setting, or
# raises ValueError with a message saying what was expected.
Converter = Callable[[Any, Path], Any]


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a non-empty string, not {_show(value)}")
    return value


def _project_id(value: Any, _: Path) -> str:
    text = _string(value)
    if not _PROJECT_ID.fullmatch(text):
        raise ValueError(f"not a Google Cloud project id: {text!r}")
    return text


def _url(value: Any, _: Path) -> str:
    text = _string(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"expected an http(s)://host[:port] URL, not {text!r}")
    if parts.username or parts.password:
        raise ValueError("credentials do not belong in an endpoint URL")
    return text


def _path(value: Any, base: Path) -> Path:
    return base / Path(_string(value)).expanduser()


def _existing_dir(value: Any, base: Path) -> Path:
    path = _path(value, base)
    if not path.is_dir():
        raise ValueError(f"{path} is not a folder")
    return path


def _existing_file(value: Any, base: Path) -> Path:
    path = _path(value, base)
    if not path.is_file():
        raise ValueError(f"{path} is not a file")
    return path


def _string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError(f"expected a non-empty list of strings, not {_show(value)}")
    return tuple(_string(item) for item in value)


def _globs(value: Any, _: Path) -> tuple[str, ...]:
    return _string_list(value)


def _paths(value: Any, base: Path) -> tuple[Path, ...]:
    found = tuple(_path(item, base) for item in _string_list(value))
    missing = [str(p) for p in found if not p.exists()]
    if missing:
        raise ValueError(f"no such file or folder: {', '.join(missing)}")
    return found


def _formats(value: Any, _: Path) -> tuple[str, ...]:
    chosen = _string_list(value)
    unknown = [f for f in chosen if f not in FILE_FORMATS]
    if unknown:
        raise ValueError(
            f"unknown format(s) {', '.join(map(repr, unknown))}; known: {', '.join(FILE_FORMATS)}"
        )
    return tuple(dict.fromkeys(chosen))


def _sink(value: Any, _: Path) -> str:
    text = _string(value)
    if not _SINK.fullmatch(text):
        raise ValueError(f"expected a BigQuery dataset as dataset or project.dataset: {text!r}")
    return text


def _sign_key(value: Any, base: Path) -> str:
    """A Cloud KMS key version as written, or the path of an existing Ed25519 key file."""
    text = _string(value)
    if text.startswith("gcpkms://"):
        from auditor.report.kms import key_version  # the KMS client library only for KMS keys

        try:
            key_version(text)
        except UsageError as exc:
            raise ValueError(str(exc)) from None
        return text
    return str(_existing_file(text, base))


def _fail_on(value: Any, _: Path) -> str:
    text = _string(value)
    if text not in FAIL_ON_CHOICES:
        raise ValueError(f"expected one of {', '.join(FAIL_ON_CHOICES)}, not {text!r}")
    return text


def _bool(value: Any, _: Path) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, not {_show(value)}")
    return value


def _text(value: Any, _: Path) -> str:
    return _string(value)


def _dialect(value: Any, _: Path) -> str:
    from sqlglot.dialects.dialect import Dialects  # imported when a gate config names one

    text = _string(value)
    known = sorted(d.value for d in Dialects if d.value)
    if text not in known:
        raise ValueError(f"unknown SQL dialect {text!r}; known: {', '.join(known)}")
    return text


# section -> key -> (Config attribute, converter)
SCHEMA: Mapping[str, Mapping[str, tuple[str, Converter]]] = {
    "project": {
        "id": ("project", _project_id),
        "bigquery_endpoint": ("bigquery_endpoint", _url),
        "iam_endpoint": ("iam_endpoint", _url),
        "dlp_endpoint": ("dlp_endpoint", _url),
        "iam_exports": ("iam_exports", _existing_dir),
    },
    "scope": {"datasets": ("datasets", _globs)},
    "outputs": {
        "dir": ("output_dir", _path),
        "formats": ("formats", _formats),
        "history": ("history", _path),
        "history_archive": ("history_archive", _path),
        "bigquery_sink": ("bigquery_sink", _sink),
        "sign_key": ("sign_key", _sign_key),
        "signer": ("signer", lambda value, _: _string(value)),
    },
    "thresholds": {"fail_on": ("fail_on", _fail_on), "allow_partial": ("allow_partial", _bool)},
    "policies": {"paths": ("policies", _paths), "waivers": ("waivers", _existing_file)},
    # Attributes of GateConfig.
    "gate": {
        "templates": ("templates", _globs),
        "sql_docs": ("sql_docs", _globs),
        "sql_dialect": ("sql_dialect", _dialect),
        "tenant": ("tenant", _globs),
        "customers": ("customers", _globs),
        "other": ("other", _globs),
        "exclude": ("exclude", _globs),
        "allow_empty": ("allow_empty", _bool),
        "baseline": ("baseline", _existing_file),
        "baseline_ref": ("baseline_ref", _text),
    },
}


def find_project_config(root: Path) -> Path | None:
    """The project config of a repo: `auditor.toml` in root, else a `pyproject.toml` there
    with a [tool.auditor] table; None when neither. Both is a ConfigError: settings in two
    places would be read from one and silently ignored in the other."""
    own = root / CONFIG_NAME
    pyproject = root / PYPROJECT_NAME
    in_pyproject = pyproject.is_file() and _has_tool_table(pyproject)
    if own.is_file() and in_pyproject:
        raise ConfigError(
            str(pyproject),
            f"[tool.auditor] is set here and in {own}; keep the settings in one of them",
        )
    if own.is_file():
        return own
    return pyproject if in_pyproject else None


def _has_tool_table(pyproject: Path) -> bool:
    text = _read(pyproject)
    tool = _toml(text, str(pyproject)).get("tool")
    return isinstance(tool, dict) and "auditor" in tool


def load_config(path: Path) -> Config:
    """Read and validate the file at `path` (ConfigError naming it when that fails). A file
    named pyproject.toml is read for its [tool.auditor] table."""
    text = _read(path)
    pyproject = path.name == PYPROJECT_NAME
    return parse_config(text, str(path), path.resolve().parent, path=path, pyproject=pyproject)


def _read(path: Path) -> str:
    where = str(path)
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(where, f"larger than {MAX_CONFIG_BYTES} bytes")
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(where, f"cannot read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(where, f"not UTF-8 (byte {exc.start})") from None


def parse_config(
    text: str, source: str, base: Path, *, path: Path | None = None, pyproject: bool = False
) -> Config:
    """Validate the TOML `text`; `source` names it in errors, `base` anchors relative paths.
    `pyproject`: the settings are the [tool.auditor] table (none there: an empty Config)."""
    data: Any = _toml(text, source)
    prefix = ""
    if pyproject:
        tool = data.get("tool")
        data = tool.get("auditor", {}) if isinstance(tool, dict) else {}
        prefix = PYPROJECT_PREFIX
        if not isinstance(data, dict):
            line = line_of(text, "", "tool", "auditor")
            raise ConfigError(source, "tool.auditor must be a [tool.auditor] table", line)
    check_shape(data, text, source, prefix)
    values: dict[str, Any] = {}
    gate: dict[str, Any] = {}
    for section, body in data.items():
        keys = SCHEMA[section]
        for key, value in body.items():
            attribute, convert = keys[key]
            try:
                converted = convert(value, base)
            except ValueError as exc:
                raise ConfigError(
                    source, f"[{prefix}{section}] {key}: {exc}", line_of(text, prefix, section, key)
                ) from None
            (gate if section == "gate" else values)[attribute] = converted
    return Config(path=path, gate=GateConfig(**gate), **values)


def _toml(text: str, source: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = _TOML_LINE.search(message)
        detail = _TOML_LINE.sub("", message).strip()
        raise ConfigError(
            source, f"not valid TOML: {detail}", int(found.group(1)) if found else None
        ) from None
    except RecursionError:  # tomllib recurses once per nested array or inline table
        raise ConfigError(source, "not valid TOML: nesting is too deep") from None
    except ValueError as exc:  # e.g. an integer longer than Python's int digit limit
        raise ConfigError(source, f"not valid TOML: {exc}") from None


def _show(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)  # fmt: skip
    return kind
