"""``raftref fuzz`` and ``raftref demo``: thin layers over raftref/search/campaign.py.

Every option is checked before the campaign starts (raftref/cli/checks.py); results go to
stdout, progress to stderr (campaign.py's two consoles).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from checker.store import DEFAULT_DB, StoreError
from raftref.cli.checks import FUZZ_SEED_MAX, UsageFailure, check_dir, check_store
from raftref.mutants import MUTANTS
from raftref.search.strategies import GENERATORS


@click.command()
@click.option("--nodes", type=click.Choice(["3", "5"]), default=None,
              help="Cluster size (default: Hypothesis picks 3 or 5).")
@click.option("--examples", type=click.IntRange(1), default=None,
              help="Schedules to try in all (default 100).")
@click.option("--seconds", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Search for this long instead of a number of examples.")
@click.option("--mutant", type=click.Choice(list(MUTANTS)), default=None, metavar="NAME",
              help="Hunt this deliberate bug (default: hunt real bugs in the reference node).")
@click.option("--seed", type=click.IntRange(0, FUZZ_SEED_MAX), default=0, show_default=True,
              help="Worker i searches with seed + i; 0 to 2**43-64 (its schedules' seeds "
                   "are about seed * 2**20 and must fit 63 bits).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Where shrunk counterexamples (schedule, trace, reports) are saved; created "
                   "if missing [default: out/fuzz/MUTANT-seedN, or reference-seedN without "
                   "--mutant, pysyncobj-seedN with --target pysyncobj].")
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes, each on its own seeds; results are merged.")
@click.option("--steps", type=click.IntRange(100), default=3000, show_default=True,
              help="Simulator steps per schedule.")
@click.option("--generator", type=click.Choice(list(GENERATORS)), default="random",
              show_default=True, help="How schedules are built (see raftref/search/strategies.py).")
@click.option("--shrink-seconds", type=click.FloatRange(min=0), default=120, show_default=True,
              help="Time allowed for shrinking a failure; then the smallest one so far is kept.")
@click.option("--target", type=click.Choice(["raftref", "pysyncobj"]), default="raftref",
              show_default=True,
              help="Which Raft is judged: the reference node, or PySyncObj in the harness.")
@click.option("--db", "db_path", type=click.Path(path_type=Path), default=None,
              help="Also store each counterexample's run and check results in this trace "
                   "store (SQLite; see 'raftref db').")
def fuzz(nodes: str | None, examples: int | None, seconds: float | None, mutant: str | None,
         seed: int, out_dir: Path | None, workers: int, steps: int, generator: str,
         shrink_seconds: float, target: str, db_path: Path | None) -> None:
    """Hypothesis campaign: generate fault schedules, check every trace, shrink failures.

    Exit code 1 if a property is violated (the shrunk schedule, its trace and the report are
    saved under --out), 0 if none was.
    """
    from raftref.search.campaign import FuzzOptions, console, fuzz_table, store_findings
    from raftref.search.campaign import fuzz as run_fuzz

    if examples is not None and seconds is not None:
        raise UsageFailure("give --examples or --seconds, not both")
    if target == "pysyncobj" and mutant is not None:
        raise UsageFailure("--mutant switches on bugs in raftref's node; it does not apply to "
                           "--target pysyncobj")
    options = FuzzOptions(nodes=int(nodes) if nodes else None,
                          examples=None if seconds is not None else (examples or 100),
                          seconds=seconds, mutant=mutant, seed=seed, workers=workers,
                          steps=steps, generator=generator, out_dir=out_dir,
                          shrink_seconds=shrink_seconds, target=target, db_path=db_path)
    check_dir(options.folder, "--out")
    if db_path is not None:
        check_store(db_path)
    results, findings = run_fuzz(options)
    console.print(fuzz_table(options, results))
    replay = "" if target == "raftref" else f" --target {target}"
    for f in findings:
        console.print(f"{f.property} violated; replay: raftref sim{replay} --schedule "
                      f"{f.files[0]}", soft_wrap=True)
    if findings:
        console.print(f"counterexamples saved in {options.folder}/", soft_wrap=True)
    if db_path is not None:
        try:
            store_findings(db_path, findings)
        except StoreError as exc:
            # The verdict stands (exit 1 when violated): only the recording failed.
            click.echo(f"error: {exc} (the counterexamples are saved; store them with "
                       f"'raftref db ingest FILE --db {db_path}')", err=True)
            sys.exit(1 if findings else 2)
    sys.exit(1 if findings else 0)


@click.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=Path("out/demo"),
              show_default=True, help="Where the demo writes its traces and counterexample.")
@click.option("--runs", type=click.IntRange(1), default=6, show_default=True,
              help="Simulated runs of the correct node (3 and 5 nodes alternately).")
@click.option("--steps", type=click.IntRange(1), default=20000, show_default=True,
              help="Simulator steps per run.")
@click.option("--mutant", type=click.Choice(list(MUTANTS)), default="figure8", metavar="NAME",
              show_default=True, help="The bug the demo hunts down after the clean runs.")
@click.option("--db", "db_path", type=click.Path(path_type=Path), default=Path(DEFAULT_DB),
              show_default=True, help="The trace store every run is recorded in.")
def demo(out_dir: Path, runs: int, steps: int, mutant: str, db_path: Path) -> None:
    """A checked, fault-injected simulation campaign with a report (what 'make demo' runs)."""
    from raftref.search.campaign import demo as run_demo

    check_dir(out_dir, "--out")
    check_store(db_path)
    try:
        code = run_demo(out_dir, runs, steps, mutant, db_path)
    except StoreError as exc:
        raise UsageFailure(str(exc)) from None
    sys.exit(code)
