"""A factory as a supervisor's child: restarted when it dies, found again by name, and its
held jobs reported (never silently lost)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ractor_core import ReplyDropped, spawn
from ractor_core.factory import DiscardReason, Job, Worker, WorkerContext, factory_child
from ractor_core.supervisor import Supervisor, which_children

from .test_factory import Double, Hold, Log, Msg, Recorder, eventually

pytestmark = pytest.mark.timeout(30)


async def test_a_supervised_factory_is_restarted_found_by_name_and_its_jobs_reported() -> None:
    log = Log()
    discarded: list[tuple[Any, DiscardReason]] = []
    child = factory_child(
        "jobs", lambda n: Recorder(log), name="jobs-factory", workers=2,
        discard_handler=lambda job, why: discarded.append((job.key, why)),
    )
    sup = await spawn(Supervisor([child.spec]), None)
    try:
        first = child.factory()
        assert first is not None
        assert await first.call("a", Double(4), timeout=5) == 8

        gate = asyncio.Event()  # never opened: the jobs stay with the workers
        first.dispatch("h1", Hold(1, gate))
        first.dispatch("h2", Hold(2, gate))
        first.dispatch("w", Hold(3, gate))  # waits in the factory's queue
        pending = asyncio.ensure_future(first.call("c", Double(5), timeout=5))
        await eventually(lambda: len(log.started) == 2, what="two jobs started")

        first.ref.kill()
        with pytest.raises(ReplyDropped):
            await asyncio.wait_for(pending, 5)

        def restarted() -> bool:
            f = child.factory()
            return f is not None and f != first

        await eventually(restarted, what="the factory restarted under its name")
        again = child.factory()
        assert again is not None
        assert await again.call("b", Double(21), timeout=5) == 42
        assert {key for key, _ in discarded} >= {"h1", "h2", "w", "c"}
        assert all(why is DiscardReason.SHUTDOWN for _, why in discarded)
        (info,) = await which_children(sup)
        assert info.id == "jobs" and info.actor == again.ref
    finally:
        await sup.stop_and_wait(timeout=5)
    assert child.factory() is None


class Plain(Worker[str, Msg, None]):
    async def pre_start(self, ctx: WorkerContext) -> None:
        return None

    async def handle(self, ctx: WorkerContext, job: Job[str, Msg], state: None) -> None:
        if isinstance(job.msg, Double):
            job.msg.reply.send(job.msg.n * 2)


def test_a_factory_child_checks_its_settings_when_made() -> None:
    with pytest.raises(ValueError):
        factory_child("f", lambda n: Plain(), name="f", workers=-1)
    with pytest.raises(ValueError):
        factory_child("", lambda n: Plain(), name="f")
