"""The conformance corpus (traces/conformance/): how each trace is built, and the test that the
checker gives exactly the expected verdict and cites exactly the expected lines.

``python -m tests.test_checker_corpus`` rewrites the corpus files and expected.json from the
builders below (review the diff: expected.json is the contract other implementations run).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from checker import check_files
from tests.test_checker_gen import TraceBuilder, normal_run

CORPUS = Path(__file__).resolve().parent.parent / "traces" / "conformance"


# ------------------------------------------------------------------ violating traces


def election_safety_two_leaders() -> TraceBuilder:
    """n1 wins term 1 with n2's vote; n3 then declares itself leader of term 1 too."""
    b = TraceBuilder()
    b.start_all()
    b.elect("n1", ("n2",))
    b.timeout("n3")
    b.become_leader("n3")
    return b


def leader_append_only_truncate() -> TraceBuilder:
    """n1, leader of term 1, truncates its own uncommitted entry."""
    b = TraceBuilder()
    b.start_all()
    b.elect("n1", ("n2",))
    b.propose("n1", "x")
    b.truncate("n1", 2)
    return b


def leader_append_only_overwrite() -> TraceBuilder:
    """n1, leader of term 1, writes index 2 again (the same entry): an append below its end."""
    b = TraceBuilder()
    b.start_all()
    b.elect("n1", ("n2",))
    b.propose("n1", "x")
    b.append("n1", [{"term": 1, "data": "x"}], index=2)
    return b


def log_matching_fork() -> TraceBuilder:
    """n2 writes, with no AppendEntries, an entry of term 1 at index 1 other than the leader's."""
    b = TraceBuilder()
    b.start_all()
    b.elect("n1", ("n2",))
    b.propose("n1", "x")
    b.append("n2", [{"term": 1, "data": "forged"}, {"term": 1, "data": "x"}])
    return b


def leader_completeness_missing_entry() -> TraceBuilder:
    """Index 2 is committed in term 1 (n1, n2); n3 with an empty log then leads term 2."""
    b = TraceBuilder()
    b.start_all()
    b.elect("n1", ("n2",))
    b.propose("n1", "x")
    b.replicate("n1", "n2")
    b.commit("n1", 2)
    b.timeout("n3")  # term 1: no votes
    b.timeout("n3")  # term 2
    b.become_leader("n3")
    return b


def state_machine_safety_different_apply() -> TraceBuilder:
    """n1 applies (term 1, "x") at index 2; n3, which started with another entry there (term 2,
    "y") and commits as a follower, applies that."""
    b = TraceBuilder()
    n3 = b.nodes["n3"]
    n3.log = [{"term": 1, "data": None}, {"term": 2, "data": "y"}]
    b.start("n1")
    b.start("n2")
    n3.up = True
    b.event("n3", "start", log=list(n3.log), restart=False, term=2)
    b.elect("n1", ("n2",))
    b.propose("n1", "x")
    b.replicate("n1", "n2")
    b.commit("n1", 2)
    b.commit("n3", 2)
    return b


def term_monotonic_decrease() -> TraceBuilder:
    """n2 adopts term 1 from n1's RequestVote, then shows term 0."""
    b = TraceBuilder()
    b.start_all()
    b.elect("n1", ("n2",))
    b.event("n2", "propose", data="x", accepted=False, leader="n1", term=0, vote=None)
    return b


def vote_once_two_candidates() -> TraceBuilder:
    """n2 grants its term-1 vote to n1, then to n3 (same term)."""
    b = TraceBuilder()
    b.start_all()
    b.timeout("n1")
    b.timeout("n3")
    b.request_vote("n1", "n2")
    b.request_vote("n3", "n2")
    return b


def commit_justified_no_majority() -> TraceBuilder:
    """n1 commits index 2 that no other node holds."""
    b = TraceBuilder()
    b.start_all()
    b.elect("n1", ("n2",))
    b.propose("n1", "x")
    b.commit("n1", 2)
    return b


def commit_justified_old_term() -> TraceBuilder:
    """Figure 8: n1, leader again in term 2, commits index 2 of term 1 by counting replicas."""
    b = TraceBuilder()
    b.start_all()
    b.elect("n1", ("n2",))
    b.propose("n1", "x")
    b.replicate("n1", "n2")
    b.elect("n1", ("n2",))
    b.commit("n1", 2)
    return b


def committed_durable_lost_on_restart() -> TraceBuilder:
    """n2 holds and commits index 2, crashes, and restarts with a log of one entry."""
    b = normal_run(proposals=1)
    b.crash("n2")
    del b.nodes["n2"].log[1:]
    b.restart("n2")
    return b


def committed_durable_truncate() -> TraceBuilder:
    """n2, a follower with commit index 2, truncates index 2."""
    b = normal_run(proposals=1)
    b.truncate("n2", 2)
    return b


