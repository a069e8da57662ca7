"""Shared fixtures: every test starts with empty registries and leaves no actor running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from ractor_core import _registry, all_actors, pg


@pytest.fixture(autouse=True)
async def _stop_all_actors() -> AsyncIterator[None]:
    """Kill whatever a test left running and clear the registries (pykka's ``_stop_all``)."""
    _registry._clear()
    pg._clear()
    yield
    leftovers = [a for a in all_actors() if a.is_alive]
    for actor in leftovers:
        actor.kill()
    if leftovers:
        await asyncio.wait_for(asyncio.gather(*(a.wait() for a in leftovers)), 5)
    _registry._clear()
    pg._clear()
