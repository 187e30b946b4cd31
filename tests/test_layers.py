"""Layers one way (issue 25): core helpers -> model -> analysis -> run, reports, brief, explorer.

Every module under sim/ is parsed with `ast`; every `import` and `from ... import` counts wherever
it stands: at the top, inside a function, under `if TYPE_CHECKING:` (none are excluded: a deferred
import hides a cycle, it does not remove it). `from a.b import c` is an edge to the module `a.b.c`
when that is a module, else to `a.b`. A package's `__init__` runs before its modules, but an edge
from a module to its own package is not counted (Python imports the package first by design).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "sim"
MODEL = "sim.model"
ABOVE_MODEL = (
    "sim.run",
    "sim.analysis",
    "sim.reports",
    "sim.brief",
    "sim.explorer",
    "sim.validate",
    "sim.verification",
)
ABOVE_ANALYSIS = ("sim.run", "sim.reports", "sim.brief", "sim.explorer")
# The lead's part of issue 25 (sim/model/) removes these; then empty this list.
KNOWN_MODEL_CYCLES_FIXED_BY_LEAD = []
# Imports from above a layer that its owner replaces: (importer, imported). Empty once they do.
KNOWN_MODEL_IMPORTS_FIXED_BY_LEAD = []
KNOWN_ANALYSIS_IMPORTS_FIXED_ON_MERGE = []


def module_files(package: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name (a package is its `__init__`)."""
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _target(name: str, modules: dict) -> str | None:
    """The module an imported dotted name lives in (its longest prefix that is a module)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, modules: dict) -> set[str]:
    """The sim modules `name` imports, at any depth of its source."""
    root = name.split(".")[0]
    here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found |= {_target(alias.name, modules) for alias in node.names if alias.name.split(".")[0] == root}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package, up level - 1
                base = ".".join([*here[: len(here) - node.level + 1], *([base] if base else [])])
            if base.split(".")[0] != root:
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in modules else _target(base, modules))
    return {m for m in found if m and m != name and not name.startswith(m + ".")}


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    modules = module_files(package)
    return {name: imports_of(name, path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[tuple[tuple[str, ...], frozenset[str]]]:
    """Every strongly connected set of two or more modules (modules that import each other, through
    any others): a shortest cycle through the smallest of them, and all its members."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):  # Tarjan's algorithm
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            members = set()
            while v not in members:
                members.add(stack.pop())
            on_stack.difference_update(members)
            if len(members) > 1:
                found.append((_one_cycle(graph, members), frozenset(members)))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def _one_cycle(graph: dict[str, set[str]], members: set[str]) -> tuple[str, ...]:
    """A shortest cycle through the smallest member of a strongly connected set (breadth first)."""
    start = min(members)
    paths = {start: (start,)}
    queue = [start]
    while queue:
        v = queue.pop(0)
        for w in sorted(graph[v] & members):
            if w == start:
                return paths[v]
            if w not in paths:
                paths[w] = (*paths[v], w)
                queue.append(w)
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover - there always is one


def chain(tangle) -> str:
    """`a -> b -> a`, and the strongly connected set's other members, if any."""
    cycle, members = tangle if isinstance(tangle[-1], frozenset) else (tangle, frozenset(tangle))
    others = sorted(members - set(cycle))
    return " -> ".join([*cycle, cycle[0]]) + (f" (and {', '.join(others)} in the same cycles)" if others else "")


def _is_known(tangle) -> bool:
    """A known cycle's modules, and no more, import each other (a module joining it is new)."""
    return any(tangle[1] == set(known) for known in KNOWN_MODEL_CYCLES_FIXED_BY_LEAD)


def _in(name: str, layers: tuple[str, ...]) -> bool:
    return any(name == layer or name.startswith(layer + ".") for layer in layers)


def upward_imports(graph, lower: tuple[str, ...], upper: tuple[str, ...], known=()) -> list[str]:
    return sorted(
        f"{a} imports {b}"
        for a, targets in graph.items()
        if _in(a, lower)
        for b in targets
        if _in(b, upper) and (a, b) not in known
    )


GRAPH = import_graph()


def test_the_graph_sees_imports_at_the_top_and_inside_functions():
    assert "sim.model.config" in GRAPH["sim.analysis.calibration"]  # at the top
    assert "sim.analysis.calibration" in GRAPH["sim.analysis.sensitivity"]  # inside run_outputs


def test_no_import_cycles_among_the_modules_of_sim():
    found = [c for c in cycles(GRAPH) if not _is_known(c)]
    assert not found, "import cycles:\n" + "\n".join(chain(c) for c in found)


@pytest.mark.parametrize("known", KNOWN_MODEL_CYCLES_FIXED_BY_LEAD, ids=chain)
def test_a_known_model_cycle_is_still_there_until_the_lead_removes_it(known):
    """Fails once the cycle is gone: then take it out of KNOWN_MODEL_CYCLES_FIXED_BY_LEAD."""
    assert any(members == set(known) for _, members in cycles(GRAPH)), f"{chain(known)} changed: update the list"


@pytest.mark.parametrize("known", KNOWN_MODEL_IMPORTS_FIXED_BY_LEAD + KNOWN_ANALYSIS_IMPORTS_FIXED_ON_MERGE, ids=str)
def test_a_known_upward_import_is_still_there_until_it_is_removed(known):
    """Fails once the import is gone: then take it out of its KNOWN_..._IMPORTS list."""
    importer, imported = known
    assert imported in GRAPH.get(importer, ()), f"{importer} no longer imports {imported}: remove it from the list"


def test_the_model_imports_nothing_above_it():
    found = upward_imports(GRAPH, (MODEL,), ABOVE_MODEL, KNOWN_MODEL_IMPORTS_FIXED_BY_LEAD)
    assert not found, "\n".join(found)


def test_the_analysis_imports_nothing_from_run_reports_brief_or_explorer():
    found = upward_imports(GRAPH, ("sim.analysis",), ABOVE_ANALYSIS, KNOWN_ANALYSIS_IMPORTS_FIXED_ON_MERGE)
    assert not found, "\n".join(found)


def test_the_core_helpers_import_nothing_else_from_sim():
    found = sorted(
        f"{a} imports {b}" for a, t in GRAPH.items() if _in(a, ("sim.core",)) for b in t if not _in(b, ("sim.core",))
    )
    assert not found, "\n".join(found)


def test_the_memory_estimate_imports_only_the_model_so_the_model_may_hold_it():
    """sim.model.batch sizes batches with the memory estimate (sim.run.memory until the lead moves it
    into the model, as sim.model.memory)."""
    (memory,) = [m for m in ("sim.run.memory", "sim.model.memory") if m in GRAPH]
    assert GRAPH[memory] and all(_in(m, (MODEL, "sim.core")) for m in GRAPH[memory]), GRAPH[memory]


def test_a_cycle_is_reported_as_a_readable_chain(tmp_path):
    """A scratch package where a imports b at the top and b imports a inside a function."""
    package = tmp_path / "sim"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "a.py").write_text("from sim.sub import b\n")
    (package / "sub" / "b.py").write_text("def f():\n    from sim.sub.a import f\n")
    (package / "c.py").write_text("from .sub import a\n")  # relative, into the cycle, not part of it
    found = cycles(import_graph(package))
    assert [chain(c) for c in found] == ["sim.sub.a -> sim.sub.b -> sim.sub.a"]
