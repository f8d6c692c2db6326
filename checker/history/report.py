"""The verdict of a history check, as text, JSON and JUnit XML.

Exit codes (``raftref check-history``): 0 linearizable; 1 not linearizable (a key has no
linearization: the counterexample says why); 2 unusable input or options; 3 unknown: the time
budget ran out before a verdict, for a key, and no key was found not linearizable. An unknown
verdict is never reported as linearizable.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

from checker.history.explain import Counterexample
from checker.history.ops import Operation, show, thaw

EXIT = {"linearizable": 0, "not linearizable": 1, "unknown": 3}
SHOWN_PREFIX = 8  # operations of a prefix listed in the text report (JSON lists them all)


@dataclass
class KeyResult:
    """One key's verdict (key None: a history without keys, or checked unsplit)."""

    key: Any
    operations: int
    verdict: str  # linearizable | not linearizable | unknown
    seconds: float
    explored: int
    order: list[Operation]  # a linearization, or the longest prefix found
    counterexample: Counterexample | None = None
    abandoned: bool = False  # unknown because another key already is not linearizable
    kept: list[Operation] = field(default_factory=list, repr=False)  # what was searched
    group: list[Operation] = field(default_factory=list, repr=False)  # all of the key's
    outcome: Any = field(default=None, repr=False)

    @property
    def name(self) -> str:
        return "the history" if self.key is None else f"key {show(self.key)}"


@dataclass
class HistoryReport:
    files: list[str]
    formats: list[str]
    model: str
    events: int
    operations: int
    failed: int
    split: bool
    timeout: float | None
    keys: list[KeyResult] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        verdicts = {k.verdict for k in self.keys}
        for v in ("not linearizable", "unknown"):
            if v in verdicts:
                return v
        return "linearizable"

    @property
    def ok(self) -> bool:
        return self.verdict == "linearizable"

    def counterexample_keys(self) -> list[Any]:
        """The keys found not linearizable."""
        return [k.key for k in self.keys if k.verdict == "not linearizable"]

    @property
    def exit_code(self) -> int:
        return EXIT[self.verdict]

    def to_text(self) -> str:
        keyed = any(k.key is not None for k in self.keys)
        lines = [f"checked {self.operations} operations ({self.events} lines) of "
                 f"{len(self.files)} file(s): {', '.join(self.files)}",
                 f"model: {self.model}" + (f", split per key ({len(self.keys)} keys)"
                                           if keyed else "")
                 + f"; format: {', '.join(sorted(set(self.formats)))}"]
        if self.failed:
            lines.append(f"{self.failed} failed operation(s) left out (they did not happen)")
        lines.append("")
        shown = self.keys if len(self.keys) <= 20 else [
            k for k in self.keys if k.verdict != "linearizable"]
        width = max([len(k.name) for k in shown] + [3])
        lines.append(f"{'key':<{width}}  operations  verdict           seconds")
        lines.append(f"{'-' * width}  ----------  ----------------  -------")
        for k in shown:
            verdict = "unknown (stopped)" if k.abandoned else k.verdict
            lines.append(f"{k.name:<{width}}  {k.operations:>10}  {verdict:<17} "
                         f"{k.seconds:7.3f}")
        if len(shown) < len(self.keys):
            lines.append(f"(and {len(self.keys) - len(shown)} linearizable keys)")
        one_file = len(self.files) == 1
        stopped = [k.name for k in self.keys if k.abandoned]
        if stopped:
            lines += ["", f"{len(stopped)} key(s) unknown: their searches were stopped once "
                      "another key was found not linearizable, which decides the history "
                      f"(--all-keys searches every key to the end): {', '.join(stopped)}"]
        for k in self.keys:
            if k.counterexample is not None:
                lines += ["", *counterexample_text(k, one_file)]
        late = [k for k in self.keys if k.verdict == "unknown" and not k.abandoned]
        if late:
            budget = f" ({self.timeout:g} s)" if self.timeout is not None else ""
            lines += ["", f"{len(late)} key(s) unknown: the time budget{budget} ran out "
                      "before their verdicts, so nothing is claimed about them (give more "
                      "--timeout): " + ", ".join(
                          f"{k.name} ({len(k.order)} of {k.operations} operations ordered, "
                          f"{k.explored} search points)" for k in late)]
        lines += [""] + [f"note: {n}" for n in self.notes] + ([""] if self.notes else [])
        bad = [k.name for k in self.keys if k.verdict == "not linearizable"]
        unknown = [k.name for k in self.keys if k.verdict == "unknown"]
        if bad:
            lines.append(f"not linearizable: {', '.join(bad)}")
        elif unknown:
            lines.append(f"unknown (the time budget ran out): {', '.join(unknown)}")
        else:
            lines.append("linearizable")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "files": self.files, "formats": self.formats, "model": self.model,
            "split": self.split, "events": self.events, "operations": self.operations,
            "failed": self.failed, "timeout": self.timeout, "seconds": round(self.seconds, 4),
            "verdict": self.verdict,
            "keys": [{"key": thaw(k.key), "operations": k.operations, "verdict": k.verdict,
                      "abandoned": k.abandoned, "seconds": round(k.seconds, 4),
                      "explored": k.explored,
                      "order": [op.id for op in k.order],
                      "counterexample": None if k.counterexample is None
                      else _cex_json(k.counterexample)} for k in self.keys],
            "notes": self.notes,
        }

    def to_junit(self) -> bytes:
        """One test suite, one test case per key; a key that is not linearizable fails, with
        its counterexample; an unknown one is an error (no verdict)."""
        bad = sum(k.verdict == "not linearizable" for k in self.keys)
        unknown = sum(k.verdict == "unknown" for k in self.keys)
        suite = ET.Element("testsuite", {
            "name": "raftref check-history", "tests": str(len(self.keys)),
            "failures": str(bad), "errors": str(unknown), "skipped": "0",
            "time": f"{self.seconds:.3f}"})
        props = ET.SubElement(suite, "properties")
        for path in self.files:
            ET.SubElement(props, "property", {"name": "history", "value": path})
        ET.SubElement(props, "property", {"name": "model", "value": self.model})
        for k in self.keys:
            case = ET.SubElement(suite, "testcase", {
                "classname": "raftref.check-history", "name": k.name,
                "time": f"{k.seconds:.3f}"})
            if k.counterexample is not None or k.verdict == "not linearizable":
                text = "\n".join(counterexample_text(k))
                failure = ET.SubElement(case, "failure", {
                    "message": f"{k.name} is not linearizable", "type": "NotLinearizable"})
                failure.text = _xml_safe(text)
            elif k.verdict == "unknown":
                ET.SubElement(case, "error", {
                    "message": f"{k.name}: time budget ran out, no verdict",
                    "type": "Unknown"})
        suites = ET.Element("testsuites")
        suites.append(suite)
        return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


