"""The reader's two paths agree with jsonschema: the typed decoder never accepts what the schema
refuses, the slow path's explainer refuses exactly what the schema refuses and converts what it
accepts; errors name file, line and field; and the checker agrees with spec/."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from checker import ALL_PROPERTIES, TraceError, check_lines
from checker.events import decode_event, decode_header, from_json, to_dict
from checker.reader import named_nodes_ok
from checker.schema import explain, load_schema
from tests.test_checker_corpus import CORPUS
from tests.test_checker_gen import normal_run

ROOT = Path(__file__).resolve().parent.parent
VALIDATOR = jsonschema.Draft202012Validator(load_schema())


def ours(obj: Any) -> bool:
    """Whether the slow path's explainer finds the line valid."""
    return explain(obj) is None


def is_event(obj: Any) -> bool:
    return isinstance(obj, dict) and obj.get("type") == "event"


def slow(obj: Any) -> bool:
    """Whether the reader's slow path takes the line as an event (node membership aside):
    converted from plain JSON, and a config's voters distinct."""
    try:
        ev = from_json(copy.deepcopy(obj))
    except msgspec.ValidationError:
        return False
    return named_nodes_ok(ev, AnyNode())


class AnyNode(frozenset[str]):
    """Every node id is a member (node membership is the reader's rule, not the schema's)."""

    def __contains__(self, item: object) -> bool:
        return True


def typed(obj: Any) -> bool:
    """Whether the reader's fast path accepts the line: the typed decoder (checker/events.py)
    and the reader's own checks on the decoded event (a config's voters distinct)."""
    raw = orjson.dumps(obj)
    if isinstance(obj, dict) and obj.get("type") == "header":
        try:
            decode_header(raw)
        except msgspec.DecodeError:
            return False
        return len(set(obj["nodes"])) == len(obj["nodes"])
    try:
        ev = decode_event(raw)
    except msgspec.DecodeError:
        return False
    return named_nodes_ok(ev, AnyNode())


def sample_lines() -> list[dict[str, Any]]:
    """A few lines of every shape in the corpus (each kind, each message type)."""
    seen: dict[tuple[str, ...], int] = {}
    out = []
    for path in sorted(CORPUS.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            obj = orjson.loads(line)
            shape = (obj["type"], obj.get("kind", ""), obj.get("msg", {}).get("type", ""),
                     str(obj.get("msg", {}).get("success", "")))
            if seen.get(shape, 0) < 2:
                seen[shape] = seen.get(shape, 0) + 1
                out.append(obj)
    return out


SAMPLES = sample_lines()
REPLACEMENTS: list[Any] = [None, -1, 0, 1, 1.0, 2.5, True, "", "x", "n1", "x" * 65, [], {},
                           [{"term": 1, "data": None}], "leader", "event", "RequestVote"]


def paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.extend(paths(v, (*prefix, k)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:2]):
            out.extend(paths(v, (*prefix, i)))
    return out


def mutate(obj: Any, path: tuple[Any, ...], value: Any, delete: bool = False) -> Any:
    obj = copy.deepcopy(obj)
    target = obj
    for step in path[:-1]:
        target = target[step]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return obj


def mutations() -> list[Any]:
    out: list[Any] = []
    for obj in SAMPLES:
        out.append(obj)
        for path in paths(obj):
            out.append(mutate(obj, path, None, delete=True))
            out.extend(mutate(obj, path, v) for v in REPLACEMENTS)
        if isinstance(obj, dict):
            out.append({**obj, "extra": 1})
    return out


def converts(obj: dict[str, Any]) -> None:
    """A valid event line converts to its class, and back to the same JSON values (integral
    floats where the schema says integer read as ints; nothing else changed)."""
    ev = from_json(copy.deepcopy(obj))
    back = to_dict(ev)
    assert back == {k: v for k, v in obj.items() if k in back}, obj
    assert VALIDATOR.is_valid(back)


def test_the_paths_agree_with_jsonschema_on_valid_and_mutated_lines() -> None:
    cases = mutations()
    assert len(cases) > 5000
    disagreements = []
    accepted = 0
    for obj in cases:
        expected = VALIDATOR.is_valid(obj)
        accepted += expected
        if ours(obj) != expected or (is_event(obj) and slow(obj) != expected):
            disagreements.append(obj)
        # The typed decoder may send a valid line to the slow path, never accept a bad one;
        # and what the slow path accepts converts to a typed event.
        if typed(obj):
            assert expected, obj
        elif expected and is_event(obj):
            converts(obj)
    assert not disagreements, disagreements[:3]
    assert 0 < accepted < len(cases)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(allow_nan=False,
                                                                allow_infinity=False)
    | st.text(max_size=3) | st.sampled_from(["n1", "leader", "AppendEntries", "send"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["term", "data", "id", "x"]), inner, max_size=3),
    max_leaves=6)


