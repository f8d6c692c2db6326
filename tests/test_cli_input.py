"""Bad options and unusable output paths of `raftref`: one line on stderr, exit code 2, found
before any work starts (the runner, the campaign, the cluster are never called), and one rule for
output folders in every command (checker/outputs.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import checker.proof.cli
import raftref.cli.simulator
import raftref.net.cluster
import raftref.search.campaign
from checker.store import connect
from raftref.cli import main

HUGE = "999999999999999999999999"


class Called(Exception):
    """Raised by a stand-in for the work a command does: the test sees it was reached."""


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace every command's work with a recorder that stops the command."""
    calls: list[str] = []

    def stand_in(name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            raise Called(name)
        return record

    monkeypatch.setattr(raftref.cli.simulator, "run_schedule", stand_in("sim"))
    monkeypatch.setattr(raftref.search.campaign, "fuzz", stand_in("fuzz"))
    monkeypatch.setattr(raftref.search.campaign, "demo", stand_in("demo"))
    monkeypatch.setattr(raftref.net.cluster, "run_cluster", stand_in("cluster"))
    monkeypatch.setattr(checker.proof.cli, "prove", stand_in("prove"))
    monkeypatch.setattr(checker.proof.cli, "bmc", stand_in("bmc"))
    # `raftref cluster` installs a SIGTERM handler before it starts the nodes; keep pytest's.
    monkeypatch.setattr(signal, "signal", lambda *args: None)
    return calls


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), prog_name="raftref")


def assert_one_line_exit_2(res: Result, *fragments: str) -> None:
    assert res.exit_code == 2, (res.output, res.exception)
    assert isinstance(res.exception, SystemExit)  # not a traceback
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert ".tmp" not in lines[0]


