"""Peer authentication of the networked mode (raftref/net/auth.py), against real node
processes: a forged AppendEntries sent to a follower's peer port over a raw socket, without a
MAC, with a wrong one, or with another cluster's id, is refused at the edge (counted, logged
naming the reason) and changes nothing; the same line MACed with the cluster's secret is
accepted (so the refusals are the MAC's doing, not the line's); the fault endpoints are 404
without --allow-faults; ``raftref serve`` refuses to start without a secret unless --insecure;
a node listens on loopback unless its cluster file says otherwise.

Before this (issue 15), one forged AppendEntries to one follower erased every acknowledged write
of the cluster: peers were believed by the name they claimed. Every wait is for a condition
under a generous deadline."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from checker import check_files
from raftref.net.auth import SECRET_FILE, load_secret
from raftref.net.cluster import prepare, stop
from raftref.net.config import load_config, parse_config

from .net_helpers import (
    WAIT,
    closed_by_peer,
    cluster_file,
    follow,
    http,
    leader,
    sealed,
    send_line,
    serve_nodes,
    until,
)

IDS = ("n1", "n2", "n3")


def _forged_append(boss: str, victim: str, term: int) -> bytes:
    """What erased the cluster's writes: the leader's name, a far higher term, and an entry at
    index 1 that conflicts with the follower's whole log."""
    return json.dumps({"type": "AppendEntries", "id": "forged.1", "from": boss, "to": victim,
                       "term": term, "prev_log_index": 0, "prev_log_term": 0,
                       "entries": [{"term": term, "data": {"op": "put", "key": "k0",
                                                           "value": "forged"}}],
                       "leader_commit": 1}).encode()


def _status(url: str) -> dict[str, Any] | None:
    status, body = http("GET", f"{url}/status")
    return body if status == 200 else None


def _raft(path: Path) -> dict[str, str]:
    return {n: str(a) for n, a in load_config(path).raft.items()}


def _running_cluster(tmp_path: Path) -> tuple[Path, dict[str, str], dict[str, Any], str, str]:
    """Three nodes (their stderr in ``tmp_path/logs``), a leader and a follower of it."""
    path, urls = cluster_file(tmp_path)
    processes = serve_nodes(path, IDS, tmp_path / "logs")
    boss = until(lambda: leader(urls, list(IDS)), "a leader")
    victim = next(n for n in IDS if n != boss)
    return path, urls, processes, boss, victim


def test_forged_peer_lines_are_refused_and_change_nothing(tmp_path: Path) -> None:
    path, urls, processes, boss, victim = _running_cluster(tmp_path)
    try:
        acknowledged = {}
        for i in range(5):
            status, body = follow("PUT", f"{urls[boss]}/kv/k{i}", i)
            if status == 200:
                acknowledged[f"k{i}"] = i
        assert acknowledged, "no write acknowledged"
        until(lambda: _status(urls[victim])["applied"] >= len(acknowledged),  # type: ignore
              f"{victim} applies the writes")
        term = _status(urls[victim])["term"] + 1000  # type: ignore[index]
        body = _forged_append(boss, victim, term)
        other = tmp_path / "other"
        other.mkdir()
        cluster_file(other)  # another cluster: its own secret
        lines = {"no MAC": body + b"\n",
                 "wrong MAC": sealed(other / "cluster.json", body),
                 "cluster id 'another'": sealed(path, body, cluster_id="another")}
        for line in lines.values():
            with send_line(_raft(path)[victim], line) as sock:
                assert closed_by_peer(sock), line
        counted = _status(urls[victim])["refused"]  # type: ignore[index]
        assert counted["peer_unauthenticated"] == len(lines), counted
        assert _status(urls[victim])["term"] < term  # type: ignore[index]
        for key, value in acknowledged.items():
            status, answer = follow("GET", f"{urls[victim]}/kv/{key}")
            assert (status, answer.get("value")) == (200, value), (key, answer)
        # the fault endpoints are not there without --allow-faults
        assert http("PUT", f"{urls[victim]}/fault/cut", [boss])[0] == 404
        assert http("DELETE", f"{urls[victim]}/fault/cut")[0] == 404
        # and every node listens on loopback only
        for n in IDS:
            listening = _status(urls[n])["listening"]  # type: ignore[index]
            assert listening and all(a.startswith("127.0.0.1:") for a in listening), listening
    finally:
        stop(processes)
    err = (tmp_path / "logs" / f"{victim}.err").read_text()
    log = [line for line in err.splitlines() if "refused a peer message" in line]
    assert len(log) == len(lines) and "Traceback" not in err, err
    for line, reason in zip(log, lines, strict=True):
        assert re.match(rf"{victim}: refused a peer message from 127\.0\.0\.1:\d+ "
                        rf"\(claims to be '{boss}'\): field \$: unauthenticated: ", line), line
        assert reason in line, (reason, line)
    report = check_files([tmp_path / n / "trace.jsonl" for n in IDS])
    assert report.violated == [], report.to_text()


