"""The deterministic simulator: a seeded discrete-event driver that owns time, the network, the
disks and the randomness, and runs reference nodes under a fault schedule.

- :mod:`~raftref.sim.schedule`: fault schedules as plain JSON data (what a run replays).
- :mod:`~raftref.sim.simulator`: the event loop, the network and the nodes' disks.
"""
