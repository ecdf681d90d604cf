"""The package's shape: no import cycle between modules or between packages, and the core never reaches
up into commands, UI or apps."""

from __future__ import annotations

import ast
from pathlib import Path

import spectfsl

PACKAGE = Path(spectfsl.__file__).parent
#: Application layers the core must not import (it returns warnings and tables as data instead).
ABOVE_THE_CORE = (
    "spectfsl.commands",
    "spectfsl.ui",
    "spectfsl.render",
    "spectfsl.figures",
    "spectfsl.demo",
    "spectfsl.bench",
    "spectfsl.cli",
)


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Every spectfsl module `path` imports, at any depth of the file, with the packages each import runs."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            if name in known:
                found.add(name)
    for name in list(found):  # importing a.b.c runs a/__init__ and a/b/__init__ first
        parts = name.split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts)) if ".".join(parts[:i]) in known)
    return found


def import_graph() -> dict[str, set[str]]:
    known = modules()
    graph = {}
    for name, path in known.items():
        parents = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        graph[name] = imports_of(path, set(known)) - {name} - parents
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_there_is_no_import_cycle_inside_spectfsl():
    assert find_cycle(import_graph()) is None, " -> ".join(find_cycle(import_graph()))


def is_package(module: str) -> bool:
    return (PACKAGE.parent / module.replace(".", "/") / "__init__.py").exists()


def layer_of(module: str) -> str:
    """The unit whose imports must run one way: a module's package, except that a module lying beside
    subpackages (`spectfsl/errors.py`, `spectfsl/core/image.py`) is a unit of its own."""
    if is_package(module):
        return module
    package = module.rpartition(".")[0]
    folder = PACKAGE.parent / package.replace(".", "/")
    beside_subpackages = any((child / "__init__.py").exists() for child in folder.iterdir())
    return module if beside_subpackages else package


def package_graph() -> dict[str, set[str]]:
    """Which package imports which: an arrow for every import across units (`layer_of`); importing a
    parent package's `__init__` (which Python runs first anyway) draws none."""
    graph: dict[str, set[str]] = {}
    for name, targets in import_graph().items():
        for target in targets:
            source, goal = layer_of(name), layer_of(target)
            if source != goal and not (is_package(target) and name.startswith(target + ".")):
                graph.setdefault(source, set()).add(goal)
    return graph


def test_packages_import_one_way_with_no_cycle():
    cycle = find_cycle(package_graph())
    assert cycle is None, " -> ".join(cycle)


def test_the_package_graph_sees_an_import_between_sibling_packages():
    graph = package_graph()
    assert "spectfsl.core.networks" in graph["spectfsl.core.prnet"]
    assert "spectfsl.core.image" in graph["spectfsl.core.files"]  # a module beside subpackages is its own unit


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_core_imports_no_command_ui_or_application_module():
    offending = {
        (name, target)
        for name, targets in import_graph().items()
        if name.startswith("spectfsl.core")
        for target in targets
        if target.startswith(ABOVE_THE_CORE)
    }
    assert not offending


def test_models_are_leaves_that_import_only_the_error_type():
    for leaf in ("spectfsl.core.networks.resnet", "spectfsl.core.networks.prnet"):
        assert import_graph()[leaf] <= {"spectfsl", "spectfsl.errors"}, leaf
