"""Judging a simulated run's history beside its trace: the history through the public
linearizability checker (``checker.history``), a violation reported under the property name
:data:`LINEARIZABLE`, a finding like any trace property's."""

from __future__ import annotations

import os
import tempfile

from checker.history import HistoryReport, check_history

#: The name a history that is not linearizable is reported under (a finding's property).
LINEARIZABLE = "Linearizable"
#: Seconds the checker may spend on one history; past it the verdict is unknown, which is
#: not a finding (never a guess).
HISTORY_TIMEOUT = 20.0


def judge_history(history: bytes | None) -> HistoryReport | None:
    """The linearizability verdict of a history (None: the run had no clients)."""
    if not history or history.count(b"\n") < 2:
        return None
    # check_history reads files (the same path a user's history takes); a private
    # temporary file keeps the bytes exactly as the run wrote them.
    fd, name = tempfile.mkstemp(prefix="raftref-history-", suffix=".jsonl")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(history)
        return check_history([name], model="kv", timeout=HISTORY_TIMEOUT)
    finally:
        os.unlink(name)


def history_violations(report: HistoryReport | None) -> list[str]:
    return [LINEARIZABLE] if report is not None and report.verdict == "not linearizable" else []
