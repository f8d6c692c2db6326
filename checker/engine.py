"""The checking loop: events in, node state rebuilt, property hooks called, a report out.

State follows spec/PROPERTIES.md, "How state is rebuilt from events" (checker/rebuild.py),
whose :meth:`Rebuild.step` is the one definition of what an event does. This loop is the
checker's throughput: every event passes through it once, so the frequent events (send,
receive, drop, apply of a running node whose term, vote, role and commit stay: nine in ten)
take a branch of their kind that does what ``step`` would, inline, calling each hook the
enabled properties define as one call (``fan_out``); everything else goes to ``step``.
``Engine(..., branches=False)`` runs every event through ``step``, and the tests compare the
two.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable
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
    Propose,
    Receive,
    RequestVote,
    Send,
    Start,
    Truncate,
    Vote,
)
from checker.history import HistoryReport, check_records
from checker.properties import ALL_PROPERTIES, PROPERTY_NAMES, Context, Property
from checker.reader import MemorySource, TraceFile, merge_pairs
from checker.rebuild import INBOX_LIMIT, Hook, Rebuild
from checker.report import CheckReport
from checker.runs import check_one_run, missing_members_error, per_process
from checker.schema import KINDS
from checker.sources import STDIN, open_source
from checker.state import Ledger, Loc, MessageRegistry, NodeState, applied_key


class UnknownPropertyError(ValueError):
    """--only/--skip named a property that does not exist."""

    def __init__(self, name: str) -> None:
        super().__init__(f"unknown property {name!r}; valid names: {', '.join(PROPERTY_NAMES)}")
        self.name = name

    def __reduce__(self) -> tuple[type[UnknownPropertyError], tuple[str]]:
        # Unpickling calls cls(*args): the name, not the message built from it.
        return type(self), (self.name,)


def fan_out(hooks: list[Hook]) -> Hook | None:
    """The hooks of one name as one callable: None for none, the hook itself for one."""
    if not hooks:
        return None
    if len(hooks) == 1:
        return hooks[0]

    def call_all(*args: Any) -> None:
        for hook in hooks:
            hook(*args)
    return call_all


def select_properties(only: Iterable[str] | None = None,
                      skip: Iterable[str] | None = None) -> list[type[Property]]:
    """The properties to check, in spec order: ``only`` (default all) minus ``skip``."""
    only_set = set(only) if only else set(PROPERTY_NAMES)
    skip_set = set(skip or ())
    for name in sorted(only_set | skip_set):
        if name not in PROPERTY_NAMES:
            raise UnknownPropertyError(name)
    return [p for p in ALL_PROPERTIES if p.name in only_set and p.name not in skip_set]


class Engine(Rebuild):
    """Checks the events of ``files`` (one file, or several merged) against ``properties``."""

    def __init__(self, files: list[TraceFile], properties: list[type[Property]],
                 message_window: int = 1 << 12, *, partial: bool = False,
                 merge_anyway: bool = False, branches: bool = True) -> None:
        self.files = files
        #: Whether the loop takes its per-kind branches (False: every event through step).
        self.branches = branches
        check_one_run(files, merge_anyway)
        self.partial = partial
        self.nodes = {name: NodeState(name) for name in files[0].header["nodes"]}
        self.names = frozenset(self.nodes)
        self.ledger = Ledger()
        self.registry = MessageRegistry(message_window)
        self.ctx = Context(self.nodes, files, self.ledger, self.registry, per_process(files))
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
        # The classes of the cluster's model (checker/events.py, model_for), which the
        # reader decodes into for this loop.
        self.model = model = files[0].model
        self._handlers = {
            model[Start]: self._start, model[Crash]: self._crash, model[Vote]: self._vote,
            model[Append]: self._append, model[Truncate]: self._truncate,
            model[Commit]: self._commit, model[Apply]: self._apply, model[Send]: self._send,
            model[Receive]: self._receive, model[Config]: self._config,
        }

    # ------------------------------------------------------------------ the loop

    def run(self) -> CheckReport:
        # Events are acyclic and freed by reference counting; the cyclic collector would only
        # rescan the (large, long-lived) rebuilt state again and again, so it pauses meanwhile.
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            loop = self._loop if self.branches else self._plain_loop
            loop(merge_pairs(self.files, self.registry.known, rules=False))
            self._finish()
            report = self.report()
            report.history = judge_history(self.files)
            return report
        finally:
            if gc_was_enabled:
                gc.enable()
            for f in self.files:
                f.close()
                f.source.close()

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

    def _loop(self, events: Iterable[tuple[Loc, AnyEvent]]) -> None:
        """Every event through :meth:`step`, but for the frequent kinds (send, receive, drop,
        apply, append, propose, truncate, vote) of a running node whose term, vote, role and
        commit stay: those take a branch of their kind that does what ``step`` would, inline
        (keep them in step with the methods of checker/rebuild.py they stand for;
        tests/test_checker_paths.py checks that both paths give the same reports). The
        reader has checked ``seq`` and that every node id an event names is a member."""
        nodes = self.nodes
        counts = self.counts
        step = self.step
        registry = self.registry
        pending = registry.pending
        settled = registry.settled
        older = registry.older
        window = registry.window
        pending_limit = registry.pending_limit
        # One callable (or None) per hook the branches call: a call, not a loop over a list;
        # but on_apply, which two properties define, is called in a loop (a wrapper taking
        # *args costs more).
        on_apply = tuple(self._on_apply)
        on_reply = fan_out(self._on_reply)
        on_reused = fan_out(self._on_reused_id)
        on_unmatched = fan_out(self._on_unmatched)
        on_aer = fan_out(self._on_append_response)
        on_stale_send = fan_out(self._on_stale_send)
        track = self._track_requests
        unset = UNSET
        model = self.model
        send_, receive_, apply_, drop_ = model[Send], model[Receive], model[Apply], model[Drop]
        append_entries, aer = model[AppendEntries], model[AppendEntriesResponse]
        requests = (model[RequestVote], append_entries)
        handlers = self._handlers
        # Kinds whose handler is all step() would do for a running node whose term, vote, role
        # and commit stay (commit, start, crash and config always change more).
        lane = {model[cls]: cls.KIND for cls in (Append, Propose, Truncate, Vote)}
        # The branches count in locals (added to self.counts at the end): a dict update per
        # event costs more than the rest of a drop.
        sends = receives = applies = drops = 0
        for loc, ev in events:
            kind = type(ev)
            if kind is send_:
                n = nodes[ev.node]
                # The test of every branch: the event leaves the node as it was.
                if (ev.term != n.term or ev.vote != n.vote or ev.role != n.role
                        or ev.commit != n.commit or not n.up):
                    step(ev, loc)
                    settled = registry.settled  # settle() may have started a new generation
                    older = registry.older
                    continue
                sends += 1
                msg = ev.msg
                if msg.from_ != n.name:
                    step(ev, loc)  # raises the precise error
                if msg.term < n.seen_term and on_stale_send is not None:
                    on_stale_send(n, msg, loc)
                mid = msg.id
                if mid in pending or mid in settled or mid in older:  # registry.sent, inlined
                    if on_reused is not None:
                        on_reused(n, msg, loc, pending.get(mid) or registry.recall(mid))
                else:
                    pending[mid] = (msg, loc)
                    if len(pending) > pending_limit:
                        registry.forget()
                if track and msg.reply_to is not unset:
                    request = n.inbox.pop(msg.reply_to, None)
                    if request is not None:
                        on_reply(n, msg, loc, request)  # type: ignore[misc]
            elif kind is receive_:
                n = nodes[ev.node]
                if (ev.term != n.term or ev.vote != n.vote or ev.role != n.role
                        or ev.commit != n.commit or not n.up):
                    step(ev, loc)
                    settled = registry.settled
                    older = registry.older
                    continue
                receives += 1
                msg = ev.msg
                if msg.to != n.name:
                    step(ev, loc)  # raises the precise error
                mid = msg.id
                sent = pending.pop(mid, None)  # registry.settle, inlined
                if sent is not None:
                    settled[mid] = sent
                    if len(settled) >= window:
                        registry.rotate()
                        settled = registry.settled
                        older = registry.older
                else:  # a duplicate delivery (or no send at all)
                    sent = settled.get(mid) or older.get(mid)
                if on_unmatched is not None and (sent is None or sent[0] != msg):
                    on_unmatched(n, msg, loc, sent)
                term = msg.term  # note_received, inlined
                if term > n.seen_term:
                    n.seen_term = term
                    n.seen_loc = loc
                n.received = msg
                n.received_loc = loc
                mtype = type(msg)
                if mtype is aer:
                    if on_aer is not None:
                        on_aer(n, msg, loc)
                elif track and mtype in requests:
                    inbox = n.inbox
                    inbox[mid] = (msg, loc)
                    if len(inbox) > INBOX_LIMIT:
                        del inbox[next(iter(inbox))]  # the oldest
            elif kind is drop_:  # changes no node state, whatever its fields say
                drops += 1
                mid = ev.msg.id
                record = pending.pop(mid, None)  # registry.settle, inlined
                if record is not None:
                    settled[mid] = record
                    if len(settled) >= window:
                        registry.rotate()
                        settled = registry.settled
                        older = registry.older
                continue
            elif kind is apply_:
                n = nodes[ev.node]
                if (ev.term != n.term or ev.vote != n.vote or ev.role != n.role
                        or ev.commit != n.commit or not n.up):
                    step(ev, loc)
                    settled = registry.settled
                    older = registry.older
                    continue
                applies += 1
                index = ev.index
                if on_apply:
                    # applied_key, inlined: the log's key when the entry's text is the log's.
                    entry = ev.entry
                    log = n.log
                    if index <= len(log.raws) and entry.data == log.raws[index - 1] and (
                            log.keys[index - 1][0] == entry.term):
                        key = log.keys[index - 1]
                    else:
                        key = applied_key(log, index, entry)
                    commit = ev.commit
                    for hook in on_apply:
                        hook(n, index, key, loc, commit)
                n.applied = index
                n.replay_from = None
                n.apply_loc = loc
            elif kind in lane:  # append, propose, truncate, vote: their handler only
                n = nodes[ev.node]
                if (ev.term != n.term or ev.vote != n.vote or ev.role != n.role
                        or ev.commit != n.commit or not n.up):
                    step(ev, loc)
                    settled = registry.settled
                    older = registry.older
                    continue
                counts[lane[kind]] += 1
                handler = handlers.get(kind)
                if handler is not None:
                    handler(n, ev, loc)
            else:  # start, crash, commit, config, and kinds that always change term or role
                step(ev, loc)
                settled = registry.settled
                older = registry.older
                continue
            n.last_loc = loc
        counts["send"] += sends
        counts["receive"] += receives
        counts["apply"] += applies
        counts["drop"] += drops

    def _plain_loop(self, events: Iterable[tuple[Loc, AnyEvent]]) -> None:
        """Every event through :meth:`step`: what :meth:`_loop` does, without its branches
        (for tests that compare the two)."""
        step = self.step
        for loc, ev in events:
            step(ev, loc)

    def report(self) -> CheckReport:
        events = sum(self.counts.values())
        report = CheckReport(files=[f.name for f in self.files], events=events)
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


def judge_history(files: list[TraceFile]) -> HistoryReport | None:
    """The client history the files carry (their history lines), judged for
    linearizability (checker/history), or None when they carry none. An unusable one raises
    a TraceError naming the line and the field of its ``op``."""
    carried = [(f.name, f.history) for f in files if f.history]
    if not carried:
        return None
    try:
        return check_records(carried)
    except TraceError as exc:
        field = f"op.{exc.field}" if exc.field and not exc.field.startswith("op") else exc.field
        raise TraceError(exc.path, exc.line, field, exc.message) from None


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
