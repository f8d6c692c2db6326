"""``raftref serve`` and ``raftref cluster``: the networked mode (raftref/net/)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from raftref.cli.checks import (
    SEED_MAX,
    UsageFailure,
    check_dir,
    check_reused_cluster,
)
from raftref.mutants import MUTANTS


@click.command()
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
@click.option("--insecure", is_flag=True,
              help="Run without the cluster secret: peer lines are neither MACed nor checked "
              "(anyone who reaches the peer port can rewrite the log).")
@click.option("--allow-faults", is_flag=True,
              help="Serve the fault-injection endpoints (PUT|DELETE /fault/cut); without it "
              "they answer 404.")
def serve(cluster_path: Path, node_id: str, data_dir: Path, seed: int,
          mutants: tuple[str, ...], insecure: bool, allow_faults: bool) -> None:
    """Run one node of a networked cluster until SIGTERM or Ctrl-C.

    Peers talk TCP; clients talk HTTP: GET /status, GET|PUT|POST|DELETE /kv/KEY (a PUT's body
    is a JSON value, a POST appends a JSON string; a follower answers 307 with the leader's
    address; reads are linearizable, and GET /kv/KEY?stale=1 reads this node's state as it
    is, possibly stale). POST /session registers a client session; a write with
    ?client=C&seq=N is applied once however often it is retried. Every event goes to
    DATA/trace.jsonl; check a cluster's traces together with 'raftref check
    DIR/*/trace.jsonl'. Peers authenticate every line with the cluster secret (the cluster
    file's cluster_id and secret_file; 'raftref cluster' writes both): without them the node
    refuses to start unless --insecure.
    """
    from raftref.net.auth import load_secret
    from raftref.net.config import ConfigError, load_config
    from raftref.net.server import serve as run_server
    from raftref.net.storage import StorageError

    check_dir(data_dir, "--data")
    try:
        config = load_config(cluster_path)
        if node_id not in config.ids:
            raise UsageFailure(f"{cluster_path}: field nodes: no node {node_id!r} "
                               f"(nodes: {', '.join(config.ids)})")
        secret = None if insecure else load_secret(cluster_path, config)
        click.echo(f"{node_id}: peers on {config.raft[node_id]}, clients on "
                   f"http://{config.http[node_id]} (listening on {config.bind}), trace "
                   f"{data_dir / 'trace.jsonl'}"
                   f"{', INSECURE: peers not authenticated' if insecure else ''}", err=True)
        run_server(config, node_id, data_dir, seed, frozenset(mutants), secret, allow_faults)
    except (ConfigError, StorageError) as exc:
        raise UsageFailure(str(exc)) from None
    except OSError as exc:
        raise UsageFailure(f"{node_id}: {exc.strerror or exc}"
                           f"{f' ({exc.filename})' if exc.filename else ''}") from None


@click.command()
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=Path("out/cluster"),
              show_default=True, help="The cluster file, and a data directory per node.")
@click.option("--nodes", type=click.IntRange(1, 99), default=3, show_default=True)
@click.option("--base-port", type=click.IntRange(1, 65000), default=7000, show_default=True,
              help="Node i: peers on base+i, clients on base+100+i (127.0.0.1).")
@click.option("--tick-ms", type=click.IntRange(1), default=50, show_default=True,
              help="Milliseconds per tick (election timeouts are 10-20 ticks).")
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Run this long (from when every node answers) with clients reading and "
              "writing keys, then stop (default: until Ctrl-C, no client).")
@click.option("--faults", type=click.IntRange(1), default=None,
              help="With --chaos: run until this many faults have struck and healed.")
@click.option("--writes", type=click.IntRange(1), default=None,
              help="Run with clients until this many writes are acknowledged.")
@click.option("--clients", type=click.IntRange(1, 64), default=3, show_default=True,
              help="Clients of a timed run; each records its history in "
              "DIR/history/run-N/client-K.jsonl.")
@click.option("--stale-reads", is_flag=True,
              help="The clients read with ?stale=1 (a node's local state, possibly stale) "
              "instead of linearizable reads: a planted bug for the history check to find.")
@click.option("--history-timeout", type=click.FloatRange(min=0, min_open=True), default=60.0,
              show_default=True,
              help="Seconds for the linearizability verdict; past them it is unknown (exit 3).")
@click.option("--json", "as_json", is_flag=True,
              help="Print both verdicts (traces and history) as one JSON object.")
@click.option("--chaos", is_flag=True,
              help="With clients: 1-3 s after the last fault healed, kill a node (SIGKILL) or "
              "cut it off from the others, and restart or heal it 0.5-2 s later, one at a time "
              "(the nodes run with --allow-faults).")
@click.option("--allow-faults", is_flag=True,
              help="Start the nodes with the fault endpoints (PUT|DELETE /fault/cut), for "
              "drills and tests that cut nodes off themselves; --chaos implies it.")
@click.option("--check/--no-check", default=True, show_default=True,
              help="When the nodes have stopped, check their traces together and the clients' "
              "history for linearizability.")
@click.option("--seed", type=click.IntRange(0, SEED_MAX), default=0, show_default=True,
              help="Seeds the nodes' timeouts and, with --chaos, whom to kill when (0 to "
              "2**63-1).")
@click.option("--mutant", "mutants", multiple=True, metavar="NAME",
              type=click.Choice(list(MUTANTS)),
              help="Switch on a deliberate bug in every node. Repeatable.")
def cluster(directory: Path, nodes: int, base_port: int, tick_ms: int, seconds: float | None,
            faults: int | None, writes: int | None, clients: int, stale_reads: bool,
            history_timeout: float, as_json: bool, chaos: bool, allow_faults: bool, check: bool,
            seed: int, mutants: tuple[str, ...]) -> None:
    """Run a local networked cluster (one 'raftref serve' per node), then check its traces
    and its clients' history.

    An existing cluster file in DIR is reused, with the nodes' data and traces: running the
    same command again restarts the same cluster. With --seconds, --faults or --writes,
    clients read and write keys, recording their history, and the run ends once every goal
    given is met. Exit code: 0 when every property holds in the traces and the history is
    linearizable, 1 when a property is violated or the history is not linearizable, 2 when a
    node failed or the input is unusable, 3 when the history's verdict is unknown (its time
    budget ran out).
    """
    import json
    import signal

    from raftref.net.cluster import Workload, prepare, run_cluster
    from raftref.net.config import ConfigError, load_config
    from raftref.net.verdict import judge

    if chaos and seconds is None and faults is None and writes is None:
        raise UsageFailure("--chaos needs --seconds, --faults or --writes (when to stop)")
    if faults is not None and not chaos:
        raise UsageFailure("--faults needs --chaos")
    timed = not (seconds is None and faults is None and writes is None)
    if stale_reads and not timed:
        raise UsageFailure("--stale-reads needs --seconds, --faults or --writes (a run with "
                           "clients)")
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
    if not timed:
        click.echo(f"{len(config.ids)} nodes starting; try:\n"
                   f"  curl -L -X PUT -d '\"world\"' http://{first}/kv/hello\n"
                   f"  curl -L http://{first}/kv/hello\n"
                   f"  curl http://{first}/status\n"
                   "Ctrl-C stops them and checks their traces", err=True)
    else:
        click.echo(f"{len(config.ids)} nodes, {clients} client(s) reading"
                   f"{' (stale reads)' if stale_reads else ''} and writing"
                   f"{', nodes killed and cut off' if chaos else ''}...", err=True)
    workload = Workload(clients=clients, stale=stale_reads)
    tally = run_cluster(path, config, seed, seconds, chaos, mutants, faults, writes, workload,
                        allow_faults=allow_faults)
    if timed:
        click.echo(f"writes acknowledged {tally.writes_ok}, failed {tally.writes_failed}, "
                   f"unknown {tally.writes_unknown} (retried {tally.retries} times, "
                   f"{tally.sessions} sessions); reads {tally.reads_ok}, not "
                   f"{tally.reads_failed}; nodes killed {tally.kills}, "
                   f"restarted {tally.restarts}, cut off {tally.cuts}; faults healed "
                   f"{tally.healed}", err=True)
    if tally.history:
        click.echo(f"history: {tally.history[0].parent}/client-*.jsonl", err=True)
    if not check:
        if tally.failure:
            click.echo(f"error: {tally.failure}", err=True)
        sys.exit(2 if tally.failure else 0)
    verdict = judge(directory, config.ids, tally.history, tally.failure, history_timeout)
    for error in verdict.errors:
        click.echo(f"error: {error}", err=True)
    if as_json:
        click.echo(json.dumps(verdict.to_json(), indent=2))
    elif verdict.traces is not None or verdict.history is not None:
        click.echo(verdict.to_text())
    sys.exit(verdict.exit_code)
