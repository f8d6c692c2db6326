"""raftref: a deterministic reference Raft node and the drivers that run it."""
__version__ = "0.1.0"
