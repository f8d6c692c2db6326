"""Bounded model checking from Init: the shortest path to a violated safety property.

States S0..Sk are fresh Z3 variables; S0 satisfies Init, and each S(n+1) follows from Sn by one
action instance (a disjunction over instances, each behind a selector literal so the path can be
read back). The depth k grows from 0 and the first k at which some property can fail is
reported, so the path is a shortest one. The properties are the four state properties of the
paper's Figure 3 (ElectionSafety is OnePrimaryPerTerm) and the step property LeaderAppendOnly.

For the correct model the same search, to a stated depth, finds nothing, and reports the depths
at which a leader is first elected and an entry first committed (reachability, to show the
bounded model is not vacuous). Compare Apalache's BMC of raft.tla (Z3.md: about an hour to depth
8): the atomic-step model is far smaller.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import z3

from checker.proof.actions import Step, instances
from checker.proof.invariants import PROPERTY_NAMES, SAFETY, lemma
from checker.proof.model import Bounds, RaftState, SymState, init, leader_append_only, type_ok
from checker.proof.mutants import AbstractMutant, mutant
from checker.proof.ops import SYMBOLIC
from checker.proof.prove import APPEND_ONLY, _choices


@dataclass
class PathStep:
    """The state after ``action`` (None for the initial state)."""

    action: str | None
    params: dict[str, int]
    choices: dict[str, Any]
    state: RaftState

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "params": self.params, "choices": self.choices,
                "state": self.state.to_json()}

    def describe(self) -> list[str]:
        if self.action is None:
            return ["initial state:"] + self.state.describe()
        args = ", ".join(f"{k}=s{v}" for k, v in self.params.items())
        extra = "".join(f" {k}={v}" for k, v in self.choices.items())
        return [f"{self.action}({args}){extra}:"] + self.state.describe()


@dataclass
class BmcResult:
    bounds: Bounds
    mutant: str
    depth: int
    k: int | None = None
    violated: list[str] = field(default_factory=list)
    path: list[PathStep] = field(default_factory=list)
    seconds: float = 0.0
    first_leader: int | None = None
    first_commit: int | None = None

    @property
    def found(self) -> bool:
        return self.k is not None

    def trace_properties(self) -> list[str]:
        """The violated properties under spec/PROPERTIES.md's names."""
        return [PROPERTY_NAMES.get(v, v) for v in self.violated]

    def to_json(self) -> dict[str, Any]:
        return {"bounds": vars(self.bounds), "mutant": self.mutant, "depth": self.depth,
                "k": self.k, "violated": self.violated,
                "trace_properties": self.trace_properties(),
                "seconds": round(self.seconds, 3), "first_leader": self.first_leader,
                "first_commit": self.first_commit, "path": [p.to_json() for p in self.path]}


class _Unrolling:
    """S0..Sk with the transitions between them, grown one step at a time."""

    def __init__(self, bounds: Bounds, m: AbstractMutant) -> None:
        self.bounds, self.mutant = bounds, m
        self.solver = z3.SolverFor("QF_BV")
        self.states = [SymState.fresh(bounds, "s0_", commit_terms=True)]
        self.steps: list[tuple[list[Any], list[Step]]] = []
        self.solver.add(init(self.states[0]), type_ok(self.states[0]))

    def grow(self) -> None:
        k = len(self.states)
        pre, post = self.states[-1], SymState.fresh(self.bounds, f"s{k}_", commit_terms=True)
        steps = instances(pre, f"t{k}", self.mutant)
        selectors = [z3.Bool(f"sel{k}_{n}") for n in range(len(steps))]
        # Exactly one instance fires; each part of the post-state is an if-then-else over the
        # instances that change it (most leave most parts alone), which keeps the unrolling small.
        self.solver.add(z3.Or(selectors), z3.AtMost(*selectors, 1), type_ok(post))
        for sel, step in zip(selectors, steps, strict=True):
            self.solver.add(z3.Implies(sel, step.guard))
        posts = [step.post.parts() for step in steps]
        for n, (before, after) in enumerate(zip(pre.parts(), post.parts(), strict=True)):
            value = before
            for sel, parts in zip(selectors, posts, strict=True):
                if parts[n] is not before:
                    value = z3.If(sel, parts[n], value)
            self.solver.add(after == value)
        self.states.append(post)
        self.steps.append((selectors, steps))

    def path(self, model: z3.ModelRef) -> list[PathStep]:
        out = [PathStep(None, {}, {}, self.states[0].evaluate(model))]
        for (selectors, steps), state in zip(self.steps, self.states[1:], strict=True):
            n = next(n for n, sel in enumerate(selectors)
                     if z3.is_true(model.eval(sel, model_completion=True)))
            out.append(PathStep(steps[n].action, steps[n].params, _choices(steps[n], model),
                                state.evaluate(model)))
        return out


