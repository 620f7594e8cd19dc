"""What a snapshot file is: its format version, tool and schema names, size and depth limits.

Apart because the writer and the reader must agree on them: a file the writer produces is
one the reader accepts (dump_snapshot refuses fields nested deeper than MAX_FIELD_DEPTH,
the depth the reader's MAX_JSON_DEPTH leaves room for).
"""

from __future__ import annotations

from auditor import limits

# 2: the IAM parts of the inventory (ancestry, IAM and deny policies, groups, custom roles).
# 3: the content scan (content_scans and value_hits: never a value, only where, how many,
#    a redacted prefix and a fingerprint).
# 4: role definitions carry a status and a detail (predefined roles the catalog lacks are
#    looked up; one that does not exist grants nothing, one whose lookup failed stays unknown).
SNAPSHOT_VERSION = 4
SCHEMA_NAME = "snapshot"
TOOL_NAME = "auditor"

# Refused before reading (loading speed and memory: see auditor.limits).
MAX_SNAPSHOT_BYTES = limits.MAX_SNAPSHOT_BYTES
MAX_JSON_DEPTH = limits.MAX_SNAPSHOT_DEPTH
# The object of a table sits 4 levels deep (document, inventory, table list, table); each
# field level adds an array and an object, and the deepest field's own arrays one more.
_TABLE_DEPTH = 4
MAX_FIELD_DEPTH = (MAX_JSON_DEPTH - _TABLE_DEPTH - 1) // 2  # 125; BigQuery allows 15
