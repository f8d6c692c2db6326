"""Bounded model checking (checker/proof/bmc.py): each modelled mutant of the bug zoo yields a
shortest counterexample of the expected property, whose exported raft-trace is schema-valid and
flagged for the same property by the streaming trace checker; the correct model has no
violation to a stated depth, and its witness paths pass the trace checker.

Bounds in CI: N=3, T=4 (Figure 8 needs four terms), L=1: every shortest counterexample uses only
index 1, and the same k are found at L=2 (bench/prove_scaling.py), five times slower.
"""

from __future__ import annotations

import functools
import json

import orjson
import pytest
from jsonschema import Draft202012Validator

from checker import check_lines
from checker.proof.bmc import bmc, witness
from checker.proof.from_trace import states_from_lines
from checker.proof.model import Bounds
from checker.proof.mutants import MUTANTS
from checker.proof.trace_export import export_lines, write_trace

from .conftest import ROOT

VALIDATOR = Draft202012Validator(json.loads((ROOT / "spec" / "trace.schema.json").read_text()))
BOUNDS = Bounds(3, 4, 1)

# mutant: (shortest k, violated lemma, the trace checker's name for it)
EXPECTED = {
    "double-vote": (2, "OnePrimaryPerTerm", "ElectionSafety"),
    "minority-quorum": (2, "OnePrimaryPerTerm", "ElectionSafety"),
    "unpersisted-vote": (3, "OnePrimaryPerTerm", "ElectionSafety"),
    "vote-no-log-check": (5, "LeaderCompleteness", "LeaderCompleteness"),
    "truncate-on-match": (6, "LeaderCompleteness", "LeaderCompleteness"),
    "commit-past-new-entries": (8, "StateMachineSafety", "StateMachineSafety"),
    "figure8": (9, "LeaderCompleteness", "LeaderCompleteness"),
}


@functools.cache
def _result(name: str):  # noqa: ANN202 - a BmcResult, shared by the tests of one mutant
    return bmc(BOUNDS, name, depth=EXPECTED[name][0] + 1)


def _valid(lines: list[bytes]) -> None:
    for number, line in enumerate(lines, start=1):
        errors = list(VALIDATOR.iter_errors(orjson.loads(line)))
        assert not errors, f"line {number}: {errors[0].message}"


def test_every_modelled_mutant_has_an_expectation() -> None:
    assert set(EXPECTED) == set(MUTANTS)


@pytest.mark.parametrize("name", list(EXPECTED))
def test_bmc_finds_the_shortest_counterexample_and_the_trace_checker_agrees(name: str) -> None:
    k, lemma_name, property_name = EXPECTED[name]
    result = _result(name)
    assert result.k == k, f"{name}: shortest k {result.k}, expected {k}"
    assert lemma_name in result.violated
    assert MUTANTS[name].expected == lemma_name
    assert len(result.path) == k + 1 and result.path[0].action is None
    lines = export_lines(result)
    _valid(lines)
    report = check_lines(lines)
    assert property_name in report.violated, (name, report.violated)
    # Read back, the trace gives the path's final abstract state.
    *_, (_, states) = states_from_lines(lines, ghost="commit-index")
    final = result.path[-1].state
    assert states.state().terms == final.terms and states.state().logs == final.logs
    assert states.state().leader == final.leader
    assert {c[:2] for c in states.state().committed} == {c[:2] for c in final.committed}


def test_figure8_counterexample_commits_an_earlier_term_entry_then_elects_a_leader_without_it(
        tmp_path) -> None:
    result = _result("figure8")
    actions = [p.action for p in result.path[1:]]
    assert actions.count("BecomeLeader") == 4 and actions.count("ClientRequest") == 2
    commit = next(p for p in result.path if p.action == "CommitEntry")
    ((index, term, in_term),) = commit.state.committed
    assert term < in_term  # Figure 8: an entry of an earlier term, counted by replicas
    out = write_trace(result, tmp_path / "figure8.jsonl")
    assert "LeaderCompleteness" in check_lines(out.read_bytes().splitlines()).violated


def test_correct_model_has_no_violation_to_depth_8_and_elects_at_1_commits_at_4() -> None:
    result = bmc(Bounds(3, 3, 2), None, depth=8, reach=True)
    assert not result.found
    assert (result.first_leader, result.first_commit) == (1, 4)


def test_correct_model_witness_traces_pass_the_trace_checker() -> None:
    for goal, k in (("leader", 1), ("commit", 4)):
        result = witness(Bounds(3, 3, 2), goal, depth=6)
        assert result.k == k
        lines = export_lines(result)
        _valid(lines)
        report = check_lines(lines)
        assert report.ok, report.violated
