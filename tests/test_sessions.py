"""Client sessions (raftref/protocol/sessions.py, thesis §6.3): a retried command is applied
once, its saved result answers the retry, and sessions expire by log entries on every replica
alike; the session table is plain, serialisable state."""

from __future__ import annotations

from typing import Any

import orjson

from raftref.protocol.kv import KVStore
from raftref.protocol.node import NodeConfig

from .raft_cluster import Cluster


def propose(c: Cluster, command: Any) -> int:
    ready = c.take(c.nodes["n1"].propose(command))
    assert ready.propose_result is not None and ready.propose_result.accepted
    c.deliver()
    c.tick("n1", c.config.heartbeat_interval)  # followers learn the commit index
    c.deliver()
    return ready.propose_result.index  # type: ignore[return-value]


def result_at(c: Cluster, index: int, node: str = "n1") -> Any:
    found = [r.result for r in c.results if r.index == index]
    assert found, f"no result for index {index}"
    return found[0]


def register(c: Cluster) -> int:
    index = propose(c, {"op": "register"})
    assert result_at(c, index) == {"ok": True, "client": index}
    return index


def test_a_retried_append_is_applied_once_and_answered_with_the_saved_result() -> None:
    c = Cluster(3)
    c.elect("n1")
    client = register(c)
    command = {"op": "append", "key": "x", "value": "a", "client": client, "seq": 1}
    first = propose(c, command)
    retry = propose(c, command)  # the same command again: a client that timed out and retried
    assert first != retry
    for node in c.nodes.values():
        assert node.kv.get("x") == "a", node.id
        assert node.kv.sessions[client].last_seq == 1
    assert result_at(c, retry) == result_at(c, first) == {"ok": True}


def test_a_failed_cas_is_saved_too_and_an_older_sequence_number_is_refused() -> None:
    c = Cluster(3)
    c.elect("n1")
    client = register(c)
    cas = {"op": "cas", "key": "x", "expected": "nope", "value": "v", "client": client,
           "seq": 1}
    index = propose(c, cas)
    assert result_at(c, index)["ok"] is False
    propose(c, {"op": "put", "key": "x", "value": "nope", "client": client, "seq": 2})
    # the old cas retried after a newer command: refused, not applied
    late = propose(c, cas)
    assert result_at(c, late) == {"ok": False, "error": "stale sequence number"}
    assert c.nodes["n2"].kv.get("x") == "nope"


def test_a_command_without_a_registered_session_is_refused() -> None:
    c = Cluster(3)
    c.elect("n1")
    index = propose(c, {"op": "put", "key": "x", "value": "v", "client": 99, "seq": 1})
    assert result_at(c, index)["ok"] is False and c.nodes["n1"].kv.get("x") is None


def test_sessions_expire_after_a_number_of_log_entries_on_every_replica() -> None:
    c = Cluster(3, NodeConfig(session_expiry_entries=5))
    c.elect("n1")
    old = register(c)
    keep = register(c)
    for seq in range(1, 7):
        propose(c, {"op": "put", "key": "k", "value": str(seq), "client": keep, "seq": seq})
    for node in c.nodes.values():
        assert old not in node.kv.sessions and keep in node.kv.sessions, node.id
    index = propose(c, {"op": "put", "key": "x", "value": "v", "client": old, "seq": 1})
    assert result_at(c, index) == {"ok": False, "error": "unknown or expired session"}


def test_commands_without_a_session_work_as_before() -> None:
    c = Cluster(3)
    c.elect("n1")
    index = propose(c, {"op": "put", "key": "x", "value": 1})
    assert result_at(c, index) == {"ok": True}
    assert all(n.kv.get("x") == 1 for n in c.nodes.values())


def test_the_state_machine_with_its_sessions_round_trips_through_json() -> None:
    c = Cluster(3)
    c.elect("n1")
    client = register(c)
    propose(c, {"op": "append", "key": "x", "value": "a", "client": client, "seq": 1})
    kv = c.nodes["n2"].kv
    again = KVStore.from_json(orjson.loads(orjson.dumps(kv.to_json())))
    assert again.to_json() == kv.to_json()
    assert again.sessions[client].last_seq == 1 and again.get("x") == "a"
