"""No import circle in checker/: the store's CLI and the check command share their usage error
through checker/usage.py instead of importing each other (issue 13, item 4).

Two proofs: a graph of every import between checker modules (module level and inside
functions, since a lazy import closes a circle too) has no cycle; and each module of the store,
and the commands beside it, imports on its own in a fresh interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT


def checker_modules() -> dict[str, Path]:
    modules = {}
    for path in (ROOT / "checker").rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """module -> the checker modules it imports anywhere in its text."""
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names if a.name in modules)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: from .x import y
                    anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                if base in modules:
                    deps.add(base)
                deps.update(f"{base}.{a.name}" for a in node.names
                            if f"{base}.{a.name}" in modules)
        deps.discard(name)
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack: list[tuple[str, list[str]]] = [(start, sorted(graph[start]))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, todo = stack[-1]
            if not todo:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
                continue
            nxt = todo.pop()
            if nxt in on_path:
                return path[path.index(nxt):] + [nxt]
            if nxt not in done:
                stack.append((nxt, sorted(graph[nxt])))
                path.append(nxt)
                on_path.add(nxt)
    return None


def test_the_cycle_finder_finds_a_cycle_through_a_lazy_import() -> None:
    # The circle of issue 13: store_cli imported CheckUsageError from checker.cli, which
    # imported store_cli inside check_command.
    graph = {"checker.cli": {"checker.store_cli"}, "checker.store_cli": {"checker.cli"},
             "checker.engine": set()}
    cycle = find_cycle(graph)
    assert cycle is not None and set(cycle) == {"checker.cli", "checker.store_cli"}
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_cycle_among_checker_modules() -> None:
    modules = checker_modules()
    graph = import_graph(modules)
    assert {"checker.store.cli", "checker.usage", "checker.cli"} <= set(graph)
    assert "checker.usage" in graph["checker.store.cli"] and "checker.usage" in graph["checker.cli"]
    assert "checker.store.cli" in graph["checker.cli"]  # the lazy import is seen
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


STORE_FIRST = ["checker.store.cli", "checker.store", "checker.store.db", "checker.store.ingest",
               "checker.store.query", "checker.store.rows", "checker.store.summary",
               "checker.usage", "checker.cli"]


@pytest.mark.parametrize("module", STORE_FIRST)
def test_each_store_module_imports_alone_in_a_fresh_interpreter(module: str) -> None:
    done = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
