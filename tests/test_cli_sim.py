"""`raftref sim` and `raftref mutants` as a user runs them: files, replay, errors, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from raftref.cli import main
from raftref.mutants import MUTANTS


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "raftref", *args], capture_output=True,
                          text=True, timeout=120)


def test_sim_writes_a_trace_and_a_schedule_that_replays_byte_for_byte(tmp_path: Path) -> None:
    out, sched, again = tmp_path / "run.jsonl", tmp_path / "s.json", tmp_path / "again.jsonl"
    first = run("sim", "--nodes", "5", "--seed", "7", "--steps", "3000", "-o", str(out),
                "--save-schedule", str(sched))
    assert first.returncode == 0, first.stderr
    assert "simulated 5 nodes, seed 7, 3000 steps" in first.stderr
    header = orjson.loads(out.read_bytes().split(b"\n", 1)[0])
    assert header["nodes"] == ["n1", "n2", "n3", "n4", "n5"] and header["seed"] == 7
    replay = run("sim", "--schedule", str(sched), "-o", str(again))
    assert replay.returncode == 0, replay.stderr
    assert again.read_bytes() == out.read_bytes()


def test_sim_without_output_writes_the_trace_to_stdout() -> None:
    proc = run("sim", "--steps", "200")
    assert proc.returncode == 0
    assert proc.stdout.startswith('{"type":"header"')


@pytest.mark.parametrize("content,message", [
    (b"{not json", "not valid JSON"),
    (b'{"nodes": 3, "faults": [{"at": 1, "action": "crash", "node": "n7"}]}',
     "field faults[0].node: unknown node 'n7'"),
    (b"[1, 2]", "a schedule is a JSON object"),
    (b'{"heartbeat_interval": 10}',
     "field election_timeout_min: must be greater than heartbeat_interval (10), got 10"),
    (b'{"election_timeout_min": 3, "election_timeout_max": 2, "heartbeat_interval": 1}',
     "field election_timeout_max: must be >= election_timeout_min (3), got 2"),
])
def test_a_bad_schedule_is_one_line_and_exit_2(tmp_path: Path, content: bytes,
                                               message: str) -> None:
    sched = tmp_path / "bad.json"
    sched.write_bytes(content)
    proc = run("sim", "--schedule", str(sched), "-o", str(tmp_path / "x.jsonl"))
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.jsonl").exists()
    assert sched.read_bytes() == content  # the user's file is untouched


def test_a_schedule_with_faster_timing_replays_byte_for_byte(tmp_path: Path) -> None:
    sched, out, again = tmp_path / "s.json", tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    sched.write_bytes(b'{"seed": 5, "steps": 400, "election_timeout_min": 3, '
                      b'"election_timeout_max": 6, "heartbeat_interval": 1}')
    assert run("sim", "--schedule", str(sched), "-o", str(out)).returncode == 0
    header = orjson.loads(out.read_bytes().split(b"\n", 1)[0])
    assert header["options"]["election_timeout_min"] == 3
    assert run("sim", "--schedule", str(sched), "-o", str(again)).returncode == 0
    assert again.read_bytes() == out.read_bytes()


def test_the_run_summary_counts_message_faults_beside_timed_ones(tmp_path: Path) -> None:
    sched = tmp_path / "s.json"
    sched.write_bytes(b'{"seed": 5, "steps": 300, "faults": [{"at": 20, "action": "crash", '
                      b'"node": "n1"}], "message_faults": [{"send": 3, "action": "drop"}, '
                      b'{"send": 9, "action": "delay", "delay": 7}]}')
    proc = run("sim", "--schedule", str(sched), "-o", str(tmp_path / "a.jsonl"))
    assert proc.returncode == 0, proc.stderr
    assert "1 scheduled faults and 2 message faults" in proc.stderr


def test_sim_refuses_to_overwrite_the_schedule_it_replays(tmp_path: Path) -> None:
    sched = tmp_path / "s.json"
    assert run("sim", "--steps", "100", "--save-schedule", str(sched), "-o",
               str(tmp_path / "a.jsonl")).returncode == 0
    before = sched.read_bytes()
    proc = run("sim", "--schedule", str(sched), "-o", str(sched))
    assert proc.returncode == 2 and "refusing to overwrite" in proc.stderr
    assert sched.read_bytes() == before


def test_missing_schedule_file_and_unknown_mutant_exit_2(tmp_path: Path) -> None:
    missing = run("sim", "--schedule", str(tmp_path / "nope.json"))
    assert missing.returncode == 2 and "cannot read schedule" in missing.stderr
    bad = CliRunner().invoke(main, ["sim", "--mutant", "no-such-bug"])
    assert bad.exit_code == 2


def test_mutants_lists_every_mutant_one_a_line_name_first() -> None:
    res = CliRunner().invoke(main, ["mutants"])
    assert res.exit_code == 0
    lines = res.output.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(MUTANTS)
    assert all(MUTANTS[line.split()[0]] in line for line in lines)
