"""``python -m raftref`` is the ``raftref`` command (and the command's entry point)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path


def foreign_checker() -> str | None:
    """Why the module that ``import checker`` would load is not raftref's checker, or None.

    The checker is installed as the top-level package ``checker`` (the folder's name, so that a
    reader follows an import to its file). A module of that name found first on sys.path hides
    it: a checker.py or checker/ in the current folder under 'python -m raftref', or another
    distribution's package. Said in one line rather than as a traceback from deep inside."""
    try:
        spec = importlib.util.find_spec("checker")
    except (ImportError, ValueError):
        spec = None
    ours = Path(__file__).resolve().parent.parent / "checker"
    origin = Path(spec.origin).resolve() if spec is not None and spec.origin else None
    if origin is not None and origin.parent == ours:
        return None
    if spec is not None and spec.origin is None and any(
            Path(p).resolve() == ours for p in spec.submodule_search_locations or ()):
        return None
    found = origin or (list(spec.submodule_search_locations or ()) if spec else None)
    if found is None:
        return ("raftref's checker package is not installed beside raftref "
                f"(expected {ours}): reinstall raftref ('make test' or 'pip install -e .')")
    return (f"the module 'checker' found at {found} is not raftref's checker ({ours}) and hides "
            "it: run raftref from another folder, or rename that module")


def run() -> None:
    """The ``raftref`` command, after making sure its checker is the one that will load."""
    problem = foreign_checker()
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        sys.exit(2)
    from raftref.cli import main

    main()


if __name__ == "__main__":
    run()
