"""Building client histories for the history tests: JSON Lines in the contract's format, from
a list of (type, process, f, value[, key]) tuples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HEADER = {"type": "header", "format": "raft-history", "version": 1,
          "implementation": {"name": "test", "version": "0"}}


def history_lines(events: list[tuple[Any, ...]], model: str | None = None) -> list[str]:
    header = dict(HEADER, **({"model": model} if model else {}))
    lines = [json.dumps(header)]
    for index, (kind, process, f, value, *key) in enumerate(events):
        line: dict[str, Any] = {"type": kind, "index": index, "process": process, "f": f,
                                "value": value}
        if key:
            line["key"] = key[0]
        lines.append(json.dumps(line))
    return lines


def write_history(path: Path, events: list[tuple[Any, ...]], model: str | None = None) -> Path:
    path.write_text("\n".join(history_lines(events, model)) + "\n")
    return path