def apply_order_skip() -> TraceBuilder:
    """n1 commits index 2 and applies it before index 1."""
    b = TraceBuilder()
    b.start_all()
    b.elect("n1", ("n2",))
    b.propose("n1", "x")
    b.replicate("n1", "n2")
    b.commit("n1", 2, apply=False)
    b.event("n1", "apply", index=2, entry={"term": 1, "data": "x"})
    return b


def message_rules_vote_stale_log() -> TraceBuilder:
    """n2 holds entries of term 1 and grants its term-2 vote to n3, whose log is empty."""
    b = TraceBuilder()
    b.start_all()
    b.elect("n1", ("n2",))
    b.propose("n1", "x")
    b.replicate("n1", "n2")
    b.timeout("n3")  # term 1: no votes
    b.timeout("n3")  # term 2
    b.request_vote("n3", "n2")
    return b


def message_rules_invented_receive() -> TraceBuilder:
    """n2 receives an AppendEntries that n1 never sent."""
    b = TraceBuilder()
    b.start_all()
    b.elect("n1", ("n2",))
    b.receive({"type": "AppendEntries", "id": "n1.0.99", "from": "n1", "to": "n2", "term": 1,
               "prev_log_index": 0, "prev_log_term": 0, "entries": [], "leader_commit": 0})
    return b


FIVE = ("n1", "n2", "n3", "n4", "n5")


def commit_justified_joint_no_majority() -> TraceBuilder:
    """Joint configuration (voters n1 n2 n3, outgoing n1 n4 n5): n1 commits with n2 and n3,
    a majority of the new voters and of all five ids, but only n1 of the outgoing voters."""
    b = TraceBuilder(FIVE)
    b.start_all()
    b.elect("n1", ("n2", "n3"))
    b.event("n1", "config", voters=["n1", "n2", "n3"], outgoing=["n1", "n4", "n5"])
    b.propose("n1", "x")
    b.replicate("n1", "n2")
    b.replicate("n1", "n3")
    b.commit("n1", 2)
    return b


# ------------------------------------------------------------------ valid traces


def valid_election_replication() -> TraceBuilder:
    """3 nodes: election, replication, commit and apply everywhere."""
    b = normal_run(proposals=3)
    b.replicate("n1", "n3")
    return b


def valid_crash_restart() -> TraceBuilder:
    """n2 crashes after committing, restarts from its persisted state and replays from 1."""
    b = normal_run(proposals=2)
    b.crash("n2")
    b.restart("n2")
    b.replicate("n1", "n2")
    return b


def valid_membership_shrunk() -> TraceBuilder:
    """Five ids, but n1's configuration is n1 n2 n3: its commit with n2's copy alone is a
    majority of the configuration in force (not of the header's five nodes)."""
    b = TraceBuilder(FIVE)
    b.start_all()
    b.elect("n1", ("n2", "n3"))
    for node in ("n1", "n2", "n3"):
        b.event(node, "config", voters=["n1", "n2", "n3"])
    b.propose("n1", "x")
    b.replicate("n1", "n2")
    b.commit("n1", 2)
    return b


def valid_partition_stale_leader() -> TraceBuilder:
    """n1 leads term 1 and is cut off with an uncommitted entry; n2 leads term 2; n1's stale
    heartbeat is refused, it steps down, and n2 repairs its log (truncate, append)."""
    b = TraceBuilder()
    b.start_all()
    b.elect("n1", ("n2", "n3"))
    b.replicate("n1", "n2")
    b.commit("n1", 1)
    b.replicate("n1", "n3")
    b.propose("n1", "lost")  # the partition starts: nothing leaves n1
    b.elect("n2", ("n3",))
    b.propose("n2", "y")
    b.replicate("n2", "n3")
    b.commit("n2", 3)
    stale = b.send("n1", "n3", "AppendEntries", prev_log_index=2, prev_log_term=1, entries=[],
                   leader_commit=1)  # the partition heals
    b.receive(stale)
    n3 = b.nodes["n3"]
    refusal = b.send("n3", "n1", "AppendEntriesResponse", reply_to=stale["id"], success=False,
                     match_index=len(n3.log), conflict_term=2, conflict_index=2)
    b.receive(refusal)
    b.replicate("n2", "n1")
    b.replicate("n2", "n3")
    return b


