"""The one exception root. Library code raises these; only the CLI turns them into exit codes."""

from __future__ import annotations


class AuditorError(Exception):
    """Base of every error the auditor raises on purpose."""


class InputError(AuditorError):
    """An input file (template, SQL doc, policy, waiver, baseline) is unreadable or invalid.

    The message always names the file and, where known, the line.
    """

    def __init__(self, path: str, message: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.detail = message
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")


class PolicyError(InputError):
    """A policy rule file is invalid (schema, unknown check kind, bad parameters)."""


class UsageError(AuditorError):
    """The command line asks for something that cannot be done."""
