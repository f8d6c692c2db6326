"""Importers of Jepsen's history formats, and how a file's format is told from its content.

- ``edn``: Jepsen's ``history.edn``, a vector of operation maps, or one map per line as in
  Porcupine's test data: ``{:process 0, :type :invoke, :f :read, :value nil}``.
- ``jepsen-log``: the older ``jepsen.util`` log lines, ``0 :invoke :read nil`` (process, type,
  f, value, then anything, such as an error, which is not read), bare or after a log prefix
  ending in ``jepsen.util - ``. In a log with such prefixes, lines without one are other log
  lines and are skipped (counted in a note).

Operations of the ``:nemesis`` process are not client operations: they are ignored, counted in
a note. Jepsen's independent keys (``[key value]`` tuples, or ``#jepsen.independent.Tuple``)
become the operation's key and value.
"""

from __future__ import annotations

import re
from typing import Any

from checker.errors import TraceError
from checker.history.edn import (
    EdnMap,
    Keyword,
    Symbol,
    Tagged,
    read_all,
    read_flat_maps,
    read_one,
)
from checker.history.ops import KINDS, TYPES, Record, Where, freeze, show

FORMATS = ("jsonl", "edn", "jepsen-log")
_LOG = re.compile(r"^(?P<prefix>.*?jepsen\.util - )?\s*(?P<process>\d+|:nemesis)\s+"
                  r":(?P<type>[a-z]+)\s+:(?P<f>[^\s]+)(?:\s+(?P<rest>.*))?$")
_TUPLE_TAG = "jepsen.independent.Tuple"


def detect(path: str, text: str) -> str:
    """The format of a history file, from its first characters."""
    head = text.lstrip()
    if head.startswith("{"):
        return "jsonl" if head[1:].lstrip().startswith(('"', "}")) else "edn"
    if head.startswith(("[", "(", ";")):
        return "edn"
    first = head.split("\n", 1)[0]
    if _LOG.match(first) or "jepsen.util - " in text:
        return "jepsen-log"
    raise TraceError(path, 1, None, "cannot tell the format of this history (not the JSON Lines "
                     "contract, Jepsen EDN or jepsen.util log lines): give --format")


class Imported:
    """A Jepsen file's records, and what was left out of them."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.nemesis = 0
        self.skipped = 0

    def notes(self, path: str) -> list[str]:
        out = []
        if self.nemesis:
            out.append(f"{path}: {self.nemesis} nemesis operation(s) ignored (not clients')")
        if self.skipped:
            out.append(f"{path}: {self.skipped} log line(s) that are not operations skipped")
        return out


def _value(v: Any, where: Where, field: str) -> Any:
    """An EDN value as the check compares it; a tagged literal cannot be."""
    if isinstance(v, Tagged):
        raise TraceError(where.file, where.line, field, f"the tagged literal #{v.tag} is not a "
                         "value the check can compare")
    if isinstance(v, list):
        return [_value(x, where, field) for x in v]
    if isinstance(v, dict):
        return {str(k): _value(x, where, field) for k, x in v.items()}
    if isinstance(v, Symbol):
        raise TraceError(where.file, where.line, field, f"the symbol {v} is not a value the "
                         "check can compare")
    return v


def _split_tuple(v: Any, where: Where) -> tuple[Any, Any] | None:
    """Jepsen's independent [key value] tuple, if ``v`` is one."""
    if isinstance(v, Tagged) and v.tag == _TUPLE_TAG and isinstance(v.value, dict):
        return v.value.get(Keyword("key")), v.value.get(Keyword("value"))
    if isinstance(v, list) and len(v) == 2:
        return v[0], v[1]
    return None


