"""The checking loop's per-kind branches (checker/engine.py) say exactly what the general path
(:meth:`Rebuild.step` for every event) says: the same report, or the same error, on every trace
of the repository and on traces whose events are altered at random."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from checker import TraceError
from checker.engine import Engine, select_properties
from checker.reader import MemorySource, TraceFile
from checker.sources import open_source
from tests.test_checker_gen import TraceBuilder, normal_run

ROOT = Path(__file__).resolve().parent.parent


def raft_traces() -> list[Path]:
    """Every raft-trace file of the repository (conformance corpus, counterexamples, ...)."""
    out = []
    for path in sorted((ROOT / "traces").rglob("*.jsonl")):
        with path.open("rb") as f:
            if b'"raft-trace"' in f.readline():
                out.append(path)
    return out


def outcome(files: list[TraceFile], branches: bool) -> Any:
    """The report as JSON, or the error's text."""
    try:
        engine = Engine(files, select_properties(), partial=True, branches=branches)
        return engine.run().to_json()
    except TraceError as exc:
        return f"error: {exc}"


def both(make: Any) -> tuple[Any, Any]:
    return outcome(make(), True), outcome(make(), False)


def test_the_repository_traces_are_judged_alike_on_both_paths() -> None:
    paths = raft_traces()
    assert len(paths) > 20
    for path in paths:
        fast, plain = both(lambda p=path: [TraceFile(open_source(p), 0)])
        assert fast == plain, path


def test_several_files_merged_are_judged_alike_on_both_paths() -> None:
    corpus = ROOT / "traces" / "conformance"
    groups = [sorted(corpus.glob("valid_per_process_*.jsonl")),
              sorted(corpus.glob("message_rules_per_process_*.jsonl"))]
    for group in groups:
        assert len(group) == 2
        fast, plain = both(lambda g=group: [TraceFile(open_source(p), i)
                                            for i, p in enumerate(g)])
        assert fast == plain, group


def busy_run() -> TraceBuilder:
    """A correct run with a crash, a restart, a dropped message and a duplicate delivery in
    it, so that every branch of the loop is taken."""
    b = normal_run(proposals=3)
    b.crash("n3")
    b.restart("n3")
    b.replicate("n1", "n3")
    heartbeat = {"prev_log_index": 0, "prev_log_term": 0, "entries": [], "leader_commit": 0}
    lost = b.send("n1", "n2", "AppendEntries", **heartbeat)
    b.event("n2", "drop", msg=lost)
    twice = b.send("n1", "n3", "AppendEntries", **heartbeat)
    b.receive(twice)
    b.receive(twice)
    return b


BUSY = busy_run().lines
FIELDS = ("term", "commit", "role", "vote", "seq", "index", "node", "msg.term", "msg.id",
          "msg.to", "msg.match_index", "msg.prev_log_index")
VALUES = st.one_of(st.integers(0, 3), st.sampled_from(["n1", "n2", "n3", "leader",
                                                        "follower", "candidate"]), st.none())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, len(BUSY) - 1), st.sampled_from(FIELDS), VALUES),
                min_size=1, max_size=3))
def test_altered_events_are_judged_alike_on_both_paths(
        changes: list[tuple[int, str, Any]]) -> None:
    lines = list(BUSY)
    for at, field, value in changes:
        ev = orjson.loads(lines[at])
        *outer, name = field.split(".")
        target = ev[outer[0]] if outer and outer[0] in ev else ev
        if name in target or (not outer and name == "index"):
            target[name] = value
        lines[at] = orjson.dumps(ev).decode()
    fast, plain = both(lambda: [TraceFile(MemorySource(lines, "altered.jsonl"), 0)])
    assert fast == plain
