"""``raftref adapt``: translate other implementations' traces into raft-traces.

Exit codes: 0 translated (warnings, if any, on stderr); 2 input that is not a trace of that
implementation, with one line on stderr naming the file, line and field, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from checker.adapters.etcd import AdaptError, translate_file
from checker.outputs import OutputError, atomic_output, check_output_file, same_file


class AdaptUsageError(click.ClickException):
    """Unusable input: one line on stderr, exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


@click.group(name="adapt", context_settings={"help_option_names": ["-h", "--help"]})
def adapt_group() -> None:
    """Translate another Raft implementation's trace into a raft-trace (then: raftref check)."""


@adapt_group.command(name="etcd")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="raft-trace to write (JSON Lines); '-' or absent: standard output.")
def etcd_command(source: Path, output: Path | None) -> None:
    """Translate an etcd-io/raft state-machine trace (state_trace.go, NDJSON) into a raft-trace.

    What the trace does not say is rebuilt (entry terms, message ids, request/reply pairs);
    what cannot be inferred is reported as a warning on stderr and in the event's note.
    """
    to_stdout = output is None or str(output) == "-"
    try:
        if not to_stdout:
            assert output is not None
            if same_file(output, source):
                raise AdaptUsageError(f"{output}: refusing to overwrite the input")
            check_output_file(output, "-o")
        if to_stdout:
            result = translate_file(source, sys.stdout.buffer)
            sys.stdout.buffer.flush()
        else:
            assert output is not None
            with atomic_output(output) as f:
                result = translate_file(source, f)
    except (AdaptError, OutputError) as exc:
        raise AdaptUsageError(str(exc)) from None
    except OSError as exc:
        raise AdaptUsageError(f"{exc.filename or output}: {exc.strerror or exc}") from None
    for line, message in result.warnings:
        click.echo(f"warning: {source}:{line}: {message}", err=True)
    where = f"; check it: raftref check {output}" if output and str(output) != "-" else ""
    click.echo(f"translated {result.events_in} etcd events into {result.events_out} raft-trace "
               f"events, {len(result.warnings)} warnings{where}", err=True)