def _record(imp: Imported, fields: dict[Any, Any], position: int, where: Where,
            independent: bool) -> None:
    kind = fields.get(Keyword("type"))
    process = fields.get(Keyword("process"))
    if process == Keyword("nemesis"):
        imp.nemesis += 1
        return
    if kind not in TYPES:
        raise TraceError(where.file, where.line, "type", "must be one of "
                         f":{', :'.join(TYPES)}, got {kind!r}")
    if isinstance(process, Keyword | Symbol) or not isinstance(process, int | str) or (
            isinstance(process, int) and (isinstance(process, bool) or process < 0)):
        raise TraceError(where.file, where.line, "process",
                         f"must be an integer >= 0 (or :nemesis), got {process!r}")
    f = fields.get(Keyword("f"))
    if not isinstance(f, str) or str(f) not in KINDS:
        raise TraceError(where.file, where.line, "f", f"{f!r} is not an operation the register, "
                         f"cas-register or kv models know (:{', :'.join(KINDS)})")
    value = fields.get(Keyword("value"))
    key = fields.get(Keyword("key"))
    if independent and Keyword("key") not in fields:
        pair = _split_tuple(value, where)
        if pair is None:
            raise TraceError(where.file, where.line, "value", "an operation without :key must "
                             "carry Jepsen's independent [key value] tuple under the kv model, "
                             f"got {value!r}")
        key, value = pair
    index = fields.get(Keyword("index"), position)
    time = fields.get(Keyword("time"))
    for name, v in (("index", index), ("time", time)):
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise TraceError(where.file, where.line, name, f"must be an integer >= 0, got {v!r}")
    if key is not None and (isinstance(key, bool) or not isinstance(key, str | int)):
        raise TraceError(where.file, where.line, "key",
                         f"must be a string or an integer, got {key!r}")
    imp.records.append(Record(str(kind), process, str(f), str(key) if isinstance(key, Keyword)
                              else key, freeze(_value(value, where, "value")), index, time,
                              where))


def _independent(maps: list[dict[Any, Any]]) -> bool:
    """Whether a history without :key fields carries [key value] tuples in every value
    (read invocations included, which plain registers invoke with nil)."""
    clients = [m for m in maps if m.get(Keyword("process")) != Keyword("nemesis")]
    return bool(clients) and all(Keyword("key") not in m and
                                 _split_tuple(m.get(Keyword("value")), Where("", 0)) is not None
                                 for m in clients)


def read_edn(path: str, text: str, model: str | None = None) -> Imported:
    """A Jepsen ``history.edn``: one vector (or list) of operation maps, or a map a line."""
    flat = read_flat_maps(text, path)
    forms: list[tuple[Any, int]] = [] if flat is not None else read_all(text, path)
    if flat is not None:
        maps: list[Any] = list(flat)
    elif len(forms) == 1 and isinstance(forms[0][0], list):
        maps = forms[0][0]
    else:
        maps = [v for v, _ in forms]
    for value in maps:
        if not isinstance(value, EdnMap):
            what = "#" + value.tag if isinstance(value, Tagged) else show(value)
            line = next((ln for v, ln in forms if v is value), forms[0][1])
            raise TraceError(path, line, None, f"expected an operation map, got {what}")
    indexed = [Keyword("index") in m for m in maps]
    if any(indexed) and not all(indexed):
        m = maps[indexed.index(False)]
        raise TraceError(path, m.line, "index", "is on some operations but not this one")
    independent = model == "kv" or _independent(maps)
    imp = Imported()
    for position, m in enumerate(maps):
        _record(imp, m, position, Where(path, m.line), independent)
    return imp


def read_log(path: str, text: str, model: str | None = None) -> Imported:
    """``jepsen.util`` log lines: ``PROCESS :TYPE :F VALUE [anything]``."""
    marked = "jepsen.util - " in text
    parsed: list[tuple[dict[Any, Any], Where]] = []
    imp = Imported()
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        m = _LOG.match(line.rstrip("\r"))
        if m is None or (marked and not m.group("prefix")):
            if marked and "jepsen.util - " not in line:
                imp.skipped += 1
                continue
            raise TraceError(path, number, None, "not a jepsen.util operation line "
                             "(PROCESS :TYPE :F VALUE): " + line.strip()[:80])
        where = Where(path, number)
        process: Any = Keyword("nemesis") if m.group("process") == ":nemesis" else int(
            m.group("process"))
        value = read_one(m.group("rest") or "nil", path, number)
        parsed.append(({Keyword("type"): Keyword(m.group("type")),
                        Keyword("process"): process, Keyword("f"): Keyword(m.group("f")),
                        Keyword("value"): value}, where))
    independent = model == "kv" or _independent([p for p, _ in parsed])
    for position, (fields, where) in enumerate(parsed):
        _record(imp, fields, position, where, independent)
    return imp
