"""A local cluster of the networked mode: one cluster file and one ``raftref serve`` process per
node, on this machine (``raftref cluster``); for a timed run, clients that read and write and
record their history (raftref/net/client.py) and, with chaos, nodes killed and restarted one at
a time."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from checker import check_files
from checker.errors import TraceError
from checker.report import CheckReport
from raftref.files import atomic_output
from raftref.net.auth import SECRET_FILE, new_cluster_id, write_secret
from raftref.net.client import (
    REQUEST_TIMEOUT,
    Client,
    Counts,
    HistoryFile,
    RunClock,
    history_header,
)
from raftref.net.config import ClusterConfig, load_config, parse_config


def local_config(nodes: int, base_port: int, tick_ms: int,
                 cluster_id: str | None = None) -> ClusterConfig:
    """Node i listens for peers on ``base_port + i`` and for clients on ``base_port + 100 + i``
    (127.0.0.1); with ``cluster_id``, the secret is in SECRET_FILE beside the cluster file."""
    security = {} if cluster_id is None else {"cluster_id": cluster_id,
                                               "secret_file": SECRET_FILE}
    return parse_config({**security,
        "nodes": {f"n{i}": {"raft": f"127.0.0.1:{base_port + i}",
                            "http": f"127.0.0.1:{base_port + 100 + i}"}
                  for i in range(1, nodes + 1)},
        "tick_ms": tick_ms})


def prepare(directory: Path, nodes: int, base_port: int, tick_ms: int) -> tuple[Path, bool]:
    """The cluster file in ``directory``: kept when it is there (a restart of the same
    cluster, whose data and traces are kept too), else written, with a new cluster id and a
    new secret (SECRET_FILE, mode 0600, written first: a cluster file is never left naming a
    secret that is not there). Returns it and whether it was written now."""
    path = directory / "cluster.json"
    if path.exists():
        load_config(path)  # fails with the file and field when it is not usable
        return path, False
    config = local_config(nodes, base_port, tick_ms, new_cluster_id())
    secret = directory / SECRET_FILE
    directory.mkdir(parents=True, exist_ok=True)
    if not secret.exists():  # left by an interrupted prepare: still this directory's
        write_secret(secret)
    with atomic_output(path) as f:
        f.write(orjson.dumps(config.to_json(), option=orjson.OPT_INDENT_2) + b"\n")
    return path, True


def start(path: Path, node_ids: tuple[str, ...], seed: int,
          mutants: tuple[str, ...] = (), faults: bool = False,
          insecure: bool = False) -> dict[str, subprocess.Popen[bytes]]:
    """One ``raftref serve`` process per node; each keeps its data and trace in a directory
    named after it, beside the cluster file. ``faults``: with the fault endpoints
    (--allow-faults); ``insecure``: without the cluster secret."""
    switches = [arg for m in mutants for arg in ("--mutant", m)]
    switches += ["--allow-faults"] * faults + ["--insecure"] * insecure
    return {n: subprocess.Popen(
        [sys.executable, "-m", "raftref", "serve", "--cluster", str(path), "--id", n,
         "--data", str(path.parent / n), "--seed", str(seed), *switches]) for n in node_ids}


def stop(processes: dict[str, subprocess.Popen[bytes]], timeout: float = 10.0) -> None:
    """SIGTERM every process, then wait for them (SIGKILL what does not end in time)."""
    for proc in processes.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in processes.values():
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


START_WAIT = 120.0  # seconds for a node to answer after its process starts (a busy machine)


@dataclass
class Tally(Counts):
    """What a timed cluster run did: the clients' counts, and the faults. ``healed`` counts
    faults over: a killed node restarted and answering again, or a cut-off node reconnected.
    ``failure`` says why the run ended early; ``history`` lists the clients' history files."""

    kills: int = 0
    restarts: int = 0
    cuts: int = 0
    healed: int = 0
    failed_nodes: list[str] = field(default_factory=list)
    failure: str | None = None
    history: list[Path] = field(default_factory=list)


@dataclass(frozen=True)
class Goals:
    """When a run with a client ends: once every goal given is met, counted from the moment
    every node answers (start-up on a busy machine takes seconds, and is not the run).
    None of them: an open-ended run, until Ctrl-C or SIGTERM."""

    seconds: float | None = None
    faults: int | None = None  # faults struck and healed
    writes: int | None = None  # writes acknowledged

    @property
    def open_ended(self) -> bool:
        return self.seconds is None and self.faults is None and self.writes is None

    def met(self, elapsed: float, tally: Tally) -> bool:
        return ((self.seconds is None or elapsed >= self.seconds)
                and (self.faults is None or tally.healed >= self.faults)
                and (self.writes is None or tally.writes_ok >= self.writes))


