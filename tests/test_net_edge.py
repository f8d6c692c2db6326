"""The networked mode's edge (raftref/net/edge.py, the limits of raftref/net/config.py): forged
and malformed peer lines, oversized lines, floods of connections and idle ones, each sent over
a raw socket to a real node process, which refuses them (counted in GET /status, one log line
naming the field), keeps answering and serving writes, and leaves a trace that checks clean.

Each of these used to kill a node or the cluster (issue 15): a RequestVote of term 2**64-1 (the
term no longer serialised: every node in a crash loop), a term of 1e300 or "7" (a traceback),
1,100 idle connections (no file descriptors left), an oversized line (about 13 MiB held per
connection). Every wait is for a condition under a generous deadline."""

from __future__ import annotations

import re
import socket
from pathlib import Path
from typing import Any

import orjson
import pytest

from checker import check_files
from raftref.net.cluster import stop
from raftref.net.config import ConfigError, parse_config
from raftref.net.edge import Refused, decode_peer_message
from raftref.protocol.messages import AppendEntries, Entry, ReadIndexResponse, RequestVote

from .net_helpers import (
    WAIT,
    closed_by_peer,
    cluster_file,
    http,
    leader,
    sealed,
    send_line,
    serve_nodes,
    until,
)

IDS = ("n1", "n2", "n3")
LIMITS = {"max_line_bytes": 65536, "max_peer_connections": 8, "max_client_connections": 16,
          "idle_timeout_ms": 3000}


def _vote(**fields: Any) -> dict[str, Any]:
    return {"type": "RequestVote", "id": "x.1", "from": "n9", "to": "n1", "term": 1,
            "last_log_index": 0, "last_log_term": 0} | fields


def _append(**fields: Any) -> dict[str, Any]:
    return {"type": "AppendEntries", "id": "x.2", "from": "n9", "to": "n1", "term": 1,
            "prev_log_index": 0, "prev_log_term": 0, "entries": [], "leader_commit": 0} | fields


# (what is sent, what the refusal names)
FORGED = [
    (_vote(term=2**64 - 1), "field term: must be at most 2**63-1"),
    (_vote(term=2**63), "field term: must be at most 2**63-1"),
    (_vote(term=1e300), "field term: Expected `int`, got `float`"),
    (_vote(term="7"), "field term: Expected `int`, got `str`"),
    (_vote(term=True), "field term: Expected `int`, got `bool`"),
    (_vote(type="Gossip"), "field type: Invalid value 'Gossip'"),
    ({k: v for k, v in _vote().items() if k != "last_log_term"}, "last_log_term"),
    (_append(prev_log_index=-1), "field prev_log_index: Expected `int` >= 0"),
    (_append(entries=[{"term": 1, "data": 2**70}]), "field entries[0].data: cannot be stored"),
    (_append(entries=[{"term": 1.5, "data": None}]), "field entries[0].term"),
    (_append(entries=[{"term": 1, "data": 1, "extra": 2}]), "entries[0]"),
    ({"type": "RequestVoteResponse", "id": "x.3", "from": "n9", "to": "n1", "term": 1,
      "granted": True}, "field reply_to: required"),
    ([1, 2], "field $: Expected `object`"),
]


def _line(obj: Any) -> bytes:
    # json, not orjson: orjson cannot even write 2**70 (which is the point of one case)
    import json
    return json.dumps(obj).encode() + b"\n"


@pytest.mark.parametrize("obj,names", FORGED, ids=[n for _, n in FORGED])
def test_the_edge_refuses_what_the_contract_or_the_node_cannot_take(obj: Any,
                                                                   names: str) -> None:
    refused = decode_peer_message(_line(obj))
    assert isinstance(refused, Refused) and names in str(refused), refused


def test_the_edge_passes_every_message_unchanged() -> None:
    for msg in (RequestVote("a", "n1", "n2", 2**63 - 1, 4, 5),
                AppendEntries("b", "n1", "n2", 3, 1, 1, (Entry(1, {"x": [1]}), Entry(2)), 0),
                ReadIndexResponse("c", "n1", "n2", 1, "e", False, 0, "deposed")):
        assert decode_peer_message(orjson.dumps(msg.to_json())) == msg
    assert decode_peer_message(b"not json").field == "$"  # type: ignore[union-attr]


@pytest.mark.parametrize("field,value", [("max_line_bytes", 1000), ("idle_timeout_ms", 0),
                                          ("max_peer_connections", "8")])
def test_a_bad_limit_in_the_cluster_file_names_its_field(field: str, value: Any) -> None:
    with pytest.raises(ConfigError, match=f"field {field}"):
        parse_config({"nodes": {"n1": {"raft": "h:1", "http": "h:2"}}, field: value})


def _status(url: str) -> dict[str, Any] | None:
    status, body = http("GET", f"{url}/status")
    return body if status == 200 else None


def _write_reaches(urls: dict[str, str], node: str, key: str) -> None:
    """A write goes through the leader and ``node`` applies it: the cluster still works."""
    def put() -> int | None:
        first = until(lambda: leader(urls, list(IDS)), "a leader")
        status, body = http("PUT", f"{urls[first]}/kv/{key}", 1)
        return body["index"] if status == 200 else None
    index = until(put, f"a write of {key} is acknowledged")
    until(lambda: http("GET", f"{urls[node]}/kv/{key}?stale=1&applied={index}")[0] == 200,
          f"{node} applies {key}")


