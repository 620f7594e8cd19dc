"""Detectors: decide whether columns and values are credentials."""

from auditor.detect.names import Verdict, classify_column, split_words

__all__ = ["Verdict", "classify_column", "split_words"]
