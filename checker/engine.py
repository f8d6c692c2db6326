"""The checking loop: events in, node state rebuilt, property hooks called, a report out.

State follows spec/PROPERTIES.md, "How state is rebuilt from events": term, role, vote and
commit are the latest event's fields; the log follows start, append and truncate. The engine
also enforces what makes a trace usable at all (a node's first event is its start, a crash is
followed by a start with ``restart: true``, appends are contiguous, ...): breaking those is a
:class:`TraceError`, not a property violation.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable
from itertools import chain
from pathlib import Path
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
from checker.properties import ALL_PROPERTIES, PROPERTY_NAMES, Context, Property
from checker.reader import MemorySource, Source, TraceFile, merge, redecode
from checker.report import CheckReport
from checker.runs import check_one_run, missing_members_error, per_process
from checker.schema import KINDS
from checker.sources import STDIN, open_source
from checker.state import (
    Ledger,
    Loc,
    Log,
    MessageRegistry,
    NodeState,
    canonical,
    chain_hash,
    entry_key,
    same_entries,
)

INBOX_LIMIT = 256  # unanswered requests remembered per node
REQUESTS = frozenset((RequestVote, AppendEntries))
_HOT = frozenset({Apply, Send, Receive, Drop})

Hook = Callable[..., None]


class UnknownPropertyError(ValueError):
    """--only/--skip named a property that does not exist."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown property {name!r}; valid names: {', '.join(PROPERTY_NAMES)}")
        self.name = name

    def __reduce__(self) -> tuple[type[UnknownPropertyError], tuple[str]]:
        # Unpickling calls cls(*args): the name, not the message built from it.
        return type(self), (self.name,)


def select_properties(only: Iterable[str] | None = None,
                      skip: Iterable[str] | None = None) -> list[type[Property]]:
    """The properties to check, in spec order: ``only`` (default all) minus ``skip``."""
    only_set = set(only) if only else set(PROPERTY_NAMES)
    skip_set = set(skip or ())
    for name in sorted(only_set | skip_set):
        if name not in PROPERTY_NAMES:
            raise UnknownPropertyError(name)
    return [p for p in ALL_PROPERTIES if p.name in only_set and p.name not in skip_set]


