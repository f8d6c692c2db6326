"""The clients of ``raftref cluster``: each reads and writes a few keys through the nodes' HTTP
API and records what it saw as a history (spec/history.schema.json, docs/histories.md), one file
per client, so that the run can be checked for linearizability from the outside.

Each client registers a session (``POST /session``, thesis §6.3) before its first write, and
every write carries ``?client=C&seq=N``: N is raised by one per new write and kept on every
retry of it, so the cluster applies a write at most once however often it is sent. A write is
one operation of the history however many attempts it takes.

What a client records, per operation: ``invoke`` before the first request leaves, then

- ``ok`` on a definite answer (200, or 404 for a read of a key that has no value: it read
  null), with the value read; for a write, 200 is the state machine's result of (C, N), the
  first attempt's if an earlier one was applied;
- ``fail`` when the operation certainly did not take effect: every attempt so far certainly did
  not (refused before it was appended: no leader known, a redirect not followed further, a node
  stopping, a bad request; another entry committed in its place, ``"effect": "none"``; the
  connection refused: nothing was sent), or the state machine refused (C, N) as it applied it
  (409 ``"reason": "refused"``: its result for (C, N), which any retry would be answered with
  too), or refused the session (409 ``unknown-session``) and no earlier attempt was in doubt:
  then nothing of the operation was ever applied, since no entry of a session the state machine
  does not know can be, and the id (a log index) is never given again;
- ``info`` when it may have taken effect and no definite answer came before the run ended: an
  attempt in doubt (a 503 with ``"effect": "unknown"``, no answer within 10 s, a connection
  reset or closed mid-request) is retried, with the same seq, at another random node, until an
  answer is definite or the run ends. A session refused after an attempt in doubt is ``info``
  too: the earlier attempt may have been applied before the session expired, and a retry under
  a new session could apply it twice. The client then registers a new session.

A read changes nothing, so it is not retried: a read without a definite answer is ``fail``
when refused and ``info`` when unanswered (``info`` of a read means nothing to the check but
"no value seen").

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
    """What the clients of a run saw, all together (their threads share it): writes and reads
    by outcome (one per operation), the retries of writes in doubt, and sessions registered."""

    writes_ok: int = 0
    writes_failed: int = 0
    writes_unknown: int = 0
    retries: int = 0
    reads_ok: int = 0
    reads_failed: int = 0  # fail or info
    sessions: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str) -> None:
        with self._lock:  # += on an attribute is several steps; threads would lose counts
            setattr(self, name, getattr(self, name) + 1)


WRITES = {"put": "PUT", "append": "POST", "delete": "DELETE"}


class Client(threading.Thread):
    """Client ``number``: every ``interval`` seconds, one operation on one of ``keys`` at a
    random node, recorded in ``history``: a get (half the time), a put or an append. Puts and
    appends write unique values (``"<client>.<n>"``, ``"+<client>.<n>"``), so a read says
    which writes it saw, and an append applied twice would show in every later read. With
    ``stale``, gets ask the node for its local state (``?stale=1``) instead of a linearizable
    read: a planted source of stale reads, for showing that the check finds them."""

    def __init__(self, number: int, config: ClusterConfig, keys: list[str],
                 history: HistoryFile, counts: Counts, rng: random.Random,
                 interval: float = 0.1, stale: bool = False) -> None:
        super().__init__(daemon=True, name=f"client-{number}")
        self.number, self.config, self.keys = number, config, keys
        self.history, self.counts, self.rng = history, counts, rng
        self.interval, self.stale = interval, stale
        self.done = threading.Event()
        self.session: int | None = None  # the client id, once registered
        self.seq = 0  # the last sequence number used in this session
        self._writes = 0

    def run(self) -> None:
        try:
            while not self.done.wait(self.interval):
                node = self.rng.choice(self.config.ids)
                key = self.rng.choice(self.keys)
                draw = self.rng.random()
                if draw < 0.5:
                    self.get(node, key)
                else:
                    self._writes += 1
                    value = f"{self.number}.{self._writes}"
                    if draw < 0.75:
                        self.put(node, key, value)
                    else:
                        self.append(node, key, "+" + value)
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

    def put(self, node: str, key: str, value: Any, retries: int | None = None) -> Answer:
        return self.write("put", node, key, value, retries)

    def append(self, node: str, key: str, value: str, retries: int | None = None) -> Answer:
        return self.write("append", node, key, value, retries)

    def register(self) -> bool:
        """A new session, asked of random nodes until one answers; False if the run ended
        first. Not part of the history: a session is no operation on a key (a registration
        in doubt leaves a session nobody uses, which expires)."""
        while not self.done.is_set():
            node = self.rng.choice(self.config.ids)
            answer = request("POST", f"http://{self.config.http[node]}/session")
            client = answer.body.get("client")
            if answer.outcome == "ok" and isinstance(client, int):
                self.session, self.seq = client, 0
                self.counts.add("sessions")
                return True
            self.done.wait(self.interval)
        return False

    def write(self, f: str, node: str, key: str, value: Any,
              retries: int | None = None) -> Answer:
        """One write, as one operation: attempts with the same (client, seq) until an answer
        is definite, ``retries`` retries are spent (None: no limit) or the run ends; what is
        recorded is in this module's docstring."""
        if self.session is None and not self.register():
            return Answer("fail", error="the run ended before a session was registered")
        self.seq += 1
        query = f"?client={self.session}&seq={self.seq}"
        self.history.record("invoke", self.number, f, key, value)
        doubt: str | None = None  # why an earlier attempt may have taken effect
        attempt = 0
        while True:
            answer = request(WRITES[f], self.url(node, key) + query,
                             None if f == "delete" else value)
            attempt += 1
            outcome, error = answer.outcome, answer.error
            reason = answer.body.get("reason") if answer.status == 409 else None
            if reason in ("unknown-session", "stale-seq"):
                self.session = None  # the next write registers a new session
                if doubt is not None:
                    outcome, error = "info", f"{error}; an earlier attempt may have taken " \
                                             f"effect: {doubt}"
                else:
                    outcome = "fail" if reason == "unknown-session" else outcome
                break
            if outcome == "ok" or reason == "refused" or (outcome == "fail" and doubt is None):
                break
            if answer.status == 400:  # the same request would be refused the same way
                outcome = "info"
                error = f"{error}; an earlier attempt may have taken effect: {doubt}"
                break
            if outcome == "info":
                doubt = error
            # In doubt (this attempt or an earlier one): the same command again, elsewhere.
            if (retries is not None and attempt > retries) or self.done.wait(self.interval):
                outcome = "info"
                error = (f"{error}; not retried further" if error == doubt else
                         f"{error}; an earlier attempt may have taken effect: {doubt}")
                break
            self.counts.add("retries")
            node = self.rng.choice(self.config.ids)
        self.history.record(outcome, self.number, f, key, value, error)
        self.counts.add({"ok": "writes_ok", "fail": "writes_failed"}.get(outcome,
                                                                            "writes_unknown"))
        return Answer(outcome, answer.status, answer.body, error)
