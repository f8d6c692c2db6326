"""docs/commands.md stays true: its help blocks are the CLI's --help, every command has a section
with an example, every example parses against the CLI, and the quick ones run."""

from __future__ import annotations

import importlib.util
import re
import shlex
from pathlib import Path
from types import ModuleType

import click
import pytest
from click.testing import CliRunner

from raftref.cli import main, subcommands

from .conftest import ROOT

DOC = ROOT / "docs" / "commands.md"
REGENERATE = "run: .venv/bin/python tools/commands_doc.py"
# Sections whose examples the test runs (the others take minutes, or run until stopped).
QUICK = ("raftref sim", "raftref check", "raftref report", "raftref db", "raftref db ingest",
         "raftref db query", "raftref db summary", "raftref mutants", "raftref adapt",
         "raftref adapt etcd")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("commands_doc", ROOT / "tools" /
                                                  "commands_doc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()
TEXT = DOC.read_text()


def _sections() -> dict[str, str]:
    """Each section's hand-written part (the generated help block left out)."""
    heads = list(GEN.HEADING.finditer(TEXT))
    return {h.group(1): GEN.HELP_BLOCK.sub("", TEXT[h.end():heads[i + 1].start()
                                                    if i + 1 < len(heads) else len(TEXT)])
            for i, h in enumerate(heads)}


def _examples(body: str) -> list[list[str]]:
    """The commands of a section's ```console blocks (``$ raftref ...`` lines)."""
    out = []
    for block in re.findall(r"```console\n(.*?)```", body, re.DOTALL):
        for line in block.splitlines():
            if line.startswith("$ raftref "):
                out.append(shlex.split(line[2:], comments=True))
    return out


def test_the_help_blocks_are_the_clis_help() -> None:
    regenerated, dropped = GEN.render(TEXT, main)
    assert not dropped, f"sections of commands that are gone: {dropped}; {REGENERATE}"
    assert regenerated == TEXT, f"docs/commands.md is out of date; {REGENERATE}"


def test_every_command_has_a_section_with_an_example_of_it() -> None:
    sections = _sections()
    for path, _ in GEN.command_paths(main):
        assert path in sections, f"{path} has no section; {REGENERATE}, then add an example"
        words = path.split()
        examples = _examples(sections[path])
        assert any(e[:len(words)] == words for e in examples), f"{path}: no example"


def _leaves(group: click.Group) -> list[click.Command]:
    out: list[click.Command] = [group]
    for command in subcommands(group).values():
        out += _leaves(command) if isinstance(command, click.Group) else [command]
    return out


def test_every_example_parses_against_the_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each command's work replaced by nothing: what is left is click parsing and checking
    # every option and argument of the example.
    for command in _leaves(main):
        monkeypatch.setattr(command, "callback", lambda **kwargs: None)
    examples = [e for body in _sections().values() for e in _examples(body)]
    assert len(examples) >= 15
    for example in examples:
        res = CliRunner().invoke(main, example[1:], prog_name="raftref")
        assert res.exit_code == 0, f"{shlex.join(example)}: {res.output}"


def test_the_quick_examples_run_and_exit_0(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "traces").symlink_to(ROOT / "traces")  # the shipped samples, read-only
    monkeypatch.chdir(tmp_path)
    sections = _sections()
    ran = 0
    for path in QUICK:
        for example in _examples(sections[path]):
            res = CliRunner().invoke(main, example[1:], prog_name="raftref")
            assert res.exit_code == 0, f"{shlex.join(example)}: {res.output}"
            ran += 1
    assert ran >= 10
    assert (tmp_path / "out" / "run.html").is_file() and (tmp_path / "out" / "runs.db").is_file()
