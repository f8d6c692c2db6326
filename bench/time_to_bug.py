"""Benchmark: how fast the fuzzer finds each mutant of the bug zoo, against a random baseline.

For each mutant and each seed:
  - fuzz: a Hypothesis campaign (raftref.search.fuzz.hunt, without shrinking) until the first
  violation
    of a property the mutant is expected to break: examples and seconds;
  - baseline, in the same run: uniformly random schedules (the simulator's default fault mix,
    one fresh seed per example) with the same budget and no shrinking;
  - then, once per mutant (seed 1), the fuzz campaign with all of its shrinking (Hypothesis,
    raftref/search/shorten.py, the second search of raftref/search/rehunt.py), for the size of the
    counterexample: schedule steps (the schedule's entries: timed faults + message faults),
    simulator steps (every tick, delivery, client request and fault the run takes) and trace
    events.
Prints one row per mutant: medians over seeds, and the baseline/fuzz ratio of examples.

Usage: python bench/time_to_bug.py [--seeds 3] [--budget 300] [--seconds 60]
       [--shrink-seconds 60] [--mutant NAME]
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

from raftref.mutants import EXPECTED, MUTANTS
from raftref.search.fuzz import hunt, judge
from raftref.sim.schedule import generate_schedule

# The generator each mutant is hunted with (as in tests/test_fuzz.py).
GENERATOR = {"stale-reply-match": "stale-acks", "unconfirmed-read": "clients",
             "follower-local-read": "clients", "lease-past-bound": "leases",
             "duplicate-retry": "clients"}


def baseline(mutant: str, seed: int, budget: int, seconds: float, steps: int) -> tuple[int, float]:
    """Examples and seconds until a random default-mix schedule violates an expected property;
    (budget + 1, elapsed) when none does within the budget. For the mutants of what clients
    see, the default mix runs with 3 clients recording a history (and leases for the lease
    mutant), since without clients nothing could show them."""
    generator = GENERATOR.get(mutant, "random")
    started = time.monotonic()
    for i in range(1, budget + 1):
        schedule = generate_schedule(seed=seed * 100_003 + i, nodes=3 if i % 2 else 5,
                                     steps=steps, mutants=(mutant,))
        if generator in ("clients", "leases"):
            schedule = replace(schedule, clients=3, lease_reads=generator == "leases")
        if set(judge(schedule).violated) & EXPECTED[mutant]:
            return i, time.monotonic() - started
        if time.monotonic() - started > seconds:
            break
    return budget + 1, time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=300, help="examples per search")
    parser.add_argument("--seconds", type=float, default=60.0, help="time cap per search")
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--shrink-seconds", type=float, default=60.0)
    parser.add_argument("--mutant", action="append", choices=list(MUTANTS))
    args = parser.parse_args()
    mutants = args.mutant or list(MUTANTS)
    head = (f"{'mutant':<25} {'fuzz ex':>8} {'fuzz s':>7} {'found':>5} {'base ex':>8} {'base s':>7}"
            f" {'found':>5} {'base/fuzz':>9} {'sched steps':>11} {'sim steps':>9} {'events':>6}"
            f"  property")
    print(head)
    print("-" * len(head))
    for mutant in mutants:
        generator = GENERATOR.get(mutant, "random")
        fz_ex, fz_s, bl_ex, bl_s = [], [], [], []
        fz_found = bl_found = 0
        for seed in range(1, args.seeds + 1):
            r = hunt(seed=seed, mutant=mutant, examples=args.budget, seconds=None,
                     steps=args.steps, generator=generator, shrink=False)
            if r.finding is not None:
                fz_found += 1
                fz_ex.append(r.finding.found_after_examples)
                fz_s.append(r.finding.found_after_seconds)
            else:
                fz_ex.append(args.budget + 1)
                fz_s.append(r.seconds)
            n, s = baseline(mutant, seed, args.budget, args.seconds, args.steps)
            bl_found += n <= args.budget
            bl_ex.append(n)
            bl_s.append(s)
        shrunk = hunt(seed=1, mutant=mutant, examples=args.budget, steps=args.steps,
                      generator=generator, shrink_seconds=args.shrink_seconds).finding
        med_f, med_b = statistics.median(fz_ex), statistics.median(bl_ex)
        size = ((f"{shrunk.schedule_steps:>11} {shrunk.schedule.steps:>9} {shrunk.events:>6}  "
                 f"{shrunk.property}") if shrunk else f"{'-':>11} {'-':>9} {'-':>6}  not found")
        print(f"{mutant:<25} {med_f:>8.0f} {statistics.median(fz_s):>7.1f} "
              f"{fz_found:>2}/{args.seeds:<2} {med_b:>8.0f} {statistics.median(bl_s):>7.1f} "
              f"{bl_found:>2}/{args.seeds:<2} {med_b / med_f:>8.1f}x {size}", flush=True)
    print(f"\nmedians over {args.seeds} seeds; budget {args.budget} examples or "
          f"{args.seconds:.0f} s per search; a search that found nothing counts as budget + 1 "
          "examples")


if __name__ == "__main__":
    main()
