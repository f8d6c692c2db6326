"""The HTTP API of a node of the networked mode (raftref/net/http.py serves it): status, the
key-value store's reads and writes, client sessions, and fault injection. A mixin of
:class:`~raftref.net.server.NodeServer`, which owns the node, its steps and its waiting
clients; here is what each request asks of them and how each is answered.

Writes go through the log and are answered once applied (so committed), with the state
machine's result of that very entry (``Ready.results``). Reads are linearizable, by ReadIndex
(thesis §6.4), without a log entry. A stale read, this node's local state as it is, is served
only when asked for by name (``?stale=1``).

Sessions (thesis §6.3, raftref/protocol/sessions.py): ``POST /session`` registers through the
log and answers the client id; a write that carries ``?client=C&seq=N`` is applied at most once
per (C, N), and a retry is answered with the first attempt's result. The two numbers travel in
the query string, not in the body or a header: the body stays the value (any JSON value, so a
wrapper object could not be told from a value), a DELETE has none, and a follower's redirect
(307, ``Location:``) carries the query along to the leader, so a retry that is redirected is
still the same command.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

import orjson

from raftref.net.http import Request, Response
from raftref.protocol.node import LEADER, Ready
from raftref.protocol.sessions import CommandResult

if TYPE_CHECKING:
    from raftref.net.config import ClusterConfig
    from raftref.protocol.node import Node

COMMIT_WAIT = 5.0  # seconds a client waits for its write (or read) to be answered
# The largest client id or sequence number taken: the trace contract's integers (terms and
# indexes) stop at 2**63-1, and a command's numbers go into the log and the trace as they are
# (orjson cannot even write 2**64: a node that logged it could not trace its next step).
NUMBER_MAX = 2**63 - 1
WRITE_PARAMS = ("client", "seq")


class ClientAPI:
    """What NodeServer answers on its HTTP port."""

    id: str
    config: ClusterConfig
    node: Node
    cut: set[str]
    refused: dict[str, int]
    allow_faults: bool
    listening: list[str]
    _peers: dict[str, Any]
    _failure: BaseException | None
    _waiting: dict[int, tuple[int, asyncio.Future[CommandResult | None]]]
    _reads: dict[int, asyncio.Future[Any]]
    _read_ids: itertools.count[int]
    _step: Callable[[Callable[[], Ready]], Ready | None]

    def status(self) -> dict[str, Any]:
        node = self.node
        return {"id": self.id, "term": node.current_term, "role": node.role,
                "leader": node.leader_id, "commit": node.commit_index,
                "applied": node.last_applied, "last_index": node.log.last_index,
                "refused": dict(self.refused), "listening": list(self.listening)}

    async def _http(self, request: Request) -> Response:
        if request.path == "/status" and request.method == "GET":
            return Response(200, self.status())
        if request.path.startswith("/fault/") and not self.allow_faults:
            return Response(404, {"error": "no fault endpoints: this node was not started "
                                           "with --allow-faults"})
        if request.path == "/fault/cut":
            return self._fault_cut(request)
        if request.path == "/session":
            if request.method != "POST":
                return Response(405, {"error": f"method {request.method} not allowed on "
                                               "/session (POST registers a session)"})
            return await self._register(request)
        if not request.path.startswith("/kv/") or len(request.path) == 4:
            return Response(404, {"error": "paths: /status, /session, /kv/<key>[?stale=1"
                                           "[&applied=N]], /kv/<key>?client=C&seq=N, "
                                           "/fault/cut"})
        key = request.path[4:]
        if request.method == "GET":
            return await self._get(key, request)
        if request.method not in ("PUT", "POST", "DELETE"):
            return Response(405, {"error": f"method {request.method} not allowed"})
        session = session_of(request)
        if isinstance(session, Response):
            return session
        command: dict[str, Any] = {"op": "delete", "key": key}
        if request.method != "DELETE":
            try:
                value = orjson.loads(request.body)
            except orjson.JSONDecodeError as exc:
                return Response(400, {"error": f"the body must be a JSON value: {exc}",
                                      "effect": "none"})
            if request.method == "POST" and not isinstance(value, str):
                return Response(400, {"error": "POST appends: the body must be a JSON string, "
                                               f"got {orjson.dumps(value).decode()[:80]}",
                                      "effect": "none"})
            command = {"op": "put" if request.method == "PUT" else "append", "key": key,
                       "value": value}
        if session is not None:
            command["client"], command["seq"] = session
        return await self._write(command, request)

    async def _until_applied(self, index: int) -> bool:
        """Whether this node applies ``index`` within COMMIT_WAIT seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + COMMIT_WAIT
        while self.node.last_applied < index:
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(self.config.tick_ms / 1000)
        return True

    def _fault_cut(self, request: Request) -> Response:
        """PUT a JSON list of peer ids: cut this node off from them (both ways); DELETE: heal.
        For fault injection (raftref cluster --chaos), not for clients."""
        if request.method == "DELETE":
            self.cut = set()
        elif request.method == "PUT":
            try:
                peers = orjson.loads(request.body)
            except orjson.JSONDecodeError as exc:
                return Response(400, {"error": f"the body must be a JSON list of node ids: {exc}"})
            if not isinstance(peers, list) or not set(peers) <= set(self._peers):
                return Response(400, {"error": f"the body must be a JSON list of peers of "
                                               f"{self.id}: {', '.join(self._peers)}"})
            self.cut = set(peers)
        elif request.method != "GET":
            return Response(405, {"error": f"method {request.method} not allowed"})
        return Response(200, {"cut": sorted(self.cut)})

    async def _get(self, key: str, request: Request) -> Response:
        """A read: linearizable unless ``?stale=1`` asks for this node's local state by name."""
        stale = request.query.get("stale")
        wanted = request.query.get("applied")
        if stale is None:
            if wanted is not None:
                return Response(400, {"error": "?applied= goes with ?stale=1 (a read without "
                                               "?stale is linearizable already: it sees every "
                                               "acknowledged write)"})
            return await self._linearizable_read(key, request)
        if stale not in ("1", "true"):
            return Response(400, {"error": f"?stale= must be 1 or true, got {stale!r}"})
        # A stale read: this node's state machine as it is, which on a follower or a deposed
        # leader may miss acknowledged writes. ?applied=N waits until this node has applied
        # index N (a write's answer gives its index), so a client reads its own writes.
        if wanted is not None:
            if not wanted.isdigit():
                return Response(400, {"error": "?applied= must be a log index (a "
                                               f"non-negative integer), got {wanted!r}"})
            if not await self._until_applied(int(wanted)):
                return Response(503, {"error": f"index {wanted} not applied here in time; retry",
                                      "applied": self.node.last_applied})
        if key not in self.node.kv.data:
            return Response(404, {"error": f"no key {key!r}", "applied": self.node.last_applied,
                                  "stale": True})
        return Response(200, {"key": key, "value": self.node.kv.get(key),
                              "applied": self.node.last_applied, "stale": True})

    async def _linearizable_read(self, key: str, request: Request) -> Response:
        """A read that sees every write acknowledged before it was asked: ReadIndex (thesis
        §6.4, raftref/protocol/reads.py). A follower redirects to the leader it knows; the
        leader confirms its leadership with a round of heartbeats and answers once it has
        applied its commit index of the moment the read arrived. A leader that cannot confirm
        (cut off, deposed without knowing it) does not answer: 503 after COMMIT_WAIT."""
        read_id = next(self._read_ids)
        answered: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        # Waiting before the step: a leader alone answers the read in this very step.
        self._reads[read_id] = answered
        if self._step(lambda: self.node.read(read_id, key)) is None:
            self._reads.pop(read_id, None)
            return Response(503, {"error": "the node is stopping", "effect": "none"})
        try:
            result = await asyncio.wait_for(answered, COMMIT_WAIT)
        except TimeoutError:
            self._reads.pop(read_id, None)
            return Response(503, {"error": "leadership not confirmed in time (leader lost its "
                                           "majority?)", "effect": "unknown"})
        if not result.ok:
            if result.reason == "not-leader" and result.leader_hint is not None:
                return self._redirect(result.leader_hint, request)
            error = ("no leader known yet; retry" if result.reason == "not-leader" else
                     "leadership changed before the read was confirmed; retry")
            return Response(503, {"error": error, "effect": "none"})
        if result.value is None:
            return Response(404, {"error": f"no key {key!r}", "index": result.index})
        return Response(200, {"key": key, "value": result.value, "index": result.index})

    async def _register(self, request: Request) -> Response:
        """A new session: a register entry through the log; its index is the client id."""
        if request.query:
            return Response(400, {"error": "POST /session takes no parameters, got "
                                           f"{', '.join(sorted(request.query))}",
                                  "effect": "none"})
        answer = await self._through_log({"op": "register"}, request)
        if isinstance(answer, Response):
            return answer
        return Response(200, {"client": answer.index, "index": answer.index,
                              "leader": self._leader()})

    async def _write(self, command: dict[str, Any], request: Request) -> Response:
        """A put, append or delete, answered with the state machine's result of its entry:
        for a session's retry, the first attempt's result (the retry was not applied)."""
        answer = await self._through_log(command, request)
        if isinstance(answer, Response):
            return answer
        body: dict[str, Any] = {"index": answer.index, "leader": self._leader()}
        if answer.client is not None:
            body.update(client=answer.client, seq=answer.seq)
        result = answer.result
        if isinstance(result, dict) and result.get("ok"):
            return Response(200, body)
        error = result.get("error") if isinstance(result, dict) else None
        # Refused by the state machine, as it applied the entry: the entry is in the log, and
        # every replica refused it alike. Which refusal, and what it says of the command:
        if error == "unknown or expired session":
            # This request changed nothing, and no later one of this session can: the id is
            # an index, never given again.
            return Response(409, body | {
                "error": f"session {answer.client}: unknown or expired (a session expires "
                         f"{self.node.config.session_expiry_entries} log entries after its "
                         "last command); register again: POST /session",
                "reason": "unknown-session", "effect": "none"})
        if error == "stale sequence number":
            # This request changed nothing, but the command numbered seq may have been
            # executed by an earlier one, whose result is no longer kept.
            return Response(409, body | {
                "error": f"session {answer.client}: seq {answer.seq} is older than the last "
                         "command this session executed (one command at a time)",
                "reason": "stale-seq", "effect": "unknown"})
        return Response(409, body | {"error": f"{command['op']} refused by the state machine: "
                                              f"{error or result!r}",
                                     "reason": "refused", "effect": "none"})

    def _leader(self) -> str | None:
        return self.id if self.node.role == LEADER else self.node.leader_id

    def _redirect(self, leader: str, request: Request) -> Response:
        """307 to the same request at ``leader`` (§8), query string included: a session's
        client and seq go with it."""
        location = f"http://{self.config.http[leader]}{quote(request.path)}"
        if request.query:
            location += "?" + urlencode(request.query)
        return Response(307, {"leader": leader}, {"Location": location})

    async def _through_log(self, command: dict[str, Any],
                           request: Request) -> Response | CommandResult:
        """Propose ``command``; the state machine's result of it once this node has applied it
        in the term it proposed it (so it is committed), else the answer to give: a redirect
        to the leader (§8), or 503.

        A 503 says in ``effect`` whether the command certainly did not take effect (``none``:
        it was not appended, or another entry was committed in its place) or may yet
        (``unknown``: appended, not known committed), so that a client records its history
        truthfully (fail or info)."""
        done: asyncio.Future[CommandResult | None] = asyncio.get_running_loop().create_future()

        def propose() -> Ready:
            ready = self.node.propose(command)
            result = ready.propose_result
            if result is not None and result.index is not None:
                # Waiting before the step is performed: a leader that needs no other vote (a
                # cluster of one) applies the entry in this very step.
                self._waiting[result.index] = (self.node.current_term, done)
            return ready

        batch = self._step(propose)
        if batch is None:
            # Stopping: no input was taken. A failed step may have saved the entry: unknown.
            return Response(503, {"error": "the node is stopping",
                                  "effect": "none" if self._failure is None else "unknown"})
        result = batch.propose_result
        assert result is not None
        if not result.accepted:
            if result.leader_hint is None:
                return Response(503, {"error": "no leader known yet; retry", "effect": "none"})
            return self._redirect(result.leader_hint, request)
        assert result.index is not None
        try:
            applied = await asyncio.wait_for(done, COMMIT_WAIT)
        except TimeoutError:
            self._waiting.pop(result.index, None)
            return Response(503, {"error": "not committed in time (leader lost its majority?)",
                                  "index": result.index, "effect": "unknown"})
        if applied is None:
            # Another entry was applied at this index: this one can never be committed.
            return Response(503, {"error": "leadership changed; the command was lost, retry",
                                  "index": result.index, "effect": "none"})
        return applied


