"""What the tests of the networked mode share: one HTTP request to a node, waiting for a
condition with a generous deadline (never a fixed sleep: a shared 2-core machine must not flake),
cluster files on free ports, and ``raftref cluster`` run under a deadline."""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
WAIT = 120.0  # seconds: a generous deadline for any condition


def http(method: str, url: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    """One request; (0, {}) when the node does not listen. The timeout is generous: a node on a
    loaded machine may answer late (it answers a write within 5 s, 503 if not committed)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}") | {"location": exc.headers["Location"]}
    except OSError:
        return 0, {}  # not listening (yet, or any more)


def until(what: Callable[[], T | None], message: str) -> T:
    """Poll ``what`` until it returns something true, and return that; fail after WAIT s."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        result = what()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"not within {WAIT:g} s: {message}")


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def follow(method: str, url: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    """:func:`http`, following one redirect to the leader (307 with ``Location:``)."""
    status, answer = http(method, url, body)
    if status == 307 and answer.get("location"):
        return http(method, answer["location"], body)
    return status, answer


def hang_up(url: str, method: str, body: bytes = b"") -> None:
    """Send one request and close the connection without reading the answer: a client whose
    answer was lost (a timeout, a dropped connection) after the request arrived."""
    parts = urllib.parse.urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    with socket.create_connection((parts.hostname, parts.port), timeout=60) as s:
        s.sendall(f"{method} {target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                  f"Content-Length: {len(body)}\r\n\r\n".encode() + body)


def cluster_file(tmp_path: Path, nodes: int = 3,
                 **fields: Any) -> tuple[Path, dict[str, str]]:
    """A cluster file on free ports (20 ms ticks) in ``tmp_path``, with any other ``fields``
    of the cluster file (``cluster_id=None`` leaves a field out), and each node's URL; its
    secret in ``tmp_path/cluster.secret`` (mode 0600)."""
    ports = free_ports(2 * nodes)
    obj = {"nodes": {f"n{i}": {"raft": f"127.0.0.1:{ports[2 * i - 2]}",
                               "http": f"127.0.0.1:{ports[2 * i - 1]}"}
                     for i in range(1, nodes + 1)},
           "tick_ms": 20, "cluster_id": "test-cluster", "secret_file": "cluster.secret",
           **fields}
    obj = {k: v for k, v in obj.items() if v is not None}
    path = tmp_path / "cluster.json"
    path.write_bytes(json.dumps(obj).encode())
    secret = tmp_path / "cluster.secret"
    if not secret.exists():
        secret.write_text(f"{random.getrandbits(256):064x}\n")
        secret.chmod(0o600)
    return path, {n: f"http://{a['http']}" for n, a in obj["nodes"].items()}


def leader(urls: dict[str, str], among: list[str]) -> str | None:
    """The first of ``among`` that says it leads, if any."""
    for n in among:
        status, body = http("GET", f"{urls[n]}/status")
        if status == 200 and body["role"] == "leader":
            return n
    return None


def free_base_port() -> int:
    """A base port whose node ports (base+1.., base+101..) are free now."""
    rng = random.Random()
    for _ in range(100):
        base = rng.randrange(20000, 60000)
        sockets = []
        try:
            for port in (base + 1, base + 2, base + 3, base + 101, base + 102, base + 103):
                s = socket.socket()
                sockets.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise AssertionError("no free ports")


def cluster_args(tmp_path: Path, *args: str, base_port: int | None = None) -> list[str]:
    """``raftref cluster`` in ``tmp_path/c`` on free ports (or ``base_port``: a cluster run
    again), 20 ms ticks."""
    return [sys.executable, "-m", "raftref", "cluster", "--dir", str(tmp_path / "c"),
            "--base-port", str(base_port or free_base_port()), "--tick-ms", "20", *args]


def cluster_command(tmp_path: Path, *args: str,
                    base_port: int | None = None) -> subprocess.CompletedProcess[str]:
    """``raftref cluster`` in its own session: should it outlive the deadline (it ends by
    conditions, not by a clock), it and its nodes are killed, and the test fails."""
    cmd = cluster_args(tmp_path, *args, base_port=base_port)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=5 * WAIT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"raftref cluster {' '.join(args)}: still running after "
                             f"{5 * WAIT:g} s\n{out}{err}") from None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def check_applied_once(folder: Path) -> tuple[int, int]:
    """Check the history files of a run of ``raftref cluster`` for what sessions promise:
    every write invoked once (a retry is the same operation), and every value read made of
    writes of the run, no append in it twice ("1.2+3.1+2.4": a put's value, then appends).
    Returns the number of writes invoked and of values read."""
    lines = [json.loads(line) for f in sorted(folder.glob("*.jsonl"))
             for line in f.read_bytes().splitlines()[1:]]
    invoked = [op["value"].removeprefix("+") for op in lines
               if op["type"] == "invoke" and op["f"] in ("put", "append")]
    assert len(invoked) == len(set(invoked)), "a write invoked twice"
    seen = [op["value"] for op in lines
            if op["type"] == "ok" and op["f"] == "get" and op["value"] is not None]
    for value in seen:
        put, *appended = value.split("+")
        assert put in invoked or put == "", value
        assert set(appended) <= set(invoked) and len(appended) == len(set(appended)), value
    return len(invoked), len(seen)


def serve_nodes(path: Path, node_ids: tuple[str, ...], logs: Path,
                nofile: int | None = None,
                *switches: str) -> dict[str, subprocess.Popen[bytes]]:
    """One ``raftref serve`` per node (data beside the cluster file, as raftref.net.cluster's
    ``start``), each one's stderr in ``logs/<id>.err``; ``nofile``: the processes' limit on
    open files (RLIMIT_NOFILE), to make a flood of connections reach it soon; ``switches``:
    more options of ``raftref serve``."""
    import resource

    def limit() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    logs.mkdir(parents=True, exist_ok=True)
    processes = {}
    for n in node_ids:
        with (logs / f"{n}.err").open("wb") as err:
            processes[n] = subprocess.Popen(
                [sys.executable, "-m", "raftref", "serve", "--cluster", str(path), "--id", n,
                 "--data", str(path.parent / n), *switches], stderr=err, preexec_fn=limit)
    return processes


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the other end closed ``sock`` (EOF or a reset), waiting up to WAIT s."""
    sock.settimeout(WAIT)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def send_line(address: str, data: bytes) -> socket.socket:
    """A raw connection to ``address`` ("host:port") that has sent ``data`` (a forged peer
    line); the sender may be cut off mid-way (the node closing on it) and that is not an
    error here."""
    host, port = address.split(":")
    sock = socket.create_connection((host, int(port)), timeout=WAIT)
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)
    return sock


def sealed(path: Path, body: bytes, cluster_id: str = "test-cluster") -> bytes:
    """A peer line as a node of the cluster file ``path`` sends it: ``body`` (a JSON message)
    with the cluster id and an HMAC-SHA256 keyed by the cluster's secret, which is read from
    its file (raftref/net/auth.py says the format)."""
    import hashlib
    import hmac
    secret = (path.parent / "cluster.secret").read_text().strip().encode()
    mac = hmac.new(secret, cluster_id.encode() + b" " + body, hashlib.sha256).hexdigest()
    return f"{mac} {cluster_id} ".encode() + body + b"\n"
