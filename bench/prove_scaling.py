"""Benchmark of checker/proof: inductive-proof solver time per action across bounds, and BMC
depth and time to the first counterexample per mutant. Prints tables; not a test.

    .venv/bin/python bench/prove_bench.py            # the full table (several minutes)
    .venv/bin/python bench/prove_bench.py --quick    # smaller bounds only
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from checker.proof.actions import ACTIONS  # noqa: E402
from checker.proof.bmc import bmc  # noqa: E402
from checker.proof.model import Bounds  # noqa: E402
from checker.proof.mutants import MUTANTS  # noqa: E402
from checker.proof.prove import prove  # noqa: E402


def proof_table(bounds_list: list[Bounds]) -> None:
    head = ["bounds", *[a[:12] for a in ("Init", *ACTIONS)], "wall total", "ok"]
    print(" | ".join(f"{h:>12}" for h in head))
    for b in bounds_list:
        report = prove(b)
        per = report.action_seconds()
        row = [b.describe(), *[f"{per.get(a, 0.0):.2f}s" for a in ("Init", *ACTIONS)],
               f"{report.seconds:.2f}s", "yes" if report.ok else "NO"]
        print(" | ".join(f"{c:>12}" for c in row), flush=True)


def bmc_table(bounds_list: list[Bounds], depth: int) -> None:
    print(f"{'mutant':>24} | {'bounds':>12} | {'k':>3} | {'violated':>34} | {'time':>8}")
    for b in bounds_list:
        for name in MUTANTS:
            r = bmc(b, name, depth)
            print(f"{name:>24} | {b.describe():>12} | {r.k!s:>3} | "
                  f"{', '.join(r.violated):>34} | {r.seconds:7.2f}s", flush=True)


def correct_table(cases: list[tuple[Bounds, int]]) -> None:
    print(f"{'bounds':>12} | {'depth':>5} | {'violation':>9} | {'1st leader':>10} | "
          f"{'1st commit':>10} | {'time':>8}")
    for b, depth in cases:
        start = time.perf_counter()
        r = bmc(b, None, depth, reach=True)
        print(f"{b.describe():>12} | {depth:>5} | {'yes' if r.found else 'none':>9} | "
              f"{r.first_leader!s:>10} | {r.first_commit!s:>10} | "
              f"{time.perf_counter() - start:7.2f}s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small bounds only")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, {platform.machine()}, "
          f"z3 {__import__('z3').get_version_string()}\n")
    print("Inductive proof (Init => Inv, Inv /\\ A => Inv'), solver seconds per action:")
    if args.quick:
        proof_table([Bounds(3, 2, 2), Bounds(3, 3, 3), Bounds(5, 2, 2)])
    else:
        proof_table([Bounds(n, t, t) for n in (3, 5) for t in (2, 3, 4)])
    print("\nBMC of each mutant: shortest k and time to the first counterexample:")
    bmc_table([Bounds(3, 4, 1)] if args.quick else [Bounds(3, 4, 1), Bounds(3, 4, 2)], 10)
    print("\nBMC of the correct model (no violation expected):")
    correct_table([(Bounds(3, 3, 2), 8)] if args.quick
                  else [(Bounds(3, 3, 2), 8), (Bounds(3, 3, 2), 10), (Bounds(3, 4, 2), 10)])


if __name__ == "__main__":
    main()
