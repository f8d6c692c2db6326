"""How each kind of event changes a node's state (spec/PROPERTIES.md, "How state is rebuilt
from events"), and which property hooks it calls: the general path of the checking loop.

The checking loop (checker/engine.py) handles the frequent events of a running node whose
term, vote and role do not change (send, receive, apply, drop) inline, as the methods here
would; every other event comes to :meth:`Rebuild.step`. This is also where a trace that makes
no sense is refused (a node's first event is its start, a crash is followed by a start with
``restart: true``, appends are contiguous, ...): breaking those is a :class:`TraceError`, not a
property violation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from checker.errors import TraceError
from checker.events import (
    UNSET,
    AnyEvent,
    Append,
    AppendEntries,
    AppendEntriesResponse,
    Apply,
    Commit,
    Config,
    Crash,
    Drop,
    Message,
    Receive,
    RequestVote,
    Send,
    Start,
    Truncate,
    Vote,
)
from checker.reader import TraceFile
from checker.slow_path import check_rules, named_nodes_ok
from checker.state import (
    Ledger,
    Loc,
    Log,
    MessageRegistry,
    NodeState,
    applied_key,
    chain_hash,
    entry_key,
    file_of,
    line_of,
    raw_of,
    same_texts,
)

INBOX_LIMIT = 256  # unanswered requests remembered per node
REQUESTS = (RequestVote, AppendEntries)

Hook = Callable[..., None]


class Rebuild:
    """Node state and the hooks it calls; :class:`checker.engine.Engine` sets it up."""

    files: list[TraceFile]
    nodes: dict[str, NodeState]
    names: frozenset[str]
    ledger: Ledger
    registry: MessageRegistry
    counts: dict[str, int]
    _handlers: dict[type, Callable[[NodeState, Any, Loc], None]]
    _on_term: list[Hook]
    _on_vote: list[Hook]
    _on_leader: list[Hook]
    _on_entry: list[Hook]
    _on_truncate: list[Hook]
    _on_commit: list[Hook]
    _on_apply: list[Hook]
    _on_start: list[Hook]
    _on_reply: list[Hook]
    _on_reused_id: list[Hook]
    _on_unmatched: list[Hook]
    _on_append_response: list[Hook]
    _on_stale_send: list[Hook]
    _on_follower_commit: list[Hook]
    _track_requests: bool

    def error(self, loc: Loc, field: str | None, message: str) -> TraceError:
        return TraceError(self.files[file_of(loc)].name, line_of(loc), field, message)

    def rule_error(self, ev: AnyEvent, loc: Loc, last_seq: int = -1) -> TraceError:
        """The error for an event that breaks one of the reader's rules (``seq`` increases,
        every node named is the header's, a config's voters distinct), as the reader's slow
        path words it."""
        name = self.files[file_of(loc)].name
        line = line_of(loc)
        try:
            check_rules(name, self.names, ev, line, last_seq)
        except TraceError as exc:
            return exc
        for field in ("voters", "outgoing"):  # uniqueItems: the one schema rule left
            members = getattr(ev, field, UNSET)
            if members is not UNSET and len(set(members)) != len(members):
                return TraceError(name, line, field, "must not hold the same value twice")
        raise AssertionError(f"no rule broken at {name}:{line}")

    def step(self, ev: AnyEvent, loc: Loc) -> None:
        """Apply one event: common state fields, then what its kind does, then role/commit.
        ``seq`` has been checked (the checking loop does that for every event), and the node ids
        it names are members (the reader's decoder does that: checker/events.py, model_for);
        a config's voters must also be distinct."""
        n = self.nodes[ev.node]
        kind = ev.KIND
        if isinstance(ev, Config) and not named_nodes_ok(ev, self.names):
            raise self.rule_error(ev, loc)
        self.counts[kind] += 1
        if isinstance(ev, Drop):
            # Written by the network for the addressee, possibly while it is down: it changes
            # no node state; the message will not be received.
            self.registry.settle(ev.msg.id)
            return
        if not n.up and not isinstance(ev, Start):
            self._not_running(n, kind, loc)
        term = ev.term
        vote = ev.vote
        if term != n.term:
            for hook in self._on_term:
                hook(n, term, loc)
            n.term = term
            n.term_loc = loc
            if vote is not None:
                for hook in self._on_vote:
                    hook(n, term, vote, loc)
            n.vote = vote
        elif vote != n.vote:
            if vote is not None:
                for hook in self._on_vote:
                    hook(n, term, vote, loc)
            n.vote = vote
        handler = self._handlers.get(type(ev))
        if handler is not None:
            handler(n, ev, loc)
        role = ev.role
        if role != n.role:
            n.role = role
            if role == "leader":
                n.lead_term = term
                n.lead_loc = loc
                for hook in self._on_leader:
                    hook(n, loc)
        commit = ev.commit
        if commit != n.commit:
            self._commit_changed(n, commit, loc)
        n.last_loc = loc

    def _commit_changed(self, n: NodeState, commit: int, loc: Loc) -> None:
        old = n.commit
        n.commit = commit
        if commit > old:
            n.commit_loc = loc
            for hook in self._on_commit:
                hook(n, old, commit, loc)
            if n.append_limit is not None and n.role != "leader":
                for hook in self._on_follower_commit:
                    hook(n, old, commit, loc)

    def _not_running(self, n: NodeState, kind: str, loc: Loc) -> None:
        if n.crashed:
            where = line_of(n.snapshot.loc) if n.snapshot else "?"
            raise self.error(loc, "kind", f"{n.name} crashed (line {where}); its next event must "
                                          f"be a start with restart: true, not {kind}")
        raise self.error(loc, "kind", f"the first event of {n.name} must be its start, not "
                                      f"{kind}")

    # ------------------------------------------------------------------ per kind

    def _start(self, n: NodeState, ev: Start, loc: Loc) -> None:
        """The node (re)starts from its persisted term, vote and log."""
        if n.crashed and not ev.restart:
            raise self.error(loc, "restart", f"{n.name} crashed before: its start must have "
                                             "restart: true")
        snapshot = n.snapshot if n.crashed else (
            n.take_snapshot(n.last_loc) if n.started and n.last_loc else None)
        old_log = n.log
        # A restart usually shows the log it had: share the keys and hashes of the common
        # prefix (they were registered and checked when first written) and hash only what is
        # new. The prefix is compared as written, in a few calls (same_texts); only if the texts
        # differ are the entries decoded and compared by key.
        entries = ev.log
        old_keys = old_log.keys
        limit = min(len(entries), len(old_keys))
        if limit and same_texts(entries[:limit], old_log):
            same = limit
            keys = old_keys[:limit]
            keys += [entry_key(entry) for entry in entries[limit:]]
            raws = old_log.raws[:limit]
            raws += [raw_of(entry) for entry in entries[limit:]]
        else:
            keys = [entry_key(entry) for entry in entries]
            raws = [raw_of(entry) for entry in entries]
            same = 0
            while same < limit and keys[same] == old_keys[same]:
                same += 1
        log = Log()
        log.keys = keys
        log.raws = raws
        log.chain = old_log.chain[:same]
        log.locs = old_log.locs[:same]
        parent = log.last_hash
        register = self.ledger.register
        for i in range(same + 1, len(keys) + 1):
            key = keys[i - 1]
            h = chain_hash(parent, key)
            log.chain.append(h)
            log.locs.append(loc)
            register(parent, i, key, h, loc)
            for hook in self._on_entry:
                hook(n, i, key, h, loc)
            parent = h
        n.log = log
        if n.started:
            n.replay_from = 1
        n.started = True
        n.crashed = False
        n.up = True
        n.snapshot = None
        n.lead_term = None
        n.role = "follower"  # the generic role update then applies the start's own role
        n.inbox.clear()
        n.seen_term = 0
        n.seen_loc = None
        n.received = None
        for hook in self._on_start:
            hook(n, ev, loc, snapshot, old_log)

    def _crash(self, n: NodeState, ev: Crash, loc: Loc) -> None:
        n.snapshot = n.take_snapshot(loc)
        n.crashed = True
        n.up = False
        n.inbox.clear()

    def _config(self, n: NodeState, ev: Config, loc: Loc) -> None:
        """Membership: the configuration in force at this node from now on (rare: off the
        fast lane). An empty ``outgoing`` means no joint configuration."""
        n.voters = frozenset(ev.voters)
        outgoing = ev.outgoing
        n.outgoing = frozenset(outgoing) if outgoing else None
        n.config_loc = loc

    def _vote(self, n: NodeState, ev: Vote, loc: Loc) -> None:
        candidate = ev.candidate
        if ev.vote != candidate:
            raise self.error(loc, "vote", f"a vote for {candidate} must leave vote = "
                                          f"\"{candidate}\", not {ev.vote!r}")
        for hook in self._on_vote:
            hook(n, ev.term, candidate, loc)

    def _append(self, n: NodeState, ev: Append, loc: Loc) -> None:
        """Entries written at index, index+1, ...; the log held index-1 entries before."""
        index = ev.index
        log = n.log
        length = len(log)
        if index != length + 1:
            if index > length + 1:
                raise self.error(loc, "index", f"append at index {index} but {n.name}'s log "
                                               f"holds {length} entries (the next is "
                                               f"{length + 1}): logs have no holes")
            if not n.leading:
                raise self.error(loc, "index", f"append at index {index} but {n.name}'s log "
                                               f"holds {length} entries: a truncate at "
                                               f"{index} must come first")
            for hook in self._on_truncate:  # a leader overwriting: LeaderAppendOnly reports it
                hook(n, index, loc, True)
            log.truncate(index)
        parent = log.last_hash
        keys, chain, locs, raws = log.keys, log.chain, log.locs, log.raws
        register = self.ledger.register
        on_entry = self._on_entry
        for i, entry in enumerate(ev.entries, start=index):
            key = entry_key(entry)
            h = chain_hash(parent, key)
            keys.append(key)
            raws.append(raw_of(entry))
            chain.append(h)
            locs.append(loc)
            register(parent, i, key, h, loc)
            for hook in on_entry:
                hook(n, i, key, h, loc)
            parent = h

    def _truncate(self, n: NodeState, ev: Truncate, loc: Loc) -> None:
        index = ev.index
        length = len(n.log)
        if index > length + 1:
            raise self.error(loc, "index", f"truncate at index {index} but {n.name}'s log holds "
                                           f"only {length} entries")
        for hook in self._on_truncate:
            hook(n, index, loc, False)
        n.log.truncate(index)

    def _commit(self, n: NodeState, ev: Commit, loc: Loc) -> None:
        if ev.index != ev.commit:
            raise self.error(loc, "index", f"a commit to index {ev.index} must leave "
                                           f"commit = {ev.index}, not {ev.commit}")

    def _apply(self, n: NodeState, ev: Apply, loc: Loc) -> None:
        index = ev.index
        if self._on_apply:
            key = applied_key(n.log, index, ev.entry)
            commit = ev.commit
            for hook in self._on_apply:
                hook(n, index, key, loc, commit)
        n.applied = index
        n.replay_from = None
        n.apply_loc = loc

    def _send(self, n: NodeState, ev: Send, loc: Loc) -> None:
        msg = ev.msg
        if msg.from_ != n.name:
            raise self.error(loc, "msg.from", f"{n.name} sends a message from {msg.from_}")
        if msg.term < n.seen_term:
            for hook in self._on_stale_send:
                hook(n, msg, loc)
        earlier = self.registry.sent(msg, loc)
        if earlier is not None:
            for hook in self._on_reused_id:
                hook(n, msg, loc, earlier)
        if self._track_requests and msg.reply_to is not UNSET:
            request = n.inbox.pop(msg.reply_to, None)
            if request is not None:
                for hook in self._on_reply:
                    hook(n, msg, loc, request)

    def _receive(self, n: NodeState, ev: Receive, loc: Loc) -> None:
        msg = ev.msg
        if msg.to != n.name:
            raise self.error(loc, "msg.to", f"{n.name} receives a message addressed to "
                                            f"{msg.to}")
        sent = self.registry.settle(msg.id) or self.registry.recall(msg.id)
        if sent is None or sent[0] != msg:
            for hook in self._on_unmatched:
                hook(n, msg, loc, sent)
        _note_received(n, msg, loc)
        if isinstance(msg, AppendEntriesResponse):
            for hook in self._on_append_response:
                hook(n, msg, loc)
        elif self._track_requests and isinstance(msg, REQUESTS):
            inbox = n.inbox
            inbox[msg.id] = (msg, loc)
            if len(inbox) > INBOX_LIMIT:
                del inbox[next(iter(inbox))]  # the oldest


def _note_received(n: NodeState, msg: Message, loc: Loc) -> None:
    """Remember what a receive obliges the node to: adopt a higher term (Figure 2, All Servers
    rule 2), and commit no further than this AppendEntries justifies (receiver rule 5: the
    latest message received, from which NodeState.append_limit derives the bound)."""
    term = msg.term
    if term > n.seen_term:
        n.seen_term = term
        n.seen_loc = loc
    n.received = msg
    n.received_loc = loc


