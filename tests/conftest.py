"""Shared test set-up: Hypothesis profiles and paths.

CI runs derandomized with bounded examples and no deadlines (a 2-core machine must not flake);
long randomized campaigns belong to ``raftref fuzz``, not to the test suite.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

ROOT = Path(__file__).resolve().parent.parent

settings.register_profile(
    "ci", derandomize=True, max_examples=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))