def _check_clean(tmp_path: Path) -> None:
    traces = [tmp_path / n / "trace.jsonl" for n in IDS]
    report = check_files(traces)
    assert report.violated == [], report.to_text()
    terms = [orjson.loads(line)["term"] for t in traces for line in t.read_bytes().splitlines()[1:]]
    assert max(terms) < 2**32


def test_forged_and_oversized_peer_lines_are_refused_counted_and_logged(tmp_path: Path) -> None:
    path, urls = cluster_file(tmp_path, **LIMITS)
    raft = {n: a["raft"] for n, a in orjson.loads(path.read_bytes())["nodes"].items()}
    processes = serve_nodes(path, IDS, tmp_path / "logs")
    try:
        _write_reaches(urls, "n1", "before")
        for obj, _ in FORGED:
            # sealed with the cluster's secret: past authentication, to the message check
            with send_line(raft["n1"], sealed(path, _line(obj).rstrip(b"\n"))) as sock:
                assert closed_by_peer(sock), f"n1 kept the connection that sent {obj!r}"
        # past the line bound, no newline yet: closed without reading the rest (2 MiB)
        with send_line(raft["n1"], b'{"type": "RequestVote", "id": "' + b"y" * (2 << 20)) as sock:
            assert closed_by_peer(sock)
        assert all(p.poll() is None for p in processes.values())
        counted = until(lambda: _status(urls["n1"]), "n1 answers")["refused"]
        assert counted["peer_messages"] == len(FORGED) and counted["peer_lines_too_long"] == 1
        _write_reaches(urls, "n1", "after")
    finally:
        stop(processes)
    log = [line for line in (tmp_path / "logs" / "n1.err").read_text().splitlines()
           if "refused a peer message" in line]
    assert len(log) == len(FORGED) + 1, log
    for line, (obj, names) in zip(log, FORGED, strict=False):
        assert re.match(r"n1: refused a peer message from 127\.0\.0\.1:\d+", line), line
        assert names in line, (line, names)
        if isinstance(obj, dict):
            assert "(claims to be 'n9')" in line
    assert "line longer than max_line_bytes (65536)" in log[-1]
    assert "Traceback" not in (tmp_path / "logs" / "n1.err").read_text()
    _check_clean(tmp_path)


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]


def test_floods_of_idle_and_oversized_connections_are_bounded(tmp_path: Path) -> None:
    # The nodes may open only 256 files: 300 connections to each port used to take them all.
    path, urls = cluster_file(tmp_path, **LIMITS)
    nodes = orjson.loads(path.read_bytes())["nodes"]
    processes = serve_nodes(path, IDS, tmp_path / "logs", nofile=256)
    try:
        _write_reaches(urls, "n1", "before")
        before = _rss_kib(processes["n1"].pid)
        # Oversized lines on every peer connection n1 admits: each held up to 13 MiB before.
        big = [send_line(nodes["n1"]["raft"], b"[" * (8 << 20)) for _ in range(6)]
        for sock in big:
            assert closed_by_peer(sock)
            sock.close()
        grown = _rss_kib(processes["n1"].pid) - before
        assert grown < 24 << 10, f"n1 grew {grown} KiB for 6 oversized lines of 8 MiB"
        flood = []
        for _ in range(300):
            for kind in ("raft", "http"):
                host, port = nodes["n1"][kind].split(":")
                flood.append(socket.create_connection((host, int(port)), timeout=WAIT))
        # Every one ends: refused at once past the limits, or closed once idle for 3 s.
        for sock in flood:
            assert closed_by_peer(sock)
            sock.close()
        assert all(p.poll() is None for p in processes.values())
        counted = until(lambda: _status(urls["n1"]), "n1 answers")["refused"]
        # Most were refused at once (a slot freed by an idle close admits a later one).
        assert counted["peer_connections"] >= 100 and counted["client_connections"] >= 100
        assert counted["idle_closed"] >= 2
        _write_reaches(urls, "n1", "after")
    finally:
        stop(processes)
    assert "Traceback" not in (tmp_path / "logs" / "n1.err").read_text()
    _check_clean(tmp_path)


def test_the_http_api_bounds_headers_and_bodies(tmp_path: Path) -> None:
    path, urls = cluster_file(tmp_path, nodes=1, **LIMITS)
    address = orjson.loads(path.read_bytes())["nodes"]["n1"]["http"]
    processes = serve_nodes(path, ("n1",), tmp_path / "logs")
    try:
        until(lambda: _status(urls["n1"]), "n1 answers")
        headers = b"".join(b"X-A: b\r\n" for _ in range(101))
        with send_line(address, b"GET /status HTTP/1.1\r\n" + headers + b"\r\n") as sock:
            sock.settimeout(WAIT)
            assert sock.recv(100).startswith(b"HTTP/1.1 431")
        body = b'"' + b"v" * 4096 + b'"'  # over 65536 // 16
        assert http("PUT", f"{urls['n1']}/kv/k", "v" * 4096)[0] == 413
        with send_line(address, b"PUT /kv/k HTTP/1.1\r\nContent-Length: %d\r\n\r\n"
                       % len(body)) as sock:
            assert sock.recv(100).startswith(b"HTTP/1.1 413")
        with send_line(address, b"GET /sta") as sock:  # and then nothing: idle
            assert closed_by_peer(sock)
        counted = until(lambda: _status(urls["n1"]), "n1 answers")["refused"]
        assert counted["idle_closed"] >= 1
        assert http("PUT", f"{urls['n1']}/kv/k", "small")[0] == 200
    finally:
        stop(processes)
