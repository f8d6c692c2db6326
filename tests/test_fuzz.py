"""Model-based testing: Hypothesis fault schedules on the simulator, judged by the checker.

The correct node survives a fixed-seed campaign with every fault kind; every mutant of the bug
zoo is found by a fixed-seed campaign, as a violation of a property it is expected to break,
and its shrunk counterexample replays to the same violation from the saved schedule file.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from raftref.cli import main
from raftref.mutants import EXPECTED, MUTANTS
from raftref.search.fuzz import hunt, judge, save_finding
from raftref.sim.schedule import Schedule

# (mutant, generator, seed, examples): a fixed-seed campaign that finds each mutant. The
# generator is the one whose faults reach that bug (see raftref/search/strategies.py). Why seed 1
# for all: it is the seed the corpus in traces/counterexamples/ was made with, so these campaigns
# re-find what the corpus holds. A fixed seed fixes Hypothesis' draws only for a given
# Hypothesis version and a given raftref/search/strategies.py (which modules are imported no longer
# matters: raftref.search.reproducible.no_local_constants); with seed 1, Hypothesis 6.170, each
# mutant is found after 1 example except figure8 and unpersisted-vote (8) and stale-reply-match
# (36), so each budget leaves room for a change of draw order to cost more examples, not a failure.
CAMPAIGNS = [
    ("figure8", "random", 1, 300),
    ("vote-no-log-check", "random", 1, 100),
    ("double-vote", "random", 1, 100),
    ("unpersisted-vote", "random", 1, 100),
    ("truncate-on-match", "random", 1, 100),
    ("minority-quorum", "random", 1, 50),
    ("commit-past-new-entries", "random", 1, 100),
    ("candidate-ignores-leader", "random", 1, 100),
    ("ignore-higher-term-reply", "random", 1, 100),
    # Only harmful when a leader whose log was cut back below a follower's old acknowledgement
    # is re-elected while that acknowledgement is still in flight, and then counts the
    # follower for entries it lacks (5 nodes): the leader churn of "stale-acks" reaches it.
    ("stale-reply-match", "stale-acks", 1, 300),
    # What clients see, found through the clients' history (the Linearizable property): the
    # "clients" generator cuts one node off at a time while clients bound to each node read
    # and write; "leases" does the same with reads under leader leases.
    ("unconfirmed-read", "clients", 1, 300),
    ("follower-local-read", "clients", 1, 100),
    ("lease-past-bound", "leases", 1, 300),
    ("duplicate-retry", "clients", 1, 100),
]

# Shrinking is bounded by a number of runs, not seconds, so the result does not depend on the
# machine's speed; enough to shrink well while the whole mutant sweep stays under 5 minutes
# (Hypothesis' shrinker gets up to half of them; shortening the rest, mostly short runs).
SHRINK_EXAMPLES = 120


def test_reference_node_survives_a_fixed_seed_campaign_with_every_fault_kind() -> None:
    result = hunt(seed=2024, examples=40, steps=2500, generator="random")
    assert result.finding is None, result.finding and result.finding.report_text
    assert result.examples == 40
    kinds = set(result.fault_kinds)
    assert {"crash", "restart", "partition", "heal", "loss", "duplicate", "reorder",
            "message-drop", "message-duplicate", "message-delay"} <= kinds


@pytest.mark.parametrize("generator", ["lossy-sync", "pct", "restarts", "stale-appends",
                                       "stale-acks"])
def test_reference_node_survives_each_structured_generator(generator: str) -> None:
    result = hunt(seed=7, examples=8, steps=2500, generator=generator)
    assert result.finding is None, result.finding and result.finding.report_text


def test_every_mutant_has_a_campaign_and_expected_properties() -> None:
    assert {c[0] for c in CAMPAIGNS} == set(MUTANTS) == set(EXPECTED)


@pytest.mark.parametrize("mutant,generator,seed,examples", CAMPAIGNS,
                         ids=[c[0] for c in CAMPAIGNS])
def test_fixed_seed_campaign_finds_mutant_and_counterexample_replays(
        mutant: str, generator: str, seed: int, examples: int, tmp_path: Path) -> None:
    result = hunt(seed=seed, mutant=mutant, examples=examples, steps=3000, generator=generator,
                  shrink_examples=SHRINK_EXAMPLES)
    finding = result.finding
    assert finding is not None, f"{mutant} not found in {examples} examples"
    assert finding.property in EXPECTED[mutant]
    # Shrinking made it small: a handful of faults, a run cut at the violation (one step
    # less and it holds).
    assert finding.schedule_steps <= 24
    assert finding.schedule.steps <= 3000
    shorter = judge(replace(finding.schedule, steps=finding.schedule.steps - 1))
    assert not set(shorter.violated) & EXPECTED[mutant]
    paths = save_finding(finding, tmp_path, mutant, seed)
    suffixes = [".schedule.json", ".jsonl", ".report.txt", ".report.html"]
    if finding.schedule.clients:
        suffixes.append(".history.jsonl")
    assert [p.name for p in paths] == [
        f"{mutant}--{finding.property}--{finding.schedule.nodes}n-seed{seed}{suffix}"
        for suffix in suffixes]
    # Replay from the saved file: same trace (and history), same violation.
    schedule = Schedule.from_json(orjson.loads(paths[0].read_bytes()))
    again = judge(schedule)
    assert again.trace == paths[1].read_bytes()
    if finding.schedule.clients:
        assert again.history == paths[4].read_bytes()
        assert "not linearizable" in paths[2].read_text()
    assert finding.property in again.violated


@pytest.mark.parametrize("generator", ["clients", "leases"])
def test_reference_node_keeps_its_histories_linearizable(generator: str) -> None:
    result = hunt(seed=5, examples=8, steps=2500, generator=generator)
    assert result.finding is None, result.finding and result.finding.report_text


def test_replay_with_the_cli_reproduces_the_violation(tmp_path: Path) -> None:
    result = hunt(seed=1, mutant="minority-quorum", examples=20, steps=1000)
    assert result.finding is not None
    schedule_file = save_finding(result.finding, tmp_path, "minority-quorum", 1)[0]
    out = tmp_path / "replay.jsonl"
    runner = CliRunner()
    sim = runner.invoke(main, ["sim", "--schedule", str(schedule_file), "-o", str(out)])
    assert sim.exit_code == 0, sim.output
    check = runner.invoke(main, ["check", str(out)])
    assert check.exit_code == 1
    assert result.finding.property in check.output


def test_fuzz_command_exits_1_and_saves_files_when_a_mutant_is_found(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "raftref", "fuzz", "--mutant", "minority-quorum", "--examples",
         "20", "--nodes", "3", "--out", str(tmp_path), "--steps", "1000"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 4 and all(n.startswith("minority-quorum--") for n in names)
    assert "Traceback" not in proc.stderr


def test_fuzz_command_exits_0_on_the_reference_node(tmp_path: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["fuzz", "--examples", "4", "--steps", "800", "--out",
                               str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert not list(tmp_path.iterdir())


def test_fuzz_rejects_examples_and_seconds_together() -> None:
    res = CliRunner().invoke(main, ["fuzz", "--examples", "4", "--seconds", "3"])
    assert res.exit_code == 2
    assert "not both" in res.output


def test_fuzz_with_two_workers_merges_their_results(tmp_path: Path) -> None:
    from raftref.search.campaign import FuzzOptions, fuzz

    options = FuzzOptions(examples=4, workers=2, steps=600, out_dir=tmp_path)
    results, findings = fuzz(options)
    assert sorted(r.seed for r in results) == [0, 1]
    assert sum(r.examples for r in results) == 4
    assert not findings


# Runs a 12-example campaign (reference node, seed 1, 300 steps) and prints a digest of every
# schedule it ran, either through hunt() from a bare script or through raftref.search.campaign.fuzz
# with the CLI imported (what `raftref fuzz` runs).
_DRAWS = """
import hashlib, sys
from pathlib import Path
import orjson
import raftref.search.fuzz as F
drawn, judge = [], F.judge
def recording(schedule, target="raftref"):
    drawn.append(hashlib.sha256(orjson.dumps(schedule.to_json())).hexdigest()[:12])
    return judge(schedule, target)
F.judge = recording
if sys.argv[1] == "cli":
    import raftref.cli
    from raftref.search.campaign import FuzzOptions, fuzz
    fuzz(FuzzOptions(examples=12, seed=1, steps=300, out_dir=Path(sys.argv[2])))
else:
    F.hunt(seed=1, examples=12, steps=300)
print(" ".join(drawn))
"""


def test_a_campaign_draws_the_same_schedules_from_a_script_and_from_the_cli(
        tmp_path: Path) -> None:
    # Hypothesis draws now and then a constant from the source of whichever project modules
    # are imported; the CLI imports more of them than a script calling hunt(), so the same
    # seed used to run different schedules (raftref.search.reproducible.no_local_constants). Without
    # that guard these two lists part at the 8th schedule.
    def draws(entry: str) -> list[str]:
        proc = subprocess.run([sys.executable, "-c", _DRAWS, entry, str(tmp_path)],
                              capture_output=True, text=True, timeout=120, check=True)
        return proc.stdout.split()

    script = draws("hunt")
    assert len(script) == 12
    assert draws("cli") == script
