"""Log replication, one test per statement of the paper's Figure 2 (Rules for Servers: All
Servers rule 1, Leaders; AppendEntries RPC receiver implementation), thesis section 5.3's
conflict hints, and the client rules of section 8.

The mutant tests at the end show each replication mutant breaks exactly the rule it is named for.
"""

from __future__ import annotations

import pytest

from raftref.protocol.messages import AppendEntries, Entry
from raftref.protocol.node import CANDIDATE, FOLLOWER, LEADER, Node

from .raft_harness import (
    HEARTBEAT,
    TIMEOUT,
    Cluster,
    append_entries,
    append_reply,
    elected,
    log_of,
    make_node,
    names,
    only,
    put,
    request_vote,
    terms,
    tick,
    vote,
)


def appends_to(node: Node, readys: list, dst: str) -> list[AppendEntries]:
    return [m for r in readys for m in r.messages if isinstance(m, AppendEntries) and m.dst == dst]


# ---------------------------------------------------------------------------- All Servers


def test_committed_entries_are_applied_once_each_in_log_order() -> None:
    """If commitIndex > lastApplied: increment lastApplied and apply log[lastApplied] to the
    state machine (Figure 2, All Servers rule 1): every committed entry, in index order, once;
    nothing beyond commitIndex."""
    node = make_node("s2")
    entries = log_of(1, 1, 1, 1)
    ready = node.receive(append_entries("s1", "s2", 1, 0, 0, entries, leader_commit=2))
    assert ready.applied == [(1, entries[0]), (2, entries[1])]
    assert (node.commit_index, node.last_applied) == (2, 2)
    assert node.kv.data == {"k1": 1, "k2": 1}
    ready = node.receive(append_entries("s1", "s2", 1, 4, 1, (), leader_commit=4))
    assert ready.applied == [(3, entries[2]), (4, entries[3])]
    ready = node.receive(append_entries("s1", "s2", 1, 4, 1, (), leader_commit=4))
    assert ready.applied == [] and node.kv.applied == 4


# ---------------------------------------------------------------------------- Leaders


def test_new_leader_appends_a_no_op_entry_of_its_term_and_sends_it_to_every_server() -> None:
    """Upon election, a leader sends AppendEntries to each server (Figure 2, Leaders rule 1);
    it carries a no-op entry of the new term, through which the leader learns what is committed
    and can commit earlier-term entries (section 8; thesis section 6.4)."""
    node = make_node("s1", names(3), term=2, log=log_of(1, 2))
    tick(node, TIMEOUT)
    ready = node.receive(vote("s2", "s1", 3))  # with its own vote, a majority of three
    assert node.role == LEADER
    assert terms(node) == [1, 2, 3] and node.log.entry(3) == Entry(3, None)
    sent = [m for m in ready.messages if isinstance(m, AppendEntries)]
    assert sorted(m.dst for m in sent) == ["s2", "s3"]
    assert {(m.term, m.prev_log_index, m.prev_log_term, m.entries) for m in sent} == {
        (3, 2, 2, (Entry(3, None),))}
    assert node.next_index == {"s2": 3, "s3": 3} and node.match_index == {"s2": 0, "s3": 0}


def test_leader_sends_heartbeats_at_the_heartbeat_interval_during_idle_periods() -> None:
    """A leader repeats empty AppendEntries during idle periods to prevent election timeouts
    (Figure 2, Leaders rule 1), every heartbeat interval and not more often."""
    c = Cluster(3)
    c.elect("s1")
    c.settle()
    for _ in range(3):
        quiet = c.tick("s1", HEARTBEAT - 1)
        assert all(not r.messages for r in quiet)
        beat = c.tick("s1")[-1]
        assert sorted(m.dst for m in beat.messages) == ["s2", "s3"]
        assert all(isinstance(m, AppendEntries) and m.entries == () and m.prev_log_index == 1
                   and m.leader_commit == 1 for m in beat.messages)
        c.settle()


