"""What the HTML report draws, computed in one streaming pass over the trace and embedded in
the page as JSON.

Events are placed on one axis by their position in the run (several files are merged as the
checker merges them, each receive after its send). The pass feeds three things: the overview
of the whole run (checker/report_html/overview.py, a bounded number of buckets), the partition
periods inferred from drops (partitions.py), and the events of the embedded window, ``start``
to ``start + limit - 1``, as compact columns (columns.py). Nothing else is kept per event, so
memory grows with the window, not with the trace.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from checker.errors import TraceError
from checker.events import UNSET, Drop, Receive, Send
from checker.reader import Event, FileSource, TraceFile, merge
from checker.report import CheckReport
from checker.report_html.columns import ROLES, Columns
from checker.report_html.overview import Overview
from checker.report_html.partitions import PartitionTracker, Period
from checker.runs import check_one_run
from checker.schema import KINDS, MESSAGE_TYPES

#: Events embedded in one page by default. A page costs 16-19 bytes an event (measured with
#: bench/report_size.py, figures in docs/report.md): 500,000 events make a page of about 8 MB
#: that headless Chromium draws in about 2 s (1,000,000: 16 MB, 3.4 s); past the limit,
#: --start and --limit choose the part embedded, and the overview still covers the whole run.
DEFAULT_LIMIT = 500_000
SENT_GENERATION = 1 << 17  # message ids remembered while merging files (two generations)


@dataclass
class ReportData:
    """The page's data: the whole run's overview and one window of events, embedded."""

    nodes: list[str]
    files: list[str]
    header: dict[str, Any]
    columns: Columns
    overview: Overview
    start: int = 0  # position in the run of the first embedded event
    limit: int = DEFAULT_LIMIT
    total: int = 0  # events in the run
    #: The nodes whose events each file holds (node indexes, sorted).
    file_nodes: list[list[int]] = field(default_factory=list)
    #: Inferred partition periods that reach into the window: (a, b, first, last, drops),
    #: positions in the run.
    cuts: list[Period] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)  # drops by reason ("": none given)
    violations: list[dict[str, Any]] = field(default_factory=list)
    properties: list[dict[str, Any]] = field(default_factory=list)
    verdict: str | None = None

    @property
    def shown(self) -> int:
        """Events embedded."""
        return len(self.columns)

    @property
    def complete(self) -> bool:
        return self.start == 0 and self.shown == self.total

    def file_labels(self) -> list[str]:
        """Each file named by the node whose events it holds (one file per process), as
        ``n1 (out/n1/trace.jsonl)``; a file of several nodes' events by its path alone."""
        labels = []
        for path, nodes in zip(self.files, self.file_nodes, strict=True):
            one = len(self.files) > 1 and len(nodes) == 1
            labels.append(f"{self.nodes[nodes[0]]} ({path})" if one else path)
        return labels

    def title(self) -> str:
        if len(self.files) == 1:
            return f"raftref report: {Path(self.files[0]).name}"
        if all(len(n) == 1 for n in self.file_nodes):
            names = ", ".join(self.nodes[n[0]] for n in sorted(self.file_nodes))
            return f"raftref report: {names} (one trace file per node, merged)"
        return f"raftref report: {len(self.files)} trace files merged"

    def window_note(self) -> str | None:
        """What is embedded, when it is not the whole run, and how to choose another part."""
        if self.complete:
            return None
        last = self.start + self.shown - 1
        return (f"the run has {self.total:,} events; the page embeds events {self.start:,}-"
                f"{last:,} (--start {self.start} --limit {self.limit}); to embed another part, "
                "give --start N (its first event) and --limit N (how many)")

    def parts(self) -> Iterator[str]:
        """The data as one JSON object, in pieces (see columns.py for the events' format)."""
        head = {
            "v": 2, "nodes": self.nodes, "files": self.files, "fileLabels": self.file_labels(),
            "fileNodes": self.file_nodes, "header": self.header, "start": self.start,
            "shown": self.shown, "total": self.total, "limit": self.limit,
            "kinds": list(KINDS), "roles": list(ROLES), "msgtypes": list(MESSAGE_TYPES),
            "strings": self.columns.strings, "cuts": self.cuts, "reasons": dict(self.reasons),
            "overview": self.overview.to_json(), "violations": self.violations,
            "properties": self.properties, "verdict": self.verdict,
        }
        text = orjson.dumps(head).decode()
        yield text[:-1] + ',"ev":'
        yield from self.columns.parts()
        yield "}"

    def to_json(self) -> dict[str, Any]:
        return orjson.loads("".join(self.parts()))  # type: ignore[no-any-return]


def open_files(paths: list[Path], one_run: bool = True) -> list[TraceFile]:
    """The trace files, headers read; raises TraceError for a file given twice, and for files
    that are not one run (checker/runs.py) unless ``one_run`` is False (then only a different
    cluster is refused)."""
    seen: dict[Path, str] = {}
    files: list[TraceFile] = []
    try:
        for i, path in enumerate(paths):
            resolved = path.resolve()
            if resolved in seen:
                raise TraceError(str(path), 0, None, f"is given twice (also as {seen[resolved]})")
            seen[resolved] = str(path)
            files.append(TraceFile(FileSource(path), i))
        check_one_run(files, merge_anyway=not one_run)
    except BaseException:
        for f in files:
            f.close()
        raise
    return files


