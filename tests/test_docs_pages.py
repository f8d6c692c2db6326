"""The reference pages in docs/ stay true to the code they describe.

What can drift is checked against its source: links and anchors resolve, no page sends a user
outside the repository (../shared is not shipped), every ``$ raftref ...`` example parses against
the CLI as it is, the trace-format page's kinds and example lines match spec/trace.schema.json,
and the simulator page's schedule example and field table match the schedule reader."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import jsonschema
import orjson
import pytest
from click.testing import CliRunner

from raftref.cli import main, subcommands
from raftref.sim.schedule import TIMING_DEFAULTS, NetworkProfile, Schedule

from .conftest import ROOT

DOCS = ROOT / "docs"
# The pages this test owns (docs/commands.md has its own test, tests/test_commands_doc.py).
PAGES = ["adapters.md", "pysyncobj-findings.md", "search.md", "simulator.md", "trace-format.md",
         "validate-your-implementation.md", "z3.md"]
SCHEMA = orjson.loads((ROOT / "spec" / "trace.schema.json").read_bytes())
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def _text(page: str) -> str:
    return (DOCS / page).read_text()


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    body = re.sub(r"```.*?```", "", path.read_text(), flags=re.DOTALL)
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", body, re.MULTILINE)}


def _blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, re.DOTALL)


@pytest.mark.parametrize("page", [*PAGES, "../traces/etcd-raft/README.md", "../README.md",
                                  "architecture.md", "../traces/README.md"])
def test_links_and_anchors_resolve_inside_the_repository(page: str) -> None:
    path = (DOCS / page).resolve()
    text = path.read_text()
    assert "shared/" not in text, f"{page} points outside the repository (../shared)"
    for target in LINK.findall(text):
        if re.match(r"[a-z]+://", target):
            continue
        file, _, anchor = target.partition("#")
        resolved = (path.parent / file).resolve() if file else path
        assert resolved.exists(), f"{page}: link to {target}: no such file"
        assert ROOT in resolved.parents or resolved == ROOT, f"{page}: {target} leaves the repo"
        if anchor:
            assert anchor in _anchors(resolved), f"{page}: link to {target}: no such heading"


def _examples(page: str) -> list[list[str]]:
    commands = []
    for block in _blocks(_text(page), "console"):
        for line in block.splitlines():
            if line.startswith("$ raftref "):
                commands.append(shlex.split(line[len("$ raftref "):], comments=True))
    return commands


def _commands(group: click.Group) -> list[click.Command]:
    found: list[click.Command] = [group]
    for command in subcommands(group).values():
        found += _commands(command) if isinstance(command, click.Group) else [command]
    return found


@pytest.mark.parametrize("page", [*PAGES, "../README.md"])
def test_every_console_example_parses_against_the_cli(page: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    # Every command's work replaced by nothing: what is left is click parsing and checking each
    # option, choice and argument of the example.
    for command in _commands(main):
        monkeypatch.setattr(command, "callback", lambda **kwargs: None)
    for args in _examples(page):
        result = CliRunner().invoke(main, args, prog_name="raftref")
        assert result.exit_code == 0, f"{page}: raftref {shlex.join(args)}: {result.output}"


def test_pages_with_examples_have_them() -> None:
    # Guards the test above against a change of code-block style that would make it vacuous.
    for page in ("adapters.md", "search.md", "simulator.md", "trace-format.md", "z3.md"):
        assert _examples(page), f"{page} has no $ raftref example"


def _kinds_table() -> dict[str, set[str]]:
    rows = re.findall(r"^\| `(\w+)` \|([^|]*)\|", _text("trace-format.md"), re.MULTILINE)
    return {kind: set(re.findall(r"`(\w+)`", fields)) for kind, fields in rows}


def test_trace_format_lists_every_kind_with_the_schemas_required_fields() -> None:
    event = SCHEMA["$defs"]["event"]
    required: dict[str, set[str]] = {kind: set() for kind in event["properties"]["kind"]["enum"]}
    for rule in event["allOf"]:
        kind = rule["if"]["properties"]["kind"]
        for name in kind.get("enum", [kind.get("const")]):
            required[name] |= set(rule["then"].get("required", []))
    assert _kinds_table() == required


def test_trace_format_example_lines_are_valid_trace_lines() -> None:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    lines = [ln for block in _blocks(_text("trace-format.md"), "json") for ln in block.splitlines()]
    assert len(lines) >= 10
    for line in lines:
        errors = [e.message for e in validator.iter_errors(orjson.loads(line))]
        assert not errors, f"{line[:80]}...: {errors}"


def test_simulator_schedule_example_is_a_valid_schedule() -> None:
    (block,) = _blocks(_text("simulator.md"), "json")
    schedule = Schedule.from_json(orjson.loads(block))
    assert schedule.faults and schedule.message_faults
    assert schedule.election_timeout_min != TIMING_DEFAULTS["election_timeout_min"]


def test_simulator_field_table_names_every_schedule_and_network_field() -> None:
    text = _text("simulator.md")
    table = set()
    for cell in re.findall(r"^\| ([^|]+) \|", text, re.MULTILINE):
        table |= set(re.findall(r"`(\w+)`", cell))
    assert table - {"field"} == set(Schedule.__dataclass_fields__)
    network = text.split("The `network` profile", 1)[1].split("\n\n", 1)[0]
    assert set(re.findall(r"`(\w+)`", network)) >= set(NetworkProfile.__dataclass_fields__)
