"""One self-contained HTML file: the template with its CSS, JavaScript and data inlined.

Nothing is fetched when the page is viewed (no network, no CDN): the diagram is SVG drawn by
the inline scripts from the embedded JSON, one window of events at a time. The page is
written in pieces, so a page of tens of megabytes is never one string in memory.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import IO

from checker.outputs import atomic_output
from checker.report import CheckReport
from checker.report_html.data import DEFAULT_LIMIT, ReportData, build

#: The page's scripts, in the order they run (each is one module of report.js's namespace).
SCRIPTS = ("decode.js", "overview.js", "diagram.js", "report.js")


def _asset(name: str) -> str:
    return resources.files("checker.report_html").joinpath(name).read_text(encoding="utf-8")


def _script_safe(text: str) -> str:
    # Inside <script>, only "</" (and "<!--") can end the element early; "<\/" and "\u0021"
    # mean the same to JSON.
    return text.replace("</", "<\\/").replace("<!--", "<\\u0021--")


def page_parts(data: ReportData, title: str | None = None) -> Iterator[str]:
    """The page for ``data``, in pieces."""
    page_title = html.escape(title or data.title())
    page = (_asset("template.html")
            .replace("__TITLE__", page_title)
            .replace("/*__CSS__*/", _asset("report.css"))
            .replace("/*__JS__*/", "\n".join(_asset(name) for name in SCRIPTS)))
    before, marker, after = page.partition("__DATA__")
    assert marker, "template.html has no __DATA__ marker"
    yield before
    for part in data.parts():
        yield _script_safe(part) if "<" in part else part
    yield after


def render_html(data: ReportData, title: str | None = None) -> str:
    """The page for ``data`` as a string."""
    return "".join(page_parts(data, title))


def write_page(data: ReportData, stream: IO[bytes], title: str | None = None) -> None:
    """Write the page for ``data`` to a binary stream (standard output, say)."""
    for part in page_parts(data, title):
        stream.write(part.encode("utf-8"))


def write_html_report(trace_paths: Iterable[str | Path], report: CheckReport | None,
                      out_path: str | Path, *, start: int = 0, limit: int = DEFAULT_LIMIT,
                      title: str | None = None) -> Path:
    """Write the space-time report of ``trace_paths`` (one run; several files are merged) with
    ``report``'s violations highlighted (None: no check results shown). The file is written
    whole or not at all; an input trace is never overwritten. Raises TraceError for an
    unreadable trace, OutputError for an output that cannot be written, and ValueError when
    ``out_path`` is one of the traces or ``start`` is past the end."""
    paths = [Path(p) for p in trace_paths]
    out = Path(out_path)
    refuse_overwrite(paths, out)
    return write_file(build(paths, report, start=start, limit=limit), out, title)


def refuse_overwrite(paths: list[Path], out: Path) -> None:
    """Raise ValueError when ``out`` is one of the input traces."""
    for p in paths:
        if out.resolve() == p.resolve() or (out.exists() and p.exists() and out.samefile(p)):
            raise ValueError(f"{out}: refusing to overwrite the input trace with the report")


def write_file(data: ReportData, out: Path, title: str | None = None) -> Path:
    """Write the page to ``out`` whole or not at all (checker/outputs.py's rule; raises
    OutputError naming ``out``)."""
    with atomic_output(out) as f:
        write_page(data, f, title)
    return out
