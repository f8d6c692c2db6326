"""docs/store.md stays true: its schema names every table, column and index the store creates,
and its examples (commands and the Python block) give the output the page shows when run in
order from an empty store.

After changing a command, rewrite the page's outputs with
``.venv/bin/python -m tests.test_store_docs --write`` and read the difference.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from click.testing import CliRunner

from checker.store import INDEXES, SCHEMA_VERSION, TABLES
from raftref.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "store.md"
CONSOLE = re.compile(r"```console\n\$ (?P<cmd>[^\n]*)\n(?P<out>.*?)```\n"
                     r"\(exit code (?P<code>\d+)\)", re.S)
PYTHON = re.compile(r"```python\n(?P<code>.*?)```\n\nprints\n\n```text\n(?P<out>.*?)```", re.S)
#: Outputs longer than this show their first and last lines around a line "...".
LONG, HEAD, TAIL = 60, 8, 3
#: Rich tables depend on the terminal: the examples are run as if on a 120-column one, no colour.
ENV = {"COLUMNS": "120", "FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}


@contextlib.contextmanager
def example_folder() -> Iterator[Path]:
    """An empty folder, as the project's root would be with no out/, to run the examples in."""
    with tempfile.TemporaryDirectory(prefix="store-doc-") as tmp:
        folder = Path(tmp)
        (folder / "traces").symlink_to(ROOT / "traces")
        old = Path.cwd()
        os.chdir(folder)
        try:
            yield folder
        finally:
            os.chdir(old)


def run_command(command: str) -> tuple[list[str], int]:
    argv = shlex.split(command)
    assert argv[0] == "raftref", command
    result = CliRunner().invoke(main, argv[1:], env=ENV)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return [line.rstrip() for line in result.output.splitlines()], result.exit_code


def run_python(code: str) -> list[str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {"__name__": "store_doc_example"})
    return [line.rstrip() for line in out.getvalue().splitlines()]


def shown(lines: list[str]) -> list[str]:
    """What the page shows of an output: all of it, or its ends around '...' when long."""
    if len(lines) <= LONG:
        return lines
    return [*lines[:HEAD], "...", *lines[-TAIL:]]


def matches(expected: list[str], actual: list[str]) -> bool:
    if "..." not in expected:
        return expected == actual
    cut = expected.index("...")
    head, tail = expected[:cut], expected[cut + 1:]
    return (len(actual) >= len(head) + len(tail) and actual[:len(head)] == head
            and actual[len(actual) - len(tail):] == tail)


def as_text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def check_or_write(text: str, write: bool) -> tuple[str, list[str]]:
    """Run every example of ``text`` in order; the page with the real outputs, and the
    examples whose output differs from the page's."""
    wrong: list[str] = []
    pieces: list[str] = []
    last = 0
    with example_folder():
        for match in sorted([*CONSOLE.finditer(text), *PYTHON.finditer(text)],
                            key=lambda m: m.start()):
            expected = match["out"].splitlines()
            if "cmd" in match.groupdict():
                lines, code = run_command(match["cmd"])
                if not matches(expected, lines) or int(match["code"]) != code:
                    wrong.append(f"$ {match['cmd']} (exit code {code})\n{as_text(lines)}")
                new = (f"```console\n$ {match['cmd']}\n"
                       f"{as_text(shown(lines) if write else expected)}```\n(exit code "
                       f"{code if write else match['code']})")
            else:
                lines = run_python(match["code"])
                if not matches(expected, lines):
                    wrong.append(f"the Python example:\n{as_text(lines)}")
                new = (f"```python\n{match['code']}```\n\nprints\n\n```text\n"
                       f"{as_text(lines if write else expected)}```")
            pieces += [text[last:match.start()], new]
            last = match.end()
    pieces.append(text[last:])
    return "".join(pieces), wrong


def test_every_example_gives_the_output_the_page_shows() -> None:
    text = DOC.read_text()
    assert len(CONSOLE.findall(text)) >= 10 and len(PYTHON.findall(text)) == 1
    _, wrong = check_or_write(text, write=False)
    assert not wrong, ("docs/store.md differs from what these examples print (rewrite it: "
                       ".venv/bin/python -m tests.test_store_docs --write):\n\n"
                       + "\n".join(wrong))


def test_the_page_starts_from_an_empty_store_and_covers_every_command() -> None:
    text = DOC.read_text()
    commands = [m["cmd"] for m in CONSOLE.finditer(text)]
    assert "out/example.db" in commands[1] and "empty store" in text
    for command in ("raftref db ingest", "raftref db query", "raftref db summary",
                    "raftref check"):
        assert any(c.startswith(command) for c in commands), command
    for flag in ("--csv", "--json", "--jsonl", "--limit", "--leaders", "--run"):
        assert any(f" {flag}" in c for c in commands), flag


def test_the_schema_names_every_table_column_and_index() -> None:
    text = DOC.read_text()
    section = text[text.index("## The schema"):text.index("## The commands")]
    for table, columns in TABLES.items():
        row = next(line for line in section.splitlines() if line.startswith(f"| `{table}` |"))
        assert all(f"`{c}`" in row for c in columns), table
    prose = " ".join(section.split())
    for name, (_, columns, unique) in INDEXES.items():
        said = f"`{name}` ({'unique: ' if unique else ''}"
        assert said in prose and (unique or f"{said}`{', '.join(columns)}`)" in prose), name
    assert f"`PRAGMA user_version` is {SCHEMA_VERSION}" in prose


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.test_store_docs --write")
    page, _ = check_or_write(DOC.read_text(), write=True)
    DOC.write_text(page)
    print(f"rewrote the outputs of {DOC.relative_to(ROOT)}")