def test_heartbeats_keep_followers_from_starting_elections() -> None:
    """Followers that keep receiving the leader's heartbeats never time out (Figure 2,
    Followers rule 2 with Leaders rule 1): several timeouts pass, still one leader, one term."""
    c = Cluster(3)
    c.elect("s1")
    for _ in range(5 * TIMEOUT):
        for node_id in c.ids:
            c.tick(node_id)
        c.settle()
    assert [n.role for n in c.nodes.values()] == [LEADER, FOLLOWER, FOLLOWER]
    assert {n.current_term for n in c.nodes.values()} == {1}


def test_leader_appends_client_command_to_its_log_and_replicates_it() -> None:
    """If a command is received from a client, the leader appends it to its local log (Figure
    2, Leaders rule 2) and sends it to the followers in AppendEntries (section 5.3)."""
    node = elected("s1")
    ready = node.propose(put("x", 1))
    assert ready.propose_result.accepted and ready.propose_result.index == 2
    assert node.log.entry(2) == Entry(1, put("x", 1))
    sent = [m for m in ready.messages if isinstance(m, AppendEntries)]
    assert sorted(m.dst for m in sent) == ["s2", "s3"]
    assert all(m.entries[-1] == Entry(1, put("x", 1)) for m in sent)


def test_leader_applies_the_command_only_after_it_is_committed() -> None:
    """The leader responds to the client after the entry is applied to the state machine
    (Figure 2, Leaders rule 2), which happens once a majority stores it (Leaders rule 4)."""
    c = Cluster(3)
    c.elect("s1")
    c.settle()
    ready = c.propose("s1", put("x", 1))
    assert ready.applied == [] and c["s1"].kv.get("x") is None
    c.drop(dst="s3")
    c.deliver_all(dst="s2")
    readys = c.deliver_all(dst="s1")
    assert [a for r in readys for a in r.applied] == [(2, Entry(1, put("x", 1)))]
    assert c["s1"].kv.get("x") == 1


def test_leader_updates_next_index_and_match_index_after_a_successful_append() -> None:
    """If AppendEntries succeeds, update nextIndex and matchIndex for the follower (Figure 2,
    Leaders rule 3.1); a late, smaller acknowledgement never moves them back."""
    node = elected("s1")
    node.propose(put("x", 1))
    node.propose(put("y", 2))
    node.receive(append_reply("s2", "s1", 1, success=True, match_index=3))
    assert (node.next_index["s2"], node.match_index["s2"]) == (4, 3)
    node.receive(append_reply("s2", "s1", 1, success=True, match_index=1))  # reordered
    assert (node.next_index["s2"], node.match_index["s2"]) == (4, 3)
    assert (node.next_index["s3"], node.match_index["s3"]) == (1, 0)


def test_leader_moves_next_index_back_and_retries_after_an_inconsistency() -> None:
    """If AppendEntries fails because of log inconsistency: decrement nextIndex and retry
    (Figure 2, Leaders rule 3.2); the retry starts at the new nextIndex."""
    node = elected("s1", term=1, log=log_of(1, 1, 1))
    assert node.next_index["s2"] == 4
    # s2 has only the first entry: no entry at prevLogIndex 3.
    ready = node.receive(append_reply("s2", "s1", 2, success=False, match_index=1,
                                      conflict_term=None, conflict_index=2))
    assert node.next_index["s2"] == 2
    retry = only(ready.messages, AppendEntries)
    assert (retry.dst, retry.prev_log_index, retry.prev_log_term) == ("s2", 1, 1)
    assert [e.term for e in retry.entries] == [1, 1, 2]


