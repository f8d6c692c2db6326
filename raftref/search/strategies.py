"""Hypothesis strategies that build fault schedules, composed from one small strategy per fault.

Why ``@given``/``find`` over :class:`~raftref.sim.schedule.Schedule` data rather than a
``RuleBasedStateMachine``: a schedule is a flat list of timed faults plus a few rates, which
Hypothesis shrinks very well (it deletes list elements, lowers times and rates toward zero, and
moves faults earlier), and the shrunk result *is* the artefact we keep: a JSON file that
``raftref sim --schedule`` replays byte for byte. A stateful machine would shrink a Python
program instead, which other tools cannot replay.

Besides fully generated schedules (``generator="random"``), structured generators aim at known
deep bugs: "lossy-sync" (a reliable, in-order network with a bounded number of faults), "pct" (a
few priority-change points, PCT style: one node suddenly cut off, so the others race ahead of
it), "restarts" (crashes that lose whatever was not persisted), "stale-appends" (delayed and
duplicated AppendEntries, replies delayed across elections) and "stale-acks" (leadership that
moves away and back while old acknowledgements are still in flight).
"""

from __future__ import annotations

from hypothesis import strategies as st

from raftref.sim.schedule import (
    RELIABLE,
    Fault,
    MessageFault,
    NetworkProfile,
    Schedule,
    estimated_ticks,
    generate_schedule,
)

GENERATORS = ("random", "lossy-sync", "pct", "restarts", "stale-appends", "stale-acks",
              "clients", "leases")


def _ids(nodes: int) -> list[str]:
    return [f"n{i}" for i in range(1, nodes + 1)]


