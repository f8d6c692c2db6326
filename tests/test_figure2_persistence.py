"""Persistent state, from the paper's Figure 2 ("Persistent state on all servers: updated on
stable storage before responding to RPCs") and "Volatile state on all servers" (reinitialized
on restart).

The node does no I/O: each Ready says what to persist (``Ready.persist``), and the driver writes
it before sending that Ready's messages. So "persisted before responding" means: the state a
message relies on is in the persist write of the Ready that carries the message.
"""

from __future__ import annotations

from raftref.protocol.messages import (
    AppendEntries,
    AppendEntriesResponse,
    Message,
    RequestVote,
    RequestVoteResponse,
)
from raftref.protocol.node import CANDIDATE, FOLLOWER, LEADER, PersistentState

from .raft_harness import (
    HEARTBEAT,
    TIMEOUT,
    Cluster,
    append_entries,
    log_of,
    make_node,
    only,
    put,
    request_vote,
    tick,
)

# ---------------------------------------------------------------------------- persist before send


def test_candidate_persists_its_new_term_and_self_vote_with_its_vote_requests() -> None:
    """currentTerm and votedFor change on conversion to candidate (Figure 2, Candidates rule 1)
    and must be on stable storage before the RequestVotes leave (Figure 2, Persistent state)."""
    node = make_node("s1", term=4)
    ready = tick(node, TIMEOUT)[-1]
    assert any(isinstance(m, RequestVote) for m in ready.messages)
    assert (ready.persist.current_term, ready.persist.voted_for) == (5, "s1")


def test_voter_persists_its_term_and_vote_with_the_reply_that_grants_it() -> None:
    """A granted vote is persisted before the reply leaves (Figure 2, Persistent state:
    votedFor), or after a crash the server could vote again in the same term."""
    node = make_node("s2", term=1)
    ready = node.receive(request_vote("s1", "s2", term=2))
    assert only(ready.messages).granted
    disk = ready.persist.apply_to(PersistentState(1, None, ()))
    assert (disk.current_term, disk.voted_for) == (2, "s1")


def test_follower_persists_new_entries_with_the_reply_that_acknowledges_them() -> None:
    """Log entries are persisted before the success reply leaves (Figure 2, Persistent state:
    log[]), since the leader counts that reply toward commitment; truncations too."""
    before = PersistentState(1, None, log_of(1, 1, 1))
    node = make_node("s2", term=1, log=before.log)
    new = log_of(1, 2, 2, 2)
    ready = node.receive(append_entries("s1", "s2", 2, 1, 1, new[1:]))
    reply = only(ready.messages)
    assert reply.success and reply.match_index == 4
    assert ready.persist.apply_to(before) == PersistentState(2, None, new)


def test_leader_persists_a_proposal_with_the_append_entries_that_carry_it() -> None:
    """The leader's own log is persisted before it replicates the entry (Figure 2, Persistent
    state: log[]): it counts itself in the majority of Leaders rule 4."""
    c = Cluster(3)
    c.elect("s1")
    c.settle()
    disk_before = c.disk["s1"]
    ready = c.propose("s1", put("x", 1))
    assert any(isinstance(m, AppendEntries) for m in ready.messages)
    assert ready.persist.log_ops == (("append", 2, (c["s1"].log.entry(2),)),)
    assert ready.persist.apply_to(disk_before).log == tuple(c["s1"].log.entries())


def violations_of_persist_before_send(mutants: tuple[str, ...] = ()) -> list[str]:
    """Run elections, replication, a crash and a restart; replay every node's persist writes and
    list each message whose premise was not on disk when its Ready was sent."""
    c = Cluster(3, mutants=mutants)
    c.elect("s1")
    c.settle()
    for value in range(3):
        c.propose("s1", put("x", value))
        c.settle()
    c.crash("s1")
    c.elect("s2")
    c.settle()
    c.propose("s2", put("y", 1))
    c.restart("s1")
    c.tick("s2", HEARTBEAT)
    c.settle()
    ids = [m.id for rs in c.readys.values() for r in rs for m in r.messages]
    problems = [f"message id {i} used twice" for i in sorted(set(ids)) if ids.count(i) > 1]
    for node_id in c.ids:
        disk = PersistentState()
        for ready in c.readys[node_id]:
            disk = ready.persist.apply_to(disk)
            problems.extend(f"{node_id}: {p}" for m in ready.messages
                            for p in premise_missing(m, disk))
    return problems


