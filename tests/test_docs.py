"""The README is a front door: short, it opens with the two set-up commands, names every command
with an example that parses, and sends the reader to docs/ for the rest (docs/commands.md is
checked against the CLI by tests/test_commands_doc.py)."""

from __future__ import annotations

import re
import shlex

import click
import pytest
from click.testing import CliRunner

from raftref.cli import main, subcommands

from .conftest import ROOT

README = (ROOT / "README.md").read_text()


def _command_paths(group: click.Group, prefix: str = "raftref") -> list[str]:
    paths = []
    for name, command in sorted(subcommands(group).items()):
        path = f"{prefix} {name}"
        paths.append(path)
        if isinstance(command, click.Group):
            paths.extend(_command_paths(command, path))
    return paths


def test_the_readme_is_a_front_door_under_200_lines() -> None:
    assert len(README.splitlines()) < 200
    assert "docs/commands.md" in README and "docs/architecture.md" in README


def test_every_command_is_named_in_the_readme() -> None:
    missing = [p for p in _command_paths(main) if f"`{p}" not in README and f"$ {p}" not in README]
    assert not missing, f"commands the README does not name: {missing}"


def test_the_readme_command_table_examples_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    examples = re.findall(r"^\| `(raftref [^`]+)` \|", README, re.MULTILINE)
    assert len(examples) >= 8
    for command in subcommands(main).values():
        monkeypatch.setattr(command, "callback", lambda **kwargs: None)
        if isinstance(command, click.Group):
            for sub in subcommands(command).values():
                monkeypatch.setattr(sub, "callback", lambda **kwargs: None)
    for example in examples:
        args = shlex.split(example)[1:]
        result = CliRunner().invoke(main, args, prog_name="raftref")
        assert result.exit_code == 0, f"{example}: {result.output}"


def test_readme_opens_with_the_two_setup_commands_and_ci_runs_the_test_command() -> None:
    setup = README.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in setup and "make test" in setup
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "\ndemo:" in makefile and "\ntest:" in makefile
