"""The replicated state machine: a key-value store, applied in log order (paper §2, §8), with
the client sessions of thesis §6.3 as part of its state.

Commands are JSON objects:

- ``{"op": "put", "key": K, "value": V}``, ``{"op": "delete", "key": K}``;
- ``{"op": "append", "key": K, "value": S}``: the string S added at the end of K's value (a
  missing key is the empty string);
- ``{"op": "cas", "key": K, "expected": E, "value": V}``: V if K's value is E (a missing key is
  null), else nothing; the result says which.
- ``{"op": "register"}``: a new client session (raftref/protocol/sessions.py); a command with
  ``"client"`` and ``"seq"`` belongs to a session.

``None`` is a leader's no-op entry. Anything else is applied as a no-op and counted, so a
malformed command can never make replicas diverge. :meth:`KVStore.execute` returns each
command's result as plain data, which the sessions keep for retries.

The whole state (values and sessions) is plain JSON data: :meth:`KVStore.to_json` and
:meth:`KVStore.from_json` are what a snapshot will hold.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

OK: dict[str, Any] = {"ok": True}


@dataclass
class Session:
    """Thesis §6.3: what the state machine keeps per client: the last sequence number it
    executed, that command's result, and the index of the client's last command (for expiry)."""

    last_seq: int = 0
    last_result: Any = None
    last_index: int = 0

    def to_json(self) -> list[Any]:
        return [self.last_seq, self.last_result, self.last_index]


class KVStore:
    """A deterministic key-value state machine with its client sessions."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.applied = 0
        self.ignored = 0
        # client id -> session, least recently active first (expiry walks from the front)
        self.sessions: OrderedDict[int, Session] = OrderedDict()

    def apply(self, command: Any) -> None:
        """Apply one log entry's command, without sessions."""
        self.applied += 1
        self.execute(command)

    def execute(self, command: Any) -> Any:
        """Carry out one command and return its result (None for a no-op); ``applied``
        counts entries, so it is the caller's to raise."""
        if command is None:
            return None
        if isinstance(command, dict) and isinstance(command.get("key"), str):
            op, key = command.get("op"), command["key"]
            if op == "put" and "value" in command:
                self.data[key] = command["value"]
                return OK
            if op == "delete":
                self.data.pop(key, None)
                return OK
            if op == "append" and isinstance(command.get("value"), str):
                old = self.data.get(key)
                if old is None or isinstance(old, str):
                    self.data[key] = (old or "") + command["value"]
                    return OK
            if op == "cas" and "value" in command and "expected" in command:
                if self.data.get(key) == command["expected"]:
                    self.data[key] = command["value"]
                    return OK
                return {"ok": False, "error": "cas: the value was not the expected one"}
        self.ignored += 1
        return {"ok": False, "error": "malformed command"}

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def to_json(self) -> dict[str, Any]:
        return {"data": dict(self.data), "applied": self.applied, "ignored": self.ignored,
                "sessions": [[c, *s.to_json()] for c, s in self.sessions.items()]}

    @staticmethod
    def from_json(obj: dict[str, Any]) -> KVStore:
        kv = KVStore()
        kv.data = dict(obj["data"])
        kv.applied, kv.ignored = obj["applied"], obj["ignored"]
        for client, seq, result, index in obj["sessions"]:
            kv.sessions[client] = Session(seq, result, index)
        return kv
