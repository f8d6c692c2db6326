"""Leader election, one test per statement of the paper's Figure 2 (Rules for Servers: All
Servers rule 2, Followers, Candidates; RequestVote RPC receiver implementation) and section 5.2.

Each test drives a node by hand: it ticks exactly as long as the (exact) election timeout and
delivers exactly the messages it names. The mutant tests at the end show each election mutant
breaks exactly the rule it is named for: correct node X, mutant not X.
"""

from __future__ import annotations

import pytest

from raftref.protocol.messages import (
    AppendEntries,
    AppendEntriesResponse,
    RequestVote,
    RequestVoteResponse,
)
from raftref.protocol.node import CANDIDATE, FOLLOWER, LEADER

from .raft_harness import (
    TIMEOUT,
    Cluster,
    append_entries,
    append_reply,
    elected,
    log_of,
    make_node,
    names,
    only,
    request_vote,
    tick,
    vote,
)

# ---------------------------------------------------------------------------- Followers


def test_servers_start_as_followers() -> None:
    """When servers start up they begin as followers, in term 0 with no vote (section 5.2;
    Figure 2, State: currentTerm and votedFor start at 0 and null)."""
    node = make_node()
    assert (node.role, node.current_term, node.voted_for, node.leader_id) == (
        FOLLOWER, 0, None, None)


def test_follower_responds_to_rpcs_from_candidates_and_leaders() -> None:
    """A follower answers every RPC from a candidate or a leader, to the sender, naming the
    request it answers (Figure 2, Rules for Servers, Followers rule 1)."""
    node = make_node("s2")
    rv = request_vote("s1", "s2", term=1)
    reply = only(node.receive(rv).messages)
    assert isinstance(reply, RequestVoteResponse)
    assert (reply.dst, reply.reply_to, reply.term, reply.granted) == ("s1", rv.id, 1, True)
    ae = append_entries("s1", "s2", term=1)
    reply = only(node.receive(ae).messages)
    assert isinstance(reply, AppendEntriesResponse)
    assert (reply.dst, reply.reply_to, reply.term, reply.success) == ("s1", ae.id, 1, True)


def test_follower_becomes_candidate_when_election_timeout_elapses_without_leader_contact() -> None:
    """If the election timeout elapses without an AppendEntries from the current leader or a
    granted vote, a follower converts to candidate (Figure 2, Followers rule 2)."""
    node = make_node()
    readys = tick(node, TIMEOUT - 1)
    assert node.role == FOLLOWER and all(not r.messages for r in readys)
    tick(node)
    assert node.role == CANDIDATE


def test_granting_a_vote_resets_the_election_timer() -> None:
    """Granting a vote counts as hearing from the cluster: the election timeout restarts
    (Figure 2, Followers rule 2: "...or granting vote to candidate")."""
    node = make_node("s2")
    tick(node, TIMEOUT - 1)
    assert only(node.receive(request_vote("s1", "s2", term=1)).messages).granted
    tick(node, TIMEOUT - 1)
    assert node.role == FOLLOWER
    tick(node)
    assert node.role == CANDIDATE


def test_denying_a_vote_does_not_reset_the_election_timer() -> None:
    """Only a granted vote restarts the timeout (Figure 2, Followers rule 2): a stale candidate
    cannot keep a follower from noticing that the leader is gone."""
    node = make_node("s2", term=3)
    tick(node, TIMEOUT - 1)
    assert not only(node.receive(request_vote("s1", "s2", term=2)).messages).granted
    tick(node)
    assert node.role == CANDIDATE


def test_append_entries_from_current_leader_resets_the_election_timer() -> None:
    """An AppendEntries from the leader of the current term restarts the timeout; one from a
    deposed leader (older term) does not (Figure 2, Followers rule 2; AppendEntries rule 1)."""
    node = make_node("s2", term=2)
    tick(node, TIMEOUT - 1)
    node.receive(append_entries("s1", "s2", term=2))
    tick(node, TIMEOUT - 1)
    assert node.role == FOLLOWER and node.leader_id == "s1"
    node.receive(append_entries("s3", "s2", term=1))  # stale: must not count as contact
    tick(node)
    assert node.role == CANDIDATE


# ---------------------------------------------------------------------------- Candidates


