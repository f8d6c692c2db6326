"""MessageRules: messages are real, and replies follow Figure 2's receiver rules."""

from __future__ import annotations

from checker.events import Message
from checker.properties.base import MAX_VIOLATIONS, Context, Property
from checker.properties.predicates import (
    adopts_higher_term,
    append_reply_ok,
    commit_within_append,
    log_up_to_date,
    vote_reply_ok,
)
from checker.state import Loc, NodeState

ANSWERS = {"RequestVoteResponse": "RequestVote", "AppendEntriesResponse": "AppendEntries"}


class MessageRules(Property):
    """Figure 2, RequestVote and AppendEntries receiver rules; §5.4.1 for "up-to-date".

    A receive must match a send (same id, same content). A reply is judged against the request
    it names in ``reply_to``, as the replying node received it, and the node's log when it
    replies. Memory: a bounded window of sent messages (checker/state.py, MessageRegistry) and
    a bounded inbox of unanswered requests per node.
    """

    name = "MessageRules"
    statement = ("Every `receive` matches an earlier `send` with the same message id and content "
                 "(no invented or altered messages); and a reply obeys Figure 2's receiver rules "
                 "for the request it answers: no vote granted to a candidate of a stale term or "
                 "with a log less up-to-date than the voter's (§5.4.1); no AppendEntries success "
                 "when the log has no entry matching `prev_log_index`/`prev_log_term`, and no "
                 "refusal when it has one and the term is current; a reply never carries a term "
                 "lower than the request's; a candidate that answers an AppendEntries of its "
                 "own term has become a follower; a node never sends a term lower than one it "
                 "has received since it (re)started; and a follower's commit index rises on an "
                 "AppendEntries to at most min(`leader_commit`, index of the last new entry).")
    reference = "Figure 2, receiver rules, All Servers rule 2, Candidates rule 3; §5.4.1"
    kinds = frozenset({"send", "receive", "commit"})

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        # Per-process runs: receives of messages from a member that had shown no event yet,
        # judged at the end: unsent if it showed up later, not judged if it never did (its
        # file is missing). Bounded: what cannot be listed is counted.
        self.early: dict[str, list[tuple[str, str, str, Loc]]] = {}
        self.early_count: dict[str, int] = {}

    def on_stale_send(self, n: NodeState, msg: Message, loc: Loc) -> None:
        if adopts_higher_term(msg.term, n.seen_term):
            return
        self.violate(("stale-send", n.name, n.seen_term),
                     f"{n.name} received term {n.seen_term} but then sent {msg.TYPE} "
                     f"{msg.id} with term {msg.term}: a node adopts any higher term it "
                     "sees (Figure 2, All Servers rule 2)", n.seen_loc, loc)

    def on_follower_commit(self, n: NodeState, old: int, new: int, loc: Loc) -> None:
        assert n.append_limit is not None
        limit, append_loc = n.append_limit, n.append_loc
        if commit_within_append(new, old, limit, limit):
            return
        self.violate(("commit-past", loc),
                     f"{n.name} raised its commit index to {new} on an AppendEntries that "
                     f"justifies at most {limit} = min(leader_commit, index of its last new "
                     "entry) (Figure 2, AppendEntries receiver rule 5)", append_loc, loc)

    def on_unmatched(self, n: NodeState, msg: Message, loc: Loc,
                     sent: tuple[Message, Loc] | None) -> None:
        if sent is None:
            if self.ctx.per_process and not self.ctx.nodes[msg.from_].started:
                sender = msg.from_
                self.early_count[sender] = self.early_count.get(sender, 0) + 1
                early = self.early.setdefault(sender, [])
                if len(early) < MAX_VIOLATIONS:
                    early.append((n.name, msg.id, msg.TYPE, loc))
            else:
                self._unsent(n.name, msg.id, msg.TYPE, msg.from_, loc)
        elif sent[0] != msg:
            self.violate(("altered", msg.id),
                         f"{n.name} received message {msg.id} with content other than what "
                         f"{msg.from_} sent", sent[1], loc)

    def _unsent(self, node: str, msg_id: str, kind: str, sender: str, loc: Loc) -> None:
        if self.ctx.registry.forgotten == 0:
            self.violate(("unsent", msg_id),
                         f"{node} received message {msg_id} ({kind} from {sender}) that was "
                         "never sent", loc)

    def on_finish(self, absent: frozenset[str]) -> None:
        for sender, early in self.early.items():
            count = self.early_count[sender]
            if sender in absent:
                self.ctx.notes.append(f"{count} receives of messages from {sender} were not "
                                      "matched against sends (no file holds its events)")
                continue
            for node, msg_id, kind, loc in early:
                self._unsent(node, msg_id, kind, sender, loc)
            self.result.truncated += count - len(early)

    def on_reused_id(self, n: NodeState, msg: Message, loc: Loc,
                     earlier: tuple[Message, Loc]) -> None:
        if earlier[0] != msg:
            self.violate(("reused", msg.id),
                         f"{n.name} sent a message with id {msg.id}, already used by another "
                         "message (ids are unique)", earlier[1], loc)

    def on_reply(self, n: NodeState, msg: Message, loc: Loc,
                 request: tuple[Message, Loc]) -> None:
        req, req_loc = request
        kind = msg.TYPE
        if kind == "AppendEntriesResponse" and req.TYPE == "AppendEntries" and (
                msg.term == req.term and n.role != "candidate"):
            # The common case, a special case of append_reply_ok (tested to agree with it): a
            # reply in the leader's term succeeds exactly when the log matches at prev.
            prev = req.prev_log_index
            keys = n.log.keys
            at_prev = 0 if prev == 0 else keys[prev - 1][0] if prev <= len(keys) else None
            if (at_prev == req.prev_log_term) == msg.success:
                return
        if ANSWERS.get(kind) != req.TYPE:
            self.violate(("kind", loc), f"{n.name} answered {req.TYPE} {req.id} with a "
                                        f"{kind}", req_loc, loc)
            return
        log = n.log
        if kind == "RequestVoteResponse":
            up_to_date = log_up_to_date(req.last_log_term, req.last_log_index,
                                        log.last_term, len(log))
            if vote_reply_ok(msg.granted, req.term, msg.term, up_to_date):
                return
            if msg.term < req.term:
                why = f"its term {msg.term} is lower than the request's {req.term}"
            elif msg.term != req.term:
                why = (f"it granted a vote to {req.from_} of stale term {req.term} "
                       f"(its own term is {msg.term}; Figure 2, RequestVote rule 1)")
            else:
                why = (f"it granted a vote to {req.from_}, whose log (last term "
                       f"{req.last_log_term}, index {req.last_log_index}) is less "
                       f"up-to-date than its own (last term {log.last_term}, index {len(log)}; "
                       "§5.4.1)")
            cited = [req_loc, loc, log.locs[-1] if len(log) else None]
        else:
            if n.role == "candidate" and msg.term == req.term:
                self.violate(("candidate", loc),
                             f"{n.name} answered an AppendEntries from {req.from_}, leader of "
                             f"its own term {req.term}, still a candidate (Figure 2, "
                             "Candidates rule 3: convert to follower)", req_loc, loc)
                return
            prev = req.prev_log_index
            at_prev = log.term_at(prev)
            if append_reply_ok(msg.success, req.term, msg.term, at_prev,
                               req.prev_log_term):
                return
            if msg.term < req.term:
                why = f"its term {msg.term} is lower than the request's {req.term}"
            elif msg.term != req.term:
                why = (f"it reported success to a leader of stale term {req.term} (its own "
                       f"term is {msg.term}; Figure 2, AppendEntries rule 1)")
            elif not msg.success:
                why = (f"it refused although its term is the leader's and its log holds an "
                       f"entry of term {at_prev} at prev_log_index {prev} (Figure 2, "
                       "AppendEntries receiver rules 1-2 allow a refusal for no other reason)")
            else:
                held = "no entry" if at_prev is None else f"an entry of term {at_prev}"
                why = (f"it reported success although its log holds {held} at prev_log_index "
                       f"{prev}, not one of prev_log_term {req.prev_log_term} (Figure 2, "
                       "AppendEntries rule 2)")
            cited = [req_loc, loc]
            if at_prev is not None and prev > 0:
                cited.append(log.locs[prev - 1])
        self.violate(("reply", loc), f"{n.name}'s {kind} {msg.id} to {req.id} breaks a "
                                     f"receiver rule: {why}", *cited)
