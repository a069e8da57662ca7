"""Factories: routing modes, queues and priorities, discards, the dead-man's switch, the pool's
size, draining, stats, calls through the factory, and lost workers."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from ractor_core import Call, CallTimeout, MessagingError, ReplyDropped
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
    RoundRobin,
    Routing,
    StickyQueuer,
    Worker,
    WorkerContext,
    spawn_factory,
)

pytestmark = pytest.mark.timeout(30)


@dataclass(frozen=True)
class Work:
    n: int
    delay: float = 0.0


@dataclass(frozen=True)
class Hold:
    """Blocks the worker until the gate opens."""

    n: int
    gate: asyncio.Event


@dataclass(frozen=True)
class Boom:
    n: int


@dataclass(frozen=True)
class Double(Call[int]):
    n: int


@dataclass(frozen=True)
class Silent(Call[int]):
    """A call the worker does not answer."""


Msg = Work | Hold | Boom | Double | Silent


@dataclass
class Log:
    done: list[tuple[int, Any, int]] = field(default_factory=list)  # (worker, key, n)
    started: list[tuple[int, Any, int]] = field(default_factory=list)
    workers: dict[int, WorkerContext] = field(default_factory=dict)
    stopped: list[int] = field(default_factory=list)


class Recorder(Worker[Any, Msg, None]):
    def __init__(self, log: Log) -> None:
        self.log = log

    async def pre_start(self, ctx: WorkerContext) -> None:
        self.log.workers[ctx.worker_id] = ctx

    async def handle(self, ctx: WorkerContext, job: Job[Any, Msg], state: None) -> None:
        msg = job.msg
        match msg:
            case Work(n=n, delay=delay):
                self.log.started.append((ctx.worker_id, job.key, n))
                if delay:
                    await asyncio.sleep(delay)
                self.log.done.append((ctx.worker_id, job.key, n))
            case Hold(n=n, gate=gate):
                self.log.started.append((ctx.worker_id, job.key, n))
                await gate.wait()
                self.log.done.append((ctx.worker_id, job.key, n))
            case Boom(n=n):
                raise RuntimeError(f"boom {n}")
            case Double(n=n):
                msg.reply.send(n * 2)
                self.log.done.append((ctx.worker_id, job.key, n))
            case Silent():
                pass

    async def post_stop(self, ctx: WorkerContext, state: None) -> None:
        self.log.stopped.append(ctx.worker_id)


async def eventually(check: Callable[[], bool | Awaitable[bool]], timeout: float = 5.0,
                     what: str = "condition") -> None:
    """Poll ``check`` until it holds, or fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"{what} did not hold within {timeout}s")
        await asyncio.sleep(0.005)


Discards = list[tuple[Job[Any, Msg], DiscardReason]]


async def start(log: Log, workers: int = 2, routing: Routing | None = None,
                discards: Discards | None = None, **kwargs: Any) -> Factory[Any, Msg]:
    handler = None if discards is None else (lambda job, why: discards.append((job, why)))
    return await spawn_factory(lambda wid: Recorder(log), workers=workers, routing=routing,
                               discard_handler=handler, **kwargs)


async def completed(factory: Factory[Any, Msg], n: int) -> None:
    async def check() -> bool:
        return (await factory.stats()).completed >= n

    await eventually(check, what=f"{n} jobs completed")


# ----------------------------------------------------------------------------- routing


async def test_queuer_gives_each_job_to_a_free_worker() -> None:
    log = Log()
    factory = await start(log, workers=4, routing=Queuer())
    for n in range(40):
        factory.dispatch(n % 3, Work(n, delay=0.002))
    await completed(factory, 40)
    assert sorted(n for _, _, n in log.done) == list(range(40))
    assert len({w for w, _, _ in log.done}) == 4
    await factory.stop_and_wait(timeout=5)


