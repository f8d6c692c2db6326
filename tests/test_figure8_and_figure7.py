"""The paper's Figure 7 (a new leader repairs followers' logs) and Figure 8 (why a leader must
not commit an earlier term's entry by counting replicas), replayed message by message.

Indices differ from the figures by the no-op each new leader appends (section 8), which the
figures leave out; the terms and who holds what are the figures'.
"""

from __future__ import annotations

from raftref.protocol.messages import AppendEntries, Entry
from raftref.protocol.node import CANDIDATE, LEADER, NodeConfig, PersistentState

from .raft_harness import HEARTBEAT, TIMEOUT, Cluster, log_of, names, terms

# ---------------------------------------------------------------------------- Figure 7

FIGURE7_LEADER = (1, 1, 1, 4, 4, 5, 5, 6, 6, 6)
FIGURE7_FOLLOWERS = {
    "a": (1, 1, 1, 4, 4, 5, 5, 6, 6),  # missing an entry
    "b": (1, 1, 1, 4),  # missing many
    "c": (1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6),  # an extra uncommitted entry
    "d": (1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7),  # extra entries of a later term
    "e": (1, 1, 1, 4, 4, 4, 4),  # missing entries and extra entries of term 4
    "f": (1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3),  # extra entries of terms 2 and 3
}


def figure7_cluster() -> Cluster:
    states = {"leader": PersistentState(7, None, log_of(*FIGURE7_LEADER))}
    states |= {f: PersistentState(7, None, log_of(*t)) for f, t in FIGURE7_FOLLOWERS.items()}
    return Cluster(["leader", *FIGURE7_FOLLOWERS], states=states)


def test_figure7_leader_brings_every_follower_log_into_agreement_with_its_own() -> None:
    """The leader handles inconsistencies by forcing followers' logs to duplicate its own: each
    follower's conflicting entries are overwritten, missing ones filled in (section 5.3, Figure
    7; Figure 2, Leaders rule 3 and AppendEntries receiver rules 2-4)."""
    c = figure7_cluster()
    c.timeout("leader")
    c.deliver_all(src="leader")
    granted = sorted(m.src for m in c.select(dst="leader") if m.granted)
    # (c) and (d) hold logs more up-to-date than the leader's and refuse (section 5.4.1); the
    # other four are a majority of seven with the leader.
    assert granted == ["a", "b", "e", "f"]
    c.settle()
    assert c["leader"].role == LEADER
    leader_log = tuple(c["leader"].log.entries())
    assert [e.term for e in leader_log] == [*FIGURE7_LEADER, 8]
    assert c.logs() == {node_id: leader_log for node_id in c.ids}
    assert {node_id: c.disk[node_id].log for node_id in c.ids} == c.logs()
    assert c["leader"].commit_index == 11
    c.tick("leader", HEARTBEAT)
    c.settle()
    assert {n.commit_index for n in c.nodes.values()} == {11}
    assert len({repr(n.kv.data) for n in c.nodes.values()}) == 1


def test_figure7_repair_takes_at_most_one_round_trip_per_conflicting_term() -> None:
    """With the conflict hints of thesis section 5.3 the leader skips a term per rejection, so
    (b), 6 entries behind, and (f), 8 entries wrong, take 2 and 3 AppendEntries, not 7 and 8."""
    c = figure7_cluster()
    c.elect("leader")
    c.settle()
    sent = {f: sum(1 for r in c.readys["leader"] for m in r.messages
                   if isinstance(m, AppendEntries) and m.dst == f) for f in FIGURE7_FOLLOWERS}
    assert sent == {"a": 2, "b": 2, "c": 1, "d": 1, "e": 3, "f": 3}


# ---------------------------------------------------------------------------- Figure 8

X1 = {"op": "put", "key": "x", "value": 1}  # S1's command of term 2
X2 = {"op": "put", "key": "x", "value": 2}  # S5's command of term 3
FIGURE8_CONFIG = NodeConfig(election_timeout_min=TIMEOUT, election_timeout_max=TIMEOUT,
                            heartbeat_interval=HEARTBEAT, max_entries_per_message=2)


def figure8_a_to_c(mutants: tuple[str, ...] = ()) -> Cluster:
    """Figure 8 (a) to (c). All five servers start with one term-1 entry, in term 1."""
    start = PersistentState(1, None, (Entry(1, None),))
    c = Cluster(names(5), states={i: start for i in names(5)}, config=FIGURE8_CONFIG,
                mutants=mutants)
    # (a) S1 is leader in term 2 and replicates its term-2 entries (no-op, X1) to S2 only.
    c.elect("s1")
    c.propose("s1", X1)
    for other in ("s3", "s4", "s5"):
        c.drop(dst=other)
    c.settle()
    assert [terms(c[i]) for i in names(5)] == [[1, 2, 2], [1, 2, 2], [1], [1], [1]]
    # (b) S1 crashes; S5 is elected for term 3 with votes from S3, S4 and itself, and accepts a
    # different entry at the same index; it crashes before replicating it.
    c.crash("s1")
    c.elect("s5")
    c.propose("s5", X2)
    c.crash("s5")
    assert [e.term for e in c.disk["s5"].log] == [1, 3, 3]
    # (c) S1 restarts and is elected for term 4 (its term-3 candidacy is lost on the network).
    c.restart("s1")
    c.timeout("s1")
    c.drop(src="s1")
    c.elect("s1")
    assert c["s1"].current_term == 4 and terms(c["s1"]) == [1, 2, 2, 4]
    c.drop(dst="s4")
    c.deliver_all(src="s1", dst="s2")  # S2 takes the term-4 entry ...
    c.deliver_all(src="s2", dst="s1")
    for _ in range(2):  # ... S3 rejects, then takes the term-2 entries (two per message)
        c.deliver_all(src="s1", dst="s3")
        c.deliver_all(src="s3", dst="s1")
    # The term-2 entries (indices 2-3) are on S1, S2, S3: a majority. The term-4 entry is not.
    assert [terms(c[i]) for i in ("s1", "s2", "s3", "s4")] == [
        [1, 2, 2, 4], [1, 2, 2, 4], [1, 2, 2], [1]]
    return c


