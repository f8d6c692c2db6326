"""A second search, in a fast regime, for a shorter counterexample than the one found.

Shrinking and shortening (raftref/search/shorten.py) only simplify the run that was found. Some runs
do not get much shorter that way: at the default timing (election timeouts of 10-20 ticks,
network delays of 1-4) a violation that needs three elections takes hundreds of steps, and
making the timing of *that* run faster changes every later random draw (which node times out
first, which message is lost), so the violation is gone. Nor can the timing alone be made
faster: election timeouts of 3-6 ticks with message delays of up to 4 make most elections
split, and leaders seldom last (measured on stale-reply-match: a stale acknowledgement reached
a re-elected leader in 7 of 300 such runs, against 112 of 300 with delays of 1 tick).

So after shortening, this module searches again, with the same generator, in a *regime*: node
timing and network delays fast together (:data:`REGIMES`), the faults' times scaled down
alike. Every run stops at the best counterexample's length, so only a shorter violation of a
wanted property counts. What it finds is shortened in turn, and the search starts again below
that, until the budget is spent or :data:`DRAWS_PER_ATTEMPT` draws in a row find nothing
shorter. On the mutants' counterexamples (seed 1, the corpus in traces/counterexamples/) this
took commit-past-new-entries from 231 simulator steps to 53, figure8 from 125 to 88,
ignore-higher-term-reply from 66 to 35, truncate-on-match from 60 to 42 and stale-reply-match
from 1,736 to 612; the five others were already as short as it finds.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from hypothesis import HealthCheck, Phase, find, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample, Unsatisfiable

from raftref.search.reproducible import no_local_constants
from raftref.search.shorten import Budget, BudgetSpent, Shortener, scaled_faults
from raftref.search.strategies import schedules
from raftref.sim.schedule import TIMING_DEFAULTS, Schedule


@dataclass(frozen=True)
class Regime:
    """Node timing (ticks) with the network delay that suits it: a request and its reply
    (2 x ``delay_max``) fit in well under one election timeout."""

    election_timeout_min: int
    election_timeout_max: int
    heartbeat_interval: int
    delay_max: int


# Both are the fastest timing that shortening tries (raftref.search.shorten.FASTEST) or one
# heartbeat slower (fewer deliveries per tick), with one-tick delays; which suits a bug differs.
REGIMES = (Regime(3, 6, 2, 1), Regime(3, 6, 1, 1))


def in_regime(schedule: Schedule, regime: Regime) -> Schedule:
    """``schedule`` with the regime's timing and delays; timed faults, long delays, message
    faults' delays and the client's interval scaled by the ratio of the election timeouts (a
    crash that lasted one election still lasts about one, a leader still gets about as many
    requests per term)."""
    num, den = regime.election_timeout_min, schedule.election_timeout_min
    net = schedule.network
    delay_max = max(net.delay_min, min(net.delay_max, regime.delay_max))
    long_min = max(delay_max + 1, net.long_delay_min * num // den)
    network = replace(net, delay_max=delay_max, long_delay_min=long_min,
                      long_delay_max=max(long_min, net.long_delay_max * num // den))
    message_faults = tuple(replace(m, delay=max(1, m.delay * num // den))
                           if m.action == "delay" else m for m in schedule.message_faults)
    interval = schedule.proposal_interval and max(1, schedule.proposal_interval * num // den)
    return replace(schedule, network=network, message_faults=message_faults,
                   proposal_interval=interval,
                   faults=scaled_faults(schedule.faults, num, den),
                   election_timeout_min=regime.election_timeout_min,
                   election_timeout_max=regime.election_timeout_max,
                   heartbeat_interval=regime.heartbeat_interval)


# An attempt gives up after this many draws without a shorter violation, if the budget does
# not end it sooner: the search, unlike the shrinking passes, has no end of its own, and a
# counterexample already about as short as the mutant allows (minority-quorum's 7 steps)
# should not cost the whole budget (1,000 draws below 7 steps: 5 s). Draws until the first
# shorter violation, seed 1, five attempts each: commit-past-new-entries 7-49 (below 231
# steps), figure8 23-589 (below 125), stale-reply-match about 500-900 (below 3,000).
DRAWS_PER_ATTEMPT = 1000


class _Stop(Exception):
    pass


def rehunt(*, want: frozenset[str] | None, bound: int, budget: Budget, seed: int,
           attempt: int = 1, nodes: int | None = None, generator: str = "random",
           mutants: tuple[str, ...] = ()) -> Schedule | None:
    """The first schedule found that violates a wanted property (any, when ``want`` is None)
    in fewer than ``bound`` simulator steps, cut at its violation; None when the budget runs
    out first. Draws come from ``generator`` (raftref/search/strategies.py), each in one of the
    :data:`REGIMES`, reproducibly from ``seed`` and ``attempt`` (the campaign's seed; a new
    attempt, other draws)."""
    judge = Shortener(want, budget)
    found: list[Schedule] = []
    # The generator places faults over the ticks its ``steps`` cover at the default timing;
    # scaled into a regime they then cover about the ticks of ``bound`` steps.
    stretch = TIMING_DEFAULTS["election_timeout_min"] / min(r.election_timeout_min
                                                            for r in REGIMES)
    strategy = st.tuples(
        schedules(nodes=nodes, steps=max(1, int(bound * stretch)), mutants=mutants,
                  generator=generator, base_seed=seed << 20),
        st.sampled_from(REGIMES),
    ).map(lambda pair: in_regime(*pair))

    def shorter(schedule: Schedule) -> bool:
        try:
            step = judge.violation_step(replace(schedule, steps=bound - 1))
        except BudgetSpent:
            raise _Stop from None
        if step is not None:
            found.append(replace(schedule, steps=step))
        return step is not None

    # Generation only: the first shorter violation ends the search (it is shortened next,
    # which is cheaper than Hypothesis' shrinker on these short runs), or the budget does.
    # Settings pinned as in raftref.search.fuzz.hunt, and no_local_constants, so the seed alone
    # decides the draws.
    config = settings(max_examples=DRAWS_PER_ATTEMPT, database=None, deadline=None,
                      phases=[Phase.generate], suppress_health_check=list(HealthCheck),
                      derandomize=False)
    try:
        with no_local_constants():
            find(strategy, shorter, settings=config,
                 random=random.Random(f"rehunt:{seed}:{attempt}"))
    except (_Stop, NoSuchExample, Unsatisfiable):
        pass
    return found[0] if found else None
