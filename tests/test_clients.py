"""Simulated clients (raftref/sim/clients.py): several clients read and write with retries
and timeouts, and record a history in the contract of spec/history.schema.json, which the
linearizability checker judges; same schedule, same trace and history, byte for byte."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from checker import check_lines
from checker.history import check_history
from raftref.cli import main
from raftref.sim.clients import Clients, HistoryWriter, Operation
from raftref.sim.schedule import Fault, Schedule, generate_schedule
from raftref.sim.simulator import run_schedule

from .conftest import ROOT

HISTORY = Draft202012Validator(json.loads((ROOT / "spec" / "history.schema.json").read_text()))


def run(schedule: Schedule) -> tuple[bytes, bytes]:
    trace, history = io.BytesIO(), io.BytesIO()
    run_schedule(schedule, trace, history)
    return trace.getvalue(), history.getvalue()


def lines(history: bytes) -> list[dict]:
    return [orjson.loads(x) for x in history.splitlines()[1:]]


def test_same_schedule_same_trace_and_history_and_every_line_follows_the_contract() -> None:
    schedule = replace(generate_schedule(5, 3, 3000), clients=3)
    trace, history = run(schedule)
    assert run(schedule) == (trace, history)
    assert run(replace(schedule, seed=6)) != (trace, history)
    for n, line in enumerate(history.splitlines(), 1):
        errors = list(HISTORY.iter_errors(orjson.loads(line)))
        assert not errors, f"line {n}: {errors[0].message}"
    ops = lines(history)
    assert {op["f"] for op in ops} == {"get", "put", "append", "cas"}
    assert {op["process"] for op in ops} == {0, 1, 2}
    assert sum(op["type"] == "ok" and op["f"] == "get" for op in ops) > 5


@pytest.mark.parametrize("seed,nodes,lease", [(1, 3, False), (2, 5, False), (3, 3, True),
                                              (4, 5, True)])
def test_the_reference_node_is_linearizable_under_faults(seed: int, nodes: int, lease: bool,
                                                         tmp_path: Path) -> None:
    schedule = replace(generate_schedule(seed, nodes, 4000), clients=3, lease_reads=lease)
    trace, history = run(schedule)
    assert not check_lines(trace.decode().splitlines()).violated
    path = tmp_path / "history.jsonl"
    path.write_bytes(history)
    report = check_history([path], timeout=30)
    assert report.verdict == "linearizable", report.to_text()
    assert report.operations > 50


def test_fail_means_certainly_not_done_and_info_only_for_writes_that_may_have_been() -> None:
    # A leader cut off with its clients' writes appended: they time out (info); reads and
    # writes refused by followers are fail.
    base = generate_schedule(9, 3, 6000)
    faults = tuple(Fault(t, "partition", groups=((n,), tuple(x for x in ("n1", "n2", "n3")
                                                          if x != n)))
                   for t, n in ((60, "n1"), (160, "n2"), (260, "n3"))) + (Fault(360, "heal"),)
    schedule = replace(base, faults=faults, clients=4, client_timeout=8, client_attempts=2)
    _, history = run(schedule)
    done = [op for op in lines(history) if op["type"] != "invoke"]
    kinds = {op["type"] for op in done}
    assert {"ok", "fail", "info"} <= kinds
    for op in done:
        if op["type"] == "info":
            assert op["f"] != "get", "a read changes nothing: it is never info"
            assert "may have taken effect: " in op["error"]
        if op["type"] == "fail" and op["f"] in ("put", "append"):
            assert op["error"].startswith(("refused", "unknown or expired session")), op


def test_a_crash_of_the_node_asked_ends_the_attempt_at_once() -> None:
    base = generate_schedule(4, 3, 3000)
    faults = tuple(f for t in range(40, 400, 40) for f in (Fault(t, "crash", "n1"),
                                                           Fault(t, "crash", "n2"),
                                                           Fault(t, "crash", "n3"),
                                                           Fault(t + 1, "restart", "n1"),
                                                           Fault(t + 1, "restart", "n2"),
                                                           Fault(t + 1, "restart", "n3")))
    schedule = replace(base, faults=faults, clients=3, client_attempts=1, client_timeout=1000)
    _, history = run(schedule)
    crashed = [op for op in lines(history) if op["type"] in ("info", "fail")
               and "crash" in op.get("error", "")]
    assert crashed, "no attempt ended by a crash, though every node crashed nine times"


def test_schedules_without_clients_write_no_client_fields() -> None:
    assert not {"clients", "client_timeout", "client_attempts", "lease_reads"} & set(
        generate_schedule(1, 3, 100).to_json())
    with_clients = replace(generate_schedule(1, 3, 100), clients=2, lease_reads=True)
    again = Schedule.from_json(orjson.loads(orjson.dumps(with_clients.to_json())))
    assert again == with_clients


def test_sim_writes_the_history_beside_the_trace(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["sim", "--seed", "2", "--steps", "1500", "--clients", "2"]
    for name in ("a", "b"):
        result = runner.invoke(main, [*args, "-o", str(tmp_path / f"{name}.jsonl"),
                                      "--history", str(tmp_path / f"{name}.history.jsonl")])
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert ((tmp_path / "a.history.jsonl").read_bytes()
            == (tmp_path / "b.history.jsonl").read_bytes())
    check = runner.invoke(main, ["check-history", str(tmp_path / "a.history.jsonl")])
    assert check.exit_code == 0, check.output


def test_sim_refuses_a_history_without_clients(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["sim", "--history", str(tmp_path / "h.jsonl")])
    assert result.exit_code == 2 and "--history needs clients" in result.output
    assert not (tmp_path / "h.jsonl").exists()


class _Idle:
    """A driver that only counts what the clients schedule: enough to call their rules."""

    now = 0
    ids = ("n1",)

    def __init__(self) -> None:
        self.later_calls: list[tuple[int, str, object]] = []

    def up_nodes(self) -> list[str]:
        return []

    def node(self, node_id: str) -> None:
        return None

    def perform(self, node: object, ready: object) -> None:
        raise AssertionError("not reached")

    def later(self, delay: int, kind: str, payload: object) -> None:
        self.later_calls.append((delay, kind, payload))


@pytest.mark.parametrize("doubt,expected", [(None, "fail"), ("appended by n1 at index 7", "info")])
def test_a_refused_session_is_fail_only_when_no_earlier_attempt_may_have_been_applied(
        doubt: str | None, expected: str) -> None:
    # An attempt that was applied kept its session alive; the session may then have expired
    # before the retry arrived. That retry's refusal says nothing of the first attempt.
    out = io.BytesIO()
    clients = Clients(_Idle(), 1, 1, 1, 5, 3, HistoryWriter(out, 1, {}))
    c = clients.clients[0]
    c.session, c.op = 4, Operation("append", "k0", "0.1 ", 1, attempts=2, doubt=doubt)
    clients._answered(c, {"error": "unknown or expired session 4"})
    (line,) = lines(out.getvalue())
    assert line["type"] == expected and c.session is None
