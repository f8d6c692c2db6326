"""Counterexamples made short: what ``hunt`` does after Hypothesis has shrunk a failing schedule.

Why not leave it all to Hypothesis: an example of the ``random`` generator is at least the
seed's default fault mix plus a denser seeded layer (raftref/search/strategies.py), and those seeded
faults are not Hypothesis' draws, so its shrinker can neither delete them nor move them earlier. The
simplest example is often the very one that failed, and it runs for thousands of steps.
Drawing the seeded faults through Hypothesis would not fix that: the simplest draw has to be the
busy default mix (quiet runs find almost nothing), so the shrinker would pull every fault back
toward its seeded time, not toward an earlier or emptier run. So the last word is here, in
plain greedy passes over the schedule as data; each change is kept only when the run still
violates a wanted property, no later than the best run so far:

- remove every fault at once, then each unit on its own (a crash with its restart, a partition
  with its heal, a message fault);
- move every timed fault earlier by one common offset (as far as the earliest can go, then less),
  then close each quiet gap (every fault after it earlier by the same offset);
- move each unit earlier, its faults together (to just after the previous unit on the same node,
  or the previous partition, so a crash stays before its restart and a heal cannot end a later
  partition; or a quarter, half or three quarters of the way there), and end each unit sooner
  (restart or heal earlier);
- make the nodes' timing faster (election timeouts and heartbeat halved, straight to the floor
  of :data:`FASTEST`, or the heartbeat alone down to 1), with the faults' times scaled along or
  not (simulator only: PySyncObj keeps its timing), and the network's
  delays shorter (delays and long delays halved, or down to their minimum; message faults'
  delays halved): a 3-node cluster spends 3 steps per tick, so fewer ticks of waiting for an
  election or a message are many fewer steps;
- cut the run at the step where the violation shows.

The fault moves run first on their own until none helps, then with the timing and delay moves
(so the fault moves get another pass after a faster timing); a second descent uses all moves
from the start, and the simpler result of the two is kept. Every candidate runs only as long as
the best run so far, so the passes get cheaper as the
counterexample gets shorter. A :class:`Budget` (seconds and runs) bounds them; when it runs out,
the best schedule so far is kept, and it always fails.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from checker import check_lines
from raftref.search.judging import history_violations, judge_history
from raftref.sim.schedule import FAULT_ACTIONS, Fault, Schedule
from raftref.sim.simulator import Simulation

CLOSER = {"crash": "restart", "partition": "heal"}
# The fastest timing shortening tries (ticks): election timeouts of 3 to 6, a heartbeat every
# tick (still below the election timeout, so a leader is heard from in time).
FASTEST = {"election_timeout_min": 3, "election_timeout_max": 6, "heartbeat_interval": 1}


@dataclass
class Budget:
    """What shortening may still spend: a monotonic-clock deadline and a number of runs
    (None: no bound). A part of a budget (:meth:`part`) also spends from the whole."""

    deadline: float | None = None
    runs: int | None = None
    whole: Budget | None = None

    def spend(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise BudgetSpent
        if self.runs is not None and self.runs <= 0:
            raise BudgetSpent
        if self.whole is not None:
            self.whole.spend()
        if self.runs is not None:
            self.runs -= 1

    def part(self, fraction: float) -> Budget:
        """A stage's share: ``fraction`` of the time and runs still left (what a stage leaves
        unspent stays with the whole, for the stages after it)."""
        deadline = (None if self.deadline is None else
                    time.monotonic() + max(0.0, self.deadline - time.monotonic()) * fraction)
        runs = None if self.runs is None else int(self.runs * fraction)
        return Budget(deadline, runs, self)


class BudgetSpent(Exception):
    """Raised by :meth:`Budget.spend` when no run is left."""


class _Stamped(io.BytesIO):
    """A trace buffer that remembers which simulator step wrote each line."""

    def __init__(self) -> None:
        super().__init__()
        self.sim: Simulation | None = None
        self.line_steps: list[int] = []

    def write(self, data: Any) -> int:
        step = self.sim.result.steps if self.sim is not None else 0
        self.line_steps += [step] * bytes(data).count(b"\n")
        return super().write(data)


Judge = Callable[[Schedule], list[str]]


class Shortener:
    """Shortens one failing schedule; see the module's docstring."""

    def __init__(self, want: frozenset[str] | None, budget: Budget,
                 judge: Judge | None = None, timing: bool | None = None) -> None:
        # judge: the violated properties of a run on another target (PySyncObj); without it,
        # runs go to the simulator, which says at which step each trace line was written.
        self.want = want
        self.budget = budget
        self.judge = judge
        self.best = self.kept = Schedule()  # the simplest failing schedule so far, per descent
        # timing: whether faster timing is tried; by default only on the simulator (no judge):
        # PySyncObj accepts a narrower range of timings (raftref/harness/pysyncobj.py:
        # timing_problem), so another target keeps its timing.
        self._moves = (_all_candidates if (judge is None if timing is None else timing)
                       else _candidates_and_delays)

    def _hit(self, violated: list[str]) -> bool:
        return bool(set(violated) & self.want) if self.want else bool(violated)

    def _fails(self, schedule: Schedule) -> bool:
        self.budget.spend()
        if self.judge is not None:
            return self._hit(self.judge(schedule))
        return self._hit(violated(schedule))

    def violation_step(self, schedule: Schedule) -> int | None:
        """The fewest steps of ``schedule`` that still violate a wanted property, or None when
        its whole run (``schedule.steps``) does not."""
        if self.judge is not None:
            if not self._fails(schedule):
                return None
            return self._bisect(schedule, 0, schedule.steps)
        self.budget.spend()
        trace, line_steps, history = _simulate(schedule)
        report = check_lines(trace.decode().splitlines(), name="<shortening>")
        if not self._hit(report.violated):
            if self._hit(history_violations(judge_history(history))):
                # A history has no line a step wrote last: search the step.
                return self._bisect(schedule, 0, schedule.steps)
            return None
        # The step that wrote the last line a violation cites is where the checker sees it;
        # one more run confirms it (a property decided later than its last cited line falls
        # back to a binary search).
        cited = [max(c.line for c in v.lines) for v in report.violations
                 if v.lines and (not self.want or v.property in self.want)]
        if not cited:
            return self._bisect(schedule, 0, schedule.steps)
        step = min(line_steps[line - 1] for line in cited)
        if step >= schedule.steps or self._fails(replace(schedule, steps=step)):
            return min(step, schedule.steps)
        return self._bisect(schedule, step, schedule.steps)

    def _bisect(self, schedule: Schedule, low: int, high: int) -> int:
        """The least steps in (low, high] that fail, given that ``high`` does. A run's prefix
        does not depend on its length, so failing is monotonic in ``steps``."""
        while low + 1 < high:
            mid = (low + high) // 2
            if self._fails(replace(schedule, steps=mid)):
                high = mid
            else:
                low = mid
        return high

    def shorten(self, schedule: Schedule) -> Schedule:
        """The shortest, emptiest failing schedule the passes reach within the budget;
        ``schedule`` must fail."""
        self.best = self.kept = schedule
        try:
            step = self.violation_step(schedule)
            if step is None:
                return schedule
            start = self.best = replace(schedule, steps=step)
            # Two descents, the simpler result kept: the fault moves alone to the end, then
            # with faster timing and shorter delays (the fault moves get another pass); and all
            # moves from the start. Neither wins on every mutant: faster timing taken early can
            # strand faults where the slow timing needed them, and taken late it can be too late.
            self._descend(_candidates)
            self._descend(self._moves)
            self.kept = self.best
            self.best = start
            self._descend(self._moves)
        except BudgetSpent:
            pass
        return self._without_unreached(min(self.kept, self.best, key=simplicity))

    def _descend(self, moves: Callable[[Schedule], Iterator[Schedule]]) -> None:
        """Steepest descent from ``self.best``: every candidate of the best so far is run, and
        the simplest that still fails wins the round (taking the first that fails gets stuck
        sooner: measured on the mutants' counterexamples)."""
        improved = True
        while improved:
            improved = False
            best = self.best
            for candidate in list(moves(best)):
                step = self.violation_step(replace(candidate, steps=best.steps))
                if step is not None:
                    found = replace(candidate, steps=step)
                    if simplicity(found) < simplicity(self.best):
                        self.best, improved = found, True

    def _without_unreached(self, schedule: Schedule) -> Schedule:
        """Drop the faults the run ends before: timed ones due after its last step, message
        faults aimed past its last message. They never act, and removing them leaves the run
        as it was (ties in time keep their order), so this is done even when the budget is
        spent: two runs of the already short schedule."""
        if self.judge is not None:
            return schedule
        sim = Simulation(schedule, None)
        sim.run()
        trimmed = replace(schedule,
                          faults=tuple(f for f in schedule.faults if f.at <= sim.now),
                          message_faults=tuple(m for m in schedule.message_faults
                                               if m.send <= sim.result.messages_sent))
        if trimmed == schedule:
            return schedule
        return trimmed if self._hit(violated(trimmed)) else schedule


