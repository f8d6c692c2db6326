"""Benchmark: the HTML report's page size, build time and memory, and how fast a browser opens it.

For runs of about 35k (the README's `raftref sim --nodes 5 --seed 7 --steps 20000`), 100k and
1M events (5 nodes, default fault mix), each measured in a fresh process:
  - check: checker.check_files on the trace (the baseline: what `raftref check` costs);
  - report: the page built and written with every event embedded (`--no-check`; 1M: --limit);
    its time as a ratio of the check's, its peak RSS, the page's size and bytes per event;
  - open: with Chromium installed (`make browser`), from navigation to the first drawing in
    headless Chromium (the page's data-ready-ms), as a ratio of a 1k-event page's.

Usage: python bench/report_size.py [--sizes 35000,100000,1000000] [--dir DIR]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from benchlib import run_python

from raftref.sim.schedule import generate_schedule
from raftref.sim.simulator import Simulation

CHECK = """
import resource, sys, time
from checker import check_files
t = time.perf_counter()
report = check_files([sys.argv[1]])
print(report.events, time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

REPORT = """
import resource, sys, time
from pathlib import Path
from checker.report_html import write_html_report
t = time.perf_counter()
write_html_report([sys.argv[1]], None, sys.argv[2], limit=int(sys.argv[3]))
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--virtual-time-budget=60000", "--window-size=1280,1000"]


def simulate(path: Path, events: int) -> int:
    """A 5-node default-mix run (seed 7) of at least ``events`` events; returns the count."""
    steps = max(100, int(events / 1.73))
    while True:
        with path.open("wb") as f:
            result = Simulation(generate_schedule(seed=7, nodes=5, steps=steps), f).run()
        if result.events >= events:
            return result.events
        steps = int(steps * events / max(result.events, 1) * 1.02) + 100


def open_ms(chromium: str, page: Path, profile: Path) -> int:
    """Milliseconds from navigation to the page's first drawing, in headless Chromium."""
    shutil.rmtree(profile, ignore_errors=True)
    dom = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                          page.resolve().as_uri()], capture_output=True, text=True,
                         timeout=600, check=True).stdout
    found = re.search(r'data-ready-ms="(\d+)"', dom)
    if not found:
        raise SystemExit(f"{page}: the page did not draw: {dom[:300]}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="35000,100000,1000000")
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.dir or Path(tempfile.mkdtemp(prefix="raftref-bench-"))
    chromium = shutil.which("chromium")
    base_ms = None
    if chromium:
        small = workdir / "small.jsonl"
        simulate(small, 1000)
        run_python(REPORT, str(small), str(workdir / "small.html"), "1000")
        base_ms = open_ms(chromium, workdir / "small.html", workdir / "profile")
    head = (f"{'events':>9} {'trace MB':>8} {'check s':>8} {'report s':>8} {'report/check':>12}"
            f" {'check MiB':>9} {'report MiB':>10} {'page MB':>8} {'B/event':>8}"
            f" {'open ms':>8} {'open/1k':>8}")
    print(head)
    print("-" * len(head))
    for size in (int(s) for s in args.sizes.split(",")):
        trace = workdir / f"run-{size}.jsonl"
        simulate(trace, size)
        out = run_python(CHECK, str(trace))
        events, check_s, check_kb = int(out[0]), float(out[1]), int(out[2])
        page = workdir / f"run-{size}.html"
        embedded = min(events, size)
        out = run_python(REPORT, str(trace), str(page), str(embedded))
        report_s, report_kb = float(out[0]), int(out[1])
        page_b = page.stat().st_size
        ms = open_ms(chromium, page, workdir / "profile") if chromium else None
        print(f"{embedded:>9,} {trace.stat().st_size / 1e6:>8.1f} {check_s:>8.1f}"
              f" {report_s:>8.1f} {report_s / check_s:>12.2f} {check_kb / 1024:>9.0f}"
              f" {report_kb / 1024:>10.0f} {page_b / 1e6:>8.2f} {page_b / embedded:>8.1f}"
              + (f" {ms:>8,} {ms / base_ms:>8.1f}" if ms is not None and base_ms else
                 f" {'-':>8} {'-':>8}"), flush=True)
        trace.unlink()
    if not chromium:
        print("(open: Chromium not installed; `make browser` installs it)", file=sys.stderr)


if __name__ == "__main__":
    main()