@dataclass(frozen=True)
class Fault:
    """One fault of a chaos run: ``gap`` seconds after the last one healed, ``victim`` is
    killed or cut off, and restarted or healed ``down`` seconds later."""

    gap: float
    victim: str
    kind: str  # "kill" or "cut"
    down: float


def fault_plan(seed: int, ids: tuple[str, ...]) -> Iterator[Fault]:
    """The faults of a chaos run with ``seed``, the same sequence whatever the timing."""
    rng = random.Random(f"cluster:{seed}")
    while True:
        gap = rng.uniform(1, 3)
        victim, kind = rng.choice(ids), rng.choice(("kill", "cut"))
        yield Fault(gap, victim, kind, rng.uniform(0.5, 2))


@dataclass(frozen=True)
class Workload:
    """The clients of a timed run: how many, each doing a get or a put every ``interval``
    seconds on one of ``keys`` keys, and whether their gets ask for stale reads."""

    clients: int = 3
    keys: int = 3
    interval: float = 0.1
    stale: bool = False


def new_history_dir(directory: Path) -> tuple[Path, int]:
    """``DIR/history/run-N`` for this run, N one more than the last run's: the histories of
    earlier runs of the same cluster are kept."""
    root = directory / "history"
    numbers = [int(p.name[4:]) for p in root.glob("run-*") if p.name[4:].isdigit()]
    run = max(numbers, default=0) + 1
    return root / f"run-{run}", run


def start_clients(directory: Path, config: ClusterConfig, seed: int, workload: Workload,
                  counts: Counts) -> tuple[list[Client], list[Path]]:
    """The run's clients, started, each with its history file in a new ``history/run-N``.
    Their keys are named after the run (``r<N>.k<i>``): the cluster's state outlives a run,
    and a history starts from keys nobody has written."""
    folder, run = new_history_dir(directory)
    keys = [f"r{run}.k{i}" for i in range(workload.keys)]
    header = history_header(seed, {"run": run, "clients": workload.clients, "keys": keys,
                                   "stale_reads": workload.stale})
    clock = RunClock()
    clients = []
    for number in range(1, workload.clients + 1):
        history = HistoryFile(folder / f"client-{number}.jsonl", header, clock)
        clients.append(Client(number, config, keys, history, counts,
                              random.Random(f"client:{seed}:{number}"), workload.interval,
                              workload.stale))
    for client in clients:
        client.start()
    return clients, [c.history.path for c in clients]


def run_cluster(path: Path, config: ClusterConfig, seed: int, seconds: float | None = None,
                chaos: bool = False, mutants: tuple[str, ...] = (), faults: int | None = None,
                writes: int | None = None, workload: Workload | None = None,
                allow_faults: bool = False) -> Tally:
    """Run the cluster until Ctrl-C (or SIGTERM), or, with clients (``workload``; see
    :func:`start_clients`), until the goals (``seconds``, ``faults``, ``writes``: see
    :class:`Goals`) are met. With ``chaos``, one
    fault at a time (:func:`fault_plan`): a node is killed (SIGKILL: no goodbye, only its disk
    survives) or cut off from the others (PUT /fault/cut), then restarted or healed; the next
    fault waits until the last is healed (a restarted node answers again), so a majority of a
    cluster of 3 or more is always up; ``allow_faults``: the nodes serve the fault endpoints
    without chaos (for a test that cuts nodes off itself). A node that stops by itself, or
    does not answer in :data:`START_WAIT` seconds, ends the run (``failed_nodes``, ``failure``)."""
    goals = Goals(seconds, faults, writes)
    tally = Tally()
    processes = start(path, config.ids, seed, mutants, faults=chaos or allow_faults)
    clients: list[Client] = []
    plan = fault_plan(seed, config.ids)
    try:
        _wait_until_answering(processes, config, config.ids, tally)
        if tally.failure is not None or goals.open_ended:
            while tally.failure is None:  # open-ended: until Ctrl-C or SIGTERM
                _check_alive(processes, config.ids, tally)
                time.sleep(0.05)
            return tally
        clients, tally.history = start_clients(path.parent, config, seed,
                                               workload or Workload(), tally)
        began = time.monotonic()
        fault = next(plan)
        due = began + fault.gap
        struck: float | None = None  # when the current fault struck, None before it does
        while not goals.met(time.monotonic() - began, tally):
            now = time.monotonic()
            killed = struck is not None and processes[fault.victim].returncode == -signal.SIGKILL
            _check_alive(processes, [n for n in config.ids if not (killed and n == fault.victim)],
                         tally)
            if tally.failure is not None:
                break
            if chaos and struck is None and now >= due and len(config.ids) >= 3:
                if _strike(fault, processes, config, tally):
                    struck = now
            elif struck is not None and now >= struck + fault.down:
                if _heal(fault, processes, path, config, seed, mutants, tally):
                    fault = next(plan)
                    struck, due = None, time.monotonic() + fault.gap
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass  # the user ends the run; the nodes stop and their traces are checked
    finally:
        for client in clients:
            client.done.set()
        for client in clients:  # their last requests are answered before the nodes stop
            client.join(2 * REQUEST_TIMEOUT)
        stop(processes)
    return tally


