"""Bad input to the store and to every `raftref db` command: one line naming what is wrong,
exit code 2, never a traceback, and the database left as it was (not SQLite, another
program's database, locked, an off-schema or unusable trace, an unreadable trace, an unknown
run, a database path that cannot be created). Bad queries: tests/test_store_query.py."""

from __future__ import annotations

import pickle
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from checker.store import StoreError, UnknownRunError, connect, ingest, summarize
from raftref.cli import main

from .conftest import ROOT
from .store_helpers import AT, cli, counts, ev, simulate, write_trace


@pytest.fixture(scope="module")
def trace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("store-errors") / "run.jsonl"
    simulate(path)
    return path


def one_line_exit_2(code: int, err: str) -> bool:
    return code == 2 and err.startswith("error: ") and err.count("\n") == 1 \
        and "Traceback" not in err


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path, trace: Path) -> None:
    db = tmp_path / "notes.db"
    db.write_bytes(b"my precious notes\n" * 10)
    for args in (["db", "ingest", str(trace), "--db", str(db)], ["db", "summary", "--db", str(db)],
                 ["db", "query", str(db), "SELECT 1"], ["check", str(trace), "--db", str(db)]):
        code, _, err = cli(*args)
        assert code == 2, args
        assert err.count("\n") == 1 and "not an SQLite database" in err
    assert db.read_bytes() == b"my precious notes\n" * 10


def test_another_sqlite_database_is_not_taken_over(tmp_path: Path, trace: Path) -> None:
    db = tmp_path / "other.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE accounts (id INTEGER)")
    with pytest.raises(StoreError, match="not a raftref store"):
        ingest(db, [trace], ingested_at=AT)


def test_a_locked_database_gives_exit_2_and_loses_nothing(tmp_path: Path, trace: Path) -> None:
    db = tmp_path / "t.db"
    ingest(db, [trace], ingested_at=AT)
    before = counts(db)
    other = tmp_path / "other.jsonl"
    simulate(other, seed=4, steps=200)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        for args in (["db", "ingest", str(other)], ["db", "summary"],
                     ["db", "query", "SELECT count(*) FROM runs"]):
            code, _, err = cli(*args, "--db", str(db), "--timeout", "0.1")
            assert code == 2, args
            assert err.count("\n") == 1 and "locked" in err
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert counts(db) == before


@pytest.mark.parametrize("bad_line, needle", [
    ('{"type":"event","seq":999999,"node":"n1","kind":"timeout","term":-1,"role":"candidate",'
     '"vote":"n1","commit":0}', "field term"),
    ('{"type":"event","seq":999999,"node":"n9","kind":"timeout","term":9,"role":"candidate",'
     '"vote":"n9","commit":0}', "not in the header"),
    ("not json at all", "invalid JSON"),
])
def test_a_trace_failing_the_schema_half_way_leaves_nothing_of_itself(
        tmp_path: Path, trace: Path, bad_line: str, needle: str) -> None:
    db = tmp_path / "t.db"
    ingest(db, [trace], ingested_at=AT)
    before = counts(db)
    good = tmp_path / "good.jsonl"
    simulate(good, seed=5, steps=300)
    lines = good.read_text().splitlines()
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines[:-40] + [bad_line] + lines[-40:]) + "\n")
    code, out, err = cli("db", "ingest", str(good), str(bad), "--db", str(db))
    assert code == 2
    assert err.count("\n") == 1 and f"bad.jsonl:{len(lines) - 39}" in err and needle in err
    assert "good.jsonl: stored as run 2" in out  # the run before the bad one is kept whole
    after = counts(db)
    assert after[0] == before[0] + 1
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT source FROM runs ORDER BY id").fetchall() == [
            (str(trace),), (str(good),)]
        assert conn.execute("SELECT count(*) FROM events WHERE run_id = 2").fetchone()[0] == \
            len(lines) - 1


