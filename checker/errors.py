"""The one exception a user sees for unusable input: it names the file, line and field."""

from __future__ import annotations


class TraceError(Exception):
    """A trace that cannot be checked: unreadable, not JSON, off-schema or inconsistent.

    ``line`` is 1-based (0 when the problem concerns the whole file) and ``field`` is the JSON path
    of the offending value (``msg.term``, ``log[2].data``), or None. ``str()`` gives the one line
    the CLI prints after ``error: ``.
    """

    def __init__(self, path: str, line: int, field: str | None, message: str) -> None:
        super().__init__(path, line, field, message)
        self.path = path
        self.line = line
        self.field = field
        self.message = message

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        if self.field:
            return f"{where}: field {self.field}: {self.message}"
        return f"{where}: {self.message}"


class SchemaViolation(Exception):
    """What :func:`checker.schema.explain` finds wrong with a line (its JSON path and what is
    wrong there); the reader adds file and line and raises it as a TraceError."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(field, message)
        self.field = field
        self.message = message
