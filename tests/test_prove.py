"""The Z3 inductive proof (checker/proof): Inv is inductive, no lemma is dead weight, the two
backends of the lemmas agree, and the reference node's simulated states satisfy Inv.

Bounds: the proof and the --drop sweep run at the default N=3, T=L=3 (about 1 s each), N=5 at
T=L=2. (At T=L=2 UniformLogEntries is not yet needed: the bounds are too small for its CTI.)
bench/prove_scaling.py measures larger bounds.
"""

from __future__ import annotations

import io

import orjson
import pytest
import z3
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from checker.proof.cli import prove_command
from checker.proof.from_trace import states_from_lines
from checker.proof.invariants import BY_NAME, LEMMAS, NOT_NEEDED_FOR_INDUCTION, evaluate
from checker.proof.model import Bounds, RaftState, SymState
from checker.proof.mutants import MUTANTS, NOT_MODELLED
from checker.proof.ops import CONCRETE, SYMBOLIC
from checker.proof.prove import prove
from raftref.mutants import MUTANTS as ZOO
from raftref.sim.schedule import generate_schedule
from raftref.sim.simulator import run_schedule


def test_inv_is_inductive_for_three_servers_at_the_default_bounds() -> None:
    report = prove(Bounds(3, 3, 3))
    assert report.ok, [(c.action, c.lemma) for c in report.cells if not c.proved]
    actions = {c.action for c in report.cells}
    assert actions == {"Init", "ClientRequest", "GetEntries", "RollbackEntries", "BecomeLeader",
                       "CommitEntry", "UpdateTerms"}
    assert {c.lemma for c in report.cells} >= set(BY_NAME) | {"TypeOK", "LeaderAppendOnly"}


def test_inv_is_inductive_for_five_servers_at_small_bounds() -> None:
    assert prove(Bounds(5, 2, 2)).ok


def test_every_action_is_enabled_under_inv_so_the_proof_is_not_vacuous() -> None:
    from checker.proof.actions import ACTIONS, instances
    from checker.proof.model import type_ok
    from checker.proof.mutants import CORRECT

    bounds = Bounds(3, 3, 3)
    for action in ACTIONS:
        pre = SymState.fresh(bounds, "p_")
        solver = z3.Solver()
        solver.add(type_ok(pre), *[info.fn(pre, SYMBOLIC) for info in LEMMAS])
        solver.add(z3.Or([s.guard for s in instances(pre, "x", CORRECT, only=action)]))
        assert solver.check() == z3.sat, action


@pytest.mark.parametrize("name", list(BY_NAME))
def test_dropping_a_lemma_gives_a_cti_or_the_lemma_is_documented_as_not_needed(
        name: str) -> None:
    report = prove(Bounds(3, 3, 3), drop=name)
    if name in NOT_NEEDED_FOR_INDUCTION:
        assert report.ok
        assert report.implied is ("implied" in NOT_NEEDED_FOR_INDUCTION[name].split(":")[0]
                                  and "not implied" not in NOT_NEEDED_FOR_INDUCTION[name])
        return
    assert not report.ok and report.ctis
    cti = report.ctis[0]
    # Exported as JSON and read back, the CTI is two concrete states that the concrete backend
    # judges as Z3 did: the pre-state satisfies every kept lemma, the post-state breaks one.
    again = orjson.loads(orjson.dumps(cti.to_json()))
    pre, post = RaftState.from_json(again["pre"]), RaftState.from_json(again["post"])
    kept = tuple(n for n in BY_NAME if n != name)
    assert all(evaluate(pre.view(), CONCRETE, kept).values())
    if cti.violated in BY_NAME:
        assert not evaluate(post.view(), CONCRETE, (cti.violated,))[cti.violated]


def test_drop_on_the_command_line_writes_the_cti_json_and_exits_1(tmp_path) -> None:
    out = tmp_path / "cti.json"
    result = CliRunner().invoke(prove_command, ["--max-term", "2", "--max-log", "2",
                                                "--drop", "TermsMonotonic",
                                                "--cti-json", str(out)])
    assert result.exit_code == 1, result.output
    assert "counterexample to induction" in result.output and "pre-state" in result.output
    ctis = orjson.loads(out.read_bytes())
    assert ctis and {"pre", "post", "action", "violated"} <= set(ctis[0])


def test_prove_command_prints_the_table_and_exits_0() -> None:
    result = CliRunner().invoke(prove_command, [])
    assert result.exit_code == 0, result.output
    assert "PROVED" in result.output and "BecomeLeader" in result.output
    as_json = CliRunner().invoke(prove_command, ["--json", "--max-log", "2"])
    obj = orjson.loads(as_json.stdout)  # stderr has the progress lines
    assert obj["ok"] and obj["bounds"] == {"nodes": 3, "max_term": 3, "max_log": 2}