def test_on_conversion_to_candidate_increment_term_vote_for_self_and_request_votes_from_all(
) -> None:
    """On conversion to candidate: increment currentTerm, vote for self, reset the election
    timer, send RequestVote to all other servers (Figure 2, Candidates rule 1), carrying the
    index and term of the candidate's last log entry (RequestVote RPC arguments)."""
    node = make_node("s1", names(5), term=4, log=log_of(1, 3, 4))
    ready = tick(node, TIMEOUT)[-1]
    assert (node.role, node.current_term, node.voted_for) == (CANDIDATE, 5, "s1")
    requests = [m for m in ready.messages if isinstance(m, RequestVote)]
    assert sorted(m.dst for m in requests) == ["s2", "s3", "s4", "s5"]
    assert {(m.term, m.last_log_index, m.last_log_term) for m in requests} == {(5, 3, 4)}


@pytest.mark.parametrize("size", [3, 5])
def test_candidate_receiving_votes_from_a_majority_becomes_leader(size: int) -> None:
    """A candidate that receives votes from a majority of the servers becomes leader (Figure 2,
    Candidates rule 2). Its own vote counts; a denial, or a second grant from the same voter,
    does not."""
    node = make_node("s1", names(size))
    tick(node, TIMEOUT)
    needed = size // 2  # peers' votes, with the candidate's own
    peers = node.peers
    node.receive(vote(peers[-1], "s1", 1, granted=False))
    for voter in peers[: needed - 1]:
        node.receive(vote(voter, "s1", 1))
        node.receive(vote(voter, "s1", 1))  # duplicated: still one server
    assert node.role == CANDIDATE
    ready = node.receive(vote(peers[needed - 1], "s1", 1))
    assert node.role == LEADER and node.leader_id == "s1"
    assert sorted(m.dst for m in ready.messages if isinstance(m, AppendEntries)) == list(peers)


def test_single_node_cluster_elects_itself_on_first_timeout() -> None:
    """With one server its own vote is a majority: it becomes leader at its first timeout and
    commits its no-op alone (Figure 2, Candidates rules 1-2, Leaders rule 4)."""
    node = make_node("s1", ["s1"])
    ready = tick(node, TIMEOUT)[-1]
    assert (node.role, node.current_term) == (LEADER, 1)
    assert not ready.messages
    assert node.commit_index == 1 and ready.applied == [(1, node.log.entry(1))]
    result = node.propose({"op": "put", "key": "a", "value": 1})
    assert result.propose_result.accepted and node.commit_index == 2
    assert node.kv.get("a") == 1


def test_candidate_receiving_append_entries_from_new_leader_of_same_term_becomes_follower(
) -> None:
    """If AppendEntries is received from a new leader (same term), a candidate converts to
    follower and accepts it (Figure 2, Candidates rule 3; section 5.2)."""
    node = make_node("s1", term=1)
    tick(node, TIMEOUT)
    assert (node.role, node.current_term) == (CANDIDATE, 2)
    reply = only(node.receive(append_entries("s2", "s1", term=2)).messages)
    assert (node.role, node.current_term, node.leader_id) == (FOLLOWER, 2, "s2")
    assert reply.success


def test_candidate_rejects_append_entries_of_an_older_term_and_remains_candidate() -> None:
    """An AppendEntries whose term is smaller than the candidate's is rejected and the
    candidate continues in candidate state (section 5.2; AppendEntries receiver rule 1)."""
    node = make_node("s1", term=1)
    tick(node, TIMEOUT)
    reply = only(node.receive(append_entries("s2", "s1", term=1)).messages)
    assert not reply.success and reply.term == 2
    assert node.role == CANDIDATE


def test_split_vote_starts_a_new_election_in_a_later_term_after_the_timeout() -> None:
    """If the election timeout elapses with no winner (votes split), the candidate starts a new
    election: it increments its term and requests votes again (Figure 2, Candidates rule 4)."""
    c = Cluster(3)
    for node_id in c.ids:
        c.timeout(node_id)  # all three stand in term 1 and vote for themselves
    c.settle()
    assert all(n.role == CANDIDATE and n.current_term == 1 for n in c.nodes.values())
    c.tick("s1", TIMEOUT - 1)
    assert c["s1"].current_term == 1 and not c.pending
    c.tick("s1")
    assert c["s1"].current_term == 2 and c["s1"].voted_for == "s1"
    assert {(m.dst, m.term) for m in c.select(kind=RequestVote)} == {("s2", 2), ("s3", 2)}
    c.settle()
    assert c["s1"].role == LEADER


