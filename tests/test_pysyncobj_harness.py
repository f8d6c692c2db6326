"""The PySyncObj harness: real PySyncObj nodes run under a schedule, deterministically, and
write schema-valid traces the checker can judge. What the checker finds in PySyncObj is a
result (docs/pysyncobj-findings.md), not a test failure: these tests do not assert verdicts."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import orjson
import pysyncobj.syncobj as pso
from click.testing import CliRunner

from checker import check_lines
from checker.schema import load_schema
from raftref.cli import main
from raftref.harness.pysyncobj import run_pysyncobj
from raftref.sim.schedule import generate_schedule

ROOT = Path(__file__).resolve().parent.parent


def run(seed: int, nodes: int = 3, steps: int = 1500) -> tuple[bytes, object]:
    buf = io.BytesIO()
    result = run_pysyncobj(generate_schedule(seed, nodes, steps), buf)
    return buf.getvalue(), result


def test_cluster_elects_replicates_and_commits() -> None:
    trace, result = run(seed=4, nodes=3, steps=2000)
    assert result.steps == 2000  # type: ignore[attr-defined]
    assert result.leaders  # type: ignore[attr-defined]
    assert max(result.commit.values()) > 10  # type: ignore[attr-defined]
    kinds = {orjson.loads(ln)["kind"] for ln in trace.splitlines()[1:]}
    assert {"start", "timeout", "term", "role", "append", "commit", "apply", "send",
            "receive", "drop"} <= kinds
    report = check_lines(trace.decode().splitlines(), name="pysyncobj")
    assert report.events == len(trace.splitlines()) - 1
    # The checker saw real work: elections, replication and applied entries.
    counted = {p.name: p.evaluated for p in report.properties}
    assert counted["ElectionSafety"] > 0 and counted["StateMachineSafety"] > 0


def test_same_seed_same_bytes_and_time_source_restored() -> None:
    before = (pso.monotonicTime, pso.random)
    first, _ = run(seed=7)
    second, _ = run(seed=7)
    assert first == second
    assert (pso.monotonicTime, pso.random) == before
    assert run(seed=8)[0] != first


def test_same_bytes_across_processes(tmp_path: Path) -> None:
    """PySyncObj iterates sets of nodes; a different PYTHONHASHSEED must not change the run."""
    outs = []
    for hashseed in ("1", "2"):
        out = tmp_path / f"run{hashseed}.jsonl"
        env = dict(os.environ, PYTHONHASHSEED=hashseed)
        subprocess.run([sys.executable, "-m", "raftref", "sim", "--target", "pysyncobj",
                        "--seed", "3", "--steps", "800", "-o", str(out)],
                       check=True, env=env, cwd=ROOT, capture_output=True)
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


def test_traces_are_schema_valid_with_crashes_and_partitions() -> None:
    schedule = generate_schedule(5, 5, 3000)
    assert {f.action for f in schedule.faults} >= {"crash", "restart"}
    buf = io.BytesIO()
    run_pysyncobj(schedule, buf)
    validator = jsonschema.Draft202012Validator(load_schema())
    lines = buf.getvalue().splitlines()
    for line in lines:
        validator.validate(orjson.loads(line))
    kinds = [orjson.loads(ln)["kind"] for ln in lines[1:]]
    assert "crash" in kinds and kinds.count("start") > 5  # restarts happened


def test_cli_sim_and_fuzz_target_pysyncobj(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "run.jsonl"
    result = runner.invoke(main, ["sim", "--target", "pysyncobj", "--steps", "500", "-o",
                                  str(out)])
    assert result.exit_code == 0, result.output
    assert orjson.loads(out.read_bytes().splitlines()[0])["implementation"]["name"] == "pysyncobj"
    refused = runner.invoke(main, ["sim", "--target", "pysyncobj", "--mutant", "figure8"])
    assert refused.exit_code == 2 and "does not apply" in refused.output
    fuzzed = runner.invoke(main, ["fuzz", "--target", "pysyncobj", "--examples", "2",
                                  "--steps", "300", "--shrink-seconds", "5",
                                  "--out", str(tmp_path / "cx")])
    assert fuzzed.exit_code in (0, 1), fuzzed.output  # 1: the checker found something
    assert "fuzz: pysyncobj" in fuzzed.output
    if fuzzed.exit_code == 1:
        saved = sorted((tmp_path / "cx").glob("pysyncobj--*.jsonl"))
        assert saved


def test_the_schedule_timing_reaches_pysyncobj_within_what_pysyncobj_accepts(
        tmp_path: Path) -> None:
    """Timing PySyncObj accepts is used (twice the same trace, different from the default
    timing's); timing it rejects is one line and exit 2, not an assertion from PySyncObj."""
    from dataclasses import replace

    base = generate_schedule(3, 3, 600)
    fast = replace(base, election_timeout_min=7, election_timeout_max=12, heartbeat_interval=2)
    traces = []
    for schedule in (fast, fast, base):
        buf = io.BytesIO()
        run_pysyncobj(schedule, buf)
        traces.append(buf.getvalue())
    assert traces[0] == traces[1] != traces[2]
    sched = tmp_path / "s.json"
    sched.write_bytes(b'{"election_timeout_min": 3, "election_timeout_max": 6, '
                      b'"heartbeat_interval": 1}')
    res = CliRunner().invoke(main, ["sim", "--target", "pysyncobj", "--schedule", str(sched),
                                    "-o", str(tmp_path / "x.jsonl")])
    assert res.exit_code == 2 and "election_timeout_min: PySyncObj needs" in res.output
