"""Where a trace's bytes come from: a file (gzip-compressed or not), standard input, or lines
in memory; and how the lines a report cites are read back.

A compressed input is recognised by its first two bytes (gzip's magic number), whatever its
name, and decompressed as it is read. Reading a line back (from the start of the chunk it was
read in, by byte offset in the decompressed text) is cheap in a plain file; in a compressed
one it means decompressing from the start, so the checker reads every cited line in one
forward pass (:meth:`Source.lines_at`) when the report is made (and nothing during the check).
Standard input and named pipes cannot be read again at all: their cited lines are not shown.
"""

from __future__ import annotations

import gzip
import io
import os
import stat
import sys
import zlib
from bisect import bisect_right
from collections.abc import Iterable
from operator import itemgetter
from pathlib import Path
from typing import IO

from checker.errors import TraceError

MAX_LINE = 1 << 20  # 1 MiB: no raft-trace line needs more
GZIP_MAGIC = b"\x1f\x8b"
#: What reading a damaged compressed stream raises (the reader turns them into TraceErrors).
READ_ERRORS = (OSError, EOFError, zlib.error)
STDIN = "-"


class Source:
    """One input: its display name, its bytes, and the text of its lines again."""

    def __init__(self, name: str) -> None:
        self.name = name

    def open(self) -> IO[bytes]:
        """The bytes of the trace (decompressed), as a binary stream."""
        raise NotImplementedError

    def lines_at(self, lines: list[int], starts: list[tuple[int, int]]) -> dict[int, str]:
        """The text of each line numbered in ``lines`` (ascending), by number; ``starts``
        holds (line number, byte offset) of lines known to start there, ascending (the
        reader's chunks: checker/reader.py)."""
        raise NotImplementedError

    def close(self) -> None:
        """Release what :meth:`lines_at` opened."""


def _peek(handle: IO[bytes], n: int) -> bytes:
    """The first ``n`` bytes of ``handle``, left unread."""
    peek = getattr(handle, "peek", None)
    if peek is not None:
        return bytes(peek(n)[:n])
    if handle.seekable():
        start = handle.tell()
        head = handle.read(n)
        handle.seek(start)
        return head
    return b""


def _decompressing(handle: IO[bytes]) -> IO[bytes]:
    """``handle``, or a decompressing reader over it if it starts with gzip's magic number."""
    if _peek(handle, 2) == GZIP_MAGIC:
        return gzip.GzipFile(fileobj=handle, mode="rb")  # type: ignore[return-value]
    return handle


class FileSource(Source):
    """A trace file, plain or gzip-compressed; cited lines are read back by byte offset."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(str(path))
        self.path = Path(path)
        self.compressed = False
        self.pipe = False
        self._handle: IO[bytes] | None = None

    def open(self) -> IO[bytes]:
        try:
            handle = open(self.path, "rb")  # noqa: SIM115 - closed by the reader
            self.pipe = not stat.S_ISREG(os.fstat(handle.fileno()).st_mode)
            stream = _decompressing(handle)
        except IsADirectoryError:
            raise TraceError(self.name, 0, None, "is a directory, not a trace file") from None
        except OSError as exc:
            raise TraceError(self.name, 0, None, f"cannot read: {exc.strerror or exc}") from None
        if stream is not handle:
            self.compressed = True
            stream = _Closing(stream, handle)  # type: ignore[assignment]
        return stream

    def lines_at(self, lines: list[int], starts: list[tuple[int, int]]) -> dict[int, str]:
        if self.pipe:  # opening a named pipe again would wait for a writer
            return dict.fromkeys(lines, "(not shown: the trace was read from a pipe, which "
                                        "cannot be read again)")
        out: dict[int, str] = {}
        try:
            if self.compressed:  # one forward pass: a backward seek decompresses from the start
                with gzip.open(self.path, "rb") as f:
                    out = _read_lines(f, lines, starts)
            else:
                if self._handle is None:
                    self._handle = open(self.path, "rb")  # noqa: SIM115 - closed in close()
                out = _read_lines(self._handle, lines, starts)
        except READ_ERRORS:
            pass
        for line in lines:
            out.setdefault(line, "(line no longer readable)")
        return out

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class StdinSource(Source):
    """Standard input (``-``), plain or gzip-compressed: read once, so cited lines are not
    shown."""

    def __init__(self) -> None:
        super().__init__("<stdin>")

    def open(self) -> IO[bytes]:
        stdin = sys.stdin.buffer
        try:
            # Standard input itself stays open.
            return _Closing(_decompressing(stdin), None)  # type: ignore[return-value]
        except OSError as exc:
            raise TraceError(self.name, 0, None, f"cannot read: {exc.strerror or exc}") from None

    def lines_at(self, lines: list[int], starts: list[tuple[int, int]]) -> dict[int, str]:
        return dict.fromkeys(lines, "(not shown: standard input cannot be read again)")


class MemorySource(Source):
    """Lines given in memory (tests, small traces): kept so that violations can cite them."""

    def __init__(self, lines: Iterable[str | bytes], name: str) -> None:
        super().__init__(name)
        self.lines: list[bytes] = []
        for ln in lines:
            raw = ln.encode("utf-8", "surrogatepass") if isinstance(ln, str) else bytes(ln)
            self.lines.append(raw if raw.endswith(b"\n") else raw + b"\n")

    def open(self) -> IO[bytes]:
        return io.BytesIO(b"".join(self.lines))

    def lines_at(self, lines: list[int], starts: list[tuple[int, int]]) -> dict[int, str]:
        return {line: _line_text(self.lines[line - 1]) for line in lines}


def read_error(exc: BaseException) -> str:
    """What a failed read means, for the error line."""
    if isinstance(exc, EOFError):
        return "the compressed data ends early (a truncated .gz file?)"
    if isinstance(exc, zlib.error | gzip.BadGzipFile):
        return f"corrupt compressed data ({exc})"
    return f"cannot read: {getattr(exc, 'strerror', None) or exc}"


def open_source(path: str | Path) -> Source:
    """The source a command-line argument names: ``-`` is standard input."""
    return StdinSource() if str(path) == STDIN else FileSource(path)


def _read_lines(f: IO[bytes], lines: list[int], starts: list[tuple[int, int]]
                ) -> dict[int, str]:
    """Lines of ``f`` by number (ascending), in one forward pass: a jump to the nearest known
    line start before each, then line by line."""
    out: dict[int, str] = {}
    at = None  # the number of the line the next readline returns
    for line in lines:
        first, offset = starts[bisect_right(starts, line, key=itemgetter(0)) - 1]
        if at is None or at > line or first > at:
            f.seek(offset)
            at = first
        while at < line:
            f.readline(MAX_LINE + 1)
            at += 1
        out[line] = _line_text(f.readline(MAX_LINE + 1))
        at += 1
    return out


def _line_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace").rstrip("\r\n")


class _Closing:
    """A stream whose close() also closes ``under`` (the file under a decompressor), or, with
    ``under`` None, leaves the stream it reads open (standard input)."""

    def __init__(self, stream: IO[bytes], under: IO[bytes] | None) -> None:
        self._stream = stream
        self._under = under
        self.read = stream.read
        self.readline = stream.readline

    def close(self) -> None:
        if self._under is not None:
            self._stream.close()
            self._under.close()
        elif isinstance(self._stream, gzip.GzipFile):
            self._stream.close()  # leaves the file object it reads open
