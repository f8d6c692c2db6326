"""The search for bugs: Hypothesis strategies that build fault schedules, campaigns that run and
judge them, and the shrinking, shortening and second search that make a counterexample small.

- :mod:`~raftref.search.strategies`: schedule generators (Hypothesis strategies).
- :mod:`~raftref.search.fuzz`: one campaign: search, judge, shrink, save.
- :mod:`~raftref.search.shorten`, :mod:`~raftref.search.rehunt`: after Hypothesis' shrinking.
- :mod:`~raftref.search.campaign`: worker processes, progress, tables, the demo.
"""
