"""checker: verifies Raft safety properties on any implementation's trace (never imports raftref).

Library use::

    from checker import check_files
    report = check_files(["trace.jsonl"])   # several files of one run; "-" is standard input
    print(report.to_text())          # or report.to_json(), report.ok, report.violated

Input that cannot be checked raises :class:`TraceError` (file, line, field, message).
Reference: docs/checker.md.
"""

from checker.engine import UnknownPropertyError, check_files, check_lines, select_properties
from checker.errors import TraceError
from checker.properties import ALL_PROPERTIES, PROPERTY_NAMES
from checker.report import CheckReport, CitedLine, PropertyResult, Violation

__all__ = [
    "ALL_PROPERTIES", "PROPERTY_NAMES", "CheckReport", "CitedLine", "PropertyResult",
    "TraceError", "UnknownPropertyError", "Violation", "check_files", "check_lines",
    "select_properties",
]
