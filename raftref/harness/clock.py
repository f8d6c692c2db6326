"""The virtual clock and seeded randomness that replace PySyncObj's own, at its module boundary.

PySyncObj reads time through the name ``monotonicTime`` in ``pysyncobj.syncobj`` (imported
there from ``pysyncobj.monotonic``) and draws election timeouts from the module ``random``
imported there (``random.random()``). :func:`patched` rebinds exactly those two names in
``pysyncobj.syncobj`` for the duration of a run, and restores them afterwards:

- ``pysyncobj.syncobj.monotonicTime`` -> :meth:`VirtualClock.seconds` (the simulator's tick
  count times :data:`TICK_SECONDS`), so timeouts, heartbeats and leader fallback follow the
  simulator's time, not the wall clock;
- ``pysyncobj.syncobj.random`` -> a ``random.Random`` seeded from the schedule's seed, so the
  same seed draws the same election timeouts.

No PySyncObj code is changed or replaced; nothing else is patched.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

TICK_SECONDS = 0.1  # one simulator tick in PySyncObj's seconds


class VirtualClock:
    """Time as the simulator sets it."""

    def __init__(self) -> None:
        self.ticks = 0

    def seconds(self) -> float:
        return self.ticks * TICK_SECONDS


@contextmanager
def patched(clock: VirtualClock, rng: random.Random) -> Iterator[None]:
    """PySyncObj's time source and random source replaced by ``clock`` and ``rng``."""
    import pysyncobj.syncobj as syncobj

    saved = (syncobj.monotonicTime, syncobj.random)
    syncobj.monotonicTime = clock.seconds  # type: ignore[attr-defined]
    syncobj.random = rng  # type: ignore[attr-defined]
    try:
        yield
    finally:
        syncobj.monotonicTime, syncobj.random = saved  # type: ignore[attr-defined]
