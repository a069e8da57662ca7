"""Supervisors at their edges: a supervisor killed during a backoff, nested supervisors'
shutdown time, a backoff that raises, options checked when a spec is built."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from ractor_core import ChildSpec, DynamicSupervisor, Supervisor, spawn
from ractor_core.supervisor import exponential_backoff

from .test_supervisor import Crash, Plan, Tree, Worker, running, until

pytestmark = pytest.mark.timeout(30)


def pending_restarts() -> list[asyncio.TimerHandle]:
    """The loop's timers of supervisors' delayed restarts (not cancelled)."""
    loop: Any = asyncio.get_running_loop()
    return [
        h
        for h in loop._scheduled
        if not h.cancelled() and "_schedule" in getattr(h._callback, "__qualname__", "")
    ]


async def test_a_supervisor_killed_during_a_backoff_leaves_no_timer() -> None:
    tree = Tree()

    def minute(n: int) -> float:
        return 60.0

    sup = await spawn(Supervisor([tree.spec("a", backoff=minute)]), None)
    (await running(sup))["a"].cast(Crash())
    await until(lambda: len(pending_restarts()) == 1)
    await sup.kill_and_wait(timeout=2.0)
    assert pending_restarts() == []  # was: the timer (and the state it holds) lived 60 s


def test_a_supervisor_child_waits_for_its_subtree_to_stop_by_default() -> None:
    # OTP: shutdown is infinity for a supervisor child, 5 s for a worker
    assert ChildSpec("sub", Supervisor([]), None).shutdown is None
    assert ChildSpec("dyn", DynamicSupervisor(), None).shutdown is None
    assert ChildSpec("sub", lambda: Supervisor([]), None, shutdown=2.0).shutdown == 2.0
    assert ChildSpec("w", Worker(), Plan("w", [])).shutdown == 5.0


def test_a_child_spec_checks_its_mailbox_capacity_when_built() -> None:
    with pytest.raises(ValueError, match="capacity"):
        ChildSpec("w", Worker(), Plan("w", []), capacity=0)
    with pytest.raises(ValueError, match="name"):
        ChildSpec("w", Worker(), Plan("w", []), name="")


async def test_a_backoff_that_raises_is_logged_and_the_child_restarts_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    tree = Tree()

    def broken(n: int) -> float:
        raise ZeroDivisionError("bad backoff")

    sup = await spawn(Supervisor([tree.spec("a", backoff=broken)]), None)
    before = await running(sup)
    with caplog.at_level(logging.ERROR, logger="ractor.core.supervisor"):
        before["a"].cast(Crash())
        await until(lambda: tree.log.count("start a") == 2)
    assert sup.is_alive
    assert "backoff" in caplog.text and "ZeroDivisionError" in caplog.text
    await sup.stop_and_wait(timeout=5.0)


def test_exponential_backoff_stays_at_its_maximum_for_many_restarts() -> None:
    backoff = exponential_backoff(0.1, 2.0, 10.0)
    assert backoff(5000) == 10.0  # was: OverflowError
    assert exponential_backoff(0.0, 3.0, 1.0)(10_000) == 0.0
