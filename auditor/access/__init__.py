"""The effective-access graph: who can read a BigQuery dataset, by which path.

graph = AccessGraph.build(inventory, now=evaluation_time)
answer = graph.readers("customers")          # every principal, every path
print(explain(answer, principal="serviceAccount:..."))
"""

from auditor.access.explain import explain, to_json
from auditor.access.graph import AccessGraph
from auditor.access.paths import (
    AccessAnswer,
    AccessGap,
    AccessPath,
    Capability,
    GapKind,
    Hop,
    HopKind,
)
from auditor.access.principals import GenAIKind, GenAIMatch, is_genai

__all__ = [
    "AccessAnswer",
    "AccessGap",
    "AccessGraph",
    "AccessPath",
    "Capability",
    "GapKind",
    "GenAIKind",
    "GenAIMatch",
    "Hop",
    "HopKind",
    "explain",
    "is_genai",
    "to_json",
]
