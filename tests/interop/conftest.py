"""Fixtures of the interop suites: Python and Rust node processes, killed after each test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..ractor_cluster.harness import NodeProcess
from .cargo import rust_binary

Factory = Callable[..., NodeProcess]


@pytest.fixture(scope="module")
def peer_binary() -> Path:
    return rust_binary("peer")


@pytest.fixture
def started() -> Iterator[list[NodeProcess]]:
    nodes: list[NodeProcess] = []
    yield nodes
    for node in nodes:
        node.kill()


@pytest.fixture
def py(started: list[NodeProcess]) -> Factory:
    def make(name: str, **kwargs: Any) -> NodeProcess:
        node = NodeProcess(name, **kwargs)
        started.append(node)
        return node

    return make


@pytest.fixture
def rs(started: list[NodeProcess], peer_binary: Path) -> Factory:
    def make(name: str, **kwargs: Any) -> NodeProcess:
        node = NodeProcess(name, command=[str(peer_binary)], **kwargs)
        started.append(node)
        return node

    return make
