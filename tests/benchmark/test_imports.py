"""The core package's modules import each other without a cycle, lazy imports inside functions
included: a cycle makes a module's meaning depend on which one was imported first."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "benchmark"


def imported_modules(path: Path) -> set[str]:
    """The package modules that ``path`` imports anywhere in it (``from . import x`` counts x if
    x is a module of the package, else the package's ``__init__``)."""
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            relative = node.level == 1 or (node.module or "").split(".")[0] == "motifbench"
            if not relative:
                continue
            module = (node.module or "").removeprefix("motifbench").lstrip(".")
            if module:
                found.add(module.split(".")[0])
            else:
                found |= {alias.name if alias.name in modules else "__init__" for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names if alias.name.startswith("motifbench.")}
    return found & modules


def import_graph() -> dict[str, set[str]]:
    return {path.stem: imported_modules(path) - {path.stem} for path in PACKAGE.glob("*.py")}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every cycle found by a depth-first search, each as the modules along it."""
    found, state = [], {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                found.append(trail[trail.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_the_core_package_has_no_import_cycle():
    graph = import_graph()
    assert {"cli", "runner", "worker", "evaluator", "results"} <= graph.keys()
    assert cycles(graph) == []


def test_the_worker_knows_nothing_of_runs_or_the_command_line():
    assert not import_graph()["worker"] & {"cli", "runner", "registry"}


def test_the_cycle_finder_finds_a_cycle_through_a_lazy_import():
    assert cycles({"cli": {"worker"}, "worker": {"cli"}}) == [["cli", "worker", "cli"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