@given(st.sampled_from(SAMPLES), st.data(), json_values)
def test_validator_agrees_on_random_replacements(obj: Any, data: st.DataObject,
                                                 value: Any) -> None:
    path = data.draw(st.sampled_from(paths(obj)))
    bad = mutate(obj, path, value)
    valid = VALIDATOR.is_valid(bad)
    assert ours(bad) == valid
    assert valid or not typed(bad)
    if is_event(bad):
        assert slow(bad) == valid
        if valid:
            converts(bad)


def test_the_typed_decoder_takes_every_valid_sample_event() -> None:
    """The fast path is the common path: each event shape of the corpus decodes typed."""
    events = [obj for obj in SAMPLES if obj["type"] == "event"]
    assert len(events) > 20
    assert [obj for obj in events if not typed(obj)] == []


def test_error_names_the_field_path() -> None:
    obj = next(o for o in SAMPLES if o.get("kind") == "send"
               and o["msg"]["type"] == "AppendEntries" and o["msg"]["entries"])
    bad = mutate(obj, ("msg", "entries", 0, "term"), "one")
    violation = explain(bad)
    assert violation is not None
    assert (violation.field, violation.message) == (
        "msg.entries[0].term", 'must be an integer, got the string "one"')


def sample(kind: str, msg_type: str | None = None) -> dict[str, Any]:
    return copy.deepcopy(next(o for o in SAMPLES if o.get("kind") == kind and (
        msg_type is None or o["msg"]["type"] == msg_type)))


def config_line() -> dict[str, Any]:
    obj = sample("timeout")
    obj.update(kind="config", voters=["n1", "n2"])
    return obj


# Each schema keyword the contract uses, broken once: the error line names the field's path
# and says what is wrong in the schema's terms (as precise as the hand-written validator was).
ERRORS: dict[str, tuple[Any, str]] = {
    "type, nested": (mutate(sample("send", "AppendEntries"), ("msg", "leader_commit"), "2"),
                     'field msg.leader_commit: must be an integer, got the string "2"'),
    "minimum": (mutate(sample("commit"), ("index",), 0), "field index: must be >= 1, got 0"),
    "minLength": (mutate(sample("send"), ("msg", "id"), ""), "field msg.id: must not be empty"),
    "maxLength": (mutate(sample("commit"), ("node",), "n" * 65),
                  "field node: must have at most 64 characters"),
    "enum": (mutate(sample("commit"), ("role",), "boss"),
             'field role: must be one of candidate, follower, leader; got the string "boss"'),
    "kind enum": (mutate(sample("commit"), ("kind",), "elect"), "field kind: must be one of"),
    "required, nested": (mutate(sample("receive", "RequestVoteResponse"), ("msg", "granted"),
                                None, delete=True),
                         "field msg.granted: is required but missing"),
    "boolean": (mutate(sample("receive", "RequestVoteResponse"), ("msg", "granted"), 1),
                "field msg.granted: must be true or false, got 1"),
    "extra entry field": (mutate(sample("apply"), ("entry", "x"), 1),
                          "field entry.x: is not allowed here (only term, data)"),
    "null or node id": (mutate(sample("commit"), ("vote",), 5),
                        "field vote: must be a string or null, got 5"),
    "node id too long, nullable": (mutate(sample("commit"), ("vote",), "v" * 65),
                                   "field vote: must have at most 64 characters"),
    "integer or null": (mutate(sample("receive", "AppendEntriesResponse"),
                               ("msg", "conflict_term"), "x"),
                        'field msg.conflict_term: must be an integer or null, got the string'),
    "minItems": (mutate(config_line(), ("voters",), []),
                 "field voters: must hold at least 1 item"),
    "uniqueItems": (mutate(config_line(), ("voters",), ["n1", "n1"]),
                    "field voters: must not hold the same value twice"),
    "array items": (mutate(config_line(), ("voters", 1), 7),
                    "field voters[1]: must be a string, got 7"),
    "line type": (mutate(sample("commit"), ("type",), "evnt"),
                  'field type: must be "header" or "event" or "history", got the string "evnt"'),
}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_each_schema_rule_broken_gives_file_line_field(case: str) -> None:
    bad, expected = ERRORS[case]
    assert not VALIDATOR.is_valid(bad)
    lines = normal_run(proposals=1).lines
    lines.append(orjson.dumps({**bad, "seq": 10**6}).decode())
    with pytest.raises(TraceError) as info:
        check_lines(lines, name="t.jsonl")
    assert str(info.value).startswith(f"t.jsonl:{len(lines)}: {expected}"), str(info.value)


