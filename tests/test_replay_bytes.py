"""Same schedule, same bytes: traces saved before the protocol moved into raftref/protocol/
(the bug zoo's counterexamples, commit cf4c318) and reference runs checked against the code of
before the move (traces/golden/, see its README) replay to exactly the saved bytes."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest

from raftref.sim.schedule import Schedule
from raftref.sim.simulator import run_schedule

from .conftest import ROOT

SAVED = sorted((ROOT / "traces" / "counterexamples").glob("*.schedule.json")) + sorted(
    (ROOT / "traces" / "golden").glob("*.schedule.json"))


def _saved_trace(schedule: Path) -> bytes:
    stem = schedule.name.removesuffix(".schedule.json")
    plain = schedule.with_name(stem + ".jsonl")
    if plain.exists():
        return plain.read_bytes()
    return gzip.decompress(schedule.with_name(stem + ".jsonl.gz").read_bytes())


def test_there_are_reference_runs_beside_the_counterexamples() -> None:
    golden = [p for p in SAVED if "golden" in p.parts]
    assert len(golden) >= 2
    # The reference runs switch on no mutant: they pin the reference node's own behaviour.
    assert all(not orjson.loads(p.read_bytes()).get("mutants") for p in golden)


@pytest.mark.parametrize("path", SAVED, ids=[p.name.split(".")[0] for p in SAVED])
def test_a_saved_schedule_replays_to_the_saved_bytes(path: Path, tmp_path: Path) -> None:
    schedule = Schedule.from_json(orjson.loads(path.read_bytes()))
    out = tmp_path / "replay.jsonl"
    with out.open("wb") as sink:
        run_schedule(schedule, sink)
    assert out.read_bytes() == _saved_trace(path)
