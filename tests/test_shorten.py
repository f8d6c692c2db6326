"""Shortening a counterexample after Hypothesis (raftref/search/shorten.py): every change keeps the
run failing, faults keep their pairs in order, the budget is respected, and the run is cut at the
violation."""

from __future__ import annotations

from dataclasses import replace

from raftref.search.shorten import (
    Budget,
    Shortener,
    _all_candidates,
    _candidates,
    _faster,
    scaled_faults,
)
from raftref.sim.schedule import RELIABLE, Fault, MessageFault, Schedule

SCHEDULE = Schedule(seed=3, nodes=3, steps=3000, faults=(
    Fault(100, "crash", "n1"), Fault(150, "restart", "n1"),
    Fault(200, "partition", groups=(("n1",), ("n2", "n3"))), Fault(260, "heal"),
    Fault(300, "crash", "n1"), Fault(330, "restart", "n1"),
    Fault(310, "partition", groups=(("n2",), ("n1", "n3"))), Fault(340, "heal"),
), message_faults=(MessageFault(40, "drop"),))


def _well_formed(schedule: Schedule) -> bool:
    """A crash only of a node that is up, a restart only of one that is down, a partition only
    while none is in force, a heal only of one that is."""
    down: set[str] = set()
    split = False
    order = ("crash", "restart", "partition", "heal", "propose")
    for f in sorted(schedule.faults, key=lambda f: (f.at, order.index(f.action))):
        if f.action in ("crash", "restart"):
            if (f.node in down) == (f.action == "crash"):
                return False
            down ^= {f.node}
        elif f.action in ("partition", "heal"):
            if split == (f.action == "partition"):
                return False
            split = not split
    return True


def test_every_candidate_keeps_crashes_before_restarts_and_one_partition_at_a_time() -> None:
    assert _well_formed(SCHEDULE)
    candidates = list(_candidates(SCHEDULE))
    assert len(candidates) > 20
    assert all(_well_formed(c) for c in candidates)
    moved = [c for c in candidates if len(c.faults) == len(SCHEDULE.faults)]
    assert any(min(f.at for f in c.faults) == 0 for c in moved)  # everything moved to time 0


def _judge_needing_a_crash_of_n1(runs: list[Schedule]):
    """Stands in for a run: the property is violated from step 37 on if n1 ever crashes."""
    def judge(schedule: Schedule) -> list[str]:
        runs.append(schedule)
        crashed = any(f.action == "crash" and f.node == "n1" for f in schedule.faults)
        return ["VoteOnce"] if crashed and schedule.steps >= 37 else []
    return judge


def test_shortening_keeps_what_the_violation_needs_moves_it_first_and_cuts_the_run() -> None:
    runs: list[Schedule] = []
    short = Shortener(frozenset({"VoteOnce"}), Budget(),
                      _judge_needing_a_crash_of_n1(runs)).shorten(SCHEDULE)
    assert short.steps == 37
    assert [(f.action, f.node) for f in short.faults] == [("crash", "n1"), ("restart", "n1")]
    assert short.faults[0].at == 0 and short.faults[1].at == 1
    assert short.message_faults == ()


def test_shortening_stops_when_its_runs_are_spent_and_keeps_a_failing_schedule() -> None:
    runs: list[Schedule] = []
    judge = _judge_needing_a_crash_of_n1(runs)
    short = Shortener(frozenset({"VoteOnce"}), Budget(runs=15), judge).shorten(SCHEDULE)
    assert len(runs) == 15
    assert judge(short) == ["VoteOnce"]
    assert Shortener(frozenset({"VoteOnce"}), Budget(runs=0), judge).shorten(
        SCHEDULE) == SCHEDULE


def test_a_schedule_that_does_not_fail_comes_back_unchanged() -> None:
    quiet = replace(SCHEDULE, faults=())
    assert Shortener(frozenset({"VoteOnce"}), Budget(),
                     _judge_needing_a_crash_of_n1([])).shorten(quiet) == quiet


def test_every_candidate_has_valid_timing_and_some_are_faster_with_faults_scaled() -> None:
    candidates = list(_all_candidates(SCHEDULE))
    assert all(_well_formed(c) for c in candidates)
    for c in candidates:
        c.validate_timing()
    fastest = [c for c in candidates if (c.election_timeout_min, c.election_timeout_max,
                                         c.heartbeat_interval) == (3, 6, 1)]
    assert {c.faults for c in fastest} == {SCHEDULE.faults, scaled_faults(SCHEDULE.faults, 3, 10)}
    assert any(c.network.delay_max < SCHEDULE.network.delay_max for c in candidates)
    assert any(c.network.long_delay_max < SCHEDULE.network.long_delay_max for c in candidates)
    assert not list(_faster(replace(SCHEDULE, election_timeout_min=3, election_timeout_max=6,
                                    heartbeat_interval=1, network=RELIABLE)))


def _judge_waiting_for_elections(runs: list[Schedule], fast_fails: bool = True):
    """Stands in for a run: the violation needs a crash of n1 and three election timeouts'
    worth of steps; with ``fast_fails`` False, any timing but the default hides it."""
    def judge(schedule: Schedule) -> list[str]:
        runs.append(schedule)
        crashed = any(f.action == "crash" and f.node == "n1" for f in schedule.faults)
        default = (schedule.election_timeout_min, schedule.heartbeat_interval) == (10, 2)
        if not crashed or not (fast_fails or default):
            return []
        return ["VoteOnce"] if schedule.steps >= 3 * schedule.election_timeout_min else []
    return judge


def test_shortening_takes_faster_timing_when_the_violation_still_shows_sooner() -> None:
    short = Shortener(frozenset({"VoteOnce"}), Budget(), _judge_waiting_for_elections([]),
                      timing=True).shorten(SCHEDULE)
    assert (short.election_timeout_min, short.heartbeat_interval) == (3, 1)
    assert short.steps == 9
    assert [(f.action, f.node) for f in short.faults] == [("crash", "n1"), ("restart", "n1")]


def test_shortening_keeps_the_timing_when_faster_timing_hides_the_violation() -> None:
    short = Shortener(frozenset({"VoteOnce"}), Budget(),
                      _judge_waiting_for_elections([], fast_fails=False),
                      timing=True).shorten(SCHEDULE)
    assert (short.election_timeout_min, short.election_timeout_max,
            short.heartbeat_interval) == (10, 20, 2)
    assert short.steps == 30


def test_scaling_fault_times_keeps_distinct_times_distinct_and_in_order() -> None:
    faults = (Fault(10, "partition", groups=(("n1",), ("n2", "n3"))), Fault(11, "heal"),
              Fault(12, "partition", groups=(("n2",), ("n1", "n3"))), Fault(13, "heal"))
    scaled = scaled_faults(faults, 1, 2)
    assert [f.at for f in scaled] == [5, 6, 7, 8]
    assert [f.action for f in scaled] == [f.action for f in faults]


def test_with_another_target_shortening_keeps_the_timing_by_default() -> None:
    short = Shortener(frozenset({"VoteOnce"}), Budget(),
                      _judge_waiting_for_elections([])).shorten(SCHEDULE)
    assert (short.election_timeout_min, short.heartbeat_interval) == (10, 2)
    assert short.steps == 30
