"""A node's disk in the networked mode: its persistent state, and its trace file.

The state (Fig2 "Persistent state on all servers": currentTerm, votedFor, log[]) is one JSON
file, replaced whole and synced to disk before the messages of the same batch leave, as Figure 2
requires. It also counts the node's starts (its incarnation), which keeps message ids unique
across restarts.

Crash consistency. The checker demands that everything in the trace is durable when written and
that a restarted node shows what it had at its crash (CommittedDurable). A step that changes the
state is two writes, the state and then the step's trace lines, and a SIGKILL can fall between
them: the disk would then be ahead of its trace. So the state record also carries the step's
trace lines, numbered (``unwritten``): saving the state is the step's commit point, and a
restarted node first appends whichever of those lines its trace lacks (:meth:`NodeTrace.restore`),
then writes the ``crash`` and its ``start``. The trace is appended one step at a time, and a
final line torn by a kill mid-write is cut on restart (that step's messages never left).

The guarantee is against process crashes (kill -9), not power loss: the trace is not synced.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from raftref.protocol.messages import Entry
from raftref.protocol.node import PersistentState
from raftref.trace import TraceWriter

#: Exit code of a node stopped by the test hook (``exit_after_saves``): kill -9's status.
HOOK_EXIT = 137


class StorageError(ValueError):
    """A data directory that cannot be used; the message names the file."""


class DiskState:
    """``state.json`` in the node's data directory.

    ``exit_after_saves`` (tests only; ``raftref serve`` reads it from the environment variable
    RAFTREF_NET_EXIT_AFTER_SAVE): the process ends at once, as if killed, right after the state
    of that many steps has been saved and before their trace lines are written.
    """

    def __init__(self, data_dir: Path, exit_after_saves: int | None = None) -> None:
        self.path = data_dir / "state.json"
        self.state = PersistentState()
        self.incarnation = 0
        #: The trace lines saved with the state (the last step that changed it), as written.
        self.unwritten: list[bytes] = []
        self.saves = 0
        self._exit_after = exit_after_saves
        if self.path.exists():
            try:
                obj = orjson.loads(self.path.read_bytes())
                self.state = PersistentState(obj["term"], obj["vote"],
                                             tuple(Entry.from_json(e) for e in obj["log"]))
                self.incarnation = int(obj["incarnation"]) + 1
                self.unwritten = [orjson.dumps(line) + b"\n" for line in _lines(obj)]
            except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise StorageError(f"{self.path}: not a raftref node state ({exc})") from None
        # The new incarnation, on disk before anything else happens. The saved trace lines stay
        # until the next save: the trace may not have them yet.
        self._write(self.state, self.unwritten)

    def save(self, state: PersistentState, lines: list[bytes]) -> None:
        """Make ``state`` durable together with ``lines``, the trace lines of the step that
        produced it (written to the trace after this returns)."""
        if state == self.state:
            return
        self._write(state, lines)
        self.saves += 1
        if self.saves == self._exit_after:
            os._exit(HOOK_EXIT)  # the test hook: a kill between the state and the trace

    def _write(self, state: PersistentState, lines: list[bytes]) -> None:
        data = orjson.dumps({"term": state.current_term, "vote": state.voted_for,
                             "log": [e.to_json() for e in state.log],
                             "incarnation": self.incarnation,
                             "trace": [orjson.Fragment(line.rstrip(b"\n")) for line in lines]})
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
        self.unwritten = lines


def _lines(obj: dict[str, Any]) -> list[dict[str, Any]]:
    lines = obj.get("trace", [])
    if not isinstance(lines, list) or not all(
            isinstance(line, dict) and isinstance(line.get("seq"), int) for line in lines):
        raise ValueError("field trace: must be a list of trace lines with their seq")
    return lines


class _Pending:
    """Where the node's TraceWriter writes: lines kept until the step's state is saved."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.lines.append(data)
        return len(data)

    def take(self) -> list[bytes]:
        lines, self.lines = self.lines, []
        return lines