def network_profiles() -> st.SearchStrategy[NetworkProfile]:
    """Never gentler than the realistic default: the simplest draw is ``NetworkProfile()``
    itself (10% of requests and replies lost, 2% duplicated, delays of 1-4 ticks, 3% long
    delays), and every other draw adds loss, duplication, reordering or stale RPCs on top. Rates
    shrink back toward that default, not toward a perfect network no deployment has."""
    base = NetworkProfile()
    return st.builds(
        NetworkProfile,
        drop=st.sampled_from([base.drop, 0.15, 0.2]),
        reply_drop=st.sampled_from([base.reply_drop, 0.15, 0.2]),
        duplicate=st.sampled_from([base.duplicate, 0.05, 0.1, 0.2]),
        delay_min=st.just(base.delay_min), delay_max=st.sampled_from([base.delay_max, 5, 6]),
        long_delay=st.sampled_from([base.long_delay, 0.05]),
        long_delay_min=st.just(base.long_delay_min),
        long_delay_max=st.sampled_from([base.long_delay_max, 60]),
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


def churn(nodes: int) -> st.SearchStrategy[list[Fault]]:
    """Leadership that moves away and comes back, episode after episode: the largest minority
    (two of five nodes) is cut off, then healed; soon after the heal all but one node of the
    majority side crash, and restart later. A leader caught in the minority keeps appending
    entries that only its partner acknowledges; the majority elects a leader that replaces
    them; the crashes likely take that leader down, and the old one may win again, with the
    remaining majority node's vote. Episodes follow each other from the first election on (a
    busy 5-node run lasts only a few hundred ticks)."""
    ids = _ids(nodes)
    cut = max(1, (nodes - 1) // 2)  # the largest minority: a leader there has a partner
    # (gap before the partition, order of the nodes, minority size, partition length,
    # heal-to-crash delay, which majority node survives, downtime)
    episode = st.tuples(st.integers(0, 60), st.permutations(ids), st.just(cut),
                        st.integers(20, 100), st.integers(1, 40), st.integers(0, nodes),
                        st.integers(20, 100))

    def build(episodes: list[tuple[int, list[str], int, int, int, int, int]]) -> list[Fault]:
        faults: list[Fault] = []
        t = 15  # about when the first leader is elected
        for gap, perm, cut, length, after, victim, down in episodes:
            minority, majority = tuple(sorted(perm[:cut])), tuple(sorted(perm[cut:]))
            at, heal = t + gap, t + gap + length
            crashed = [majority[(victim + i) % len(majority)] for i in range(len(majority) - 1)]
            faults += [Fault(at, "partition", groups=(minority, majority)), Fault(heal, "heal")]
            faults += [Fault(heal + after, "crash", x) for x in crashed]
            faults += [Fault(heal + after + down, "restart", x) for x in crashed]
            t = heal + after + down
        return faults

    return st.lists(episode, min_size=1, max_size=4).map(build)


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
              mutants: tuple[str, ...] = (), generator: str = "random",
              base_seed: int = 0) -> Schedule:
    """A fault schedule from one of the :data:`GENERATORS`, on 3 or 5 nodes unless given.

    The simulator's seed is drawn from ``base_seed`` to ``base_seed + 2**16``: campaigns with
    different base seeds start from different runs (the simplest draw is ``base_seed`` itself,
    and Hypothesis always tries the simplest draw first)."""
    if nodes is not None:
        n = nodes
    elif generator == "stale-acks":
        n = 5  # one stale acknowledgement can tip a quorum of 3, not a quorum of 2 (the
        # leader's own vote plus any single follower's: a real one would do)
    elif generator in ("clients", "leases"):
        n = 3  # a node cut off is then the leader one time in three
    else:
        n = draw(st.sampled_from([3, 5]))
    horizon = estimated_ticks(steps, n)
    seed = base_seed + draw(st.integers(0, 2**16))
    # Client load: a put every 5 ticks by default; heavier load makes lagging followers need
    # several AppendEntries to catch up, which is where stale and duplicated RPCs bite.
    interval = draw(st.sampled_from([5, 2, 1]))
    # Smaller AppendEntries batches leave followers holding entries past the last new one.
    max_entries = draw(st.sampled_from([8, 2, 1]))
    clients, lease_reads = 0, False  # the old single client, except for the client generators
    if generator == "random":
        # Every example is at least a default-mix run: the simulator's own mix of crashes and
        # partitions for this seed (what ``raftref sim`` runs), on a network at least as hostile
        # as the realistic one. On top: a second, denser layer of crashes and partitions from
        # the same seed, then Hypothesis' own extra faults. Hypothesis always tries the simplest
        # draw first and favours simple draws after it; here the simplest is a busy, realistic
        # run (quiet runs find almost nothing), never a fault-free one. The seeded faults are
        # not Hypothesis' to shrink away or move earlier, so after Hypothesis ``hunt`` removes
        # those a counterexample does not need, moves the rest earlier and cuts the run at the
        # violation (raftref/search/shorten.py says why that is not left to Hypothesis).
        network = draw(network_profiles())
        faults = (list(generate_schedule(seed, n, steps).faults)
                  + list(generate_schedule(seed, n, steps, crash_every=(60, 150),
                                           partition_every=(100, 200), layer=1).faults)
                  + draw(crashes(n, horizon)) + draw(partitions(n, horizon)))
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
    elif generator == "stale-acks":
        # Acknowledgements that outlive their term: leadership churns (a minority cut off and
        # healed, then majority nodes crash) while replies are often held back 20-150 ticks, so
        # a success from an earlier term reaches a leader re-elected since; requests are lost
        # more often (20%), so a follower that acknowledged much in an old term lags in the new
        # one. Five nodes unless given.
        network = NetworkProfile(drop=0.2, reply_delay=0.3, long_delay_min=20,
                                 long_delay_max=150)
        faults = draw(churn(n))
        interval = draw(st.sampled_from([5, 2]))
        targeted = draw(message_faults(steps))
    elif generator in ("clients", "leases"):
        # Clients that record a history (raftref/sim/clients.py), judged for linearizability:
        # the seed's default mix of crashes and partitions plus drawn ones (a leader cut off
        # from its clients' writes, deposed while it still answers reads), on a network at
        # least as hostile as the realistic one. "leases": reads under leader leases.
        # One node cut off at a time (PCT style), long enough for the others to elect a leader
        # and write; when it is the leader, the clients whose own node it is keep asking it.
        # (No other partitions: a partition replaces the one in force.)
        network = draw(network_profiles())
        faults = []
        t = 0
        for gap, node, length in draw(st.lists(st.tuples(
                st.integers(20, horizon // 4), st.sampled_from(_ids(n)), st.integers(60, 200)),
                min_size=1, max_size=4)):
            at = t + gap
            rest = tuple(x for x in _ids(n) if x != node)
            faults += [Fault(at, "partition", groups=((node,), rest)), Fault(at + length, "heal")]
            t = at + length + 1
        faults += draw(crashes(n, horizon))
        targeted = draw(message_faults(steps).filter(lambda ms: len(ms) <= 4))
        clients = draw(st.sampled_from([4, 3, 6]))
        lease_reads = generator == "leases"
    else:
        raise ValueError(f"unknown generator {generator!r}; choose one of {', '.join(GENERATORS)}")
    return Schedule(seed=seed, nodes=n, steps=steps, network=network, faults=_ordered(faults),
                    proposal_interval=interval, mutants=tuple(mutants),
                    message_faults=tuple(sorted(targeted, key=lambda m: m.send)),
                    max_entries=max_entries, clients=clients, lease_reads=lease_reads)
