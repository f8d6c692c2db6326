"""The HTTP API of a node of the networked mode (raftref/net/http.py serves it): status, the
key-value store's reads and writes, and fault injection. A mixin of
:class:`~raftref.net.server.NodeServer`, which owns the node, its steps and its waiting
clients; here is what each request asks of them and how each is answered.

Writes go through the log and are answered once applied (so committed). Reads are linearizable,
by ReadIndex (thesis §6.4), without a log entry. A stale read, this node's local state as it
is, is served only when asked for by name (``?stale=1``).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from raftref.net.http import Request, Response
from raftref.protocol.node import LEADER, Ready

if TYPE_CHECKING:
    from raftref.net.config import ClusterConfig
    from raftref.protocol.node import Node

COMMIT_WAIT = 5.0  # seconds a client waits for its write (or read) to be answered


class ClientAPI:
    """What NodeServer answers on its HTTP port."""

    id: str
    config: ClusterConfig
    node: Node
    cut: set[str]
    _peers: dict[str, Any]
    _failure: BaseException | None
    _waiting: dict[int, tuple[int, asyncio.Future[bool]]]
    _reads: dict[int, asyncio.Future[Any]]
    _read_ids: itertools.count[int]
    _step: Callable[[Callable[[], Ready]], Ready | None]

    def status(self) -> dict[str, Any]:
        node = self.node
        return {"id": self.id, "term": node.current_term, "role": node.role,
                "leader": node.leader_id, "commit": node.commit_index,
                "applied": node.last_applied, "last_index": node.log.last_index}

    async def _http(self, request: Request) -> Response:
        if request.path == "/status" and request.method == "GET":
            return Response(200, self.status())
        if request.path == "/fault/cut":
            return self._fault_cut(request)
        if not request.path.startswith("/kv/") or len(request.path) == 4:
            return Response(404, {"error": "paths: /status, /kv/<key>[?stale=1[&applied=N]], "
                                           "/fault/cut"})
        key = request.path[4:]
        if request.method == "GET":
            return await self._get(key, request)
        if request.method == "PUT":
            try:
                value = orjson.loads(request.body)
            except orjson.JSONDecodeError as exc:
                return Response(400, {"error": f"the body must be a JSON value: {exc}"})
            return await self._write({"op": "put", "key": key, "value": value}, request)
        if request.method == "DELETE":
            return await self._write({"op": "delete", "key": key}, request)
        return Response(405, {"error": f"method {request.method} not allowed"})

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
                location = f"http://{self.config.http[result.leader_hint]}{request.path}"
                return Response(307, {"leader": result.leader_hint}, {"Location": location})
            error = ("no leader known yet; retry" if result.reason == "not-leader" else
                     "leadership changed before the read was confirmed; retry")
            return Response(503, {"error": error, "effect": "none"})
        if result.value is None:
            return Response(404, {"error": f"no key {key!r}", "index": result.index})
        return Response(200, {"key": key, "value": result.value, "index": result.index})

    async def _write(self, command: dict[str, Any], request: Request) -> Response:
        answer = await self._through_log(command, request)
        if isinstance(answer, Response):
            return answer
        return Response(200, {"index": answer, "leader": self.id
                              if self.node.role == LEADER else self.node.leader_id})

    async def _through_log(self, command: dict[str, Any], request: Request) -> Response | int:
        """Propose ``command``; its index once this node has applied it in the term it proposed
        it (so it is committed), else the answer to give: a redirect to the leader (§8), or 503.

        A 503 says in ``effect`` whether the command certainly did not take effect (``none``:
        it was not appended, or another entry was committed in its place) or may yet
        (``unknown``: appended, not known committed), so that a client records its history
        truthfully (fail or info)."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

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
            location = f"http://{self.config.http[result.leader_hint]}{request.path}"
            return Response(307, {"leader": result.leader_hint}, {"Location": location})
        assert result.index is not None
        try:
            applied = await asyncio.wait_for(done, COMMIT_WAIT)
        except TimeoutError:
            self._waiting.pop(result.index, None)
            return Response(503, {"error": "not committed in time (leader lost its majority?)",
                                  "index": result.index, "effect": "unknown"})
        if not applied:
            # Another entry was applied at this index: this one can never be committed.
            return Response(503, {"error": "leadership changed; the command was lost, retry",
                                  "index": result.index, "effect": "none"})
        return result.index


