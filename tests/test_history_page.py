"""The HTML page of a history check (``check-history --html``): self-contained, its data
saying what the report says, and, in headless Chromium, one lane per client, a bar per
operation (open-ended for info), the order found drawn, the culprit and the small set marked.

Chromium is a set-up step (``make browser``): without it the browser tests skip, naming it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from checker.history import check_history
from checker.history.page import page_data, render_page
from raftref.cli import main

from .conftest import ROOT
from .report_page import chromium_or_skip, render, svg

HIST = ROOT / "traces" / "histories"
STALE = HIST / "hand" / "register-stale-read.jsonl"
LATE = HIST / "hand" / "info-took-effect-late.jsonl"


def _embedded(page: str) -> dict[str, object]:
    found = re.search(r'<script id="data" type="application/json">(.*?)</script>', page, re.S)
    assert found
    return json.loads(found.group(1))  # type: ignore[no-any-return]


def test_the_page_is_self_contained_and_carries_the_verdict() -> None:
    report = check_history([STALE])
    page = render_page(report)
    assert not re.search(r'(src|href)="(https?:)?//', page)  # nothing fetched
    data = _embedded(page)
    assert data == json.loads(json.dumps(page_data(report)))
    (key,) = data["keys"]  # type: ignore[index]
    assert key["verdict"] == "not linearizable" and key["lanes"] == ["0", "1"]
    bars = key["bars"]
    assert [b["id"] for b in bars] == [0, 2, 4]
    assert [bars[s["op"]]["id"] for s in key["steps"]] == [0, 2]
    assert bars[key["culprit"]]["id"] == 4 and key["core"] == 3 and key["minimal"]
    assert [s["after"] for s in key["steps"]] == ["1", "2"]
    # Each step's point is inside its operation's window, and after the one before.
    xs = [s["x"] for s in key["steps"]]
    assert xs == sorted(xs)
    for s in key["steps"]:
        assert bars[s["op"]]["a"] < s["x"] < bars[s["op"]]["b"]


def test_an_info_operation_is_open_ended_and_may_be_ordered() -> None:
    (key,) = page_data(check_history([LATE]))["keys"]
    (info,) = [b for b in key["bars"] if b["status"] == "info"]
    assert info["b"] is None and "info at" in info["where"]
    assert key["verdict"] == "linearizable" and len(key["steps"]) == 3


def test_the_command_writes_the_page_and_keeps_its_exit_code(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "h.html"
    res = CliRunner().invoke(main, ["check-history", str(STALE), "--html", str(out)])
    assert res.exit_code == 1
    assert "cannot follow the order found" in out.read_text()
    res = CliRunner().invoke(main, ["check-history", str(STALE), "--html", str(STALE)])
    assert res.exit_code == 2 and "refusing to overwrite an input history" in res.stderr
    junit = tmp_path / "same.xml"
    res = CliRunner().invoke(main, ["check-history", str(STALE), "--html", str(junit),
                                    "--junit", str(junit)])
    assert res.exit_code == 2 and "given for both --junit and --html" in res.stderr


def test_a_page_puts_the_keys_that_are_not_linearizable_first() -> None:
    data = page_data(check_history([HIST / "porcupine-kv" / "c10-bad.txt"]))
    verdicts = [k["verdict"] for k in data["keys"]]
    first_good = verdicts.index("linearizable")
    assert set(verdicts[:first_good]) <= {"not linearizable", "unknown (stopped)"}
    assert "not linearizable" not in verdicts[first_good:]


@pytest.fixture(scope="module")
def chromium() -> str:
    return chromium_or_skip()


def test_in_a_browser_lanes_bars_order_and_culprit(chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "stale.html"
    page.write_text(render_page(check_history([STALE])))
    seen = render(chromium, page, "", tmp_path / "profile")
    assert seen["rendered"] == "1"
    assert (seen["lanes"], seen["bars"], seen["points"]) == ("2", "3", "2")
    assert seen["culprit"] == "4" and seen["core"] == "3"
    drawn = svg(seen["dom"], "history")
    assert svg(seen["dom"], "lanes").count('class="lane-name"') == 2
    assert len(re.findall(r'<rect class="op ok[^"]*" ', drawn)) == 3
    assert 'class="op ok unordered core culprit"' in drawn and 'class="order-line"' in drawn
    assert drawn.count('class="point"') == 2 and 'class="stuck"' in drawn
    assert "cannot follow the order found: read returned 1, but what could make" in seen["dom"]


def test_in_a_browser_info_bars_are_open_and_keys_are_chosen_by_fragment(
        chromium: str, tmp_path: Path) -> None:
    page = tmp_path / "late.html"
    page.write_text(render_page(check_history([LATE])))
    seen = render(chromium, page, "", tmp_path / "profile")
    assert seen["open"] == "1" and seen["points"] == "3" and seen["culprit"] == ""
    many = tmp_path / "c10.html"
    report = check_history([HIST / "porcupine-kv" / "c10-bad.txt"])
    many.write_text(render_page(report))
    data = page_data(report)
    last = len(data["keys"]) - 1
    seen = render(chromium, many, f"#key={last}", tmp_path / "profile")
    key = data["keys"][last]
    assert seen["key"] == str(last) and seen["bars"] == str(len(key["bars"]))
    assert seen["lanes"] == str(len(key["lanes"])) and seen["points"] == str(len(key["steps"]))
