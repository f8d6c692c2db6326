"""Writes a raft-trace (spec/trace.schema.json): a header line, then one JSON line per event."""

from __future__ import annotations

from typing import IO, Any

import orjson

from raftref import __version__

FORMAT_VERSION = 1


def header(nodes: tuple[str, ...] | list[str], seed: int | None = None,
           options: dict[str, Any] | None = None, implementation: str = "raftref",
           version: str = __version__, clock: str = "logical") -> dict[str, Any]:
    """Line 1 of a trace. ``clock``: "logical" for one total order (the simulator),
    "per-process" for one file per process (the networked mode)."""
    obj: dict[str, Any] = {"type": "header", "format": "raft-trace", "version": FORMAT_VERSION,
                           "implementation": {"name": implementation, "version": version},
                           "nodes": list(nodes), "clock": clock}
    if seed is not None:
        obj["seed"] = seed
    if options is not None:
        obj["options"] = options
    return obj


class TraceWriter:
    """Numbers events with ``seq`` and remembers each node's last state, which a ``crash`` or a
    ``drop`` (an event the driver writes, not the node) reports."""

    def __init__(self, stream: IO[bytes] | None, head: dict[str, Any],
                 write_header: bool = True) -> None:
        # write_header=False: appending to a trace that has one (a restarted process).
        self._stream = stream
        self.seq = 0
        self.last_state: dict[str, tuple[int, str, str | None, int]] = {}
        if stream is not None and write_header:
            stream.write(orjson.dumps(head) + b"\n")

    def write(self, event: dict[str, Any]) -> None:
        self.last_state[event["node"]] = (event["term"], event["role"], event["vote"],
                                          event["commit"])
        if self._stream is not None:
            line = {"type": "event", "seq": self.seq}
            line.update(event)
            self._stream.write(orjson.dumps(line) + b"\n")
        self.seq += 1

    def close(self) -> None:
        """Close the stream (the networked mode's own trace file)."""
        if self._stream is not None:
            self._stream.close()

    def write_driver_event(self, node: str, kind: str, **fields: Any) -> None:
        """An event the driver observes for ``node`` (crash, drop) with its last known state."""
        term, role, vote, commit = self.last_state[node]
        event = {"node": node, "kind": kind, "term": term, "role": role, "vote": vote,
                 "commit": commit}
        event.update(fields)
        self.write(event)