def figure8_d(c: Cluster) -> None:
    """Figure 8 (d): S1 crashes; S5 restarts and is elected for term 5 with the votes of S3 and
    S4 (whose logs end before term 3), then forces its log on the others."""
    c.crash("s1")
    c.restart("s5")
    c.timeout("s5")  # term 4: S2, S3 and S4 already voted for S1
    c.drop(src="s5")
    c.elect("s5")
    c.settle()
    c.tick("s5", HEARTBEAT)
    c.settle()


def applied_at(c: Cluster, index: int) -> set[tuple[int, str]]:
    """What the servers applied at ``index``, over all their lives."""
    return {(e.term, repr(e.data)) for node_id in c.ids for i, e in c.applied[node_id]
            if i == index}


def test_figure8_leader_does_not_commit_a_term_2_entry_stored_on_a_majority_in_term_4() -> None:
    """A leader cannot conclude that an entry of an earlier term is committed once it is stored
    on a majority: in Figure 8 (c) the term-2 entry is on S1, S2 and S3, yet S1 (leader of term
    4) must not commit it (Figure 2, Leaders rule 4, "log[N].term == currentTerm"; 5.4.2)."""
    c = figure8_a_to_c()
    assert c["s1"].match_index == {"s2": 4, "s3": 3, "s4": 0, "s5": 0}
    assert c["s1"].commit_index == 0 and c.applied["s1"] == []


def test_figure8_uncommitted_term_2_entry_is_overwritten_without_harm() -> None:
    """Figure 8 (d): because S1 did not commit its term-2 entries, S5 may be elected and
    overwrite them; no server ever applied them, so State Machine Safety holds."""
    c = figure8_a_to_c()
    figure8_d(c)
    assert c["s5"].role == LEADER and c["s5"].current_term == 5
    assert [terms(c[i]) for i in ("s2", "s3", "s4", "s5")] == [[1, 3, 3, 5]] * 4
    assert applied_at(c, 3) == {(3, repr(X2))}
    assert {n.kv.get("x") for n in c.nodes.values()} == {2}


def test_figure8_entry_of_current_term_on_a_majority_commits_the_earlier_ones_with_it() -> None:
    """Figure 8 (e): once S1 replicates an entry of its own term (4) on a majority, it commits
    it and the term-2 entries before it; S5 can then no longer be elected, since S2 and S3 hold
    a more up-to-date log (section 5.4.1)."""
    c = figure8_a_to_c()
    c.deliver_all(src="s1", dst="s3")
    c.deliver_all(src="s3", dst="s1")
    assert c["s1"].commit_index == 4 and c["s1"].kv.get("x") == 1
    c.crash("s1")
    c.restart("s5")
    for _ in range(2):
        c.timeout("s5")
        c.settle()
    assert c["s5"].role == CANDIDATE and c["s5"].current_term == 5
    assert terms(c["s3"]) == [1, 2, 2, 4]


def test_mutant_figure8_commits_by_counting_and_a_committed_entry_is_overwritten() -> None:
    """figure8 breaks Figure 2, Leaders rule 4 ("log[N].term == currentTerm"): correct S1
    commits nothing in (c); the mutant commits and applies the term-2 entries once they are on a
    majority. Then (d) happens anyway: S5 overwrites them on S3, and index 3 ends up applied as
    X1 on S1 and as X2 elsewhere: State Machine Safety (Figure 3) is violated."""
    assert figure8_a_to_c()["s1"].commit_index == 0
    c = figure8_a_to_c(("figure8",))
    assert c["s1"].commit_index == 3
    assert [i for i, _ in c.applied["s1"]] == [1, 2, 3] and c["s1"].kv.get("x") == 1
    committed = tuple(c["s1"].log.entries())[:3]
    assert tuple(c["s3"].log.entries()) == committed
    figure8_d(c)
    assert c["s5"].role == LEADER
    assert tuple(c["s3"].log.entries())[:3] != committed  # a committed entry was overwritten
    assert c["s3"].log.entry(3) == Entry(3, X2)
    assert applied_at(c, 3) == {(2, repr(X1)), (3, repr(X2))}