async def test_key_persistent_keeps_each_key_on_one_worker_in_order() -> None:
    log = Log()
    factory = await start(log, workers=4, routing=KeyPersistent())
    for n in range(80):
        factory.dispatch(f"k{n % 8}", Work(n, delay=0.001 * (n % 3)))
    await completed(factory, 80)
    for key in {k for _, k, _ in log.done}:
        mine = [(w, n) for w, k, n in log.done if k == key]
        assert len({w for w, _ in mine}) == 1, key
        assert [n for _, n in mine] == sorted(n for _, n in mine), key
    await factory.stop_and_wait(timeout=5)


async def test_sticky_queuer_keeps_a_busy_key_on_its_worker() -> None:
    log = Log()
    gate = asyncio.Event()
    factory = await start(log, workers=2, routing=StickyQueuer())
    factory.dispatch("a", Hold(0, gate))
    await eventually(lambda: len(log.started) == 1)
    held_by = log.started[0][0]
    for n in range(1, 4):
        factory.dispatch("a", Work(n))
    for n in range(10, 16):
        factory.dispatch("b", Work(n))
    await completed(factory, 6)  # the other worker did every "b" while "a" waited
    assert {w for w, k, _ in log.done if k == "b"} == {w for w in log.workers if w != held_by}
    gate.set()
    await completed(factory, 10)
    assert [(w, n) for w, k, n in log.done if k == "a"] == [(held_by, n) for n in range(4)]
    await factory.stop_and_wait(timeout=5)


async def test_round_robin_takes_the_workers_in_turn() -> None:
    log = Log()
    factory = await start(log, workers=3, routing=RoundRobin())
    for n in range(9):
        factory.dispatch(None, Work(n))
    await completed(factory, 9)
    per_worker = {w: [n for v, _, n in log.done if v == w] for w in log.workers}
    assert sorted(len(ns) for ns in per_worker.values()) == [3, 3, 3]
    assert sorted(tuple(n % 3 for n in ns) for ns in per_worker.values()) == [
        (0, 0, 0), (1, 1, 1), (2, 2, 2)]
    await factory.stop_and_wait(timeout=5)


async def test_custom_hashing_puts_a_key_where_the_hasher_says() -> None:
    log = Log()
    calls: list[tuple[int, int]] = []

    def hasher(key: int, workers: int) -> int:
        calls.append((key, workers))
        return key % 2

    factory = await spawn_factory(lambda wid: Recorder(log), workers=3,
                                  routing=CustomHashing(hasher))
    for n in range(12):
        factory.dispatch(n, Work(n))
    await completed(factory, 12)
    assert all(workers == 3 for _, workers in calls)
    by_parity = {n % 2: {w for w, _, m in log.done if m % 2 == n % 2} for n in range(2)}
    assert all(len(ws) == 1 for ws in by_parity.values())
    assert by_parity[0] != by_parity[1]
    await factory.stop_and_wait(timeout=5)


# ----------------------------------------------------------------------------- queues


async def test_priorities_go_first_and_keep_their_order_within_a_level() -> None:
    log = Log()
    gate = asyncio.Event()
    factory = await start(log, workers=1, priorities=3)
    factory.dispatch(None, Hold(-1, gate))
    await eventually(lambda: len(log.started) == 1)
    order = [(2, 20), (1, 10), (0, 0), (2, 21), (0, 1), (1, 11), (5, 22)]  # 5: least urgent
    for priority, n in order:
        factory.dispatch(None, Work(n), priority=priority)
    gate.set()
    await completed(factory, 8)
    assert [n for _, _, n in log.done] == [-1, 0, 1, 10, 11, 20, 21, 22]
    await factory.stop_and_wait(timeout=5)


