"""``raftref prove``: the inductive proof, or bounded model checking of a mutant.

A thin layer: parse options, call :func:`checker.proof.prove.prove` or
:func:`checker.proof.bmc.bmc`, format. Exit codes as everywhere in raftref: 0 every obligation
holds (or no counterexample within the depth), 1 a counterexample (to induction, or a BMC path),
2 bad options (one line on stderr, never a traceback).

Progress goes to stderr as the solver goes, one line per action (its obligations, one per lemma)
or per BMC depth, always, not only on a terminal: a proof takes from seconds to minutes, and a CI
log or a pipe that shows nothing for minutes looks hung just as a terminal does. A dozen lines is
concise enough; ``--quiet`` drops them. Standard output (the table, or ``--json``) is unchanged.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import orjson

from checker.outputs import OutputError, check_output_file
from checker.proof.bmc import BmcResult, bmc
from checker.proof.invariants import BY_NAME, LEMMAS, lemma
from checker.proof.model import Bounds, BoundsError
from checker.proof.mutants import MUTANTS, NOT_MODELLED, mutant
from checker.proof.prove import ACTIONS, APPEND_ONLY, TYPE_OK, Cell, ProofReport, prove
from checker.proof.trace_export import export_lines
from checker.usage import write_output

PROOF_DEFAULTS = (3, 3)  # max-term, max-log for the inductive proof
BMC_DEFAULTS = (4, 2)  # figure8 needs four terms; every shortest path found uses index <= 1
SHORT = {TYPE_OK: "Type", APPEND_ONLY: "AppOnly"}


class ProveUsageError(click.ClickException):
    """Bad options: one line on stderr, exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class _OneLineErrors(click.Command):
    """Turn click's own usage errors (a bad number, an unknown option) into one line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            if isinstance(exc, ProveUsageError):
                raise
            raise ProveUsageError(exc.format_message()) from None


def _abbrev(name: str) -> str:
    if name in SHORT:
        return SHORT[name]
    return "".join(c for c in name if c.isupper()) or name[:6]


def format_proof(report: ProofReport) -> str:
    """The table of actions x lemmas (ok / CTI) with solver times, then the dependencies."""
    goals = list(dict.fromkeys(c.lemma for c in report.cells))
    actions = list(dict.fromkeys(c.action for c in report.cells))
    cell = {(c.action, c.lemma): c for c in report.cells}
    width = max(len(a) for a in actions) + 2
    lines = [f"inductive check of Inv at {report.bounds.describe()}"
             + (f", without {report.dropped}" if report.dropped else "")
             + " (servers symmetric: the acting server is s0)", ""]
    lines.append("".ljust(width) + " ".join(_abbrev(g).rjust(7) for g in goals) + "    time")
    for a in actions:
        marks = []
        for g in goals:
            c = cell.get((a, g))
            marks.append(("-" if c is None else "ok" if c.proved else "CTI").rjust(7))
        seconds = sum(c.seconds for c in report.cells if c.action == a)
        lines.append(a.ljust(width) + " ".join(marks) + f" {seconds:6.2f}s")
    lines += ["", "columns: " + ", ".join(f"{_abbrev(g)}={g}" for g in goals), ""]
    measured = report.measured_dependencies()
    lines.append("lemma dependencies (declared | used by this run's unsat cores):")
    for info in LEMMAS:
        if info.name in measured:
            lines.append(f"  {info.name}: {', '.join(info.depends_on) or '-'} | "
                         f"{', '.join(measured[info.name]) or '-'}")
    for cti in report.ctis[:1]:
        lines += [""] + cti.describe()
    failed = sum(1 for c in report.cells if not c.proved)
    lines.append("")
    if failed:
        lines.append(f"NOT INDUCTIVE: {failed} of {len(report.cells)} obligations fail "
                     f"({report.seconds:.2f}s)")
    else:
        lines.append(f"PROVED: all {len(report.cells)} obligations hold ({report.seconds:.2f}s)")
        if report.dropped:
            how = "and implied by the others" if report.implied else \
                "but not implied by them (it is proved on its own when included)"
            lines.append(f"{report.dropped} is not needed for the others' induction, {how}")
    return "\n".join(lines)


def format_bmc(result: BmcResult) -> str:
    lines = [f"bounded model checking of mutant {result.mutant} at {result.bounds.describe()}"
             f", depth <= {result.depth}"]
    if result.mutant != "none":
        lines.append(f"  changed: {mutant(result.mutant).doc}")
    if not result.found:
        lines.append(f"no violation within {result.depth} steps ({result.seconds:.2f}s)")
        if result.first_leader is not None or result.first_commit is not None:
            lines.append(f"first leader elected at depth {result.first_leader}, first entry "
                         f"committed at depth {result.first_commit}")
        return "\n".join(lines)
    lines.append(f"COUNTEREXAMPLE: {', '.join(result.violated)} (trace checker: "
                 f"{', '.join(result.trace_properties())}) violated after k={result.k} steps, "
                 f"the shortest ({result.seconds:.2f}s)")
    for n, step in enumerate(result.path):
        head, *rest = step.describe()
        lines.append(f"{n}. {head}")
        lines += rest
    return "\n".join(lines)


@click.command("prove", cls=_OneLineErrors)
@click.option("--nodes", type=int, default=3, show_default=True, help="Servers N.")
@click.option("--max-term", type=int, default=None,
              help=f"Terms 0..T (default {PROOF_DEFAULTS[0]}; {BMC_DEFAULTS[0]} with --mutant).")
@click.option("--max-log", type=int, default=None,
              help=f"Log length <= L (default {PROOF_DEFAULTS[1]}; {BMC_DEFAULTS[1]} "
                   "with --mutant).")
@click.option("--mutant", default=None, metavar="NAME",
              help=f"Model-check a mutant: {', '.join(MUTANTS)}.")
@click.option("--drop", default=None, metavar="LEMMA", help="Prove without this lemma.")
@click.option("--bmc-depth", type=int, default=None,
              help="BMC depth (default 10 with --mutant; without, also model-check the "
                   "correct model to this depth).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="With --mutant: write the counterexample as a raft-trace here.")
@click.option("--cti-json", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the counterexamples to induction (pre/post-states) as JSON here.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of the table.")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress on stderr (by default one line per action or BMC depth).")
def prove_command(nodes: int, max_term: int | None, max_log: int | None, mutant: str | None,
                  drop: str | None, bmc_depth: int | None, output: Path | None,
                  cti_json: Path | None, as_json: bool, quiet: bool) -> None:
    """Prove Raft's safety invariant inductive for bounded abstract Raft (Z3), or find the
    shortest counterexample a mutant allows (bounded model checking)."""
    name = mutant
    defaults = BMC_DEFAULTS if name else PROOF_DEFAULTS
    try:
        bounds = Bounds(nodes, max_term if max_term is not None else defaults[0],
                        max_log if max_log is not None else defaults[1])
    except BoundsError as exc:
        raise ProveUsageError(str(exc)) from None
    if name is not None and name not in MUTANTS:
        why = f" ({NOT_MODELLED[name]})" if name in NOT_MODELLED else ""
        raise ProveUsageError(f"--mutant {name!r} is not modelled{why}; modelled: "
                              f"{', '.join(MUTANTS)}")
    if drop is not None and drop not in BY_NAME:
        raise ProveUsageError(f"--drop {drop!r} is not a lemma; lemmas: {', '.join(BY_NAME)}")
    if name is not None and drop is not None:
        raise ProveUsageError("--drop applies to the proof, --mutant to model checking: "
                              "give one of them")
    if bmc_depth is not None and not 0 <= bmc_depth <= 40:
        raise ProveUsageError(f"--bmc-depth must be between 0 and 40, got {bmc_depth}")
    if output is not None and name is None:
        raise ProveUsageError("-o/--output writes a mutant's counterexample trace: add --mutant")
    for path, option in ((output, "-o"), (cti_json, "--cti-json")):
        if path is not None:
            try:
                check_output_file(path, option)
            except OutputError as exc:
                raise ProveUsageError(str(exc)) from None
    progress = _Progress(quiet)
    if name is not None:
        sys.exit(_run_bmc(bounds, name, bmc_depth if bmc_depth is not None else 10, output,
                          as_json, progress))
    report = prove(bounds, drop=drop, on_action=progress.action)
    check = (bmc(bounds, None, bmc_depth, reach=True, on_depth=progress.depth(bmc_depth))
             if bmc_depth is not None else None)
    if cti_json is not None:
        write_output(cti_json, orjson.dumps([c.to_json() for c in report.ctis],
                                            option=orjson.OPT_INDENT_2) + b"\n",
                     ProveUsageError)
    if as_json:
        obj = report.to_json()
        obj["declared_dependencies"] = {i.name: list(i.depends_on) for i in LEMMAS}
        if check is not None:
            obj["bmc"] = check.to_json()
        click.echo(orjson.dumps(obj).decode())
    else:
        click.echo(format_proof(report))
        if check is not None:
            click.echo("\n" + format_bmc(check))
    sys.exit(0 if report.ok and (check is None or not check.found) else 1)


class _Progress:
    """One line on stderr per action of the proof and per depth of BMC, with the time it took."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.done = 0
        self.last = time.perf_counter()

    def _elapsed(self) -> float:
        now = time.perf_counter()
        seconds, self.last = now - self.last, now
        return seconds

    def action(self, action: str, cells: list[Cell]) -> None:
        self.done += 1
        seconds = self._elapsed()
        if self.quiet:
            return
        failed = sum(1 for c in cells if not c.proved)
        verdict = (f"{len(cells)} obligations hold" if not failed
                   else f"{failed} of {len(cells)} obligations FAIL")
        click.echo(f"prove: {self.done}/{len(ACTIONS) + 1} {action}: {verdict} "
                   f"({seconds:.1f}s)", err=True)

    def depth(self, depth: int) -> Callable[[int, bool], None]:
        def report(k: int, found: bool) -> None:
            seconds = self._elapsed()
            if not self.quiet:
                click.echo(f"bmc: depth {k} of {depth}: "
                           f"{'violation found' if found else 'no violation'} ({seconds:.1f}s)",
                           err=True)
        return report


def _run_bmc(bounds: Bounds, name: str, depth: int, output: Path | None, as_json: bool,
             progress: _Progress) -> int:
    result = bmc(bounds, name, depth, on_depth=progress.depth(depth))
    if output is not None and result.found:
        write_output(output, b"".join(line + b"\n" for line in export_lines(result)),
                     ProveUsageError)
    if as_json:
        obj = result.to_json()
        obj["trace"] = str(output) if output is not None and result.found else None
        click.echo(orjson.dumps(obj).decode())
    else:
        click.echo(format_bmc(result))
        if output is not None and result.found:
            click.echo(f"trace written to {output} (check it: raftref check {output})")
    return 1 if result.found else 0


def lemma_names() -> list[str]:
    """Every lemma name, for shell completion and docs."""
    return [lemma(n).name for n in BY_NAME]
