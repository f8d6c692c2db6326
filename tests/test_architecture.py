"""The import directions of docs/architecture.md, enforced on every import statement (lazy
imports inside functions included): the protocol uses nothing of its drivers or of the search,
drivers never use the search, and checker/ never imports raftref."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from .conftest import ROOT

# Each package (or module) of raftref, and the raftref packages it may import besides itself.
# "raftref" alone is the package's __init__ (its version string).
ALLOWED: dict[str, set[str]] = {
    "raftref.protocol": set(),
    "raftref.mutants": {"raftref.protocol"},
    "raftref.trace": {"raftref"},
    "raftref.files": set(),
    "raftref.sim": {"raftref", "raftref.protocol", "raftref.mutants", "raftref.trace"},
    "raftref.harness": {"raftref", "raftref.protocol", "raftref.sim", "raftref.trace",
                        "raftref.files"},
    "raftref.net": {"raftref", "raftref.protocol", "raftref.mutants", "raftref.trace",
                    "raftref.files"},
    "raftref.search": {"raftref", "raftref.protocol", "raftref.mutants", "raftref.sim",
                       "raftref.harness", "raftref.trace", "raftref.files"},
}
# The checker's core reads traces and judges them; the store, the report, the adapters, the
# proof and the command line are built on it, never the other way round.
CHECKER_OUTER = ("checker.store", "checker.report_html", "checker.adapters", "checker.proof",
                 "checker.cli", "checker.__main__")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> list[tuple[int, str]]:
    """Every absolute module an import statement in ``path`` names (relative ones resolved)."""
    found: list[tuple[int, str]] = []
    here = module_name(path)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.append((node.lineno, base))
            found.extend((node.lineno, f"{base}.{alias.name}") for alias in node.names)
    return found


def owner(module: str) -> str | None:
    """The entry of ALLOWED a raftref module belongs to (None for the raftref.cli package)."""
    for key in sorted(ALLOWED, key=len, reverse=True):
        if module == key or module.startswith(key + "."):
            return key
    return "raftref" if module == "raftref" else None


def sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("path", sources("raftref"), ids=lambda p: str(p.relative_to(ROOT)))
def test_raftref_imports_follow_the_arrows(path: Path) -> None:
    me = owner(module_name(path))
    if me is None or me == "raftref":
        return  # the command line (raftref.cli, __main__) may use everything
    allowed = ALLOWED[me] | {me}
    for line, target in imports_of(path):
        if target.startswith("checker"):
            # files: the output rule lives in checker/outputs.py (checker cannot import raftref)
            assert me in {"raftref.net", "raftref.search", "raftref.harness", "raftref.files"}, (
                f"{path.relative_to(ROOT)}:{line}: {me} imports the checker ({target})")
            continue
        if target != "raftref" and not target.startswith("raftref."):
            continue
        if target.rpartition(".")[2].startswith("__"):
            target = target.rpartition(".")[0]  # a package attribute such as __version__
        its = owner(target) or target
        assert its in allowed, f"{path.relative_to(ROOT)}:{line}: {me} imports {target}"


@pytest.mark.parametrize("path", sources("checker"), ids=lambda p: str(p.relative_to(ROOT)))
def test_checker_never_imports_raftref_and_its_core_not_its_outer_rooms(path: Path) -> None:
    me = module_name(path)
    core = not me.startswith(CHECKER_OUTER)
    for line, target in imports_of(path):
        where = f"{path.relative_to(ROOT)}:{line}"
        assert target != "raftref" and not target.startswith("raftref."), (
            f"{where}: checker imports {target}")
        if core and me != "checker":
            assert not target.startswith(CHECKER_OUTER), f"{where}: the core imports {target}"


def test_the_rules_see_real_imports() -> None:
    """The parser finds lazy imports inside functions (so the rules above have teeth)."""
    found = {t for _, t in imports_of(ROOT / "raftref" / "cli" / "campaigns.py")}
    assert any(t.startswith("raftref.search") for t in found)
    assert any(t.startswith("checker") for t in found)
