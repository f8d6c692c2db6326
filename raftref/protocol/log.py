"""The replicated log (Figure 2, "log[]": entries with index from 1)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from raftref.protocol.messages import Entry


class RaftLog:
    """A 1-indexed list of entries. Index 0 is the empty prefix, whose term is 0."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._entries: list[Entry] = list(entries)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def last_index(self) -> int:
        return len(self._entries)

    @property
    def last_term(self) -> int:
        return self._entries[-1].term if self._entries else 0

    def term_at(self, index: int) -> int | None:
        """The term of the entry at ``index``; 0 for index 0; None when there is no such entry."""
        if index == 0:
            return 0
        if 1 <= index <= len(self._entries):
            return self._entries[index - 1].term
        return None

    def entry(self, index: int) -> Entry:
        return self._entries[index - 1]

    def slice(self, start: int, limit: int) -> tuple[Entry, ...]:
        """At most ``limit`` entries from index ``start`` on."""
        return tuple(self._entries[start - 1 : start - 1 + limit])

    def entries(self) -> Sequence[Entry]:
        return tuple(self._entries)

    def append(self, entries: Sequence[Entry]) -> None:
        self._entries.extend(entries)

    def truncate_from(self, index: int) -> None:
        """Remove the entry at ``index`` and all that follow it."""
        del self._entries[index - 1 :]

    def first_index_of_term(self, term: int, at_or_below: int) -> int:
        """The first index of the run of ``term`` that contains ``at_or_below`` (thesis 5.3)."""
        i = at_or_below
        while i > 1 and self._entries[i - 2].term == term:
            i -= 1
        return i

    def last_index_of_term(self, term: int) -> int | None:
        """The last index holding an entry of ``term``, or None (leader side of thesis 5.3)."""
        for i in range(len(self._entries), 0, -1):
            t = self._entries[i - 1].term
            if t == term:
                return i
            if t < term:
                return None
        return None

    def is_up_to_date(self, last_log_index: int, last_log_term: int) -> bool:
        """Whether a log ending at (last_log_index, last_log_term) is at least as up-to-date as
        this one (paper section 5.4.1): a later last term wins; equal terms, the longer log wins."""
        if last_log_term != self.last_term:
            return last_log_term > self.last_term
        return last_log_index >= self.last_index
