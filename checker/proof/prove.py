"""The inductive check: Init => Inv, and Inv /\\ Action => Inv', one query per action and lemma.

Inv is TypeOK and the twelve lemmas of :mod:`checker.proof.invariants`. For each action A and
each lemma M, Z3 decides whether TypeOK /\\ Inv /\\ A => M' (and TypeOK', and the step property
LeaderAppendOnly). Each lemma of the hypothesis is a tracked assumption, so a proved cell comes
with an unsat core: the lemmas that cell actually used (the measured dependencies). A failed
cell comes with a counterexample to induction (CTI): a pre-state satisfying the hypothesis, the
action instance, and a post-state violating M.

By the symmetry of servers (Init, the actions and every lemma are invariant under renaming
servers), the acting server of each action is fixed to server 0.

``drop``: prove with one lemma removed from Inv; a failure shows the lemma is needed (the CTI is
the evidence), a success shows the rest is inductive without it (then ``implied`` says whether
the rest implies it, or it is simply not needed for the others).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import z3

from checker.proof.actions import ACTIONS, Step, instances
from checker.proof.invariants import BY_NAME, LEMMAS, lemma
from checker.proof.model import (
    Bounds,
    RaftState,
    SymState,
    init,
    leader_append_only,
    same,
    type_ok,
)
from checker.proof.mutants import CORRECT
from checker.proof.ops import SYMBOLIC

TYPE_OK = "TypeOK"
APPEND_ONLY = "LeaderAppendOnly"


@dataclass
class Cti:
    """A counterexample to induction: pre-state, action instance, post-state."""

    action: str
    params: dict[str, int]
    choices: dict[str, Any]
    violated: str
    pre: RaftState
    post: RaftState

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "params": self.params, "choices": self.choices,
                "violated": self.violated, "pre": self.pre.to_json(),
                "post": self.post.to_json()}

    def describe(self) -> list[str]:
        args = ", ".join(f"{k}=s{v}" for k, v in self.params.items())
        extra = "".join(f" {k}={v}" for k, v in self.choices.items())
        return (["counterexample to induction: " + self.violated + " fails after "
                 f"{self.action}({args}){extra}", " pre-state (satisfies the hypothesis):"]
                + self.pre.describe() + [" post-state:"] + self.post.describe())


@dataclass
class Cell:
    """One obligation: action (or Init) x lemma."""

    action: str
    lemma: str
    proved: bool
    seconds: float
    used: tuple[str, ...] = ()
    cti: Cti | None = None

    def to_json(self) -> dict[str, Any]:
        obj: dict[str, Any] = {"action": self.action, "lemma": self.lemma,
                               "proved": self.proved, "seconds": round(self.seconds, 4),
                               "used": list(self.used)}
        if self.cti is not None:
            obj["cti"] = self.cti.to_json()
        return obj


@dataclass
class ProofReport:
    bounds: Bounds
    dropped: str | None
    cells: list[Cell] = field(default_factory=list)
    implied: bool | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return all(c.proved for c in self.cells)

    @property
    def ctis(self) -> list[Cti]:
        return [c.cti for c in self.cells if c.cti is not None]

    def action_seconds(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for c in self.cells:
            out[c.action] = out.get(c.action, 0.0) + c.seconds
        return out

    def measured_dependencies(self) -> dict[str, tuple[str, ...]]:
        """For each lemma, the other lemmas some action's proof of it used (unsat cores)."""
        deps: dict[str, set[str]] = {}
        for c in self.cells:
            deps.setdefault(c.lemma, set()).update(u for u in c.used if u != c.lemma)
        order = {name: k for k, name in enumerate(BY_NAME)}
        return {k: tuple(sorted(v, key=lambda n: order.get(n, 99))) for k, v in deps.items()}

    def to_json(self) -> dict[str, Any]:
        return {"bounds": vars(self.bounds), "dropped": self.dropped, "ok": self.ok,
                "implied": self.implied, "seconds": round(self.seconds, 3),
                "cells": [c.to_json() for c in self.cells],
                "dependencies": {k: list(v) for k, v in self.measured_dependencies().items()}}


def _goals(hyps: list[str]) -> list[str]:
    return [TYPE_OK, *hyps, APPEND_ONLY]


def _goal_formula(name: str, pre: SymState, post: SymState) -> Any:
    if name == TYPE_OK:
        return type_ok(post)
    if name == APPEND_ONLY:
        return leader_append_only(pre, post)
    return lemma(name).fn(post, SYMBOLIC)


