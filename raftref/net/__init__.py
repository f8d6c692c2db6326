"""The networked mode: reference nodes as separate processes talking TCP, with a small
replicated key-value HTTP API (like go-raft's raftd), each writing its own trace."""
