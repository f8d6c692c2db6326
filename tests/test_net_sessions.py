"""Client sessions over the networked mode's HTTP API (thesis §6.3, raftref/net/api.py): a
write sent again with the same ``client`` and ``seq`` is applied once and answered with the
first result; forged or out-of-range numbers are one clear 4xx and the node goes on; the
recording clients retry a write in doubt as the same operation, and the history says one.

Every wait is for a condition under a generous deadline (tests/net_helpers.py)."""

from __future__ import annotations

import random
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest

from checker import check_files
from checker.history import check_history
from raftref.net.client import Client, Counts, HistoryFile, RunClock, history_header
from raftref.net.cluster import start, stop
from raftref.net.config import load_config

from .net_helpers import WAIT, cluster_file, follow, hang_up, http, leader, until


def _register(url: str) -> int:
    status, body = follow("POST", f"{url}/session")
    assert status == 200 and isinstance(body["client"], int), body
    assert body["client"] == body["index"]  # the id is the register entry's index
    return body["client"]


def _value_everywhere(urls: dict[str, str], key: str, index: int) -> list[Any]:
    """Each node's value of ``key`` once it has applied ``index`` (a stale read that waits)."""
    values = []
    for url in urls.values():
        status, body = until(lambda u=url: (a := http("GET", f"{u}/kv/{key}?stale=1&applied="
                                                      f"{index}"))[0] in (200, 404) and a,
                             f"{url} applies index {index}")
        values.append(body.get("value") if status == 200 else None)
    return values


def _trace_commands(path: Path) -> list[Any]:
    """The commands a node's trace shows it applied, in order."""
    return [event["entry"]["data"] for event in map(orjson.loads, path.read_bytes().splitlines())
            if event.get("kind") == "apply"]


def test_a_write_sent_again_with_the_same_seq_is_applied_once_and_answered_as_first(
        tmp_path: Path) -> None:
    path, urls = cluster_file(tmp_path)
    ids = load_config(path).ids
    processes = start(path, ids, seed=0)
    try:
        boss = until(lambda: leader(urls, list(ids)), "a leader is elected")
        follower = next(n for n in ids if n != boss)
        client = _register(urls[follower])  # redirected to the leader, registered there
        # The first attempt's answer is lost: the client hangs up once the request is sent.
        hang_up(f"{urls[boss]}/kv/x?client={client}&seq=1", "POST", b'"a"')
        until(lambda: http("GET", f"{urls[boss]}/kv/x?stale=1")[1].get("value") == "a",
              "the first attempt is applied")
        # The retry, through a follower: its redirect keeps ?client=&seq=, so the leader sees
        # the same command, and answers it with the first attempt's result.
        status, first = http("POST", f"{urls[follower]}/kv/x?client={client}&seq=1", "a")
        assert status == 307 and first["location"].endswith(f"/kv/x?client={client}&seq=1")
        status, retry = follow("POST", f"{urls[follower]}/kv/x?client={client}&seq=1", "a")
        assert status == 200, retry
        assert (retry["client"], retry["seq"], retry["leader"]) == (client, 1, boss)
        assert _value_everywhere(urls, "x", retry["index"]) == ["a"] * 3  # not "aa"
        status, second = follow("POST", f"{urls[boss]}/kv/x?client={client}&seq=2", "b")
        assert status == 200 and _value_everywhere(urls, "x", second["index"]) == ["ab"] * 3

        # The control, which shows the reading above would see a second application: the
        # same two requests without a session append twice.
        hang_up(f"{urls[boss]}/kv/y", "POST", b'"a"')
        until(lambda: http("GET", f"{urls[boss]}/kv/y?stale=1")[1].get("value") == "a",
              "the first attempt without a session is applied")
        status, again = follow("POST", f"{urls[boss]}/kv/y", "a")
        assert status == 200 and "client" not in again
        assert _value_everywhere(urls, "y", again["index"]) == ["aa"] * 3
    finally:
        stop(processes)
    report = check_files([tmp_path / n / "trace.jsonl" for n in ids])
    assert report.violated == []
    # The log has both attempts of (client, 1): the retry was appended and applied as a no-op.
    applied = _trace_commands(tmp_path / boss / "trace.jsonl")
    assert applied.count({"op": "append", "key": "x", "value": "a", "client": client,
                          "seq": 1}) == 2


BAD_NUMBERS = ["-1", "0", "abc", "1e3", "1.0", " 1", "", "+1", "0x10", "١",
               str(2**63), str(2**64), "9" * 5000]


