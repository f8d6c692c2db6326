"""The clients of ``raftref cluster``: each reads and writes a few keys through the nodes' HTTP
API and records what it saw as a history (spec/history.schema.json, docs/histories.md), one file
per client, so that the run can be checked for linearizability from the outside.

What a client records, per operation: ``invoke`` before the request leaves, then

- ``ok`` on a definite answer (200, or 404 for a read of a key that has no value: it read null),
  with the value read;
- ``fail`` when the request certainly did not take effect: the node refused it before
  appending it (no leader known, a redirect not followed further, a node stopping, a bad
  request), another entry was committed in its place (the node says ``"effect": "none"``), or
  the connection was refused (the request never reached a node);
- ``info`` when it may have taken effect: a 503 with ``"effect": "unknown"`` (appended, not
  known committed), a timeout, a connection reset or closed (the node was killed or stopped
  while the request was in flight).

A write that ended ``info`` is tried once more, as a new operation with the same value (the node
has no client sessions yet, so a retry cannot be told from a new write: the history says two
writes, and the checker may apply either, both or none).

The files of one run share a clock (nanoseconds since the run began, from one monotonic clock)
and one counter for ``index``, so they merge into one history and operation ids are unique.
"""

from __future__ import annotations

import http.client
import itertools
import random
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

import raftref
from raftref.net.config import ClusterConfig

REQUEST_TIMEOUT = 10.0  # seconds; a node answers a write or a read within 5 s (503 if not)


class RunClock:
    """The run's shared clock and operation counter: every line of every client's file gets
    its ``index`` and ``time`` here, under one lock, so both increase across the run."""

    def __init__(self) -> None:
        self._start = time.monotonic_ns()
        self._count = itertools.count()
        self._lock = threading.Lock()

    def stamp(self) -> tuple[int, int]:
        with self._lock:
            return next(self._count), time.monotonic_ns() - self._start


class HistoryFile:
    """One client's history file: a header, then one line per invocation or completion,
    each written whole by one system call (a kill leaves whole lines behind it)."""

    def __init__(self, path: Path, header: dict[str, Any], clock: RunClock) -> None:
        self.path = path
        self.clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "xb", buffering=0)  # noqa: SIM115 - kept open for the run
        self._write(header)

    def record(self, kind: str, process: int, f: str, key: str, value: Any = None,
               error: str | None = None) -> None:
        index, now = self.clock.stamp()
        line: dict[str, Any] = {"type": kind, "index": index, "time": now, "process": process,
                                "f": f, "key": key, "value": value}
        if error is not None:
            line["error"] = error
        self._write(line)

    def _write(self, obj: dict[str, Any]) -> None:
        self._file.write(orjson.dumps(obj) + b"\n")

    def close(self) -> None:
        self._file.close()


def history_header(seed: int, options: dict[str, Any]) -> dict[str, Any]:
    return {"type": "header", "format": "raft-history", "version": 1,
            "implementation": {"name": "raftref", "version": raftref.__version__},
            "model": "kv", "seed": seed, "options": options}


@dataclass
class Answer:
    """How a request ended: ``outcome`` ok, fail or info (the history's words), the HTTP
    status (0 without one) and the answer's body."""

    outcome: str
    status: int = 0
    body: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def request(method: str, url: str, body: Any = None,
            timeout: float = REQUEST_TIMEOUT) -> Answer:
    """One request to a node, following one redirect to the leader (§8), classified."""
    data = None if body is None else orjson.dumps(body)
    for hop in range(2):
        try:
            req = urllib.request.Request(url, data=data, method=method)
            with urllib.request.urlopen(req, timeout=timeout) as response:
                return Answer("ok", response.status, _json(response.read()))
        except urllib.error.HTTPError as exc:
            answer = _json(exc.read() or b"{}")
            location = exc.headers.get("Location")
            if exc.code == 307 and location and hop == 0:
                url = location  # a follower did not append it: ask the leader
                continue
            if exc.code == 404:
                return Answer("ok", 404, answer)  # a read of a key with no value
            effect = answer.get("effect", "none" if exc.code != 503 else "unknown")
            return Answer("fail" if effect == "none" else "info", exc.code, answer,
                          str(answer.get("error", f"HTTP {exc.code}")))
        except urllib.error.URLError as exc:
            # Raised while connecting: refused means nothing was sent.
            refused = isinstance(exc.reason, ConnectionRefusedError)
            return Answer("fail" if refused else "info", error=str(exc.reason))
        except (OSError, http.client.HTTPException) as exc:
            # Sent, and then a timeout or a dropped connection: it may have happened.
            return Answer("info", error=f"{type(exc).__name__}: {exc}")
    return Answer("fail", 307, error="redirected twice: no leader found")


def _json(data: bytes) -> dict[str, Any]:
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return {}
    return obj if isinstance(obj, dict) else {}


@dataclass
class Counts:
    """What the clients of a run saw, all together (their threads share it)."""

    writes_ok: int = 0
    writes_failed: int = 0  # fail or info, each attempt
    reads_ok: int = 0
    reads_failed: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str) -> None:
        with self._lock:  # += on an attribute is several steps; threads would lose counts
            setattr(self, name, getattr(self, name) + 1)


class Client(threading.Thread):
    """Client ``number``: every ``interval`` seconds, a get or a put (even odds) of one of
    ``keys`` at a random node, recorded in ``history``. Puts write unique values
    (``"<client>.<n>"``), so a read says which write it saw. With ``stale``, gets ask the node
    for its local state (``?stale=1``) instead of a linearizable read: a planted source of
    stale reads, for showing that the check finds them."""

    def __init__(self, number: int, config: ClusterConfig, keys: list[str],
                 history: HistoryFile, counts: Counts, rng: random.Random,
                 interval: float = 0.1, stale: bool = False) -> None:
        super().__init__(daemon=True, name=f"client-{number}")
        self.number, self.config, self.keys = number, config, keys
        self.history, self.counts, self.rng = history, counts, rng
        self.interval, self.stale = interval, stale
        self.done = threading.Event()
        self._writes = 0

    def run(self) -> None:
        try:
            while not self.done.wait(self.interval):
                node = self.rng.choice(self.config.ids)
                key = self.rng.choice(self.keys)
                if self.rng.random() < 0.5:
                    self.get(node, key)
                else:
                    self._writes += 1
                    self.put(node, key, f"{self.number}.{self._writes}")
        finally:
            self.history.close()

    def url(self, node: str, key: str) -> str:
        return f"http://{self.config.http[node]}/kv/{key}"

    def get(self, node: str, key: str) -> Answer:
        self.history.record("invoke", self.number, "get", key)
        answer = request("GET", self.url(node, key) + ("?stale=1" if self.stale else ""))
        value = answer.body.get("value") if answer.status == 200 else None
        self.history.record(answer.outcome, self.number, "get", key,
                            value if answer.outcome == "ok" else None, answer.error)
        self.counts.add("reads_ok" if answer.outcome == "ok" else "reads_failed")
        return answer

    def put(self, node: str, key: str, value: str, retries: int = 1) -> Answer:
        for _ in range(retries + 1):
            self.history.record("invoke", self.number, "put", key, value)
            answer = request("PUT", self.url(node, key), value)
            self.history.record(answer.outcome, self.number, "put", key, value, answer.error)
            self.counts.add("writes_ok" if answer.outcome == "ok" else "writes_failed")
            if answer.outcome == "ok":
                return answer
            if answer.outcome == "fail" or self.done.is_set():
                return answer
            node = self.rng.choice(self.config.ids)  # unknown: try again, as a new operation
        return answer
