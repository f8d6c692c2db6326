"""The second search for a shorter counterexample (raftref/search/rehunt.py): schedules moved into a
fast regime stay well formed and replayable, what the search returns is shorter than its bound and
violates a wanted property exactly from its last step, the seed decides the draws, the budget
is respected, and a campaign ends with a shorter counterexample than shortening alone gives."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from raftref.mutants import EXPECTED
from raftref.search.fuzz import _rehunt_and_shorten, hunt, judge
from raftref.search.rehunt import REGIMES, Regime, in_regime, rehunt
from raftref.search.shorten import Budget, Shortener
from raftref.search.strategies import GENERATORS, schedules
from raftref.sim.schedule import Schedule
from tests.test_shorten import _well_formed

WANT = EXPECTED["commit-past-new-entries"]


@given(st.sampled_from(GENERATORS).flatmap(lambda g: schedules(generator=g)),
       st.sampled_from(REGIMES))
def test_a_schedule_moved_into_a_regime_is_valid_and_keeps_its_faults_in_order(
        schedule: Schedule, regime: Regime) -> None:
    fast = in_regime(schedule, regime)
    assert Schedule.from_json(fast.to_json()) == fast  # validates timing and network
    assert (fast.election_timeout_min, fast.election_timeout_max,
            fast.heartbeat_interval) == (regime.election_timeout_min,
                                         regime.election_timeout_max, regime.heartbeat_interval)
    net = fast.network
    assert net.delay_max <= max(regime.delay_max, schedule.network.delay_min)
    assert net.delay_max < net.long_delay_min <= net.long_delay_max
    assert [(f.action, f.node, f.groups) for f in fast.faults] == \
        [(f.action, f.node, f.groups) for f in schedule.faults]
    assert all(f.at <= g.at for f, g in zip(fast.faults, schedule.faults, strict=True))
    assert _well_formed(fast) == _well_formed(schedule)
    assert fast.proposal_interval <= schedule.proposal_interval
    assert bool(fast.proposal_interval) == bool(schedule.proposal_interval)


def test_the_search_returns_a_shorter_violation_cut_at_its_last_step() -> None:
    found = rehunt(want=WANT, bound=231, budget=Budget(runs=400), seed=1,
                   mutants=("commit-past-new-entries",))
    assert found is not None and found.steps < 231
    assert (found.election_timeout_min, found.election_timeout_max,
            found.heartbeat_interval) in {(r.election_timeout_min, r.election_timeout_max,
                                           r.heartbeat_interval) for r in REGIMES}
    assert set(judge(found).violated) & WANT
    assert not set(judge(replace(found, steps=found.steps - 1)).violated) & WANT
    # Same seed and attempt, same draws; the schedule JSON replays it.
    again = rehunt(want=WANT, bound=231, budget=Budget(runs=400), seed=1,
                   mutants=("commit-past-new-entries",))
    assert again == found == Schedule.from_json(found.to_json())


def test_the_search_spends_no_more_runs_than_its_budget_and_returns_none_when_out() -> None:
    budget = Budget(runs=30)
    # Nothing violates a property of minority-quorum in fewer than 2 steps.
    assert rehunt(want=EXPECTED["minority-quorum"], bound=2, budget=budget, seed=1,
                  mutants=("minority-quorum",)) is None
    assert budget.runs == 0


def test_a_part_of_a_budget_spends_from_the_whole_and_leaves_the_rest_to_it() -> None:
    whole = Budget(runs=90)
    part = whole.part(1 / 3)
    assert part.runs == 30
    for _ in range(10):
        part.spend()
    assert (part.runs, whole.runs) == (20, 80)
    assert whole.part(1 / 2).runs == 40  # half of what is left, not of what was given


def test_a_campaign_ends_shorter_than_shortening_alone_would() -> None:
    # The first failing schedule of a fixed-seed campaign, shrunk by nothing.
    first = hunt(seed=1, mutant="commit-past-new-entries", examples=20, shrink=False)
    assert first.finding is not None
    shortened = Shortener(WANT, Budget(runs=150)).shorten(first.finding.schedule)
    best = _rehunt_and_shorten(shortened, WANT, Budget(runs=400), 1, None, "random",
                               ("commit-past-new-entries",))
    assert best.steps < shortened.steps
    assert set(judge(best).violated) & WANT
