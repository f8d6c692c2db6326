"""Helpers for the HTML report's tests: the embedded data read back (written from the format
described in checker/report_html/columns.py, independently of the page's own decoder), traces
to draw, and headless Chromium (installed by ``make browser``, never by a test)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from raftref.sim.schedule import generate_schedule
from raftref.sim.simulator import run_schedule

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                  "--virtual-time-budget=5000", "--window-size=1280,1000"]
INSTALL_HINT = "make browser"  # installs Debian's chromium (as root)
MSG_FIELDS = [["last_log_index", "last_log_term"], ["granted"],
              ["prev_log_index", "prev_log_term", "entries", "leader_commit"],
              ["success", "match_index"], [], ["success", "read_index", "reason"]]


def simulate(path: Path, seed: int, steps: int, nodes: int = 3, mutant: str | None = None,
             faults_every: tuple[int, int] | None = None) -> Path:
    """A simulated run; ``faults_every``: ticks between crashes and between partitions
    (default: the simulator's own mix)."""
    extra = {} if faults_every is None else {"crash_every": faults_every,
                                              "partition_every": faults_every}
    schedule = generate_schedule(seed, nodes, steps, mutants=(mutant,) if mutant else (),
                                 **extra)  # type: ignore[arg-type]
    with path.open("wb") as f:
        run_schedule(schedule, f)
    return path


def split_by_node(trace: Path, folder: Path) -> list[Path]:
    """One file per node (FOLDER/n1/trace.jsonl, ...), as ``raftref cluster`` writes them."""
    lines = trace.read_bytes().splitlines()
    header = orjson.loads(lines[0])
    header["clock"] = "per-process"
    out: dict[str, list[bytes]] = {n: [orjson.dumps(header)] for n in header["nodes"]}
    for raw in lines[1:]:
        out[orjson.loads(raw)["node"]].append(raw)
    paths = []
    for node, rows in out.items():
        path = folder / node / "trace.jsonl"
        path.parent.mkdir(parents=True)
        path.write_bytes(b"\n".join(rows) + b"\n")
        paths.append(path)
    return paths


def trace_events(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(raw) for raw in path.read_bytes().splitlines()[1:]]


def expected_arrows(events: list[dict[str, Any]]) -> list[tuple[int, int, bool]]:
    """(send index, receive or drop index, dropped) for every receive and drop whose send is
    among ``events``, computed from the trace itself."""
    sent: dict[str, int] = {}
    arrows = []
    for i, ev in enumerate(events):
        if ev["kind"] == "send":
            sent[ev["msg"]["id"]] = i
        elif ev["kind"] in ("receive", "drop") and ev["msg"]["id"] in sent:
            arrows.append((sent[ev["msg"]["id"]], i, ev["kind"] == "drop"))
    return arrows


def _per_node(pairs: list[int], nodes: list[int]) -> list[int]:
    values, last, k, nxt = [], {}, 0, pairs[0] if pairs else -1
    for i, n in enumerate(nodes):
        if i == nxt:
            last[n] = pairs[k + 1]
            k += 2
            nxt = nxt + pairs[k] if k < len(pairs) else -1
        values.append(last[n])
    return values


def decode(data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[tuple[int, int, bool]]]:
    """The embedded events as dicts of their trace fields (messages without reply_to and
    conflict hints, entries as counts), and the arrows the references make."""
    ev, names, kinds = data["ev"], data["nodes"], data["kinds"]
    strings, a = data["strings"], ev["a"]
    nodes, n = ev["node"], len(ev["node"])
    terms, roles, commits = (_per_node(ev[c], nodes) for c in ("term", "role", "commit"))
    out: list[dict[str, Any]] = []
    arrows = []
    last_seq: dict[int, int] = {}
    line = list(ev["line0"])
    seqx = dict(zip(*[iter(_absolute(ev["seqx"]))] * 2, strict=True))
    id_last: dict[int, int] = {}
    p = 0

    def message(term: int) -> dict[str, Any]:
        nonlocal p
        t, frm, to, dterm, key = a[p:p + 5]
        p += 5
        if key % 2 == 0:
            id_last[key] = id_last.get(key, 0) + a[p]
            p += 1
            msg_id = strings[key // 2] + str(id_last[key])
        else:
            msg_id = strings[(key - 1) // 2]
        msg = {"type": data["msgtypes"][t], "id": msg_id, "from": names[frm], "to": names[to],
               "term": term + dterm}
        for name in MSG_FIELDS[t]:
            value = a[p]
            p += 1
            if name in ("read_index", "reason") and value < 0:
                continue  # absent
            msg[name] = (bool(value) if name in ("granted", "success")
                         else strings[value] if name == "reason" else value)
        return msg

    for i in range(n):
        f = ev["file"][i] if "file" in ev else ev["nodeFile"][nodes[i]]
        seq = seqx.get(i, last_seq.get(f, 0) + 1)
        last_seq[f] = seq
        e: dict[str, Any] = {"seq": seq, "node": names[nodes[i]], "kind": kinds[ev["kind"][i]],
                             "term": terms[i], "role": data["roles"][roles[i]],
                             "commit": commits[i], "file": f, "line": line[f]}
        line[f] += 1
        kind = e["kind"]
        if kind in ("send", "receive", "drop"):
            if kind != "send" and a[p] < 0:
                j = i + a[p]
                p += 1
                e["msg"] = out[j]["msg"]
                arrows.append((j, i, kind == "drop"))
            else:
                e["msg"] = message(e["term"])
            if kind == "drop":
                e["reason"] = None if a[p] < 0 else strings[a[p]]
                p += 1
        elif kind in ("start", "append", "propose"):
            e["args"] = a[p:p + 2]
            p += 2
        elif kind == "vote":
            e["args"] = [names[a[p]]]
            p += 1
        elif kind in ("truncate", "commit", "apply"):
            e["args"] = a[p:p + 1]
            p += 1
        elif kind == "config":
            count = a[p]
            e["args"] = [names[v] for v in a[p + 1:p + 1 + count]]
            p += 1 + count
            p += 1 + a[p]
        out.append(e)
    assert p == len(a), "arguments left over"
    return out, arrows


def _absolute(pairs: list[int]) -> list[int]:
    """(gap, value) pairs as (index, value) pairs."""
    at, out = 0, []
    for k in range(0, len(pairs), 2):
        at += pairs[k]
        out += [at, pairs[k + 1]]
    return out


def trace_view(e: dict[str, Any]) -> dict[str, Any]:
    """An event of the trace as ``decode`` gives it back."""
    view = {k: e[k] for k in ("seq", "node", "kind", "term", "role", "commit")}
    if "msg" in e:
        view["msg"] = {k: (len(v) if k == "entries" else v) for k, v in e["msg"].items()
                       if k not in ("reply_to", "conflict_term", "conflict_index")}
    if e["kind"] == "drop":
        view["reason"] = e.get("reason")
    args = {"start": lambda: [int(e["restart"]), len(e["log"])],
            "append": lambda: [e["index"], len(e["entries"])],
            "propose": lambda: [int(e["accepted"]),
                                -1 if e.get("index") is None else e["index"]],
            "vote": lambda: [e["candidate"]], "config": lambda: e["voters"]}
    if e["kind"] in ("truncate", "commit", "apply"):
        view["args"] = [e["index"]]
    elif e["kind"] in args:
        view["args"] = args[e["kind"]]()
    return view


# ------------------------------------------------------------------------------- Chromium


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def chromium_or_skip() -> str:
    found = find_chromium()
    if found is None:
        pytest.skip(f"Chromium is not installed: run `{INSTALL_HINT}` for the browser tests")
    return found


def render(chromium: str, page: Path, fragment: str, profile: Path,
           script: str | None = None) -> dict[str, str]:
    """Load the page headless (with ``script`` run after the page's own) and return the
    body's data-* attributes and the DOM text."""
    if script is not None:
        text = page.read_text(encoding="utf-8")
        page = page.with_name(page.stem + ".test.html")
        cut = text.rindex("</body>")
        page.write_text(text[:cut] + f"<script>{script}</script>" + text[cut:], encoding="utf-8")
    done = subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
         page.resolve().as_uri() + fragment],
        capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = done.stdout
    body = re.search(r"<body([^>]*)>", dom)
    assert body, dom[:2000]
    attrs = dict(re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1)))
    assert "error" not in attrs, attrs["error"]
    attrs["dom"] = dom
    return attrs


def svg(dom: str, element_id: str) -> str:
    found = re.search(rf'<svg[^>]*id="{element_id}".*?</svg>', dom, re.S)
    assert found, f"no svg #{element_id}"
    return found.group(0)
