"""One self-contained HTML file: the template with its CSS, JavaScript and data inlined.

Nothing is fetched when the page is viewed (no network, no CDN): the diagram is SVG drawn by
the inline script from the embedded JSON, one window of events at a time.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

import orjson

from checker.report import CheckReport
from checker.report_html.data import DEFAULT_LIMIT, ReportData, build


def _asset(name: str) -> str:
    return resources.files("checker.report_html").joinpath(name).read_text(encoding="utf-8")


def render_html(data: ReportData, title: str | None = None) -> str:
    """The page for ``data`` as a string."""
    page_title = title or "raftref trace report: " + ", ".join(Path(f).name for f in data.files)
    payload = orjson.dumps(data.to_json()).decode()
    # Inside <script>, only "</" can end the element early; "<\/" means the same to JSON.
    payload = payload.replace("</", "<\\/").replace("<!--", "<\\u0021--")
    page = (_asset("template.html")
            .replace("__TITLE__", html.escape(page_title))
            .replace("/*__CSS__*/", _asset("report.css"))
            .replace("/*__JS__*/", _asset("report.js")))
    before, marker, after = page.partition("__DATA__")
    assert marker, "template.html has no __DATA__ marker"
    return before + payload + after


def write_html_report(trace_paths: Iterable[str | Path], report: CheckReport | None,
                      out_path: str | Path, *, start: int = 0, limit: int = DEFAULT_LIMIT,
                      title: str | None = None) -> Path:
    """Write the space-time report of ``trace_paths`` (one run; several files are merged) with
    ``report``'s violations highlighted (None: no check results shown). The file is written
    whole or not at all; an input trace is never overwritten. Raises TraceError for an
    unreadable trace and ValueError when ``out_path`` is one of the traces."""
    paths = [Path(p) for p in trace_paths]
    out = Path(out_path)
    for p in paths:
        if out.resolve() == p.resolve() or (out.exists() and p.exists() and out.samefile(p)):
            raise ValueError(f"{out}: refusing to overwrite the input trace with the report")
    page = render_html(build(paths, report, start=start, limit=limit), title)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Not mkstemp: its files are private (0600), and a report is meant to be shared.
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("x", encoding="utf-8") as f:
            f.write(page)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
