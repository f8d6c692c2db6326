"""The end of a cluster run, judged twice: the nodes' traces checked together against the
protocol's properties (what the nodes did), and the clients' history checked for
linearizability (what the clients saw). One exit code covers both:

- 2: the run or its input is unusable (a node failed or never started, a trace or a history
  file that cannot be read: one line names it);
- else 1: a property is violated, or the history is not linearizable;
- else 3: the history check ran out of time (unknown: never reported as linearizable);
- else 0: every property holds and the history is linearizable (or there is none: an
  open-ended run has no clients).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checker.errors import TraceError
from checker.history import HistoryReport, check_history
from checker.report import CheckReport
from raftref.net.cluster import check_traces

HISTORY_TIMEOUT = 60.0  # seconds for the linearizability verdict (then: unknown, exit 3)


@dataclass
class RunVerdict:
    """Both checks of one run, or why each could not be made."""

    failure: str | None = None  # why the run itself ended early
    traces: CheckReport | None = None
    trace_error: str | None = None
    history: HistoryReport | None = None
    history_error: str | None = None

    @property
    def errors(self) -> list[str]:
        return [e for e in (self.failure, self.trace_error, self.history_error) if e]

    @property
    def exit_code(self) -> int:
        if self.errors:
            return 2
        if (self.traces is not None and self.traces.violated) or (
                self.history is not None and self.history.verdict == "not linearizable"):
            return 1
        if self.history is not None and self.history.verdict == "unknown":
            return 3
        return 0

    def summary(self) -> str:
        """One line: both verdicts."""
        traces = ("not checked" if self.traces is None else "all properties hold"
                  if not self.traces.violated else f"violated: {', '.join(self.traces.violated)}")
        if self.history is not None:
            history = (f"{self.history.verdict} ({self.history.operations} operations of "
                       f"{len(self.history.files)} clients)")
        else:
            history = "not checked" if self.history_error else "none (no clients)"
        return f"traces: {traces}; history: {history}"

    def to_text(self) -> str:
        parts = []
        if self.traces is not None:
            parts.append(self.traces.to_text())
        if self.history is not None:
            parts.append(self.history.to_text())
        parts.append(self.summary())
        return "\n\n".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"exit_code": self.exit_code, "failure": self.failure,
                "traces": self.traces.to_json() if self.traces is not None
                else {"error": self.trace_error},
                "history": self.history.to_json() if self.history is not None
                else {"error": self.history_error} if self.history_error else None}


def judge(directory: Path, ids: tuple[str, ...], history: Sequence[Path],
          failure: str | None = None, timeout: float | None = HISTORY_TIMEOUT) -> RunVerdict:
    """Check the traces of the nodes ``ids`` in ``directory`` and the history files given
    (none: no history check). Unusable input is recorded as an error, not raised."""
    verdict = RunVerdict(failure=failure)
    try:
        verdict.traces = check_traces(directory, ids)
    except TraceError as exc:
        verdict.trace_error = str(exc)
    if history:
        try:
            verdict.history = check_history(list(history), model="kv", timeout=timeout)
        except TraceError as exc:
            verdict.history_error = str(exc)
    return verdict
