"""Adapters: translate other Raft implementations' traces into the raft-trace contract
(spec/trace.schema.json), so that the checker judges them like any other trace.

- :mod:`checker.adapters.etcd`: etcd-io/raft's state-machine traces (state_trace.go).
"""
