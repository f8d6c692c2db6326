"""Safe output files: written whole or not at all, never over the user's input, under one rule
for every command (checker/outputs.py: missing parent folders are created, unusable paths are
refused up front with one line naming them, files get 0666 less the umask)."""

from __future__ import annotations

from pathlib import Path

from checker.outputs import (
    OutputError,
    atomic_output,
    check_output_dir,
    check_output_file,
    make_folder,
)

__all__ = ["OutputError", "atomic_output", "check_output_dir", "check_output_file",
           "make_folder", "same_file"]


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one existing file (or the same path)."""
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False
