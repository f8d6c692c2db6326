"""Z3 for raftref: a bounded inductive proof of Raft's safety, and bounded model checking of
the bug zoo's mutants, over the atomic-step abstract Raft of Schultz, Dardik and Tripakis
(FMCAD 2022; will62794/endive benchmarks/AbstractRaft.tla).

- :mod:`checker.proof.ops` and :mod:`checker.proof.invariants`: the lemmas, written once, run
  on plain values or as Z3 terms;
- :mod:`checker.proof.model`, :mod:`checker.proof.actions`, :mod:`checker.proof.mutants`: the
  bounded model, its actions, the mutants as changed actions;
- :mod:`checker.proof.prove`: Init => Inv and Inv /\\ Action => Inv', per action and lemma;
- :mod:`checker.proof.bmc`: shortest counterexamples from Init;
- :mod:`checker.proof.trace_export` and :mod:`checker.proof.from_trace`: BMC paths written as
  raft-traces, and abstract states rebuilt from raft-traces;
- :mod:`checker.proof.cli`: ``raftref prove``.

Like all of checker/, this package never imports raftref.
"""
