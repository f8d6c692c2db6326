"""JUnit XML for CI systems: one test suite, one test case per property checked.

A violated property is a test case with one ``<failure>`` whose text lists every violation with
its cited lines (the same text as the plain report).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

from checker.history.report import HistoryReport
from checker.report import LINEARIZABLE, CheckReport


def to_junit(report: CheckReport, suite_name: str = "raftref check") -> bytes:
    """The report as a JUnit XML document (UTF-8 bytes)."""
    failures = sum(1 for p in report.properties if p.violations)
    history = report.history
    verdict = history.verdict if history is not None else None
    suite = ET.Element("testsuite", {
        "name": suite_name, "tests": str(len(report.properties) + (history is not None)),
        "failures": str(failures + (verdict == "not linearizable")),
        "errors": str(int(verdict == "unknown")), "skipped": "0",
    })
    props = ET.SubElement(suite, "properties")
    for path in report.files:
        ET.SubElement(props, "property", {"name": "trace", "value": path})
    ET.SubElement(props, "property", {"name": "events", "value": str(report.events)})
    for p in report.properties:
        case = ET.SubElement(suite, "testcase", {
            "classname": "raftref.check", "name": p.name, "time": "0",
        })
        out = ET.SubElement(case, "system-out")
        out.text = f"{p.statement} ({p.reference}); events evaluated: {p.evaluated}"
        if p.violations:
            count = len(p.violations) + p.truncated
            failure = ET.SubElement(case, "failure", {
                "message": f"{p.name} violated ({count}): {p.violations[0].explanation}",
                "type": "PropertyViolation",
            })
            text = "\n\n".join(v.to_text() for v in p.violations)
            if p.truncated:
                text += f"\n\n({p.truncated} more violations not listed)"
            failure.text = _xml_safe(text)
    if history is not None:
        _history_case(suite, history)
    suites = ET.Element("testsuites")
    suites.append(suite)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True)


def _history_case(suite: ET.Element, history: HistoryReport) -> None:
    """The history the trace carries, as one more test case: Linearizable."""
    case = ET.SubElement(suite, "testcase", {
        "classname": "raftref.check", "name": LINEARIZABLE, "time": f"{history.seconds:.3f}"})
    out = ET.SubElement(case, "system-out")
    out.text = (f"the client history the trace carries: {history.operations} operations, "
                f"model {history.model}: {history.verdict}")
    if history.verdict == "not linearizable":
        failure = ET.SubElement(case, "failure", {
            "message": f"{LINEARIZABLE} violated: not linearizable: " + ", ".join(
                k.name for k in history.keys if k.verdict == "not linearizable"),
            "type": "NotLinearizable"})
        failure.text = _xml_safe(history.to_text())
    elif history.verdict == "unknown":
        ET.SubElement(case, "error", {
            "message": f"{LINEARIZABLE}: the time budget ran out, no verdict",
            "type": "Unknown"})


def _xml_safe(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (control characters from a quoted trace line)."""
    return "".join(c for c in text if c in "\t\n\r" or ord(c) >= 0x20)
