"""Reporters: each takes a finished Report and returns text. Nothing here writes files."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType

from auditor.model import Report
from auditor.report import console, html, junit, sarif
from auditor.report import csv as csv_report
from auditor.report import json as json_report

Renderer = Callable[[Report], str]

FORMATS: Mapping[str, Renderer] = MappingProxyType(
    {
        "json": json_report.render,
        "sarif": sarif.render,
        "junit": junit.render,
        "console": console.render,
        "html": html.render,
        "csv": csv_report.render,
        "controls-csv": csv_report.render_controls,
    }
)

EXTENSIONS: Mapping[str, str] = MappingProxyType(
    {
        "json": ".json",
        "sarif": ".sarif",
        "junit": ".xml",
        "console": ".txt",
        "html": ".html",
        "csv": ".csv",
        "controls-csv": ".controls.csv",
    }
)

__all__ = ["EXTENSIONS", "FORMATS", "Renderer"]
