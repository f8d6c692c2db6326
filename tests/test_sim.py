"""The simulator: deterministic, schema-valid traces, the default fault mix, schedules as data."""

from __future__ import annotations

import io
import json
from dataclasses import replace

import orjson
import pytest
from jsonschema import Draft202012Validator

from raftref.sim.schedule import (
    Fault,
    NetworkProfile,
    Schedule,
    ScheduleError,
    generate_schedule,
)
from raftref.sim.simulator import Simulation, run_schedule

from .conftest import ROOT

VALIDATOR = Draft202012Validator(json.loads((ROOT / "spec" / "trace.schema.json").read_text()))


def trace_bytes(schedule: Schedule) -> bytes:
    buf = io.BytesIO()
    run_schedule(schedule, buf)
    return buf.getvalue()


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(VALIDATOR.schema)


@pytest.mark.parametrize("nodes,seed", [(3, 1), (5, 2), (3, 3)])
def test_every_line_of_a_simulated_trace_validates_against_the_schema(nodes: int,
                                                                      seed: int) -> None:
    data = trace_bytes(generate_schedule(seed, nodes, 6000))
    lines = data.splitlines()
    kinds = set()
    for number, line in enumerate(lines, start=1):
        obj = orjson.loads(line)
        errors = list(VALIDATOR.iter_errors(obj))
        assert not errors, f"line {number}: {errors[0].message}"
        if number == 1:
            assert obj["type"] == "header" and obj["nodes"] == [f"n{i}" for i in
                                                                range(1, nodes + 1)]
        else:
            kinds.add(obj["kind"])
            assert obj["seq"] == number - 2
    # The run exercises the whole vocabulary, so the schema is tested on every kind.
    assert {"start", "timeout", "vote", "role", "append", "commit", "apply", "send", "receive",
            "drop", "propose", "crash"} <= kinds


def test_same_seed_gives_identical_bytes_and_different_seeds_differ() -> None:
    a = trace_bytes(generate_schedule(11, 5, 4000))
    b = trace_bytes(generate_schedule(11, 5, 4000))
    c = trace_bytes(generate_schedule(12, 5, 4000))
    assert a == b
    assert a != c


def test_five_nodes_20000_steps_default_faults_elect_commit_apply_and_agree() -> None:
    schedule = generate_schedule(7, 5, 20000)
    kinds = {f.action for f in schedule.faults}
    assert {"crash", "restart", "partition", "heal"} <= kinds
    sim = Simulation(schedule, None)
    result = sim.run()
    assert result.steps == 20000
    assert result.messages_dropped > 0 and result.messages_duplicated > 0
    assert result.leaders, "no leader was ever elected"
    assert all(len(set(ls)) == 1 for ls in result.leaders.values()), "two leaders in one term"
    up = [n for n, is_up in result.up.items() if is_up]
    assert up
    for n in up:
        assert result.commit[n] > 0 and result.applied[n] > 0, f"{n} committed/applied nothing"
    # Every node that is up agrees on the committed prefix, and on the state machine built from it.
    shortest = min(result.commit[n] for n in up)
    prefixes = [result.logs[n][:shortest] for n in up]
    assert all(p == prefixes[0] for p in prefixes)
    longest = max(up, key=lambda n: result.applied[n])
    for n in up:
        if result.applied[n] == result.applied[longest]:
            assert result.kv[n] == result.kv[longest]


def test_a_crashed_node_restarts_with_exactly_its_persisted_state() -> None:
    faults = (Fault(150, "crash", "n1"), Fault(170, "crash", "n2"), Fault(200, "restart", "n1"),
              Fault(210, "restart", "n2"))
    schedule = Schedule(seed=5, nodes=3, steps=3000, faults=faults)
    lines = [orjson.loads(x) for x in trace_bytes(schedule).splitlines()[1:]]
    for node in ("n1", "n2"):
        mine = [e for e in lines if e["node"] == node and e["kind"] != "drop"]
        crash = next(i for i, e in enumerate(mine) if e["kind"] == "crash")
        start = mine[crash + 1]
        assert start["kind"] == "start" and start["restart"] is True
        # Rebuild the log from the events before the crash; it must equal the restart's log.
        log: list[dict] = []
        for e in mine[:crash]:
            if e["kind"] == "start":
                log = list(e["log"])
            elif e["kind"] == "append":
                assert e["index"] == len(log) + 1
                log.extend(e["entries"])
            elif e["kind"] == "truncate":
                del log[e["index"] - 1:]
        before = mine[crash]
        assert start["log"] == log
        assert (start["term"], start["vote"]) == (before["term"], before["vote"])
        assert start["commit"] == 0 and start["role"] == "follower"


