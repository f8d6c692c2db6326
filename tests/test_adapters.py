"""The etcd-io/raft adapter: the published sample (shipped gzipped in traces/etcd-raft/)
translates and checks clean; corruptions a bug would cause are caught after translation by the
property that names them; input that is not an etcd trace, or a damaged gzip file, is refused
with one line and exit code 2."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import jsonschema
import orjson
import pytest
from click.testing import CliRunner

from checker import check_lines
from checker.adapters.etcd import translate
from checker.schema import load_schema
from raftref.cli import main
from tests.conftest import ROOT

SAMPLE = ROOT / "traces" / "etcd-raft" / "example.ndjson.gz"


def etcd_bytes() -> bytes:
    return gzip.decompress(SAMPLE.read_bytes())


def etcd_lines() -> list[bytes]:
    return etcd_bytes().splitlines(keepends=True)


def judged(lines: list[bytes]) -> list[str]:
    result = translate(lines, "sample.ndjson")
    return check_lines(result.lines, name="translated").violated


def find(lines: list[bytes], name: str, nid: str, after: int = 0) -> int:
    """Index of the first line (from ``after``) with event ``name`` of node ``nid``."""
    for i in range(after, len(lines)):
        ev = orjson.loads(lines[i])["event"]
        if ev["name"] == name and ev["nid"] == nid:
            return i
    raise AssertionError(f"no {name} of {nid}")


def with_event(line: bytes, **changes: object) -> bytes:
    obj = orjson.loads(line)
    ev = obj["event"]
    for key, value in changes.items():
        if key in ("term", "vote", "commit"):
            ev["state"][key] = value
        else:
            ev[key] = value
    return orjson.dumps(obj) + b"\n"


def test_shipped_sample_is_the_upstream_file_its_readme_names() -> None:
    """The README beside the sample gives the upstream file's SHA-256, so anyone can compare
    the shipped copy with etcd-io/raft's; this keeps that promise true if the file changes."""
    readme = (SAMPLE.parent / "README.md").read_text()
    assert hashlib.sha256(etcd_bytes()).hexdigest() in readme
    assert "Apache-2.0" in readme
    assert "Apache License" in (SAMPLE.parent / "LICENSE").read_text()


def test_sample_translates_and_checks_clean(tmp_path: Path) -> None:
    out = tmp_path / "etcd.jsonl"
    runner = CliRunner()
    adapted = runner.invoke(main, ["adapt", "etcd", str(SAMPLE), "-o", str(out)])
    assert adapted.exit_code == 0, adapted.output
    assert "translated 4888 etcd events" in adapted.output
    checked = runner.invoke(main, ["check", str(out)])
    assert checked.exit_code == 0, checked.output
    assert "all properties hold" in checked.output
    lines = out.read_bytes().splitlines()
    kinds = {orjson.loads(ln).get("kind") for ln in lines[1:]}
    assert {"config", "append", "commit", "send", "receive", "vote", "role"} <= kinds
    header = orjson.loads(lines[0])
    assert header["nodes"] == [str(i) for i in range(1, 11)]


def test_translation_is_schema_valid_and_rebuilds_logs() -> None:
    result = translate(etcd_lines(), "sample.ndjson")
    validator = jsonschema.Draft202012Validator(load_schema())
    for line in result.lines[:400] + result.lines[-400:]:
        validator.validate(orjson.loads(line))
    # Entry terms are rebuilt: node 2 leads term 2, so its appended entries are of term 2, and
    # the five bootstrap entries every node holds first are of term 1.
    appends = [orjson.loads(ln) for ln in result.lines[1:] if b'"kind":"append"' in ln]
    assert all(e["term"] == 1 for a in appends if a["index"] == 1 for e in a["entries"][:5])
    assert any(a["node"] == "2" and a["entries"][-1]["term"] == 2 for a in appends)
    assert result.warnings == []


def test_second_leader_in_a_term_is_caught() -> None:
    lines = etcd_lines()
    i = find(lines, "BecomeLeader", "2")
    rogue = with_event(lines[find(lines, "Ready", "3", i - 5)], name="BecomeLeader",
                       role="StateLeader")
    assert judged(lines[:i + 1] + [rogue] + lines[i + 1:]) == ["ElectionSafety"]


def test_commit_no_quorum_acknowledged_is_caught() -> None:
    lines = etcd_lines()
    i = find(lines, "Commit", "2")  # the new leader's first commit attempt: only it holds 6
    assert orjson.loads(lines[i])["event"]["log"] == 6
    lines[i] = with_event(lines[i], commit=6)
    assert judged(lines) == ["CommitJustified"]


def test_vote_granted_twice_is_caught() -> None:
    lines = etcd_lines()
    i = find(lines, "Ready", "5", find(lines, "SendRequestVoteResponse", "5"))
    assert orjson.loads(lines[i])["event"]["state"]["vote"] == "2"
    second = with_event(lines[i], vote="4")
    assert judged(lines[:i + 1] + [second] + lines[i + 1:]) == ["VoteOnce"]


def test_gzip_and_plain_copies_translate_to_the_same_events(tmp_path: Path) -> None:
    plain = tmp_path / "example.ndjson"
    plain.write_bytes(etcd_bytes())
    renamed = tmp_path / "sample.data"  # gzip is told by its content, not the name
    renamed.write_bytes(SAMPLE.read_bytes())
    outputs = []
    for source in (plain, renamed):
        out = tmp_path / (source.name + ".jsonl")
        result = CliRunner().invoke(main, ["adapt", "etcd", str(source), "-o", str(out)])
        assert result.exit_code == 0, result.output
        outputs.append(out.read_bytes().splitlines())
    # The header names the source file; every event after it is the same.
    assert outputs[0][1:] == outputs[1][1:]
    assert len(outputs[0]) == 3702


def _cut_gzip() -> bytes:
    return SAMPLE.read_bytes()[:20000]


def _bad_crc_gzip() -> bytes:
    # The stream decodes whole, but its trailer's CRC-32 no longer matches the content.
    data = bytearray(SAMPLE.read_bytes())
    data[-8] ^= 0xFF
    return bytes(data)


def _bad_block_gzip() -> bytes:
    # A valid gzip header, then a deflate block of the reserved type 3: undecodable.
    return gzip.compress(b"")[:10] + b"\x07" + bytes(20)


@pytest.mark.parametrize("content, expected", [
    (b'{"type":"header","format":"raft-trace"}\n', "not an etcd-io/raft trace record"),
    (b"not json at all\n", "invalid JSON"),
    (lambda: etcd_bytes()[:5000], "truncated line"),
    (b"", "empty"),
    (_cut_gzip, "truncated gzip file: the compressed stream ends early"),
    (_bad_crc_gzip, "in.ndjson: corrupt gzip data: CRC check failed"),
    (_bad_block_gzip, "in.ndjson:1: corrupt gzip data"),
    (lambda: gzip.compress(b"not json at all\n"), "in.ndjson:1: invalid JSON"),
], ids=["raft-trace", "not-json", "cut-plain", "empty", "cut-gzip", "bad-crc-gzip",
        "bad-block-gzip", "gzip-not-json"])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, content: object,
                                          expected: str) -> None:
    path = tmp_path / "in.ndjson"
    path.write_bytes(content() if callable(content) else content)  # type: ignore[arg-type]
    result = CliRunner().invoke(main, ["adapt", "etcd", str(path), "-o",
                                       str(tmp_path / "out.jsonl")])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and result.output.startswith("error: ")
    assert expected in result.output
    assert not (tmp_path / "out.jsonl").exists()
