"""auditor: checks the Convergence Data Pipeline's security promise on BigQuery."""

__version__ = "0.1.0"