class NodeTrace:
    """The node's trace file, appended to across restarts, one step at a time.

    :meth:`stage` numbers a step's events and renders their lines; the caller saves its state
    with them and then :meth:`append`\\ s them. ``resumed`` says whether the file had events
    already (a restart: the caller writes the ``crash`` its process could not), and ``cut`` how
    many bytes of a torn last line were removed.
    """

    def __init__(self, path: Path, head: dict[str, Any], node_id: str) -> None:
        self.path = path
        self.node_id = node_id
        self.cut = 0
        last: dict[str, Any] | None = None
        if path.exists() and path.stat().st_size:
            last, self.cut = _resume(path, head)
        self._pending = _Pending()
        self._writer = TraceWriter(self._pending, head, write_header=last is None)
        self._file = open(path, "ab", buffering=0)  # noqa: SIM115 - kept open while serving
        self.append(self._pending.take())  # the header, for a new file
        self.resumed = last is not None and last.get("type") == "event"
        if last is not None and self.resumed:
            self._writer.seq = last["seq"] + 1
            self._writer.last_state[node_id] = (last["term"], last["role"], last["vote"],
                                                last["commit"])

    @property
    def seq(self) -> int:
        """The ``seq`` of the next line."""
        return self._writer.seq

    def stage(self, events: Iterable[dict[str, Any]]) -> list[bytes]:
        for event in events:
            self._writer.write(event)
        return self._pending.take()

    def append(self, lines: list[bytes]) -> None:
        data = memoryview(b"".join(lines))
        while data:  # an unbuffered write may take only part of it
            data = data[self._file.write(data):]

    def driver_event(self, kind: str) -> None:
        """An event the driver writes for the node (``crash``), with its last state."""
        self._writer.write_driver_event(self.node_id, kind)
        self.append(self._pending.take())

    def restore(self, saved: list[bytes]) -> int:
        """Append the lines of ``saved`` (a state record's step lines) that this trace lacks,
        because the process was killed after saving the state and before writing them.
        Returns how many were appended."""
        events = [orjson.loads(line) for line in saved]
        missing = [e for e in events if e["seq"] >= self.seq]
        if missing and missing[0]["seq"] != self.seq:
            raise StorageError(f"{self.path}: the trace ends before seq {self.seq} but the "
                               f"node's state holds lines from seq {missing[0]['seq']}: "
                               "the trace is not this state's")
        for event in missing:
            del event["type"], event["seq"]
        self.append(self.stage(missing))
        return len(missing)

    def close(self) -> None:
        self._file.close()


def _resume(path: Path, head: dict[str, Any]) -> tuple[dict[str, Any] | None, int]:
    """The last line of an existing trace, after checking that its header is this cluster's and
    cutting a torn last line (a kill mid-write); and how many bytes were cut. None when not even
    the header is whole (the file is emptied: the caller writes it again)."""
    with open(path, "r+b") as f:
        first = f.readline()
        size = f.seek(0, os.SEEK_END)
        if not first.endswith(b"\n") and first.startswith(b'{"type":"header"'):
            f.truncate(0)  # killed while writing its header: nothing else was written
            return None, size
        try:
            old = orjson.loads(first)
        except orjson.JSONDecodeError:
            raise StorageError(f"{path}:1: not a raft-trace header") from None
        if not isinstance(old, dict) or old.get("nodes") != head["nodes"]:
            nodes = old.get("nodes") if isinstance(old, dict) else None
            raise StorageError(f"{path}:1: field nodes: the trace is of cluster {nodes}, "
                               f"not {head['nodes']}")
        end = _line_start(f, size)  # where a torn last line (no newline) begins, else size
        if end < size:
            f.truncate(end)
        start = _line_start(f, end - 1)
        f.seek(start)
        tail = f.read(end - start)
    try:
        return orjson.loads(tail), size - end
    except orjson.JSONDecodeError:
        raise StorageError(f"{path}: the last line is not whole JSON") from None


def _line_start(f: Any, end: int) -> int:
    """The offset just after the last newline before ``end`` (0 when there is none)."""
    pos = end
    while pos > 0:
        step = min(pos, 1 << 16)
        f.seek(pos - step)
        chunk = f.read(step)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return pos - step + newline + 1
        pos -= step
    return 0