def leader_repair(follower_terms: tuple[int, ...]) -> tuple[list[int], Node]:
    """Figure 7's leader (term 8) repairs one follower; returns each AppendEntries' prevLogIndex
    until the follower's log matches, and the follower."""
    cluster = ["L", "f", "x"]
    leader = elected("L", cluster, term=7, log=log_of(1, 1, 1, 4, 4, 5, 5, 6, 6, 6))
    follower = make_node("f", cluster, term=7, log=log_of(*follower_terms))
    msgs = appends_to(leader, tick(leader, HEARTBEAT), "f")
    prevs = []
    while msgs:
        (ae,) = msgs
        prevs.append(ae.prev_log_index)
        reply = only(follower.receive(ae).messages)
        msgs = appends_to(leader, [leader.receive(reply)], "f")
        assert len(prevs) < 20
    assert follower.log.entries() == leader.log.entries()
    return prevs, follower


def test_leader_backs_up_a_whole_term_per_round_trip_using_the_conflict_hint() -> None:
    """With the follower's conflicting term and its first index, the leader skips all entries of
    that term in one round trip (thesis section 5.3; paper section 5.3 optimization), so Figure
    7's follower (f), 8 entries behind from terms 2 and 3, is repaired in 3 round trips, not 8."""
    prevs, _ = leader_repair((1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3))
    assert prevs == [10, 6, 3]


def test_leader_that_has_the_conflicting_term_jumps_to_its_own_last_entry_of_that_term() -> None:
    """If the leader has entries of the follower's conflicting term, nextIndex goes one past its
    own last entry of that term (thesis section 5.3): Figure 7's follower (e)."""
    prevs, follower = leader_repair((1, 1, 1, 4, 4, 4, 4))
    assert prevs == [10, 7, 5]
    assert terms(follower) == [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 8]


def test_leader_commits_an_entry_of_its_term_once_a_majority_stores_it() -> None:
    """If there is N > commitIndex with matchIndex >= N on a majority and log[N].term ==
    currentTerm, set commitIndex = N (Figure 2, Leaders rule 4); in five servers the leader and
    two followers are a majority, the leader and one are not."""
    node = elected("s1", names(5))
    node.propose(put("x", 1))
    node.receive(append_reply("s2", "s1", 1, success=True, match_index=2))
    assert node.commit_index == 0
    node.receive(append_reply("s4", "s1", 1, success=True, match_index=1))
    assert node.commit_index == 1
    node.receive(append_reply("s3", "s1", 1, success=True, match_index=2))
    assert node.commit_index == 2 and node.kv.get("x") == 1


def test_leader_does_not_commit_an_earlier_term_entry_by_counting_replicas() -> None:
    """Only entries of the leader's current term are committed by counting replicas; earlier
    ones are committed indirectly, with the first current-term entry after them (Figure 2,
    Leaders rule 4, "log[N].term == currentTerm"; section 5.4.2)."""
    node = elected("s1", names(3), term=1, log=log_of(1, 1))
    assert terms(node) == [1, 1, 2]
    node.receive(append_reply("s2", "s1", 2, success=True, match_index=2))
    node.receive(append_reply("s3", "s1", 2, success=True, match_index=2))
    assert node.commit_index == 0
    node.receive(append_reply("s2", "s1", 2, success=True, match_index=3))
    assert node.commit_index == 3
    assert node.last_applied == 3 and list(node.kv.data) == ["k1", "k2"]


def test_leader_ignores_append_entries_replies_from_an_earlier_term() -> None:
    """A reply to an AppendEntries of an earlier term says nothing about the follower's log in
    this term (section 5.1: stale-term messages are ignored): matchIndex stays put."""
    node = stale_reply_scenario(())
    assert node.match_index["s2"] == 0


# ------------------------------------------------------------------------ AppendEntries receiver


def test_append_entries_from_an_older_term_is_rejected() -> None:
    """Reply false if term < currentTerm (Figure 2, AppendEntries receiver rule 1); the log
    stays as it was and the reply carries the receiver's term."""
    node = make_node("s2", term=3, log=log_of(1, 2))
    ready = node.receive(append_entries("s1", "s2", 2, 2, 2, log_of(1, 2, 2)[2:], 2))
    reply = only(ready.messages)
    assert (reply.success, reply.term) == (False, 3)
    assert terms(node) == [1, 2] and node.commit_index == 0 and node.leader_id is None


