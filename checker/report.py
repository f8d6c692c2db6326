"""The result of a check and its renderings: plain text for people, JSON for programs.

(JUnit XML for CI systems is in checker/junit.py.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from checker.history.report import HistoryReport

HOLDS, VIOLATED, UNKNOWN = "holds", "violated", "unknown"
#: The name the history a trace carries is judged under, beside the properties.
LINEARIZABLE = "Linearizable"
TEXT_LINE_LIMIT = 400  # characters of a cited line shown in the text report


@dataclass(frozen=True)
class CitedLine:
    """One trace line a violation rests on."""

    file: str
    line: int
    text: str

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "text": self.text}


@dataclass(frozen=True)
class Violation:
    """One way a property failed: what happened, in plain words, and the lines that show it."""

    property: str
    statement: str
    explanation: str
    lines: tuple[CitedLine, ...]

    def to_json(self) -> dict[str, Any]:
        return {"property": self.property, "statement": self.statement,
                "explanation": self.explanation, "lines": [c.to_json() for c in self.lines]}

    def to_text(self) -> str:
        out = [f"{self.property} violated: {self.explanation}",
               f"  property: {self.statement}"]
        for c in self.lines:
            text = c.text if len(c.text) <= TEXT_LINE_LIMIT else c.text[:TEXT_LINE_LIMIT] + "..."
            out.append(f"  {c.file}:{c.line}: {text}")
        return "\n".join(out)


@dataclass
class PropertyResult:
    """One property's verdict. ``evaluated`` counts the events it looked at: a property that
    evaluated no event holds vacuously (spec/PROPERTIES.md, "Notes for implementers")."""

    name: str
    statement: str
    reference: str
    evaluated: int = 0
    violations: list[Violation] = field(default_factory=list)
    truncated: int = 0  # further violations not listed (cap per property)

    @property
    def verdict(self) -> str:
        return VIOLATED if self.violations else HOLDS

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "statement": self.statement, "reference": self.reference,
                "verdict": self.verdict, "events_evaluated": self.evaluated,
                "violations": [v.to_json() for v in self.violations],
                "violations_not_listed": self.truncated}


@dataclass
class CheckReport:
    """What ``check_files``/``check_lines`` return."""

    files: list[str]
    events: int = 0
    properties: list[PropertyResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: The verdict on the client history the trace carries (its history lines), if any.
    history: HistoryReport | None = None

    @property
    def ok(self) -> bool:
        """Every property holds, and the history the trace carries (if any) is linearizable."""
        return (all(p.verdict == HOLDS for p in self.properties)
                and (self.history is None or self.history.verdict == "linearizable"))

    @property
    def exit_code(self) -> int:
        """0 all holds; 1 a property violated or the history not linearizable; 3 only the
        history's verdict unknown (its time budget ran out), as ``check-history`` says."""
        if self.violated or (self.history is not None
                             and self.history.verdict == "not linearizable"):
            return 1
        return 0 if self.ok else 3

    @property
    def verdict(self) -> str:
        return {0: HOLDS, 1: VIOLATED}.get(self.exit_code, UNKNOWN)

    @property
    def violations(self) -> list[Violation]:
        return [v for p in self.properties for v in p.violations]

    @property
    def violated(self) -> list[str]:
        """Names of the violated properties, in the order of spec/PROPERTIES.md."""
        return [p.name for p in self.properties if p.violations]

    def result(self, name: str) -> PropertyResult:
        for p in self.properties:
            if p.name == name:
                return p
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        out = {"files": self.files, "events": self.events, "verdict": self.verdict,
               "properties": [p.to_json() for p in self.properties], "notes": self.notes}
        if self.history is not None:
            out["history"] = {"name": LINEARIZABLE, **self.history.to_json()}
        return out

    def to_text(self) -> str:
        name_w = max([len("property")] + [len(p.name) for p in self.properties])
        head = (f"checked {self.events} events in {len(self.files)} file(s): "
                + ", ".join(self.files))
        rows = [head, "", f"{'property':<{name_w}}  {'verdict':<8}  {'events':>9}  violations",
                f"{'-' * name_w}  {'-' * 8}  {'-' * 9}  ----------"]
        for p in self.properties:
            count = str(len(p.violations) + p.truncated)
            rows.append(f"{p.name:<{name_w}}  {p.verdict:<8}  {p.evaluated:>9}  {count}")
        for note in self.notes:
            rows.append(f"note: {note}")
        for p in self.properties:
            for v in p.violations:
                rows.extend(["", v.to_text()])
            if p.truncated:
                rows.append(f"({p.truncated} more {p.name} violations not listed)")
        violated = self.violated
        history = self.history
        if history is not None:
            rows += ["", f"{LINEARIZABLE}: the client history the trace carries, "
                     f"{history.verdict}", *("  " + line if line else line
                                             for line in history.to_text().split("\n"))]
            if history.verdict == "not linearizable":
                violated = [*violated, LINEARIZABLE]
        rows.append("")
        if violated:
            rows.append(f"violated: {', '.join(violated)}")
        elif history is not None and history.verdict == "unknown":
            rows.append(f"all properties hold; {LINEARIZABLE} unknown (the history's time "
                        "budget ran out)")
        elif history is not None:
            rows.append("all properties hold; the history is linearizable")
        else:
            rows.append("all properties hold")
        return "\n".join(rows)
