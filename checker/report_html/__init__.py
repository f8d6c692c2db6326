"""The HTML report of a trace: one self-contained page with an overview strip of the whole run
(terms, leaders, commit index, crashes, inferred partitions, lost messages, violations) and a
space-time diagram of any part of it (one lane per node, role and term bands, message arrows
or bundles, drops, crashes, restarts, commits, partitions), with the checker's violations
highlighted with each property's statement. See docs/report.md.

Library use::

    from checker import check_files
    from checker.report_html import write_html_report
    write_html_report(["run.jsonl"], check_files(["run.jsonl"]), "run.html")
"""

from checker.report_html.data import ReportData, build
from checker.report_html.render import render_html, write_html_report

__all__ = ["ReportData", "build", "render_html", "write_html_report"]
