"""The hand-compiled validator agrees with jsonschema, the typed decoder never accepts what
jsonschema refuses, and the checker agrees with spec/."""

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

from checker import ALL_PROPERTIES
from checker.errors import SchemaViolation
from checker.events import decode_event, from_dict
from checker.reader import named_nodes_ok
from checker.schema import load_schema, validate_line
from tests.test_checker_corpus import CORPUS

ROOT = Path(__file__).resolve().parent.parent
VALIDATOR = jsonschema.Draft202012Validator(load_schema())


def ours(obj: Any) -> bool:
    try:
        validate_line(copy.deepcopy(obj))
    except SchemaViolation:
        return False
    return True


class AnyNode(frozenset[str]):
    """Every node id is a member (node membership is the reader's rule, not the schema's)."""

    def __contains__(self, item: object) -> bool:
        return True


def typed(obj: Any) -> bool:
    """Whether the reader's fast path accepts the line: the typed decoder (checker/events.py)
    and the reader's own checks on the decoded event (a config's voters distinct)."""
    try:
        ev = decode_event(orjson.dumps(obj))
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


def test_the_packaged_schema_is_the_spec() -> None:
    assert (ROOT / "checker" / "trace.schema.json").read_bytes() == \
        (ROOT / "spec" / "trace.schema.json").read_bytes()


def test_validator_agrees_with_jsonschema_on_valid_and_mutated_lines() -> None:
    cases = mutations()
    assert len(cases) > 5000
    disagreements = []
    accepted = 0
    for obj in cases:
        expected = VALIDATOR.is_valid(obj)
        accepted += expected
        if ours(obj) != expected:
            disagreements.append(obj)
        # The typed decoder may send a valid line to the full validator, never accept a bad
        # one; and what the full validator accepts (normalised) converts to a typed event.
        if typed(obj):
            assert expected, obj
        elif expected and obj.get("type") == "event":
            normalised = copy.deepcopy(obj)
            validate_line(normalised)
            from_dict(normalised)
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


def test_the_typed_decoder_takes_every_valid_sample_event() -> None:
    """The fast path is the common path: each event shape of the corpus decodes typed."""
    events = [obj for obj in SAMPLES if obj["type"] == "event"]
    assert len(events) > 20
    assert [obj for obj in events if not typed(obj)] == []


def test_error_names_the_field_path() -> None:
    obj = next(o for o in SAMPLES if o.get("kind") == "send"
               and o["msg"]["type"] == "AppendEntries" and o["msg"]["entries"])
    bad = mutate(obj, ("msg", "entries", 0, "term"), "one")
    with pytest.raises(SchemaViolation) as info:
        validate_line(bad)
    assert info.value.field == "msg.entries[0].term"


def test_integral_floats_are_integers_and_normalised() -> None:
    obj = copy.deepcopy(next(o for o in SAMPLES if o.get("kind") == "commit"))
    obj["term"] = float(obj["term"])
    assert VALIDATOR.is_valid(obj)
    validate_line(obj)
    assert type(obj["term"]) is int


def spec_table() -> dict[str, tuple[str, str]]:
    text = (ROOT / "spec" / "PROPERTIES.md").read_text()
    rows = re.findall(r"^\| \*\*(\w+)\*\* \| (.+?) \| (.+?) \| .+? \|$", text, re.M)
    return {name: (statement, reference) for name, statement, reference in rows}


def test_property_names_statements_and_references_are_the_specs() -> None:
    table = spec_table()
    assert [p.name for p in ALL_PROPERTIES] == list(table)
    for p in ALL_PROPERTIES:
        assert (p.statement, p.reference) == table[p.name], p.name
