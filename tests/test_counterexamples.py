"""The saved counterexample corpus (traces/counterexamples/): each shrunk schedule still
reproduces the violation its name gives, and its saved trace is judged the same way."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from checker import check_files
from checker.history import check_history
from raftref.mutants import EXPECTED
from raftref.search.fuzz import judge
from raftref.search.judging import LINEARIZABLE
from raftref.sim.schedule import Schedule

from .conftest import ROOT

CORPUS = sorted((ROOT / "traces" / "counterexamples").glob("*.schedule.json"))


def test_the_corpus_holds_a_counterexample_for_every_mutant() -> None:
    assert {p.name.split("--")[0] for p in CORPUS} == set(EXPECTED)


@pytest.mark.parametrize("path", CORPUS, ids=[p.name.split(".")[0] for p in CORPUS])
def test_saved_counterexample_replays_to_the_violation_in_its_name(path: Path) -> None:
    mutant, prop = path.name.split("--")[:2]
    schedule = Schedule.from_json(orjson.loads(path.read_bytes()))
    assert schedule.mutants == (mutant,)
    assert prop in EXPECTED[mutant]
    verdict = judge(schedule)
    assert prop in verdict.violated
    trace = path.with_name(path.name.replace(".schedule.json", ".jsonl"))
    assert verdict.trace == trace.read_bytes(), "the schedule replays to its trace, byte for byte"
    if prop == LINEARIZABLE:
        history = path.with_name(path.name.replace(".schedule.json", ".history.jsonl"))
        assert verdict.history == history.read_bytes()
        assert check_history([history]).verdict == "not linearizable"
    else:
        assert prop in check_files([str(trace)]).violated
