"""What every property shares: its identity, its hooks, and how it reports a violation.

The engine (checker/engine.py) rebuilds node state from events and calls, for each enabled
property, only the hooks that property defines:

- ``on_term(n, new_term, loc)``: the node's term is about to change (``n.term`` is the old one).
- ``on_vote(n, term, candidate, loc)``: the node shows a vote for ``candidate`` in ``term``.
- ``on_leader(n, loc)``: the node became leader of ``n.term`` (a ``role`` event).
- ``on_entry(n, index, key, h, loc)``: an entry was written at ``index`` (chain hash ``h``).
- ``on_truncate(n, index, loc, by_append)``: entries from ``index`` on are about to go.
- ``on_commit(n, old, new, loc)``: the commit index rose from ``old`` to ``new``.
- ``on_apply(n, index, key, loc, commit)``: entry ``key`` applied at ``index`` (before
  ``n.applied`` moves).
- ``on_start(n, ev, loc, snapshot, old_log)``: the node (re)started with a new log.
- ``on_reply(n, msg, loc, request)``: a send that answers ``request`` = (msg, loc), a request
  this node received (found by the reply's ``reply_to``).
- ``on_reused_id(n, msg, loc, earlier)``: a send whose id an earlier send (msg, loc) used.
- ``on_unmatched(n, msg, loc, sent)``: a receive that matches no send: ``sent`` is None (no
  send with its id) or the send (msg, loc) with that id and other content.
- ``on_append_response(n, msg, loc)``: a receive of an AppendEntriesResponse.
- ``on_stale_send(n, msg, loc)``: a send whose term is below the highest term the node has
  received since it (re)started (``n.seen_term``, ``n.seen_loc``).
- ``on_follower_commit(n, old, new, loc)``: a non-leader's commit index rose while its latest
  receive was an AppendEntries (``n.append_limit``: the commit it justifies; ``n.append_loc``).
- ``on_finish(absent)``: after the last event; ``absent`` are the members of a per-process run
  that no file showed (checked with ``partial``; else the check stops with an error first).

Hooks are called only for the events they name, so a property pays nothing for the others.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any, ClassVar

from checker.reader import TraceFile
from checker.report import CitedLine, PropertyResult, Violation
from checker.state import Ledger, Loc, MessageRegistry, NodeState, file_of, line_of

MAX_VIOLATIONS = 100  # per property; further ones are counted, not listed

HOOKS = ("on_term", "on_vote", "on_leader", "on_entry", "on_truncate", "on_commit", "on_apply",
         "on_start", "on_reply", "on_reused_id", "on_unmatched", "on_append_response",
         "on_stale_send", "on_follower_commit", "on_finish")


class Context:
    """What properties may read: the cluster, the shared ledgers, and the files to cite."""

    def __init__(self, nodes: dict[str, NodeState], files: list[TraceFile], ledger: Ledger,
                 registry: MessageRegistry, per_process: bool = False) -> None:
        self.nodes = nodes
        self.cluster_size = len(nodes)
        self.cluster: frozenset[str] = frozenset(nodes)  # the configuration before any config
        self.files = files
        self.ledger = ledger
        self.registry = registry
        #: Whether the run's members may be spread over files (checker/runs.py).
        self.per_process = per_process
        #: Notes for the report, beside the verdicts.
        self.notes: list[str] = []
        self._cited: set[Loc] = set()

    def cite(self, locs: Iterable[Loc | None]) -> tuple[CitedLine, ...]:
        """The cited lines, each once, in file and line order; their text is read when the
        report is made (:meth:`fill_citations`), all of a file's lines in one pass."""
        unique = sorted({loc for loc in locs if loc is not None})
        self._cited.update(unique)
        files = self.files
        return tuple(CitedLine(files[file_of(loc)].name, line_of(loc), "") for loc in unique)

    def fill_citations(self, props: Iterable[Property]) -> None:
        """Give the cited lines of every violation their text."""
        wanted: dict[int, list[int]] = {}
        for loc in self._cited:
            wanted.setdefault(file_of(loc), []).append(line_of(loc))
        texts = {(self.files[f].name, line): text for f, lines in wanted.items()
                 for line, text in self.files[f].lines_at(lines).items()}
        for prop in props:
            result = prop.result
            result.violations = [
                replace(v, lines=tuple(replace(c, text=texts[c.file, c.line]) for c in v.lines))
                for v in result.violations]


class Property:
    """One property of spec/PROPERTIES.md, evaluated incrementally as events arrive."""

    name: ClassVar[str] = ""
    statement: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    #: Event kinds this property evaluates (None: every event), for the evaluated count.
    kinds: ClassVar[frozenset[str] | None] = None

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.result = PropertyResult(self.name, self.statement, self.reference)
        self._reported: set[Any] = set()

    def violate(self, key: Any, explanation: str, *locs: Loc | None) -> None:
        """Report a violation once per distinct ``key``, citing the lines at ``locs``."""
        if key in self._reported:
            return
        result = self.result
        if len(result.violations) >= MAX_VIOLATIONS:
            result.truncated += 1
            return
        self._reported.add(key)
        result.violations.append(
            Violation(self.name, self.statement, explanation, self.ctx.cite(locs)))

    @classmethod
    def hooks(cls) -> list[str]:
        """The hook names this property defines."""
        return [h for h in HOOKS if callable(getattr(cls, h, None))]


def describe_entry(key: tuple[int, bytes]) -> str:
    """An entry key as a person reads it: (term 3, data {"k":1})."""
    data = key[1].decode("utf-8", "replace")
    if len(data) > 80:
        data = data[:77] + "..."
    return f"(term {key[0]}, data {data})"
