"""Factories over a process group: workers from ``serve_workers``, jobs in their wire form,
and members that join and leave (in one process; tests/ractor_cluster/test_factory_remote.py
runs the same across node processes)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ractor_core import ActorRef, Call, ReplyDropped, pg
from ractor_core.factory import (
    DeadMansSwitch,
    DiscardReason,
    Job,
    KeyPersistent,
    Queuer,
    Worker,
    WorkerContext,
    serve_workers,
    spawn_group_factory,
)
from ractor_core.factory._worker import (
    FACTORY_SCOPE,
    _JobCast,
    _JobFamily,
    _JobMsg,
    _Outcome,
    factory_group,
)
from ractor_core.transport import SerializedCast, message_family
from ractor_derive import I64, U32, Message, cluster_message

from .test_factory import eventually

pytestmark = pytest.mark.timeout(30)


@cluster_message
class Crunching(Message):
    """Jobs of the test workers."""


class Crunch(Crunching):
    n: I64
    ms: U32


class Square(Crunching, Call[I64]):
    n: I64
    ms: U32


CrunchMsg = Crunch | Square
DONE: list[tuple[int, int]] = []  # (worker number, n)
STARTED: list[tuple[ActorRef[Any], int]] = []  # (worker actor, n)


class Cruncher(Worker[int, CrunchMsg, None]):
    async def pre_start(self, ctx: WorkerContext) -> None:
        return None

    async def handle(self, ctx: WorkerContext, job: Job[int, CrunchMsg], state: None) -> None:
        msg = job.msg
        STARTED.append((ctx.myself, msg.n))
        await asyncio.sleep(msg.ms / 1000)
        if isinstance(msg, Square):
            msg.reply.send(msg.n * msg.n)
        DONE.append((ctx.worker_id, msg.n))


@pytest.fixture(autouse=True)
def _clear() -> None:
    DONE.clear()
    STARTED.clear()


async def test_a_job_and_its_acknowledgement_round_trip_in_wire_form() -> None:
    family = message_family(Crunching)
    assert family is not None
    decoder = _JobFamily(family, int)
    factory = (await serve_workers("stand-in", lambda wid: Cruncher(), 1))[0]
    pg.join_scoped(FACTORY_SCOPE, factory_group(0xF00D), [factory])  # the factory's name
    for key in (-(2**70), -1, 0, 7, 2**63):
        job: Job[Any, Any] = Job(key, Square(n=12, ms=3), priority=2, job_id=99)
        wire = _JobCast(job, 3, 0xF00D).serialize()
        assert isinstance(wire, SerializedCast) and wire.variant == "Square"
        got = decoder.deserialize(wire)
        assert (got.job.key, got.job.msg, got.job.id, got.job.priority) == (key, job.msg, 99, 2)
        assert (got.ack_to, got.slot) == (factory, 3)
        sent = _JobMsg(job)
        answered = sent.decode_reply(got.encode_reply(_Outcome(True, answered=True, value=144)))
        assert (answered.ok, answered.answered, answered.value) == (True, True, 144)
        failed = sent.decode_reply(got.encode_reply(_Outcome(False, error="boom")))
        assert (failed.ok, failed.error) == (False, "boom")
    for key in ("text", b"\x00raw", None):
        cast: Job[Any, Any] = Job(key, Crunch(n=1, ms=2), job_id=1)
        back = decoder.deserialize(_JobCast(cast, 0, 0xF00D).serialize())
        assert (back.job.key, back.job.msg) == (key, Crunch(n=1, ms=2))
        assert _JobMsg(cast).decode_reply(back.encode_reply(_Outcome(True))).ok
    with pytest.raises(ValueError, match="unknown factory"):
        decoder.deserialize(_JobCast(cast, 0, 0xBAD).serialize())


async def test_a_group_factory_feeds_the_members_and_requeues_a_leavers_jobs() -> None:
    first = await serve_workers("crunch", lambda wid: Cruncher(), 2)
    assert all(ref.is_remotable for ref in first)  # other nodes see them
    factory = await spawn_group_factory("crunch", int, Crunching, routing=Queuer())
    calls = [asyncio.ensure_future(factory.call(n, Square(n=n, ms=20), timeout=10))
             for n in range(6)]
    await eventually(lambda: len(STARTED) == 2)
    first[0].kill()  # dies mid-job: its job goes back to the queue
    more = await serve_workers("crunch", lambda wid: Cruncher(), 1)  # a member joins
    assert await asyncio.gather(*calls) == [n * n for n in range(6)]
    stats = await factory.stats()
    assert (stats.completed, stats.requeued, stats.workers) == (6, 1, 2)
    assert more[0] in {ref for ref, _ in STARTED}
    await factory.stop_and_wait(timeout=5)


async def test_a_key_persistent_group_factory_reports_a_lost_job() -> None:
    workers = await serve_workers("keyed", lambda wid: Cruncher(), 2)
    discards: list[tuple[Job[int, Crunching], DiscardReason]] = []
    factory = await spawn_group_factory(
        "keyed", int, Crunching, routing=KeyPersistent(),
        discard_handler=lambda job, why: discards.append((job, why)),
    )
    call = asyncio.ensure_future(factory.call(5, Square(n=5, ms=5000), timeout=10))
    await eventually(lambda: len(STARTED) == 1)
    for n in range(3):
        factory.dispatch(5, Crunch(n=n, ms=1))  # the same key: queued behind the call
    await eventually(lambda: factory.ref.mailbox_len == 0)
    busy = STARTED[0][0]
    assert busy in workers
    busy.kill()
    with pytest.raises(ReplyDropped, match="worker_lost"):
        await call
    assert [(job.msg, why) for job, why in discards] == [
        (Square(n=5, ms=5000), DiscardReason.WORKER_LOST)]
    await eventually(lambda: len(DONE) == 3)  # the queued ones went to the other worker
    await factory.stop_and_wait(timeout=5)


async def test_a_stuck_group_member_gets_no_jobs_until_it_answers() -> None:
    workers = await serve_workers("slow", lambda wid: Cruncher(), 2)
    discards: list[tuple[Job[int, Crunching], DiscardReason]] = []
    factory = await spawn_group_factory(
        "slow", int, Crunching, dead_mans_switch=DeadMansSwitch(0.1), tick=0.02,
        discard_handler=lambda job, why: discards.append((job, why)),
    )
    factory.dispatch(0, Crunch(n=0, ms=400))  # stuck past the switch
    await eventually(lambda: len(STARTED) == 1)
    stuck = STARTED[0][0]
    await eventually(lambda: len(discards) == 1)
    assert discards[0][1] is DiscardReason.STUCK
    for n in range(1, 6):
        factory.dispatch(n, Crunch(n=n, ms=1))
    await eventually(lambda: len(DONE) == 5)
    assert {ref for ref, n in STARTED if n > 0} == {w for w in workers if w != stuck}
    await eventually(lambda: len(DONE) == 6)  # the stuck one finished: its late answer frees it
    assert stuck.is_alive  # a group member is not killed by the factory
    for n in range(6, 20):
        factory.dispatch(n, Crunch(n=n, ms=5))
    await eventually(lambda: len(DONE) == 20)
    assert stuck in {ref for ref, n in STARTED if n >= 6}
    stats = await factory.stats()
    assert (stats.completed, stats.total_discarded) == (19, 1)
    await factory.stop_and_wait(timeout=5)


async def test_a_queuer_gives_up_a_job_lost_more_than_max_retries_times() -> None:
    workers = await serve_workers("fragile", lambda wid: Cruncher(), 1)
    discards: list[tuple[Job[int, Crunching], DiscardReason]] = []
    factory = await spawn_group_factory(
        "fragile", int, Crunching, max_retries=1,
        discard_handler=lambda job, why: discards.append((job, why)),
    )
    factory.dispatch(1, Crunch(n=1, ms=5000))
    await eventually(lambda: len(STARTED) == 1)
    workers[0].kill()  # lost once: re-queued
    second = await serve_workers("fragile", lambda wid: Cruncher(), 1)
    await eventually(lambda: len(STARTED) == 2)
    assert (await factory.stats()).requeued == 1
    second[0].kill()  # lost twice: given up
    await eventually(lambda: len(discards) == 1)
    job, why = discards[0]
    assert (job.msg, job.attempts, why) == (Crunch(n=1, ms=5000), 2, DiscardReason.WORKER_LOST)
    await factory.stop_and_wait(timeout=5)
