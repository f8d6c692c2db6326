"""One contract: spec/trace.schema.json is the source, and the checker's typed decoder
(checker/events.py) is checked against it here, field by field, by walking both generically.

Each side is reduced to the same plain "shape": every event kind and message type, every
field, whether it is required, its type, enum values, bounds (minimum, minLength, maxLength,
minItems), uniqueItems, null, and whether an object admits keys the contract does not name.
The schema walker knows the keywords the contract uses and fails on any other, so a new
keyword cannot slip past unchecked. The packaged schema is the spec's file itself.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec.inspect as mi
import pytest

from checker.events import AnyEvent, Header, HistoryLine
from checker.schema import load_schema

ROOT = Path(__file__).resolve().parent.parent
SPEC = ROOT / "spec" / "trace.schema.json"

#: Keywords for people (or tools), not for validation.
ANNOTATIONS = {"description", "title", "$schema", "$id", "$comment", "examples", "default"}

Shape = Any  # a tuple for a scalar, a dict for an object or a tagged union


class UnknownKeyword(Exception):
    pass


# ------------------------------------------------------------------ the schema's side


class SchemaWalker:
    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """A node with its ``$ref`` followed; keywords beside the ``$ref`` apply as well."""
        node = dict(node)
        while "$ref" in node:
            target: Any = self.schema
            for part in node.pop("$ref").removeprefix("#/").split("/"):
                target = target[part]
            merged = {k: v for k, v in target.items() if k not in ANNOTATIONS}
            for key, value in node.items():
                if key in ANNOTATIONS:
                    continue
                assert key not in merged or merged[key] == value, f"$ref and {key} disagree"
                merged[key] = value
            node = merged
        return {k: v for k, v in node.items() if k not in ANNOTATIONS}

    def shape(self, node: dict[str, Any]) -> Shape:
        node = self.resolve(node)
        known = {"type", "const", "enum", "minimum", "minLength", "maxLength", "items",
                 "minItems", "uniqueItems", "required", "properties", "additionalProperties",
                 "allOf", "anyOf", "oneOf"}
        unknown = set(node) - known
        if unknown:
            raise UnknownKeyword(f"the contract walker does not know {sorted(unknown)}")
        if not node:
            return ("any",)
        if "anyOf" in node or "oneOf" in node:
            assert set(node) <= {"anyOf", "oneOf"}
            return union(self.shape(alt) for alt in node.get("anyOf", node.get("oneOf")))
        if "const" in node:
            return ("enum", (node["const"],))
        if "enum" in node:
            return ("enum", tuple(sorted(node["enum"], key=repr)))
        types = node["type"]
        if isinstance(types, list):
            return union(self.shape({**node, "type": t}) for t in types)
        if types == "integer":
            return ("int", node.get("minimum"))
        if types == "string":
            return ("str", node.get("minLength", 0), node.get("maxLength"))
        if types in ("boolean", "null"):
            return (types,)
        if types == "array":
            items = self.shape(node.get("items", {}))
            return ("array", items, node.get("minItems", 0), node.get("uniqueItems", False))
        assert types == "object", types
        return self.object(node)

    def object(self, node: dict[str, Any]) -> Shape:
        base = {"required": node.get("required", []), "properties": node.get("properties", {})}
        extra = node.get("additionalProperties", True) is not False
        rules = node.get("allOf", [])
        if not rules:
            return self.fields(base, extra)
        # if/then rules keyed by one field's value (kind, type): one variant per value.
        (tag,) = {name for rule in rules for name in rule["if"]["properties"]}
        values = self.shape(base["properties"][tag])[1]
        variants = {}
        for value in values:
            merged = copy.deepcopy(base)
            for rule in rules:
                assert set(rule) == {"if", "then"}, rule
                test = rule["if"]["properties"][tag]
                if value in test.get("enum", [test.get("const")]):
                    then = self.resolve(rule["then"])
                    assert set(then) <= {"required", "properties"}, then
                    merged["required"] += then.get("required", [])
                    merged["properties"].update(then.get("properties", {}))
            merged["properties"][tag] = {"const": value}
            variants[value] = self.fields(merged, extra)
        return {"tagged by": tag, "variants": variants}

    def fields(self, node: dict[str, Any], extra: bool) -> Shape:
        out: dict[str, Any] = {"(other keys allowed)": extra}
        for name, sub in node["properties"].items():
            out[name] = (name in node["required"], self.shape(sub))
        assert set(node["required"]) <= set(node["properties"]), node["required"]
        return out


def union(shapes: Any) -> Shape:
    flat: set[Any] = set()
    for s in shapes:
        flat |= s[1] if s[0] == "union" else {s}
    return ("union", frozenset(flat))


def free_form() -> Shape:
    """``{"type": "object"}`` with no properties: any object."""
    return {"(other keys allowed)": True}


# ------------------------------------------------------------------ the typed decoder's side


def model_shape(t: Any) -> Shape:
    unique = False
    if isinstance(t, mi.Metadata):
        assert set(t.extra_json_schema or {}) <= {"uniqueItems"}, t
        unique = bool((t.extra_json_schema or {}).get("uniqueItems"))
        t = t.type
    if isinstance(t, mi.IntType):
        assert (t.gt, t.lt, t.le, t.multiple_of) == (None,) * 4, t
        return ("int", t.ge)
    if isinstance(t, mi.StrType):
        assert t.pattern is None
        return ("str", t.min_length or 0, t.max_length)
    if isinstance(t, mi.BoolType):
        return ("boolean",)
    if isinstance(t, mi.NoneType):
        return ("null",)
    if isinstance(t, mi.AnyType):
        return ("any",)
    if isinstance(t, mi.LiteralType):
        return ("enum", tuple(sorted(t.values, key=repr)))
    if isinstance(t, mi.ListType):
        assert t.max_length is None
        return ("array", model_shape(t.item_type), t.min_length or 0, unique)
    if isinstance(t, mi.DictType):
        assert isinstance(t.key_type, mi.StrType) and isinstance(t.value_type, mi.AnyType)
        return free_form()
    if isinstance(t, mi.UnionType):
        if all(isinstance(s, mi.StructType) for s in t.types):
            (tag,) = {s.tag_field for s in t.types}
            return {"tagged by": tag, "variants": {s.tag: model_shape(s) for s in t.types}}
        return union(model_shape(s) for s in t.types)
    if isinstance(t, mi.StructType):
        assert not t.array_like
        out: dict[str, Any] = {"(other keys allowed)": not t.forbid_unknown_fields}
        for f in t.fields:
            out[f.encode_name] = (f.required, model_shape(f.type))
        if t.tag_field is not None:
            out[t.tag_field] = (True, ("enum", (t.tag,)))
        return out
    raise AssertionError(f"no shape for {t!r}")


# ------------------------------------------------------------------ comparing


def differences(a: Shape, b: Shape, path: str = "") -> Iterator[str]:
    """Where two shapes differ, each as 'path: schema says ..., typed model says ...'."""
    if isinstance(a, dict) and isinstance(b, dict) and "tagged by" in a and "tagged by" in b:
        if a["tagged by"] != b["tagged by"]:
            yield f"{path}: tagged by {a['tagged by']} in the schema, {b['tagged by']} in the model"
            return
        tag, va, vb = a["tagged by"], a["variants"], b["variants"]
        for value in list(va) + [v for v in vb if v not in va]:
            where = f"{path}[{tag}={value}]"
            if value not in vb:
                yield f"{where}: only in the schema"
            elif value not in va:
                yield f"{where}: only in the typed model"
            else:
                yield from differences(va[value], vb[value], where)
    elif isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            where = f"{path}.{key}" if path else str(key)
            if key not in b:
                yield f"{where}: only in the schema"
            elif key not in a:
                yield f"{where}: only in the typed model"
            else:
                yield from differences(a[key], b[key], where)
    elif (isinstance(a, tuple) and isinstance(b, tuple) and len(a) == len(b) == 2
          and isinstance(a[0], bool)):  # (required, shape) of a field
        if a[0] != b[0]:
            yield f"{path}: required in the {'schema' if a[0] else 'typed model'} only"
        yield from differences(a[1], b[1], path)
    elif isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0] == "array":
        yield from differences(a[1], b[1], f"{path}[]")
        if a[2:] != b[2:]:
            yield (f"{path}: schema says minItems {a[2]}, uniqueItems {a[3]}; typed model says "
                   f"{b[2]}, {b[3]}")
    elif a != b:
        yield f"{path}: schema says {a}, typed model says {b}"


def contract_differences(schema: dict[str, Any]) -> list[str]:
    walker = SchemaWalker(schema)
    lines = {}
    for branch in schema["oneOf"]:
        shape = walker.shape(branch)
        # A line's kind is its ``type`` const ("header"), or the event's per-kind variants.
        lines["event" if "tagged by" in shape else shape["type"][1][1][0]] = shape
    model = {"header": model_shape(mi.type_info(Header)),
             "event": model_shape(mi.type_info(AnyEvent)),
             "history": model_shape(mi.type_info(HistoryLine))}
    return list(differences(lines, model))


def test_the_typed_decoder_is_the_schema() -> None:
    assert contract_differences(load_schema()) == []


def test_the_walk_covers_every_kind_message_and_field() -> None:
    """The comparison is not vacuous: it reaches every event kind, every message type inside
    send/receive/drop, and fields at every depth."""
    shape = SchemaWalker(load_schema()).shape({"$ref": "#/$defs/event"})
    kinds = shape["variants"]
    assert len(kinds) == 15
    messages = kinds["send"]["msg"][1]["variants"]
    assert set(messages) == {"RequestVote", "RequestVoteResponse", "AppendEntries",
                             "AppendEntriesResponse", "ReadIndex", "ReadIndexResponse"}
    entry = messages["AppendEntries"]["entries"][1][1]
    assert entry == {"(other keys allowed)": False, "term": (True, ("int", 0)),
                     "data": (True, ("any",))}
    assert kinds["config"]["voters"] == (True, ("array", ("str", 1, 64), 1, True))


def mutants(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The schema changed in one way the typed decoder would not follow."""
    defs = schema["$defs"]
    edits = {
        "a minimum": lambda d: d["term"].update(minimum=1),
        "a maxLength": lambda d: d["nodeId"].update(maxLength=63),
        "a minLength": lambda d: d["message"]["properties"]["id"].update(minLength=2),
        "an enum value": lambda d: d["role"]["enum"].append("observer"),
        "a new kind": lambda d: d["event"]["properties"]["kind"]["enum"].append("snapshot"),
        "a required key": lambda d: d["header"]["required"].append("seed"),
        "a key no longer required": lambda d: d["event"]["required"].remove("commit"),
        "a type": lambda d: d["header"]["properties"]["seed"].update(type="string"),
        "nullable": lambda d: d["event"]["properties"].update(
            commit={"anyOf": [{"$ref": "#/$defs/index"}, {"type": "null"}]}),
        "closed to extra keys": lambda d: d["message"].update(additionalProperties=False),
        "open to extra keys": lambda d: d["entry"].pop("additionalProperties"),
        "a new field": lambda d: d["event"]["allOf"][0]["then"]["properties"].update(
            snapshot={"type": "boolean"}),
        "minItems": lambda d: d["entries"].update(minItems=1),
        "uniqueItems": lambda d: d["header"]["properties"]["nodes"].pop("uniqueItems"),
        "a const": lambda d: d["header"]["properties"]["version"].update(const=2),
    }
    for name, edit in edits.items():
        changed = copy.deepcopy(schema)
        edit(changed["$defs"])
        assert changed["$defs"] != defs, name
        yield name, changed