@pytest.fixture
def places(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("keep me\n")
    (tmp_path / "notdb").write_text("not a database\n")
    return {k: str(tmp_path / k) for k in ("adir", "afile", "notdb")}


# (arguments, fragments of the one line): the cases, and their neighbours.
CASES: list[tuple[list[str], list[str]]] = [
    (["sim", "-o", "{adir}"], ["-o", "adir: is a directory"]),
    (["sim", "--save-schedule", "{adir}", "-o", "{adir}/t.jsonl"],
     ["--save-schedule", "adir: is a directory"]),
    (["sim", "-o", "{afile}/sub/t.jsonl"], ["afile is a file"]),
    (["sim", "--save-schedule", "-"], ["give a file name"]),
    (["sim", "--seed", HUGE], ["--seed", "0<=x<=9223372036854775807", "raftref sim --help"]),
    (["sim", "--seed", "-1"], ["--seed", "0<=x<=9223372036854775807"]),
    (["sim", "--no-such-option"], ["No such option"]),
    (["fuzz", "--seed", HUGE], ["--seed", "0<=x<=8796093022144"]),
    (["fuzz", "--out", "{afile}"], ["--out", "afile: is a file, not a directory"]),
    (["fuzz", "--out", "{afile}/x"], ["afile is a file"]),
    (["fuzz", "--db", "{notdb}"], ["--db", "not an SQLite database"]),
    (["fuzz", "--db", "{adir}"], ["--db", "is a directory"]),
    (["demo", "--out", "{afile}"], ["--out", "afile: is a file"]),
    (["demo", "--db", "{notdb}"], ["not an SQLite database"]),
    (["cluster", "--dir", "{afile}"], ["--dir", "afile: is a file, not a directory"]),
    (["cluster", "--seed", HUGE], ["--seed"]),
    (["serve", "--cluster", "c.json", "--id", "n1", "--data", "{afile}"], ["--data"]),
    (["check", "{afile}", "--junit", "{adir}"], ["--junit", "adir: is a directory"]),
    (["check", "{afile}", "--junit", "{afile}/x.xml"], ["--junit", "afile is a file"]),
    (["prove", "--mutant", "minority-quorum", "-o", "{afile}/x.jsonl"], ["-o", "afile is a file"]),
    (["prove", "--cti-json", "{afile}/x.json"], ["--cti-json", "afile is a file"]),
    (["no-such-command"], ["No such command", "raftref --help"]),
]


@pytest.mark.parametrize("args,fragments", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_bad_input_is_one_line_exit_2_before_any_work(
        args: list[str], fragments: list[str], places: dict[str, str], no_work: list[str],
        tmp_path: Path) -> None:
    before = sorted(p.name for p in tmp_path.rglob("*"))
    res = invoke(*[a.format(**places) for a in args])
    assert_one_line_exit_2(res, *fragments)
    assert no_work == []
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written
    assert Path(places["afile"]).read_text() == "keep me\n"


def test_the_checks_let_good_options_through_to_the_work(tmp_path: Path,
                                                        no_work: list[str]) -> None:
    # The same stand-ins are reached with usable options: the refusals above are the checks'.
    store = tmp_path / "good.db"
    connect(store).conn.close()
    assert isinstance(invoke("sim", "--seed", str(2**63 - 1), "-o",
                             str(tmp_path / "a" / "t.jsonl")).exception, Called)
    assert isinstance(invoke("fuzz", "--seed", "8796093022144", "--out", str(tmp_path / "f"),
                             "--db", str(store)).exception, Called)
    assert isinstance(invoke("demo", "--out", str(tmp_path / "d"), "--db",
                             str(tmp_path / "new" / "x.db")).exception, Called)
    assert isinstance(invoke("prove", "--mutant", "minority-quorum", "-o",
                             str(tmp_path / "p" / "x.jsonl")).exception, Called)
    assert no_work == ["sim", "fuzz", "demo", "bmc"]


def test_a_seed_out_of_range_is_one_line_from_the_real_command() -> None:
    proc = subprocess.run([sys.executable, "-m", "raftref", "fuzz", "--seed", HUGE],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    assert proc.stdout == ""


def test_a_schedule_file_whose_seed_cannot_be_carried_is_refused(tmp_path: Path,
                                                                 no_work: list[str]) -> None:
    sched = tmp_path / "s.json"
    sched.write_text(f'{{"seed": {2**63}, "steps": 10}}')
    res = invoke("sim", "--schedule", str(sched))
    assert_one_line_exit_2(res, "field seed: must be 0 to 2**63-1")
    assert no_work == []


def test_sim_refuses_one_file_for_both_trace_and_schedule(tmp_path: Path,
                                                          no_work: list[str]) -> None:
    res = invoke("sim", "-o", str(tmp_path / "x"), "--save-schedule", str(tmp_path / "x"))
    assert_one_line_exit_2(res, "name the same file")


def test_fuzz_db_failing_after_the_campaign_keeps_the_exit_code_of_the_verdict(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from checker.store import StoreError

    def locked(db_path: Path, findings: list[Any]) -> None:
        raise StoreError(f"{db_path}: database is locked by another connection")

    monkeypatch.setattr(raftref.search.campaign, "store_findings", locked)
    res = invoke("fuzz", "--mutant", "minority-quorum", "--examples", "20", "--nodes", "3",
                 "--steps", "1000", "--shrink-seconds", "2", "--out", str(tmp_path / "cx"),
                 "--db", str(tmp_path / "s.db"))
    assert res.exit_code == 1, res.output  # the violation, not lost to the store's error
    assert "database is locked" in res.stderr and "are saved" in res.stderr
    assert "replay: raftref sim --schedule" in res.stdout
    assert len(list((tmp_path / "cx").iterdir())) == 4


# ------------------------------------------------------------------- the output rule


def test_missing_parent_folders_are_created_for_every_output(tmp_path: Path) -> None:
    trace, sched = tmp_path / "a" / "b" / "t.jsonl", tmp_path / "c" / "d" / "s.json"
    res = invoke("sim", "--steps", "50", "-o", str(trace), "--save-schedule", str(sched))
    assert res.exit_code == 0, res.output
    assert trace.stat().st_size and sched.stat().st_size
    junit = tmp_path / "g" / "h" / "j.xml"
    res = invoke("check", str(trace), "--junit", str(junit))
    assert res.exit_code == 0, res.output
    assert junit.read_bytes().startswith(b"<?xml")
    out = tmp_path / "e" / "f"
    res = invoke("fuzz", "--examples", "1", "--steps", "200", "--out", str(out))
    assert res.exit_code == 0, res.output


def test_cluster_creates_missing_folders_for_its_cluster_file(tmp_path: Path,
                                                              no_work: list[str]) -> None:
    folder = tmp_path / "x" / "y"
    res = invoke("cluster", "--dir", str(folder), "--no-check")
    assert isinstance(res.exception, Called)
    assert (folder / "cluster.json").is_file()


# ------------------------------------------------------------------- cluster files reused


@pytest.fixture
def existing_cluster(tmp_path: Path) -> Path:
    raftref.net.cluster.prepare(tmp_path, 3, 7000, 50)
    return tmp_path


@pytest.mark.parametrize("option,value,fragment", [
    ("--nodes", "5", "3 nodes"),
    ("--base-port", "7100", "base port 7000"),
    ("--tick-ms", "20", "tick 50 ms"),
])
def test_an_option_that_contradicts_the_existing_cluster_file_is_refused(
        existing_cluster: Path, option: str, value: str, fragment: str,
        no_work: list[str]) -> None:
    before = (existing_cluster / "cluster.json").read_bytes()
    res = invoke("cluster", "--dir", str(existing_cluster), option, value)
    assert_one_line_exit_2(res, f"{option} {value} contradicts", fragment, "another --dir",
                           "delete the file")
    assert no_work == []
    assert (existing_cluster / "cluster.json").read_bytes() == before


@pytest.mark.parametrize("args", [[], ["--nodes", "3", "--base-port", "7000", "--tick-ms", "50"]])
def test_an_existing_cluster_file_is_reused_without_options_or_with_agreeing_ones(
        existing_cluster: Path, args: list[str], no_work: list[str]) -> None:
    res = invoke("cluster", "--dir", str(existing_cluster), *args)
    assert isinstance(res.exception, Called), res.output
    assert no_work == ["cluster"]


def test_a_foreign_checker_module_is_named_not_a_traceback(tmp_path: Path) -> None:
    """'python -m raftref' puts the current folder first on sys.path, so a checker.py there
    used to hide raftref's checker package: every command died in a traceback."""
    (tmp_path / "checker.py").write_text("value = 1\n")
    env = {**os.environ, "PYTHONPATH": ""}
    proc = subprocess.run([sys.executable, "-m", "raftref", "sim", "--steps", "5"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert str(tmp_path / "checker.py") in proc.stderr and "not raftref's checker" in proc.stderr
    (tmp_path / "checker.py").unlink()
    proc = subprocess.run([sys.executable, "-m", "raftref", "sim", "--steps", "5"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0 and proc.stdout.startswith('{"type":"header"'), proc.stderr
