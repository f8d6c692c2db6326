"""The trace store: ingest, de-duplication, schema and indexes, several files as one run, summary
figures, integers past 64 bits. Queries: tests/test_store_query.py; bad input:
tests/test_store_errors.py."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import orjson
import pytest

from checker import check_files
from checker.store import DEFAULT_DB, INDEXES, ingest, record_report, summarize

from .conftest import ROOT
from .store_helpers import AT, cli, counts, ev, simulate, write_trace

CONFORMANCE = ROOT / "traces" / "conformance"


def events_of(path: Path) -> list[dict]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()[1:]]


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store") / "run.jsonl"
    simulate(path)
    return path


def test_ingest_stores_the_header_every_event_and_the_check(tmp_path: Path, trace: Path) -> None:
    db = tmp_path / "t.db"
    [run] = ingest(db, [trace], ingested_at=AT)
    events = events_of(trace)
    assert run.new and run.verdict == "holds" and run.events == len(events)
    conn = sqlite3.connect(db)
    row = conn.execute("SELECT source, implementation, impl_version, seed, nodes, events, "
                       "verdict, violations, origin, ingested_at FROM runs").fetchone()
    assert row == (str(trace), "raftref", "0.1.0", 3, 3, len(events), "holds", 0, "ingest", AT)
    results = conn.execute("SELECT count(*), sum(verdict = 'holds') FROM results").fetchone()
    assert results == (11, 11)
    # Columns plus extra give back every event exactly.
    cur = conn.execute("SELECT seq, line, node, kind, term, role, vote, commit_index, msg_type, "
                       "msg_from, msg_to, msg_id, extra FROM events ORDER BY seq")
    for event, (seq, line, node, kind, term, role, vote, commit, mtype, mfrom, mto, mid,
                extra) in zip(events, cur, strict=True):
        rebuilt = {"type": "event", "seq": seq, "node": node, "kind": kind, "term": term,
                   "role": role, "vote": vote, "commit": commit, **orjson.loads(extra or "{}")}
        if mtype is not None:
            rebuilt["msg"] = {"type": mtype, "id": mid, "from": mfrom, "to": mto,
                              **rebuilt["msg"]}
        assert rebuilt == event
        assert line == seq + 2  # the header is line 1


def test_the_same_file_twice_is_stored_once(tmp_path: Path, trace: Path) -> None:
    db = tmp_path / "t.db"
    [first] = ingest(db, [trace], ingested_at=AT)
    before = counts(db)
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(trace.read_bytes())
    again, same = ingest(db, [trace, copy], ingested_at="later")
    assert (again.id, same.id) == (first.id, first.id) and not again.new and not same.new
    assert again.verdict == "holds" and again.events == first.events
    assert counts(db) == before


def test_schema_indexes_exist_and_the_database_opens_in_plain_sqlite3(tmp_path: Path,
                                                                     trace: Path) -> None:
    db = tmp_path / "t.db"
    ingest(db, [trace], ingested_at=AT)
    conn = sqlite3.connect(db)
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert set(INDEXES) <= names
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    plan = " ".join(r[3] for r in conn.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM events WHERE run_id = 1 AND node = 'n2'"))
    assert "idx_events_run_node" in plan
    plan = " ".join(r[3] for r in conn.execute(
        "EXPLAIN QUERY PLAN SELECT count(*) FROM events WHERE kind = 'crash'"))
    assert "idx_events_kind" in plan


def test_check_db_records_the_run_and_a_violation_with_its_lines(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    trace = CONFORMANCE / "election_safety_two_leaders.jsonl"
    code, _, err = cli("check", str(trace), "--db", str(db))
    assert code == 1 and "recorded as run 1" in err
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT origin, verdict, violated FROM runs").fetchone() == (
        "check", "violated", "ElectionSafety")
    prop, lines = conn.execute("SELECT property, lines FROM violations").fetchone()
    assert prop == "ElectionSafety"
    assert all(c["file"] == str(trace) and c["text"] for c in orjson.loads(lines))


def test_a_run_of_several_files_is_one_run(tmp_path: Path) -> None:
    files = [CONFORMANCE / "valid_per_process_n1.jsonl",
             CONFORMANCE / "valid_per_process_n2n3.jsonl"]
    report = check_files(files)
    run = record_report(tmp_path / "t.db", report, ingested_at=AT)
    total = sum(len(events_of(f)) for f in files)
    assert run.new and run.events == total and run.verdict == "holds"
    conn = sqlite3.connect(tmp_path / "t.db")
    assert conn.execute("SELECT files FROM runs").fetchone()[0] == orjson.dumps(
        [str(f) for f in files]).decode()
    assert conn.execute("SELECT count(DISTINCT file) FROM events").fetchone()[0] == 2
    # Stored in merged order: every receive comes after its send.
    rows = conn.execute("SELECT kind, msg_id FROM events ORDER BY rowid").fetchall()
    sent: set[str] = set()
    for kind, mid in rows:
        if kind == "send":
            sent.add(mid)
        elif kind == "receive":
            assert mid in sent


ELECTIONS = [
    ev("n1", "start", 0, "follower", None, log=[], restart=False),             # seq 0
    ev("n2", "start", 0, "follower", None, log=[], restart=False),
    ev("n3", "start", 0, "follower", None, log=[], restart=False),
    ev("n1", "timeout", 1, "candidate", "n1"),
    ev("n1", "role", 1, "candidate", "n1", previous="follower"),
    ev("n1", "role", 1, "leader", "n1", previous="candidate"),                 # 5: elected
    ev("n1", "crash", 1, "leader", "n1"),                                      # 6: no leader
    ev("n2", "timeout", 2, "candidate", "n2"),
    ev("n2", "role", 2, "candidate", "n2", previous="follower"),
    ev("n3", "timeout", 3, "candidate", "n3"),
    ev("n3", "role", 3, "candidate", "n3", previous="follower"),
    ev("n1", "start", 1, "follower", "n1", log=[], restart=True),
    ev("n3", "role", 3, "leader", "n3", previous="candidate"),                 # 12: elected
    ev("n3", "role", 3, "follower", "n3", previous="leader"),                  # 13: no leader
    ev("n2", "role", 2, "leader", "n2", previous="candidate"),                 # 14: elected
]


def test_summary_figures_on_a_handmade_trace(tmp_path: Path) -> None:
    trace = write_trace(tmp_path / "elections.jsonl", ["n1", "n2", "n3"], ELECTIONS)
    db = tmp_path / "t.db"
    ingest(db, [trace], ingested_at=AT, check=False)
    summary = summarize(db)
    assert summary.verdicts == {"not checked": 1}
    [e] = summary.elections
    assert e.leaders == {1: [("n1", 5)], 3: [("n3", 12)], 2: [("n2", 14)]}
    assert (e.terms, e.terms_with_leader, e.most_leaders_in_a_term, e.elections) == (4, 3, 1, 3)
    lg = e.longest
    assert lg is not None
    assert (lg.from_seq, lg.to_seq, lg.events, lg.leader, lg.term, lg.cause) == (
        6, 12, 6, "n3", 3, "n1 crashed")
    code, out, _ = cli("db", "summary", "--db", str(db))
    assert code == 0
    assert "6 events" in out and "6 → 12" in out and "n1 crashed" in out and "not checked" in out


def test_summary_leaders_per_term_match_the_simulator(tmp_path: Path) -> None:
    trace = tmp_path / "mutant.jsonl"
    result = simulate(trace, seed=1, steps=400, mutant="minority-quorum")
    db = tmp_path / "t.db"
    [run] = ingest(db, [trace], ingested_at=AT)
    summary = summarize(db)
    [e] = summary.elections
    assert {t: [n for n, _ in ls] for t, ls in e.leaders.items()} == result.leaders
    assert e.most_leaders_in_a_term == max(len(set(v)) for v in result.leaders.values())
    assert summary.properties["ElectionSafety"] == (1, 1, 1)
    assert "ElectionSafety" in run.violated


def test_entry_data_beyond_64_bit_integers_is_checked_and_stored(tmp_path: Path,
                                                                  trace: Path) -> None:
    """JSON allows any integer in a client's data; the checker and the store keep it exactly
    (orjson, used to write rows before, refuses integers past 64 bits)."""
    big = 2**70 + 1
    lines = trace.read_bytes().splitlines()
    body = []
    for line in lines[1:]:
        event = orjson.loads(line)
        if event["kind"] == "propose" and event["data"] is not None:
            event["data"] = {"value": "BIG"}  # orjson cannot write the integer itself
            line = orjson.dumps(event).replace(b'"BIG"', str(big).encode())
        body.append(line)
    path = tmp_path / "big.jsonl"
    path.write_bytes(b"\n".join([lines[0], *body]) + b"\n")
    assert str(big).encode() in path.read_bytes()
    db = tmp_path / "t.db"
    [run] = ingest(db, [path], ingested_at=AT)
    assert run.verdict == "holds"
    with sqlite3.connect(db) as conn:
        extras = [row[0] for row in conn.execute("SELECT extra FROM events WHERE kind='propose'")]
    assert any(f'"value":{big}' in extra for extra in extras if extra)


def test_the_default_store_is_out_raftref_db_which_git_ignores(
        tmp_path: Path, trace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The store is output: it goes under out/ (git-ignored, beside the demo's and fuzz's run
    folders), never into the tracked traces/ folder."""
    assert DEFAULT_DB == Path("out/raftref.db")
    assert "/out/" in (ROOT / ".gitignore").read_text().splitlines()
    monkeypatch.chdir(tmp_path)
    code, out, _ = cli("db", "ingest", str(trace))
    assert code == 0 and out.splitlines()[-1] == "1 new run(s) in out/raftref.db"
    assert (tmp_path / "out" / "raftref.db").is_file() and not (tmp_path / "traces").exists()
    code, out, _ = cli("db", "query", "SELECT count(*) AS runs FROM runs", "--json")
    assert code == 0 and orjson.loads(out) == [{"runs": 1}]
    code, out, _ = cli("db", "summary")
    assert code == 0 and "verdicts: holds 1" in out


def test_nothing_defaults_to_the_old_store_path() -> None:
    old = "traces/" + "raftref.db"
    # docs/commands.md is generated from --help and checked by tests/test_commands_doc.py;
    # docs/store.md names the old path once, to say how to move a store kept there.
    files = [ROOT / "Makefile", *[p for folder in ("raftref", "checker", "bench")
                                  for p in (ROOT / folder).rglob("*.py")],
             *[p for p in (ROOT / "docs").glob("*.md")
               if p.name not in ("commands.md", "store.md")]]
    stale = [str(p.relative_to(ROOT)) for p in files if old in p.read_text()]
    assert stale == []
