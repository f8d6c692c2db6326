"""Hypothesis draws that depend on the seed and the options alone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def no_local_constants() -> Iterator[None]:
    """Keep Hypothesis from drawing constants found in the project's own source.

    Hypothesis (since 6.131) now and then draws, instead of a random value, a constant taken
    from the source of every non-test module of the working tree that is imported at the time.
    Which modules those are depends on the entry point: ``hunt`` called from a script imports
    raftref.search.fuzz and what it needs, ``raftref fuzz`` also raftref.cli and
    raftref.search.campaign (and their constants: 140, 300, 20000, ...). So the same seed drew
    different schedules, and stale-reply-match (seed 1, 300 examples) was found after 31 examples in
    one and 241 in the other. A campaign must depend on its seed and options alone, so while it runs
    that pool is empty (the cache of constants Hypothesis keeps per kind of draw is cleared on the
    way in and out). This is private Hypothesis API: where it is missing (older versions have no
    such pool), nothing is patched; tests/test_fuzz.py checks that both entry points agree."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants

        original = providers._get_local_constants
        cache = providers.CONSTANTS_CACHE
    except (ImportError, AttributeError):
        yield
        return
    empty = Constants()
    providers._get_local_constants = lambda: empty
    cache.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        cache.cache.clear()