def _strike(fault: Fault, processes: dict[str, subprocess.Popen[bytes]],
            config: ClusterConfig, tally: Tally) -> bool:
    """Make ``fault`` happen; False when it could not yet (the node did not answer)."""
    if fault.kind == "kill":
        processes[fault.victim].kill()
        processes[fault.victim].wait()
        tally.kills += 1
        return True
    others = [n for n in config.ids if n != fault.victim]
    if not _request("PUT", f"http://{config.http[fault.victim]}/fault/cut", others):
        return False
    tally.cuts += 1
    return True


def _heal(fault: Fault, processes: dict[str, subprocess.Popen[bytes]], path: Path,
          config: ClusterConfig, seed: int, mutants: tuple[str, ...], tally: Tally) -> bool:
    """Undo ``fault``; True once it is over (a restarted node answers again)."""
    node = fault.victim
    if fault.kind == "cut":
        if not _request("DELETE", f"http://{config.http[node]}/fault/cut"):
            return False
    else:
        if processes[node].returncode == -signal.SIGKILL:
            processes.update(start(path, (node,), seed, mutants, faults=True))  # killed
            tally.restarts += 1
        if not _answers(config, node):
            return False
    tally.healed += 1
    return True


def _answers(config: ClusterConfig, node: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://{config.http[node]}/status", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def _check_alive(processes: dict[str, subprocess.Popen[bytes]], nodes: Iterable[str],
                 tally: Tally) -> None:
    """Record the first of ``nodes`` (each should be running) whose process has ended."""
    ended = [n for n in nodes if processes[n].poll() is not None]
    if ended and tally.failure is None:
        tally.failed_nodes = ended
        codes = ", ".join(f"{n} (exit code {processes[n].returncode})" for n in ended)
        tally.failure = f"node {codes} stopped by itself"


def _wait_until_answering(processes: dict[str, subprocess.Popen[bytes]], config: ClusterConfig,
                          nodes: Iterable[str], tally: Tally) -> None:
    """Wait until every node of ``nodes`` answers GET /status (or fails)."""
    waiting = list(nodes)
    deadline = time.monotonic() + START_WAIT
    while waiting and tally.failure is None:
        _check_alive(processes, waiting, tally)
        waiting = [n for n in waiting if not _answers(config, n)]
        if waiting and time.monotonic() > deadline:
            tally.failed_nodes = waiting
            tally.failure = (f"node {', '.join(waiting)} did not answer within "
                             f"{START_WAIT:g} s of starting")
        elif waiting:
            time.sleep(0.05)


def _request(method: str, url: str, body: object = None) -> bool:
    """Whether an HTTP request to a node was answered 200, following one redirect to the
    leader (§8); False when the node is down or does not answer in time."""
    data = None if body is None else orjson.dumps(body)
    for _ in range(2):
        try:
            request = urllib.request.Request(url, data=data, method=method)
            with urllib.request.urlopen(request, timeout=6) as response:
                return response.status == 200
        except urllib.error.HTTPError as exc:
            if exc.code != 307 or not exc.headers.get("Location"):
                return False
            url = exc.headers["Location"]
        except OSError:
            return False
    return False


def check_traces(directory: Path, ids: tuple[str, ...]) -> CheckReport:
    """The nodes' traces, checked together. Raises TraceError on unusable ones, and when a node
    has none (it never started): the others' alone would show its messages as never sent."""
    traces = {n: directory / n / "trace.jsonl" for n in ids}
    missing = [n for n, trace in traces.items() if not trace.exists()]
    if missing:
        raise TraceError(str(directory), 0, None,
                         f"no trace from node {', '.join(missing)} (never started); the "
                         "other nodes' traces cannot be checked alone")
    return check_files(list(traces.values()))