def test_append_entries_is_rejected_when_the_log_has_no_entry_at_prev_log_index() -> None:
    """Reply false if the log contains no entry at prevLogIndex (Figure 2, AppendEntries
    receiver rule 2); the hint says there is no such term and where the log ends (thesis
    section 5.3)."""
    node = make_node("s2", term=3, log=log_of(1, 1, 2, 2, 2))
    reply = only(node.receive(append_entries("s1", "s2", 3, 7, 3)).messages)
    assert not reply.success
    assert (reply.conflict_term, reply.conflict_index, reply.match_index) == (None, 6, 5)
    assert terms(node) == [1, 1, 2, 2, 2]


@pytest.mark.parametrize("follower,hint", [((1, 1, 2, 2, 2), (2, 3)), ((2, 2, 2, 2), (2, 1))],
                         ids=["run-starts-at-3", "run-starts-at-1"])
def test_append_entries_is_rejected_when_the_term_at_prev_log_index_differs(
        follower: tuple[int, ...], hint: tuple[int, int]) -> None:
    """Reply false if the entry at prevLogIndex has a term other than prevLogTerm (Figure 2,
    AppendEntries receiver rule 2); the hint names that term and its first index (thesis 5.3)."""
    node = make_node("s2", term=3, log=log_of(*follower))
    ready = node.receive(append_entries("s1", "s2", 3, 4, 3, log_of(1, 1, 3, 3, 3)[4:]))
    reply = only(ready.messages)
    assert not reply.success
    assert (reply.conflict_term, reply.conflict_index) == hint
    assert terms(node) == list(follower) and ready.persist.log_ops == ()


def test_conflicting_entry_and_all_that_follow_it_are_deleted_but_not_those_before() -> None:
    """If an existing entry conflicts with a new one (same index, different terms), delete the
    existing entry and all that follow it (Figure 2, AppendEntries receiver rule 3): the matching
    entries before the first conflict stay."""
    node = make_node("s2", term=2, log=log_of(1, 1, 2, 2, 2))
    new = log_of(1, 1, 1, 3)
    ready = node.receive(append_entries("s1", "s2", 3, 1, 1, new[1:]))
    assert only(ready.messages).success
    assert node.log.entries() == new
    assert ready.persist.log_ops == (("truncate", 3), ("append", 3, new[2:]))
    assert [e["index"] for e in ready.events if e["kind"] == "truncate"] == [3]


def test_append_entries_whose_entries_already_match_does_not_truncate_the_log() -> None:
    """Only a conflicting entry is deleted (Figure 2, AppendEntries receiver rule 3): a stale,
    reordered AppendEntries carrying a prefix of what the follower already has must not cut the
    entries after it, which the leader may already count as replicated."""
    assert stale_short_append(()) == ([1, 1, 1, 1], [])


def test_append_entries_appends_only_entries_not_already_in_the_log() -> None:
    """Append any new entries not already in the log (Figure 2, AppendEntries receiver rule 4):
    of an overlapping batch only the missing tail is appended (and persisted)."""
    node = make_node("s2", term=1, log=log_of(1, 1, 1))
    full = log_of(1, 1, 1, 1, 1)
    ready = node.receive(append_entries("s1", "s2", 1, 1, 1, full[1:]))
    assert node.log.entries() == full
    assert ready.persist.log_ops == (("append", 4, full[3:]),)
    assert only(ready.messages).match_index == 5