def session_of(request: Request) -> tuple[int, int] | Response | None:
    """The ``(client, seq)`` of a write, None without a session, or the 400 that refuses them:
    both or neither, each a decimal integer from 1 to NUMBER_MAX, nothing else in the query
    (a misspelt ``?sequence=`` would otherwise lose exactly-once without a word)."""
    unknown = sorted(set(request.query) - set(WRITE_PARAMS))
    if unknown:
        return Response(400, {"error": f"unknown parameter(s) {', '.join(unknown)}: a write "
                                       "takes ?client=C&seq=N (a session) or nothing",
                              "effect": "none"})
    given = [name for name in WRITE_PARAMS if name in request.query]
    if not given:
        return None
    if len(given) == 1:
        other = "seq" if given[0] == "client" else "client"
        return Response(400, {"error": f"?{given[0]}= without ?{other}=: a session's write "
                                       "takes both", "effect": "none"})
    numbers = []
    for name in WRITE_PARAMS:
        text = request.query[name]
        # Digits only (no sign, no exponent, no space), and no more than NUMBER_MAX has,
        # before int(): a million digits would otherwise be converted first.
        if not (text.isascii() and text.isdigit() and len(text) <= len(str(NUMBER_MAX))
                and 1 <= int(text) <= NUMBER_MAX):
            what = ("a client id from POST /session" if name == "client"
                    else "the command's sequence number, 1 for a session's first command")
            return Response(400, {"error": f"?{name}= must be an integer from 1 to 2**63-1 "
                                           f"({what}), got {text[:40]!r}"
                                           f"{'...' if len(text) > 40 else ''}",
                                  "effect": "none"})
        numbers.append(int(text))
    return numbers[0], numbers[1]
