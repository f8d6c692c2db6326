"""Safe output files: written whole or not at all, never over the user's input, under one rule
for every command (checker/outputs.py: missing parent folders are created, unusable paths are
refused up front with one line naming them, files get 0666 less the umask)."""

from __future__ import annotations

from checker.outputs import (
    OutputError,
    atomic_output,
    check_output_dir,
    check_output_file,
    make_folder,
    same_file,
)

__all__ = ["OutputError", "atomic_output", "check_output_dir", "check_output_file",
           "make_folder", "same_file"]