def simplicity(schedule: Schedule) -> tuple[int, int, int]:
    """The order in which counterexamples are preferred: shorter runs first, then fewer
    faults, then earlier ones."""
    return (schedule.steps, len(schedule.faults) + len(schedule.message_faults),
            sum(f.at for f in schedule.faults))


def violated(schedule: Schedule) -> list[str]:
    """The properties a simulated run of ``schedule`` violates, its trace's and its
    history's."""
    trace, _, history = _simulate(schedule)
    return (check_lines(trace.decode().splitlines(), name="<shortening>").violated
            + history_violations(judge_history(history)))


def _simulate(schedule: Schedule) -> tuple[bytes, list[int], bytes]:
    buf, history = _Stamped(), io.BytesIO()
    sim = Simulation(schedule, buf, history=history)
    buf.sim = sim
    sim.run()
    return buf.getvalue(), buf.line_steps, history.getvalue()


def _ordered(faults: list[Fault]) -> tuple[Fault, ...]:
    return tuple(sorted(faults, key=lambda f: (f.at, FAULT_ACTIONS.index(f.action),
                                                f.node or "")))


def _units(faults: tuple[Fault, ...]) -> list[list[int]]:
    """Indices of the faults that go together: a crash with the next restart of its node, a
    partition with the next heal; anything else alone."""
    units: list[list[int]] = []
    taken: set[int] = set()
    for i, fault in enumerate(faults):
        if i in taken:
            continue
        unit = [i]
        closer = CLOSER.get(fault.action)
        if closer is not None:
            unit += [j for j in range(i + 1, len(faults)) if j not in taken
                     and faults[j].action == closer
                     and (closer == "heal" or faults[j].node == fault.node)][:1]
        taken.update(unit)
        units.append(unit)
    return units