class Engine:
    """Checks the events of ``files`` (one file, or several merged) against ``properties``."""

    def __init__(self, files: list[TraceFile], properties: list[type[Property]],
                 message_window: int = 1 << 12, *, partial: bool = False,
                 merge_anyway: bool = False) -> None:
        self.files = files
        self.sources: list[Source] = [f.source for f in files]
        check_one_run(files, merge_anyway)
        self.partial = partial
        first = files[0]
        self.nodes = {name: NodeState(name) for name in first.header["nodes"]}
        self.ledger = Ledger()
        rereadable = all(source.rereadable for source in self.sources)
        self.registry = MessageRegistry(self._reload_message if rereadable else None,
                                        message_window)
        self.ctx = Context(self.nodes, self.sources, self.ledger, self.registry,
                           per_process(files))
        self.props = [cls(self.ctx) for cls in properties]
        hooks: dict[str, list[Hook]] = {}
        for prop in self.props:
            for name in prop.hooks():
                hooks.setdefault(name, []).append(getattr(prop, name))
        get = hooks.get
        self._on_term = get("on_term", [])
        self._on_vote = get("on_vote", [])
        self._on_leader = get("on_leader", [])
        self._on_entry = get("on_entry", [])
        self._on_truncate = get("on_truncate", [])
        self._on_commit = get("on_commit", [])
        self._on_apply = get("on_apply", [])
        self._on_start = get("on_start", [])
        self._on_reply = get("on_reply", [])
        self._on_reused_id = get("on_reused_id", [])
        self._on_unmatched = get("on_unmatched", [])
        self._on_append_response = get("on_append_response", [])
        self._on_stale_send = get("on_stale_send", [])
        self._on_follower_commit = get("on_follower_commit", [])
        self._on_finish = get("on_finish", [])
        self._track_requests = bool(self._on_reply)
        self.counts = dict.fromkeys(KINDS, 0)
        self._handlers: dict[type, Callable[[NodeState, Any, Loc], None]] = {
            Start: self._start, Crash: self._crash, Vote: self._vote,
            Append: self._append, Truncate: self._truncate, Commit: self._commit,
            Apply: self._apply, Send: self._send, Receive: self._receive,
            Config: self._config,
        }

    # ------------------------------------------------------------------ the loop

    def run(self) -> CheckReport:
        # Events are acyclic dicts freed by reference counting; the cyclic collector would only
        # rescan the (large, long-lived) rebuilt state again and again, so it pauses meanwhile.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            if len(self.files) == 1:
                # The reader's batches (one per chunk read) flattened in C.
                self._loop(chain.from_iterable(self.files[0].batches()))
            else:
                self._loop(merge(self.files, self.registry.known))
            self._finish()
            return self.report()
        finally:
            if gc_was_enabled:
                gc.enable()
            for source in self.sources:
                source.close()

    def _finish(self) -> None:
        """After the last event: members of a per-process run that no file showed are missing
        files (an error unless ``partial``); properties conclude."""
        absent: frozenset[str] = frozenset()
        if self.ctx.per_process:
            absent = frozenset(name for name, n in self.nodes.items() if not n.started)
            if absent and not self.partial:
                raise missing_members_error(self.files, sorted(absent))
            if absent:
                self.ctx.notes.append(
                    f"partial check (--partial): the files given hold no events of "
                    f"{', '.join(sorted(absent))}; the properties were checked on what they "
                    "show")
        for hook in self._on_finish:
            hook(absent)

    def _loop(self, events: Iterable[tuple[AnyEvent, Loc]]) -> None:
        """:meth:`step` for every event, with the hottest kinds (apply, send, receive, drop:
        nine events in ten) handled inline: this loop is the checker's throughput."""
        nodes = self.nodes
        counts = self.counts
        step = self.step
        registry = self.registry
        settle = registry.settle
        pending = registry.pending
        settled = registry.settled
        older = registry.older
        window = registry.window
        keep = registry.reload is None  # keep contents of settled messages (pipes)
        pending_limit = registry.pending_limit
        on_apply = self._on_apply
        on_reply = self._on_reply
        on_reused = self._on_reused_id
        on_unmatched = self._on_unmatched
        on_aer = self._on_append_response
        on_stale_send = self._on_stale_send
        track = self._track_requests
        hot = _HOT
        encode_data = canonical
        requests = REQUESTS
        # Fast-lane events are counted in locals (added to self.counts at the end): a dict
        # update per event costs more than the rest of a drop.
        sends = receives = applies = drops = 0
        for ev, loc in events:
            kind = type(ev)
            n = nodes[ev.node]
            # The inline fast lane: a running node whose term, vote and role do not change.
            if (kind in hot and n.started and not n.crashed and ev.term == n.term
                    and ev.vote == n.vote and ev.role == n.role):
                if kind is Send:
                    sends += 1
                    msg = ev.msg
                    if msg.from_ != n.name:
                        raise self.error(loc, "msg.from",
                                         f"{n.name} sends a message from {msg.from_}")
                    if msg.term < n.seen_term:
                        for hook in on_stale_send:
                            hook(n, msg, loc)
                    mid = msg.id
                    if mid not in pending and mid not in settled and mid not in older:
                        pending[mid] = (msg, loc)
                        if len(pending) > pending_limit:
                            registry.forget()
                    else:
                        earlier = pending.get(mid) or registry.recall(mid)
                        for hook in on_reused:
                            hook(n, msg, loc, earlier)
                    if track and msg.reply_to is not UNSET:
                        request = n.inbox.pop(msg.reply_to, None)
                        if request is not None:
                            for hook in on_reply:
                                hook(n, msg, loc, request)
                elif kind is Receive:
                    receives += 1
                    msg = ev.msg
                    if msg.to != n.name:
                        raise self.error(loc, "msg.to", f"{n.name} receives a message "
                                                        f"addressed to {msg.to}")
                    mid = msg.id
                    sent = pending.pop(mid, None)
                    if sent is not None:
                        settled[mid] = sent if keep else sent[1]
                        if len(settled) >= window:
                            registry.rotate()
                            settled = registry.settled
                            older = registry.older
                    else:  # a duplicate delivery (or no send at all)
                        sent = registry.recall(mid)
                    if sent is None or sent[0] != msg:
                        for hook in on_unmatched:
                            hook(n, msg, loc, sent)
                    # _note_received, inlined.
                    mtype = type(msg)
                    if msg.term > n.seen_term:
                        n.seen_term = msg.term
                        n.seen_loc = loc
                    if mtype is AppendEntries:
                        last_new = msg.prev_log_index + len(msg.entries)
                        n.append_limit = (min(msg.leader_commit, last_new), loc)
                    else:
                        n.append_limit = None
                    if mtype is AppendEntriesResponse:
                        for hook in on_aer:
                            hook(n, msg, loc)
                    elif track and mtype in requests:
                        inbox = n.inbox
                        inbox[mid] = (msg, loc)
                        if len(inbox) > INBOX_LIMIT:
                            inbox.popitem(last=False)
                elif kind is Apply:
                    applies += 1
                    index = ev.index
                    if on_apply:
                        entry = ev.entry
                        key = (entry.term, encode_data(entry.data))  # entry_key, inlined
                        for hook in on_apply:
                            hook(n, index, key, loc, ev.commit)
                    n.applied = index
                    n.replay_from = None
                    n.apply_loc = loc
                else:  # drop
                    drops += 1
                    settle(ev.msg.id)
                    settled = registry.settled  # settle may have started a new generation
                    older = registry.older
                commit = ev.commit
                if commit != n.commit:
                    self._commit_changed(n, commit, loc)
                n.last_loc = loc
            else:
                step(ev, loc)
                settled = registry.settled  # as after settle()
                older = registry.older
        counts["send"] += sends
        counts["receive"] += receives
        counts["apply"] += applies
        counts["drop"] += drops

    def report(self) -> CheckReport:
        events = sum(self.counts.values())
        report = CheckReport(files=[s.name for s in self.sources], events=events)
        for prop in self.props:
            kinds = prop.kinds
            prop.result.evaluated = (events if kinds is None
                                     else sum(self.counts[k] for k in kinds))
            report.properties.append(prop.result)
        report.notes.extend(self.ctx.notes)
        self.ctx.fill_citations(self.props)
        if self.registry.forgotten:
            report.notes.append(f"{self.registry.forgotten} sent messages were still undelivered "
                                "beyond the message window and were forgotten; receives of "
                                "unknown messages were not reported after that")
        return report

    def _reload_message(self, loc: Loc) -> Message:
        """The message of the send event at ``loc``, read back from its trace (for the rare
        duplicate delivery of a message whose content is no longer kept)."""
        ev = redecode(self.sources[loc[0]].text(loc[1], loc[2]).encode("utf-8", "surrogatepass"))
        if not isinstance(ev, Send):
            raise self.error(loc, None, "this line changed while the trace was being checked")
        return ev.msg

    def error(self, loc: Loc, field: str | None, message: str) -> TraceError:
        return TraceError(self.sources[loc[0]].name, loc[1], field, message)

    def step(self, ev: AnyEvent, loc: Loc) -> None:
        """Apply one event: common state fields, then what its kind does, then role/commit."""
        n = self.nodes[ev.node]
        kind = ev.KIND
        self.counts[kind] += 1
        if type(ev) is Drop:
            # Written by the network for the addressee, possibly while it is down: it changes
            # no node state; the message will not be received.
            self.registry.settle(ev.msg.id)
            return
        if n.crashed or not n.started:
            if kind != "start":
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
            where = n.snapshot.loc[1] if n.snapshot else "?"
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
        # new. The prefix is compared in a few calls (same_entries), not one entry_key per entry.
        entries = ev.log
        old_keys = old_log.keys
        limit = min(len(entries), len(old_keys))
        if limit and same_entries(entries[:limit], old_keys[:limit]):
            same = limit
            keys = old_keys[:limit]
            keys += [entry_key(entry) for entry in entries[limit:]]
        else:
            keys = [entry_key(entry) for entry in entries]
            same = 0
            while same < limit and keys[same] == old_keys[same]:
                same += 1
        log = Log()
        log.keys = keys
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
        n.snapshot = None
        n.lead_term = None
        n.role = "follower"  # the generic role update then applies the start's own role
        n.inbox.clear()
        n.seen_term = 0
        n.seen_loc = None
        n.append_limit = None
        for hook in self._on_start:
            hook(n, ev, loc, snapshot, old_log)

    def _crash(self, n: NodeState, ev: Crash, loc: Loc) -> None:
        n.snapshot = n.take_snapshot(loc)
        n.crashed = True
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
        keys, chain, locs = log.keys, log.chain, log.locs
        register = self.ledger.register
        on_entry = self._on_entry
        for i, entry in enumerate(ev.entries, start=index):
            key = entry_key(entry)
            h = chain_hash(parent, key)
            keys.append(key)
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
            key = entry_key(ev.entry)
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
        if type(msg) is AppendEntriesResponse:
            for hook in self._on_append_response:
                hook(n, msg, loc)
        elif self._track_requests and type(msg) in REQUESTS:
            inbox = n.inbox
            inbox[msg.id] = (msg, loc)
            if len(inbox) > INBOX_LIMIT:
                inbox.popitem(last=False)


