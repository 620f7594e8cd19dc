"""The import graph of auditor/ against its layers (docs/architecture.md says why each room
sits where it does).

A room is a subpackage of auditor/ or a top-level module (configschema shares config's
room). LAYERS lists the rooms top to bottom. The graph is read with `ast` from every import
statement, at module level and inside functions, so a lazy import cannot hide an edge. It
fails, naming the file and line, on:

- an import of a room in the same layer or a higher one (sideways or upward);
- a cycle between rooms;
- a private name (`_x`, not `__x__`) taken from another room, by import or by attribute;
- an import of an auditor module inside a function with no comment saying why (the only
  good reason left is a slow Google client library; a cycle is fixed, not dodged);
- a room that is in no layer.
"""

from __future__ import annotations

import ast
import functools
import itertools
import re
import shutil
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "architecture.md"

# Top to bottom. A room imports rooms of lower layers only, never one of its own layer.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("cli",),
    ("audit", "collect", "remediate", "history", "config", "logs", "demo"),
    ("report",),
    ("policy",),
    ("content", "access"),
    ("sources",),
    ("gcp",),  # the one transport for Google APIs
    ("detect",),
    ("io", "local"),
    ("model", "errors", "limits", "resources", "auditor"),  # auditor: __version__
)
SAME_ROOM = {"configschema": "config"}

# Known problems another piece of work removes. Each must still occur (the test below
# fails when one is gone, so the list cannot outlive its reason).
PENDING: Mapping[str, str] = {}


@dataclass(frozen=True)
class Edge:
    source: str  # the importing module, dotted
    target: str  # the imported module, dotted
    names: tuple[str, ...]  # names taken from it (from-imports, attributes); () for a module
    where: str  # path:line, the path relative to the package's parent folder
    in_function: bool = False
    explained: bool = True  # a comment on the statement or just above it


def _modules(package_dir: Path) -> dict[str, Path]:
    found = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _explained(node: ast.stmt, lines: Sequence[str], import_lines: set[int]) -> bool:
    """A comment on the statement's lines, or on the lines just above it (through the other
    imports of the same group, up to a blank line or code)."""
    if any("#" in lines[n - 1] for n in range(node.lineno, (node.end_lineno or 0) + 1)):
        return True
    n = node.lineno - 1
    while n >= 1:
        text = lines[n - 1].strip()
        if text.startswith("#"):
            return True
        if n not in import_lines:
            return False
        n -= 1
    return False


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = _dotted(node.value)
        return f"{head}.{node.attr}" if head else None
    return None


def read_graph(package_dir: Path) -> list[Edge]:
    """Every import of one of the package's modules by another, with where it is."""
    modules = _modules(package_dir)
    edges: list[Edge] = []
    for module, path in modules.items():
        edges += _file_edges(package_dir, modules, module, path)
    return edges


def _file_edges(
    package_dir: Path, modules: Mapping[str, Path], module: str, path: Path
) -> list[Edge]:
    package = package_dir.name
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    rel = path.relative_to(package_dir.parent).as_posix()
    functions: list[tuple[int, int]] = []  # line spans of function bodies
    imports: list[ast.Import | ast.ImportFrom] = []
    attributes: list[ast.Attribute] = []
    for node in ast.walk(tree):  # one pass: the test reads ~150 files
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            functions.append((node.lineno, node.end_lineno or node.lineno))
        elif isinstance(node, ast.Import | ast.ImportFrom):
            imports.append(node)
        elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            attributes.append(node)
    import_lines = {
        line for n in imports for line in range(n.lineno, (n.end_lineno or n.lineno) + 1)
    }
    edges: list[Edge] = []
    aliases: dict[str, str] = {}  # a name (or dotted chain) bound to one of our modules

    def add(node: ast.stmt, target: str, names: tuple[str, ...]) -> None:
        lazy = any(start <= node.lineno <= end for start, end in functions)
        explained = not lazy or _explained(node, lines, import_lines)
        edges.append(Edge(module, target, names, f"{rel}:{node.lineno}", lazy, explained))

    for node in imports:
        if isinstance(node, ast.ImportFrom):
            base = _absolute(module, path.name == "__init__.py", node)
            if base != package and not base.startswith(package + "."):
                continue
            taken: list[str] = []
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                if sub in modules:
                    add(node, sub, ())
                    aliases[alias.asname or alias.name] = sub
                else:
                    taken.append(alias.name)
            if taken:
                add(node, base, tuple(taken))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    add(node, alias.name, ())
                    aliases[alias.asname or alias.name] = alias.name
    for attribute in attributes:
        held = _dotted(attribute.value)
        if held in aliases:
            where = f"{rel}:{attribute.lineno}"
            edges.append(Edge(module, aliases[held], (attribute.attr,), where))
    return edges


