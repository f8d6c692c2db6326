"""Per-node state rebuilt from events (spec/PROPERTIES.md, "How state is rebuilt from events").

Memory follows the cluster's state, not the trace's length: a log is kept as entry keys and
chained hashes (entry ``i``'s hash covers entries ``1..i``, so two logs agree up to ``i`` exactly
when their hashes at ``i`` match), and past events are not kept. What a violation report must
cite is kept as a :data:`Loc` (file, line number, byte offset), from which the line's text is
read back when a violation is reported.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter, itemgetter
from typing import Any

import msgspec

from checker.events import Entry, Message

#: Where an event is: (index of its source file, 1-based line number, byte offset of the line).
Loc = tuple[int, int, int]
#: A log entry as compared by the checker: (term, data serialized with sorted keys).
EntryKey = tuple[int, bytes]

ROOT = b"\x00" * 8  # the chain hash of the empty log


#: Canonical JSON of an entry's data: compact, object keys sorted (msgspec allocates exactly
#: what the text needs, so a log's memory is its contents).
canonical = msgspec.json.Encoder(order="sorted").encode


def entry_key(entry: Entry) -> EntryKey:
    """Two entries are identical when their terms and their data (as JSON) are equal."""
    return (entry.term, canonical(entry.data))


_TERM = attrgetter("term")
_DATA = attrgetter("data")
_KEY_TERM = itemgetter(0)
_KEY_DATA = itemgetter(1)


def same_entries(entries: list[Entry], keys: list[EntryKey]) -> bool:
    """Whether ``entries`` have exactly the keys ``keys`` (as :func:`entry_key` computes them),
    in a few C-level calls instead of one ``entry_key`` per entry: the terms compare as lists,
    and the data, serialized in one call, compares with the keys' bytes joined the same
    way (compact JSON texts: the joined bytes are equal exactly when every entry's are)."""
    if len(entries) != len(keys) or list(map(_TERM, entries)) != list(map(_KEY_TERM, keys)):
        return False
    try:
        data = canonical(list(map(_DATA, entries)))
    except (msgspec.EncodeError, TypeError):
        return False
    return data == b"[" + b",".join(map(_KEY_DATA, keys)) + b"]"


def chain_hash(parent: bytes, key: EntryKey) -> bytes:
    """The hash of a log ending in ``key`` whose prefix hashes to ``parent`` (deterministic)."""
    return hashlib.blake2b(parent + b"%d|" % key[0] + key[1], digest_size=8).digest()


class Log:
    """A node's log as parallel lists: entry keys, chain hashes, and where each was written."""

    __slots__ = ("keys", "chain", "locs")

    def __init__(self) -> None:
        self.keys: list[EntryKey] = []
        self.chain: list[bytes] = []
        self.locs: list[Loc] = []

    def __len__(self) -> int:
        return len(self.keys)

    def term_at(self, index: int) -> int | None:
        """The term of entry ``index`` (0 for index 0, None past the end)."""
        if index == 0:
            return 0
        if index > len(self.keys):
            return None
        return self.keys[index - 1][0]

    def hash_at(self, index: int) -> bytes:
        return self.chain[index - 1] if index else ROOT

    @property
    def last_term(self) -> int:
        return self.keys[-1][0] if self.keys else 0

    @property
    def last_hash(self) -> bytes:
        return self.chain[-1] if self.chain else ROOT

    def truncate(self, index: int) -> None:
        """Remove entries ``index`` and after."""
        del self.keys[index - 1 :]
        del self.chain[index - 1 :]
        del self.locs[index - 1 :]


@dataclass(frozen=True)
class Snapshot:
    """What a node had when it crashed: the durable state its restart must show."""

    term: int
    vote: str | None
    length: int
    last_hash: bytes
    loc: Loc


class NodeState:
    """One node, as its events describe it. Fields after the latest event (term, role, vote,
    commit are the event's own fields; the log follows start/append/truncate)."""

    __slots__ = ("name", "term", "role", "vote", "commit", "log", "applied", "replay_from",
                 "started", "crashed", "snapshot", "lead_term", "lead_loc", "term_loc",
                 "commit_loc", "apply_loc", "last_loc", "inbox", "seen_term", "seen_loc",
                 "append_limit", "voters", "outgoing", "config_loc")

    def __init__(self, name: str) -> None:
        self.name = name
        self.term = 0
        self.role = "follower"
        self.vote: str | None = None
        self.commit = 0
        self.log = Log()
        self.applied = 0  # index of the last applied entry (lastApplied, Figure 2)
        self.replay_from: int | None = None  # after a restart, apply may restart at 1
        self.started = False
        self.crashed = False
        self.snapshot: Snapshot | None = None
        self.lead_term: int | None = None  # the term this node was elected leader in
        self.lead_loc: Loc | None = None
        self.term_loc: Loc | None = None
        self.commit_loc: Loc | None = None
        self.apply_loc: Loc | None = None
        self.last_loc: Loc | None = None
        # Requests received and not yet answered: msg id -> (msg, loc); bounded.
        self.inbox: OrderedDict[str, tuple[Message, Loc]] = OrderedDict()
        # The highest term in any message received since the node (re)started, and where.
        self.seen_term = 0
        self.seen_loc: Loc | None = None
        # After receiving an AppendEntries (and until the next receive): the highest commit
        # index it justifies, min(leaderCommit, index of last new entry), and where it came.
        self.append_limit: tuple[int, Loc] | None = None
        # The configuration in force at this node (a ``config`` event; None: the header's nodes)
        # and, while a joint configuration is in force, its outgoing voters (else None).
        self.voters: frozenset[str] | None = None
        self.outgoing: frozenset[str] | None = None
        self.config_loc: Loc | None = None

    @property
    def leading(self) -> bool:
        """Leader of its current term (a ``term`` event may show a transient leader of a newer
        term before its ``role`` event steps it down; that is not leading)."""
        return self.role == "leader" and self.lead_term == self.term

    def quorums(self, cluster: frozenset[str]) -> tuple[frozenset[str], ...]:
        """The voter sets each of which a quorum needs a majority of: the configuration in
        force (the header's ``cluster`` before any ``config`` event), and the outgoing voters
        too while a joint configuration is in force."""
        voters = self.voters if self.voters is not None else cluster
        return (voters,) if self.outgoing is None else (voters, self.outgoing)

    def take_snapshot(self, loc: Loc) -> Snapshot:
        return Snapshot(self.term, self.vote, len(self.log), self.log.last_hash, loc)


class Ledger:
    """Every distinct log prefix ever written, by chain hash: hash -> (parent hash, index, entry
    key, loc of the event that first wrote it, skip hash). Bounded by the distinct entries the
    cluster ever created, it lets a check find the hash at any earlier index of a log it only
    knows by (length, last hash). The skip hash is the ancestor at ``index & (index - 1)``, so a
    walk back takes O(log n) steps, not O(n)."""

    __slots__ = ("parents",)

    def __init__(self) -> None:
        self.parents: dict[bytes, tuple[bytes, int, EntryKey, Loc, bytes]] = {}

    def register(self, parent: bytes, index: int, key: EntryKey, h: bytes, loc: Loc) -> None:
        if h not in self.parents:
            skip = self.ancestor(parent, index - 1, index & (index - 1))
            assert skip is not None
            self.parents[h] = (parent, index, key, loc, skip)

    def ancestor(self, h: bytes, length: int, index: int) -> bytes | None:
        """The hash at ``index`` of the log of ``length`` entries ending in ``h``."""
        if index > length or index < 0:
            return None
        parents = self.parents
        while length > index:
            record = parents[h]
            jump = length & (length - 1)
            if jump >= index:
                h, length = record[4], jump
            else:
                h, length = record[0], length - 1
        return h

    def first_difference(self, a: bytes, b: bytes) -> tuple[bytes, bytes]:
        """Walk two different prefixes of equal length back to their first differing entries."""
        parents = self.parents
        while True:
            pa, pb = parents[a][0], parents[b][0]
            if pa == pb:
                return a, b
            a, b = pa, pb


class MessageRegistry:
    """Sent messages, to match every receive with its send (same id, same content).

    Bounded: a message waits in ``pending`` (with its content) until first received or dropped,
    then is settled: it stays matchable by a duplicate delivery for at least the next
    ``window`` settles (two generations of ``window`` messages each: ``settled`` fills up, then
    becomes ``older`` and the generation before it is dropped whole). With ``reload``, a settled
    message keeps only where its send is: the rare duplicate is compared with the send read back
    from the trace, which is far cheaper than keeping thousands of message contents alive.
    Without (a trace read from a pipe cannot be read back), it keeps the send's content.
    At most ``pending_limit`` messages wait at once; beyond that the oldest are forgotten and
    ``forgotten`` counts them (an unknown receive may then be one of them). Contents are
    compared as decoded values (Python equality).
    The engine inlines :meth:`sent` and :meth:`settle` in its hot loop; keep them in step.
    """

    __slots__ = ("pending", "settled", "older", "window", "pending_limit", "forgotten",
                 "reload")

    def __init__(self, reload: Callable[[Loc], Message] | None, window: int = 1 << 12,
                 pending_limit: int = 1 << 15) -> None:
        self.pending: dict[str, tuple[Message, Loc]] = {}
        # msg id -> loc of its send (with reload), or -> (msg, loc) (without).
        self.settled: dict[str, Any] = {}
        self.older: dict[str, Any] = {}
        self.window = window
        self.pending_limit = pending_limit
        self.forgotten = 0
        self.reload = reload

    def sent(self, msg: Message, loc: Loc) -> tuple[Message, Loc] | None:
        """Record a send; returns an earlier send with the same id, if any."""
        msg_id = msg.id
        pending = self.pending
        earlier = pending.get(msg_id)
        if earlier is None:
            earlier = self.recall(msg_id)
            if earlier is None:
                pending[msg_id] = (msg, loc)
                if len(pending) > self.pending_limit:
                    self.forget()
        return earlier

    def recall(self, msg_id: str) -> tuple[Message, Loc] | None:
        """A settled message's send, read back from the trace; None if not settled (recently)."""
        kept = self.settled.get(msg_id) or self.older.get(msg_id)
        if kept is None or self.reload is None:
            return kept
        return (self.reload(kept), kept)

    def forget(self) -> None:
        """Drop the oldest pending message (rare: only past ``pending_limit``)."""
        del self.pending[next(iter(self.pending))]
        self.forgotten += 1

    def known(self, msg_id: str) -> bool:
        return msg_id in self.pending or msg_id in self.settled or msg_id in self.older

    def settle(self, msg_id: str) -> tuple[Message, Loc] | None:
        """A receive or drop of ``msg_id``: its send if it was pending (now settled), else
        None (settled before, or never seen: :meth:`recall` tells which)."""
        record = self.pending.pop(msg_id, None)
        if record is None:
            return None
        self.settled[msg_id] = record if self.reload is None else record[1]
        if len(self.settled) >= self.window:
            self.rotate()
        return record

    def rotate(self) -> None:
        """The current generation of settled messages is full: it becomes the older one."""
        self.older = self.settled
        self.settled = {}