def test_forged_or_out_of_range_client_and_seq_are_one_clear_4xx_and_the_node_goes_on(
        tmp_path: Path) -> None:
    path, urls = cluster_file(tmp_path, session_expiry_entries=3)
    config = load_config(path)
    processes = start(path, config.ids, seed=0)
    try:
        boss = until(lambda: leader(urls, list(config.ids)), "a leader is elected")
        url = urls[boss]
        client = _register(url)
        assert follow("PUT", f"{url}/kv/k?client={client}&seq=1", "v")[0] == 200
        before = http("GET", f"{url}/status")[1]["last_index"]
        for name, other in (("client", "seq=2"), ("seq", f"client={client}")):
            for bad in BAD_NUMBERS:
                query = f"{name}={quote(bad, safe='')}&{other}"
                status, body = http("PUT", f"{url}/kv/k?{query}", "w")
                assert status == 400, (name, bad, body)
                assert body["error"].startswith(f"?{name}= must be an integer from 1 to "
                                                "2**63-1"), body
                assert body["effect"] == "none" and len(body["error"]) < 200, body
        for query, says in ((f"client={client}", "?client= without ?seq="),
                            ("seq=2", "?seq= without ?client="),
                            (f"client={client}&seq=2&sequence=3", "unknown parameter(s) "
                                                                  "sequence")):
            status, body = http("DELETE", f"{url}/kv/k?{query}")
            assert status == 400 and body["error"].startswith(says), body
        assert http("POST", f"{url}/kv/k", 5)[0] == 400  # an append takes a string
        assert http("POST", f"{url}/session?client=1")[0] == 400
        assert http("GET", f"{url}/session")[0] == 405
        # None of those reached the log.
        assert http("GET", f"{url}/status")[1]["last_index"] == before

        # Well-formed but forged: no session has this id (the largest there is, or the index
        # of a put entry): the state machine refuses it as it applies it, 409 naming it.
        for forged in (2**63 - 1, before):
            status, body = follow("PUT", f"{url}/kv/k?client={forged}&seq=1", "w")
            assert status == 409, body
            assert body["error"].startswith(f"session {forged}: unknown or expired"), body
            assert (body["reason"], body["effect"], body["client"]) == (
                "unknown-session", "none", forged)
        # An older seq than the session's last: refused, and its effect not known.
        status, body = follow("PUT", f"{url}/kv/k?client={client}&seq=0", "w")
        assert status == 400  # 0 is below the range
        assert follow("PUT", f"{url}/kv/k?client={client}&seq=2", "w")[0] == 200
        status, body = follow("PUT", f"{url}/kv/k?client={client}&seq=1", "old")
        assert (status, body["reason"], body["effect"]) == (409, "stale-seq", "unknown"), body
        # Expired: three entries of another session later (session_expiry_entries=3).
        other = _register(url)
        for seq in (1, 2, 3):
            assert follow("PUT", f"{url}/kv/z?client={other}&seq={seq}", seq)[0] == 200
        status, body = follow("PUT", f"{url}/kv/k?client={client}&seq=3", "late")
        assert status == 409 and body["error"].startswith(f"session {client}: unknown or "
                                                          "expired"), body
        assert "register again: POST /session" in body["error"]
        # An append to a value that is not a string: refused by the state machine, and that
        # refusal is (other, 4)'s result.
        assert follow("PUT", f"{url}/kv/n", 5)[0] == 200
        status, body = follow("POST", f"{url}/kv/n?client={other}&seq=4", "a")
        assert (status, body["reason"], body["effect"]) == (409, "refused", "none"), body
        assert body["error"].startswith("append refused by the state machine"), body
        # The node goes on: every process runs, and a session's write still works.
        assert all(p.poll() is None for p in processes.values())
        status, body = follow("PUT", f"{url}/kv/z?client={other}&seq=5", "fine")
        assert status == 200, body
        assert _value_everywhere(urls, "z", body["index"]) == ["fine"] * 3
        # "w" is seq 2's; the refused writes ("w" forged, "old", "late") changed nothing.
        assert _value_everywhere(urls, "k", body["index"]) == ["w"] * 3
    finally:
        stop(processes)
    assert check_files([tmp_path / n / "trace.jsonl" for n in config.ids]).violated == []


# ------------------------------------------------------------------ the recording clients


