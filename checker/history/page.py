"""The HTML page of a history check (``raftref check-history ... --html FILE``): one
self-contained file (its CSS, script and data inline, nothing fetched) showing, key by key,

- one lane per client (process), each operation a bar from its invocation to its completion
  (an ``info`` operation's bar runs on to the end, open: it may have taken effect at any time
  after its invocation, or never);
- the linearization found, or the longest linearizable prefix: a numbered point on each
  ordered operation's bar, at an instant inside its window, joined in order, with the value
  after each step;
- for a key that is not linearizable: the operation that cannot follow that order (the
  culprit, red), the small set of operations that cannot be ordered (outlined), and why, in words.

The x axis counts the key's own invocations and completions (the history's order is all
that real time means to the check), so the other keys' operations leave no gaps.
"""

from __future__ import annotations

import html
import json
from importlib import resources
from typing import Any

from checker.history.models import BAD, MODELS, Model
from checker.history.ops import NEVER, Operation, show
from checker.history.report import HistoryReport, KeyResult

LABEL = 40  # characters of an operation's label drawn on its bar
DETAIL = 600  # characters of a value in an operation's details


def _asset(name: str) -> str:
    return resources.files("checker.history").joinpath(name).read_text(encoding="utf-8")


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "\u2026"


def _label(op: Operation) -> str:
    """A short label: ``w 5``, ``r 5``, ``r ?``, ``a "x"``, ``cas 1>2``."""
    if op.kind == "read":
        return "r " + (show(op.result) if op.status == "ok" else "?")
    if op.kind == "cas":
        return f"cas {show(op.value[0])}>{show(op.value[1])}"
    return ("a " if op.kind == "append" else "w ") + show(op.value)


def key_data(k: KeyResult, model: Model | None) -> dict[str, Any]:
    """What the page draws of one key: its lanes, bars, order and counterexample."""
    ops = sorted(k.group or k.kept, key=lambda op: op.call)
    ranks = sorted({op.call for op in ops} | {op.ret for op in ops if op.ret != NEVER})
    rank = {p: i for i, p in enumerate(ranks)}
    lanes: list[Any] = []
    lane_of: dict[Any, int] = {}
    for op in ops:
        if op.process not in lane_of:
            lane_of[op.process] = len(lanes)
            lanes.append(op.process)
    index = {id(op): i for i, op in enumerate(ops)}
    cex = k.counterexample
    core = {id(op) for op in cex.core} if cex else set()
    bars = []
    for op in ops:
        bars.append({
            "id": op.id, "lane": lane_of[op.process], "a": rank[op.call],
            "b": None if op.ret == NEVER else rank[op.ret],
            "status": op.status, "label": _cut(_label(op), LABEL),
            "text": _cut(op.action(), DETAIL),
            "where": f"invoked {op.invoked}" + (
                ", never completed" if op.completed is None else
                f", completed {op.completed}" if op.status == "ok" else
                f", info at {op.completed} (outcome unknown)"),
            "core": id(op) in core,
        })
    # The order found, each step at an instant inside its window, after the previous one.
    steps = []
    at = -1.0
    for op in k.order:
        i = index.get(id(op))
        if i is None:
            continue
        bar = bars[i]
        end = len(ranks) if bar["b"] is None else bar["b"]
        at = min(max(at + 0.25, bar["a"] + 0.25), end - 0.25)
        steps.append({"op": i, "x": at})
    states = _states(k, model)
    for step, state in zip(steps, states, strict=False):
        step["after"] = _cut(state, DETAIL)
    data: dict[str, Any] = {
        "name": k.name, "verdict": "unknown (stopped)" if k.abandoned else k.verdict,
        "lanes": [show(p) for p in lanes], "ticks": len(ranks), "bars": bars,
        "steps": steps, "total": k.operations,
    }
    if cex is not None:
        data["culprit"] = index.get(id(cex.culprit))
        data["reason"] = cex.reason
        data["core"] = len(cex.core)
        data["minimal"] = cex.core_minimal
    return data


def _states(k: KeyResult, model: Model | None) -> list[str]:
    """The value after each step of the key's order, in words."""
    if model is None:
        return []
    out, state = [], model.initial
    for op in k.order:
        if not (op.kind == "read" and op.status != "ok"):
            state = model.stepper(op)(state)
        if state is BAD:  # not for an order the search found; said if it ever happens
            out.append("(the model refuses this step)")
            break
        out.append(model.show(state))
    return out


def page_data(report: HistoryReport) -> dict[str, Any]:
    """What the page shows, as the JSON its script reads."""
    model = MODELS.get(report.model)
    keys = sorted(report.keys, key=lambda k: (k.verdict != "not linearizable",
                                              k.verdict != "unknown", show(k.key)))
    return {
        "verdict": report.verdict, "model": report.model, "files": report.files,
        "operations": report.operations, "events": report.events, "failed": report.failed,
        "notes": report.notes, "keys": [key_data(k, model) for k in keys],
    }


def render_page(report: HistoryReport, title: str | None = None) -> str:
    """The page for ``report``, as one string (a history's page is small: its size grows
    with the operations drawn, about 200 bytes each)."""
    name = title or f"raftref check-history: {', '.join(report.files)}"
    data = json.dumps(page_data(report), separators=(",", ":"), ensure_ascii=False)
    # Inside <script>, only "</" (and "<!--") can end the element early.
    data = data.replace("</", "<\\/").replace("<!--", "<\\u0021--")
    return (_asset("page.html")
            .replace("__TITLE__", html.escape(name))
            .replace("/*__CSS__*/", _asset("page.css"))
            .replace("/*__JS__*/", _asset("page.js"))
            .replace("__DATA__", data))
