"""The ``raftref`` command: a thin layer that parses options, calls the library, and formats.

Exit codes everywhere: 0 success (every property holds), 1 a property is violated, 2 unusable
input or options (one line on stderr naming the file, line or field; never a traceback).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click
import orjson

from raftref import __version__
from raftref.cli_checks import (
    SEED_MAX,
    OneLineErrors,
    UsageFailure,
    check_dir,
    check_file,
    check_reused_cluster,
    check_schedule_seed,
)
from raftref.files import atomic_output, same_file
from raftref.mutants import MUTANTS
from raftref.sim.schedule import Schedule, ScheduleError, generate_schedule
from raftref.sim.simulator import SimResult, run_schedule


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="raftref")
def main() -> None:
    """raftref: a reference Raft node, a fault-injecting simulator, and a trace checker."""


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


@main.command()
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
@click.option("--target", type=click.Choice(["raftref", "pysyncobj"]), default="raftref",
              show_default=True,
              help="Which Raft runs: the reference node, or real PySyncObj nodes in the harness.")
def sim(nodes: int | None, seed: int | None, steps: int | None, schedule_path: Path | None,
        mutants: tuple[str, ...], save_schedule: Path | None, output: Path | None,
        target: str) -> None:
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
    if output is not None and save_schedule is not None and same_file(output, save_schedule):
        raise UsageFailure(f"{output}: -o and --save-schedule name the same file")
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
    for path in (output, save_schedule):
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
    if output is None or str(output) == "-":
        result = runner(schedule, sys.stdout.buffer)
        sys.stdout.buffer.flush()
    else:
        with atomic_output(output) as f:
            result = runner(schedule, f)
    click.echo(describe_run(schedule, result, output), err=True)


def describe_run(schedule: Schedule, result: SimResult, output: Path | None) -> str:
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
    if output is not None and str(output) != "-":
        lines.append(f"  trace: {output}   (check it: raftref check {output})")
    return "\n".join(lines)


@main.command(name="mutants")
def list_mutants() -> None:
    """List the deliberate bugs the node can switch on, one a line: name, then description."""
    width = max(len(n) for n in MUTANTS)
    for name, text in MUTANTS.items():
        click.echo(f"{name:<{width}}  {text}")


def _register_checker_commands() -> None:
    """The checker's commands (checker/ serves any implementation; raftref only hosts them)."""
    from checker.adapters.cli import adapt_group
    from checker.cli import check_command
    from checker.proof.cli import prove_command
    from checker.report_html.cli import report_command
    from checker.store.cli import db_group

    main.add_command(check_command, name="check")
    main.add_command(db_group, name="db")
    main.add_command(report_command, name="report")
    main.add_command(adapt_group, name="adapt")
    main.add_command(prove_command, name="prove")


def _register_search_commands() -> None:
    from raftref.search.cli import demo, fuzz

    main.add_command(fuzz, name="fuzz")
    main.add_command(demo, name="demo")


_register_checker_commands()
_register_search_commands()


@main.command()
@click.option("--cluster", "cluster_path", type=click.Path(path_type=Path), required=True,
              help="The cluster file (JSON): every node's addresses and the timing.")
@click.option("--id", "node_id", required=True, help="Which node of the cluster file this is.")
@click.option("--data", "data_dir", type=click.Path(path_type=Path), required=True,
              help="This node's directory: its state (state.json) and trace (trace.jsonl).")
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=0, show_default=True,
              help="Seeds this node's election timeouts (0 to 2**63-1).")
@click.option("--mutant", "mutants", multiple=True, metavar="NAME",
              type=click.Choice(list(MUTANTS)),
              help="Switch on a deliberate bug (see 'raftref mutants'). Repeatable.")
def serve(cluster_path: Path, node_id: str, data_dir: Path, seed: int,
          mutants: tuple[str, ...]) -> None:
    """Run one node of a networked cluster until SIGTERM or Ctrl-C.

    Peers talk TCP; clients talk HTTP: GET /status, GET|PUT|DELETE /kv/KEY (a PUT's body is
    a JSON value; a follower answers 307 with the leader's address; reads may be stale, and
    GET /kv/KEY?applied=N waits until this node has applied index N). Every event goes to
    DATA/trace.jsonl; check a cluster's traces together with 'raftref check DIR/*/trace.jsonl'.
    """
    from raftref.net.config import ConfigError, load_config
    from raftref.net.server import serve as run_server
    from raftref.net.storage import StorageError

    check_dir(data_dir, "--data")
    try:
        config = load_config(cluster_path)
        if node_id not in config.ids:
            raise UsageFailure(f"{cluster_path}: field nodes: no node {node_id!r} "
                               f"(nodes: {', '.join(config.ids)})")
        click.echo(f"{node_id}: peers on {config.raft[node_id]}, clients on "
                   f"http://{config.http[node_id]}, trace {data_dir / 'trace.jsonl'}", err=True)
        run_server(config, node_id, data_dir, seed, frozenset(mutants))
    except (ConfigError, StorageError) as exc:
        raise UsageFailure(str(exc)) from None
    except OSError as exc:
        raise UsageFailure(f"{node_id}: {exc.strerror or exc}"
                           f"{f' ({exc.filename})' if exc.filename else ''}") from None


