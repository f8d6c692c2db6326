"""A small, strict reader of the EDN that Jepsen histories are written in.

It reads maps, vectors, lists, sets, keywords, strings, integers, floats, characters, symbols,
nil, true and false, comments and ``#_`` discards. A tagged literal (``#inst "..."``,
``#error {...}``, ``#jepsen.independent.Tuple{...}``) is read as :class:`Tagged`, its tag
and the value after it: the importers keep Jepsen's key/value tuples and refuse a tag where
the check needs a plain value. Anything else (ratios, reader conditionals, unbalanced
brackets) is an error naming the line.

Why not a library: edn_format (0.8.0), the maintained Python EDN reader, parses Porcupine's
50-client history (4,048 lines) in 0.7 s as one vector and 4.4-5.5 s a line at a time, where
this reader takes 0.3 s, and 0.08 s on its fast path for a flat map a line (below); and
edn_format's errors do not name the line ("EOF Reached"). Measured best of 3 on the shared
2-core machine (docs/histories.md).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from checker.errors import TraceError

_TOKEN = re.compile(r"""
    (?P<ws>(?:[\s,]+|;[^\n]*)+)
  | (?P<str>"(?:[^"\\]|\\.)*")
  | (?P<open>\#\{|[\[({])
  | (?P<close>[\])}])
  | (?P<discard>\#_)
  | (?P<tag>\#[A-Za-z][^\s,()\[\]{}"\\;]*)
  | (?P<char>\\(?:newline|space|tab|return|formfeed|backspace|u[0-9a-fA-F]{4}|\S))
  | (?P<atom>[^\s,()\[\]{}"\\;\#][^\s,()\[\]{}"\\;]*)
  | (?P<bad>.)
""", re.VERBOSE | re.DOTALL)
_INT = re.compile(r"[+-]?\d+N?")
_FLOAT = re.compile(r"[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?M?")
_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|.)", re.DOTALL)
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f",
            "/": "/"}
_CHARS = {"newline": "\n", "space": " ", "tab": "\t", "return": "\r", "formfeed": "\f",
          "backspace": "\b"}
_CLOSE = {"[": "]", "(": ")", "{": "}", "#{": "}"}


class Keyword(str):
    """An EDN keyword (``:read`` is ``Keyword("read")``)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return ":" + self


class Symbol(str):
    """An EDN symbol (``java.net.SocketTimeoutException`` in an error's data)."""

    __slots__ = ()


class EdnMap(dict):  # type: ignore[type-arg]
    """An EDN map, with the line it starts on (the importers' errors name it)."""

    __slots__ = ("line",)


@dataclass(frozen=True)
class Tagged:
    """A tagged literal: ``#tag value``."""

    tag: str
    value: Any


def _string(text: str, path: str, line: int) -> str:
    body = text[1:-1]
    if "\\" not in body:
        return body

    def one(m: re.Match[str]) -> str:
        esc = m.group(1)
        if esc[0] == "u" and len(esc) == 5:
            return chr(int(esc[1:], 16))
        if esc in _ESCAPES:
            return _ESCAPES[esc]
        raise TraceError(path, line, None, f"unknown escape \\{esc} in a string")

    return _ESCAPE.sub(one, body)


def _atom(text: str, path: str, line: int) -> Any:
    if text[0] == ":":
        if len(text) == 1:
            raise TraceError(path, line, None, "a lone ':' is not a keyword")
        return Keyword(text[1:])
    if text == "nil":
        return None
    if text == "true":
        return True
    if text == "false":
        return False
    if text[0].isdigit() or (len(text) > 1 and text[0] in "+-" and text[1].isdigit()):
        if _INT.fullmatch(text):
            return int(text.rstrip("N"))
        if _FLOAT.fullmatch(text):
            return float(text.rstrip("M"))
        raise TraceError(path, line, None, f"{text!r} is not a number this reader knows "
                         "(integers and decimals only; no ratios or radix numbers)")
    return Symbol(text)


def read_all(text: str, path: str) -> list[tuple[Any, int]]:
    """Every top-level form of ``text``, each with the line it starts on."""
    return list(forms(text, path))


def read_one(text: str, path: str, line: int) -> Any:
    """The first form of ``text`` (a value in a log line; what follows it is not read)."""
    for value, _ in forms(text, path, line):
        return value
    return None


def forms(text: str, path: str, line: int = 1) -> Iterator[tuple[Any, int]]:
    """The top-level forms of ``text`` one by one, each with the line it starts on."""
    # Each open collection: (opening token, items, line it opened on).
    stack: list[tuple[str, list[Any], int]] = []
    tags: list[tuple[str, int, int]] = []  # pending tags and discards: (tag, depth, line)
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        tok = m.group()
        if kind == "ws":
            line += tok.count("\n")
            continue
        if kind == "bad":
            raise TraceError(path, line, None, f"unexpected character {tok!r}")
        start_line = line
        if kind == "open":
            stack.append((tok, [], line))
            continue
        if kind in ("tag", "discard"):
            tags.append((tok[1:], len(stack), line))
            continue
        if kind == "str":
            value: Any = _string(tok, path, line)
            line += tok.count("\n")
        elif kind == "char":
            body = tok[1:]
            value = _CHARS.get(body) or (chr(int(body[1:], 16)) if len(body) == 5 and
                                         body[0] == "u" else body)
        elif kind == "atom":
            value = _atom(tok, path, line)
        else:  # close
            if not stack:
                raise TraceError(path, line, None, f"unbalanced {tok!r}: nothing to close")
            opener, items, start_line = stack.pop()
            if _CLOSE[opener] != tok:
                raise TraceError(path, line, None, f"{tok!r} closes the {opener!r} opened on "
                                 f"line {start_line}")
            value = _collection(opener, items, path, start_line)
        # A finished value: apply the tags (and discards) written just before it.
        while tags and tags[-1][1] == len(stack):
            tag, _, _ = tags.pop()
            if tag == "_":
                value = _DISCARDED
                break
            value = Tagged(tag, value)
        if value is _DISCARDED:
            continue
        if stack:
            stack[-1][1].append(value)
        else:
            yield value, start_line
    if stack:
        opener, _, opened = stack[-1]
        raise TraceError(path, line, None, f"the file ends inside the {opener!r} opened on "
                         f"line {opened} (a truncated file?)")
    if tags:
        raise TraceError(path, line, None, f"the file ends after #{tags[-1][0]} with no value")


_DISCARDED = object()


def _collection(opener: str, items: list[Any], path: str, line: int) -> Any:
    if opener == "{":
        if len(items) % 2:
            raise TraceError(path, line, None, "a map needs an even number of forms (a key "
                             "without a value?)")
        result = EdnMap()
        result.line = line
        for k, v in zip(items[::2], items[1::2], strict=True):
            try:
                result[k] = v
            except TypeError:
                raise TraceError(path, line, None, f"map key {k!r} is not a value this "
                                 "reader can use as a key") from None
        return result
    if opener == "#{":
        try:
            return frozenset(items)
        except TypeError:
            raise TraceError(path, line, None, "a set of maps or lists is not supported"
                             ) from None
    return items


# The fast path: a file of one flat map a line (Porcupine's form, and Jepsen's own for simple
# histories), every value a scalar. About four times faster than the general reader above,
# which reads anything else.
_NAME = r'[^\s,()\[\]{}"\\;#][^\s,()\[\]{}"\\;]*'
_SCALAR = r'(?:nil|true|false|[+-]?\d+|"(?:[^"\\]|\\.)*"|:' + _NAME + ")"
_FLAT = re.compile(r"\s*\{\s*(?::" + _NAME + r"\s+" + _SCALAR + r"[\s,]*)*\}\s*")
_PAIR = re.compile(r":(" + _NAME + r")\s+(" + _SCALAR + ")")


def read_flat_maps(text: str, path: str) -> list[EdnMap] | None:
    """The maps of a file of one flat map a line; None if it is not one (then
    :func:`read_all` reads it)."""
    out: list[EdnMap] = []
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        if _FLAT.fullmatch(line) is None:
            return None
        m = EdnMap()
        m.line = number
        for name, raw in _PAIR.findall(line):
            m[Keyword(name)] = _scalar(raw, path, number)
        out.append(m)
    return out


def _scalar(raw: str, path: str, line: int) -> Any:
    if raw[0] == '"':
        return _string(raw, path, line)
    return _atom(raw, path, line)