def room_of(module: str) -> str:
    parts = module.split(".")
    room = parts[1] if len(parts) > 1 else parts[0]
    return SAME_ROOM.get(room, room)


def _private(names: Iterable[str]) -> list[str]:
    return [n for n in names if n.startswith("_") and not (n.startswith("__") and n.endswith("__"))]


def _cycles(edges: Sequence[Edge]) -> list[list[str]]:
    """The strongly connected sets of rooms with more than one room (Tarjan)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for e in edges:
        if room_of(e.source) != room_of(e.target):
            graph[room_of(e.source)].add(room_of(e.target))
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(room: str) -> None:
        index[room] = low[room] = len(index)
        stack.append(room)
        for other in sorted(graph[room]):
            if other not in index:
                visit(other)
                low[room] = min(low[room], low[other])
            elif other in stack:
                low[room] = min(low[room], index[other])
        if low[room] == index[room]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == room:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for room in sorted(graph):
        if room not in index:
            visit(room)
    return found


def _one_cycle(edges: Sequence[Edge], group: Sequence[str]) -> str:
    """The shortest cycle from the group's first room back to it, each hop with the first
    import that makes it: `a -> b -> a (a.py:3; b.py:9)`."""
    first: dict[tuple[str, str], str] = {}
    for e in edges:
        hop = (room_of(e.source), room_of(e.target))
        if hop[0] != hop[1] and hop[0] in group and hop[1] in group:
            first.setdefault(hop, e.where)
    start = group[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        room = queue.pop(0)
        for a, b in sorted(first):
            if a != room:
                continue
            if b == start:
                path = [*paths[room], start]
                hops = "; ".join(first[hop] for hop in itertools.pairwise(path))
                return f"{' -> '.join(path)} ({hops})"
            if b not in paths:
                paths[b] = [*paths[room], b]
                queue.append(b)
    raise AssertionError(f"no cycle through {start}")  # a strongly connected group has one


def problems(edges: Sequence[Edge], layers: Sequence[Sequence[str]]) -> list[str]:
    """One line per problem, each naming the file and line of the import at fault."""
    rank = {room: i for i, rooms in enumerate(layers) for room in rooms}
    out = []
    first_seen: dict[str, str] = {}
    for e in edges:
        first_seen.setdefault(room_of(e.source), e.where)
        first_seen.setdefault(room_of(e.target), e.where)
    for room, where in sorted(first_seen.items()):
        if room not in rank:
            out.append(f"{where}: room {room!r} is in no layer (add it to LAYERS and the doc)")
    for e in edges:
        source, target = room_of(e.source), room_of(e.target)
        if source == target:
            if e.in_function and not e.explained:
                out.append(f"{e.where}: {e.source} imports {e.target} inside a function with no "
                           "comment saying why")
            continue
        if source in rank and target in rank and rank[target] <= rank[source]:
            way = "sideways" if rank[target] == rank[source] else "upward"
            out.append(
                f"{e.where}: {e.source} imports {e.target}: {way} import "
                f"({source}, layer {rank[source]} -> {target}, layer {rank[target]})"
            )
        private = _private(e.names)
        if private:
            out.append(
                f"{e.where}: {e.source} takes private {', '.join(private)} from {e.target} "
                f"(room {target}: make it public or move it)"
            )
        if e.in_function and not e.explained:
            out.append(f"{e.where}: {e.source} imports {e.target} inside a function with no "
                       "comment saying why")
    for group in _cycles(edges):
        out.append(f"cycle between rooms {', '.join(group)}: {_one_cycle(edges, group)}")
    return out


def render_layers(layers: Sequence[Sequence[str]]) -> str:
    return "\n".join(" · ".join(rooms) for rooms in layers)


# --- the project itself -------------------------------------------------------------------


@functools.cache
def project_problems() -> tuple[str, ...]:
    return tuple(problems(read_graph(ROOT / "auditor"), LAYERS))


def test_the_import_graph_follows_the_layers() -> None:
    found = project_problems()
    unexpected = [p for p in found if not any(re.search(k, p) for k in PENDING)]
    assert unexpected == [], "\n".join(unexpected)


def test_every_pending_exception_is_still_needed() -> None:
    found = project_problems()
    gone = [k for k in PENDING if not any(re.search(k, p) for p in found)]
    assert gone == [], f"fixed: remove from PENDING: {gone}"


def test_the_architecture_doc_lists_these_layers() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- layers:begin -->\n```\n(.*?)\n```\n<!-- layers:end -->", text, re.S)
    assert block is not None, f"{DOC}: no layers block"
    assert block.group(1) == render_layers(LAYERS)


# --- the checker can fail -----------------------------------------------------------------

SYNTHETIC = {
    "pkg/__init__.py": "",
    "pkg/base.py": "VALUE = 1\n_SECRET = 2\n",
    "pkg/top/__init__.py": "",
    "pkg/top/cmd.py": "from pkg.low.a import thing\nfrom pkg.base import VALUE\n",
    "pkg/mid/__init__.py": "",
    "pkg/mid/b.py": (
        "from ..low.a import _hidden\n"  # relative, private: crosses a room
        "import pkg.base as base\n"
        "X = base._SECRET\n"  # private by attribute
        "\n"
        "def lazy():\n"
        "    from pkg.top import cmd\n"  # upward, no comment
        "    return cmd\n"
        "\n"
        "def slow():\n"
        "    # Imported here: slow to import.\n"
        "    from pkg.low import a\n"  # downward, explained: fine
        "    from pkg.low.a import thing\n"  # same group as the comment: fine
        "    return a, thing\n"
    ),
    "pkg/mid/c.py": "from pkg.mid import b\n",  # same room: fine
    "pkg/peer.py": "from pkg.mid.c import b\n",  # sideways
    "pkg/low/__init__.py": "",
    "pkg/low/a.py": "from pkg.mid.b import X\nthing = _hidden = X\n",  # upward: a cycle
    "pkg/stray.py": "from pkg.base import VALUE\n",  # in no layer
}
SYNTHETIC_LAYERS = (("top",), ("mid", "peer"), ("low",), ("base", "pkg"))


def test_the_checker_names_each_planted_fault(tmp_path: Path) -> None:
    for name, text in SYNTHETIC.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    found = problems(read_graph(tmp_path / "pkg"), SYNTHETIC_LAYERS)
    assert found == [
        "pkg/stray.py:1: room 'stray' is in no layer (add it to LAYERS and the doc)",
        "pkg/low/a.py:1: pkg.low.a imports pkg.mid.b: upward import (low, layer 2 -> mid, "
        "layer 1)",
        "pkg/mid/b.py:1: pkg.mid.b takes private _hidden from pkg.low.a (room low: make it "
        "public or move it)",
        "pkg/mid/b.py:6: pkg.mid.b imports pkg.top.cmd: upward import (mid, layer 1 -> top, "
        "layer 0)",
        "pkg/mid/b.py:6: pkg.mid.b imports pkg.top.cmd inside a function with no comment "
        "saying why",
        "pkg/mid/b.py:3: pkg.mid.b takes private _SECRET from pkg.base (room base: make it "
        "public or move it)",
        "pkg/peer.py:1: pkg.peer imports pkg.mid.c: sideways import (peer, layer 1 -> mid, "
        "layer 1)",
        "cycle between rooms low, mid, top: low -> mid -> low (pkg/low/a.py:1; pkg/mid/b.py:1)",
    ]


def test_an_upward_import_planted_in_a_copy_of_auditor_fails(tmp_path: Path) -> None:
    copy = tmp_path / "auditor"
    shutil.copytree(ROOT / "auditor", copy, ignore=shutil.ignore_patterns("__pycache__"))
    target = copy / "io" / "safe_text.py"
    lines = target.read_text(encoding="utf-8").splitlines()
    target.write_text("\n".join([*lines, "from auditor.report.summary import iso_utc"]) + "\n")
    planted = len(lines) + 1
    found = problems(read_graph(copy), LAYERS)
    assert (
        f"auditor/io/safe_text.py:{planted}: auditor.io.safe_text imports auditor.report.summary: "
        "upward import (io, layer 8 -> report, layer 2)"
    ) in found
    # The graph was acyclic: every cycle now runs through the planted edge.
    cycles = [p for p in found if p.startswith("cycle between rooms")]
    assert len(cycles) == 1
    assert " io -> report -> " in cycles[0]
    assert re.search(rf"auditor/io/safe_text\.py:{planted}[;)]", cycles[0]), cycles[0]
