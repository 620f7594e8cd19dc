"""Remediation: a pure planner turns findings and the desired state into a reviewable plan
of typed actions; a separate applier executes it (preconditions, journal, rollback).

    desired.py      the desired state: location, keys, labels, new-dataset ACL, templates
    intents.py      what remediators say (intents, manual steps) and the context they use
    remediators.py  per check kind: the fix (as intents) or the manual step that explains it
    converge.py     the desired-state diff behind provisioning
    plan.py         findings + inventory + desired state -> Plan (no I/O)
    actions/        the action types: API change, permissions, reversibility, pure effect
                    (base, dataset and table kinds, API forms, state digests)
    planfile.py     the plan file: JSON text, schema-validated loading
    state.py        the live side: resource states, the Estate interface, preconditions
    journal.py      the journal of apply and rollback runs; what a run did
    apply.py        apply a plan action by action, journalled (the executor)
    recheck.py      what the journal says is done, re-read live: drift fixed or refused
    rollback.py     how each action is undone; roll a journal back
    bigquery.py     the applier's Estate over a BigQuery client

docs/remediation.md describes the commands.
"""
