"""Simulated clients that record what they see: a history in the contract of
spec/history.schema.json (docs/histories.md), checked for linearizability by checker.history.

Each client (a *process* of the history, numbered from 0) registers a session (thesis §6.3),
then issues one operation at a time on a few keys, each starting at the client's own node
(client p's is node p mod n, as Jepsen binds each client to a node): ``get`` (a read through
the node's ``read`` input: ReadIndex, or a lease), ``put``, ``append`` and ``cas`` (log
commands carrying the client's id and sequence number). It follows redirect hints, and
retries the same command (same sequence number) after a refusal, a timeout or a crash of the
node it asked, up to a number of attempts. With ``own_node_reads`` (the schedule's
``forward_reads``, where a follower asks its leader for a read index, thesis §6.4), every
attempt of a read goes to the client's own node while it is up, follower or not, so that
follower reads are exercised. What is recorded:

- ``invoke`` when the operation starts (retries are not new operations);
- ``ok`` when an attempt is answered: the read's value, or the write's result from the
  state machine of the node it was sent to, as that node applies it;
- ``fail`` only when the operation certainly did not happen: a cas the state machine refused
  (the value was not the expected one), a command its session no longer knows when no earlier
  attempt of it may have been applied (then the client registers again), a read refused or
  unanswered on every attempt (a read changes nothing), or a write refused by every node asked
  (a redirect: it was never appended);
- ``info`` when it may or may not have happened: a write that some attempt got appended, or
  whose attempt timed out or whose node crashed, and no attempt was answered before the
  attempts ran out. An operation still outstanding when the run ends has no completion, which
  the history contract also counts as ``info``.

Everything is driven by the simulator's seeded event loop and this module's own seeded
``random.Random``, so the same schedule gives the same history, byte for byte.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import IO, Any, Protocol

import orjson

from raftref import __version__
from raftref.protocol.node import Node, Ready

KEYS = ("k0", "k1", "k2")
# Operation mix (cumulative thresholds of one draw in [0, 1)): reads, puts, appends, cas.
MIX = ((0.40, "get"), (0.65, "put"), (0.90, "append"), (1.0, "cas"))


class Driver(Protocol):
    """What the clients need of the simulator."""

    now: int
    ids: tuple[str, ...]

    def up_nodes(self) -> list[str]: ...
    def node(self, node_id: str) -> Node | None: ...
    def perform(self, node: Node, ready: Ready) -> None: ...
    def later(self, delay: int, kind: str, payload: Any) -> None: ...


@dataclass
class Operation:
    f: str
    key: str
    value: Any
    seq: int
    attempts: int = 0
    doubt: str | None = None  # why some attempt may have reached the log (None: none may)


@dataclass
class Client:
    process: int
    session: int | None = None
    seq: int = 0
    op: Operation | None = None
    registering: bool = False
    target: str | None = None
    attempt: int = 0  # number of the current attempt (stale answers and timeouts ignored)
    # the current attempt: (node, request id or log index, "read" | "write")
    waiting: tuple[str, Any, str] | None = None
    last_read: dict[str, Any] = field(default_factory=dict)


class HistoryWriter:
    """Writes a history: a header line, then one line per invocation or completion; and,
    to ``trace`` when given, each of these lines as a trace's history line
    (``{"type": "history", "op": ...}``, spec/trace.schema.json), among the events."""

    def __init__(self, stream: IO[bytes] | None, seed: int, options: dict[str, Any],
                 trace: IO[bytes] | None = None) -> None:
        self._stream = stream
        self._trace = trace
        self.index = 0
        self.operations = 0
        self.completions: dict[str, int] = {"ok": 0, "fail": 0, "info": 0}
        head = {"type": "header", "format": "raft-history", "version": 1,
                "implementation": {"name": "raftref", "version": __version__},
                "model": "kv", "seed": seed, "options": options}
        if stream is not None:
            stream.write(orjson.dumps(head) + b"\n")

    def write(self, kind: str, process: int, op: Operation, value: Any,
              error: str | None = None) -> None:
        if kind == "invoke":
            self.operations += 1
        else:
            self.completions[kind] += 1
        if self._stream is None and self._trace is None:
            self.index += 1
            return
        line: dict[str, Any] = {"type": kind, "index": self.index, "process": process,
                                "f": op.f, "key": op.key, "value": value}
        if error is not None:
            line["error"] = error
        if self._stream is not None:
            self._stream.write(orjson.dumps(line) + b"\n")
        if self._trace is not None:
            self._trace.write(orjson.dumps({"type": "history", "op": line}) + b"\n")
        self.index += 1


class Clients:
    """The client workload of a simulated run."""

    def __init__(self, driver: Driver, count: int, seed: int, think: int, timeout: int,
                 attempts: int, history: HistoryWriter, own_node_reads: bool = False) -> None:
        self.driver = driver
        self.own_node_reads = own_node_reads
        self.rng = random.Random(f"clients:{seed}")
        self.think = max(1, think)
        self.timeout = timeout
        self.max_attempts = attempts
        self.history = history
        self.clients = [Client(p) for p in range(count)]
        # which client waits for what: (node, read request id) and (node, log index)
        self._reads: dict[tuple[str, Any], int] = {}
        self._writes: dict[tuple[str, int], int] = {}
        self.proposals_accepted = 0

    def start(self) -> None:
        for c in self.clients:
            self.driver.later(self.think + c.process, "client", c.process)

    # ------------------------------------------------------------------ events

    def act(self, process: int) -> None:
        """The client's next step: register, start an operation, or send an attempt."""
        c = self.clients[process]
        if c.waiting is not None:
            return
        if c.session is None:
            c.registering = True
            self._send(c)
            return
        if c.op is None:
            # Each operation starts at the client's own node, as Jepsen binds each client to
            # one node; redirects and retries within the operation go elsewhere.
            c.target = self.driver.ids[c.process % len(self.driver.ids)]
            c.op = self._new_operation(c)
            self.history.write("invoke", c.process, c.op, self._asked(c.op))
        self._send(c)

    def timed_out(self, payload: tuple[int, int]) -> None:
        process, attempt = payload
        c = self.clients[process]
        if c.waiting is not None and c.attempt == attempt:
            self._lost(c, "timeout")

    def crashed(self, node_id: str) -> None:
        """The node's connections are gone: every client waiting on it learns so."""
        for c in self.clients:
            if c.waiting is not None and c.waiting[0] == node_id:
                self._lost(c, "crash")

    def on_ready(self, node_id: str, ready: Ready) -> None:
        for r in ready.reads:
            process = self._reads.pop((node_id, r.request_id), None)
            if process is None:
                continue
            c = self.clients[process]
            if c.waiting is None or c.waiting[1] != r.request_id:
                continue
            c.waiting = None
            if r.ok:
                assert c.op is not None
                c.last_read[c.op.key] = r.value
                self._complete(c, "ok", r.value)
            else:
                c.target = r.leader_hint
                self._retry(c, "refused: " + (r.reason or ""), certain=True)
        for res in ready.results:
            process = self._writes.pop((node_id, res.index), None)
            if process is None:
                continue
            c = self.clients[process]
            if c.waiting is None or c.waiting[:2] != (node_id, res.index):
                continue
            c.waiting = None
            if c.registering:
                if res.command == self._command(c):
                    c.session, c.registering, c.seq = res.result["client"], False, 0
                    self.driver.later(1, "client", c.process)
                else:
                    self._retry(c, "overwritten", certain=False)
            elif res.client != c.session or res.seq != c.op.seq:  # type: ignore[union-attr]
                self._retry(c, "overwritten", certain=False)  # another entry took its index
            else:
                self._answered(c, res.result)

    # ------------------------------------------------------------------ attempts

    def _new_operation(self, c: Client) -> Operation:
        draw = self.rng.random()
        f = next(name for bound, name in MIX if draw < bound)
        key = self.rng.choice(KEYS)
        c.seq += 1
        tag = f"{c.process}.{c.seq}"
        if f == "get":
            return Operation(f, key, None, c.seq)
        if f == "cas":
            return Operation(f, key, [c.last_read.get(key), tag], c.seq)
        return Operation(f, key, tag + " " if f == "append" else tag, c.seq)

    @staticmethod
    def _asked(op: Operation) -> Any:
        return op.value

    def _command(self, c: Client) -> dict[str, Any]:
        if c.registering:
            # The nonce tells this client's register entry from another's at the same index
            # (a deposed leader's entry overwritten by a new leader's).
            return {"op": "register", "nonce": f"{c.process}.{c.attempt}"}
        op = c.op
        assert op is not None
        command: dict[str, Any] = {"op": op.f, "key": op.key, "client": c.session,
                                   "seq": op.seq}
        if op.f == "cas":
            command["expected"], command["value"] = op.value
        else:
            command["value"] = op.value
        return command

    def _send(self, c: Client) -> None:
        up = self.driver.up_nodes()
        if not up:
            self.driver.later(self.think, "client", c.process)
            return
        if self.own_node_reads and c.op is not None and c.op.f == "get":
            own = self.driver.ids[c.process % len(self.driver.ids)]
            if own in up:
                c.target = own
        if c.target not in up:
            c.target = self.rng.choice(up)
        node = self.driver.node(c.target)  # type: ignore[arg-type]
        assert node is not None
        c.attempt += 1
        if c.op is not None:
            c.op.attempts += 1
        self.driver.later(self.timeout, "client-timeout", (c.process, c.attempt))
        if c.op is not None and c.op.f == "get":
            request = f"{c.process}.{c.op.seq}.{c.attempt}"
            c.waiting = (node.id, request, "read")
            self._reads[(node.id, request)] = c.process
            self.driver.perform(node, node.read(request, c.op.key))
            return
        ready = node.propose(self._command(c))
        result = ready.propose_result
        accepted = result is not None and result.accepted
        if accepted:
            assert result is not None and result.index is not None
            self.proposals_accepted += 1
            c.waiting = (node.id, result.index, "write")
            self._writes[(node.id, result.index)] = c.process
            if c.op is not None and c.op.doubt is None:
                c.op.doubt = f"appended by {node.id} at index {result.index}"
        else:
            c.target = None if result is None else result.leader_hint
        self.driver.perform(node, ready)  # may answer at once (a cluster of one)
        if not accepted:
            self._retry(c, "refused: not the leader", certain=True)

    def _lost(self, c: Client, why: str) -> None:
        if c.waiting is not None:
            node, token, kind = c.waiting
            (self._reads if kind == "read" else self._writes).pop((node, token), None)
            c.waiting = None
        c.target = None
        self._retry(c, why, certain=False)

    def _retry(self, c: Client, why: str, certain: bool) -> None:
        """Try again (same command, same sequence number) after a tick, or give up."""
        op = c.op
        if op is not None and not certain and op.f != "get" and op.doubt is None:
            op.doubt = why
        if op is not None and op.attempts >= self.max_attempts:
            if op.f == "get" or op.doubt is None:
                self._complete(c, "fail", op.value, f"{why} ({op.attempts} attempts)")
            else:
                self._complete(c, "info", op.value, f"last attempt: {why}; may have taken "
                               f"effect: {op.doubt} ({op.attempts} attempts)")
            return
        # To the hinted leader at once (next tick); with no hint, after a pause (an election).
        self.driver.later(1 if c.target is not None else self.think, "client", c.process)

    def _answered(self, c: Client, result: Any) -> None:
        op = c.op
        assert op is not None
        if isinstance(result, dict) and result.get("ok"):
            self._complete(c, "ok", op.value)
        elif isinstance(result, dict) and result.get("error", "").startswith("cas"):
            self._complete(c, "fail", op.value, result["error"])
        elif isinstance(result, dict) and "session" in result.get("error", ""):
            # Certain only if no earlier attempt may have been applied: one that was would
            # have kept the session alive, then it may have expired before this attempt.
            c.session = None
            if op.doubt is None:
                self._complete(c, "fail", op.value, result["error"])
            else:
                self._complete(c, "info", op.value, f"{result['error']}; may have taken "
                               f"effect before: {op.doubt}")
        else:
            self._complete(c, "info", op.value, str(result))

    def _complete(self, c: Client, kind: str, value: Any, error: str | None = None) -> None:
        assert c.op is not None
        self.history.write(kind, c.process, c.op, value, error)
        c.op = None
        self.driver.later(self.think, "client", c.process)
