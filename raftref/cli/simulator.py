"""``raftref sim``: one seeded, fault-injected simulation (raftref/sim/), or a PySyncObj run in
the harness, written as a trace."""

from __future__ import annotations

import contextlib
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import orjson

from raftref.cli.checks import (
    SEED_MAX,
    UsageFailure,
    check_file,
    check_schedule_seed,
)
from raftref.files import atomic_output, same_file
from raftref.mutants import MUTANTS
from raftref.sim.schedule import Schedule, ScheduleError, generate_schedule
from raftref.sim.simulator import SimResult, run_schedule


def load_schedule(path: Path) -> Schedule:
    """Read a schedule file; any problem becomes a UsageFailure naming the file and field."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UsageFailure(f"{path}: cannot read schedule: {exc.strerror or exc}") from None
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UsageFailure(f"{path}: not valid JSON: {exc}") from None
    try:
        return Schedule.from_json(obj)
    except ScheduleError as exc:
        raise UsageFailure(f"{path}: field {exc}") from None


@click.command()
@click.option("--nodes", type=click.IntRange(1, 99), default=None,
              help="Cluster size (default 3, or the schedule's).")
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=None,
              help="Random seed, 0 to 2**63-1 (default 0, or the schedule's).")
@click.option("--steps", type=click.IntRange(0), default=None,
              help="Simulator steps: ticks, deliveries, requests and faults (default 2000).")
@click.option("--schedule", "schedule_path", type=click.Path(path_type=Path), default=None,
              help="Replay this fault schedule (JSON); other options override its fields.")
@click.option("--mutant", "mutants", multiple=True, metavar="NAME",
              type=click.Choice(list(MUTANTS)),
              help="Switch on a deliberate bug (see 'raftref mutants'). Repeatable.")
@click.option("--save-schedule", type=click.Path(path_type=Path), default=None,
              help="Write the schedule that was run, for exact replay.")
@click.option("-o", "--output", type=click.Path(path_type=Path), default=None,
              help="Trace file to write (JSON Lines); '-' or absent: standard output.")
@click.option("--clients", type=click.IntRange(0, 99), default=None,
              help="Clients that read and write and record a history (default 0: the old single "
                   "client that only puts; or the schedule's).")
@click.option("--history", "history_path", type=click.Path(path_type=Path), default=None,
              help="Write the clients' history here (JSON Lines, docs/histories.md; check it "
                   "with raftref check-history). Needs clients.")
@click.option("--lease-reads", is_flag=True, default=False,
              help="Leaders answer reads under a lease (thesis 6.4.1; a clock assumption, "
                   "docs/reads-and-sessions.md) instead of a ReadIndex round.")
@click.option("--forward-reads", is_flag=True, default=False,
              help="A follower asks its leader for a read index instead of redirecting a read "
                   "(thesis 6.4), and clients send reads to their own node.")
@click.option("--history-in-trace", is_flag=True, default=False,
              help="Also write the clients' history into the trace, as history lines among "
                   "the events (raftref check then judges both). Needs clients.")
@click.option("--target", type=click.Choice(["raftref", "pysyncobj"]), default="raftref",
              show_default=True,
              help="Which Raft runs: the reference node, or real PySyncObj nodes in the harness.")
def sim(nodes: int | None, seed: int | None, steps: int | None, schedule_path: Path | None,
        mutants: tuple[str, ...], save_schedule: Path | None, output: Path | None,
        clients: int | None, history_path: Path | None, lease_reads: bool,
        forward_reads: bool, history_in_trace: bool, target: str) -> None:
    """Run one seeded, fault-injected simulation and write its trace.

    Without --schedule, the seed generates the default fault mix (crashes and restarts,
    partitions and heals, message loss, duplication, delay and reordering). With --target
    pysyncobj the same schedule drives a PySyncObj cluster (raftref/harness/pysyncobj.py).
    """
    if target == "pysyncobj" and mutants:
        raise UsageFailure("--mutant switches on bugs in raftref's node; it does not apply to "
                           "--target pysyncobj")
    if save_schedule is not None and str(save_schedule) == "-":
        raise UsageFailure("--save-schedule -: give a file name (standard output is for the "
                           "trace)")
    check_file(output, "-o")
    check_file(save_schedule, "--save-schedule")
    check_file(history_path, "--history")
    if history_path is not None and str(history_path) == "-":
        raise UsageFailure("--history -: give a file name (standard output is for the trace)")
    outputs = [(p, name) for p, name in ((output, "-o"), (save_schedule, "--save-schedule"),
                                         (history_path, "--history")) if p is not None]
    for i, (a, name_a) in enumerate(outputs):
        for b, name_b in outputs[i + 1:]:
            if str(a) != "-" and same_file(a, b):
                raise UsageFailure(f"{a}: {name_a} and {name_b} name the same file")
    if target == "pysyncobj" and (clients or history_path is not None or lease_reads
                                  or forward_reads or history_in_trace):
        raise UsageFailure("--clients, --history, --history-in-trace, --lease-reads and "
                           "--forward-reads drive raftref's node; they do not apply to "
                           "--target pysyncobj")
    if schedule_path is not None:
        base = load_schedule(schedule_path)
        check_schedule_seed(base.seed, schedule_path)
        overrides: dict[str, Any] = {}
        if nodes is not None and nodes != base.nodes:
            raise UsageFailure(f"--nodes {nodes} contradicts {schedule_path} (nodes {base.nodes})")
        if seed is not None:
            overrides["seed"] = seed
        if steps is not None:
            overrides["steps"] = steps
        if mutants:
            overrides["mutants"] = tuple(mutants)
        schedule = Schedule(**{**base.__dict__, **overrides})
    else:
        schedule = generate_schedule(seed or 0, nodes or 3, 2000 if steps is None else steps,
                                     mutants=tuple(mutants))
    if clients is not None or lease_reads or forward_reads or history_in_trace:
        schedule = replace(schedule, clients=schedule.clients if clients is None else clients,
                           lease_reads=schedule.lease_reads or lease_reads,
                           forward_reads=schedule.forward_reads or forward_reads,
                           history_in_trace=schedule.history_in_trace or history_in_trace)
    if schedule.history_in_trace and not (schedule.clients and schedule.proposal_interval):
        raise UsageFailure("--history-in-trace needs clients: give --clients N (the single "
                           "client of old records no history)")
    if history_path is not None and not (schedule.clients and schedule.proposal_interval):
        raise UsageFailure("--history needs clients: give --clients N (the single client of "
                           "old records no history)")
    for path in (output, save_schedule, history_path):
        if path is not None and schedule_path is not None and same_file(path, schedule_path):
            raise UsageFailure(f"{path}: refusing to overwrite the schedule being replayed")
    if target == "pysyncobj":
        if schedule.mutants:
            raise UsageFailure("the schedule names mutants; they do not apply to --target "
                               "pysyncobj")
        from raftref.harness.pysyncobj import run_pysyncobj as runner
        from raftref.harness.pysyncobj import timing_problem

        problem = timing_problem(schedule)
        if problem is not None:
            raise UsageFailure(f"{problem} (--target pysyncobj)")
    else:
        runner = run_schedule
    if save_schedule is not None:
        with atomic_output(save_schedule) as f:
            f.write(orjson.dumps(schedule.to_json(), option=orjson.OPT_INDENT_2) + b"\n")
    with contextlib.ExitStack() as stack:
        history = (None if history_path is None
                   else stack.enter_context(atomic_output(history_path)))
        if output is None or str(output) == "-":
            result = run(runner, schedule, sys.stdout.buffer, history)
            sys.stdout.buffer.flush()
        else:
            with atomic_output(output) as f:
                result = run(runner, schedule, f, history)
    click.echo(describe_run(schedule, result, output, history_path), err=True)


def run(runner: Any, schedule: Schedule, stream: Any, history: Any) -> SimResult:
    """The simulator with its history stream; the harness has no clients of that kind."""
    if history is None:
        return runner(schedule, stream)  # type: ignore[no-any-return]
    return runner(schedule, stream, history)  # type: ignore[no-any-return]


def describe_run(schedule: Schedule, result: SimResult, output: Path | None,
                 history: Path | None = None) -> str:
    """A few lines a person reads after a run."""
    split = [t for t, ls in result.leaders.items() if len(ls) > 1]
    up = [n for n, u in result.up.items() if u]
    lines = [
        f"simulated {schedule.nodes} nodes, seed {schedule.seed}, {result.steps} steps "
        f"({result.ticks} ticks), {len(schedule.faults)} scheduled faults"
        + (f" and {len(schedule.message_faults)} message faults"
           if schedule.message_faults else "")
        + (f", mutants: {', '.join(schedule.mutants)}" if schedule.mutants else ""),
        f"  events {result.events}, messages sent {result.messages_sent}, dropped "
        f"{result.messages_dropped}, duplicated {result.messages_duplicated}",
        f"  leaders elected {sum(len(v) for v in result.leaders.values())} in "
        f"{len(result.leaders)} terms" + (f" (several in terms {split})" if split else ""),
        f"  proposals accepted {result.proposals_accepted}; up at end: {', '.join(up) or 'none'}; "
        f"commit index {max(result.commit.values(), default=0)}",
    ]
    if schedule.clients and schedule.proposal_interval:
        done = result.completions
        lines.append(f"  clients {schedule.clients}: {result.operations} operations, "
                     f"{done.get('ok', 0)} ok, {done.get('fail', 0)} fail, "
                     f"{done.get('info', 0)} info, "
                     f"{result.operations - sum(done.values())} still outstanding at the end"
                     + (", reads under leases" if schedule.lease_reads else "")
                     + (", follower reads forwarded" if schedule.forward_reads else ""))
    if output is not None and str(output) != "-":
        lines.append(f"  trace: {output}   (check it: raftref check {output})")
    if history is not None:
        lines.append(f"  history: {history}   (check it: raftref check-history {history})")
    return "\n".join(lines)