def test_votes_from_an_earlier_term_do_not_count() -> None:
    """Only votes for the current candidacy count toward a majority (Figure 2, Candidates
    rule 2; section 5.2): a late grant from an earlier election is ignored."""
    node = make_node("s1", names(5))
    tick(node, TIMEOUT)
    tick(node, TIMEOUT)  # second election, term 2
    node.receive(vote("s2", "s1", 1))
    node.receive(vote("s3", "s1", 1))
    assert node.role == CANDIDATE
    node.receive(vote("s2", "s1", 2))
    node.receive(vote("s3", "s1", 2))
    assert node.role == LEADER


# ---------------------------------------------------------------------------- All Servers


@pytest.mark.parametrize("role", [FOLLOWER, CANDIDATE, LEADER])
@pytest.mark.parametrize("request_kind", ["RequestVote", "AppendEntries"])
def test_server_seeing_a_higher_term_in_a_request_adopts_it_and_converts_to_follower(
        role: str, request_kind: str) -> None:
    """If an RPC request contains a term T > currentTerm: set currentTerm = T and convert to
    follower (Figure 2, All Servers rule 2), forgetting the vote of the older term."""
    if role == LEADER:
        node = elected("s1", term=2)
    else:
        node = make_node("s1", term=3, voted_for="s1")
        if role == CANDIDATE:
            tick(node, TIMEOUT)
    assert node.role == role
    if request_kind == "RequestVote":
        msg = request_vote("s3", "s1", term=7, last_log_index=0, last_log_term=0)
    else:
        msg = append_entries("s3", "s1", term=7, prev_log_index=9, prev_log_term=6)
    node.receive(msg)
    assert (node.role, node.current_term) == (FOLLOWER, 7)
    assert node.voted_for != "s1", "a vote belongs to its term and is not carried over"


@pytest.mark.parametrize("role", [CANDIDATE, LEADER])
def test_server_seeing_a_higher_term_in_a_response_adopts_it_and_converts_to_follower(
        role: str) -> None:
    """If an RPC response contains a term T > currentTerm: set currentTerm = T and convert to
    follower (Figure 2, All Servers rule 2; the same rule as for requests)."""
    if role == LEADER:
        node = elected("s1", term=2)
        node.receive(append_reply("s2", "s1", term=5, success=False, match_index=0))
    else:
        node = make_node("s1", term=2)
        tick(node, TIMEOUT)
        node.receive(vote("s2", "s1", term=5, granted=False))
    assert (node.role, node.current_term, node.voted_for) == (FOLLOWER, 5, None)


# ------------------------------------------------------------------------ RequestVote receiver


def test_request_vote_from_an_older_term_is_rejected() -> None:
    """Reply false if term < currentTerm (Figure 2, RequestVote receiver rule 1), and say the
    receiver's term so the candidate can update itself."""
    node = make_node("s2", term=3)
    reply = only(node.receive(request_vote("s1", "s2", term=2)).messages)
    assert (reply.granted, reply.term) == (False, 3)
    assert node.voted_for is None


def test_voter_grants_at_most_one_vote_per_term() -> None:
    """A server votes for at most one candidate in a given term: votedFor must be null or the
    same candidate (Figure 2, RequestVote receiver rule 2; section 5.2)."""
    node = make_node("s3")
    assert only(node.receive(request_vote("s1", "s3", term=1)).messages).granted
    assert not only(node.receive(request_vote("s2", "s3", term=1)).messages).granted
    assert node.voted_for == "s1"


def test_voter_grants_again_to_the_candidate_it_already_voted_for() -> None:
    """votedFor == candidateId also grants (Figure 2, RequestVote receiver rule 2): a candidate
    whose first reply was lost and which asks again gets the same answer."""
    node = make_node("s3")
    rv = request_vote("s1", "s3", term=1)
    assert only(node.receive(rv).messages).granted
    assert only(node.receive(rv).messages).granted
    assert node.voted_for == "s1"


def test_voter_may_vote_again_in_a_later_term() -> None:
    """votedFor belongs to currentTerm: a new term frees the vote (Figure 2, All Servers
    rule 2 and RequestVote receiver rule 2)."""
    node = make_node("s3")
    node.receive(request_vote("s1", "s3", term=1))
    assert only(node.receive(request_vote("s2", "s3", term=2)).messages).granted
    assert (node.current_term, node.voted_for) == (2, "s2")