async def test_a_full_queue_discards_the_oldest_job() -> None:
    log = Log()
    gate = asyncio.Event()
    discards: Discards = []
    factory = await start(log, workers=1, discards=discards,
                          discard=DiscardSettings(2, DiscardMode.OLDEST))
    factory.dispatch(None, Hold(0, gate))
    await eventually(lambda: len(log.started) == 1)
    for n in range(1, 6):
        factory.dispatch(None, Work(n))
    await eventually(lambda: len(discards) == 3)
    assert [(job.msg, why) for job, why in discards] == [
        (Work(n), DiscardReason.LOADSHED) for n in (1, 2, 3)]
    gate.set()
    await completed(factory, 3)
    assert [n for _, _, n in log.done] == [0, 4, 5]
    stats = await factory.stats()
    assert stats.discarded == {DiscardReason.LOADSHED: 3} and stats.total_discarded == 3
    await factory.stop_and_wait(timeout=5)


async def test_a_full_worker_queue_discards_the_newest_job() -> None:
    log = Log()
    gate = asyncio.Event()
    discards: Discards = []
    factory = await start(log, workers=1, routing=KeyPersistent(), discards=discards,
                          discard=DiscardSettings(2, DiscardMode.NEWEST))
    factory.dispatch("k", Hold(0, gate))
    await eventually(lambda: len(log.started) == 1)
    for n in range(1, 6):
        factory.dispatch("k", Work(n))
    await eventually(lambda: len(discards) == 3)
    assert [job.msg for job, _ in discards] == [Work(3), Work(4), Work(5)]
    gate.set()
    await completed(factory, 3)
    assert [n for _, _, n in log.done] == [0, 1, 2]
    await factory.stop_and_wait(timeout=5)


async def test_a_job_that_waits_past_its_ttl_is_discarded() -> None:
    log = Log()
    gate = asyncio.Event()
    discards: Discards = []
    factory = await start(log, workers=1, discards=discards, tick=0.01)
    factory.dispatch(None, Hold(0, gate))
    await eventually(lambda: len(log.started) == 1)
    factory.dispatch(None, Work(1), ttl=0.05)
    factory.dispatch(None, Work(2))
    await eventually(lambda: len(discards) == 1)
    assert discards[0][0].msg == Work(1) and discards[0][1] is DiscardReason.TTL_EXPIRED
    gate.set()
    await completed(factory, 2)
    assert [n for _, _, n in log.done] == [0, 2]
    await factory.stop_and_wait(timeout=5)


