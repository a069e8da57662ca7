"""Factories under stress: workers lost during a drain or a resize, workers that stop on their
own, a stuck worker that comes back, user callbacks that raise, a killed factory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from ractor_core import (
    Actor,
    ActorRef,
    Call,
    MailboxFull,
    MessagingError,
    ReplyDropped,
    SpawnError,
    all_actors,
    pg,
    spawn,
)
from ractor_core.factory import (
    CapacityController,
    CustomHashing,
    DeadMansSwitch,
    DiscardController,
    DiscardMode,
    DiscardReason,
    DiscardSettings,
    Factory,
    Job,
    KeyPersistent,
    LifecycleHooks,
    Queuer,
    Routing,
    StickyQueuer,
    Worker,
    WorkerContext,
    serve_workers,
    spawn_factory,
    spawn_group_factory,
)
from ractor_core.factory._factory import _FactoryFamily
from ractor_core.factory._worker import (
    FACTORY_SCOPE,
    _JobCast,
    _JobFamily,
    _JobMsg,
    _remotable_actor,
    _unpack_meta,
    factory_group,
)
from ractor_core.transport import SerializedCast, message_family, offer

from .remote import Recording
from .test_factory import Double, Hold, Log, Msg, Recorder, Work, eventually
from .test_factory_group import DONE, STARTED, Crunch, Cruncher, Crunching, Square

pytestmark = pytest.mark.timeout(30)

Discards = list[tuple[Any, DiscardReason]]


def recorder(discards: Discards) -> Callable[[Job[Any, Any], DiscardReason], None]:
    def record(job: Job[Any, Any], why: DiscardReason) -> None:
        discards.append((job.msg, why))

    return record


class Flaky(Worker[Any, Any, None]):
    """``"die"`` kills the worker (mid-job), ``"quit"`` stops it after the job; ``post_stop``
    takes a while (as closing a connection would); anything else takes ``delay`` seconds."""

    def __init__(self, wid: int, log: list[tuple[int, Any, int]], fail_from: int = 10**9,
                 delay: float = 0.01) -> None:
        self.wid = wid
        self.log = log
        self.fail_from = fail_from
        self.delay = delay

    async def pre_start(self, ctx: WorkerContext) -> None:
        if ctx.worker_id >= self.fail_from:
            raise RuntimeError(f"worker {ctx.worker_id} cannot reach its database")

    async def handle(self, ctx: WorkerContext, job: Job[Any, Any], state: None) -> None:
        self.log.append((ctx.worker_id, job.msg, ctx.myself.mailbox_len))
        if job.msg == "die":
            ctx.myself.kill()
            await asyncio.sleep(5)
        elif job.msg == "quit":
            ctx.myself.stop("unhealthy")
        elif isinstance(job.msg, Double):
            job.msg.reply.send(job.msg.n * 2)
        else:
            await asyncio.sleep(self.delay)

    async def post_stop(self, ctx: WorkerContext, state: None) -> None:
        await asyncio.sleep(0.05)


def flaky(log: list[tuple[int, Any, int]], **kwargs: Any) -> Callable[[int], Flaky]:
    def build(wid: int) -> Flaky:
        return Flaky(wid, log, **kwargs)

    return build


@pytest.mark.parametrize("routing", [Queuer(), KeyPersistent()], ids=repr)
async def test_a_worker_lost_during_a_drain_is_replaced_and_the_drain_ends(
    routing: Routing,
) -> None:
    log: list[tuple[int, Any, int]] = []
    discards: Discards = []
    factory = await spawn_factory(flaky(log), workers=1, routing=routing,
                                  discard_handler=recorder(discards), max_retries=0)
    factory.dispatch("k", "die")
    for n in range(3):
        factory.dispatch("k", n)
    factory.drain()
    await factory.wait(timeout=5.0)  # was: the queue waited for a worker that never came
    assert [msg for _, msg, _ in log if msg != "die"] == [0, 1, 2]
    assert discards == [("die", DiscardReason.WORKER_LOST)]


async def test_a_job_sent_to_a_worker_that_is_stopping_is_requeued_not_failed() -> None:
    log: list[tuple[int, Any, int]] = []
    discards: Discards = []
    factory = await spawn_factory(flaky(log), workers=1, discard_handler=recorder(discards))
    factory.dispatch("k", "quit")  # the worker stops itself after this job
    factory.dispatch("k", 1)
    reply = await factory.call("k", Double(21), timeout=5.0)
    assert reply == 42
    stats = await factory.stats()
    assert stats.failed == 0 and discards == []
    assert [msg for _, msg, _ in log] == ["quit", 1, Double(21)]
    await factory.stop_and_wait(timeout=5.0)


async def test_a_replacement_worker_holds_no_more_than_in_flight_per_worker() -> None:
    log: list[tuple[int, Any, int]] = []
    factory = await spawn_factory(flaky(log, delay=0.05), workers=1)
    factory.dispatch("k", "die")
    factory.dispatch("k", "a")  # waits in the factory's queue, then goes to the replacement
    await eventually(lambda: any(msg == "a" for _, msg, _ in log), what="'a' started")
    factory.dispatch("k", "b")  # must wait at the factory: the replacement is busy
    stats = await factory.stats()
    assert (stats.in_flight, stats.queued) == (1, 1)
    await factory.drain_and_wait(timeout=5.0)
    assert [(msg, queued) for _, msg, queued in log if msg != "die"] == [("a", 0), ("b", 0)]


@pytest.mark.parametrize("routing", [Queuer(), KeyPersistent()], ids=repr)
async def test_a_stuck_worker_that_answers_late_gets_its_waiting_jobs(routing: Routing) -> None:
    log = Log()
    discards: Discards = []
    factory = await spawn_factory(
        lambda wid: Recorder(log), workers=1, routing=routing, tick=0.01,
        dead_mans_switch=DeadMansSwitch(0.05, kill_worker=False),
        discard_handler=recorder(discards),
    )
    factory.dispatch("k", Work(1, delay=0.3))
    await eventually(lambda: bool(discards), what="the job declared stuck")
    factory.dispatch("k", Work(2))  # waits: the worker is stuck
    # the stuck job finishes; the waiting job must then run, and the drain end
    await factory.drain_and_wait(timeout=5.0)
    assert [n for _, _, n in log.done] == [1, 2]
    assert discards == [(Work(1, delay=0.3), DiscardReason.STUCK)]


async def test_a_resize_whose_new_worker_fails_to_start_keeps_the_factory_and_its_jobs() -> None:
    log: list[tuple[int, Any, int]] = []
    discards: Discards = []
    factory = await spawn_factory(flaky(log, fail_from=1), workers=1,
                                  discard_handler=recorder(discards))
    for n in range(4):
        factory.dispatch("k", n)
    with pytest.raises(Exception, match="cannot reach its database") as raised:
        await factory.resize(3, timeout=5.0)
    assert "1 worker" in str(raised.value)  # says where the pool stands
    assert factory.is_alive
    await factory.drain_and_wait(timeout=5.0)
    assert sorted(msg for _, msg, _ in log) == [0, 1, 2, 3] and discards == []


class Grow(CapacityController):
    async def pool_size(self, current: int) -> int:
        return 3


class Broken(CapacityController, DiscardController):
    def __init__(self) -> None:
        self.calls = 0

    async def pool_size(self, current: int) -> int:
        self.calls += 1
        raise RuntimeError("metrics unavailable")

    async def compute(self, current_limit: int) -> int:
        self.calls += 1
        raise RuntimeError("metrics unavailable")


async def test_a_capacity_controller_that_cannot_grow_the_pool_keeps_the_factory() -> None:
    log: list[tuple[int, Any, int]] = []
    factory = await spawn_factory(flaky(log, fail_from=1, delay=0.03), workers=1,
                                  capacity=Grow(), tick=0.01)
    for n in range(4):
        factory.dispatch("k", n)
    await eventually(lambda: len(log) >= 2, what="two jobs started")  # ticks came meanwhile
    assert factory.is_alive
    await factory.drain_and_wait(timeout=5.0)
    assert sorted(msg for _, msg, _ in log) == [0, 1, 2, 3]


async def test_controllers_that_raise_are_logged_and_the_factory_goes_on() -> None:
    log: list[tuple[int, Any, int]] = []
    broken = Broken()
    factory = await spawn_factory(flaky(log), workers=1, capacity=broken, tick=0.01,
                                  discard=DiscardSettings(10, controller=broken))
    await eventually(lambda: broken.calls >= 4, what="the controllers asked")
    factory.dispatch("k", 1)
    await factory.drain_and_wait(timeout=5.0)
    assert [msg for _, msg, _ in log] == [1]


@pytest.mark.parametrize("routing", [Queuer(), KeyPersistent(), StickyQueuer()], ids=repr)
async def test_an_unhashable_key_is_refused_at_dispatch(routing: Routing) -> None:
    log: list[tuple[int, Any, int]] = []
    factory = await spawn_factory(flaky(log), workers=1, routing=routing)
    with pytest.raises(TypeError, match="hashable"):
        factory.dispatch(["a", "list"], 1)
    with pytest.raises(TypeError, match="hashable"):
        await factory.call({"a": "dict"}, Double(1), timeout=1.0)
    factory.dispatch("k", 2)
    await factory.drain_and_wait(timeout=5.0)
    assert [msg for _, msg, _ in log] == [2]


async def test_a_killed_factory_reports_the_jobs_it_held_and_fails_their_callers() -> None:
    log: list[tuple[int, Any, int]] = []
    discards: Discards = []
    factory = await spawn_factory(flaky(log, delay=5.0), workers=1,
                                  discard_handler=recorder(discards))
    factory.dispatch("k", 1)
    factory.dispatch("k", 2)
    call = asyncio.ensure_future(factory.call("k", Double(3), timeout=5.0))
    await eventually(lambda: bool(log), what="the first job started")
    await factory.ref.kill_and_wait(timeout=5.0)
    with pytest.raises(ReplyDropped, match="shutdown"):
        await asyncio.wait_for(call, 5.0)
    assert sorted(repr(msg) for msg, _ in discards) == sorted(["1", "2", repr(Double(3))])
    assert {why for _, why in discards} == {DiscardReason.SHUTDOWN}


async def test_a_factory_whose_routing_raises_fails_that_job_only() -> None:
    def picky(key: Any, count: int) -> int:
        if key == "bad":
            raise ValueError("no worker for 'bad'")
        return 0

    log: list[tuple[int, Any, int]] = []
    discards: Discards = []
    factory = await spawn_factory(flaky(log), workers=1, routing=CustomHashing(picky),
                                  discard_handler=recorder(discards))
    with pytest.raises(ReplyDropped, match="no worker for 'bad'"):
        await factory.call("bad", Double(1), timeout=5.0)
    assert await factory.call("good", Double(2), timeout=5.0) == 4
    stats = await factory.stats()
    assert stats.failed == 1
    await factory.stop_and_wait(timeout=5.0)


class Timeline(Worker[Any, Msg, None]):
    """Logs ("start" | "done", worker, key, n) in one timeline."""

    def __init__(self, events: list[tuple[str, int, Any, int]]) -> None:
        self.events = events

    async def pre_start(self, ctx: WorkerContext) -> None:
        return None

    async def handle(self, ctx: WorkerContext, job: Job[Any, Msg], state: None) -> None:
        msg = job.msg
        assert isinstance(msg, (Work, Hold))
        self.events.append(("start", ctx.worker_id, job.key, msg.n))
        if isinstance(msg, Hold):
            await msg.gate.wait()
        else:
            await asyncio.sleep(msg.delay)
        self.events.append(("done", ctx.worker_id, job.key, msg.n))


@pytest.mark.parametrize("routing", [KeyPersistent(), StickyQueuer()], ids=repr)
async def test_a_key_busy_on_a_retiring_worker_keeps_its_order(routing: Routing) -> None:
    events: list[tuple[str, int, Any, int]] = []
    factory = await spawn_factory(lambda wid: Timeline(events), workers=2, routing=routing)
    keys = [f"k{i}" for i in range(100)]
    other = next(k for k in keys if hash(k) % 2 == 0)  # worker 0's (key-persistent)
    key = next(k for k in keys if hash(k) % 2 == 1)  # worker 1's
    gate0, gate1 = asyncio.Event(), asyncio.Event()
    factory.dispatch(other, Hold(0, gate0))  # worker 0 busy: the sticky queuer picks 1
    factory.dispatch(key, Hold(1, gate1))
    await eventually(lambda: ("start", 1, key, 1) in events, what="worker 1 busy with the key")
    gate0.set()
    await eventually(lambda: ("done", 0, other, 0) in events, what="worker 0 done")
    factory.dispatch(key, Work(2))  # waits behind the job of its key, on worker 1
    assert await factory.resize(1, timeout=5.0) == 1  # worker 1 retires
    stats = await factory.stats()
    assert (stats.in_flight, stats.queued) == (1, 1)  # was: sent at once to worker 0
    gate1.set()
    await factory.drain_and_wait(timeout=5.0)
    mine = [(what, n) for what, _, k, n in events if k == key]
    assert mine == [("start", 1), ("done", 1), ("start", 2), ("done", 2)], events


async def test_settings_are_checked_when_the_factory_is_spawned() -> None:
    log: list[tuple[int, Any, int]] = []

    async def async_handler(job: Job[Any, Any], why: DiscardReason) -> None:
        pass

    with pytest.raises(TypeError, match=r"discard_handler .* plain function"):
        await spawn_factory(flaky(log), discard_handler=async_handler)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    with pytest.raises(ValueError, match="tick"):
        await spawn_factory(flaky(log), tick=0)
    with pytest.raises(ValueError, match="max_retries"):
        await spawn_factory(flaky(log), max_retries=-1)
    with pytest.raises(TypeError, match="routing"):
        await spawn_factory(flaky(log), routing=KeyPersistent)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    class Mine(Routing):
        pass

    with pytest.raises(TypeError, match="CustomHashing"):
        await spawn_factory(flaky(log), routing=Mine())
    with pytest.raises(TypeError, match="hooks"):
        await spawn_factory(flaky(log), hooks=object())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match="capacity"):
        await spawn_factory(flaky(log), capacity=3)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match="hasher"):
        CustomHashing(3)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


async def test_a_full_queue_discards_a_less_urgent_job_before_a_more_urgent_one() -> None:
    log = Log()
    gate = asyncio.Event()
    discards: Discards = []
    factory = await spawn_factory(
        lambda wid: Recorder(log), workers=1, priorities=2, discard_handler=recorder(discards),
        discard=DiscardSettings(2, DiscardMode.OLDEST),
    )
    factory.dispatch(None, Hold(0, gate))
    await eventually(lambda: len(log.started) == 1, what="the worker busy")
    factory.dispatch(None, Work(1), priority=0)
    factory.dispatch(None, Work(2), priority=0)
    factory.dispatch(None, Work(3), priority=1)  # the least urgent: it goes, not Work(1)
    factory.dispatch(None, Work(4), priority=1)
    await eventually(lambda: len(discards) == 2, what="two discards")
    assert discards == [(Work(3), DiscardReason.LOADSHED), (Work(4), DiscardReason.LOADSHED)]
    factory.dispatch(None, Work(5), priority=0)  # the oldest urgent one goes
    await eventually(lambda: len(discards) == 3, what="three discards")
    assert discards[2] == (Work(1), DiscardReason.LOADSHED)
    gate.set()
    await factory.drain_and_wait(timeout=5.0)
    assert [n for _, _, n in log.done] == [0, 2, 5]


class Lower(DiscardController):
    def __init__(self) -> None:
        self.limit = 10

    async def compute(self, current_limit: int) -> int:
        return self.limit


async def test_a_lowered_dynamic_limit_sheds_the_excess_at_the_next_job() -> None:
    log = Log()
    gate = asyncio.Event()
    discards: Discards = []
    lower = Lower()
    factory = await spawn_factory(
        lambda wid: Recorder(log), workers=1, discard_handler=recorder(discards), tick=0.01,
        discard=DiscardSettings(10, DiscardMode.OLDEST, controller=lower),
    )
    factory.dispatch(None, Hold(0, gate))
    await eventually(lambda: len(log.started) == 1, what="the worker busy")
    for n in range(1, 9):
        factory.dispatch(None, Work(n))
    lower.limit = 3

    async def lowered() -> bool:
        return (await factory.stats()).queue_limit == 3

    await eventually(lowered, what="the limit lowered")
    factory.dispatch(None, Work(9))
    await eventually(lambda: len(discards) == 6, what="the excess shed")
    assert [job for job, _ in discards] == [Work(n) for n in range(1, 7)]
    gate.set()
    await factory.drain_and_wait(timeout=5.0)
    assert [n for _, _, n in log.done] == [0, 7, 8, 9]


class Raising(LifecycleHooks[Any, Any]):
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def on_factory_started(self, factory: Factory[Any, Any]) -> None:
        self.calls.append("started")
        raise RuntimeError("dashboard down")

    async def on_factory_draining(self, factory: Factory[Any, Any]) -> None:
        self.calls.append("draining")
        raise RuntimeError("dashboard down")

    async def on_factory_stopped(self) -> None:
        self.calls.append("stopped")
        raise RuntimeError("dashboard down")


async def test_hooks_that_raise_are_logged_and_the_jobs_still_done(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log: list[tuple[int, Any, int]] = []
    hooks = Raising()
    factory = await spawn_factory(flaky(log), workers=1, hooks=hooks)
    for n in range(3):
        factory.dispatch("k", n)
    await factory.drain_and_wait(timeout=5.0)
    assert [msg for _, msg, _ in log] == [0, 1, 2]
    assert hooks.calls == ["started", "draining", "stopped"]
    assert caplog.text.count("a lifecycle hook raised") == 3


async def test_draining_a_factory_that_stopped_returns_at_once() -> None:
    log: list[tuple[int, Any, int]] = []
    factory = await spawn_factory(flaky(log), workers=1)
    await factory.stop_and_wait(timeout=5.0)
    await factory.drain_and_wait(timeout=1.0)  # was: MessagingError
    factory.drain()
    factory.stop()


class Inbox(Actor[Any, list[Any], None]):
    """Stands in for a factory on another node: keeps what it is sent."""

    async def pre_start(self, myself: ActorRef[Any], args: None) -> list[Any]:
        return []

    async def handle(self, myself: ActorRef[Any], message: Any, state: list[Any]) -> None:
        if isinstance(message, Dump):
            message.reply.send(list(state))
        else:
            state.append(message)


@dataclass(frozen=True)
class Dump(Call[list[Any]]):
    pass


async def test_a_job_its_worker_cannot_decode_is_acknowledged_as_failed() -> None:
    family = message_family(Crunching)
    assert family is not None
    decoder = _JobFamily(family, int)
    factory = await spawn(Inbox(), None)
    worker = (await serve_workers("undecodable", lambda wid: Cruncher(), 1))[0]
    pg.join_scoped(FACTORY_SCOPE, factory_group(0xBEEF), [factory])
    job: Job[Any, Any] = Job(5, Square(n=12, ms=1), job_id=41)
    wire = _JobCast(job, 2, 0xBEEF).serialize()
    # a variant this node does not know (a newer coordinator, say)
    got = decoder.deserialize(SerializedCast("Cube", wire.args, wire.metadata))
    assert offer(worker, got)  # as the node does; was: dropped, in flight for ever

    async def acked() -> bool:
        return bool(await factory.call(Dump(), timeout=1.0))

    await eventually(acked, what="an acknowledgement")
    [ack] = await factory.call(Dump(), timeout=1.0)
    done = _FactoryFamily().deserialize(ack.serialize())
    assert (done.slot, done.job_id) == (2, 41)
    assert done.raw is not None
    outcome = _JobMsg(job).decode_reply(done.raw)
    assert not outcome.ok and "could not decode" in outcome.error and "Cube" in outcome.error
    await worker.stop_and_wait(timeout=5.0)
    await factory.stop_and_wait(timeout=5.0)


class Fussy(Cruncher):
    def __init__(self, fail: bool) -> None:
        self.fail = fail

    async def pre_start(self, ctx: WorkerContext) -> None:
        if self.fail:
            raise RuntimeError("no GPU")


async def test_serve_workers_that_fails_leaves_no_worker_running() -> None:
    before = {ref for ref in all_actors() if ref.is_alive}
    built: list[int] = []

    def build(wid: int) -> Fussy:
        built.append(wid)
        return Fussy(fail=len(built) == 3)  # the third fails: two were started

    with pytest.raises(SpawnError, match="no GPU"):
        await serve_workers("fussy", build, 3)
    assert len(built) == 3
    await eventually(lambda: {r for r in all_actors() if r.is_alive} <= before,
                     what="the started workers stopped")
    assert pg.get_members("fussy") == []


@pytest.mark.parametrize("routing", [Queuer(), KeyPersistent()], ids=repr)
async def test_a_worker_whose_replacement_fails_to_start_is_replaced_later(
    routing: Routing,
) -> None:
    log: list[tuple[int, Any, int]] = []
    builds: list[int] = []

    def build(wid: int) -> Flaky:
        builds.append(wid)
        # the first replacement fails (its database is down for a moment)
        return Flaky(wid, log, fail_from=0 if len(builds) == 2 else 10**9)

    discards: Discards = []
    factory = await spawn_factory(build, workers=1, routing=routing, tick=0.01,
                                  discard_handler=recorder(discards), max_retries=0)
    factory.dispatch("k", "die")
    await eventually(lambda: len(builds) >= 2, what="a replacement tried")
    for n in range(3):
        factory.dispatch("k", n)
    await factory.drain_and_wait(timeout=5.0)  # was: no worker for ever, the drain hung
    assert [msg for _, msg, _ in log if msg != "die"] == [0, 1, 2]
    assert builds[:3] == [0, 0, 0]  # the same number
    assert discards == [("die", DiscardReason.WORKER_LOST)]


async def bounded_member(group: str) -> ActorRef[Any]:
    """A group member in this process whose mailbox holds one job."""
    STARTED.clear()
    DONE.clear()
    cls = _remotable_actor(Cruncher)
    ref = await spawn(cls(Cruncher(), 0), None, capacity=1)
    pg.join(group, [ref])
    return ref


async def test_jobs_waiting_for_room_in_a_members_mailbox_keep_their_order() -> None:
    member = await bounded_member("bounded-order")
    factory = await spawn_group_factory("bounded-order", int, Crunching,
                                        routing=KeyPersistent(), in_flight_per_worker=5)
    factory.dispatch(1, Crunch(n=1, ms=50))  # handled; the next one fills the mailbox
    for n in range(2, 6):
        factory.dispatch(1, Crunch(n=n, ms=0))
    await factory.drain_and_wait(timeout=5.0)
    assert [n for _, n in STARTED] == [1, 2, 3, 4, 5]  # was: 1, 2, 5, 4, 3
    await member.stop_and_wait(timeout=5.0)


async def test_a_job_reported_at_shutdown_is_not_delivered_afterwards() -> None:
    member = await bounded_member("bounded-stop")
    discards: Discards = []
    factory = await spawn_group_factory("bounded-stop", int, Crunching,
                                        in_flight_per_worker=3, discard_handler=recorder(discards))
    factory.dispatch(1, Crunch(n=1, ms=100))
    factory.dispatch(2, Crunch(n=2, ms=0))  # in the member's mailbox
    factory.dispatch(3, Crunch(n=3, ms=0))  # waits for room
    await eventually(lambda: len(STARTED) == 1, what="the first job started")
    await factory.stop_and_wait(timeout=5.0)
    assert sorted(job.n for job, _ in discards) == [1, 2, 3]
    await eventually(lambda: len(DONE) >= 2, what="the jobs in the mailbox done")
    await member.drain_and_wait(timeout=5.0)  # handles whatever reached its mailbox
    assert [n for _, n in STARTED] == [1, 2]  # was: job 3 delivered after it was reported


class Throttled(Recording):
    """A node whose outbound cap is reached while ``full``; ``room`` wakes its waiters."""

    def __init__(self) -> None:
        super().__init__()
        self.full = False
        self.room = asyncio.Event()

    def transmit_cast(self, pid: int, message: SerializedCast) -> None:
        if self.full:
            raise MailboxFull("the node's outbound cap is reached", message)
        super().transmit_cast(pid, message)

    async def uncongested(self, timeout: float | None, need: int = 0) -> None:
        await self.room.wait()


async def test_jobs_waiting_for_room_on_a_connection_are_not_overtaken() -> None:
    node = Throttled()
    worker = node.actor(7)
    node.join_group(pg.DEFAULT_SCOPE, "throttled", [worker])
    factory = await spawn_group_factory("throttled", int, Crunching,
                                        routing=KeyPersistent(), in_flight_per_worker=5)
    node.full = True
    factory.dispatch(1, Crunch(n=1, ms=0))
    factory.dispatch(1, Crunch(n=2, ms=0))
    await eventually(lambda: len(factory.ref._cell._actor._held.sends) > 0,  # type: ignore[attr-defined]  # pyright: ignore
                     what="a job waiting for room")
    node.full = False  # room again, its waiters not woken yet
    factory.dispatch(1, Crunch(n=3, ms=0))
    stats = await factory.stats()
    assert stats.in_flight == 3
    node.room.set()
    await eventually(lambda: len(node.casts) == 3, what="three jobs sent")
    sent = [_unpack_meta(message.metadata, int)[1] for _, message in node.casts]
    assert sent == [1, 2, 3]  # job ids: was 3, 1, 2
    await factory.stop_and_wait(timeout=5.0)
    node.close("test over")


async def test_a_call_through_the_factory_checks_its_timeout() -> None:
    log: list[tuple[int, Any, int]] = []
    factory = await spawn_factory(flaky(log), workers=1)
    for timeout in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="timeout"):
            await factory.call("k", Double(1), timeout=timeout)
    assert await factory.call("k", Double(2), timeout=5.0) == 4
    await factory.stop_and_wait(timeout=5.0)


class Seen(LifecycleHooks[Any, Any]):
    def __init__(self) -> None:
        self.factories: list[Factory[Any, Any]] = []

    async def on_factory_started(self, factory: Factory[Any, Any]) -> None:
        self.factories.append(factory)


async def test_a_factory_handle_is_equal_to_another_of_the_same_factory() -> None:
    log: list[tuple[int, Any, int]] = []
    seen = Seen()
    factory = await spawn_factory(flaky(log), workers=1, hooks=seen)
    other = await spawn_factory(flaky(log), workers=1)
    await eventually(lambda: len(seen.factories) == 1, what="the hook ran")
    assert seen.factories[0] == factory and hash(seen.factories[0]) == hash(factory)
    assert factory != other and factory in {seen.factories[0]}
    await factory.stop_and_wait(timeout=5.0)
    await other.stop_and_wait(timeout=5.0)


async def test_jobs_behind_a_stuck_job_of_a_worker_not_killed_go_to_the_others() -> None:
    log = Log()
    discards: Discards = []
    gate = asyncio.Event()
    factory = await spawn_factory(
        lambda wid: Recorder(log), workers=2, in_flight_per_worker=2, tick=0.01,
        dead_mans_switch=DeadMansSwitch(0.05, kill_worker=False),
        discard_handler=recorder(discards),
    )
    factory.dispatch(None, Hold(1, gate))  # worker 0, stuck
    factory.dispatch(None, Work(2))  # worker 1
    factory.dispatch(None, Work(3))  # worker 0, behind the stuck job
    # was: job 3 waited for worker 0 for ever (and a drain with it)
    await eventually(lambda: (1, None, 3) in log.done, what="job 3 done by worker 1")
    assert discards == [(Hold(1, gate), DiscardReason.STUCK)]
    assert (await factory.stats()).requeued == 1
    gate.set()
    await factory.drain_and_wait(timeout=5.0)


class Tag:
    """A key that travels as bytes (a worker node expecting another key type cannot read it)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __hash__(self) -> int:
        return hash(self.text)

    def into_bytes(self) -> bytes:
        return self.text.encode()


