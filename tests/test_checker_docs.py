"""docs/checker.md stays true: every option of the check command is in its table, its links
resolve, its examples parse, and the messages it quotes are the ones the checker prints."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from checker.cli import check_command
from tests.test_checker_corpus import split_per_process
from tests.test_checker_gen import TraceBuilder, normal_run

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "checker.md"
TEXT = PAGE.read_text()


def test_every_option_is_in_the_table() -> None:
    rows = {cell.split()[0] for cell in re.findall(r"^\| `([^`]+)`", TEXT, re.MULTILINE)}
    for param in check_command.params:
        names = ", ".join(f"`{opt}`" for opt in param.opts + param.secondary_opts)
        if param.name == "traces":
            assert "TRACES..." in rows
        else:
            assert any(opt in rows for opt in param.opts), f"{names} is not in docs/checker.md"


def test_links_resolve_inside_the_repository() -> None:
    for target in re.findall(r"\[[^\]]*\]\(([^)\s#]+)(?:#[^)]*)?\)", TEXT):
        if "://" in target:
            continue
        resolved = (PAGE.parent / target).resolve()
        assert resolved.exists(), target
        assert ROOT in resolved.parents, target


def test_console_examples_parse() -> None:
    for block in re.findall(r"```console\n(.*?)```", TEXT, re.DOTALL):
        for line in block.splitlines():
            if line.startswith("$ raftref check"):
                args = shlex.split(line[len("$ raftref check"):])
                ctx = check_command.make_context("check", args)
                assert ctx.params["traces"], line


def quoted_error(prefix: str) -> str:
    """The error line the page quotes that starts with ``prefix``."""
    return next(line for line in TEXT.splitlines() if line.startswith(prefix))


def run(*args: str) -> str:
    result = CliRunner().invoke(check_command, list(args))
    assert result.exit_code == 2, result.output
    return result.stderr.strip()


def test_the_quoted_refusals_are_what_the_checker_prints(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    # Two logical runs.
    (tmp_path / "run.jsonl").write_text(normal_run().text())
    other = TraceBuilder()
    other.start_all()
    other.elect("n2", ("n1", "n3"))
    (tmp_path / "other-run.jsonl").write_text(other.text())
    assert run("run.jsonl", "other-run.jsonl") == quoted_error(
        "error: run.jsonl:1: field clock:")
    # One node's file of a cluster.
    files = split_per_process(normal_run(proposals=2), {"n1": ("n1",), "n2": ("n2",),
                                                        "n3": ("n3",)})
    path = tmp_path / "out" / "cluster" / "n1" / "trace.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text(files["n1"])
    assert run("out/cluster/n1/trace.jsonl") == quoted_error(
        "error: out/cluster/n1/trace.jsonl:")
    # Two per-process files whose seeds differ.
    for name, seed in (("a", 7), ("b", 8)):
        lines = files["n1" if name == "a" else "n2"].splitlines()
        header = {**orjson.loads(lines[0]), "seed": seed}
        (tmp_path / name).mkdir()
        (tmp_path / name / "trace.jsonl").write_text(
            "\n".join([orjson.dumps(header).decode(), *lines[1:]]) + "\n")
    assert run("a/trace.jsonl", "b/trace.jsonl") == quoted_error(
        "error: b/trace.jsonl:1: field seed:")
