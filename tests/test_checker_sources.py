"""Input as a user has it: standard input ('-') and gzip-compressed files, read as they stream,
with the same verdicts, cited lines and error lines as a plain file."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from checker import TraceError, check_files
from checker.cli import check_command
from checker.reader import CHUNK
from tests.test_checker_corpus import CORPUS
from tests.test_checker_gen import normal_run
from tests.test_checker_reader import padded_run

ROOT = Path(__file__).resolve().parent.parent
VIOLATING = CORPUS / "leader_completeness_missing_entry.jsonl"


def run_cli(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(check_command, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout, result.stderr


def gz(tmp_path: Path, source: Path | bytes, name: str = "t.jsonl.gz") -> Path:
    data = source.read_bytes() if isinstance(source, Path) else source
    path = tmp_path / name
    path.write_bytes(gzip.compress(data))
    return path


def long_violating_trace(tmp_path: Path) -> Path:
    """A trace of many chunks whose violation cites lines far apart (ElectionSafety at the
    end cites a role line near the start)."""
    lines = padded_run(900)
    ev = orjson.loads(lines[-1])
    ev.update(seq=ev["seq"] + 1, node="n3", kind="role", role="leader", term=1, vote="n3",
              previous="follower")
    lines.append(orjson.dumps(ev).decode())
    path = tmp_path / "long.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert path.stat().st_size > 3 * CHUNK
    return path


def test_a_gzip_file_gives_the_plain_files_report(tmp_path: Path) -> None:
    plain = long_violating_trace(tmp_path)
    packed = gz(tmp_path, plain)
    a, b = check_files([plain]).to_json(), check_files([packed]).to_json()
    assert b["files"] == [str(packed)]
    assert orjson.dumps(a) == orjson.dumps(b).replace(str(packed).encode(), str(plain).encode())
    cited = [c for v in b["properties"] for x in v["violations"] for c in x["lines"]]
    assert len(cited) >= 2 and all(c["text"].startswith('{"type":"event"') for c in cited)
    lines = plain.read_text().splitlines()
    assert all(c["text"] == lines[c["line"] - 1] for c in cited)


def test_gzip_is_recognised_by_its_bytes_not_its_name(tmp_path: Path) -> None:
    packed = gz(tmp_path, VIOLATING, name="renamed.jsonl")
    code, out, _ = run_cli(str(packed))
    assert code == 1 and "LeaderCompleteness violated" in out


@pytest.mark.parametrize("damage, fragment", [
    ("truncated", "the compressed data ends early (a truncated .gz file?)"),
    ("corrupt", "corrupt compressed data"),
])
def test_a_damaged_gzip_file_is_one_error_line(tmp_path: Path, damage: str,
                                               fragment: str) -> None:
    packed = gzip.compress(long_violating_trace(tmp_path).read_bytes())
    if damage == "truncated":
        data = packed[: len(packed) // 2]
    else:
        middle = len(packed) // 2
        data = packed[:middle] + bytes(b ^ 0xFF for b in packed[middle:middle + 64]) \
            + packed[middle + 64:]
    path = tmp_path / "bad.jsonl.gz"
    path.write_bytes(data)
    code, out, err = run_cli(str(path))
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: {path}:") and fragment in err
    assert "Traceback" not in err


def test_standard_input(tmp_path: Path) -> None:
    code, out, _ = run_cli("-", stdin=normal_run(proposals=2).text().encode())
    assert code == 0 and "in 1 file(s): <stdin>" in out
    code, out, _ = run_cli("-", stdin=VIOLATING.read_bytes())
    assert code == 1 and "LeaderCompleteness violated" in out
    assert "<stdin>:22: (not shown: standard input cannot be read again)" in out


def test_standard_input_gzip_compressed() -> None:
    code, out, _ = run_cli("-", "--json", stdin=gzip.compress(VIOLATING.read_bytes()))
    assert code == 1 and orjson.loads(out)["files"] == ["<stdin>"]


def test_standard_input_errors_name_it() -> None:
    lines = normal_run(proposals=1).lines
    lines.insert(3, '{"type": "event", "seq": "x"}')
    code, _, err = run_cli("-", stdin="\n".join(lines).encode())
    assert code == 2 and err.startswith("error: <stdin>:4: field ")


def test_standard_input_with_other_files_is_one_run(tmp_path: Path) -> None:
    from tests.test_checker_corpus import split_per_process

    files = split_per_process(normal_run(proposals=2), {"a": ("n1",), "b": ("n2", "n3")})
    a = tmp_path / "a.jsonl"
    a.write_text(files["a"])
    code, out, _ = run_cli(str(a), "-", stdin=files["b"].encode())
    assert code == 0 and f"2 file(s): {a}, <stdin>" in out
    code, _, err = run_cli("-", "-", stdin=files["b"].encode())
    assert code == 2 and "is given twice" in err


def test_standard_input_cannot_be_stored_or_drawn(tmp_path: Path) -> None:
    for option in ("--db", "--html"):
        code, _, err = run_cli("-", option, str(tmp_path / "x"), stdin=VIOLATING.read_bytes())
        assert code == 2 and "standard input" in err and not (tmp_path / "x").exists()


def test_a_real_pipe_into_python_dash_m_checker(tmp_path: Path) -> None:
    """Through the operating system's standard input (not the test runner's stand-in)."""
    data = gzip.compress(VIOLATING.read_bytes())
    proc = subprocess.run([sys.executable, "-m", "checker", "-"], input=data,
                          capture_output=True, cwd=ROOT)
    assert proc.returncode == 1, proc.stderr
    assert b"LeaderCompleteness violated" in proc.stdout


def test_library_reads_standard_input_for_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    class Stdin:
        buffer = io.BytesIO(VIOLATING.read_bytes())

    monkeypatch.setattr(sys, "stdin", Stdin)
    report = check_files(["-"])
    assert report.violated == ["LeaderCompleteness"] and report.files == ["<stdin>"]


def test_a_gzip_trace_that_is_not_a_trace_inside(tmp_path: Path) -> None:
    path = gz(tmp_path, b"hello\n")
    with pytest.raises(TraceError) as info:
        check_files([path])
    assert info.value.line == 1 and "invalid JSON" in info.value.message