async def test_a_job_whose_key_its_worker_cannot_decode_is_acknowledged_as_failed() -> None:
    family = message_family(Crunching)
    assert family is not None
    decoder = _JobFamily(family, str)  # str has no from_bytes
    factory = await spawn(Inbox(), None)
    worker = (await serve_workers("undecodable-key", lambda wid: Cruncher(), 1))[0]
    pg.join_scoped(FACTORY_SCOPE, factory_group(0xCAFE), [factory])
    job: Job[Any, Any] = Job(Tag("x"), Square(n=3, ms=1), job_id=42)
    got = decoder.deserialize(_JobCast(job, 1, 0xCAFE).serialize())  # was: ValueError, dropped
    assert offer(worker, got)

    async def acked() -> bool:
        return bool(await factory.call(Dump(), timeout=1.0))

    await eventually(acked, what="an acknowledgement")
    [ack] = await factory.call(Dump(), timeout=1.0)
    done = _FactoryFamily().deserialize(ack.serialize())
    assert (done.slot, done.job_id) == (1, 42) and done.raw is not None
    outcome = _JobMsg(job).decode_reply(done.raw)
    assert not outcome.ok and "could not decode the job's key" in outcome.error
    await worker.stop_and_wait(timeout=5.0)
    await factory.stop_and_wait(timeout=5.0)


async def test_a_job_for_a_factory_that_stopped_is_refused_saying_so() -> None:
    log: list[tuple[int, Any, int]] = []
    factory = await spawn_factory(flaky(log), workers=1)
    await factory.stop_and_wait(timeout=5.0)
    with pytest.raises(MessagingError, match=r"factory .* has stopped") as refused:
        factory.dispatch("k", 1)
    unsent: Job[Any, Any] = refused.value.unsent
    assert isinstance(unsent, Job) and unsent.msg == 1
    with pytest.raises(MessagingError, match=r"factory .* has stopped"):
        await factory.call("k", Double(1), timeout=1.0)
