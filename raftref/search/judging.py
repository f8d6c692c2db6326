"""Judging a simulated run's history beside its trace: the history through the public
linearizability checker (``checker.history``), a violation reported under the property name
:data:`LINEARIZABLE`, a finding like any trace property's."""

from __future__ import annotations

import orjson

from checker.history import HistoryReport, check_lines

#: The name a history that is not linearizable is reported under (a finding's property).
LINEARIZABLE = "Linearizable"
#: Seconds the checker may spend on one history; past it the verdict is unknown, which is
#: not a finding (never a guess).
HISTORY_TIMEOUT = 20.0


def judge_history(history: bytes | None) -> HistoryReport | None:
    """The linearizability verdict of a history (None: the run had no clients)."""
    if not history or history.count(b"\n") < 2:
        return None
    # Parsed here and checked in memory (no temporary file per fuzz example); the lines are
    # checked exactly as a file's would be.
    lines = [orjson.loads(line) for line in history.splitlines() if line.strip()]
    return check_lines(lines, model="kv", source="<simulated history>",
                       timeout=HISTORY_TIMEOUT)


def history_violations(report: HistoryReport | None) -> list[str]:
    return [LINEARIZABLE] if report is not None and report.verdict == "not linearizable" else []
