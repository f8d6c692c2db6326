"""The HTML report's data and command: every event embedded compactly and read back exactly,
the overview of the whole run, partitions inferred from drops, windows of long runs, files
named by their node, ``-o -`` and ``-``. (The page in a real browser: test_report_html_browser.)
"""

from __future__ import annotations

import gzip
import re
import tracemalloc
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from checker import check_files
from checker.report_html import build, write_html_report
from checker.report_html.overview import BUCKETS, CRASH, DOWN, LEADER
from raftref.cli import main

from .conftest import ROOT
from .report_page import (
    decode,
    expected_arrows,
    simulate,
    split_by_node,
    trace_events,
    trace_view,
)

CONFORMANCE = ROOT / "traces" / "conformance"


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return simulate(tmp_path_factory.mktemp("html") / "small.jsonl", seed=2, steps=300)


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """5 nodes, 3,000 steps (about 5,000 events) with a crash or a partition every 40-90
    ticks: crashes, restarts, partitions, lost messages."""
    return simulate(tmp_path_factory.mktemp("html") / "faulty.jsonl", seed=7, steps=3000,
                    nodes=5, faults_every=(40, 90))


def test_every_event_is_embedded_and_reads_back_exactly(faulty: Path) -> None:
    data = build([faulty], check_files([faulty]))
    events = trace_events(faulty)
    decoded, arrows = decode(data.to_json())
    assert len(decoded) == data.total == data.shown == len(events)
    for i, (got, want) in enumerate(zip(decoded, events, strict=True)):
        view = trace_view(want)
        assert {k: got[k] for k in view} == view, f"event {i}"
        assert (got["file"], got["line"]) == (0, i + 2)
    assert arrows == expected_arrows(events)
    assert {k for k in data.reasons} == {"loss", "partition", "crashed"}
    assert data.verdict == "holds" and len(data.properties) == 11


@pytest.mark.parametrize("trace", sorted(CONFORMANCE.glob("*.jsonl")), ids=lambda p: p.stem)
def test_every_conformance_trace_reads_back_exactly(trace: Path) -> None:
    """Every kind of event the contract has (config, propose, truncate, votes, ...), valid
    traces and violating ones."""
    events = trace_events(trace)
    decoded, arrows = decode(build([trace], None).to_json())
    for i, (got, want) in enumerate(zip(decoded, events, strict=True)):
        view = trace_view(want)
        assert {k: got[k] for k in view} == view, f"event {i}"
    assert len(decoded) == len(events) and arrows == expected_arrows(events)


def test_merged_per_process_files_are_named_by_their_node(tmp_path: Path, small: Path) -> None:
    files = split_by_node(small, tmp_path / "cluster")
    data = build(files, check_files(files))
    assert data.file_labels() == [f"n{k} ({tmp_path}/cluster/n{k}/trace.jsonl)"
                                  for k in (1, 2, 3)]
    assert data.title() == "raftref report: n1, n2, n3 (one trace file per node, merged)"
    page = data.to_json()
    assert "file" not in page["ev"] and page["ev"]["nodeFile"] == [0, 1, 2]
    decoded, arrows = decode(page)
    by_node = {n: trace_events(f) for n, f in zip(data.nodes, files, strict=True)}
    for node, events in by_node.items():
        mine = [e for e in decoded if e["node"] == node]
        assert [(e["seq"], e["line"]) for e in mine] == [
            (ev["seq"], line) for line, ev in enumerate(events, start=2)]
    # In the merged order every receive comes after its send.
    assert all(a < b for a, b, _ in arrows) and len(arrows) > 100
    out = tmp_path / "merged.html"
    write_html_report(files, check_files(files), out)
    text = out.read_text()
    assert "<title>raftref report: n1, n2, n3" in text and "trace.jsonl, trace.jsonl" not in text


