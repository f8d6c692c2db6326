"""Which files make one run: what the checker requires before merging several trace files, and
how it tells that a run's members are missing.

Files checked together are the per-process traces of one run (spec/trace.schema.json, header
``clock``). Their headers must say so:

- a file whose clock is ``logical`` is a whole run by itself (one total order of every node's
  events, as a simulator writes): two such files are two runs, and so is one beside others;
- the headers must agree on ``nodes`` (as a set), ``implementation``, ``clock``, ``seed`` and
  ``options`` (a field absent from one header and present in another differs).

``merge_anyway`` lifts both rules except ``nodes``: the checker rebuilds one cluster, whose
members the header names.

A member is missing when no file holds any event of it. That is only a question for
per-process traces (clock ``per-process``, or several files): a logical trace holds every
member's events, and a member without any there simply never started.
"""

from __future__ import annotations

from typing import Any

from checker.errors import TraceError
from checker.reader import TraceFile

#: Header fields that files of one run share, in the order they are compared.
RUN_FIELDS = ("implementation", "clock", "seed", "options")
MERGE_HINT = "files checked together must be one run (--merge-anyway merges them)"
_ABSENT = object()


def check_one_run(files: list[TraceFile], merge_anyway: bool = False) -> None:
    """Raise TraceError, naming both files and the field, unless ``files`` are one run."""
    first = files[0]
    for other in files[1:]:
        if other.nodes != first.nodes:
            raise TraceError(other.name, 1, "nodes",
                             f"{sorted(other.nodes)} differs from {first.name}'s "
                             f"{sorted(first.nodes)}: files checked together describe one "
                             "cluster")
    if merge_anyway or len(files) == 1:
        return
    logical = next((f for f in files if f.header.get("clock") == "logical"), None)
    if logical is not None:
        other = files[1] if logical is first else first
        raise TraceError(logical.name, 1, "clock",
                         f'"logical": this file is a whole run by itself, and {other.name} is '
                         f"another; {MERGE_HINT}")
    for other in files[1:]:
        for field in RUN_FIELDS:
            mine, theirs = first.header.get(field, _ABSENT), other.header.get(field, _ABSENT)
            if mine != theirs:
                raise TraceError(other.name, 1, field,
                                 f"{_show(theirs)} here but {_show(mine)} in {first.name}: "
                                 f"{MERGE_HINT}")


def per_process(files: list[TraceFile]) -> bool:
    """Whether the run's members may be spread over files, so that a file can be missing."""
    return len(files) > 1 or any(f.header.get("clock") == "per-process" for f in files)


def missing_members_error(files: list[TraceFile], missing: list[str]) -> TraceError:
    """The error for a per-process run some of whose members have no events in ``files``."""
    names = ", ".join(f.name for f in files)
    members = ", ".join(missing)
    which = "this file holds" if len(files) == 1 else "these files hold"
    return TraceError(names, 0, None,
                      f"{which} no events of {members}, member{'s' if len(missing) > 1 else ''}"
                      " of the cluster by the header: give their traces too, or --partial to "
                      "check what the files given show")


def _show(value: Any) -> str:
    if value is _ABSENT:
        return "absent"
    text = repr(value) if not isinstance(value, dict) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
