"""Hypothesis strategies that build fault schedules, composed from one small strategy per fault.

Why ``@given``/``find`` over :class:`~raftref.schedule.Schedule` data rather than a
``RuleBasedStateMachine``: a schedule is a flat list of timed faults plus a few rates, which
Hypothesis shrinks very well (it deletes list elements, lowers times and rates toward zero, and
moves faults earlier), and the shrunk result *is* the artefact we keep: a JSON file that
``raftref sim --schedule`` replays byte for byte. A stateful machine would shrink a Python
program instead, which other tools cannot replay.

Besides fully generated schedules (``generator="random"``), structured generators aim at known
deep bugs: "lossy-sync" (a reliable, in-order network with a bounded number of faults), "pct" (a
few priority-change points, PCT style: one node suddenly cut off, so the others race ahead of
it), "restarts" (crashes that lose whatever was not persisted) and "stale-appends" (delayed and
duplicated AppendEntries, replies delayed across elections).
"""

from __future__ import annotations

from hypothesis import strategies as st

from raftref.schedule import (
    RELIABLE,
    Fault,
    MessageFault,
    NetworkProfile,
    Schedule,
    estimated_ticks,
)

GENERATORS = ("random", "lossy-sync", "pct", "restarts", "stale-appends")


def _ids(nodes: int) -> list[str]:
    return [f"n{i}" for i in range(1, nodes + 1)]


def network_profiles() -> st.SearchStrategy[NetworkProfile]:
    """Rates shrink toward 0 and delays toward 1 tick: the minimal network is a reliable one."""
    rate = st.sampled_from([0.0, 0.02, 0.05, 0.1, 0.2])
    return st.builds(
        NetworkProfile,
        drop=rate, reply_drop=rate, duplicate=rate,
        delay_min=st.just(1), delay_max=st.integers(1, 5),
        long_delay=st.sampled_from([0.0, 0.02, 0.05]),
        long_delay_min=st.just(10), long_delay_max=st.integers(10, 40),
        append_duplicate=st.sampled_from([0.0, 0.1]), append_delay=st.sampled_from([0.0, 0.1]),
        reply_delay=st.sampled_from([0.0, 0.1]),
    )


def crashes(nodes: int, horizon: int) -> st.SearchStrategy[list[Fault]]:
    """A crash of one node, and its restart after a while (volatile state lost, disk kept)."""
    pair = st.tuples(st.integers(0, horizon), st.sampled_from(_ids(nodes)), st.integers(1, 80))
    return st.lists(pair, max_size=6).map(
        lambda ps: [f for at, n, down in ps
                    for f in (Fault(at, "crash", n), Fault(at + down, "restart", n))])


def partitions(nodes: int, horizon: int) -> st.SearchStrategy[list[Fault]]:
    """A split of the cluster into two groups, healed after a while."""
    ids = _ids(nodes)

    def build(at: int, perm: list[str], cut: int, length: int) -> list[Fault]:
        groups = (tuple(sorted(perm[:cut])), tuple(sorted(perm[cut:])))
        return [Fault(at, "partition", groups=groups), Fault(at + length, "heal")]

    one = st.builds(build, st.integers(0, horizon), st.permutations(ids),
                    st.integers(1, max(1, nodes - 1)), st.integers(1, 150))
    return st.lists(one, max_size=4).map(lambda xs: [f for pair in xs for f in pair])


def default_mix(nodes: int, horizon: int) -> st.SearchStrategy[list[Fault]]:
    """The simulator's default fault mix (raftref.schedule.generate_schedule), drawn by
    Hypothesis so it can shrink: crashes every 120-300 ticks with 10-80 ticks down, partitions
    every 200-400 ticks lasting 30-120, all in the first 70% of the run. Realistic density is
    what finds bugs early; shrinking then deletes what is not needed."""
    ids = _ids(nodes)
    quiet = int(horizon * 0.7)

    @st.composite
    def build(draw: st.DrawFn) -> list[Fault]:
        # Faults follow each other until the quiet period, as in the default mix; before each
        # one a "go on" draw (nonzero 9 times in 10) lets the shrinker end the run of faults
        # there by setting it to 0.
        faults: list[Fault] = []
        t = draw(st.integers(120, 300))
        while nodes > 1 and t < quiet and draw(st.integers(0, 9)):
            node, down = draw(st.sampled_from(ids)), draw(st.integers(10, 80))
            faults += [Fault(t, "crash", node), Fault(min(t + down, quiet), "restart", node)]
            t += down + draw(st.integers(120, 300))
        t = draw(st.integers(200, 400))
        while nodes > 1 and t < quiet and draw(st.integers(0, 9)):
            perm, cut = draw(st.permutations(ids)), draw(st.integers(1, nodes - 1))
            length = draw(st.integers(30, 120))
            faults += [Fault(t, "partition", groups=(tuple(sorted(perm[:cut])),
                                                     tuple(sorted(perm[cut:])))),
                       Fault(min(t + length, quiet), "heal")]
            t += length + draw(st.integers(200, 400))
        return faults

    return build()


