"""The HTML report: its data, a self-contained page, and the page as a real headless browser
renders it (Debian's chromium; installed by this set-up when missing and possible)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from checker import check_files
from checker.report_html import build, write_html_report
from raftref.cli import main
from raftref.sim.schedule import generate_schedule
from raftref.sim.simulator import run_schedule

from .conftest import ROOT

CONFORMANCE = ROOT / "traces" / "conformance"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                  "--virtual-time-budget=5000"]


def simulate(path: Path, seed: int, steps: int, mutant: str | None = None) -> Path:
    schedule = generate_schedule(seed, 3, steps, mutants=(mutant,) if mutant else ())
    with path.open("wb") as f:
        run_schedule(schedule, f)
    return path


def expected_arrows(path: Path) -> list[tuple[int, int, bool]]:
    """Arrows computed independently of the report code: (send position, receive or drop
    position, dropped) for every receive and drop whose send is in the trace."""
    sent: dict[str, int] = {}
    arrows = []
    for i, line in enumerate(path.read_bytes().splitlines()[1:]):
        ev = orjson.loads(line)
        if ev["kind"] == "send":
            sent[ev["msg"]["id"]] = i
        elif ev["kind"] in ("receive", "drop") and ev["msg"]["id"] in sent:
            arrows.append((sent[ev["msg"]["id"]], i, ev["kind"] == "drop"))
    return arrows


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulate(tmp_path_factory.mktemp("html") / "small.jsonl", seed=2, steps=300)


def test_data_has_every_event_band_and_arrow(small: Path) -> None:
    data = build([small], check_files([small]))
    lines = small.read_bytes().splitlines()[1:]
    assert len(data.seq) == data.total == len(lines)
    assert [(a, b, bool(d)) for a, b, _, d in data.arrows] == expected_arrows(small)
    # Bands tile each node's events: contiguous, and every event sits in its node's band.
    for n in range(3):
        bands = [b for b in data.bands if b[0] == n]
        assert all(x[2] == y[1] for x, y in zip(bands, bands[1:], strict=False))
    assert data.verdict == "holds" and len(data.properties) == 11


def test_the_page_is_self_contained_and_never_replaces_its_input(tmp_path: Path,
                                                                  small: Path) -> None:
    out = write_html_report([small], check_files([small]), tmp_path / "r.html")
    page = out.read_text()
    assert "<script src" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page)
    assert re.findall(r"https?://[^\s\"'<]+", page) == ["http://www.w3.org/2000/svg"]  # xmlns
    before = small.read_bytes()
    code = CliRunner().invoke(main, ["report", str(small), "-o", str(small)])
    assert code.exit_code == 2 and "refusing to overwrite" in code.stderr
    assert small.read_bytes() == before


def test_report_and_check_html_commands(tmp_path: Path) -> None:
    trace = CONFORMANCE / "election_safety_two_leaders.jsonl"
    result = CliRunner().invoke(main, ["report", str(trace), "-o", str(tmp_path / "a.html")])
    assert result.exit_code == 0 and "violated: ElectionSafety" in result.stdout
    result = CliRunner().invoke(main, ["check", str(trace), "--html", str(tmp_path / "b.html")])
    assert result.exit_code == 1
    page = (tmp_path / "b.html").read_text()
    assert "At most one node becomes leader in a given term." in page
    bad = tmp_path / "bad.jsonl"
    bad.write_text("nonsense\n")
    result = CliRunner().invoke(main, ["report", str(bad), "-o", str(tmp_path / "c.html")])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1
    assert not (tmp_path / "c.html").exists()


# ------------------------------------------------------------------------ in a real browser


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium; installed once with apt-get when absent (as root only)."""
    found = _find_chromium()
    if found:
        return found
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("chromium is not installed and cannot be installed here (apt-get as root "
                    "needed): apt-get install -y chromium")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "chromium"]):
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.skip(f"chromium could not be installed ({' '.join(cmd)} failed: "
                        f"{done.stderr.strip().splitlines()[-1:] or done.returncode})")
    found = _find_chromium()
    if not found:
        pytest.skip("apt-get install chromium succeeded but no chromium binary was found")
    return found


def render(chromium: str, page: Path, fragment: str, tmp_path: Path) -> dict[str, str]:
    """Load the page headless and return the body's data-* attributes and the DOM text."""
    done = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
         page.resolve().as_uri() + fragment],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:2000]
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    attrs["dom"] = dom
    return attrs


def test_browser_draws_one_lane_per_node_and_every_arrow(chromium: str, tmp_path: Path,
                                                         small: Path) -> None:
    page = write_html_report([small], check_files([small]), tmp_path / "r.html")
    arrows = expected_arrows(small)
    seen = render(chromium, page, "#start=0&size=all", tmp_path)
    assert "error" not in seen, seen.get("error")
    assert seen["rendered"] == "1" and seen["lanes"] == "3"
    assert int(seen["arrows"]) == int(seen["arrows-total"]) == len(arrows)
    assert int(seen["dropped"]) == sum(d for _, _, d in arrows) > 0
    svg = re.search(r'<svg[^>]*id="spacetime".*?</svg>', seen["dom"], re.S).group(0)
    assert svg.count('class="lane-line"') == 3
    assert len(re.findall(r'class="arrow( dropped)?"', svg)) == len(arrows)
    # A window: only the arrows that reach into it are drawn.
    start, size = 100, 40
    seen = render(chromium, page, f"#start={start}&size={size}", tmp_path)
    inside = [a for a in arrows if a[1] >= start and a[0] < start + size]
    assert "error" not in seen and seen["window"] == f"{start}:{start + size}"
    assert int(seen["arrows"]) == len(inside) < len(arrows)


def test_browser_highlights_violations_with_the_statement(chromium: str, tmp_path: Path) -> None:
    trace = CONFORMANCE / "election_safety_two_leaders.jsonl"
    report = check_files([trace])
    page = write_html_report([trace], report, tmp_path / "v.html")
    seen = render(chromium, page, "", tmp_path)
    assert "error" not in seen and seen["rendered"] == "1"
    dom = seen["dom"]
    panel = dom[dom.index('<section id="violations">'):]
    assert "At most one node becomes leader in a given term." in panel
    svg = re.search(r'<svg[^>]*id="spacetime".*?</svg>', dom, re.S).group(0)
    cited = {c.line for v in report.violations for c in v.lines}
    assert svg.count('class="viol-ring"') == len(cited) > 0


def test_browser_stays_usable_on_10000_events(chromium: str, tmp_path: Path) -> None:
    trace = simulate(tmp_path / "big.jsonl", seed=7, steps=7000)
    events = len(trace.read_bytes().splitlines()) - 1
    assert events >= 10_000
    page = write_html_report([trace], check_files([trace]), tmp_path / "big.html")
    seen = render(chromium, page, "#start=5000&size=400", tmp_path)
    assert "error" not in seen and seen["rendered"] == "1" and seen["window"] == "5000:5400"
    assert int(seen["arrows-total"]) == len(expected_arrows(trace))
    assert 0 < int(seen["arrows"]) < 600


def test_a_page_can_hold_a_slice_of_a_long_trace(small: Path) -> None:
    data = build([small], None, start=100, limit=50)
    assert data.seq == list(range(100, 150)) and data.more and data.total == 151
    assert data.arrows and all(0 <= a <= b < 50 for a, b, _, _ in data.arrows)
    checked = build([small], check_files([small]), start=100, limit=50)
    assert checked.total == len(small.read_bytes().splitlines()) - 1 and not checked.more
