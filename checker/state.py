"""Per-node state rebuilt from events (spec/PROPERTIES.md, "How state is rebuilt from events").

Memory follows the cluster's state, not the trace's length: a log is kept as entry keys and
chained hashes (entry ``i``'s hash covers entries ``1..i``, so two logs agree up to ``i`` exactly
when their hashes at ``i`` match), and past events are not kept. What a violation report must
cite is kept as a :data:`Loc` (file and line number in one int), from which the line's text is
read back when the report is made.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from operator import attrgetter, itemgetter

import msgspec
from msgspec import Raw

from checker.events import AppendEntries, Entry, Message

#: Where an event is, in one int (cheap to make, keep and compare; sorts by file, then line):
#: the index of its file shifted left by LINE_BITS, plus its 1-based line number.
Loc = int
LINE_BITS = 40
LINE_MASK = (1 << LINE_BITS) - 1


def make_loc(file: int, line: int) -> Loc:
    return (file << LINE_BITS) | line


def file_of(loc: Loc) -> int:
    return loc >> LINE_BITS


def line_of(loc: Loc) -> int:
    return loc & LINE_MASK
#: A log entry as compared by the checker: (term, data serialized with sorted keys).
EntryKey = tuple[int, bytes]

ROOT = b"\x00" * 8  # the chain hash of the empty log


#: Canonical JSON of an entry's data: compact, object keys sorted (msgspec allocates exactly
#: what the text needs, so a log's memory is its contents).
canonical = msgspec.json.Encoder(order="sorted").encode


_decode_json = msgspec.json.decode


def entry_key(entry: Entry) -> EntryKey:
    """Two entries are identical when their terms and their data (as JSON) are equal."""
    data = entry.data
    if type(data) is Raw:  # a RawEntry (checker/events.py): its data as written
        data = _decode_json(data)
    return (entry.term, canonical(data))


def raw_of(entry: Entry) -> Raw:
    """The entry's data as JSON text, owning its bytes (a decoded Raw points into the chunk
    it was read from, which it would keep alive)."""
    data = entry.data
    return data.copy() if type(data) is Raw else Raw(canonical(data))


_TERM = attrgetter("term")
_DATA = attrgetter("data")
_KEY_TERM = itemgetter(0)


def same_texts(entries: list[Entry], log: Log) -> bool:
    """Whether ``entries`` are the first ``len(entries)`` entries of ``log``, as written: same
    terms and same data text, compared in a few C-level calls. Equal texts are equal entries;
    different texts may still be (another key order): then keys must be compared."""
    n = len(entries)
    return (list(map(_TERM, entries)) == list(map(_KEY_TERM, log.keys[:n]))
            and list(map(_DATA, entries)) == log.raws[:n])


def applied_key(log: Log, index: int, entry: Entry) -> EntryKey:
    """The key of ``entry`` (an apply's, at ``index``): the log's key there when the texts
    match, which spares decoding and encoding it (the common case), else computed."""
    raws = log.raws
    if index <= len(raws) and entry.data == raws[index - 1]:
        key = log.keys[index - 1]
        if key[0] == entry.term:
            return key
    return entry_key(entry)


def chain_hash(parent: bytes, key: EntryKey) -> bytes:
    """The hash of a log ending in ``key`` whose prefix hashes to ``parent`` (deterministic)."""
    return hashlib.blake2b(parent + b"%d|" % key[0] + key[1], digest_size=8).digest()


class Log:
    """A node's log as parallel lists: entry keys, chain hashes, where each was written, and
    its data as written (to recognise the same entry again without decoding it)."""

    __slots__ = ("keys", "chain", "locs", "raws")

    def __init__(self) -> None:
        self.keys: list[EntryKey] = []
        self.chain: list[bytes] = []
        self.locs: list[Loc] = []
        self.raws: list[Raw] = []

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
        del self.raws[index - 1 :]


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
                 "started", "crashed", "up", "snapshot", "lead_term", "lead_loc", "term_loc",
                 "commit_loc", "apply_loc", "last_loc", "inbox", "seen_term", "seen_loc",
                 "received", "received_loc", "voters", "outgoing", "config_loc")

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
        self.up = False  # started and not crashed: one test in the checking loop
        self.snapshot: Snapshot | None = None
        self.lead_term: int | None = None  # the term this node was elected leader in
        self.lead_loc: Loc | None = None
        self.term_loc: Loc | None = None
        self.commit_loc: Loc | None = None
        self.apply_loc: Loc | None = None
        self.last_loc: Loc | None = None
        # Requests received and not yet answered: msg id -> (msg, loc), oldest first; bounded.
        self.inbox: dict[str, tuple[Message, Loc]] = {}
        # The highest term in any message received since the node (re)started, and where.
        self.seen_term = 0
        self.seen_loc: Loc | None = None
        # The message of the latest receive since the node (re)started, and where: what
        # append_limit derives, only when a commit needs it.
        self.received: Message | None = None
        self.received_loc: Loc | None = None
        # The configuration in force at this node (a ``config`` event; None: the header's nodes)
        # and, while a joint configuration is in force, its outgoing voters (else None).
        self.voters: frozenset[str] | None = None
        self.outgoing: frozenset[str] | None = None
        self.config_loc: Loc | None = None

    @property
    def append_limit(self) -> int | None:
        """After receiving an AppendEntries (and until the next receive): the highest commit
        index it justifies, min(leaderCommit, index of its last new entry); else None."""
        msg = self.received
        if not isinstance(msg, AppendEntries):
            return None
        return min(msg.leader_commit, msg.prev_log_index + len(msg.entries))

    @property
    def append_loc(self) -> Loc | None:
        """Where the AppendEntries of :attr:`append_limit` was received."""
        return self.received_loc if isinstance(self.received, AppendEntries) else None

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
    becomes ``older`` and the generation before it is dropped whole). At most
    ``pending_limit`` messages wait at once; beyond that the oldest are forgotten and
    ``forgotten`` counts them (an unknown receive may then be one of them). Contents are
    compared as decoded values (Python equality). Settled messages keep their content: reading
    a duplicate's send back from the trace instead cost more than keeping them (a few thousand
    messages) and is not possible for standard input or a compressed file.
    The engine inlines :meth:`sent` and :meth:`settle` in its hot loop; keep them in step.
    """

    __slots__ = ("pending", "settled", "older", "window", "pending_limit", "forgotten")

    def __init__(self, window: int = 1 << 12, pending_limit: int = 1 << 15) -> None:
        self.pending: dict[str, tuple[Message, Loc]] = {}
        self.settled: dict[str, tuple[Message, Loc]] = {}
        self.older: dict[str, tuple[Message, Loc]] = {}
        self.window = window
        self.pending_limit = pending_limit
        self.forgotten = 0

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
        """A settled message's send; None if not settled (recently)."""
        return self.settled.get(msg_id) or self.older.get(msg_id)

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
        self.settled[msg_id] = record
        if len(self.settled) >= self.window:
            self.rotate()
        return record

    def rotate(self) -> None:
        """The current generation of settled messages is full: it becomes the older one."""
        self.older = self.settled
        self.settled = {}