def test_a_minority_partition_cannot_commit_and_rejoins_after_heal() -> None:
    # n1..n5; cut {n1, n2} from {n3, n4, n5} for a long time, then heal.
    faults = (Fault(100, "partition", groups=(("n1", "n2"), ("n3", "n4", "n5"))),
              Fault(600, "heal"))
    schedule = Schedule(seed=3, nodes=5, steps=12000, network=NetworkProfile(drop=0.0),
                        faults=faults)
    lines = [orjson.loads(x) for x in trace_bytes(schedule).splitlines()[1:]]
    cut_from = next(e["seq"] for e in lines if e["kind"] == "drop"
                    and e.get("reason") == "partition")
    heal_at = max(e["seq"] for e in lines if e["kind"] == "drop" and e.get("reason") == "partition")
    commits_in_minority_during_cut = [
        e for e in lines
        if cut_from <= e["seq"] <= heal_at and e["kind"] == "commit" and e["node"] in ("n1", "n2")
        and e["role"] == "leader"
    ]
    assert not commits_in_minority_during_cut
    result = Simulation(schedule, None).run()
    committed = min(result.commit.values())
    prefixes = [log[:committed] for log in result.logs.values()]
    assert all(p == prefixes[0] for p in prefixes)
    assert min(result.commit.values()) > 0


def test_schedule_round_trips_through_json() -> None:
    schedule = generate_schedule(9, 5, 20000, mutants=("figure8",))
    again = Schedule.from_json(orjson.loads(orjson.dumps(schedule.to_json())))
    assert again == schedule
    assert trace_bytes(again)[:20000] == trace_bytes(schedule)[:20000]


def test_node_timing_round_trips_through_json_and_reaches_the_nodes() -> None:
    fast = replace(generate_schedule(4, 3, 600), election_timeout_min=3, election_timeout_max=6,
                   heartbeat_interval=1)
    obj = orjson.loads(orjson.dumps(fast.to_json()))
    assert (obj["election_timeout_min"], obj["election_timeout_max"],
            obj["heartbeat_interval"]) == (3, 6, 1)
    again = Schedule.from_json(obj)
    assert again == fast
    assert trace_bytes(again) == trace_bytes(fast)
    sim = Simulation(fast)
    assert (sim.config.election_timeout_min, sim.config.election_timeout_max,
            sim.config.heartbeat_interval) == (3, 6, 1)


def test_default_timing_is_not_written_so_older_schedules_and_headers_stay_the_same() -> None:
    schedule = generate_schedule(9, 3, 500)
    obj = schedule.to_json()
    assert not {"election_timeout_min", "election_timeout_max", "heartbeat_interval"} & set(obj)
    assert Schedule.from_json(obj) == schedule
    assert (schedule.election_timeout_min, schedule.election_timeout_max,
            schedule.heartbeat_interval) == (10, 20, 2)
    header = orjson.loads(trace_bytes(schedule).split(b"\n", 1)[0])
    assert "heartbeat_interval" not in header["options"]


@pytest.mark.parametrize("bad,field", [
    ({"nodes": "three"}, "nodes"),
    ({"network": {"drop": 1.5}}, "network.drop"),
    ({"network": {"lossy": 0.1}}, "network.lossy"),
    ({"faults": [{"at": 5, "action": "explode"}]}, "faults[0].action"),
    ({"faults": [{"at": 5, "action": "crash", "node": "n9"}]}, "faults[0].node"),
    ({"faults": [{"at": -1, "action": "heal"}]}, "faults[0].at"),
    ({"message_faults": [{"send": 0, "action": "drop"}]}, "message_faults[0].send"),
    ({"message_faults": [{"send": 3, "action": "explode"}]}, "message_faults[0].action"),
    ({"mutants": ["no-such-bug"]}, "mutants"),
    ({"seeds": 1}, "seeds"),
    ({"heartbeat_interval": 0}, "heartbeat_interval"),
    ({"heartbeat_interval": "1"}, "heartbeat_interval"),
    ({"election_timeout_min": 2}, "election_timeout_min"),
    ({"election_timeout_min": 4, "heartbeat_interval": 4}, "election_timeout_min"),
    ({"election_timeout_min": 30}, "election_timeout_max"),
    ({"election_timeout_max": 9}, "election_timeout_max"),
])
def test_bad_schedules_are_rejected_naming_the_field(bad: dict, field: str) -> None:
    with pytest.raises(ScheduleError) as info:
        Schedule.from_json(bad)
    assert str(info.value).startswith(f"{field}:")


def test_node_modules_use_no_clock_socket_thread_or_global_randomness() -> None:
    import ast

    forbidden = {"time", "socket", "threading", "asyncio", "datetime", "os", "secrets",
                 "subprocess", "multiprocessing", "selectors"}
    modules = sorted((ROOT / "raftref" / "protocol").glob("*.py"))
    assert {p.name for p in modules} >= {"node.py", "log.py", "messages.py", "kv.py"}
    for path in modules:
        name = path.name
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                mods = {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                mods = {(node.module or "").split(".")[0]}
            else:
                mods = set()
            assert not mods & forbidden, f"{name} imports {mods & forbidden}"
            # random is allowed only as the injected random.Random instance's type.
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                if node.value.id == "random":
                    assert node.attr == "Random", f"{name} uses global random.{node.attr}"


