"""Harnesses: run other Raft implementations, unmodified, under the simulator's network and
fault schedules, and write what they do as raft-traces for the checker.

- :mod:`raftref.harness.pysyncobj`: PySyncObj (https://github.com/bakwc/PySyncObj).
"""
