"""The output rule of every command (checker/outputs.py): errors name the user's path, never a
temporary file; unusable paths are refused by the checks; files get 0666 less the umask."""

from __future__ import annotations

import os
import pickle
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from checker.outputs import OutputError, atomic_output, check_output_dir, check_output_file
from raftref.cli import main


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_output_checks_name_the_users_path(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(OutputError, match=r"^-o .*f/x/y\.jsonl: cannot create folder"):
        check_output_file(tmp_path / "f" / "x" / "y.jsonl", "-o")
    with pytest.raises(OutputError, match="is a directory"):
        check_output_file(tmp_path, "-o")
    with pytest.raises(OutputError, match="is a file, not a directory"):
        check_output_dir(tmp_path / "f")
    check_output_dir(tmp_path / "new" / "deeper")  # creatable: no error, nothing created
    assert not (tmp_path / "new").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_folder_without_write_permission_is_refused(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    with pytest.raises(OutputError, match="permission denied"):
        check_output_file(locked / "sub" / "t.jsonl")


def test_atomic_output_errors_name_the_users_path_never_the_temporary_file(
        tmp_path: Path) -> None:
    with pytest.raises(OutputError) as exc, atomic_output(tmp_path):
        pass
    assert str(tmp_path) in str(exc.value) and ".tmp" not in str(exc.value)
    target = tmp_path / "t.jsonl"
    target.write_bytes(b"old\n")
    # A full disk while writing: the error names the file; the old file and no litter remain.
    with pytest.raises(OutputError) as exc, atomic_output(target) as f:
        f.write(b"new")
        raise OSError(28, "No space left on device")
    assert str(exc.value) == f"{target}: cannot write: No space left on device"
    assert target.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl"]
    # The caller's own errors pass through unchanged.
    with pytest.raises(FileNotFoundError), atomic_output(target):
        (tmp_path / "missing").read_bytes()


def test_output_error_survives_pickling() -> None:
    err = OutputError("x.jsonl: cannot write: No space left on device")
    again = pickle.loads(pickle.dumps(err))
    assert type(again) is OutputError and str(again) == str(err)


def test_output_files_get_0666_less_the_umask(tmp_path: Path, umask_022: None) -> None:
    trace, sched = tmp_path / "t.jsonl", tmp_path / "s.json"
    res = CliRunner().invoke(main, ["sim", "--steps", "50", "-o", str(trace),
                                    "--save-schedule", str(sched)])
    assert res.exit_code == 0, res.output
    assert mode(trace) == 0o644 and mode(sched) == 0o644
    os.umask(0o027)
    with atomic_output(tmp_path / "other.txt") as f:
        f.write(b"x")
    assert mode(tmp_path / "other.txt") == 0o640


def test_a_replaced_file_keeps_its_mode(tmp_path: Path, umask_022: None) -> None:
    private = tmp_path / "t.jsonl"
    private.write_bytes(b"old\n")
    private.chmod(0o600)
    with atomic_output(private) as f:
        f.write(b"new\n")
    assert private.read_bytes() == b"new\n" and mode(private) == 0o600


def test_prove_follows_the_rule_for_its_trace_and_cti_files(tmp_path: Path) -> None:
    from checker.proof.cli import prove_command

    (tmp_path / "afile").write_text("")
    refused = CliRunner().invoke(prove_command, ["--mutant", "minority-quorum", "--bmc-depth",
                                                 "3", "-q", "-o", str(tmp_path / "afile" / "x")])
    assert refused.exit_code == 2 and refused.stderr.startswith("error: -o ")
    assert "afile is a file" in refused.stderr and refused.stdout == ""  # before the search
    trace = tmp_path / "p" / "q" / "mq.jsonl"
    res = CliRunner().invoke(prove_command, ["--mutant", "minority-quorum", "--bmc-depth", "3",
                                             "-q", "-o", str(trace)])
    assert res.exit_code == 1 and trace.read_bytes().startswith(b'{"type":"header"')


def test_a_pipe_or_device_is_written_in_place_never_replaced(tmp_path: Path) -> None:
    """`-o /dev/null` as root once replaced the device with a regular file (a temporary file
    renamed over it). A FIFO stands in for a device here: it must stay a FIFO and get the
    bytes, through the library and through a command."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def drain() -> None:
        with open(fifo, "rb") as f:
            received.append(f.read())

    reader = threading.Thread(target=drain)
    reader.start()
    with atomic_output(fifo) as f:
        f.write(b"through the pipe\n")
    reader.join(60)
    assert received == [b"through the pipe\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)

    reader = threading.Thread(target=drain)
    reader.start()
    result = CliRunner().invoke(main, ["sim", "--steps", "50", "-o", str(fifo)])
    reader.join(60)
    assert result.exit_code == 0, result.output
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert received[1].startswith(b'{"type":"header"') and received[1].count(b"\n") > 10
    assert not [p for p in tmp_path.iterdir() if p.name != "pipe"], "no temporary file left"
