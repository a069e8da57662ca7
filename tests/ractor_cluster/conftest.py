"""Fixtures of the process-level cluster tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .harness import NodeProcess


@pytest.fixture
def nodes() -> Iterator[Callable[..., NodeProcess]]:
    """Start test nodes as OS processes; every one is killed when the test ends."""
    started: list[NodeProcess] = []

    def make(name: str, **kwargs: Any) -> NodeProcess:
        node = NodeProcess(name, **kwargs)
        started.append(node)
        return node

    yield make
    for node in started:
        node.kill()
