"""Client sessions for exactly-once commands (thesis §6.3).

A client registers once: ``{"op": "register"}`` is an ordinary log entry, and its index is the
client's id (every replica applies it at the same index, so every replica agrees). Each later
command carries ``"client"`` and ``"seq"``, a number the client raises by one per new command and
keeps on every retry of the same command. The state machine keeps, per client, the last
sequence number it executed and that command's result (:class:`~raftref.protocol.kv.Session`);
a retry is answered from there, without being applied again. Only the last result is kept: a
client has one command outstanding at a time (a command older than the last is refused as
stale).

Sessions expire deterministically, counted in log entries, never by a clock: when the entry
at index i is applied, every session whose last command is more than
``NodeConfig.session_expiry_entries`` entries older is removed (thesis §6.3 expires by leader
time; entries are what every replica sees alike). A command of an expired or unknown session is
refused, not applied: the client must register again. The session table is part of the state
machine (:meth:`~raftref.protocol.kv.KVStore.to_json`), so a snapshot will carry it.

The results come out in :attr:`~raftref.protocol.ready.Ready.results` on every node that
applies the entry; a driver answers the client that asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from raftref.protocol.kv import Session

if TYPE_CHECKING:
    from raftref.protocol.node import Node


@dataclass(frozen=True)
class CommandResult:
    """The result of applying the command at ``index`` (client and seq None without a
    session)."""

    index: int
    command: Any
    client: int | None
    seq: int | None
    result: Any


class Sessions:
    """The session rules, applied as each committed entry reaches the state machine."""

    def is_duplicate(self: Node, session: Session, seq: int) -> bool:
        """Thesis §6.3: a command whose sequence number the session has already executed is a
        retry: it is answered with the saved result and not applied a second time."""
        return seq <= session.last_seq

    def session_expired(self: Node, session: Session, index: int) -> bool:
        """Thesis §6.3, expiry made deterministic: a session whose last command is more than
        ``session_expiry_entries`` entries before ``index`` is gone on every replica alike."""
        return index - session.last_index > self.config.session_expiry_entries

    def _execute(self: Node, index: int, command: Any) -> None:
        """Apply the committed command at ``index`` through its session, if it has one."""
        kv = self.kv
        kv.applied += 1
        self._expire_sessions(index)
        client = seq = None
        if isinstance(command, dict) and command.get("op") == "register":
            kv.sessions[index] = Session(0, None, index)
            result: Any = {"ok": True, "client": index}
        elif isinstance(command, dict) and "client" in command:
            client, seq = command.get("client"), command.get("seq")
            session = kv.sessions.get(client) if isinstance(client, int) else None
            if session is None or not isinstance(seq, int):
                result = {"ok": False, "error": "unknown or expired session"}
            elif self.is_duplicate(session, seq):
                result = (session.last_result if seq == session.last_seq
                          else {"ok": False, "error": "stale sequence number"})
            else:
                result = kv.execute(command)
                session.last_seq, session.last_result = seq, result
            if session is not None:
                session.last_index = index
                kv.sessions.move_to_end(client)  # type: ignore[arg-type]
        else:
            result = kv.execute(command)
        if command is not None:
            self._ready.results.append(CommandResult(index, command, client, seq, result))

    def _expire_sessions(self: Node, index: int) -> None:
        sessions = self.kv.sessions
        while sessions:
            client, oldest = next(iter(sessions.items()))
            if not self.session_expired(oldest, index):
                break
            del sessions[client]