def premise_missing(m: Message, disk: PersistentState) -> list[str]:
    problems = []
    if m.term != disk.current_term:
        problems.append(f"{m.id} says term {m.term}, disk has {disk.current_term}")
    if isinstance(m, RequestVote) and disk.voted_for != m.src:
        problems.append(f"{m.id} asks for votes, disk says voted for {disk.voted_for}")
    if isinstance(m, RequestVoteResponse) and m.granted and disk.voted_for != m.dst:
        problems.append(f"{m.id} grants {m.dst}, disk says voted for {disk.voted_for}")
    if isinstance(m, AppendEntries):
        end = m.prev_log_index + len(m.entries)
        if disk.log[m.prev_log_index:end] != m.entries:
            problems.append(f"{m.id} sends entries not on disk")
    if isinstance(m, AppendEntriesResponse) and m.success and len(disk.log) < m.match_index:
        problems.append(f"{m.id} acknowledges {m.match_index}, disk has {len(disk.log)}")
    return problems


def test_every_message_is_backed_by_state_persisted_in_its_own_ready() -> None:
    """Over a run with elections, replication, a crash and a restart, every message's premise
    (its term, the vote it asks for or grants, the entries it sends or acknowledges) is on stable
    storage once its own Ready's persist write is done (Figure 2, Persistent state). Message ids
    are unique across the run, restarts included."""
    assert violations_of_persist_before_send() == []


# ---------------------------------------------------------------------------- restart


def test_restarted_node_keeps_its_term_vote_and_log_exactly() -> None:
    """currentTerm, votedFor and log[] survive a crash (Figure 2, Persistent state on all
    servers): the node rebuilt from its disk has exactly the values it had."""
    c = Cluster(3)
    c.elect("s1")
    c.settle()
    c.propose("s1", put("x", 1))
    c.settle()
    before = c["s2"].persistent_state()
    assert before == PersistentState(1, "s1", (c["s1"].log.entry(1), c["s1"].log.entry(2)))
    c.crash("s2")
    node = c.restart("s2")
    assert node.persistent_state() == before
    assert (node.current_term, node.voted_for, node.role) == (1, "s1", FOLLOWER)
    start = c.readys["s2"][-1].events[0]
    assert (start["kind"], start["restart"], start["term"]) == ("start", True, 1)


def test_restarted_node_has_commit_index_zero_and_reapplies_from_index_one() -> None:
    """commitIndex and lastApplied are volatile, initialized to 0 (Figure 2, Volatile state on
    all servers): after a restart the state machine is empty and the node applies again from
    index 1, in order, once it learns the commit index from the leader."""
    c = Cluster(3)
    c.elect("s1")
    c.settle()
    for value in (1, 2):
        c.propose("s1", put("x", value))
        c.settle()
    c.tick("s1", HEARTBEAT)
    c.settle()
    first_life = list(c.applied["s2"])
    assert [i for i, _ in first_life] == [1, 2, 3] and c["s2"].kv.get("x") == 2
    c.crash("s2")
    node = c.restart("s2")
    assert (node.commit_index, node.last_applied, node.kv.data) == (0, 0, {})
    c.tick("s1", HEARTBEAT)
    c.settle()
    assert c.applied["s2"][len(first_life):] == first_life
    assert node.kv.get("x") == 2


def second_vote_after_restart(mutants: tuple[str, ...]) -> bool:
    c = Cluster(3, mutants=mutants)
    assert only(c.deliver(request_vote("s1", "s3", term=1)).messages).granted
    c.crash("s3")
    c.restart("s3")
    return only(c.deliver(request_vote("s2", "s3", term=1)).messages).granted


def test_restarted_node_does_not_vote_for_a_second_candidate_in_the_same_term() -> None:
    """votedFor is persistent (Figure 2), so a server that crashes right after voting still
    denies a second candidate of that term (RequestVote receiver rule 2): at most one leader per
    term survives crashes (Election Safety, Figure 3)."""
    assert second_vote_after_restart(()) is False


def test_restarted_leader_starts_as_follower_and_message_ids_stay_unique() -> None:
    """A restarted server comes back as a follower (section 5.2) and its message ids do not
    repeat those of its previous life, so a driver can tell old messages from new."""
    c = Cluster(3)
    c.elect("s1")
    first = {m.id for r in c.readys["s1"] for m in r.messages}
    c.crash("s1")
    c.restart("s1")
    assert c["s1"].role == FOLLOWER and c["s1"].current_term == 1
    ready = c.timeout("s1")
    assert c["s1"].role == CANDIDATE and c["s1"].current_term == 2
    assert first and not first & {m.id for m in ready.messages}
    c.settle()
    assert c["s1"].role == LEADER


# ---------------------------------------------------------------------------- mutants


def test_mutant_unpersisted_vote_grants_a_second_vote_after_restart() -> None:
    """unpersisted-vote breaks Figure 2's "updated on stable storage before responding": correct
    node denies the second candidate after a restart and every message's premise is on disk;
    the mutant forgets its vote, grants again, and sends grants its disk does not back."""
    assert second_vote_after_restart(()) is False
    assert second_vote_after_restart(("unpersisted-vote",)) is True
    assert violations_of_persist_before_send() == []
    assert any("grants" in p for p in violations_of_persist_before_send(("unpersisted-vote",)))