def test_a_line_macd_with_the_cluster_secret_is_accepted_and_one_connection_is_one_sender(
        tmp_path: Path) -> None:
    # The same forged line, MACed by the test with the cluster's secret read from its file,
    # is believed: the follower takes the far higher term. (A holder of the secret can speak
    # for any node: the key is the cluster's, not a node's.)
    path, urls, processes, boss, victim = _running_cluster(tmp_path)
    try:
        term = _status(urls[victim])["term"] + 1000  # type: ignore[index]
        other = next(n for n in IDS if n not in (boss, victim))
        with send_line(_raft(path)[victim], sealed(path, _forged_append(boss, victim, term))
                       + sealed(path, _forged_append(other, victim, term))) as sock:
            assert closed_by_peer(sock)  # at the second line: it speaks for another node
        until(lambda: _status(urls[victim])["term"] >= term,  # type: ignore[index]
              f"{victim} adopts the MACed line's term")
        counted = _status(urls[victim])["refused"]  # type: ignore[index]
        assert counted["peer_unauthenticated"] == 1, counted
    finally:
        stop(processes)


def _serve(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "raftref", "serve", "--cluster", str(path),
                           "--id", "n1", "--data", str(path.parent / "n1"), *args],
                          capture_output=True, text=True, timeout=WAIT)


@pytest.mark.parametrize("spoil,says", [
    ("no fields", "fields cluster_id and secret_file: required"),
    ("no file", "cannot read the cluster secret"),
    ("readable by others", "readable by others (mode 644)"),
    ("too short", "at least 32 characters"),
])
def test_serve_refuses_to_start_without_a_usable_secret(tmp_path: Path, spoil: str,
                                                        says: str) -> None:
    if spoil == "no fields":
        path, _ = cluster_file(tmp_path, nodes=1, cluster_id=None, secret_file=None)
    else:
        path, _ = cluster_file(tmp_path, nodes=1)
    secret = tmp_path / "cluster.secret"
    if spoil == "no file":
        secret.unlink()
    elif spoil == "readable by others":
        secret.chmod(0o644)
    elif spoil == "too short":
        secret.write_text("abc\n")
    proc = _serve(path)
    assert proc.returncode == 2, proc.stderr
    assert says in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_insecure_serve_starts_without_a_secret_and_bind_is_a_field(tmp_path: Path) -> None:
    path, urls = cluster_file(tmp_path, nodes=1, cluster_id=None, secret_file=None,
                              bind="0.0.0.0")
    proc = subprocess.Popen([sys.executable, "-m", "raftref", "serve", "--cluster", str(path),
                             "--id", "n1", "--data", str(tmp_path / "n1"), "--insecure"],
                            stderr=subprocess.PIPE, text=True)
    try:
        listening = until(lambda: (_status(urls["n1"]) or {}).get("listening"),
                          "the insecure node answers")
        assert all(a.startswith("0.0.0.0:") for a in listening), listening
    finally:
        stop({"n1": proc})
    assert "INSECURE" in proc.stderr.read()  # type: ignore[union-attr]


def test_cluster_creates_an_id_and_a_0600_secret_and_bind_defaults_to_loopback(
        tmp_path: Path) -> None:
    path, written = prepare(tmp_path / "c", 3, 7000, 50)
    config = load_config(path)
    secret = tmp_path / "c" / SECRET_FILE
    assert written and config.cluster_id and config.secret_file == SECRET_FILE
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert len(load_secret(path, config)) == 64
    assert config.bind == "127.0.0.1"
    again = prepare(tmp_path / "d", 3, 7000, 50)[0]
    assert load_config(again).cluster_id != config.cluster_id
    assert load_secret(again, load_config(again)) != load_secret(path, config)
    assert parse_config({"nodes": {"n1": {"raft": "h:1", "http": "h:2"}}}).bind == "127.0.0.1"
    assert re.fullmatch(r"[0-9a-f]{64}", secret.read_text().strip())
