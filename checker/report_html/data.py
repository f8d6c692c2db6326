"""What the HTML report draws, computed once in Python and embedded in the page as JSON.

Events are placed on one axis by their position in the trace (several files are merged as the
checker merges them, each receive after its send). Per node: bands of (role, term), and ``down``
from a crash to the restart. Per message: an arrow from its send to each receive, or to the drop
at the addressee (``dropped``). Per violation: the events its cited lines point at.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker.events import to_dict
from checker.reader import Event
from checker.report import CheckReport
from checker.schema import KINDS, MESSAGE_TYPES
from checker.store.rows import read_events

ROLES = ("follower", "candidate", "leader", "down")
DOWN = 3
DEFAULT_LIMIT = 20_000  # events embedded in one page (the page pages through them)


class _PageFull(Exception):
    """Every event the page embeds is read: stop reading the trace."""


@dataclass
class ReportData:
    """The page's data, as columns (compact JSON for 10^4 events and more)."""

    nodes: list[str]
    files: list[str]
    header: dict[str, Any]
    start: int = 0  # position in the trace of the first embedded event
    total: int = 0  # events in the trace (read up to the last one embedded, plus one)
    more: bool = False  # the trace goes on after the last embedded event (not read further)
    seq: list[int] = field(default_factory=list)
    node: list[int] = field(default_factory=list)
    kind: list[int] = field(default_factory=list)
    term: list[int] = field(default_factory=list)
    role: list[int] = field(default_factory=list)
    commit: list[int] = field(default_factory=list)
    file: list[int] = field(default_factory=list)
    line: list[int] = field(default_factory=list)
    info: list[str] = field(default_factory=list)
    #: [node, first event, end event (exclusive), role index, term]
    bands: list[list[int]] = field(default_factory=list)
    #: [from event, to event, message type index, dropped (0/1)]
    arrows: list[list[int]] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)
    properties: list[dict[str, Any]] = field(default_factory=list)
    verdict: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "nodes": self.nodes, "files": self.files, "header": self.header,
            "start": self.start, "total": self.total, "more": self.more,
            "shown": len(self.seq),
            "kinds": list(KINDS), "roles": list(ROLES), "msgtypes": list(MESSAGE_TYPES),
            "ev": {"seq": self.seq, "node": self.node, "kind": self.kind, "term": self.term,
                   "role": self.role, "commit": self.commit, "file": self.file,
                   "line": self.line, "info": self.info},
            "bands": self.bands, "arrows": self.arrows, "violations": self.violations,
            "properties": self.properties, "verdict": self.verdict,
        }


def _js(value: Any) -> str:
    return "true" if value is True else "false" if value is False else str(value)


def describe(ev: dict[str, Any]) -> str:
    """One short line about an event, for its tooltip."""
    kind = ev["kind"]
    msg = ev.get("msg")
    if msg is not None:
        arrow = f"{msg['type']} {msg['from']}→{msg['to']} t{msg['term']}"
        if msg["type"] == "AppendEntries":
            arrow += (f" prev={msg['prev_log_index']}/{msg['prev_log_term']}"
                      f" entries={len(msg['entries'])} leaderCommit={msg['leader_commit']}")
        elif msg["type"] == "RequestVote":
            arrow += f" last={msg['last_log_index']}/{msg['last_log_term']}"
        elif msg["type"] == "RequestVoteResponse":
            arrow += f" granted={_js(msg['granted'])}"
        elif msg["type"] == "AppendEntriesResponse":
            arrow += f" success={_js(msg['success'])} match={msg['match_index']}"
        text = f"{kind} {arrow} (id {msg['id']})"
        if kind == "drop" and ev.get("reason"):
            text += f" reason={ev['reason']}"
        return text
    if kind == "start":
        return f"start restart={_js(ev['restart'])} log={len(ev['log'])} entries"
    if kind in ("append", "truncate", "commit", "apply"):
        extra = f" +{len(ev['entries'])} entries" if kind == "append" else ""
        return f"{kind} index {ev['index']}{extra}"
    if kind == "vote":
        return f"vote for {ev['candidate']}"
    if kind == "role":
        return f"role {ev.get('previous', '?')} → {ev['role']}"
    if kind == "propose":
        return f"propose accepted={_js(ev['accepted'])}" + (
            f" index {ev['index']}" if ev.get("index") is not None else "")
    return kind


