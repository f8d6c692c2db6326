"""The cluster file of the networked mode: which nodes there are, where each listens, and the
timing every node uses. One JSON object, shared by every process of the cluster::

    {"nodes": {"n1": {"raft": "127.0.0.1:7001", "http": "127.0.0.1:8001"}, ...},
     "tick_ms": 50, "election_timeout_min": 10, "election_timeout_max": 20,
     "heartbeat_interval": 2, "session_expiry_entries": 1000}

Timing is in ticks, as for the simulator (raftref.protocol.node.NodeConfig); ``tick_ms`` says how
long a tick is here. ``session_expiry_entries``: a client session expires when its last command
is that many log entries old (thesis §6.3, raftref/protocol/sessions.py). Only ``nodes`` is
required.

The bounds that keep a node alive whatever connects to it (:class:`Limits`): ``max_line_bytes``
(one peer message; a client request's body may be 1/16 of it, so that a full AppendEntries of
client commands always fits in one line), ``max_peer_connections`` and
``max_client_connections`` (open at once; past them a new connection is closed at once), and
``idle_timeout_ms`` (a connection that sends nothing that long is closed; a peer reconnects).

Security (raftref/net/auth.py): ``cluster_id`` names the cluster (peer lines of another
cluster are refused) and ``secret_file`` is the file, relative to the cluster file's directory,
holding the secret that MACs every peer line; ``raftref serve`` refuses to start without both
unless told ``--insecure``. ``bind`` is the host every node listens on (default 127.0.0.1,
loopback only: a cluster spread over machines sets "0.0.0.0" or the host's address), on the
ports of its addresses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from raftref.protocol.node import NodeConfig

CLUSTER_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class ConfigError(ValueError):
    """A cluster file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Limits:
    """Bounds on what one node accepts from the network (defaults: the cluster file's)."""

    max_line_bytes: int = 4 << 20
    max_peer_connections: int = 64
    max_client_connections: int = 256
    idle_timeout_ms: int = 60_000

    @property
    def max_body_bytes(self) -> int:
        """A client request's body: small enough that max_entries_per_message (8) commands,
        each with its key and session fields, make one peer line well under the bound."""
        return self.max_line_bytes // 16

    def to_json(self) -> dict[str, int]:
        return {"max_line_bytes": self.max_line_bytes,
                "max_peer_connections": self.max_peer_connections,
                "max_client_connections": self.max_client_connections,
                "idle_timeout_ms": self.idle_timeout_ms}


MIN_LINE_BYTES = 64 << 10  # below this a client body bound (1/16) would be too small to use


@dataclass(frozen=True)
class ClusterConfig:
    """Every node's two addresses (Raft peers, HTTP clients), and the timing."""

    raft: dict[str, Address]
    http: dict[str, Address]
    tick_ms: int = 50
    node: NodeConfig = field(default_factory=NodeConfig)
    limits: Limits = field(default_factory=Limits)
    cluster_id: str | None = None
    secret_file: str | None = None
    bind: str = "127.0.0.1"

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.raft)

    def to_json(self) -> dict[str, Any]:
        return {"nodes": {n: {"raft": str(self.raft[n]), "http": str(self.http[n])}
                          for n in self.ids},
                "tick_ms": self.tick_ms,
                "election_timeout_min": self.node.election_timeout_min,
                "election_timeout_max": self.node.election_timeout_max,
                "heartbeat_interval": self.node.heartbeat_interval,
                "session_expiry_entries": self.node.session_expiry_entries,
                **self.limits.to_json(),
                **({} if self.cluster_id is None else {"cluster_id": self.cluster_id}),
                **({} if self.secret_file is None else {"secret_file": self.secret_file}),
                "bind": self.bind}


def load_config(path: Path) -> ClusterConfig:
    """Read and check a cluster file; every problem is a ConfigError naming file and field."""
    try:
        obj = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the cluster file: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    try:
        return parse_config(obj)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def parse_config(obj: Any) -> ClusterConfig:
    if not isinstance(obj, dict):
        raise ConfigError("top level: a cluster file is a JSON object")
    known = {"nodes", "tick_ms", "election_timeout_min", "election_timeout_max",
             "heartbeat_interval", "session_expiry_entries", "cluster_id", "secret_file", "bind",
             *Limits().to_json()}
    for key in obj:
        if key not in known:
            raise ConfigError(f"field {key}: unknown (known: {', '.join(sorted(known))})")
    nodes = obj.get("nodes")
    if not isinstance(nodes, dict) or not nodes:
        raise ConfigError("field nodes: must be an object of node id -> addresses")
    raft: dict[str, Address] = {}
    http: dict[str, Address] = {}
    for node_id, addresses in nodes.items():
        if not isinstance(addresses, dict):
            raise ConfigError(f"field nodes.{node_id}: must be an object with raft and http")
        raft[node_id] = _address(addresses.get("raft"), f"nodes.{node_id}.raft")
        http[node_id] = _address(addresses.get("http"), f"nodes.{node_id}.http")
    everything = list(raft.values()) + list(http.values())
    if len(set(everything)) != len(everything):
        raise ConfigError("field nodes: two listeners share one address")
    timing = {name: _positive(obj, name, default) for name, default in (
        ("election_timeout_min", 10), ("election_timeout_max", 20), ("heartbeat_interval", 2))}
    if not timing["heartbeat_interval"] < timing["election_timeout_min"] \
            <= timing["election_timeout_max"]:
        raise ConfigError("fields heartbeat_interval < election_timeout_min <= "
                          "election_timeout_max: not so")
    expiry = _positive(obj, "session_expiry_entries", NodeConfig().session_expiry_entries)
    limits = Limits(**{name: _positive(obj, name, default)
                       for name, default in Limits().to_json().items()})
    if limits.max_line_bytes < MIN_LINE_BYTES:
        raise ConfigError(f"field max_line_bytes: must be at least {MIN_LINE_BYTES}, "
                          f"got {limits.max_line_bytes}")
    cluster_id = obj.get("cluster_id")
    if cluster_id is not None and (not isinstance(cluster_id, str)
                                   or not CLUSTER_ID.fullmatch(cluster_id)):
        raise ConfigError(f"field cluster_id: must be 1-64 of A-Z a-z 0-9 . _ -, "
                          f"got {cluster_id!r}")
    secret_file = obj.get("secret_file")
    if secret_file is not None and (not isinstance(secret_file, str) or not secret_file):
        raise ConfigError(f"field secret_file: must be a file name, got {secret_file!r}")
    bind = obj.get("bind", "127.0.0.1")
    if not isinstance(bind, str) or not bind or ":" in bind:
        raise ConfigError(f"field bind: must be a host (no port), got {bind!r}")
    return ClusterConfig(raft, http, _positive(obj, "tick_ms", 50),
                         NodeConfig(**timing, session_expiry_entries=expiry), limits,
                         cluster_id, secret_file, bind)


def _address(value: Any, where: str) -> Address:
    if not isinstance(value, str) or value.count(":") != 1:
        raise ConfigError(f"field {where}: must be \"host:port\", got {value!r}")
    host, port = value.split(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"field {where}: must be \"host:port\" with a port 1-65535, "
                          f"got {value!r}")
    return Address(host, int(port))


def _positive(obj: dict[str, Any], key: str, default: int) -> int:
    value = obj.get(key, default)
    # At most 2**63-1: the file is copied into every trace header, and orjson cannot write
    # an integer past 64 bits.
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value < 2**63:
        raise ConfigError(f"field {key}: must be an integer from 1 to 2**63-1, got {value!r}")
    return value
