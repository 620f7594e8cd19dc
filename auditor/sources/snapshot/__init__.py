"""Inventory snapshots: save what the sources collected, replay an audit from it offline.

`auditor snapshot` writes `write.dump_snapshot`'s text; `--snapshot FILE` reads it back with
`read.read_snapshot`, and the checks see the very same Inventory. A snapshot holds every
Inventory field and nothing else (the inventory holds no secret values, so neither does a
snapshot), plus a small header: format version, tool, and when it was taken.

By job: `format` (the version, schema name and limits both sides agree on), `write`
(Inventory -> JSON text), `checks` (version, schema and time checks of a parsed document,
with messages naming the JSON path) and `read` (text -> checked document -> Inventory).
"""