def test_commit_index_is_the_min_of_leader_commit_and_the_index_of_the_last_new_entry() -> None:
    """If leaderCommit > commitIndex, set commitIndex = min(leaderCommit, index of last new
    entry) (Figure 2, AppendEntries receiver rule 5). The follower's entries after the new ones
    are not verified by this RPC (here: 3-5 are from a deposed term-2 leader), so they must not
    be committed even if leaderCommit is past them."""
    assert commit_after_short_append(()) == (2, [1, 2])


def test_commit_index_is_leader_commit_when_the_new_entries_reach_past_it() -> None:
    """min(leaderCommit, index of last new entry) is leaderCommit when that is smaller, and
    commitIndex never moves back on a delayed AppendEntries (Figure 2, AppendEntries rule 5)."""
    node = make_node("s2")
    node.receive(append_entries("s1", "s2", 1, 0, 0, log_of(1, 1, 1, 1), leader_commit=3))
    assert node.commit_index == 3
    node.receive(append_entries("s1", "s2", 1, 0, 0, log_of(1, 1), leader_commit=1))
    assert node.commit_index == 3 and node.last_applied == 3


# ------------------------------------------------------------------------ clients (section 8)


def test_non_leader_rejects_a_proposal_and_names_the_leader_once_it_knows_it() -> None:
    """Clients send requests to the leader; a server that is not the leader rejects them and
    supplies the most recent leader it has heard from, if any (section 8)."""
    c = Cluster(3)
    result = c.propose("s2", put("x", 1)).propose_result
    assert (result.accepted, result.index, result.leader_hint) == (False, None, None)
    c.elect("s1")
    c.settle()
    result = c.propose("s2", put("x", 1)).propose_result
    assert (result.accepted, result.leader_hint) == (False, "s1")
    assert len(c["s2"].log) == 1 and not c.pending
    c.timeout("s3")
    assert c["s3"].role == CANDIDATE
    assert c.propose("s3", put("x", 1)).propose_result.leader_hint is None


def test_every_node_applies_the_same_commands_in_the_same_order() -> None:
    """The key-value state machine applies each committed put and delete in log order, so all
    replicas reach the same state through the same sequence (section 2; Figure 2, All Servers
    rule 1; State Machine Safety, Figure 3)."""
    c = Cluster(3)
    c.elect("s1")
    c.settle()
    commands = [put("a", 1), put("b", 2), {"op": "delete", "key": "a"}, put("b", 3),
                put("a", 4), {"op": "delete", "key": "b"}]
    for command in commands:
        c.propose("s1", command)
        c.settle()
    c.tick("s1", HEARTBEAT)  # the heartbeat tells the followers the final commitIndex
    c.settle()
    assert c["s1"].commit_index == 7
    for node_id in c.ids:
        assert c[node_id].kv.data == {"a": 4}
        assert [e.data for _, e in c.applied[node_id]] == [None, *commands]
        assert [i for i, _ in c.applied[node_id]] == list(range(1, 8))


# ---------------------------------------------------------------------------- mutants


def stale_short_append(mutants: tuple[str, ...]) -> tuple[list[int], list[str]]:
    node = make_node("s2", term=1, log=log_of(1, 1, 1, 1), mutants=mutants)
    ready = node.receive(append_entries("s1", "s2", 1, 0, 0, log_of(1, 1)))
    assert only(ready.messages).success
    return terms(node), [op[0] for op in ready.persist.log_ops]


def test_mutant_truncate_on_match_cuts_entries_an_old_append_entries_already_matched() -> None:
    """truncate-on-match breaks AppendEntries receiver rule 3 ("if an existing entry
    conflicts"): correct node keeps all four entries on a stale two-entry AppendEntries; the
    mutant rewrites the log from the start and loses entries 3 and 4."""
    assert stale_short_append(()) == ([1, 1, 1, 1], [])
    assert stale_short_append(("truncate-on-match",)) == ([1, 1], ["truncate", "append"])


