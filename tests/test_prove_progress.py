"""`raftref prove` says how far it is on stderr (it runs for seconds to minutes), and its
result on stdout stays as it was."""

from __future__ import annotations

from click.testing import CliRunner

from checker.proof.cli import prove_command


def test_prove_prints_progress_per_action_on_stderr_and_the_table_on_stdout() -> None:
    res = CliRunner().invoke(prove_command, ["--max-term", "2", "--max-log", "2"])
    assert res.exit_code == 0, res.output
    lines = res.stderr.splitlines()
    assert [line.split()[1] for line in lines] == [f"{i}/7" for i in range(1, 8)]
    assert lines[0].startswith("prove: 1/7 Init: ") and "obligations hold" in lines[0]
    assert lines[-1].startswith("prove: 7/7 UpdateTerms: ")
    assert res.stdout.startswith("inductive check of Inv at ")
    assert "PROVED: all" in res.stdout and "prove:" not in res.stdout
    quiet = CliRunner().invoke(prove_command, ["--max-term", "2", "--max-log", "2", "-q"])
    assert quiet.exit_code == 0 and quiet.stderr == ""
    table = [line for line in quiet.stdout.splitlines() if not line.startswith("PROVED")]
    assert len(table) == len([line for line in res.stdout.splitlines()
                              if not line.startswith("PROVED")])


def test_bmc_prints_progress_per_depth_on_stderr() -> None:
    res = CliRunner().invoke(prove_command, ["--mutant", "minority-quorum", "--bmc-depth", "4"])
    assert res.exit_code == 1, res.output
    lines = res.stderr.splitlines()
    assert lines[-1].startswith("bmc: depth ") and "violation found" in lines[-1]
    assert all(line.startswith("bmc: depth ") for line in lines)
    assert "COUNTEREXAMPLE" in res.stdout and "bmc:" not in res.stdout
