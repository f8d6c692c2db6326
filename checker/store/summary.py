"""Named reports over a trace store: runs, verdicts, violations per property, elections.

Elections are read from ``role`` events (the schema's way of saying a node's role changed,
and what ElectionSafety evaluates) and ``crash`` events. A node leads from its ``role`` event
to leader until its next ``role`` event or its crash. The **longest election** of a run is the
longest stretch of the trace during which no node leads that ended with a leader elected: it
starts at the run's first event or when the last leading node steps down or crashes, and ends
at the next ``role`` event to leader (any node, any term). Its length is counted in trace events
(rows of the run from the start of the stretch to the election). A stretch still open when the
trace ends elected nobody and is not counted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker.properties import PROPERTY_NAMES
from checker.store.db import UnknownRunError, connect, translate_errors


@dataclass(frozen=True)
class Election:
    """A leaderless stretch that ended with ``leader`` elected in ``term``."""

    from_seq: int
    to_seq: int
    events: int
    term: int
    leader: str
    cause: str  # "start of trace", or what ended the previous leadership: "n2 stepped down"


@dataclass
class RunElections:
    run_id: int
    terms: int = 0  # distinct terms seen in the run's events
    terms_with_leader: int = 0
    most_leaders_in_a_term: int = 0
    #: term -> [(leader, seq at which it became leader)] in trace order
    leaders: dict[int, list[tuple[str, int]]] = field(default_factory=dict)
    elections: int = 0
    longest: Election | None = None


@dataclass
class Summary:
    runs: list[dict[str, Any]]
    verdicts: dict[str, int]
    #: property -> (runs checked, runs violated, violations)
    properties: dict[str, tuple[int, int, int]]
    elections: list[RunElections]


def summarize(db_path: str | Path, *, run_ids: list[int] | None = None,
              timeout: float = 5.0) -> Summary:
    """The figures of ``raftref db summary`` (read-only): every run, or the runs ``run_ids``
    (UnknownRunError, naming the ids the store holds, if one is not stored)."""
    path = Path(db_path)
    db = connect(path, readonly=True, timeout=timeout)
    try:
        with translate_errors(path, timeout):
            runs = []
            if "runs" in db.table_names():
                runs = list(db.query(
                    "SELECT id, source, origin, implementation, impl_version, nodes, events, "
                    "verdict, violations, violated FROM runs ORDER BY id"))
            if run_ids is not None:
                stored = [r["id"] for r in runs]
                missing = sorted(set(run_ids) - set(stored))
                if missing:
                    raise UnknownRunError(unknown_runs(path, missing, stored))
                wanted = set(run_ids)
                runs = [r for r in runs if r["id"] in wanted]
            verdicts: dict[str, int] = defaultdict(int)
            for r in runs:
                verdicts[r["verdict"] or "not checked"] += 1
            properties = _properties(db, [r["id"] for r in runs])
            elections = [elections_of(db, r["id"]) for r in runs]
    finally:
        db.close()
    return Summary(runs, dict(verdicts), properties, elections)


def unknown_runs(path: Path, missing: list[int], stored: list[int]) -> str:
    """'DB: no run 9 (runs stored: 1-4, 7)': the ids asked for that are not stored, and the
    ones that are, as ranges."""
    asked = f"no run {missing[0]}" if len(missing) == 1 else \
        f"no runs {', '.join(map(str, missing))}"
    if not stored:
        return f"{path}: {asked} (no runs stored yet)"
    return f"{path}: {asked} (runs stored: {id_ranges(stored)})"


def id_ranges(ids: list[int], most: int = 10) -> str:
    """Sorted ids as ranges, '1-4, 7, 9-12', the first ``most`` of them then how many more."""
    spans: list[list[int]] = []
    for i in sorted(ids):
        if spans and i == spans[-1][1] + 1:
            spans[-1][1] = i
        else:
            spans.append([i, i])
    text = [str(a) if a == b else f"{a}-{b}" for a, b in spans]
    if len(text) > most:
        return ", ".join(text[:most]) + f" and {len(text) - most} more ranges"
    return ", ".join(text)


def _properties(db: Any, ids: list[int]) -> dict[str, tuple[int, int, int]]:
    if not ids:
        return {}
    marks = ",".join("?" * len(ids))
    rows = db.execute(
        "SELECT property, count(*), sum(verdict = 'violated'), sum(violations) FROM results "
        f"WHERE run_id IN ({marks}) GROUP BY property", ids).fetchall()
    found = {name: (checked, bad or 0, total or 0) for name, checked, bad, total in rows}
    order = [p for p in PROPERTY_NAMES if p in found] + sorted(set(found) - set(PROPERTY_NAMES))
    return {p: found[p] for p in order}


def elections_of(db: Any, run_id: int) -> RunElections:
    """Leaders per term and the longest election of one stored run (see the module doc)."""
    out = RunElections(run_id)
    out.terms = db.execute("SELECT count(DISTINCT term) FROM events WHERE run_id = ?",
                           [run_id]).fetchone()[0]
    first = db.execute("SELECT rowid, seq FROM events WHERE run_id = ? ORDER BY rowid LIMIT 1",
                       [run_id]).fetchone()
    if first is None:
        return out
    rows = db.execute(
        "SELECT rowid, seq, node, kind, role, term FROM events INDEXED BY idx_events_kind "
        "WHERE kind IN ('role', 'crash') AND run_id = ? ORDER BY rowid", [run_id])
    leading: set[str] = set()  # nodes whose latest role event made them leader
    gap: tuple[int, int, str] | None = (first[0], first[1], "start of trace")
    for rowid, seq, node, kind, role, term in rows:
        if kind == "role" and role == "leader":
            out.leaders.setdefault(term, []).append((node, seq))
            if gap is not None:
                out.elections += 1
                election = Election(gap[1], seq, rowid - gap[0], term, node, gap[2])
                if out.longest is None or election.events > out.longest.events:
                    out.longest = election
                gap = None
            leading.add(node)
        elif node in leading:
            leading.discard(node)
            if not leading:
                gap = (rowid, seq, f"{node} {'crashed' if kind == 'crash' else 'stepped down'}")
    out.terms_with_leader = len(out.leaders)
    out.most_leaders_in_a_term = max((len({n for n, _ in v}) for v in out.leaders.values()),
                                     default=0)
    return out
