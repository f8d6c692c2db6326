"""A local cluster of the networked mode: one cluster file and one ``raftref serve`` process per
node, on this machine (``raftref cluster``); for a timed run, a writing client and, with chaos,
nodes killed and restarted one at a time."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from checker import check_files
from checker.errors import TraceError
from checker.report import CheckReport
from raftref.files import atomic_output
from raftref.net.config import ClusterConfig, load_config, parse_config


def local_config(nodes: int, base_port: int, tick_ms: int) -> ClusterConfig:
    """Node i listens for peers on ``base_port + i`` and for clients on ``base_port + 100 + i``
    (127.0.0.1)."""
    return parse_config({
        "nodes": {f"n{i}": {"raft": f"127.0.0.1:{base_port + i}",
                            "http": f"127.0.0.1:{base_port + 100 + i}"}
                  for i in range(1, nodes + 1)},
        "tick_ms": tick_ms})


def prepare(directory: Path, nodes: int, base_port: int, tick_ms: int) -> tuple[Path, bool]:
    """The cluster file in ``directory``: kept when it is there (a restart of the same
    cluster, whose data and traces are kept too), else written. Returns it and whether it was
    written now."""
    path = directory / "cluster.json"
    if path.exists():
        load_config(path)  # fails with the file and field when it is not usable
        return path, False
    config = local_config(nodes, base_port, tick_ms)
    with atomic_output(path) as f:
        f.write(orjson.dumps(config.to_json(), option=orjson.OPT_INDENT_2) + b"\n")
    return path, True


def start(path: Path, node_ids: tuple[str, ...], seed: int,
          mutants: tuple[str, ...] = ()) -> dict[str, subprocess.Popen[bytes]]:
    """One ``raftref serve`` process per node; each keeps its data and trace in a directory
    named after it, beside the cluster file."""
    switches = [arg for m in mutants for arg in ("--mutant", m)]
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


@dataclass
class Tally:
    """What a timed cluster run did."""

    kills: int = 0
    restarts: int = 0
    cuts: int = 0
    writes_ok: int = 0
    writes_failed: int = 0
    failed_nodes: list[str] = field(default_factory=list)


class Writer(threading.Thread):
    """A client that writes ``w<i>`` = i to a random node every ``interval`` seconds, following
    one redirect to the leader (§8), and counts what was acknowledged."""

    def __init__(self, config: ClusterConfig, rng: random.Random, tally: Tally,
                 interval: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.config, self.rng, self.tally, self.interval = config, rng, tally, interval
        self.done = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.done.wait(self.interval):
            i += 1
            node = self.rng.choice(self.config.ids)
            if _request("PUT", f"http://{self.config.http[node]}/kv/w{i}", i):
                self.tally.writes_ok += 1
            else:
                self.tally.writes_failed += 1


def run_cluster(path: Path, config: ClusterConfig, seed: int, seconds: float | None = None,
                chaos: bool = False, mutants: tuple[str, ...] = ()) -> Tally:
    """Run the cluster until Ctrl-C (or SIGTERM), or for ``seconds`` with a writing client.
    With ``chaos`` (timed runs), every 1-3 s one node is killed (SIGKILL: no goodbye, only its
    disk survives) or cut off from the others (PUT /fault/cut), and restarted or healed
    0.5-2 s later; one node at a time, so a majority of a cluster of 3 or more is always up.
    Seeded. A node that stops by itself ends the run (``failed_nodes``)."""
    rng = random.Random(f"cluster:{seed}")
    tally = Tally()
    processes = start(path, config.ids, seed, mutants)
    writer = Writer(config, random.Random(f"client:{seed}"), tally)
    if seconds is not None:
        writer.start()
    down: dict[str, tuple[float, str]] = {}  # node -> when it comes back, and from what
    now = time.monotonic()
    deadline = None if seconds is None else now + seconds
    next_fault = now + rng.uniform(1, 3)
    try:
        while deadline is None or time.monotonic() < deadline:
            now = time.monotonic()
            tally.failed_nodes = [n for n, p in processes.items()
                                  if down.get(n, (0, ""))[1] != "kill" and p.poll() is not None]
            if tally.failed_nodes:
                break
            if chaos and not down and now >= next_fault and len(config.ids) >= 3:
                victim, fault = rng.choice(config.ids), rng.choice(("kill", "cut"))
                if fault == "kill":
                    processes[victim].kill()
                    processes[victim].wait()
                    tally.kills += 1
                else:
                    others = [n for n in config.ids if n != victim]
                    if not _request("PUT", f"http://{config.http[victim]}/fault/cut",
                                    others):
                        continue  # not listening yet: try again at the next turn
                    tally.cuts += 1
                down[victim] = (now + rng.uniform(0.5, 2), fault)
            for node, (back, fault) in list(down.items()):
                if now >= back:
                    if fault == "kill":
                        processes.update(start(path, (node,), seed, mutants))
                        tally.restarts += 1
                    elif not _request("DELETE", f"http://{config.http[node]}/fault/cut"):
                        continue
                    del down[node]
                    next_fault = now + rng.uniform(1, 3)
            time.sleep(0.05)
    except KeyboardInterrupt:
        pass  # the user ends the run; the nodes stop and their traces are checked
    finally:
        writer.done.set()
        if writer.is_alive():
            writer.join(10)  # its last write finishes before the nodes stop
        stop(processes)
    return tally


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
    """The nodes' traces, checked together (raises TraceError on unusable ones)."""
    traces = [t for t in (directory / n / "trace.jsonl" for n in ids) if t.exists()]
    if not traces:
        raise TraceError(f"{directory}: no node has a trace.jsonl yet")
    return check_files(traces)
