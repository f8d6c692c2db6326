"""The three roles a server can be in (paper §5.1, Figure 4)."""

from __future__ import annotations

from typing import Literal

Role = Literal["follower", "candidate", "leader"]

FOLLOWER: Role = "follower"
CANDIDATE: Role = "candidate"
LEADER: Role = "leader"
