"""The HTML report as headless Chromium renders it: lanes, arrows and bundles, partitions,
violations, the overview strip and its navigation, stable axis labels, files named by node.

Chromium is a set-up step (``make browser``; CI runs it before ``make test``): without it
these tests skip, naming that command. No test installs anything.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from checker import check_files
from checker.report_html import build, write_html_report

from . import report_page
from .conftest import ROOT
from .report_page import (
    chromium_or_skip,
    decode,
    expected_arrows,
    render,
    simulate,
    split_by_node,
    svg,
    trace_events,
)

CONFORMANCE = ROOT / "traces" / "conformance"


@pytest.fixture(scope="session")
def chromium() -> str:
    return chromium_or_skip()


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulate(tmp_path_factory.mktemp("page") / "small.jsonl", seed=2, steps=300)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A 5-node run with crashes, partitions and lost messages, and its page."""
    folder = tmp_path_factory.mktemp("page")
    trace = simulate(folder / "faulty.jsonl", seed=7, steps=3000, nodes=5,
                     faults_every=(40, 90))
    return trace, write_html_report([trace], check_files([trace]), folder / "faulty.html")


def test_without_chromium_the_tests_skip_and_name_the_set_up_command(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_page.shutil, "which", lambda name: None)
    monkeypatch.setattr(report_page.os, "access", lambda path, mode: False)
    with pytest.raises(pytest.skip.Exception, match="make browser"):
        chromium_or_skip()


def test_one_lane_per_node_and_every_arrow(chromium: str, tmp_path: Path, small: Path) -> None:
    page = write_html_report([small], check_files([small]), tmp_path / "r.html")
    arrows = expected_arrows(trace_events(small))
    seen = render(chromium, page, "#start=0&size=all&arrows=each", tmp_path / "profile")
    assert seen["rendered"] == "1" and seen["lanes"] == "3"
    assert int(seen["arrows"]) == int(seen["arrows-total"]) == len(arrows)
    assert int(seen["dropped"]) == sum(d for _, _, d in arrows) > 0
    diagram = svg(seen["dom"], "spacetime")
    assert diagram.count('class="lane-line"') == 3
    assert len(re.findall(r'class="arrow( dropped[a-z ]*)?"', diagram)) == len(arrows)
    # A window: only the arrows that reach into it are drawn.
    start, size = 100, 40
    seen = render(chromium, page, f"#start={start}&size={size}", tmp_path / "profile")
    inside = [a for a in arrows if a[1] >= start and a[0] < start + size]
    assert seen["window"] == f"{start}:{start + size}" and seen["bundles"] == "0"
    assert int(seen["arrows"]) == len(inside) < len(arrows)


def test_dense_windows_draw_bundles_with_counts(chromium: str, tmp_path: Path,
                                                faulty: tuple[Path, Path]) -> None:
    trace, page = faulty
    arrows = expected_arrows(trace_events(trace))
    start, size = 1000, 1500
    seen = render(chromium, page, f"#start={start}&size={size}", tmp_path / "profile")
    inside = [a for a in arrows if a[1] >= start and a[0] < start + size]
    assert seen["arrows"] == "0" and 0 < int(seen["bundles"]) < len(inside) / 4
    assert int(seen["bundled"]) == len(inside)
    labels = re.findall(r'<g class="bundle-count">.*?</g>', svg(seen["dom"], "spacetime"))
    assert labels and all(re.search(r"<tspan[^>]*>\d+</tspan>|✕\d|⟂\d|↓\d", g) for g in labels)
    # Zoomed in, the same messages are single arrows again.
    seen = render(chromium, page, f"#start={start}&size=40", tmp_path / "profile")
    assert seen["bundles"] == "0" and int(seen["arrows"]) > 0


def test_partitions_are_drawn_where_they_were_inferred(chromium: str, tmp_path: Path,
                                                       faulty: tuple[Path, Path]) -> None:
    trace, page = faulty
    data = build([trace], None)
    a, b, first, last, drops = max(data.cuts, key=lambda c: c[3] - c[2])
    seen = render(chromium, page, f"#start={first}&size={last - first + 1}",
                  tmp_path / "profile")
    assert int(seen["cuts"]) >= 2 and int(seen["overview-cuts"]) > 0
    diagram = svg(seen["dom"], "spacetime")
    names = data.nodes[a], data.nodes[b]
    for me, peer in (names, names[::-1]):
        assert re.search(rf'class="cut"[^>]*><title>{me} cut off from [^<]*{peer}', diagram)
    assert "Partitions are inferred" in seen["dom"]
    # Partition drops end at a wall; lost messages at a cross.
    seen = render(chromium, page, f"#start={first}&size=60&arrows=each", tmp_path / "profile")
    assert 'class="cut-wall"' in seen["dom"] or drops == 0


def test_violations_are_highlighted_with_the_statement(chromium: str, tmp_path: Path) -> None:
    trace = CONFORMANCE / "election_safety_two_leaders.jsonl"
    report = check_files([trace])
    page = write_html_report([trace], report, tmp_path / "v.html")
    seen = render(chromium, page, "", tmp_path / "profile")
    dom = seen["dom"]
    panel = dom[dom.index('<section id="violations">'):]
    assert "At most one node becomes leader in a given term." in panel
    cited = {c.line for v in report.violations for c in v.lines}
    assert svg(dom, "spacetime").count('class="viol-ring"') == len(cited) > 0
    assert 'class="ov-viol"' in svg(dom, "overview-svg")


