"""The replicated state machine: a key-value store, applied in log order (paper §2, §8).

Commands are JSON objects: ``{"op": "put", "key": K, "value": V}`` or ``{"op": "delete", "key":
K}``. ``None`` is a leader's no-op entry. Anything else is applied as a no-op and counted, so a
malformed command can never make replicas diverge.
"""

from __future__ import annotations

from typing import Any


class KVStore:
    """A deterministic key-value state machine."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.applied = 0
        self.ignored = 0

    def apply(self, command: Any) -> None:
        self.applied += 1
        if command is None:
            return
        if isinstance(command, dict) and isinstance(command.get("key"), str):
            op = command.get("op")
            if op == "put" and "value" in command:
                self.data[command["key"]] = command["value"]
                return
            if op == "delete":
                self.data.pop(command["key"], None)
                return
        self.ignored += 1

    def get(self, key: str) -> Any:
        return self.data.get(key)
