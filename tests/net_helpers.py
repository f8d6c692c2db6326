"""What the tests of the networked mode share: one HTTP request to a node, and waiting for a
condition with a generous deadline (never a fixed sleep: a shared 2-core machine must not flake)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")
WAIT = 120.0  # seconds: a generous deadline for any condition


def http(method: str, url: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    """One request; (0, {}) when the node does not listen. The timeout is generous: a node on a
    loaded machine may answer late (it answers a write within 5 s, 503 if not committed)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}") | {"location": exc.headers["Location"]}
    except OSError:
        return 0, {}  # not listening (yet, or any more)


def until(what: Callable[[], T | None], message: str) -> T:
    """Poll ``what`` until it returns something true, and return that; fail after WAIT s."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        result = what()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"not within {WAIT:g} s: {message}")