def _note_received(n: NodeState, msg: Message, loc: Loc) -> None:
    """Remember what a receive obliges the node to: adopt a higher term (Figure 2, All Servers
    rule 2), and commit no further than this AppendEntries justifies (receiver rule 5)."""
    term = msg.term
    if term > n.seen_term:
        n.seen_term = term
        n.seen_loc = loc
    if type(msg) is AppendEntries:
        last_new = msg.prev_log_index + len(msg.entries)
        n.append_limit = (min(msg.leader_commit, last_new), loc)
    else:
        n.append_limit = None


def _open(paths: list[str | Path]) -> list[TraceFile]:
    seen: dict[Path | str, str] = {}
    files: list[TraceFile] = []
    try:
        for i, path in enumerate(paths):
            try:
                resolved: Path | str = STDIN if str(path) == STDIN else Path(path).resolve()
            except OSError:
                resolved = Path(path)
            if resolved in seen:
                raise TraceError(str(path), 0, None, f"is given twice (also as {seen[resolved]})")
            seen[resolved] = str(path)
            files.append(TraceFile(open_source(path), i))
    except BaseException:
        for f in files:
            f.close()
        raise
    return files


def check_files(paths: Iterable[str | Path], only: Iterable[str] | None = None,
                skip: Iterable[str] | None = None, *, partial: bool = False,
                merge_anyway: bool = False) -> CheckReport:
    """Check one trace file, or several (one per process) merged; see spec/PROPERTIES.md.

    ``-`` is standard input; gzip-compressed files are read as they are. Several files must be
    one run (checker/runs.py) unless ``merge_anyway``; a per-process run whose members have no
    events in the files is refused unless ``partial``, which checks what the files show.
    Raises TraceError for unusable input and UnknownPropertyError for a bad property name.
    """
    properties = select_properties(only, skip)
    path_list = list(paths)
    if not path_list:
        raise ValueError("no trace files given")
    files = _open(path_list)
    try:
        engine = Engine(files, properties, partial=partial, merge_anyway=merge_anyway)
    except BaseException:
        for f in files:
            f.close()
        raise
    return engine.run()


def check_lines(lines: Iterable[str | bytes], name: str = "<memory>",
                only: Iterable[str] | None = None,
                skip: Iterable[str] | None = None) -> CheckReport:
    """Check a trace given as lines (with or without their newlines): for tests."""
    properties = select_properties(only, skip)
    return Engine([TraceFile(MemorySource(lines, name), 0)], properties).run()
