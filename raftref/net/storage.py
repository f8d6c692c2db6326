"""A node's disk in the networked mode: its persistent state, and its trace file.

The state (Fig2 "Persistent state on all servers": currentTerm, votedFor, log[]) is one JSON
file, replaced whole and synced to disk before the messages of the same batch leave, as Figure 2
requires. It also counts the node's starts (its incarnation), which keeps message ids unique
across restarts. The trace is appended to across restarts, one ``write`` per line, so a node
killed at any moment leaves only whole lines.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from raftref.protocol.messages import Entry
from raftref.protocol.node import PersistentState
from raftref.trace import TraceWriter


class StorageError(ValueError):
    """A data directory that cannot be used; the message names the file."""


class DiskState:
    """``state.json`` in the node's data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "state.json"
        self.state = PersistentState()
        self.incarnation = 0
        if self.path.exists():
            try:
                obj = orjson.loads(self.path.read_bytes())
                self.state = PersistentState(obj["term"], obj["vote"],
                                             tuple(Entry.from_json(e) for e in obj["log"]))
                self.incarnation = int(obj["incarnation"]) + 1
            except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise StorageError(f"{self.path}: not a raftref node state ({exc})") from None
        self._write(self.state)  # the new incarnation, on disk before anything else happens

    def save(self, state: PersistentState) -> None:
        if state != self.state:
            self._write(state)

    def _write(self, state: PersistentState) -> None:
        data = orjson.dumps({"term": state.current_term, "vote": state.voted_for,
                             "log": [e.to_json() for e in state.log],
                             "incarnation": self.incarnation})
        tmp = self.path.with_name(".state.json.tmp")
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        self.state = state


def open_trace(path: Path, head: dict[str, Any], node_id: str) -> tuple[TraceWriter, bool]:
    """A trace writer that appends to ``path``: a new file starts with ``head``; an existing one
    (a restart) goes on from its last ``seq``, and the caller writes the ``crash`` its process
    could not. Returns the writer and whether the file had events (a restart)."""
    resumed: dict[str, Any] | None = None
    if path.exists() and path.stat().st_size:
        resumed = _last_event(path, head)
    stream = open(path, "ab", buffering=0)  # noqa: SIM115 - the server keeps it open
    writer = TraceWriter(stream, head, write_header=resumed is None)
    if resumed is not None and resumed.get("type") == "event":
        writer.seq = resumed["seq"] + 1
        writer.last_state[node_id] = (resumed["term"], resumed["role"], resumed["vote"],
                                      resumed["commit"])
        return writer, True
    return writer, False


def _last_event(path: Path, head: dict[str, Any]) -> dict[str, Any]:
    """The last line of an existing trace, after checking that its header is this cluster's."""
    with open(path, "rb") as f:
        first = f.readline()
        try:
            old = orjson.loads(first)
        except orjson.JSONDecodeError:
            raise StorageError(f"{path}:1: not a raft-trace header") from None
        if old.get("nodes") != head["nodes"]:
            raise StorageError(f"{path}:1: field nodes: the trace is of cluster {old.get('nodes')}"
                               f", not {head['nodes']}")
        f.seek(max(0, path.stat().st_size - (1 << 20)))
        tail = f.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
    try:
        return orjson.loads(tail)
    except orjson.JSONDecodeError:
        raise StorageError(f"{path}: the last line is not whole JSON") from None
