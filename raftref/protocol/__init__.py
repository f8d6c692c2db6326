"""The Raft protocol itself, and nothing else: the node as a pure, single-threaded state machine.

Read these modules to learn Raft. Each rule of the paper's Figure 2 (and the thesis sections the
node implements) is a small named method, annotated with where the paper states it:

- :mod:`~raftref.protocol.node`: the node's state and its driver interface (tick, receive,
  propose, restart from persisted state), returning a :class:`~raftref.protocol.ready.Ready`
  batch of effects for the driver to perform.
- :mod:`~raftref.protocol.elections`: leader election (§5.2, §5.4.1).
- :mod:`~raftref.protocol.replication`: log replication and commitment (§5.3, §5.4.2).
- :mod:`~raftref.protocol.reads`: linearizable reads, ReadIndex and leases (thesis §6.4).
- :mod:`~raftref.protocol.sessions`: client sessions for exactly-once commands (thesis §6.3).
- :mod:`~raftref.protocol.quorum`: the one answer to "is this a majority?".
- :mod:`~raftref.protocol.log`, :mod:`~raftref.protocol.messages`,
  :mod:`~raftref.protocol.kv`: the log, the RPCs, the replicated state machine.

Nothing here reads a clock, opens a socket, starts a thread or draws from global randomness:
drivers (raftref.sim, raftref.net, raftref.harness) own time, I/O and the seed. Nothing here
imports a driver, the search machinery or the bug zoo (raftref/mutants.py), which overrides
rules by subclassing.
"""