def op_line(op: Operation, one_file: bool = False) -> str:
    """An operation on one line: its id, process, what it did, and where it is."""
    def at(w: Any) -> str:
        return f"line {w.line}" if one_file else str(w)

    where = f"invoked {at(op.invoked)}" + (f", completed {at(op.completed)}" if op.completed
                                           and op.status == "ok" else
                                           ", never completed (info)")
    return f"op {op.id} (process {show(op.process)}): {op.action()}; {op.status}, {where}"


def counterexample_text(k: KeyResult, one_file: bool = False) -> list[str]:
    c = k.counterexample
    if c is None:
        return [f"{k.name} is not linearizable (no counterexample without the split per key)"]
    size = ("1-minimal: without any one of them, an order exists" if c.core_minimal
            else "a small set: the time for making it smaller ran out")
    lines = [f"{k.name} is not linearizable.",
             f"  These {len(c.core)} operations cannot be ordered ({size}):"]
    lines += [f"    {op_line(op, one_file)}" for op in sorted(c.core, key=lambda o: o.call)]
    ids = [f"op {op.id}" for op in c.prefix]
    listed = (", ".join(ids) if len(ids) <= SHOWN_PREFIX else
              f"... {len(ids) - SHOWN_PREFIX} earlier, " + ", ".join(ids[-SHOWN_PREFIX:]))
    lines.append(f"  The longest linearizable prefix found orders {len(c.prefix)} of the "
                 f"{k.operations} operations: {listed or '(none)'}.")
    lines.append(f"  This operation cannot follow it: {op_line(c.culprit, one_file)}")
    lines.append(f"    {c.reason}.")
    return lines


def _cex_json(c: Counterexample) -> dict[str, Any]:
    return {"culprit": _op_json(c.culprit), "reason": c.reason,
            "prefix": [op.id for op in c.prefix], "state": thaw(c.state),
            "core": [_op_json(op) for op in sorted(c.core, key=lambda o: o.call)],
            "core_minimal": c.core_minimal}


def _op_json(op: Operation) -> dict[str, Any]:
    return {"id": op.id, "process": op.process, "f": op.f, "key": thaw(op.key),
            "value": thaw(op.value), "result": thaw(op.result), "status": op.status,
            "invoked": str(op.invoked),
            "completed": str(op.completed) if op.completed else None}


def _xml_safe(text: str) -> str:
    return "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20)