@pytest.mark.parametrize(
    "voter_log,candidate_last,granted",
    [
        # A later last term wins even with a shorter log ...
        ((1, 1, 1, 1, 2), (2, 3), True),
        # ... and an earlier last term loses even with a longer log.
        ((1, 1, 3), (7, 2), False),
        # Same last term: the longer log is more up-to-date.
        ((1, 2, 2), (2, 2), False),
        ((1, 2, 2), (3, 2), True),
        ((1, 2, 2), (4, 2), True),
        # Empty logs are equally up-to-date.
        ((), (0, 0), True),
    ],
    ids=["later-term-shorter", "earlier-term-longer", "same-term-shorter", "same-term-equal",
         "same-term-longer", "both-empty"],
)
def test_voter_grants_only_to_a_candidate_whose_log_is_at_least_as_up_to_date(
        voter_log: tuple[int, ...], candidate_last: tuple[int, int], granted: bool) -> None:
    """Grant only if the candidate's log is at least as up-to-date as the receiver's (Figure 2,
    RequestVote receiver rule 2; section 5.4.1: compare last terms; if equal, the longer log
    is more up-to-date)."""
    node = make_node("s2", term=5, log=log_of(*voter_log))
    index, last_term = candidate_last
    reply = only(node.receive(request_vote("s1", "s2", 6, index, last_term)).messages)
    assert reply.granted is granted
    assert node.voted_for == ("s1" if granted else None)


# ---------------------------------------------------------------------------- mutants


def test_mutant_vote_no_log_check_grants_to_a_candidate_with_an_older_log() -> None:
    """vote-no-log-check breaks the up-to-date clause of RequestVote receiver rule 2: correct
    node denies a candidate whose last term is older; the mutant grants."""
    def granted(mutants: tuple[str, ...]) -> bool:
        node = make_node("s2", term=2, log=log_of(1, 2), mutants=mutants)
        return only(node.receive(request_vote("s1", "s2", 3, 5, 1)).messages).granted

    assert granted(()) is False
    assert granted(("vote-no-log-check",)) is True


def test_mutant_double_vote_grants_a_second_candidate_in_the_same_term() -> None:
    """double-vote breaks the votedFor clause of RequestVote receiver rule 2: correct node
    denies the second candidate of a term; the mutant grants, so two leaders can win."""
    def second_granted(mutants: tuple[str, ...]) -> bool:
        node = make_node("s3", mutants=mutants)
        node.receive(request_vote("s1", "s3", term=1))
        return only(node.receive(request_vote("s2", "s3", term=1)).messages).granted

    assert second_granted(()) is False
    assert second_granted(("double-vote",)) is True


def test_mutant_minority_quorum_becomes_leader_without_a_majority() -> None:
    """minority-quorum breaks Candidates rule 2 ("votes from a majority"): in five servers,
    correct node stays candidate with two votes; the mutant becomes leader."""
    def role_with_two_votes(mutants: tuple[str, ...]) -> str:
        node = make_node("s1", names(5), mutants=mutants)
        tick(node, TIMEOUT)
        node.receive(vote("s2", "s1", 1))
        return node.role

    assert role_with_two_votes(()) == CANDIDATE
    assert role_with_two_votes(("minority-quorum",)) == LEADER


def test_mutant_candidate_ignores_leader_stays_candidate() -> None:
    """candidate-ignores-leader breaks Candidates rule 3: correct node steps down to follower on
    an AppendEntries from the new leader of its term; the mutant rejects it and stays candidate."""
    def after_append(mutants: tuple[str, ...]) -> tuple[str, bool]:
        node = make_node("s1", mutants=mutants)
        tick(node, TIMEOUT)
        reply = only(node.receive(append_entries("s2", "s1", term=1)).messages)
        return node.role, reply.success

    assert after_append(()) == (FOLLOWER, True)
    assert after_append(("candidate-ignores-leader",)) == (CANDIDATE, False)


def test_mutant_ignore_higher_term_reply_keeps_a_deposed_leader_leading() -> None:
    """ignore-higher-term-reply breaks All Servers rule 2 for responses only: correct leader
    adopts the higher term of a reply and steps down; the mutant stays leader of its old term
    (it still adopts higher terms from requests)."""
    def after_reply(mutants: tuple[str, ...]) -> tuple[str, int]:
        node = elected("s1", term=2, mutants=mutants)
        node.receive(append_reply("s2", "s1", term=5, success=False, match_index=0))
        return node.role, node.current_term

    assert after_reply(()) == (FOLLOWER, 5)
    assert after_reply(("ignore-higher-term-reply",)) == (LEADER, 3)
    node = elected("s1", term=2, mutants=("ignore-higher-term-reply",))
    node.receive(request_vote("s2", "s1", term=5))
    assert (node.role, node.current_term) == (FOLLOWER, 5)