def _resource(fault: Fault) -> str | None:
    """What a unit must not overlap with another of: its node's up/down state, the network's
    partition (one at a time: a heal ends whichever is in force)."""
    if fault.action in ("crash", "restart"):
        return fault.node
    if fault.action in ("partition", "heal"):
        return "network"
    return None


def _candidates(schedule: Schedule) -> Iterator[Schedule]:
    """Simpler schedules than ``schedule``: fewer faults, or the same ones earlier."""
    faults = schedule.faults
    if faults or schedule.message_faults:
        yield replace(schedule, faults=(), message_faults=())
    units = _units(faults)
    for unit in units:
        yield replace(schedule, faults=tuple(f for i, f in enumerate(faults) if i not in unit))
    for m in schedule.message_faults:
        yield replace(schedule, message_faults=tuple(x for x in schedule.message_faults
                                                     if x is not m))
    if faults:
        first = min(f.at for f in faults)
        for offset in sorted({first * k // 8 for k in range(1, 9)}, reverse=True):
            if offset > 0:
                yield replace(schedule, faults=_ordered(
                    [replace(f, at=f.at - offset) for f in faults]))
    starts = sorted({f.at for f in faults})
    for before, start in zip(starts, starts[1:], strict=False):
        # Close a quiet gap: everything from ``start`` on comes earlier, together, to one tick
        # after the fault before it at the most (at the same tick, a heal could end a
        # partition that comes after it).
        gap = start - before
        for shift in sorted({gap - 1, gap * 3 // 4, gap // 2, gap // 4}, reverse=True):
            if shift > 0:
                yield replace(schedule, faults=_ordered(
                    [replace(f, at=f.at - shift) if f.at >= start else f for f in faults]))
    for unit in units:
        start = faults[unit[0]].at
        resource = _resource(faults[unit[0]])
        earlier = [max(faults[i].at for i in other) + 1 for other in units
                   if other is not unit and faults[other[0]].at < start
                   and resource is not None and _resource(faults[other[0]]) == resource]
        bound = max(earlier, default=0)
        for new_start in sorted({bound + (start - bound) * k // 4 for k in range(4)}):
            if new_start < start:
                shift = start - new_start
                moved = [replace(f, at=f.at - shift) if i in unit else f
                         for i, f in enumerate(faults)]
                yield replace(schedule, faults=_ordered(moved))
    for unit in units:
        if len(unit) == 2:
            opener, closer = faults[unit[0]].at, faults[unit[1]].at
            for new_end in sorted({opener + 1 + (closer - opener - 1) * k // 4 for k in range(4)}):
                if new_end < closer:
                    moved = [replace(f, at=new_end) if i == unit[1] else f
                             for i, f in enumerate(faults)]
                    yield replace(schedule, faults=_ordered(moved))


def _all_candidates(schedule: Schedule) -> Iterator[Schedule]:
    """The fault moves, then faster timing and shorter delays."""
    yield from _candidates(schedule)
    yield from _faster(schedule)


def _candidates_and_delays(schedule: Schedule) -> Iterator[Schedule]:
    """The fault moves, then shorter network delays."""
    yield from _candidates(schedule)
    yield from _shorter_delays(schedule)


def _faster(schedule: Schedule) -> Iterator[Schedule]:
    """Faster timing (see the module's docstring), then shorter network delays."""
    lo, hi, beat = (schedule.election_timeout_min, schedule.election_timeout_max,
                    schedule.heartbeat_interval)
    floor_lo, floor_hi, floor_beat = FASTEST.values()
    timings = []
    for new_lo, new_hi, new_beat in ((floor_lo, floor_hi, floor_beat),
                                     (lo // 2, hi // 2, beat // 2), (lo, hi, floor_beat)):
        new_lo = min(lo, max(floor_lo, new_lo))
        new_hi = min(hi, max(new_lo, floor_hi, new_hi))
        new_beat = min(beat, max(floor_beat, new_beat), new_lo - 1)
        timing = (new_lo, new_hi, new_beat)
        if timing != (lo, hi, beat) and timing not in timings:
            timings.append(timing)
    for new_lo, new_hi, new_beat in timings:
        faster = replace(schedule, election_timeout_min=new_lo, election_timeout_max=new_hi,
                         heartbeat_interval=new_beat)
        yield faster
        if schedule.faults and new_lo < lo:
            yield replace(faster, faults=scaled_faults(schedule.faults, new_lo, lo))
    yield from _shorter_delays(schedule)


def _shorter_delays(schedule: Schedule) -> Iterator[Schedule]:
    """The network's delays, and message faults' delays, shorter."""
    net = schedule.network
    networks = [replace(net, delay_max=max(net.delay_min, net.delay_max // 2)),
                replace(net, delay_max=net.delay_min)]
    if net.long_delay or net.append_delay or net.reply_delay:  # else no long delay happens
        networks.append(replace(net, long_delay_min=min(net.long_delay_min,
                                                        net.long_delay_max // 2),
                                long_delay_max=net.long_delay_max // 2))
    seen = [net]
    for shorter in networks:
        if shorter not in seen:
            seen.append(shorter)
            yield replace(schedule, network=shorter)
    if any(m.action == "delay" and m.delay > 1 for m in schedule.message_faults):
        yield replace(schedule, message_faults=tuple(
            replace(m, delay=max(1, m.delay // 2)) if m.action == "delay" else m
            for m in schedule.message_faults))


def scaled_faults(faults: tuple[Fault, ...], num: int, den: int) -> tuple[Fault, ...]:
    """Every fault's time times num/den, faults at different times kept at different times (in
    the same order), so a crash stays before its restart and a heal before the next partition."""
    moved: list[Fault] = []
    for fault in faults:  # in order of time
        at = fault.at * num // den
        if moved:
            previous, before = moved[-1].at, faults[len(moved) - 1].at
            at = max(at, previous + 1 if fault.at > before else previous)
        moved.append(replace(fault, at=at))
    return _ordered(moved)
