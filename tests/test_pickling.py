"""Every exception type the project defines survives pickling (it may cross a process boundary:
fuzz workers, the cluster's processes): same type, same message, same attributes.

The types are found, not listed: every module of the project's packages is imported and every
exception class defined there is round-tripped, so a new one is covered the day it is written.
Constructing one needs representative arguments, from the table below; a class missing from it
fails the test until it is added. A class whose ``__init__`` takes other arguments than it hands
to ``Exception.__init__`` is the usual failure: unpickling calls ``cls(*self.args)``.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pickle
import pkgutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The project's top-level packages (raftref, checker): every folder with an __init__.py but the
#: tests, so a renamed or added package is walked too.
PACKAGES = sorted(p.name for p in ROOT.iterdir()
                  if (p / "__init__.py").exists() and p.name not in {"tests", "bench"})

MESSAGE = "run.jsonl:3: field msg.term: must be an integer"
#: Constructor arguments by class name (positional, keyword).
ARGUMENTS: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "TraceError": (("run.jsonl", 3, "msg.term", "must be an integer"), {}),
    "AdaptError": (("etcd.ndjson", 7, "msg.Term", "must be a number"), {}),
    "SchemaViolation": (("msg.term", "must be an integer"), {}),
    "UnknownPropertyError": (("Liveness",), {}),
    "StoreError": (("runs.db: database is locked",), {}),
    "UnknownRunError": (("runs.db: no run 999 (runs stored: 1-3)",), {}),
    "BoundsError": (("--nodes must be between 1 and 9, got 12",), {}),
    "OutputError": (("out/report.html: is a directory",), {}),
    "ConfigError": (("cluster.json: field tick_ms: must be a positive integer, got 0",), {}),
    "StorageError": (("n1/state.json: not a raftref node state",), {}),
    "ScheduleError": (("seed: must be an integer",), {}),
    "UsageFailure": ((MESSAGE,), {}),
    "CheckUsageError": ((MESSAGE,), {}),
    "ProveUsageError": ((MESSAGE,), {}),
    "AdaptUsageError": ((MESSAGE,), {}),
    "BudgetSpent": ((), {}),
    "_TimeUp": ((), {}),
    "_Stop": ((), {}),
    "_Missing": (("reply_to",), {}),
    "_BadEntry": (("entries[0].term: must be at most 2**63-1",), {}),
}


def _modules() -> list[str]:
    names = []
    for package in PACKAGES:
        root = importlib.import_module(package)
        names.append(package)
        names += [info.name for info in pkgutil.walk_packages(root.__path__, f"{package}.")
                  if not info.name.endswith(".__main__")]  # __main__ runs the program
    return names


def _exception_types() -> list[type[BaseException]]:
    found = []
    for name in _modules():
        module = importlib.import_module(name)
        found += [cls for _, cls in inspect.getmembers(module, inspect.isclass)
                  if issubclass(cls, BaseException) and cls.__module__ == name]
    return found


TYPES = _exception_types()


def test_the_walk_finds_the_known_exception_types() -> None:
    # The discovery itself is tested, so the round trip below cannot pass by finding nothing.
    names = {cls.__name__ for cls in TYPES}
    assert {"TraceError", "SchemaViolation", "ConfigError", "StorageError"} <= names
    assert "raftref" in PACKAGES and len(PACKAGES) >= 2, PACKAGES


@pytest.mark.parametrize("cls", TYPES, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_an_exception_type_survives_pickling(cls: type[BaseException]) -> None:
    assert cls.__name__ in ARGUMENTS, (
        f"{cls.__module__}.{cls.__qualname__} is not in tests/test_pickling.py's ARGUMENTS: add "
        "representative constructor arguments for it")
    args, kwargs = ARGUMENTS[cls.__name__]
    error = cls(*args, **kwargs)
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is cls
    assert str(again) == str(error)
    assert again.args == error.args
    assert vars(again) == vars(error)


def test_no_exception_type_is_defined_where_pickle_cannot_find_it() -> None:
    # pickle names a class by module and qualified name: one defined inside a function cannot
    # be unpickled. The walk above only sees module-level classes; this looks at the source.
    nested = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for func in ast.walk(tree):
                if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                nested += [f"{path.relative_to(ROOT)}:{node.lineno}: {node.name}"
                           for node in ast.walk(func) if isinstance(node, ast.ClassDef)
                           and any(_looks_like_an_exception(base) for base in node.bases)]
    assert nested == []


def _looks_like_an_exception(base: ast.expr) -> bool:
    name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
    return name.endswith(("Error", "Exception", "Failure", "Exit", "Interrupt"))
