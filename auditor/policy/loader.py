"""Loads policy rules: one YAML file per rule, validated before anything runs.

Order of validation for a file: YAML -> the rule schema -> `check.kind` in the registry ->
`check.params` against that kind's params schema. Every problem names the file and line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from auditor import limits
from auditor.errors import InputError, PolicyError
from auditor.io.yamlpos import (
    Positioned,
    SchemaProblem,
    describe_value,
    read_yaml,
    schema_problems,
)
from auditor.model import Location, Severity
from auditor.policy.checks import CheckKind
from auditor.policy.rule import DocExample, ExampleInput, Rule, Scope, Target
from auditor.resources import format_schema

POLICY_SUFFIXES = (".yaml", ".yml")
EXAMPLE_KEYS = ("example", "use_instead")  # a rule's doc examples: fails, passes


@dataclass(frozen=True)
class PolicyLoad:
    rules: tuple[Rule, ...]  # enabled rules, in load order
    errors: tuple[PolicyError, ...]


def load_rule(path: Path, registry: Mapping[str, CheckKind]) -> Rule:
    """Load and validate one rule file; raise the first problem (by line) as a PolicyError.

    A rule with `enabled: false` is still returned; only `load_policies` skips it.
    """
    loaded = _load_file(path, registry)
    if isinstance(loaded, list):
        raise loaded[0]
    return loaded.rule


def load_policies(paths: Sequence[Path], registry: Mapping[str, CheckKind]) -> PolicyLoad:
    """Load rule files and folders (their *.yaml / *.yml files, sorted by name).

    Every file is loaded and every problem reported, so one bad file does not hide
    another. Rule ids and names must be unique across files, disabled rules included (ids
    are never reused); the second file holding one gets the error.
    """
    files, errors = _expand(paths)
    if len(files) > limits.MAX_RULES:
        where = ", ".join(str(p) for p in paths)
        message = f"{len(files)} rule files; a policy pack holds at most {limits.MAX_RULES}"
        return PolicyLoad((), (*errors, PolicyError(where, message)))
    rules: list[Rule] = []
    ids: dict[str, str] = {}
    names: dict[str, str] = {}
    for path in files:
        loaded = _load_file(path, registry)
        if isinstance(loaded, list):
            errors.extend(loaded)
            continue
        rule = loaded.rule
        clash = _clash("id", rule.id, ids, loaded.id_line, path)
        clash = clash or _clash("name", rule.name, names, loaded.name_line, path)
        if clash is not None:
            errors.append(clash)
            continue
        ids[rule.id] = f"{path}:{loaded.id_line}"
        names[rule.name] = f"{path}:{loaded.name_line}"
        if loaded.enabled:
            rules.append(rule)
    return PolicyLoad(tuple(rules), tuple(errors))


@dataclass(frozen=True)
class _Loaded:
    rule: Rule
    enabled: bool
    id_line: int
    name_line: int


def _clash(
    what: str, value: str, seen: Mapping[str, str], line: int, path: Path
) -> PolicyError | None:
    if value not in seen:
        return None
    return PolicyError(str(path), f"duplicate rule {what} '{value}' (also in {seen[value]})", line)


def _expand(paths: Sequence[Path]) -> tuple[list[Path], list[PolicyError]]:
    """The rule files named by `paths`, each once, and errors for paths that are not there."""
    files: list[Path] = []
    errors: list[PolicyError] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            try:
                found = sorted(
                    p for p in path.iterdir() if p.suffix in POLICY_SUFFIXES and p.is_file()
                )
            except OSError as exc:
                errors.append(PolicyError(str(path), f"cannot list folder: {exc.strerror or exc}"))
                continue
        elif path.exists():
            found = [path]
        else:
            errors.append(PolicyError(str(path), "no such file or folder"))
            continue
        for file in found:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                files.append(file)
    return files, errors


def _load_file(path: Path, registry: Mapping[str, CheckKind]) -> _Loaded | list[PolicyError]:
    name = str(path)
    try:
        doc = read_yaml(path)
    except InputError as exc:
        return [PolicyError(exc.path, exc.detail, exc.line)]
    if not isinstance(doc.value, dict):
        got = "an empty file" if doc.value is None else describe_value(doc.value)
        message = f"expected one rule (a mapping with id, name, ...), got {got}"
        return [PolicyError(name, message, doc.line_of(()))]
    problems = schema_problems(doc, _rule_schema())
    if not problems:
        kind_name = doc.value["check"]["kind"]
        kind = registry.get(kind_name)
        if kind is None:
            known = ", ".join(sorted(registry)) or "(none)"
            line = doc.line_of(("check", "kind"))
            return [PolicyError(name, f"unknown check kind '{kind_name}'; known: {known}", line)]
        doc.value["check"].setdefault("params", {})
        problems = schema_problems(doc, kind.params_schema, ("check", "params"))
        problems = sorted(problems + _example_problems(doc))
    if problems:
        return [PolicyError(name, p.message, p.line) for p in problems]
    return _Loaded(
        rule=_rule(doc, path),
        enabled=doc.value.get("enabled", True),
        id_line=doc.line_of(("id",)),
        name_line=doc.line_of(("name",)),
    )


def _rule(doc: Positioned, path: Path) -> Rule:
    value: dict[str, Any] = doc.value
    scope = value["scope"]
    return Rule(
        id=value["id"],
        name=value["name"],
        title=value["title"],
        severity=Severity(value["severity"]),
        rationale=value["rationale"],
        remediation=value["remediation"],
        check=value["check"]["kind"],
        params=value["check"]["params"],
        scope=Scope(
            target=Target(scope["target"]),
            template_paths=tuple(scope.get("template_paths", ())),
            datasets=tuple(scope.get("datasets", ())),
            dataset_labels=dict(scope.get("dataset_labels", {})),
        ),
        references=tuple(value["references"]),
        frameworks={k: tuple(v) for k, v in value["frameworks"].items()},
        source=Location(str(path), 1),
        description=value.get("description", ""),
        example=_example(value.get("example")),
        use_instead=_example(value.get("use_instead")),
    )


def _example(value: Mapping[str, Any] | None) -> DocExample | None:
    if value is None:
        return None
    return DocExample(
        note=value["note"],
        input=ExampleInput(value["input"]),
        path=value["path"],
        text=value["text"],
    )


def _example_problems(doc: Positioned) -> list[SchemaProblem]:
    """A doc example's JSON file must parse: a broken example teaches nothing. (Whether the
    rule really fails and passes them is the test suite's job: it runs them.)"""
    problems = []
    for key in EXAMPLE_KEYS:
        example = doc.value.get(key)
        if example is None or not example["path"].endswith(".json"):
            continue
        try:
            json.loads(example["text"])
        except json.JSONDecodeError as exc:
            message = f"{key}.text: not valid JSON ({exc.msg} at line {exc.lineno} of the text)"
            problems.append(SchemaProblem(doc.line_of((key, "text")), message))
        except RecursionError:
            message = f"{key}.text: not valid JSON (nested too deeply)"
            problems.append(SchemaProblem(doc.line_of((key, "text")), message))
    return problems


@cache
def _rule_schema() -> Mapping[str, Any]:
    schema: dict[str, Any] = json.loads(format_schema("policy-rule").read_text(encoding="utf-8"))
    return schema