def _check_init(bounds: Bounds, hyps: list[str]) -> list[Cell]:
    st = SymState.fresh(bounds, "init_")
    solver = z3.Solver()
    solver.add(init(st))
    cells = []
    for name in [TYPE_OK, *hyps]:
        goal = type_ok(st) if name == TYPE_OK else lemma(name).fn(st, SYMBOLIC)
        start = time.perf_counter()
        result = solver.check(z3.Not(goal))
        seconds = time.perf_counter() - start
        cti = None
        if result == z3.sat:
            state = st.evaluate(solver.model())
            cti = Cti("Init", {}, {}, name, state, state)
        cells.append(Cell("Init", name, result == z3.unsat, seconds, (), cti))
    return cells


def _choices(step: Step, model: z3.ModelRef) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in step.choices.items():
        if isinstance(value, list):
            out[key] = [f"s{n}" for n, b in enumerate(value)
                        if z3.is_true(model.eval(b, model_completion=True))]
        else:
            out[key] = model.eval(value, model_completion=True).as_long()
    return out


def check_action(bounds: Bounds, action: str, hyps: list[str], symmetry: bool = True,
                 goals: list[str] | None = None) -> list[Cell]:
    """Inv(hyps) /\\ action => each goal', one query per goal on one incremental solver."""
    pre, post = SymState.fresh(bounds, "pre_"), SymState.fresh(bounds, "post_")
    solver = z3.Solver()
    solver.set("core.minimize", True)  # small cores: the lemmas a cell really needs
    solver.add(type_ok(pre))
    steps = instances(pre, "x", CORRECT, only=action, first=0 if symmetry else None)
    selectors = [z3.Bool(f"sel_{k}") for k in range(len(steps))]
    for sel, step in zip(selectors, steps, strict=True):
        solver.add(z3.Implies(sel, z3.And(step.guard, same(post, step.post))))
    solver.add(z3.Or(selectors))
    tracked = {}
    for name in hyps:
        literal = z3.Bool(f"hyp_{name}")
        tracked[literal.get_id()] = name
        solver.add(z3.Implies(literal, lemma(name).fn(pre, SYMBOLIC)))
    literals = [z3.Bool(f"hyp_{name}") for name in hyps]
    cells = []
    for goal in goals if goals is not None else _goals(hyps):
        negated = z3.Bool(f"neg_{goal}")
        solver.add(z3.Implies(negated, z3.Not(_goal_formula(goal, pre, post))))
        start = time.perf_counter()
        result = solver.check(*literals, negated)
        seconds = time.perf_counter() - start
        if result == z3.unsat:
            core = solver.unsat_core()
            used = tuple(tracked[c.get_id()] for c in core if c.get_id() in tracked)
            cells.append(Cell(action, goal, True, seconds, used))
        elif result == z3.sat:
            model = solver.model()
            k = next(k for k, sel in enumerate(selectors)
                     if z3.is_true(model.eval(sel, model_completion=True)))
            step = steps[k]
            cti = Cti(action, step.params, _choices(step, model), goal, pre.evaluate(model),
                      post.evaluate(model))
            cells.append(Cell(action, goal, False, seconds, (), cti))
        else:
            cells.append(Cell(action, goal, False, seconds, ()))
    return cells


def implied_by_rest(bounds: Bounds, name: str) -> bool:
    """TypeOK /\\ (Inv without name) => name, on every bounded state."""
    st = SymState.fresh(bounds, "s_")
    solver = z3.Solver()
    solver.add(type_ok(st))
    for info in LEMMAS:
        if info.name != name:
            solver.add(info.fn(st, SYMBOLIC))
    return solver.check(z3.Not(lemma(name).fn(st, SYMBOLIC))) == z3.unsat


def prove(bounds: Bounds, drop: str | None = None, symmetry: bool = True,
          actions: tuple[str, ...] = ACTIONS,
          on_action: Callable[[str, list[Cell]], None] | None = None) -> ProofReport:
    """The whole inductive check at ``bounds`` (optionally without lemma ``drop``).
    ``on_action(action, cells)`` is called as each action's (and Init's) obligations are
    decided (progress for the command line)."""
    if drop is not None:
        lemma(drop)  # validates the name
    hyps = [info.name for info in LEMMAS if info.name != drop]
    start = time.perf_counter()
    report = ProofReport(bounds, drop)
    for action in ("Init", *actions):
        cells = (_check_init(bounds, hyps) if action == "Init"
                 else check_action(bounds, action, hyps, symmetry))
        report.cells.extend(cells)
        if on_action is not None:
            on_action(action, cells)
    if drop is not None and report.ok:
        report.implied = implied_by_rest(bounds, drop)
    report.seconds = time.perf_counter() - start
    return report
