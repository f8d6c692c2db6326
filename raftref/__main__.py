"""``python -m raftref`` is the ``raftref`` command."""

from raftref.cli import main

main()
