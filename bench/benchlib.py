"""What the benchmarks share: a simulated trace of a given size, and a measurement run in a
fresh Python process (so each one's time and peak memory are its own)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from raftref.sim.schedule import generate_schedule
from raftref.sim.simulator import Simulation


def simulate_at_least(path: Path, events: int, workload: bool = True) -> int:
    """Write a 3-node default-mix simulation to ``path`` holding at least ``events`` events
    (without ``workload``, no client proposals: the log stays small); returns the count."""
    steps = int(events / 1.6)
    while True:
        schedule = generate_schedule(seed=1, nodes=3, steps=steps)
        if not workload:
            schedule = replace(schedule, proposal_interval=0)
        with path.open("wb") as f:
            result = Simulation(schedule, f).run()
        if result.events >= events:
            return result.events
        steps = int(steps * events / max(result.events, 1) * 1.05) + 100


def run_python(program: str, *args: str) -> list[str]:
    """Run ``program`` with ``python -c`` in a fresh process; its stdout, split in words."""
    return subprocess.run([sys.executable, "-c", program, *args], check=True,
                          capture_output=True, text=True).stdout.split()