def message_faults(max_send: int) -> st.SearchStrategy[list[MessageFault]]:
    """Drops, duplicates and delays of individual messages, by their send number."""
    one = st.one_of(
        st.builds(MessageFault, st.integers(1, max_send), st.just("drop")),
        st.builds(MessageFault, st.integers(1, max_send), st.just("duplicate")),
        st.builds(MessageFault, st.integers(1, max_send), st.just("delay"), st.integers(1, 60)),
    )
    return st.lists(one, max_size=12, unique_by=lambda m: m.send)


def _ordered(faults: list[Fault]) -> tuple[Fault, ...]:
    order = ("crash", "restart", "partition", "heal", "propose")
    return tuple(sorted(faults, key=lambda f: (f.at, order.index(f.action), f.node or "")))


@st.composite
def schedules(draw: st.DrawFn, nodes: int | None = None, steps: int = 3000,
              mutants: tuple[str, ...] = (), generator: str = "random") -> Schedule:
    """A fault schedule from one of the :data:`GENERATORS`, on 3 or 5 nodes unless given."""
    n = nodes if nodes is not None else draw(st.sampled_from([3, 5]))
    horizon = estimated_ticks(steps, n)
    seed = draw(st.integers(0, 2**16))
    # Client load: a put every 5 ticks by default; heavier load makes lagging followers need
    # several AppendEntries to catch up, which is where stale and duplicated RPCs bite.
    interval = draw(st.sampled_from([5, 2, 1]))
    # Smaller AppendEntries batches leave followers holding entries past the last new one.
    max_entries = draw(st.sampled_from([8, 2, 1]))
    if generator == "random":
        network = draw(network_profiles())
        faults = (draw(default_mix(n, horizon)) + draw(crashes(n, horizon))
                  + draw(partitions(n, horizon)))
        targeted = draw(message_faults(steps))
    elif generator == "lossy-sync":
        # Synchronous rounds (delay exactly one tick, no reordering) with at most a few faults:
        # the setting where protocol bugs, not network chaos, must explain a failure.
        network = RELIABLE
        faults = draw(crashes(n, horizon).filter(lambda fs: len(fs) <= 4))
        targeted = draw(message_faults(steps).filter(lambda ms: len(ms) <= 4))
    elif generator == "pct":
        # Probabilistic concurrency testing: d (1 to 3) priority-change points; at each one node
        # is cut off for a while, so the others race ahead of it and it returns stale.
        network = NetworkProfile(drop=0.0, reply_drop=0.0, duplicate=0.0, long_delay=0.0)
        faults = []
        for at, node, length in draw(st.lists(st.tuples(
                st.integers(0, horizon), st.sampled_from(_ids(n)), st.integers(5, 60)),
                min_size=1, max_size=3)):
            rest = tuple(x for x in _ids(n) if x != node)
            faults += [Fault(at, "partition", groups=((node,), rest)), Fault(at + length, "heal")]
        targeted = draw(message_faults(steps).filter(lambda ms: len(ms) <= 3))
    elif generator == "restarts":
        network = NetworkProfile()
        faults = draw(crashes(n, horizon).filter(lambda fs: len(fs) >= 2))
        targeted = []
    elif generator == "stale-appends":
        # Stale RPCs: AppendEntries duplicated and held back, replies held back across
        # elections (partitions and crashes force leadership to move while they are in flight).
        network = NetworkProfile(drop=0.05, reply_drop=0.05, append_duplicate=0.2,
                                 append_delay=0.2, reply_delay=0.3, long_delay_min=20,
                                 long_delay_max=150)
        faults = draw(partitions(n, horizon)) + draw(crashes(n, horizon))
        interval = 1
        targeted = draw(message_faults(steps))
    else:
        raise ValueError(f"unknown generator {generator!r}; choose one of {', '.join(GENERATORS)}")
    return Schedule(seed=seed, nodes=n, steps=steps, network=network, faults=_ordered(faults),
                    proposal_interval=interval, mutants=tuple(mutants),
                    message_faults=tuple(sorted(targeted, key=lambda m: m.send)),
                    max_entries=max_entries)
