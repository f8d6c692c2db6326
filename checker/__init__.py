"""checker: verifies Raft safety properties on any implementation's trace (never imports raftref)."""
