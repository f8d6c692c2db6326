"""The HTML report of a trace: one self-contained page with a space-time diagram (one lane per
node, role and term bands, message arrows, drops, crashes, restarts, commits) and the checker's
violations highlighted with each property's statement.

Library use::

    from checker import check_files
    from checker.report_html import write_html_report
    write_html_report(["run.jsonl"], check_files(["run.jsonl"]), "run.html")
"""

from checker.report_html.data import ReportData, build
from checker.report_html.render import render_html, write_html_report

__all__ = ["ReportData", "build", "render_html", "write_html_report"]
