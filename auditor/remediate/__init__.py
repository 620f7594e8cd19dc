"""Remediation: a pure planner turns findings and the desired state into a reviewable plan
of typed actions; a separate applier executes it (preconditions, journal, rollback).

    desired.py      the desired state: location, keys, labels, new-dataset ACL, templates
    remediators.py  per check kind: the fix (as intents) or the manual step that explains it
    plan.py         findings + inventory + desired state -> Plan (no I/O)
    actions.py      the action types: API change, permissions, reversibility, pure effect
    planfile.py     the plan file: JSON text, schema-validated loading
    apply.py        apply a plan action by action with a journal; roll a journal back
    bigquery.py     the applier's Estate over a BigQuery client

docs/remediation.md describes the commands.
"""