def commit_after_short_append(mutants: tuple[str, ...]) -> tuple[int, list[int]]:
    node = make_node("s2", term=2, log=log_of(1, 1, 2, 2, 2), mutants=mutants)
    # The term-3 leader's log is 1, 1, 3, 3, ... with commitIndex 4; this is its (small,
    # possibly old) AppendEntries for index 2 only.
    ready = node.receive(append_entries("s1", "s2", 3, 1, 1, log_of(1, 1)[1:], leader_commit=4))
    assert only(ready.messages).success
    return node.commit_index, [i for i, _ in ready.applied]


def test_mutant_commit_past_new_entries_commits_unverified_entries() -> None:
    """commit-past-new-entries breaks AppendEntries receiver rule 5: correct node commits up to
    index 2 (its last new entry); the mutant commits to 4 and applies its term-2 entries 3 and 4,
    which the term-3 leader does not have."""
    assert commit_after_short_append(()) == (2, [1, 2])
    assert commit_after_short_append(("commit-past-new-entries",)) == (4, [1, 2, 3, 4])


def stale_reply_scenario(mutants: tuple[str, ...]) -> Node:
    node = elected("s1", term=1, mutants=mutants)  # leader of term 2
    node.propose(put("x", 1))
    held = append_reply("s2", "s1", 2, success=True, match_index=2)  # delayed in the network
    node.receive(request_vote("s3", "s1", 3))  # a term-3 election deposes s1
    tick(node, TIMEOUT)
    node.receive(vote("s3", "s1", 4))
    assert (node.role, node.current_term, node.match_index["s2"]) == (LEADER, 4, 0)
    node.receive(held)
    return node


def test_mutant_stale_reply_match_advances_match_index_on_an_earlier_term_reply() -> None:
    """stale-reply-match breaks Leaders rule 3.1 (only replies in this term update matchIndex):
    correct leader of term 4 ignores a delayed term-2 success; the mutant sets matchIndex 2."""
    assert stale_reply_scenario(()).match_index["s2"] == 0
    assert stale_reply_scenario(("stale-reply-match",)).match_index["s2"] == 2



def stale_reply_past_the_log(mutants: tuple[str, ...]) -> Cluster:
    """Five servers. s1 (term 1) replicates four entries to s2 only, and s2's success reply is
    delayed; s3 wins term 2 and replaces those entries; s1 wins term 3 with a two-entry log; then
    the term-1 reply, claiming index 4, finally arrives."""
    c = Cluster(5, mutants=mutants)
    c.elect("s1")
    for value in range(3):
        c.propose("s1", put("x", value))
    for other in ("s3", "s4", "s5"):
        c.drop(dst=other)
    c.deliver_all(src="s1", dst="s2")
    held = max(c.select(src="s2", dst="s1"), key=lambda m: m.match_index)
    c.drop(src="s2")
    assert held.match_index == 4
    c.elect("s3")
    c.settle()
    c.elect("s1")
    assert (c["s1"].current_term, terms(c["s1"])) == (3, [2, 3])
    c.deliver(held)
    return c


def test_mutant_stale_reply_match_claims_more_than_the_log_and_the_leader_keeps_running() -> None:
    """stale-reply-match accepts a term-1 reply that claims index 4 of a log that now has two
    entries: correct leader leaves matchIndex at 0; the mutant sets it to 4 and counts s2 toward
    commitment, yet still keeps nextIndex within its log and sends valid heartbeats (a regression
    test: the uncapped nextIndex made the mutant crash instead of misbehaving)."""
    assert stale_reply_past_the_log(())["s1"].match_index["s2"] == 0
    c = stale_reply_past_the_log(("stale-reply-match",))
    leader = c["s1"]
    assert leader.match_index["s2"] == 4 and leader.next_index["s2"] == 3
    beat = c.tick("s1", HEARTBEAT)[-1]
    to_s2 = only([m for m in beat.messages if m.dst == "s2"], AppendEntries)
    assert (to_s2.prev_log_index, to_s2.prev_log_term, to_s2.entries) == (2, 3, ())
