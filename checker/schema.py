"""The contract, spec/trace.schema.json, as the checker reads it, and the slow path's explainer.

The reader validates lines with the typed decoder (checker/events.py, in C). A line that decoder
refuses comes here: :func:`explain` runs ``jsonschema`` (draft 2020-12) on it and turns the first
rule it breaks into a :class:`SchemaViolation` naming the JSON path of the offending value
(``msg.entries[0].term``), or returns None when the schema accepts the line after all (an
integral float where it says integer, which the typed decoder refuses). ``jsonschema`` costs tens
of microseconds a line and a tenth of a second to import, so it is loaded only when a line needs
it.

The packaged ``checker/trace.schema.json`` is a symbolic link to spec/trace.schema.json: one file
in the repository, which setuptools copies as a regular file into wheels and source archives.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

from checker.errors import SchemaViolation
from checker.events import EVENT_CLASSES, MESSAGE_CLASSES

if TYPE_CHECKING:
    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

#: Event kinds and message types in the schema's order (tests/test_checker_contract.py).
KINDS: tuple[str, ...] = tuple(cls.KIND for cls in EVENT_CLASSES)
MESSAGE_TYPES: tuple[str, ...] = tuple(cls.TYPE for cls in MESSAGE_CLASSES)

_TYPE_NAMES = {"integer": "an integer", "number": "a number", "string": "a string",
               "boolean": "true or false", "array": "an array", "object": "an object",
               "null": "null"}


def load_schema() -> dict[str, Any]:
    """The schema shipped with the package (spec/trace.schema.json)."""
    text = resources.files("checker").joinpath("trace.schema.json").read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def describe(value: Any) -> str:
    """A short, JSON-flavoured description of a value for error messages."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, str):
        return f'the string "{value[:40]}"' + ("..." if len(value) > 40 else "")
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "an array"
    return "an object"


@cache
def _validators() -> dict[str, Validator]:
    """One validator per alternative of the schema's top-level ``oneOf``, by the value its
    ``type`` property must have (header, event): a line's ``type`` picks the rules it is held
    to, so the error names a field of that rule set rather than the other's."""
    from jsonschema import Draft202012Validator

    schema = load_schema()
    root = {key: value for key, value in schema.items() if key != "oneOf"}
    out: dict[str, Validator] = {}
    for branch in schema["oneOf"]:
        target = _resolve(schema, branch)
        out[target["properties"]["type"]["const"]] = Draft202012Validator({**root, **branch})
    return out


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local ``$ref`` (``#/$defs/name``)."""
    while "$ref" in node:
        target: Any = schema
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def explain(obj: Any) -> SchemaViolation | None:
    """The first rule of the schema that ``obj`` (one parsed line) breaks, or None if the schema
    accepts it."""
    if type(obj) is not dict:
        return SchemaViolation("(line)", f"must be a JSON object, got {describe(obj)}")
    validators = _validators()
    kind = obj.get("type")
    validator = validators.get(kind) if type(kind) is str else None
    if validator is None:
        if "type" not in obj:
            return SchemaViolation("type", "is required but missing")
        choices = " or ".join(f'"{name}"' for name in validators)
        return SchemaViolation("type", f"must be {choices}, got {describe(kind)}")
    error = next(iter(validator.iter_errors(obj)), None)
    return None if error is None else _violation(error)


def _path(parts: Iterable[str | int]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _violation(error: ValidationError) -> SchemaViolation:
    """A jsonschema error in the words of a raft-trace error line: the field's JSON path and
    what is wrong with its value."""
    error = _deepest(error)
    path: deque[str | int] = deque(error.absolute_path)
    keyword, expected, value = error.validator, error.validator_value, error.instance
    if keyword == "required":
        path.append(next(name for name in expected if name not in value))
        message = "is required but missing"
    elif keyword == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        path.append(sorted(set(value) - set(allowed))[0])
        message = f"is not allowed here (only {', '.join(allowed)})"
    elif keyword == "type":
        names = [expected] if isinstance(expected, str) else expected
        message = (f"must be {' or '.join(_TYPE_NAMES.get(n, n) for n in names)}, "
                   f"got {describe(value)}")
    elif keyword == "minimum":
        message = f"must be >= {expected}, got {value}"
    elif keyword == "minLength":
        message = ("must not be empty" if expected == 1
                   else f"must have at least {expected} characters")
    elif keyword == "maxLength":
        message = f"must have at most {expected} characters"
    elif keyword == "minItems":
        message = f"must hold at least {expected} item{'s' if expected != 1 else ''}"
    elif keyword == "uniqueItems":
        message = "must not hold the same value twice"
    elif keyword == "enum":
        message = (f"must be one of {', '.join(sorted(map(str, expected)))}; "
                   f"got {describe(value)}")
    elif keyword == "const":
        message = f"must be {json.dumps(expected)}, got {describe(value)}"
    elif keyword in ("anyOf", "oneOf"):
        kinds = [_TYPE_NAMES.get(e.validator_value, str(e.validator_value))
                 for e in error.context if e.validator == "type" and isinstance(
                     e.validator_value, str)]
        message = f"must be {' or '.join(kinds) or 'one of the forms allowed'}, " \
                  f"got {describe(value)}"
    else:  # a keyword this module has no words for: jsonschema's own
        message = error.message
    return SchemaViolation(_path(path) or "(line)", message)


def _deepest(error: ValidationError) -> ValidationError:
    """For a value that matches none of an ``anyOf``'s alternatives: if its JSON type fits one
    of them, that alternative's error says more (a node id of 65 characters is "too long", not
    "not null")."""
    while error.validator in ("anyOf", "oneOf"):
        typed = [e for e in error.context if e.validator != "type"]
        if not typed:
            break
        error = typed[0]
    return error