@main.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=Path("out/cluster"),
              show_default=True, help="The cluster file, and a data directory per node.")
@click.option("--nodes", type=click.IntRange(1, 99), default=3, show_default=True)
@click.option("--base-port", type=click.IntRange(1, 65000), default=7000, show_default=True,
              help="Node i: peers on base+i, clients on base+100+i (127.0.0.1).")
@click.option("--tick-ms", type=click.IntRange(1), default=50, show_default=True,
              help="Milliseconds per tick (election timeouts are 10-20 ticks).")
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Run this long (from when every node answers) with a client writing keys, "
              "then stop (default: until Ctrl-C, no client).")
@click.option("--faults", type=click.IntRange(1), default=None,
              help="With --chaos: run until this many faults have struck and healed.")
@click.option("--writes", type=click.IntRange(1), default=None,
              help="Run with a client writing keys until it has this many acknowledged.")
@click.option("--chaos", is_flag=True,
              help="With a client: 1-3 s after the last fault healed, kill a node (SIGKILL) or "
              "cut it off from the others, and restart or heal it 0.5-2 s later, one at a time.")
@click.option("--check/--no-check", default=True, show_default=True,
              help="When the nodes have stopped, check their traces together.")
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=0, show_default=True,
              help="Seeds the nodes' timeouts and, with --chaos, whom to kill when (0 to "
              "2**63-1).")
@click.option("--mutant", "mutants", multiple=True, metavar="NAME",
              type=click.Choice(list(MUTANTS)),
              help="Switch on a deliberate bug in every node. Repeatable.")
def cluster(directory: Path, nodes: int, base_port: int, tick_ms: int, seconds: float | None,
            faults: int | None, writes: int | None, chaos: bool, check: bool, seed: int,
            mutants: tuple[str, ...]) -> None:
    """Run a local networked cluster (one 'raftref serve' per node), then check its traces.

    An existing cluster file in DIR is reused, with the nodes' data and traces: running the
    same command again restarts the same cluster. With --seconds, --faults or --writes a
    client writes keys and the run ends once every one given is met. Exit code: 0 when every
    property holds in the traces, 1 when one is violated, 2 when a node failed or the input
    is unusable.
    """
    import signal

    from checker.errors import TraceError
    from raftref.net.cluster import check_traces, prepare, run_cluster
    from raftref.net.config import ConfigError, load_config

    if chaos and seconds is None and faults is None and writes is None:
        raise UsageFailure("--chaos needs --seconds, --faults or --writes (when to stop)")
    if faults is not None and not chaos:
        raise UsageFailure("--faults needs --chaos")
    check_dir(directory, "--dir")
    try:
        path, written = prepare(directory, nodes, base_port, tick_ms)
        config = load_config(path)
    except ConfigError as exc:
        raise UsageFailure(str(exc)) from None
    if not written:
        check_reused_cluster(path, config, nodes=nodes, base_port=base_port, tick_ms=tick_ms)
    if chaos and len(config.ids) < 3:
        raise UsageFailure(f"{path}: --chaos needs 3 nodes or more (a majority stays up)")
    click.echo(f"{'wrote' if written else 'using'} {path}", err=True)

    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops the nodes as Ctrl-C does

    signal.signal(signal.SIGTERM, interrupted)
    first = config.http[config.ids[0]]
    timed = not (seconds is None and faults is None and writes is None)
    if not timed:
        click.echo(f"{len(config.ids)} nodes starting; try:\n"
                   f"  curl -L -X PUT -d '\"world\"' http://{first}/kv/hello\n"
                   f"  curl 'http://{first}/kv/hello?applied=2'   (2: the index the write "
                   "answered; a read without it may be stale)\n"
                   f"  curl http://{first}/status\n"
                   "Ctrl-C stops them and checks their traces", err=True)
    else:
        click.echo(f"{len(config.ids)} nodes, a client writing"
                   f"{', nodes killed and cut off' if chaos else ''}...", err=True)
    tally = run_cluster(path, config, seed, seconds, chaos, mutants, faults, writes)
    if timed:
        click.echo(f"writes acknowledged {tally.writes_ok}, not {tally.writes_failed}; "
                   f"nodes killed {tally.kills}, restarted {tally.restarts}, cut off "
                   f"{tally.cuts}; faults healed {tally.healed}", err=True)
    code = 0
    if tally.failure:
        click.echo(f"error: {tally.failure}", err=True)
        code = 2
    if check:
        try:
            report = check_traces(directory, config.ids)
        except TraceError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        click.echo(report.to_text())
        code = max(code, 1 if report.violated else 0)
    sys.exit(code)
