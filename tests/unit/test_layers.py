"""The shape of the code: layers that import only what is below them, no cycles, no private reach-ins.

Read from the source itself (every import statement, at any depth), so a change
that breaks the shape fails here before it makes the next screen harder to add.
"""

from __future__ import annotations

import ast
from pathlib import Path

import taskview

PACKAGE = Path(taskview.__file__).parent


def modules() -> dict[str, ast.Module]:
    """Every module of the package by dotted name (``taskview.ui.app``), parsed."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = ast.parse(path.read_text(), str(path))
    return found


def imports(name: str, tree: ast.Module, *, at_run_time: bool = False) -> list[tuple[str, list[str]]]:
    """(module imported, names taken from it) for each import in ``tree``, relative ones resolved.

    ``at_run_time``: leave out the imports under ``if TYPE_CHECKING`` (annotations only).
    """
    package = name if _is_package(name) else name.rpartition(".")[0]
    nodes = list(ast.walk(_without_type_checking(tree))) if at_run_time else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [alias.name for alias in node.names]
            # `from . import x`: x may be a module of that package.
            submodules = [f"{base}.{n}" for n in names if f"{base}.{n}" in ALL]
            found += [(sub, []) for sub in submodules] or [(base, names)]
    return found


def _is_package(name: str) -> bool:
    return (PACKAGE.parent / name.replace(".", "/") / "__init__.py").exists()


def _without_type_checking(tree: ast.Module) -> ast.Module:
    body = [n for n in tree.body if not (isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test))]
    return ast.Module(body=body, type_ignores=[])


ALL = modules()


def test_nothing_below_the_ui_imports_textual():
    """The store, the view models, the sources, the control layer and the CLI's headless
    modes are tested and run without a screen."""
    offenders = [
        (name, module)
        for name, tree in ALL.items()
        if not name.startswith("taskview.ui")
        for module, _ in imports(name, tree)
        if module == "textual" or module.startswith(("textual.", "rich."))
    ]
    # The CLI may start the UI, but only inside the functions that run it.
    assert offenders == []


def test_no_import_cycles():
    """Not even through an import inside a function: two modules that need each other are one job split badly."""
    graph = {
        name: {m for m, _ in imports(name, tree, at_run_time=True) if m in ALL and m != name}
        for name, tree in ALL.items()
    }
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*path, nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    # A package importing its own modules is not a cycle of modules.
    cycles = [c for c in cycles if not all(c[0].startswith(n + ".") or c[0] == n for n in c)]
    assert cycles == []


def test_no_private_name_is_imported_from_another_package():
    """``_name`` is a module's own: reaching into another package's privates couples them."""
    offenders = []
    for name, tree in ALL.items():
        package = name if _is_package(name) else name.rpartition(".")[0]
        for module, names in imports(name, tree):
            if not module.startswith("taskview"):
                continue
            other = module if _is_package(module) else module.rpartition(".")[0]
            if other != package:
                offenders += [f"{name}: from {module} import {n}" for n in names if _private(n)]
    assert offenders == []


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_the_layers_import_downwards():
    """results < store < view < ui; sources and control never reach up into the view or the UI."""
    below = {
        "taskview.results": ("taskview.ui", "taskview.view", "taskview.store", "taskview.sources", "taskview.cli"),
        "taskview.store": ("taskview.ui", "taskview.view", "taskview.sources", "taskview.cli", "taskview.control"),
        "taskview.view": ("taskview.ui", "taskview.sources", "taskview.cli", "taskview.control"),
        "taskview.sources": ("taskview.ui", "taskview.view", "taskview.cli", "taskview.control"),
        "taskview.control": ("taskview.ui", "taskview.view", "taskview.cli", "taskview.sources"),
        "taskview.replay": ("taskview.ui", "taskview.view", "taskview.cli"),
    }
    offenders = [
        f"{name} imports {module}"
        for name, tree in ALL.items()
        for layer, forbidden in below.items()
        if name == layer or name.startswith(layer + ".")
        for module, _ in imports(name, tree)
        if module.startswith(forbidden)
    ]
    assert offenders == []