def _violations(u: _Unrolling, properties: tuple[str, ...]) -> dict[str, Any]:
    last = u.states[-1]
    out = {name: z3.Not(lemma(name).fn(last, SYMBOLIC)) for name in properties}
    if len(u.states) > 1:
        out[APPEND_ONLY] = z3.Not(leader_append_only(u.states[-2], last))
    return out


def bmc(bounds: Bounds, mutant_name: str | None = None, depth: int = 12,
        properties: tuple[str, ...] = SAFETY, reach: bool = False,
        on_depth: Callable[[int, bool], None] | None = None) -> BmcResult:
    """Search k = 0, 1, ..., depth for the shortest path violating one of ``properties``.

    With ``reach``, also record the first depths at which a leader exists and an entry is
    committed (the search continues past them). ``on_depth(k, found)`` is called as each
    depth is decided (progress for the command line)."""
    m = mutant(mutant_name)
    result = BmcResult(bounds, m.name, depth)
    start = time.perf_counter()
    u = _Unrolling(bounds, m)
    for k in range(depth + 1):
        if k > 0:
            u.grow()
        s = u.solver
        last = u.states[-1]
        if reach and result.first_leader is None and \
                s.check(z3.Or(list(last.leaders))) == z3.sat:
            result.first_leader = k
        if reach and result.first_commit is None and \
                s.check(z3.Or(list(last.committed.values()))) == z3.sat:
            result.first_commit = k
        bad = _violations(u, properties)
        if s.check(z3.Or(list(bad.values()))) == z3.sat:
            model = s.model()
            result.k = k
            result.violated = [name for name, f in bad.items()
                               if z3.is_true(model.eval(f, model_completion=True))]
            result.path = u.path(model)
            if on_depth is not None:
                on_depth(k, True)
            break
        # No path of length k violates a property, so every shortest path we look for from
        # now on satisfies them at step k: say so, which prunes the deeper searches.
        s.add(z3.Not(z3.Or(list(bad.values()))))
        if on_depth is not None:
            on_depth(k, False)
    result.seconds = time.perf_counter() - start
    return result


GOALS = ("leader", "commit")


def witness(bounds: Bounds, goal: str = "commit", depth: int = 10) -> BmcResult:
    """A shortest path of the correct model to a state with a leader (``goal="leader"``) or a
    committed entry (``"commit"``): evidence that the bounded model does something, and a
    correct trace for the trace checker to pass."""
    if goal not in GOALS:
        raise ValueError(f"goal must be one of {', '.join(GOALS)}, got {goal!r}")
    result = BmcResult(bounds, "none", depth)
    start = time.perf_counter()
    u = _Unrolling(bounds, mutant(None))
    for k in range(depth + 1):
        if k > 0:
            u.grow()
        last = u.states[-1]
        target = z3.Or(list(last.leaders) if goal == "leader" else list(last.committed.values()))
        if u.solver.check(target) == z3.sat:
            result.k = k
            result.violated = [f"reached:{goal}"]
            result.path = u.path(u.solver.model())
            break
    result.seconds = time.perf_counter() - start
    return result
