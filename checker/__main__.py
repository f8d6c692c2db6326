"""``python -m checker TRACE.jsonl ...``: the same command as ``raftref check``."""

from checker.cli import main

if __name__ == "__main__":
    main()
