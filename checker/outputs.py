"""Output paths: one rule for every command that writes files, and files written whole or not at
all.

The rule, for an output file (``sim -o``, ``--save-schedule``, ``check --junit``, ``report -o``,
``--db``) or an output folder (``fuzz --out``, ``demo --out``, ``cluster --dir``):

- missing parent folders are created, as ``mkdir -p`` would, so ``out/run1/trace.jsonl`` works on
  a fresh clone;
- a command checks its outputs before any work starts (:func:`check_output_file`,
  :func:`check_output_dir`) and refuses with one line naming the user's path when they cannot
  be written: a folder given for a file, a file given for a folder, a file in the way of a
  parent, no permission to create in the nearest existing folder, a read-only file system;
- files get the usual mode (0666 less the umask; a replaced file keeps its mode), not the
  private 0600 of ``tempfile.mkstemp``;
- every error names the user's path, never a temporary file.

Library functions raise :class:`OutputError`; the commands turn it into ``error: ...`` and exit
code 2. (checker/ never imports raftref, so the rule lives here and raftref uses it too.)
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


class OutputError(Exception):
    """An output path that cannot be written; the message names the user's path."""


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one existing file (or the same path): an output must never
    replace the input it is made from."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def check_output_file(path: Path, option: str = "") -> None:
    """Refuse, before any work, an output file that cannot be written (see the module's rule).
    ``option`` (say ``-o``) is named in the message when given."""
    what = f"{option} {path}" if option else str(path)
    if path.is_dir():
        raise OutputError(f"{what}: is a directory; give a file name")
    _check_folder_creatable(path.parent, what)


def check_output_dir(path: Path, option: str = "") -> None:
    """Refuse, before any work, an output folder that cannot be created or written in."""
    what = f"{option} {path}" if option else str(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{what}: is a file, not a directory; give a directory (it is "
                          "created when missing)")
    _check_folder_creatable(path, what)


def _check_folder_creatable(folder: Path, what: str) -> None:
    """``folder`` exists and is writable, or the nearest folder that exists above it is."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise OutputError(f"{what}: cannot create folder {folder}: {existing} is "
                          f"{'a file' if existing.exists() else 'missing'}")
    if not os.access(existing, os.W_OK | os.X_OK):
        verb = "write in" if existing == folder else f"create folder {folder} in"
        why = "read-only file system" if _read_only(existing) else "permission denied"
        raise OutputError(f"{what}: cannot {verb} {existing}: {why}")


def _read_only(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def make_folder(folder: Path, what: Path | None = None) -> None:
    """Create ``folder`` and its missing parents; an OutputError names ``what`` (default: the
    folder) when that fails."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(f"{what or folder}: cannot create folder {folder}: a file is in "
                          "the way") from None
    except OSError as exc:
        raise OutputError(f"{what or folder}: cannot create folder {folder}: "
                          f"{exc.strerror or exc}") from None


@contextmanager
def atomic_output(path: Path) -> Iterator[IO[bytes]]:
    """Write to a temporary file beside ``path`` and move it into place only on success, so an
    interrupted run never leaves a half-written file where a good one stood. Missing parent
    folders are created. Failures to create, write or move the file raise OutputError naming
    ``path``; other exceptions of the caller's block pass through unchanged."""
    if path.is_dir():
        raise OutputError(f"{path}: is a directory; give a file name")
    if _is_special(path):
        # A device or a pipe (-o /dev/null, -o /dev/stdout, a FIFO) is written in place:
        # renaming a file over it would replace the device itself (as root, /dev/null).
        try:
            with open(path, "wb") as f:
                yield f
        except OSError as exc:
            if exc.filename is None and exc.errno is not None or exc.filename == str(path):
                raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
            raise
        return
    make_folder(path.parent, path)
    # Not mkstemp: its files are private (0600); an output is meant to be read by others, so
    # it gets 0666 less the umask, as any program's output does. A random part keeps two
    # writers of one path (two processes) from sharing a temporary file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    try:
        try:
            with os.fdopen(fd, "wb") as f:
                _keep_mode(path, f.fileno())
                yield f
        except OSError as exc:
            # A failed write or flush (a full disk) has no file name; any other OSError is
            # the caller's, about some other file.
            if exc.filename is None and exc.errno is not None:
                raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
            raise
        try:
            os.replace(tmp, path)
        except OSError as exc:
            raise OutputError(f"{path}: cannot write: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _is_special(path: Path) -> bool:
    """Whether ``path`` exists and is neither a regular file nor a folder (a device, a pipe, a
    socket), following symbolic links."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _keep_mode(path: Path, fd: int) -> None:
    """A file replaced keeps its permissions (a private file stays private)."""
    try:
        st = path.stat()
    except OSError:
        return
    if stat.S_ISREG(st.st_mode):
        os.fchmod(fd, stat.S_IMODE(st.st_mode))