def test_a_write_in_doubt_is_retried_as_the_same_operation_and_applied_once(
        tmp_path: Path) -> None:
    # The leader appends a client's append but cannot commit it: it is cut off from both
    # followers, which are cut off from each other too, so nobody can be elected meanwhile.
    # The client's attempt ends in doubt (503, effect unknown) and it retries with the same
    # seq. Then the old leader and one follower are joined again: the follower votes for the
    # old leader only (its log is longer), which commits every copy it holds: the first is
    # applied, the others are answered from it.
    path, urls = cluster_file(tmp_path)
    config = load_config(path)
    processes = start(path, config.ids, seed=0, faults=True)
    header = history_header(0, {"test": "write in doubt"})
    counts = Counts()
    client = Client(1, config, ["k"], HistoryFile(tmp_path / "h" / "client-1.jsonl", header,
                                                  RunClock()), counts, random.Random(1))
    answers: list[Any] = []
    try:
        boss = until(lambda: leader(urls, list(config.ids)), "a leader is elected")
        one, two = (n for n in config.ids if n != boss)
        assert client.register()
        assert http("PUT", f"{urls[boss]}/fault/cut", [one, two])[0] == 200
        assert http("PUT", f"{urls[one]}/fault/cut", [two])[0] == 200
        writer = threading.Thread(target=lambda: answers.append(client.append(boss, "k", "+a")))
        writer.start()
        until(lambda: counts.retries >= 1, "the first attempt ended in doubt and is retried")
        assert http("PUT", f"{urls[boss]}/fault/cut", [two])[0] == 200
        writer.join(WAIT)
        assert not writer.is_alive() and answers[0].outcome == "ok", answers
        index = answers[0].body["index"]
        for node in (boss, one):
            assert http("DELETE", f"{urls[node]}/fault/cut")[0] == 200
        assert _value_everywhere(urls, "k", index) == ["+a"] * 3
    finally:
        client.done.set()
        stop(processes)
        client.history.close()
    lines = [orjson.loads(x) for x in (tmp_path / "h" / "client-1.jsonl").read_bytes()
             .splitlines()[1:]]
    assert [(x["type"], x["f"], x["value"]) for x in lines] == [
        ("invoke", "append", "+a"), ("ok", "append", "+a")]
    assert check_history([tmp_path / "h" / "client-1.jsonl"]).verdict == "linearizable"
    copies = [c for c in _trace_commands(tmp_path / boss / "trace.jsonl")
              if isinstance(c, dict) and c.get("op") == "append"]
    assert len(copies) >= 2 and all(c["seq"] == 1 for c in copies), copies
    assert check_files([tmp_path / n / "trace.jsonl" for n in config.ids]).violated == []


@pytest.mark.parametrize("doubt", [False, True], ids=["certain", "after-doubt"])
def test_a_refused_session_is_fail_when_certain_and_info_after_doubt(
        tmp_path: Path, doubt: bool) -> None:
    # A session unknown to the cluster (here: forged) refuses the write. Nothing of the
    # operation was applied if no attempt before was in doubt (fail); after one (the leader
    # cut off appended it and could not commit it), the operation is info. Either way the
    # client registers anew for its next write.
    path, urls = cluster_file(tmp_path)
    config = load_config(path)
    processes = start(path, config.ids, seed=0, faults=True)
    counts = Counts()
    client = Client(1, config, ["k"], HistoryFile(
        tmp_path / "h" / "client-1.jsonl", history_header(0, {}), RunClock()), counts,
        random.Random(1))
    try:
        boss = until(lambda: leader(urls, list(config.ids)), "a leader is elected")
        rest = [n for n in config.ids if n != boss]
        client.session, client.seq = 10**9, 0  # never registered: an index not yet written
        if doubt:
            assert http("PUT", f"{urls[boss]}/fault/cut", rest)[0] == 200
            answers: list[Any] = []
            writer = threading.Thread(target=lambda: answers.append(
                client.put(boss, "k", "v")))
            writer.start()
            writer.join(WAIT)
            answer = answers[0]
            assert counts.retries >= 1
        else:
            answer = until(lambda: (a := client.put(boss, "k", "v", retries=0)).status == 409
                           and a, "the forged session is refused")
        assert answer.status == 409 and answer.outcome == ("info" if doubt else "fail"), answer
        assert f"session {10**9}: unknown or expired" in (answer.error or "")
        assert client.session is None
        assert client.put(rest[0], "k", "w").outcome == "ok" and counts.sessions == 1
    finally:
        client.done.set()
        stop(processes)
        client.history.close()
    lines = [orjson.loads(x) for x in (tmp_path / "h" / "client-1.jsonl").read_bytes()
             .splitlines()[1:]]
    assert [x["type"] for x in lines][-4:] == ["invoke", "info" if doubt else "fail",
                                               "invoke", "ok"]
