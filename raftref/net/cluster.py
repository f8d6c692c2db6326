"""A local cluster of the networked mode: one cluster file and one ``raftref serve`` process per
node, on this machine (``raftref cluster``)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson

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


def start(path: Path, node_ids: tuple[str, ...], seed: int) -> dict[str, subprocess.Popen[bytes]]:
    """One ``raftref serve`` process per node; each keeps its data and trace in a directory
    named after it, beside the cluster file."""
    return {n: subprocess.Popen(
        [sys.executable, "-m", "raftref", "serve", "--cluster", str(path), "--id", n,
         "--data", str(path.parent / n), "--seed", str(seed)]) for n in node_ids}


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