@pytest.mark.parametrize("args", [["--nodes", "x"], ["--nodes", "0"], ["--max-term", "99"],
                                  ["--mutant", "no-such"], ["--mutant", "stale-reply-match"],
                                  ["--drop", "NoSuchLemma"], ["--bogus"], ["-o", "x.jsonl"],
                                  ["--mutant", "figure8", "--drop", "LogMatching"]])
def test_bad_options_exit_2_with_one_line_and_no_traceback(args: list[str]) -> None:
    result = CliRunner().invoke(prove_command, args)
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_modelled_mutants_are_named_as_in_the_bug_zoo() -> None:
    assert set(MUTANTS) | set(NOT_MODELLED) == set(ZOO)
    assert len(MUTANTS) >= 5


# ----------------------------------------------------------------- one source of truth

SMALL = Bounds(3, 3, 3)


@st.composite
def small_states(draw: st.DrawFn) -> RaftState:
    n, t_max, l_max = SMALL.nodes, SMALL.max_term, SMALL.max_log
    terms = tuple(draw(st.integers(0, t_max)) for _ in range(n))
    leader = tuple(draw(st.booleans()) for _ in range(n))
    logs = tuple(tuple(draw(st.lists(st.integers(1, t_max), max_size=l_max)))
                 for _ in range(n))
    pairs = draw(st.sets(st.tuples(st.integers(1, l_max), st.integers(1, t_max)), max_size=4))
    with_cterm = draw(st.booleans())
    committed = frozenset((i, t, draw(st.integers(t, t_max)) if with_cterm else t)
                          for i, t in pairs)
    return RaftState(terms, leader, logs, committed)


@given(small_states())
def test_concrete_and_symbolic_lemmas_agree_on_random_small_states(state: RaftState) -> None:
    concrete = evaluate(state.view(), CONCRETE)
    symbolic = evaluate(SymState.constant(SMALL, state), SYMBOLIC)
    for name, value in concrete.items():
        assert z3.is_true(z3.simplify(symbolic[name])) is value, name


@given(small_states())
def test_a_model_of_the_symbolic_state_reads_back_as_the_same_state(state: RaftState) -> None:
    # The other direction: pin fresh Z3 variables to the state, let Z3 evaluate each lemma.
    sym = SymState.fresh(SMALL, "h_", commit_terms=True)
    solver = z3.Solver()
    solver.add(SMALL_EQ(sym, state))
    assert solver.check() == z3.sat
    model = solver.model()
    assert sym.evaluate(model) == state
    for name, value in evaluate(state.view(), CONCRETE).items():
        got = z3.is_true(model.eval(BY_NAME[name].fn(sym, SYMBOLIC), model_completion=True))
        assert got is value, name


def SMALL_EQ(sym: SymState, state: RaftState) -> z3.BoolRef:  # noqa: N802 - reads as a formula
    from checker.proof.model import same

    const = SymState.constant(SMALL, state)
    pairs = {(i, t): ct for i, t, ct in state.committed}
    cterms = [sym.cterms[k] == ct for k, ct in pairs.items()] if sym.cterms else []
    const.cterms = None
    sym_no_ct = sym.replace(cterms=None)
    return z3.And(same(sym_no_ct, const), *cterms)


# ----------------------------------------------------------------- the proof and the Python code


def _trace(seed: int, nodes: int, steps: int, mutants: tuple[str, ...] = ()) -> list[bytes]:
    buf = io.BytesIO()
    run_schedule(generate_schedule(seed, nodes, steps, mutants=mutants), buf)
    return buf.getvalue().splitlines()


@pytest.mark.parametrize("seed,nodes", [(11, 3), (12, 5), (24, 3)])
def test_every_state_of_a_simulated_run_of_the_reference_node_satisfies_inv(
        seed: int, nodes: int) -> None:
    checked = 0
    terms = set()
    for event, states in states_from_lines(_trace(seed, nodes, 6000)):
        values = evaluate(states.view(), CONCRETE)
        failed = [name for name, ok in values.items() if not ok]
        assert not failed, f"seq {event['seq']}: {failed} fail on {states.state().describe()}"
        checked += 1
        terms.add(max(states.terms))
    assert checked > 200 and max(terms) >= 3 and states.committed


def test_the_mapping_has_teeth_a_mutant_run_breaks_inv() -> None:
    broken = set()
    for _, states in states_from_lines(_trace(1, 3, 6000, ("minority-quorum",))):
        broken |= {name for name, ok in evaluate(states.view(), CONCRETE).items() if not ok}
    assert "OnePrimaryPerTerm" in broken and "StateMachineSafety" in broken
