"""The smallest HTTP/1.1 the networked mode's clients need: one request per connection, JSON
answers. The standard library has no asyncio HTTP server, and the API is four routes, so a
framework would be most of the code this mode runs."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

MAX_BODY = 1 << 20  # when the caller gives no bound (the node gives its cluster file's)
MAX_HEADERS = 100  # header lines; each line is bounded by the reader's limit (64 KiB)
REASONS = {200: "OK", 307: "Temporary Redirect", 400: "Bad Request", 404: "Not Found",
           405: "Method Not Allowed", 409: "Conflict", 413: "Payload Too Large",
           431: "Request Header Fields Too Large",
           503: "Service Unavailable"}


@dataclass
class Request:
    method: str
    path: str
    body: bytes = b""
    query: dict[str, str] = field(default_factory=dict)


@dataclass
class Response:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        data = orjson.dumps(self.body) + b"\n"
        head = [f"HTTP/1.1 {self.status} {REASONS.get(self.status, '')}",
                "Content-Type: application/json", f"Content-Length: {len(data)}",
                "Connection: close", *(f"{k}: {v}" for k, v in self.headers.items())]
        return ("\r\n".join(head) + "\r\n\r\n").encode() + data


async def serve_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                     handle: Callable[[Request], Awaitable[Response]],
                     max_body: int = MAX_BODY, timeout: float | None = None) -> bool:
    """Read one request, answer it, close. False when the client sent no whole request within
    ``timeout`` seconds (an idle connection, closed without an answer)."""
    try:
        try:
            request = await asyncio.wait_for(_read(reader, max_body), timeout)
        except TimeoutError:
            return False
        response = (request if isinstance(request, Response) else await handle(request))
        writer.write(response.encode())
        await writer.drain()
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
        pass  # the client went away or sent garbage it gets no answer to
    except asyncio.CancelledError:
        pass  # the server is stopping
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return True


async def _read(reader: asyncio.StreamReader, max_body: int) -> Request | Response:
    line = (await reader.readline()).decode("latin-1").rstrip("\r\n")
    parts = line.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/"):
        return Response(400, {"error": "not an HTTP request line"})
    length = 0
    headers = 0
    while (header_line := (await reader.readline()).decode("latin-1").rstrip("\r\n")):
        headers += 1
        if headers > MAX_HEADERS:
            return Response(431, {"error": f"at most {MAX_HEADERS} header lines"})
        name, _, value = header_line.partition(":")
        if name.strip().lower() == "content-length":
            if not value.strip().isdigit():
                return Response(400, {"error": "Content-Length must be a number"})
            length = int(value)
    if length > max_body:
        return Response(413, {"error": f"a body may be at most {max_body} bytes"})
    body = await reader.readexactly(length) if length else b""
    path, _, query = parts[1].partition("?")
    return Request(parts[0].upper(), unquote(path), body,
                   dict(parse_qsl(query, keep_blank_values=True)))
