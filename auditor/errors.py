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


class MissingCredentials(AuditorError):
    """No Google credentials were found for a Google API: a configuration problem, with the
    ways to provide them (a workstation, a local engine, the nightly job)."""

    def __init__(self, api: str, project: str | None = None, detail: str = "") -> None:
        self.api = api
        account = f"auditor-nightly@{project or 'PROJECT'}.iam.gserviceaccount.com"
        why = detail.strip() or "application default credentials not found"
        super().__init__(
            f"no Google credentials for {api} ({why}). "
            "On a workstation: run `gcloud auth application-default login`. "
            "Against a local engine: pass --endpoint URL (`auditor local start` prints it). "
            f"In the nightly job: run it as its service account ({account}, see "
            "deploy/README.md), or set GOOGLE_APPLICATION_CREDENTIALS to a key file of it."
        )