def test_the_overview_covers_the_whole_run_in_bounded_buckets(faulty: Path) -> None:
    data = build([faulty], None, start=1000, limit=50)
    ov = data.overview
    events = trace_events(faulty)
    assert data.total == len(events) > BUCKETS and data.shown == 50
    width, buckets = ov.width, len(ov.term)
    assert BUCKETS // 2 <= buckets <= BUCKETS and (buckets - 1) * width < len(events)
    n = len(data.nodes)
    want_term, want_commit = [0] * buckets, [0] * buckets
    want_sends, want_lost = [0] * buckets, [0] * buckets
    want_crash = [[False] * buckets for _ in range(n)]
    want_down = [[False] * buckets for _ in range(n)]
    down_since: dict[int, int] = {}
    high = 0
    for pos, ev in enumerate(events):
        b, k = pos // width, data.nodes.index(ev["node"])
        high = want_term[b] = max(high, ev["term"])
        want_commit[b] = max(want_commit[b], ev["commit"])
        want_sends[b] += ev["kind"] == "send"
        want_lost[b] += ev["kind"] == "drop" and ev["reason"] == "loss"
        if ev["kind"] == "crash":
            want_crash[k][b] = True
            down_since[k] = b
        elif ev["kind"] == "start" and k in down_since:
            for c in range(down_since.pop(k), b + 1):
                want_down[k][c] = True
    assert (ov.term, ov.commit, ov.sends, ov.lost) == (want_term, want_commit, want_sends,
                                                       want_lost)
    assert [[bool(f & CRASH) for f in row] for row in ov.flags] == want_crash
    assert [[bool(f & DOWN) for f in row] for row in ov.flags] == want_down
    assert any(want_crash[k][b] for k in range(n) for b in range(buckets))
    # Each bucket's leader is a node that led in that bucket's (highest) term.
    led = {(ev["term"], ev["node"]) for ev in events if ev["role"] == "leader"}
    for b in range(buckets):
        if ov.leader[b] >= 0:
            assert (ov.term[b], data.nodes[ov.leader[b]]) in led
            assert ov.flags[ov.leader[b]][b] & LEADER


