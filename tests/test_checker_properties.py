"""Properties on generated runs: correct runs pass; each corruption is caught by the property it
breaks. Plus order-independence (per-process files), determinism, and the predicates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checker import check_files, check_lines
from checker.properties import predicates as p
from tests.test_checker_corpus import (
    CORPUS,
    election_safety_two_leaders,
    leader_completeness_missing_entry,
    split_per_process,
)
from tests.test_checker_gen import TraceBuilder

OPS = ("propose", "rep2", "rep3", "commit", "crash2", "crash3", "reelect")


def build_run(ops: list[str]) -> TraceBuilder:
    """A correct 3-node run driven by ``ops``: n1 leads term 1; commits need a majority."""
    b = TraceBuilder()
    b.start_all()
    b.elect("n1", ("n2", "n3"))
    leader, data = "n1", 0
    for op in ops:
        ld = b.nodes[leader]
        if op == "propose":
            data += 1
            b.propose(leader, {"k": data})
        elif op in ("rep2", "rep3", "crash2", "crash3"):
            other = [n for n in ("n1", "n2", "n3") if n != leader][int(op[-1]) - 2]
            if op.startswith("rep"):
                b.replicate(leader, other)
            else:
                b.crash(other)
                b.restart(other)
        elif op == "commit":
            # Figure 2, Leaders rule 4: the highest index of the current term a majority holds.
            for n in range(len(ld.log), ld.commit, -1):
                holders = sum(1 for x in b.nodes.values() if x.log[:n] == ld.log[:n])
                if ld.log[n - 1]["term"] == ld.term and 2 * holders > len(b.nodes):
                    b.commit(leader, n)
                    break
        elif op == "reelect":
            # The leader steps down; the most up-to-date follower wins the next term with the
            # other follower's vote (§5.4.1: that one's log is no more up-to-date).
            others = [n for n in b.nodes if n != leader]
            best = max(others, key=lambda n: (b.nodes[n].log[-1]["term"] if b.nodes[n].log
                                              else 0, len(b.nodes[n].log)))
            b.event(leader, "role", role="follower", previous="leader")
            top = max(x.term for x in b.nodes.values())
            if b.nodes[best].term < top:  # it heard of the newest term (All Servers rule 2)
                b.event(best, "term", term=top, vote=None)
            b.elect(best, tuple(n for n in others if n != best))
            leader = best
    return b


runs = st.lists(st.sampled_from(OPS), min_size=1, max_size=25)


def lines_with(b: TraceBuilder, kind: str, node: str | None = None) -> list[int]:
    """Indexes in b.lines of events of ``kind`` (of ``node``)."""
    out = []
    for i, line in enumerate(b.lines[1:], start=1):
        ev = orjson.loads(line)
        if ev["kind"] == kind and (node is None or ev["node"] == node):
            out.append(i)
    return out


def replace(b: TraceBuilder, i: int, **fields: Any) -> None:
    ev = orjson.loads(b.lines[i])
    ev.update(fields)
    b.lines[i] = orjson.dumps(ev).decode()


@given(runs)
def test_generated_correct_runs_hold(ops: list[str]) -> None:
    report = build_run(ops).check()
    assert report.ok, [v.to_text() for v in report.violations]


@given(runs)
def test_a_second_leader_in_a_term_breaks_election_safety(ops: list[str]) -> None:
    b = build_run(ops)
    first = orjson.loads(b.lines[lines_with(b, "role")[-1]])
    other = next(n for n in b.nodes if n != first["node"])
    b.event(other, "role", role="leader", previous=b.nodes[other].role, term=first["term"],
            vote=other)
    assert "ElectionSafety" in b.check().violated


@given(runs)
def test_a_changed_entry_term_is_caught(ops: list[str]) -> None:
    b = build_run(["propose", "rep2", "commit", *ops])
    i = lines_with(b, "apply")[-1]
    ev = orjson.loads(b.lines[i])
    replace(b, i, entry={"term": ev["entry"]["term"] + 7, "data": ev["entry"]["data"]})
    violated = b.check().violated
    assert "ApplyOrder" in violated


@given(runs)
def test_a_lost_vote_record_breaks_vote_once(ops: list[str]) -> None:
    b = build_run(ops)
    voter = "n3" if b.nodes["n3"].vote not in (None, "n3") else "n2"
    n = b.nodes[voter]
    if n.vote is None:
        b.event(voter, "vote", vote="n1", candidate="n1")
    other = next(c for c in b.nodes if c not in (n.vote, voter))
    b.crash(voter)
    b.event(voter, "start", log=list(n.log), restart=True, vote=None)  # the vote was not durable
    b.event(voter, "vote", vote=other, candidate=other)
    report = b.check()
    assert "VoteOnce" in report.violated
    assert "CommittedDurable" in report.violated  # the restart lost the vote too


@given(runs)
def test_a_forged_commit_breaks_commit_justified(ops: list[str]) -> None:
    b = build_run(ops)
    leader = next(n for n in b.nodes.values() if n.role == "leader")
    b.propose(leader.name, "unreplicated")
    b.commit(leader.name, len(leader.log))
    assert "CommitJustified" in b.check().violated


@given(runs)
def test_a_dropped_commit_breaks_apply_order(ops: list[str]) -> None:
    b = build_run(["propose", "rep2", "commit", *ops])
    i = lines_with(b, "commit", "n1")[0]
    ev = orjson.loads(b.lines[i])
    node, before = ev["node"], ev["commit"] - ev["index"]  # committed from 0 in this run
    del b.lines[i]
    for k in range(i, len(b.lines)):  # the node never learned of the commit
        other = orjson.loads(b.lines[k])
        if other["node"] == node and other["kind"] == "commit":
            break
        if other["node"] == node:
            replace(b, k, commit=before)
    assert "ApplyOrder" in b.check().violated


def test_leader_completeness_is_checked_when_the_commit_is_seen_after_the_election(
        tmp_path: Path) -> None:
    files = split_per_process(leader_completeness_missing_entry(),
                              {"a.jsonl": ("n3",), "b.jsonl": ("n1", "n2")})
    paths = []
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        paths.append(tmp_path / name)
    report = check_files(paths)  # a.jsonl (n3 elected in term 2) is read before the commit
    assert report.violated == ["LeaderCompleteness"]
    cited = [(Path(c.file).name, c.line) for c in report.violations[0].lines]
    assert cited == [("a.jsonl", 6), ("b.jsonl", 21)]  # the role event; the commit


def test_multi_file_merge_puts_receives_after_sends(tmp_path: Path) -> None:
    # n2's file comes first, and its first receive waits for n1's RequestVote.
    for name in ("valid_per_process_n2n3.jsonl", "valid_per_process_n1.jsonl"):
        (tmp_path / name).write_bytes((CORPUS / name).read_bytes())
    report = check_files([tmp_path / "valid_per_process_n2n3.jsonl",
                          tmp_path / "valid_per_process_n1.jsonl"])
    assert report.ok and report.result("MessageRules").evaluated > 0


def test_every_violation_is_listed_once_and_checking_goes_on() -> None:
    b = election_safety_two_leaders()
    b.timeout("n2")
    b.timeout("n1")
    b.become_leader("n1")  # term 2: n1 ...
    b.event("n2", "role", role="leader", previous="candidate", term=2)  # ... and n2
    report = b.check()
    explanations = [v.explanation for v in report.violations]
    assert report.violated == ["ElectionSafety"]
    assert len(explanations) == 2 and "term 1" in explanations[0] and "term 2" in explanations[1]


def test_reports_are_deterministic() -> None:
    for name in ("committed_durable_lost_on_restart.jsonl", "valid_partition_stale_leader.jsonl"):
        first = check_files([CORPUS / name]).to_json()
        assert check_files([CORPUS / name]).to_json() == first


@settings(max_examples=10)
@given(runs)
def test_check_lines_equals_check_files(ops: list[str]) -> None:
    b = build_run(ops)
    assert check_lines(b.lines).to_json()["properties"] == \
        check_lines([line + "\n" for line in b.lines]).to_json()["properties"]


def test_predicates() -> None:
    assert p.at_most_one_leader(1, "a", 1, "a") and not p.at_most_one_leader(1, "a", 1, "b")
    assert p.at_most_one_leader(1, "a", 2, "b")
    assert p.leader_append_only(True, 4, 3) and not p.leader_append_only(True, 3, 3)
    assert p.leader_append_only(False, 1, 3)
    assert p.log_matching(1, 2, "x", "y") and not p.log_matching(1, 1, "x", "y")
    assert p.leader_complete(3, 3, False) and not p.leader_complete(2, 3, False)
    assert p.term_monotonic(2, 2) and not p.term_monotonic(3, 2)
    assert p.vote_once(1, "a", 2, "b") and not p.vote_once(1, "a", 1, "b")
    assert p.commit_justified(2, 2, 2, 3) and not p.commit_justified(2, 2, 1, 3)
    assert not p.commit_justified(1, 2, 3, 3) and not p.commit_justified(2, 2, 2, 4)
    assert p.committed_durable(3, 2) and not p.committed_durable(2, 2)
    assert p.apply_in_order(1, 5, True, 1, True) and not p.apply_in_order(1, 5, False, 1, True)
    assert not p.apply_in_order(2, 1, False, 1, True)
    assert p.log_up_to_date(2, 1, 1, 9) and not p.log_up_to_date(1, 8, 1, 9)
    assert not p.vote_reply_ok(True, 2, 3, True) and p.vote_reply_ok(False, 2, 3, False)
    assert not p.vote_reply_ok(False, 3, 2, True)
    assert p.append_reply_ok(True, 2, 2, 1, 1) and not p.append_reply_ok(True, 2, 2, None, 1)


@given(st.integers(0, 4), st.integers(0, 4), st.booleans(), st.integers(0, 4), st.booleans())
def test_apply_orders_fast_accept_implies_its_predicate(index: int, last_applied: int,
                                                        may_replay: bool, commit: int,
                                                        same: bool) -> None:
    """ApplyOrder.on_apply returns early on the common case without calling apply_in_order:
    that case must be one the predicate accepts."""
    if same and index == last_applied + 1 and index <= commit:
        assert p.apply_in_order(index, last_applied, may_replay, commit, same)


@given(st.booleans(), st.integers(0, 3), st.integers(0, 3), st.lists(st.integers(0, 3),
                                                                    max_size=4),
       st.integers(0, 5), st.integers(0, 3))
def test_message_rules_fast_accept_of_an_append_reply_implies_its_predicate(
        success: bool, request_term: int, reply_term: int, log_terms: list[int], prev: int,
        prev_log_term: int) -> None:
    """MessageRules.on_reply returns early on an AppendEntriesResponse of the leader's term
    whose success matches the log at prev_log_index, without calling append_reply_ok: that case
    must be one the predicate accepts, and the one it rejects must not be taken."""
    at_prev = 0 if prev == 0 else log_terms[prev - 1] if prev <= len(log_terms) else None
    fast = reply_term == request_term and (at_prev == prev_log_term) == success
    if fast:
        assert p.append_reply_ok(success, request_term, reply_term, at_prev, prev_log_term)
    elif reply_term == request_term:
        assert not p.append_reply_ok(success, request_term, reply_term, at_prev, prev_log_term)


@given(st.tuples(st.integers(0, 2), st.binary(max_size=2)),
       st.tuples(st.integers(0, 2), st.binary(max_size=2)))
def test_state_machine_safetys_fast_accept_implies_its_predicate(a: tuple[int, bytes],
                                                                 b: tuple[int, bytes]) -> None:
    """StateMachineSafety.on_apply skips the predicate for equal keys: equal keys are safe."""
    if a == b:
        assert p.state_machine_safe(a, b)


@pytest.mark.parametrize("gap_first", [True, False])
def test_state_machine_safety_across_an_apply_out_of_turn(gap_first: bool) -> None:
    """A node that applies index 3 before any node applied 1 and 2 (ApplyOrder's business) is
    still compared at index 3 with what the others apply there, whichever comes first."""
    def entry(data: str) -> dict[str, Any]:
        return {"term": 1, "data": data}

    b = TraceBuilder()
    b.start_all()

    def n1() -> int:
        return b.event("n1", "apply", index=3, entry=entry("x"), commit=3)

    def n2(third: str) -> int:
        for i, data in enumerate(("a", "b", third), start=1):
            line = b.event("n2", "apply", index=i, entry=entry(data), commit=3)
        return line

    lines = (n1(), n2("y")) if gap_first else (n2("y"), n1())
    report = b.check(only=["StateMachineSafety"])
    assert report.violated == ["StateMachineSafety"]
    assert sorted(c.line for c in report.violations[0].lines) == sorted(lines)
    # A third node applying what was applied first at 3 adds nothing; something else does.
    b.event("n3", "apply", index=3, entry=entry("x" if gap_first else "y"), commit=3)
    assert len(b.check(only=["StateMachineSafety"]).violations) == 1
    b.event("n3", "apply", index=3, entry=entry("z"), commit=3)
    assert len(b.check(only=["StateMachineSafety"]).violations) == 2