# Clicks and drags on the overview, sent as the mouse would send them; what the page did is
# left on the body for --dump-dom to show.
NAVIGATE = """
function press(a, b) {
  var svg = document.querySelector("#overview svg"), r = svg.getBoundingClientRect();
  function mouse(target, type, f) {
    target.dispatchEvent(new MouseEvent(type, {clientX: r.left + 64 + f * (r.width - 80),
                                               clientY: r.top + 30, bubbles: true}));
  }
  mouse(svg, "mousedown", a); mouse(window, "mousemove", b); mouse(window, "mouseup", b);
}
press(0.5, 0.5);
document.body.setAttribute("data-click", document.body.getAttribute("data-view") + " " +
                           location.hash);
press(0.2, 0.3);
document.body.setAttribute("data-drag", document.body.getAttribute("data-view") + " " +
                           location.hash);
press(0.9, 0.9);
document.body.setAttribute("data-outside", document.getElementById("notice").textContent);
"""


def test_the_overview_draws_the_whole_run_and_navigates(chromium: str, tmp_path: Path,
                                                        faulty: tuple[Path, Path]) -> None:
    trace, _ = faulty
    total = len(trace_events(trace))
    embedded = int(total * 0.8)  # the last fifth is not in this page
    page = write_html_report([trace], None, tmp_path / "part.html", limit=embedded)
    seen = render(chromium, page, "#start=0&size=100", tmp_path / "profile", NAVIGATE)
    overview = svg(seen["dom"], "overview-svg")
    assert 512 <= int(seen["overview-buckets"]) <= 1024
    assert overview.count('class="ov-crash"') > 0 and 'class="ov-cut"' in overview
    assert 'class="ov-outside"' in overview and 'class="ov-commit"' in overview

    def view(attr: str) -> tuple[int, int, str]:
        span, hash_ = seen[attr].split(" ")
        p0, p1 = map(int, span.split(":"))
        return p0, p1, hash_

    p0, p1, hash_ = view("click")  # centred where clicked, same width
    assert p1 - p0 == 100 and abs((p0 + p1) / 2 - total / 2) <= total / 200
    assert hash_ == f"#start={p0}&amp;size=100"
    p0, p1, hash_ = view("drag")  # the part dragged over
    assert abs(p0 - 0.2 * total) <= total / 200 and abs(p1 - 0.3 * total) <= total / 200
    assert hash_ == f"#start={p0}&amp;size={p1 - p0}"
    # Outside the embedded part: the view stays, and the page says how to see it.
    assert "is not embedded in this page" in seen["outside"] and "--start" in seen["outside"]


def test_axis_labels_stay_put_while_the_view_pans(chromium: str, tmp_path: Path,
                                                  faulty: tuple[Path, Path]) -> None:
    _, page = faulty
    labels = []
    for start in (1000, 1007):
        seen = render(chromium, page, f"#start={start}&size=300", tmp_path / "profile")
        ticks = re.findall(r'<text class="axis"[^>]*>([\d,]+)</text>',
                           svg(seen["dom"], "spacetime"))
        labels.append([int(t.replace(",", "")) for t in ticks])
    first, second = labels
    step = first[1] - first[0]
    assert step in (10, 20, 50, 100) and all(v % step == 0 for v in first + second)
    assert len(set(first) & set(second)) >= len(first) - 1


def test_merged_per_process_files_are_lanes_named_by_node(chromium: str, tmp_path: Path,
                                                          small: Path) -> None:
    files = split_by_node(small, tmp_path / "cluster")
    page = write_html_report(files, check_files(files), tmp_path / "merged.html")
    seen = render(chromium, page, "", tmp_path / "profile")
    dom = seen["dom"]
    lanes = re.findall(r'<text class="lane-label"[^>]*>(\w+)<title>([^<]*)</title>',
                       svg(dom, "spacetime"))
    assert [name for name, _ in lanes] == ["n1", "n2", "n3"]
    for name, title in lanes:
        assert f"{name} ({tmp_path}/cluster/{name}/trace.jsonl)" in title
    h1 = re.search(r"<h1>(.*?)</h1>", dom).group(1)
    assert "n1, n2, n3" in h1 and "trace.jsonl" not in h1
    assert f"n2 ({tmp_path}/cluster/n2/trace.jsonl)" in dom[dom.index('id="summary"'):]


def test_a_page_of_10000_events_stays_usable(chromium: str, tmp_path: Path) -> None:
    trace = simulate(tmp_path / "big.jsonl", seed=7, steps=7000)
    events = trace_events(trace)
    assert len(events) >= 10_000
    page = write_html_report([trace], check_files([trace]), tmp_path / "big.html")
    seen = render(chromium, page, "#start=5000&size=400", tmp_path / "profile")
    assert seen["rendered"] == "1" and seen["window"] == "5000:5400"
    assert int(seen["arrows-total"]) == len(expected_arrows(events))
    assert len(decode(build([trace], None).to_json())[0]) == len(events)


@pytest.mark.parametrize("name", ["commit_justified_joint_no_majority",
                                  "committed_durable_truncate"])
def test_every_kind_of_event_is_drawn_and_described(chromium: str, tmp_path: Path,
                                                    name: str) -> None:
    trace = CONFORMANCE / f"{name}.jsonl"
    events = trace_events(trace)
    page = write_html_report([trace], check_files([trace]), tmp_path / "k.html")
    seen = render(chromium, page, "#start=0&size=all&arrows=each", tmp_path / "profile")
    titles = re.findall(r'<circle class="ev" data-i="(\d+)"[^>]*><title>([^<]*)</title>',
                        svg(seen["dom"], "spacetime"))
    assert len(titles) == len(events)
    for i, title in titles:
        ev = events[int(i)]
        assert f"{ev['node']}: {ev['kind']}" in title, title
        if ev["kind"] == "config":
            assert "voters=" + ",".join(ev["voters"]) in title
        if ev["kind"] in ("truncate", "commit", "append"):
            assert f"index {ev['index']}" in title