def test_any_difference_fails_the_comparison() -> None:
    missed = [name for name, changed in mutants(load_schema())
              if not contract_differences(changed)]
    assert missed == []


def test_an_unknown_keyword_stops_the_walk() -> None:
    changed = load_schema()
    changed["$defs"]["nodeId"]["pattern"] = "^[a-z0-9]+$"
    with pytest.raises(UnknownKeyword, match="pattern"):
        contract_differences(changed)


# ------------------------------------------------------------------ one file


def test_the_packaged_schema_is_a_link_to_the_spec() -> None:
    packaged = ROOT / "checker" / "trace.schema.json"
    assert packaged.is_symlink()
    assert os.readlink(packaged) == "../spec/trace.schema.json"
    assert packaged.resolve() == SPEC.resolve()


def test_a_build_ships_the_schema_as_a_regular_file(tmp_path: Path) -> None:
    """What ``pip install .`` does with package data (setuptools' build_py, run here on a copy
    of the project): the link is followed and the wheel holds the spec's bytes."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for folder in ("checker", "spec"):
        shutil.copytree(ROOT / folder, src / folder, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "build"
    proc = subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()",
                           "-q", "build_py", "--build-lib", str(out)],
                          cwd=src, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    shipped = out / "checker" / "trace.schema.json"
    assert shipped.is_file() and not shipped.is_symlink()
    assert shipped.read_bytes() == SPEC.read_bytes()