def test_partition_periods_are_inferred_from_partition_drops(faulty: Path) -> None:
    data = build([faulty], None)
    events = trace_events(faulty)
    ix = {n: i for i, n in enumerate(data.nodes)}
    # The rule, from the trace: a period between two nodes runs from a partition drop to the
    # last partition drop before a message between them is received.
    open_: dict[tuple[int, int], list[int]] = {}
    want = []
    for pos, ev in enumerate(events):
        if ev["kind"] not in ("receive", "drop"):
            continue
        pair = tuple(sorted((ix[ev["msg"]["from"]], ix[ev["msg"]["to"]])))
        if ev["kind"] == "drop" and ev["reason"] == "partition":
            period = open_.setdefault(pair, [pos, pos, 0])
            period[1], period[2] = pos, period[2] + 1
        elif ev["kind"] == "receive" and pair in open_:
            want.append((*pair, *open_.pop(pair)))
    want += [(*pair, *p) for pair, p in sorted(open_.items(), key=lambda kv: kv[1][0])]
    assert len(want) >= 3
    assert sorted(data.cuts) == sorted(want)
    assert sum(c[4] for c in data.cuts) == data.reasons["partition"]
    # The overview marks both nodes of each period.
    ov = data.overview
    for a, b, first, last, _ in data.cuts:
        for node in (a, b):
            assert all(ov.flags[node][k] & 16 for k in range(first // ov.width,
                                                                  last // ov.width + 1))


def test_drops_without_a_reason_infer_no_partition(tmp_path: Path, small: Path) -> None:
    stripped = tmp_path / "noreason.jsonl"
    lines = small.read_bytes().splitlines()
    out = [lines[0]]
    for raw in lines[1:]:
        ev = orjson.loads(raw)
        ev.pop("reason", None)
        out.append(orjson.dumps(ev))
    stripped.write_bytes(b"\n".join(out) + b"\n")
    data = build([stripped], None)
    assert data.cuts == [] and data.reasons[""] == sum(
        orjson.loads(r)["kind"] == "drop" for r in lines[1:]) > 0
    assert sum(data.overview.lost) == data.reasons[""]


def test_a_window_of_a_long_run(faulty: Path) -> None:
    data = build([faulty], None, start=1000, limit=300)
    events = trace_events(faulty)
    decoded, arrows = decode(data.to_json())
    assert [e["seq"] for e in decoded] == [e["seq"] for e in events[1000:1300]]
    assert arrows == expected_arrows(events[1000:1300])
    assert not data.complete and data.total == len(events)
    note = data.window_note()
    assert note is not None and "1,000-1,299" in note and "--start" in note and "--limit" in note
    assert all(c[3] >= 1000 and c[2] < 1300 for c in data.cuts)


def test_the_page_embeds_events_compactly(tmp_path: Path, faulty: Path) -> None:
    """About 20 bytes an event (the old page took 110): the limit in docs/report.md rests on
    this. A size, not a time: the same trace always gives the same page."""
    events = len(trace_events(faulty))
    small = write_html_report([faulty], None, tmp_path / "a.html", limit=100)
    whole = write_html_report([faulty], None, tmp_path / "b.html")
    per_event = (whole.stat().st_size - small.stat().st_size) / (events - 100)
    assert 10 < per_event < 25, per_event


def test_memory_follows_the_window_not_the_trace(tmp_path: Path) -> None:
    short = simulate(tmp_path / "short.jsonl", seed=3, steps=1500)
    long = simulate(tmp_path / "long.jsonl", seed=3, steps=6000)
    peaks = []
    for trace in (short, long):
        tracemalloc.start()
        build([trace], None, limit=200)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert len(trace_events(long)) > 3.5 * len(trace_events(short))
    assert peaks[1] < 1.5 * peaks[0], peaks


def test_the_page_is_self_contained_and_never_replaces_its_input(tmp_path: Path,
                                                                  small: Path) -> None:
    out = write_html_report([small], check_files([small]), tmp_path / "r.html")
    page = out.read_text()
    assert "<script src" not in page and "<link" not in page and "@import" not in page
    assert not re.search(r"(src|href)=[\"']?(https?:)?//", page)
    assert set(re.findall(r"https?://[^\s\"'<]+", page)) == {"http://www.w3.org/2000/svg"}
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


def test_output_dash_writes_the_page_to_standard_output(tmp_path: Path, small: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["report", str(small), "-o", "-"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("<!DOCTYPE html>") and result.stdout.endswith("</html>\n")
    assert "standard output: report of" in result.stderr and not (tmp_path / "-").exists()
    # And `-` as the trace reads standard input (spooled: the check and the drawing each read
    # it once); errors name <stdin>, never the spooled copy.
    result = CliRunner().invoke(main, ["report", "-", "-o", "page.html"],
                                input=small.read_bytes())
    assert result.exit_code == 0, result.stderr
    assert "page.html: report of <stdin> (every property holds)" in result.stdout
    page = (tmp_path / "page.html").read_text()
    assert '"files":["<stdin>"]' in page and "raftref-report-" not in page
    result = CliRunner().invoke(main, ["report", "-", "-o", "x.html"], input=b"nonsense\n")
    assert result.exit_code == 2 and result.stderr.startswith("error: <stdin>:1:")


def test_above_the_limit_the_window_is_named_on_stderr_and_bad_options_exit_2(
        tmp_path: Path, faulty: Path) -> None:
    out = tmp_path / "w.html"
    result = CliRunner().invoke(main, ["report", str(faulty), "-o", str(out), "--start", "2000",
                                       "--limit", "500"])
    assert result.exit_code == 0, result.stderr
    assert "embeds events 2,000-2,499 (--start 2000 --limit 500)" in result.stderr
    assert "This page embeds events" in out.read_text()  # the page says it too
    total = len(trace_events(faulty))
    for args, message in ((["--start", str(total)], "past the last event"),
                          (["-o", str(tmp_path)], "is a directory")):
        target = ["-o", str(tmp_path / "x.html")] if args[0] != "-o" else []
        result = CliRunner().invoke(main, ["report", str(faulty), *target, *args])
        assert result.exit_code == 2 and message in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1 and not (tmp_path / "x.html").exists()


def test_compressed_input_and_runs_that_are_not_one(tmp_path: Path, small: Path) -> None:
    packed = tmp_path / "small.jsonl.gz"
    packed.write_bytes(gzip.compress(small.read_bytes()))
    result = CliRunner().invoke(main, ["report", str(packed), "-o", str(tmp_path / "z.html")])
    assert result.exit_code == 0, result.stderr
    assert build([packed], None).to_json()["ev"] == build([small], None).to_json()["ev"]
    # Two simulated runs are two runs, checked or not, unless asked to merge them.
    other = simulate(tmp_path / "other.jsonl", seed=3, steps=300)
    for extra in ([], ["--no-check"]):
        result = CliRunner().invoke(main, ["report", str(small), str(other), "-o",
                                           str(tmp_path / "m.html"), *extra])
        assert result.exit_code == 2 and "--merge-anyway" in result.stderr, result.stderr
    result = CliRunner().invoke(main, ["report", str(small), str(other), "-o",
                                       str(tmp_path / "m.html"), "--no-check", "--merge-anyway"])
    assert result.exit_code == 0, result.stderr
    # One process's file of a cluster: the check needs --partial, the drawing does not.
    files = split_by_node(small, tmp_path / "cluster")
    result = CliRunner().invoke(main, ["report", str(files[0]), "-o", str(tmp_path / "p.html")])
    assert result.exit_code == 2 and "--partial" in result.stderr
    for extra in (["--partial"], ["--no-check"]):
        result = CliRunner().invoke(main, ["report", str(files[0]), "-o",
                                           str(tmp_path / "p.html"), *extra])
        assert result.exit_code == 0, result.stderr

