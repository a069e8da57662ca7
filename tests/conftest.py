"""Shared fixtures: every test starts with empty registries and leaves no actor running."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, settings

from ractor_core import _registry, _remote, all_actors, pg

# Property tests must not fail because a 2-core CI machine is busy: no deadlines, and no
# "too slow to generate" health check (the properties themselves are what is tested).
settings.register_profile(
    "ractor", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
# CI (CI=true, as .ci/run is run): the same, derandomized (each test's examples are fixed, so
# a run from a fresh clone is the run before it) and without the example database (nothing
# carried over between runs). HYPOTHESIS_PROFILE=ractor/ci chooses explicitly.
settings.register_profile(
    "ci", settings.get_profile("ractor"), derandomize=True, database=None, print_blob=True
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "ractor")
)


@pytest.fixture(autouse=True)
async def _stop_all_actors() -> AsyncIterator[None]:
    """Kill whatever a test left running and clear the registries (pykka's ``_stop_all``)."""
    _registry._clear()
    _remote._clear()
    pg._clear()
    yield
    leftovers = [a for a in all_actors() if a.is_alive]
    for actor in leftovers:
        actor.kill()
    if leftovers:
        await asyncio.wait_for(asyncio.gather(*(a.wait() for a in leftovers)), 5)
    _registry._clear()
    _remote._clear()
    pg._clear()