def build(paths: list[Path], report: CheckReport | None, *, start: int = 0,
          limit: int = DEFAULT_LIMIT) -> ReportData:
    """Read the trace (validated; raises TraceError) and lay it out for the page: the events
    at positions ``start`` .. ``start + limit - 1``, with every arrow between two of them."""
    from checker.reader import FileSource, TraceFile

    first = TraceFile(FileSource(paths[0]), 0)
    first.close()
    nodes = list(first.header["nodes"])
    data = ReportData(nodes, [str(p) for p in paths], first.header, start=start)
    node_ix = {n: i for i, n in enumerate(nodes)}
    kind_ix = {k: i for i, k in enumerate(KINDS)}
    role_ix = {r: i for i, r in enumerate(ROLES)}
    type_ix = {t: i for i, t in enumerate(MESSAGE_TYPES)}
    where: dict[tuple[int, int], int] = {}  # (file, line) -> embedded event index
    sent: dict[str, int] = {}
    open_band: dict[int, list[int]] = {}
    end = start + limit
    position = 0

    def take(batch: list[Event]) -> None:
        nonlocal position
        for event, loc in batch:
            pos = position
            position += 1
            if pos >= end:
                data.more = True
                raise _PageFull
            if pos < start:
                continue
            i = pos - start
            ev = to_dict(event)
            n = node_ix[ev["node"]]
            kind = ev["kind"]
            data.seq.append(ev["seq"])
            data.node.append(n)
            data.kind.append(kind_ix[kind])
            data.term.append(ev["term"])
            data.role.append(role_ix[ev["role"]])
            data.commit.append(ev["commit"])
            data.file.append(loc[0])
            data.line.append(loc[1])
            data.info.append(describe(ev))
            where[(loc[0], loc[1])] = i
            band = open_band.get(n)
            # Down from a crash to the next start; a drop addressed to a node that is down
            # carries its last known state, not a restart.
            down = kind == "crash" or (band is not None and band[3] == DOWN and kind != "start")
            role = DOWN if down else role_ix[ev["role"]]
            if band is None or band[3] != role or (not down and band[4] != ev["term"]):
                if band is not None:
                    band[2] = i
                band = [n, i, i + 1, role, ev["term"]]
                open_band[n] = band
                data.bands.append(band)
            msg = ev.get("msg")
            if msg is not None:
                if kind == "send":
                    sent[msg["id"]] = i
                elif msg["id"] in sent:
                    data.arrows.append([sent[msg["id"]], i, type_ix[msg["type"]],
                                        int(kind == "drop")])

    try:
        read_events(paths, take)
    except _PageFull:
        pass
    data.total = position
    last = len(data.seq)
    for band in open_band.values():
        band[2] = last
    if report is not None:  # the check read the whole trace: its count is the total
        data.total, data.more = max(data.total, report.events), False
        _add_report(data, report, where)
    return data


def _add_report(data: ReportData, report: CheckReport, where: dict[tuple[int, int], int]) -> None:
    data.verdict = "holds" if report.ok else "violated"
    file_ix = {name: i for i, name in enumerate(report.files)}
    data.properties = [{"name": p.name, "statement": p.statement, "reference": p.reference,
                        "verdict": p.verdict, "evaluated": p.evaluated,
                        "violations": len(p.violations) + p.truncated}
                       for p in report.properties]
    for v in report.violations:
        # The event each cited line shows (-1: the header, or a line outside the page).
        at = [where.get((file_ix.get(c.file, -1), c.line), -1) for c in v.lines]
        data.violations.append({
            "property": v.property, "statement": v.statement, "explanation": v.explanation,
            "lines": [{**c.to_json(), "event": i} for c, i in zip(v.lines, at, strict=True)],
            "events": [i for i in at if i >= 0],
        })