def test_a_trace_the_checker_cannot_use_is_not_stored(tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    broken = write_trace(tmp_path / "hole.jsonl", ["n1"], [
        ev("n1", "start", 0, "follower", None, log=[], restart=False),
        ev("n1", "append", 0, "follower", None, index=3, entries=[{"term": 0, "data": 1}]),
    ])
    code, _, err = cli("db", "ingest", str(broken), "--db", str(db))
    assert code == 2 and "hole.jsonl:3" in err and "holes" in err
    with connect(db) as store:
        assert store["runs"].count == 0 and store["events"].count == 0


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding runs 1, 2 and 3 (small handmade traces, unchecked)."""
    folder = tmp_path_factory.mktemp("three-runs")
    db = folder / "t.db"
    for n in (1, 2, 3):
        nodes = [f"n{i}" for i in range(1, n + 1)]
        trace = write_trace(folder / f"r{n}.jsonl", nodes, [
            ev(node, "start", 0, "follower", None, log=[], restart=False) for node in nodes])
        ingest(db, [trace], ingested_at=AT, check=False)
    return db


@pytest.mark.parametrize("args, message", [
    (["--run", "999"], "no run 999 (runs stored: 1-3)"),
    (["--run", "2", "--run", "999", "--run", "998"], "no runs 998, 999 (runs stored: 1-3)"),
    (["--leaders", "999"], "no run 999 (runs stored: 1-3)"),
    (["--run", "1", "--leaders", "0"], "no run 0 (runs stored: 1-3)"),
])
def test_an_unknown_run_is_named_with_the_runs_stored(three_runs: Path, args: list[str],
                                                      message: str) -> None:
    code, out, err = cli("db", "summary", "--db", str(three_runs), *args)
    assert (code, out, err) == (2, "", f"error: {three_runs}: {message}\n")


def test_known_runs_still_summarize(three_runs: Path) -> None:
    code, out, _ = cli("db", "summary", "--db", str(three_runs), "--run", "2", "--leaders", "3")
    assert code == 0 and "Leaders per term, run 3" in out
    with pytest.raises(UnknownRunError, match="no run 7 "):
        summarize(three_runs, run_ids=[1, 7])


def test_an_unknown_run_in_an_empty_store(tmp_path: Path) -> None:
    db = tmp_path / "empty.db"
    connect(db).close()
    for option in ("--run", "--leaders"):
        code, out, err = cli("db", "summary", "--db", str(db), option, "1")
        assert (code, out, err) == (2, "", f"error: {db}: no run 1 (no runs stored yet)\n")
    code, out, _ = cli("db", "summary", "--db", str(db))
    assert code == 0 and out.startswith("no runs stored yet")


@pytest.mark.parametrize("error", [StoreError("t.db: database is locked"),
                                   UnknownRunError("t.db: no run 9 (runs stored: 1-3)")])
def test_store_errors_survive_pickling(error: StoreError) -> None:
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is type(error) and str(back) == str(error)


def test_unreadable_traces_and_unusable_databases_are_one_line(tmp_path: Path,
                                                                trace: Path) -> None:
    db = tmp_path / "t.db"
    ingest(db, [trace], ingested_at=AT)
    before = counts(db)
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a folder")
    cases = [
        (["db", "ingest", str(tmp_path / "missing.jsonl"), "--db", str(db)],
         "missing.jsonl: cannot read: No such file or directory"),
        (["db", "ingest", str(tmp_path), "--db", str(db)], "is a directory, not a trace file"),
        (["db", "ingest", str(empty), "--db", str(db)], "empty.jsonl: empty file"),
        (["db", "ingest", str(db), "--db", str(db)], "is the database itself, not a trace"),
        (["db", "ingest", str(trace), "--db", str(tmp_path)], "is a directory, not a database"),
        (["db", "ingest", str(trace), "--db", str(in_the_way / "sub" / "t.db")],
         "cannot create folder"),
        (["db", "summary", "--db", str(tmp_path / "missing.db")], "no such database"),
        (["db", "summary", "--db", str(tmp_path)], "is a directory, not a database"),
        (["check", str(trace), "--db", str(tmp_path)], "is a directory, not a database"),
    ]
    for args, needle in cases:
        code, out, err = cli(*args)
        assert one_line_exit_2(code, err) and needle in err, (args, err)
    assert counts(db) == before
    assert not (tmp_path / "missing.db").exists() and in_the_way.read_text() == "not a folder"


def test_check_refuses_an_unusable_db_or_html_before_checking(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """'raftref check --db NOT_SQLITE' used to run the whole check, print the verdict, then
    fail on the store: the store and the page are checked first, and the check never runs."""
    import checker.cli

    not_sqlite = tmp_path / "notes.txt"
    not_sqlite.write_text("not a database\n")
    trace = ROOT / "traces" / "conformance" / "valid_election_replication.jsonl"
    ran: list[object] = []
    monkeypatch.setattr(checker.cli, "check_files", lambda *a, **k: ran.append(a))
    for option, path in (("--db", not_sqlite), ("--html", tmp_path)):
        result = CliRunner().invoke(main, ["check", str(trace), option, str(path)])
        assert result.exit_code == 2, result.output
        assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
        assert str(path) in result.stderr
    assert ran == [], "the check ran before its outputs were checked"
    assert not_sqlite.read_text() == "not a database\n"