SINGLE: dict[str, Callable[[], TraceBuilder]] = {
    f.__name__: f for f in (
        election_safety_two_leaders, leader_append_only_truncate, leader_append_only_overwrite,
        log_matching_fork, leader_completeness_missing_entry,
        state_machine_safety_different_apply, term_monotonic_decrease, vote_once_two_candidates,
        commit_justified_no_majority, commit_justified_old_term,
        committed_durable_lost_on_restart, committed_durable_truncate, apply_order_skip,
        message_rules_vote_stale_log, message_rules_invented_receive,
        valid_election_replication, valid_crash_restart, valid_partition_stale_leader,
        commit_justified_joint_no_majority, valid_membership_shrunk,
    )
}


def split_per_process(b: TraceBuilder, groups: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """One file per process group: each keeps its own events in order, renumbered."""
    header = dict(b.header, clock="per-process")
    out: dict[str, list[str]] = {name: [orjson.dumps(header).decode()] for name in groups}
    seqs = dict.fromkeys(groups, 0)
    for line in b.lines[1:]:
        ev = orjson.loads(line)
        for name, members in groups.items():
            if ev["node"] in members:
                ev["seq"] = seqs[name]
                seqs[name] += 1
                out[name].append(orjson.dumps(ev).decode())
    return {name: "\n".join(lines) + "\n" for name, lines in out.items()}


def multi_file_cases() -> dict[str, dict[str, str]]:
    """Cases of several files (one per process), checked together."""
    valid = normal_run(proposals=2)
    valid.replicate("n1", "n3")
    unsent = message_rules_invented_receive()
    return {
        "valid_per_process": split_per_process(valid, {
            "valid_per_process_n1.jsonl": ("n1",),
            "valid_per_process_n2n3.jsonl": ("n2", "n3")}),
        "message_rules_per_process_unsent": split_per_process(unsent, {
            "message_rules_per_process_unsent_n1.jsonl": ("n1", "n3"),
            "message_rules_per_process_unsent_n2.jsonl": ("n2",)}),
    }


# ------------------------------------------------------------------ expected verdicts


def verdict(paths: list[Path]) -> dict[str, list[str]]:
    """{property: sorted "file:line" cited by its violations} for the traces at ``paths``."""
    report = check_files(paths)
    out: dict[str, list[str]] = {}
    for v in report.violations:
        cited = {f"{Path(c.file).name}:{c.line}" for c in v.lines}
        out.setdefault(v.property, [])
        out[v.property] = sorted(set(out[v.property]) | cited,
                                 key=lambda s: (s.split(":")[0], int(s.split(":")[1])))
    return out


def write_corpus() -> None:
    """Regenerate traces/conformance/*.jsonl and expected.json."""
    CORPUS.mkdir(parents=True, exist_ok=True)
    expected: dict[str, dict[str, object]] = {}
    for name, build in SINGLE.items():
        b = build()
        path = CORPUS / f"{name}.jsonl"
        path.write_text(b.text())
        expected[name] = {"files": [path.name], "description": " ".join(build.__doc__.split()),
                          "violated": verdict([path])}
    for name, files in multi_file_cases().items():
        paths = []
        for fname, text in files.items():
            (CORPUS / fname).write_text(text)
            paths.append(CORPUS / fname)
        expected[name] = {"files": [p.name for p in paths], "description": "per-process files",
                          "violated": verdict(paths)}
    (CORPUS / "expected.json").write_bytes(
        orjson.dumps(expected, option=orjson.OPT_INDENT_2) + b"\n")


# ------------------------------------------------------------------ the tests


def load_expected() -> dict[str, dict[str, object]]:
    return orjson.loads((CORPUS / "expected.json").read_bytes())


EXPECTED = load_expected() if (CORPUS / "expected.json").exists() else {}


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_conformance_case(case: str) -> None:
    spec = EXPECTED[case]
    paths = [CORPUS / f for f in spec["files"]]  # type: ignore[union-attr]
    assert verdict(paths) == spec["violated"]


def test_every_property_has_a_trace_violating_it_alone() -> None:
    from checker import PROPERTY_NAMES

    alone = {next(iter(s["violated"])) for s in EXPECTED.values()  # type: ignore[arg-type]
             if len(s["violated"]) == 1}  # type: ignore[arg-type]
    assert alone == set(PROPERTY_NAMES)
    assert sum(1 for s in EXPECTED.values() if not s["violated"]) >= 4


def test_corpus_files_are_what_the_builders_write(tmp_path: Path) -> None:
    for name, build in SINGLE.items():
        assert (CORPUS / f"{name}.jsonl").read_text() == build().text(), name
    for files in multi_file_cases().values():
        for fname, text in files.items():
            assert (CORPUS / fname).read_text() == text, fname


def test_every_corpus_line_is_schema_valid() -> None:
    import jsonschema

    from checker.schema import load_schema

    validator = jsonschema.Draft202012Validator(load_schema())
    for path in sorted(CORPUS.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            validator.validate(orjson.loads(line))


if __name__ == "__main__":
    write_corpus()
    sys.exit(0)
