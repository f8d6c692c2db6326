"""What the store's test files share: a simulated trace, the CLI in-process, table counts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
from click.testing import CliRunner

from raftref.cli import main
from raftref.sim.schedule import generate_schedule
from raftref.sim.simulator import SimResult, run_schedule

AT = "2026-01-01T00:00:00+00:00"


def simulate(path: Path, seed: int = 3, steps: int = 500, mutant: str | None = None) -> SimResult:
    schedule = generate_schedule(seed, 3, steps, mutants=(mutant,) if mutant else ())
    with path.open("wb") as f:
        return run_schedule(schedule, f)


def counts(db: Path) -> tuple[int, ...]:
    with sqlite3.connect(db) as conn:
        return tuple(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                     for t in ("runs", "events", "results", "violations"))


def cli(*args: str) -> tuple[int, str, str]:
    """Run ``raftref ARGS`` in this process: exit code, stdout, stderr."""
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


def write_trace(path: Path, header_nodes: list[str], events: list[dict]) -> Path:
    header = {"type": "header", "format": "raft-trace", "version": 1,
              "implementation": {"name": "handmade", "version": "1"}, "nodes": header_nodes}
    lines = [header] + [{"type": "event", "seq": i, "commit": 0, **e} for i, e in enumerate(events)]
    path.write_bytes(b"".join(orjson.dumps(x) + b"\n" for x in lines))
    return path


def ev(node: str, kind: str, term: int, role: str, vote: str | None, **more: object) -> dict:
    return {"node": node, "kind": kind, "term": term, "role": role, "vote": vote, **more}
