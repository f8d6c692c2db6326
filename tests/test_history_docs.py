"""docs/histories.md stays true: its examples run with the exit codes they state, its sample
output is the checker's, its option table names every option, and its benchmark table has
the columns and rows bench/history_bench.py prints."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from checker.history import check_history
from checker.history.cli import check_history_command
from raftref.cli import main

from .conftest import ROOT

PAGE = (ROOT / "docs" / "histories.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE, re.DOTALL)


def test_the_examples_run_with_the_exit_codes_they_state(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "traces").symlink_to(ROOT / "traces")
    monkeypatch.chdir(tmp_path)  # outputs the examples write land here, not in the project
    examples = [line for block in _blocks("console") for line in block.splitlines()
                if line.startswith("$ raftref check-history ")]
    assert len(examples) >= 4
    for line in examples:
        stated = re.search(r"# exit (\d)", line)
        args = shlex.split(line[len("$ raftref "):], comments=True)
        res = CliRunner().invoke(main, args)
        assert res.exit_code in (0, 1), (line, res.output)
        if stated:
            assert res.exit_code == int(stated.group(1)), line
    assert (tmp_path / "c10-bad.html").read_text().startswith("<!DOCTYPE html>")


def test_the_sample_output_is_the_checkers() -> None:
    stale = check_history([ROOT / "traces/histories/hand/register-stale-read.jsonl"]).to_text()
    c10 = check_history([ROOT / "traces/histories/porcupine-kv/c10-bad.txt"],
                        all_keys=True).to_text()
    samples = [b for b in _blocks("text") if "cannot follow it" in b]
    assert len(samples) == 2
    assert samples[0].strip() in stale
    lines = [line.strip() for line in c10.splitlines()]
    for line in samples[1].strip().splitlines():
        assert line.strip() in lines, line


def test_the_option_table_names_every_option() -> None:
    options = {opt for p in check_history_command.params for opt in p.opts
               if opt.startswith("--") and opt != "--help"}
    listed = set(re.findall(r"^\| `(--[a-z-]+)", PAGE, re.MULTILINE))
    assert listed == options


def test_the_benchmark_table_is_the_benchs() -> None:
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import history_bench
    finally:
        sys.path.remove(str(ROOT / "bench"))
    header = history_bench._header(False).splitlines()[0]
    assert header in PAGE
    rows = re.findall(r"^\| (register|kv|porcupine) (c\d+)", PAGE, re.MULTILINE)
    expected = {(m, f"c{c}") for m in ("register", "kv") for c in (1, 10, 50)}
    expected |= {("porcupine", c) for c in ("c01", "c10", "c50")}
    assert set(rows) == expected
    assert len(rows) == 2 * 3 * 3 * 2 + 6
