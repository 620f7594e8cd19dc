"""The base layer for files and text: bounded reading, JSON and YAML with line positions,
words for JSON values, text safe for terminals and logs, BigQuery resource names.

Below sources/, detect/, access/ and every room that reads a file or shows a name: it
imports nothing of auditor but the model layer (model, errors, limits)."""
