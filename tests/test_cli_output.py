"""What `raftref` writes and where: results on stdout and progress on stderr, fuzz's
default folder outside the git tree."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import raftref.search.campaign as campaign
from raftref.cli import main

from .conftest import ROOT


def test_fuzz_results_go_to_stdout_progress_to_stderr_and_the_default_folder_is_out(
        tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "raftref", "fuzz", "--mutant", "minority-quorum", "--examples",
         "20", "--nodes", "3", "--steps", "1000", "--shrink-seconds", "3"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    folder = Path("out/fuzz/minority-quorum-seed0")
    assert len(list((tmp_path / folder).iterdir())) == 4
    assert not (tmp_path / "traces").exists()
    # The result: the table, the replay command with the saved schedule, the folder.
    assert "fuzz: minority-quorum" in proc.stdout and "CommitJustified" in proc.stdout
    assert f"replay: raftref sim --schedule {folder}/minority-quorum--" in proc.stdout
    assert f"counterexamples saved in {folder}/" in proc.stdout
    # Progress only on stderr, and none of the result.
    assert "examples" in proc.stderr and "violations 1" in proc.stderr
    assert "replay" not in proc.stderr and "┏" not in proc.stderr


@pytest.mark.parametrize("args,folder", [
    ([], "out/fuzz/reference-seed0"),
    (["--mutant", "figure8", "--seed", "4"], "out/fuzz/figure8-seed4"),
    (["--target", "pysyncobj"], "out/fuzz/pysyncobj-seed0"),
    (["--out", "traces/counterexamples"], "traces/counterexamples"),
])
def test_fuzz_saves_into_a_folder_of_its_own_under_out_unless_told(
        args: list[str], folder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[Path] = []

    def record(options: campaign.FuzzOptions) -> Any:
        seen.append(options.folder)
        return [], []

    monkeypatch.setattr(campaign, "fuzz", record)
    res = CliRunner().invoke(main, ["fuzz", *args])
    assert res.exit_code == 0, res.output
    assert seen == [Path(folder)]


def test_out_is_ignored_by_git_and_the_corpus_is_not() -> None:
    ignored = subprocess.run(["git", "check-ignore", "-q", "out/fuzz/x-seed0/a.jsonl"],
                             cwd=ROOT)
    assert ignored.returncode == 0
    corpus = subprocess.run(["git", "check-ignore", "-q", "traces/counterexamples/a.jsonl"],
                            cwd=ROOT)
    assert corpus.returncode == 1


def test_demo_results_go_to_stdout_progress_to_stderr(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # The demo as it runs, with a smaller hunt (its own is 300 examples and 30 s of shrinking).
    real_fuzz = campaign.fuzz
    monkeypatch.setattr(campaign, "fuzz", lambda options: real_fuzz(
        replace(options, examples=20, steps=1000, shrink_seconds=3, nodes=3)))
    res = CliRunner().invoke(main, ["demo", "--runs", "1", "--steps", "300", "--mutant",
                                    "minority-quorum", "--out", str(tmp_path / "demo"),
                                    "--db", str(tmp_path / "demo.db")])
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "raftref demo: 1 fault-injected runs" in out and "all hold" in out
    assert "fuzz: minority-quorum" in out and "Counterexample (CommitJustified)" in out
    assert f"Replay it: raftref sim --schedule {tmp_path / 'demo' / 'counterexamples'}" in out
    assert "replay" not in res.stderr.lower() and "┏" not in res.stderr
    assert "examples" in res.stderr  # the hunt's progress bar
