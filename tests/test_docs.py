"""The README documents every command, and what it promises about set-up stays true."""

from __future__ import annotations

import click

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


def test_every_command_is_documented_in_the_readme() -> None:
    missing = [p for p in _command_paths(main) if f"`{p}" not in README and f"$ {p}" not in README]
    assert not missing, f"undocumented commands: {missing}"


def test_readme_opens_with_the_two_setup_commands_and_ci_runs_the_test_command() -> None:
    setup = README.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in setup and "make test" in setup
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "\ndemo:" in makefile and "\ntest:" in makefile