async def test_a_dynamic_limit_is_recomputed_on_each_tick() -> None:
    class Halve(DiscardController):
        async def compute(self, current_limit: int) -> int:
            return max(1, current_limit // 2)

    log = Log()
    factory = await start(log, workers=1, tick=0.01,
                          discard=DiscardSettings(64, controller=Halve()))

    async def limit_is_one() -> bool:
        return (await factory.stats()).queue_limit == 1

    await eventually(limit_is_one, what="the limit went down to 1")
    await factory.stop_and_wait(timeout=5)


async def test_jobs_held_when_the_factory_stops_are_discarded_as_shutdown() -> None:
    log = Log()
    gate = asyncio.Event()
    discards: Discards = []
    factory = await start(log, workers=1, discards=discards)
    factory.dispatch(None, Hold(0, gate))
    await eventually(lambda: len(log.started) == 1)
    factory.dispatch(None, Work(1))
    factory.dispatch(None, Work(2))
    await eventually(lambda: factory.ref.mailbox_len == 0)
    stop = asyncio.ensure_future(factory.stop_and_wait(timeout=5))
    await eventually(lambda: len(discards) == 3)
    gate.set()
    await stop
    assert sorted(job.msg.n for job, _ in discards) == [0, 1, 2]  # type: ignore[union-attr]
    assert {why for _, why in discards} == {DiscardReason.SHUTDOWN}


# ----------------------------------------------------------------------------- workers


async def test_the_dead_mans_switch_discards_the_job_and_replaces_a_stuck_worker() -> None:
    log = Log()
    never = asyncio.Event()
    discards: Discards = []
    factory = await start(log, workers=1, discards=discards,
                          dead_mans_switch=DeadMansSwitch(0.1), tick=0.02)
    factory.dispatch(None, Hold(0, never))
    await eventually(lambda: len(log.started) == 1)
    first = log.workers[0].myself
    await eventually(lambda: len(discards) == 1)
    assert discards[0][1] is DiscardReason.STUCK
    await eventually(lambda: not first.is_alive and log.workers[0].myself != first)
    factory.dispatch(None, Work(1))
    await completed(factory, 1)
    assert log.done == [(0, None, 1)]
    assert (await factory.stats()).workers == 1
    await factory.stop_and_wait(timeout=5)


async def test_a_killed_workers_job_is_requeued_by_a_queuer() -> None:
    log = Log()
    never = asyncio.Event()
    factory = await start(log, workers=2, routing=Queuer())
    factory.dispatch("x", Hold(0, never))
    await eventually(lambda: len(log.started) == 1)
    victim = log.started[0][0]
    log.workers[victim].myself.kill()
    # re-queued: it runs again (on either worker), and blocks again
    await eventually(lambda: len(log.started) == 2)
    stats = await factory.stats()
    assert stats.requeued == 1 and stats.in_flight == 1 and stats.workers == 2
    await factory.stop_and_wait(timeout=5)


async def test_a_killed_workers_job_goes_to_the_discard_handler_under_key_persistence() -> None:
    log = Log()
    never = asyncio.Event()
    discards: Discards = []
    factory = await start(log, workers=2, routing=KeyPersistent(), discards=discards)
    factory.dispatch("x", Hold(0, never))
    await eventually(lambda: len(log.started) == 1)
    factory.dispatch("x", Work(1))  # waits in the same worker's queue
    log.workers[log.started[0][0]].myself.kill()
    await eventually(lambda: len(discards) == 1)
    assert discards[0][0].msg == Hold(0, never)
    assert discards[0][1] is DiscardReason.WORKER_LOST
    await completed(factory, 1)  # the queued job went to the replacement
    assert [n for _, _, n in log.done] == [1]
    await factory.stop_and_wait(timeout=5)


async def test_a_raising_job_fails_alone_and_the_worker_goes_on() -> None:
    log = Log()
    factory = await start(log, workers=1)
    factory.dispatch(None, Boom(0))
    factory.dispatch(None, Work(1))
    await completed(factory, 1)
    stats = await factory.stats()
    assert stats.failed == 1 and stats.completed == 1
    await factory.stop_and_wait(timeout=5)


async def test_resize_and_the_capacity_controller_change_the_pool() -> None:
    class Wanted(CapacityController):
        size = 1

        async def pool_size(self, current: int) -> int:
            return self.size

    log = Log()
    wanted = Wanted()
    factory = await start(log, workers=1, capacity=wanted, tick=0.01)
    wanted.size = 4

    async def workers(n: int) -> bool:
        return (await factory.stats()).workers == n

    await eventually(lambda: workers(4), what="grown to 4")
    wanted.size = 2
    await eventually(lambda: workers(2), what="shrunk to 2")
    await eventually(lambda: len(log.stopped) == 2, what="two workers retired gracefully")
    await factory.stop_and_wait(timeout=5)

    factory = await start(log, workers=2)
    assert await factory.resize(5) == 5
    for n in range(20):
        factory.dispatch(None, Work(n, delay=0.001))
    assert await factory.resize(1) == 1
    await completed(factory, 20)
    await factory.stop_and_wait(timeout=5)


async def test_draining_finishes_every_job_then_stops() -> None:
    log = Log()
    discards: Discards = []
    events: list[str] = []

    class Hooks(LifecycleHooks[Any, Msg]):
        async def on_factory_started(self, factory: Factory[Any, Msg]) -> None:
            events.append("started")

        async def on_factory_draining(self, factory: Factory[Any, Msg]) -> None:
            events.append("draining")
            factory.dispatch(None, Work(99))  # too late: discarded

        async def on_factory_stopped(self) -> None:
            events.append("stopped")

    factory = await start(log, workers=2, discards=discards, hooks=Hooks())
    for n in range(20):
        factory.dispatch(None, Work(n, delay=0.002))
    await factory.drain_and_wait(timeout=10)
    assert sorted(n for _, _, n in log.done) == list(range(20))
    assert [(job.msg, why) for job, why in discards] == [(Work(99), DiscardReason.SHUTDOWN)]
    assert events == ["started", "draining", "stopped"]
    assert sorted(log.stopped) == [0, 1]
    with pytest.raises(MessagingError):
        factory.dispatch(None, Work(100))


async def test_stats_report_depth_in_flight_and_processing_time() -> None:
    log = Log()
    gate = asyncio.Event()
    factory = await start(log, workers=1)
    factory.dispatch(None, Hold(0, gate))
    for n in range(1, 4):
        factory.dispatch(None, Work(n))
    await eventually(lambda: len(log.started) == 1)
    stats = await factory.stats()
    assert (stats.submitted, stats.queued, stats.in_flight, stats.completed) == (4, 3, 1, 0)
    await asyncio.sleep(0.02)
    gate.set()
    await completed(factory, 4)
    stats = await factory.stats()
    assert (stats.queued, stats.in_flight, stats.completed, stats.failed) == (0, 0, 4, 0)
    assert stats.processing_time_max >= 0.02
    assert 0 < stats.processing_time_mean <= stats.processing_time_max
    assert stats.queue_time_mean > 0
    await factory.stop_and_wait(timeout=5)


# ----------------------------------------------------------------------------- calls


async def test_a_call_through_the_factory_reaches_the_caller() -> None:
    log = Log()
    factory = await start(log, workers=3, routing=KeyPersistent())
    assert await factory.call("a", Double(21), timeout=2) == 42
    results = await asyncio.gather(*(factory.call(n, Double(n), timeout=2) for n in range(50)))
    assert results == [2 * n for n in range(50)]
    await factory.stop_and_wait(timeout=5)


async def test_a_call_fails_when_its_job_is_discarded_unanswered_or_late() -> None:
    log = Log()
    gate = asyncio.Event()
    factory = await start(log, workers=1, discard=DiscardSettings(0, DiscardMode.NEWEST))
    with pytest.raises(ReplyDropped):
        await factory.call(None, Silent(), timeout=2)
    factory.dispatch(None, Hold(0, gate))
    await eventually(lambda: len(log.started) == 1)
    with pytest.raises(ReplyDropped, match="discarded"):
        await factory.call(None, Double(1), timeout=2)  # no room to wait: loadshed
    gate.set()
    await factory.stop_and_wait(timeout=5)

    gate = asyncio.Event()
    factory = await start(log, workers=1)
    factory.dispatch(None, Hold(0, gate))
    with pytest.raises(CallTimeout):
        await factory.call(None, Double(1), timeout=0.05)
    gate.set()
    await factory.stop_and_wait(timeout=5)
    with pytest.raises(MessagingError):
        await factory.call(None, Double(1), timeout=1)
    with pytest.raises(MessagingError):
        factory.dispatch(None, Double(1))  # type: ignore[arg-type]


async def test_several_jobs_in_flight_per_worker_are_all_requeued_when_it_dies() -> None:
    log = Log()
    gate = asyncio.Event()
    factory = await start(log, workers=1, in_flight_per_worker=4)
    factory.dispatch(None, Hold(0, gate))
    for n in range(1, 10):
        factory.dispatch(None, Work(n))
    await eventually(lambda: len(log.started) == 1)
    stats = await factory.stats()
    assert (stats.in_flight, stats.queued) == (4, 6)  # one running, three in its mailbox
    log.workers[0].myself.kill()
    await eventually(lambda: len(log.started) == 2)  # the replacement took the held job again
    stats = await factory.stats()
    assert stats.requeued == 4
    gate.set()
    await completed(factory, 10)
    assert sorted(n for _, _, n in log.done) == list(range(10))
    await factory.stop_and_wait(timeout=5)
