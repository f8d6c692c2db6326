"""docs/networked-mode.md stays true to the commands it documents: every option of ``raftref
cluster`` and ``raftref serve`` is in its tables, every ``$ raftref ...`` example parses against
the CLI as it is, its links resolve, and the test hook it names is the one the server reads."""

from __future__ import annotations

import re
import shlex

import click
import pytest

from raftref.cli import main, subcommands
from raftref.net.server import EXIT_AFTER_SAVE

from .conftest import ROOT

PAGE = ROOT / "docs" / "networked-mode.md"
TEXT = PAGE.read_text()


@pytest.mark.parametrize("command", ["cluster", "serve"])
def test_every_option_is_documented(command: str) -> None:
    cmd = subcommands(main)[command]
    heading = TEXT.index(f"## `raftref {command}`")
    section = TEXT[heading:TEXT.index("\n## ", heading + 1)]
    names = [opt for param in cmd.params if isinstance(param, click.Option)
             for opt in param.opts if opt.startswith("--") and opt != "--help"]
    assert names
    rows = [line for line in section.splitlines() if line.startswith("| `--")]
    missing = [name for name in names if not any(row.startswith(f"| `{name}") for row in rows)]
    assert missing == [], f"options of raftref {command} missing from {PAGE.name}"


def test_every_example_parses_against_the_cli() -> None:
    blocks = re.findall(r"```(?:console|sh)\n(.*?)```", TEXT, re.DOTALL)
    lines = [line.removeprefix("$ ") for block in blocks for line in block.splitlines()
             if line.removeprefix("$ ").startswith("raftref ")]
    assert len(lines) >= 6
    for line in lines:
        args = shlex.split(line, comments=True)[1:]
        command = subcommands(main)[args[0]]
        # under the group's context, as the CLI runs it: click caches a command's help option
        # from the first context, and one without the group's -h would leak into later tests
        parent = click.Context(main, info_name="raftref", **main.context_settings)
        with command.make_context(args[0], args[1:], parent=parent) as ctx:
            assert ctx.command is command, line


def test_links_resolve_and_the_hook_is_the_servers() -> None:
    for target in re.findall(r"\]\(([^)\s]+)\)", TEXT):
        page, _, anchor = target.partition("#")
        if page:
            assert (PAGE.parent / page).exists(), target
        else:
            slugs = {re.sub(r"[^\w\- ]", "", h.lower()).replace(" ", "-")
                     for h in re.findall(r"^#+ (.+)$", TEXT, re.MULTILINE)}
            assert anchor in slugs, target
    assert f"{EXIT_AFTER_SAVE}=N" in TEXT