def _events(files: list[TraceFile]) -> Iterator[Event]:
    if len(files) == 1:
        for batch in files[0].batches():
            yield from batch
        return
    sent: set[str] = set()
    old: set[str] = set()

    def is_sent(msg_id: str) -> bool:
        return msg_id in sent or msg_id in old

    for event in merge(files, is_sent):
        if type(event[0]) is Send:
            if len(sent) >= SENT_GENERATION:
                old, sent = sent, set()
            sent.add(event[0].msg.id)
        yield event


def build(paths: list[Path], report: CheckReport | None, *, start: int = 0,
          limit: int = DEFAULT_LIMIT, names: list[str] | None = None,
          merge_anyway: bool = False) -> ReportData:
    """Read the trace (validated; raises TraceError) once and lay it out for the page: the
    overview of the whole run and the events at positions ``start`` .. ``start + limit - 1``.
    ``names``: what to call the files on the page (default: their paths). Several files must
    be one run (checker/runs.py) unless ``merge_anyway`` or a ``report`` is given (its check
    has applied the rule the caller chose). Raises ValueError when ``start`` is past the last
    event."""
    files = open_files([Path(p) for p in paths], one_run=report is None and not merge_anyway)
    header = files[0].header
    nodes = list(header["nodes"])
    node_ix = {n: i for i, n in enumerate(nodes)}
    data = ReportData(nodes, names or [str(p) for p in paths], header, Columns(nodes, len(files)),
                      Overview(len(nodes)), start=start, limit=limit)
    ov, cols, end = data.overview, data.columns, start + limit
    file_nodes: list[set[int]] = [set() for _ in files]
    cited = _cited_lines(report)
    found: dict[tuple[int, int], int] = {}  # cited (file, line) -> position

    def closed(period: Period) -> None:
        ov.mark_cut(period[0], period[1], period[2], period[3])
        if period[3] >= start and period[2] < end:
            data.cuts.append(period)

    tracker = PartitionTracker(closed)
    pos = -1
    for pos, (ev, loc) in enumerate(_events(files)):  # noqa: B007 - pos is the count after
        n = node_ix[ev.node]
        b = pos // ov.width if pos < ov.edge else ov.reach(pos)
        kind = ev.KIND
        ov.event(b, n, ev.term, ev.role, ev.commit, kind)
        cls = type(ev)
        if cls is Send:
            ov.sends[b] += 1
        elif cls is Receive:
            if tracker.open:
                tracker.delivered(node_ix[ev.msg.from_], n)
        elif cls is Drop:
            reason = "" if ev.reason is UNSET else ev.reason
            data.reasons[reason] += 1
            if reason == "partition":
                ov.cut[b] += 1
                tracker.dropped(node_ix[ev.msg.from_], node_ix[ev.msg.to], pos)
            elif reason != "crashed":
                ov.lost[b] += 1
        if start <= pos < end:
            cols.add(ev, n, loc)
        file_nodes[loc[0]].add(n)
        if cited and (loc[0], loc[1]) in cited:
            found[(loc[0], loc[1])] = pos
            ov.viol[b] += 1
    tracker.finish()
    data.total = pos + 1
    if start and start >= data.total:
        raise ValueError(f"--start {start} is past the last event: the run has " + (
            f"{data.total:,} events (positions 0-{data.total - 1})" if data.total
            else "no events"))
    data.file_nodes = [sorted(s) for s in file_nodes]
    if report is not None:
        _add_report(data, report, found)
    return data


def _cited_lines(report: CheckReport | None) -> set[tuple[int, int]]:
    if report is None:
        return set()
    file_ix = {name: i for i, name in enumerate(report.files)}
    return {(file_ix.get(c.file, -1), c.line) for v in report.violations for c in v.lines}


def _add_report(data: ReportData, report: CheckReport, found: dict[tuple[int, int], int]) -> None:
    data.verdict = "holds" if report.ok else "violated"
    file_ix = {name: i for i, name in enumerate(report.files)}
    data.properties = [{"name": p.name, "statement": p.statement, "reference": p.reference,
                        "verdict": p.verdict, "evaluated": p.evaluated,
                        "violations": len(p.violations) + p.truncated}
                       for p in report.properties]
    for v in report.violations:
        lines = []
        for c in v.lines:
            # Where each cited line is in the run (-1: the header), and in the page (-1: not
            # embedded).
            f = file_ix.get(c.file, -1)
            pos = found.get((f, c.line), -1)
            embedded = pos - data.start if data.start <= pos < data.start + data.shown else -1
            lines.append({**c.to_json(), "file": data.files[f] if f >= 0 else c.file,
                          "pos": pos, "event": embedded})
        data.violations.append({
            "property": v.property, "statement": v.statement, "explanation": v.explanation,
            "lines": lines, "events": [c["event"] for c in lines if c["event"] >= 0],
        })