HEADER_ERRORS: dict[str, tuple[dict[str, Any], str]] = {
    "const": ({"format": "raft-trac"}, 'field format: must be "raft-trace", got the string'),
    "nested required": ({"implementation": {"name": "x"}},
                        "field implementation.version: is required but missing"),
    "unique nodes": ({"nodes": ["a", "a"]}, "field nodes: must not hold the same value twice"),
    "clock enum": ({"clock": "wall"}, "field clock: must be one of logical, per-process"),
    "seed type": ({"seed": "1"}, 'field seed: must be an integer, got the string "1"'),
}


@pytest.mark.parametrize("case", sorted(HEADER_ERRORS))
def test_header_errors_name_the_field(case: str) -> None:
    change, expected = HEADER_ERRORS[case]
    lines = normal_run(proposals=1).lines
    header = {**orjson.loads(lines[0]), **change}
    with pytest.raises(TraceError) as info:
        check_lines([orjson.dumps(header).decode(), *lines[1:]], name="h.jsonl")
    assert str(info.value).startswith(f"h.jsonl:1: {expected}"), str(info.value)


def test_integral_floats_are_integers_where_the_schema_says_integer() -> None:
    """JSON Schema's integer takes 3.0; msgspec's int does not, so such a line takes the slow
    path and is accepted there, its integers read as ints and its data (any JSON value) kept as
    written: 1.0 stays a float, a different entry from 1."""
    b = normal_run(proposals=2)
    lines = list(b.lines)
    header = orjson.loads(lines[0])
    header["version"] = 1.0
    header["seed"] = 7.0
    lines[0] = orjson.dumps(header).decode()
    floats = 0
    for k, line in enumerate(lines[1:], 1):
        ev = orjson.loads(line)
        for key in ("seq", "term", "commit", "index"):
            if key in ev:
                ev[key] = float(ev[key])
                floats += 1
        if "msg" in ev:
            ev["msg"]["term"] = float(ev["msg"]["term"])
        lines[k] = orjson.dumps(ev).decode()
        assert VALIDATOR.is_valid(ev)
    assert floats > 50
    plain = check_lines(b.lines)
    floated = check_lines(lines)
    assert floated.ok and floated.events == plain.events
    assert [p.evaluated for p in floated.properties] == [p.evaluated for p in plain.properties]
    apply = orjson.loads(next(ln for ln in b.lines if '"kind":"apply"' in ln))
    apply["entry"]["data"] = 1.0
    apply["term"] = float(apply["term"])
    ev = from_json(apply)
    assert type(ev.term) is int and type(ev.entry.data) is float  # type: ignore[attr-defined]


def spec_table() -> dict[str, tuple[str, str]]:
    text = (ROOT / "spec" / "PROPERTIES.md").read_text()
    rows = re.findall(r"^\| \*\*(\w+)\*\* \| (.+?) \| (.+?) \| .+? \|$", text, re.M)
    return {name: (statement, reference) for name, statement, reference in rows}


def test_property_names_statements_and_references_are_the_specs() -> None:
    table = spec_table()
    assert [p.name for p in ALL_PROPERTIES] == list(table)
    for p in ALL_PROPERTIES:
        assert (p.statement, p.reference) == table[p.name], p.name
