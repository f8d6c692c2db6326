"""Linearizability of client histories (Jepsen's model: invoke, then ok, fail or info), for
any implementation, from the outside: the black-box check beside the trace properties.

Library use::

    from checker.history import check_history
    report = check_history(["history.jsonl"])   # or Jepsen's history.edn, or jepsen.util logs
    report = check_lines(objects)              # the same lines already parsed (dicts)
    report.verdict        # "linearizable", "not linearizable" or "unknown" (time budget out)
    print(report.to_text())

Unusable input raises :class:`checker.errors.TraceError` (file, line, field, message).
Reference: docs/histories.md; the contract: spec/history.schema.json. Never imports raftref.
"""

from checker.history.check import (
    check_history,
    check_lines,
    check_operations,
    check_records,
    infer_model,
)
from checker.history.models import MODELS
from checker.history.report import HistoryReport, KeyResult

__all__ = ["MODELS", "HistoryReport", "KeyResult", "check_history", "check_lines",
           "check_operations", "check_records", "infer_model"]
