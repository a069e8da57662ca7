#!/usr/bin/env python3
"""Benchmark ``ractor_core`` against Pykka and bare asyncio floors, in one run.

Usage::

    python benchmarks/bench_core.py [--quick] [--json OUT]

Measures, on the running machine:

1. cast throughput, one producer -> one actor (all messages sent, then one round trip that
   returns once the actor has processed them all);
2. call round-trip latency (p50/p99 of sequential calls);
3. spawn + stop rate (sequential ``spawn`` then ``stop_and_wait``);
4. RSS per idle actor (fresh subprocess per framework; VmRSS before, VmHWM after);
5. bounded mailboxes: one producer doing ``await ref.send(msg)`` to an actor spawned with
   ``capacity=N``, against an ``asyncio.Queue(maxsize=N)`` floor doing ``await q.put(msg)``
   (and unbounded ``send`` / ``cast`` for reference);
6. Python-heap bytes (tracemalloc, live after a gc) per remote ref made by a
   ``ractor_core.transport.RemoteNode`` (``node.actor(pid)``, with and without a name) and per
   idle local actor, with a bare task on a future as the floor.

Every ractor_core / asyncio measurement runs on the default asyncio loop and, when
importable, on uvloop. Pykka (``ThreadingActor``) runs on plain threads. The floors are the
cheapest way to do the same thing with asyncio alone: an ``asyncio.Queue`` consumer task
("the floor"), and a deque + waiter-future consumer ("fast floor", the same scheme the
ractor_core mailbox uses). Targets are computed and shown as pass/miss, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import gc
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from _machine import machine_info as _machine_info

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import pykka  # noqa: E402

from ractor_core import Actor, ActorRef, Call, RpcReplyPort, spawn  # noqa: E402
from ractor_core.transport import RemoteNode, SerializedCall, SerializedCast  # noqa: E402

try:
    import uvloop

    HAVE_UVLOOP = True
except ImportError:  # pragma: no cover - depends on the environment
    HAVE_UVLOOP = False

T = TypeVar("T")
perf = time.perf_counter
perf_ns = time.perf_counter_ns

# ------------------------------------------------------------------------------------ config


@dataclass(frozen=True)
class Params:
    """Sizes of one run."""

    cast_n: int
    call_n: int
    call_warmup: int
    spawn_n: int
    repeats: int
    rss_n: int
    rss_pykka_n: int
    pykka_cast_n: int
    pykka_call_n: int
    pykka_spawn_n: int
    capacities: tuple[int, ...]  # bounded mailboxes measured with ``await send``
    tm_remote_n: int  # remote refs per tracemalloc measurement
    tm_actor_n: int  # idle actors per tracemalloc measurement


FULL = Params(
    cast_n=200_000,
    call_n=20_000,
    call_warmup=1_000,
    spawn_n=5_000,
    repeats=5,
    rss_n=10_000,
    rss_pykka_n=10_000,
    pykka_cast_n=200_000,
    pykka_call_n=20_000,
    pykka_spawn_n=5_000,
    capacities=(64, 1024),
    tm_remote_n=100_000,
    tm_actor_n=10_000,
)
QUICK = Params(
    cast_n=100_000,
    call_n=10_000,
    call_warmup=500,
    spawn_n=2_000,
    repeats=2,
    rss_n=10_000,
    rss_pykka_n=1_000,
    pykka_cast_n=50_000,
    pykka_call_n=5_000,
    pykka_spawn_n=1_000,
    capacities=(64, 1024),
    tm_remote_n=100_000,
    tm_actor_n=10_000,
)
RSS_PER = 10_000  # report memory "per 10,000 idle actors"

# Targets
CAST_VS_PYKKA = 3.0
CAST_VS_FLOOR = 0.5
CALL_P50_VS_FLOOR = 1.5
CALL_VS_PYKKA = 3.0
KIB_PER_ACTOR = 2.5  # RSS (section 4)
BYTES_PER_REMOTE_REF = 400.0  # tracemalloc (section 6)

# ------------------------------------------------------------------------------------ actors


@dataclass
class Counter:
    """State of the benchmark actor."""

    count: int = 0


class Flush(Call[int]):
    """Reply with the number of casts handled so far."""

    __slots__ = ()


class Ping(Call[None]):
    """Reply at once (round-trip latency)."""

    __slots__ = ()


class PlainPing:
    """The floors' and Pykka's ping: a plain object of the same size."""

    __slots__ = ()


BenchMsg = int | Flush | Ping


class BenchActor(Actor[BenchMsg, Counter, None]):
    """Counts int casts; answers ``Flush`` with the count and ``Ping`` with None."""

    async def pre_start(self, myself: ActorRef[BenchMsg], args: None) -> Counter:
        return Counter()

    async def handle(self, myself: ActorRef[BenchMsg], message: BenchMsg, state: Counter) -> None:
        if isinstance(message, int):
            state.count += 1
        elif isinstance(message, Ping):
            message.reply.send(None)
        else:
            message.reply.send(state.count)


_FLUSH = object()  # Pykka / floor "flush" marker
_STOP = object()


class PykkaCounter(pykka.ThreadingActor):
    """Pykka twin of BenchActor."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, int):
            self.count += 1
            return None
        if message is _FLUSH:
            return self.count
        return None  # PlainPing


# ------------------------------------------------------------------------------------ helpers


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop]:
    if name == "uvloop":
        return uvloop.new_event_loop
    return asyncio.new_event_loop


def run_on(loop_name: str, main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    with asyncio.Runner(loop_factory=loop_factory(loop_name)) as runner:
        return runner.run(main())


async def settle(n: int = 3) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def pct(sorted_ns: list[int], q: float) -> float:
    """Percentile (nearest rank) of sorted nanosecond samples, in microseconds."""
    idx = min(len(sorted_ns) - 1, max(0, round(q * len(sorted_ns)) - 1))
    return sorted_ns[idx] / 1000.0


@dataclass
class Latency:
    p50_us: float
    p99_us: float
    mean_us: float
    n: int


def summarize(samples: list[int]) -> Latency:
    samples.sort()
    return Latency(
        p50_us=pct(samples, 0.50),
        p99_us=pct(samples, 0.99),
        mean_us=statistics.fmean(samples) / 1000.0,
        n=len(samples),
    )


def best_rate(repeats: int, once: Callable[[], float]) -> float:
    """Best of ``repeats`` rates (ops/s) from ``once``, after gc.collect()."""
    best = 0.0
    for _ in range(repeats):
        gc.collect()
        best = max(best, once())
    return best


async def abest_rate(repeats: int, once: Callable[[], Coroutine[Any, Any, float]]) -> float:
    best = 0.0
    for _ in range(repeats):
        gc.collect()
        best = max(best, await once())
    return best


# ------------------------------------------------------------------------------------ 1. cast


async def cast_ractor(n: int) -> float:
    ref = await spawn(BenchActor(), None)
    await settle()
    t0 = perf()
    for i in range(n):
        ref.cast(i)
    got = await ref.call(Flush())
    dt = perf() - t0
    assert got == n, got
    await ref.stop_and_wait()
    return n / dt


async def cast_floor_queue(n: int) -> float:
    loop = asyncio.get_running_loop()
    q: asyncio.Queue[object] = asyncio.Queue()
    done: asyncio.Future[int] = loop.create_future()

    async def consumer() -> None:
        count = 0
        while True:
            m = await q.get()
            if m is _STOP:
                done.set_result(count)
                return
            count += 1

    task = loop.create_task(consumer())
    await settle()
    t0 = perf()
    for i in range(n):
        q.put_nowait(i)
    q.put_nowait(_STOP)
    got = await done
    dt = perf() - t0
    assert got == n, got
    await task
    return n / dt


class FastBox:
    """deque + one waiter future: the cheapest asyncio mailbox."""

    __slots__ = ("loop", "queue", "waiter")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.queue: deque[Any] = deque()
        self.waiter: asyncio.Future[None] | None = None

    def put(self, msg: Any) -> None:
        self.queue.append(msg)
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            waiter.set_result(None)

    async def get(self) -> Any:
        queue = self.queue
        while not queue:
            waiter = self.loop.create_future()
            self.waiter = waiter
            await waiter
        return queue.popleft()


async def cast_floor_fast(n: int) -> float:
    loop = asyncio.get_running_loop()
    box = FastBox(loop)
    done: asyncio.Future[int] = loop.create_future()

    async def consumer() -> None:
        count = 0
        queue = box.queue
        while True:
            if queue:
                m = queue.popleft()
                if m is _STOP:
                    done.set_result(count)
                    return
                count += 1
            else:
                waiter = loop.create_future()
                box.waiter = waiter
                await waiter

    task = loop.create_task(consumer())
    await settle()
    t0 = perf()
    for i in range(n):
        box.put(i)
    box.put(_STOP)
    got = await done
    dt = perf() - t0
    assert got == n, got
    await task
    return n / dt


def cast_pykka(n: int) -> float:
    ref = PykkaCounter.start()
    time.sleep(0.01)
    t0 = perf()
    for i in range(n):
        ref.tell(i)
    got = ref.ask(_FLUSH)
    dt = perf() - t0
    assert got == n, got
    ref.stop()
    return n / dt


# ------------------------------------------------------------------------------------ 2. call


async def call_ractor(n: int, warmup: int) -> Latency:
    ref = await spawn(BenchActor(), None)
    await settle()
    for _ in range(warmup):
        await ref.call(Ping())
    gc.collect()
    samples = [0] * n
    for i in range(n):
        t0 = perf_ns()
        await ref.call(Ping())
        samples[i] = perf_ns() - t0
    await ref.stop_and_wait()
    return summarize(samples)


async def call_floor_queue(n: int, warmup: int) -> Latency:
    loop = asyncio.get_running_loop()
    q: asyncio.Queue[tuple[object, asyncio.Future[None] | None]] = asyncio.Queue()

    async def consumer() -> None:
        while True:
            _msg, fut = await q.get()
            if fut is None:
                return
            fut.set_result(None)

    task = loop.create_task(consumer())
    await settle()

    async def one() -> None:
        fut: asyncio.Future[None] = loop.create_future()
        q.put_nowait((PlainPing(), fut))
        await fut

    for _ in range(warmup):
        await one()
    gc.collect()
    samples = [0] * n
    for i in range(n):
        t0 = perf_ns()
        fut: asyncio.Future[None] = loop.create_future()
        q.put_nowait((PlainPing(), fut))
        await fut
        samples[i] = perf_ns() - t0
    q.put_nowait((_STOP, None))
    await task
    return summarize(samples)


async def call_floor_fast(n: int, warmup: int) -> Latency:
    loop = asyncio.get_running_loop()
    box = FastBox(loop)

    async def consumer() -> None:
        while True:
            _msg, fut = await box.get()
            if fut is None:
                return
            fut.set_result(None)

    task = loop.create_task(consumer())
    await settle()
    for _ in range(warmup):
        f: asyncio.Future[None] = loop.create_future()
        box.put((PlainPing(), f))
        await f
    gc.collect()
    samples = [0] * n
    for i in range(n):
        t0 = perf_ns()
        fut: asyncio.Future[None] = loop.create_future()
        box.put((PlainPing(), fut))
        await fut
        samples[i] = perf_ns() - t0
    box.put((_STOP, None))
    await task
    return summarize(samples)


def call_pykka(n: int, warmup: int) -> Latency:
    ref = PykkaCounter.start()
    for _ in range(warmup):
        ref.ask(PlainPing())
    gc.collect()
    samples = [0] * n
    for i in range(n):
        t0 = perf_ns()
        ref.ask(PlainPing())
        samples[i] = perf_ns() - t0
    ref.stop()
    return summarize(samples)


# ------------------------------------------------------------------------------------ 3. spawn


async def spawn_ractor(n: int) -> float:
    actor = BenchActor()
    t0 = perf()
    for _ in range(n):
        ref = await spawn(actor, None)
        await ref.stop_and_wait()
    return n / (perf() - t0)


async def spawn_floor_task(n: int) -> float:
    """Floor: create a task that waits on a future, then end it and await it."""
    loop = asyncio.get_running_loop()

    async def body(stop: asyncio.Future[None]) -> None:
        await stop

    t0 = perf()
    for _ in range(n):
        stop: asyncio.Future[None] = loop.create_future()
        task = loop.create_task(body(stop))
        stop.set_result(None)
        await task
    return n / (perf() - t0)


def spawn_pykka(n: int) -> float:
    t0 = perf()
    for _ in range(n):
        ref = PykkaCounter.start()
        ref.stop()
    return n / (perf() - t0)


# ------------------------------------------------------------------------------------ 4. RSS


def _status_kib(key: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} not in /proc/self/status")


def rss_child(impl: str, loop_name: str, n: int) -> dict[str, float]:
    """Runs in a fresh subprocess: RSS before/after ``n`` idle actors of ``impl``."""
    if impl == "pykka":
        for _ in range(20):  # warm up code paths and allocator
            PykkaCounter.start().stop()
        gc.collect()
        before = _status_kib("VmRSS")
        t0 = perf()
        refs = [PykkaCounter.start() for _ in range(n)]
        elapsed = perf() - t0
        time.sleep(0.2)  # let every thread reach its blocking queue get()
        gc.collect()
        after = _status_kib("VmRSS")
        peak = _status_kib("VmHWM")
        del refs
        pykka.ActorRegistry.stop_all()
        return {"before_kib": before, "after_kib": after, "peak_kib": peak, "spawn_s": elapsed}

    async def main() -> dict[str, float]:
        loop = asyncio.get_running_loop()
        if impl == "ractor_core":
            for _ in range(100):
                ref = await spawn(BenchActor(), None)
                await ref.stop_and_wait()
            refs: list[Any] = []

            async def spawn_many() -> None:
                for _ in range(n):
                    refs.append(await spawn(BenchActor(), None))
                await settle(5)  # every actor task started and parked on its waiter

            async def stop_all() -> None:
                for r in refs:
                    r.stop()
                await asyncio.gather(*(r.wait() for r in refs))
        else:  # asyncio task floor: one task parked on one future
            futs: list[asyncio.Future[None]] = []
            tasks: list[asyncio.Task[None]] = []

            async def body(f: asyncio.Future[None]) -> None:
                await f

            async def spawn_many() -> None:
                for _ in range(n):
                    f: asyncio.Future[None] = loop.create_future()
                    futs.append(f)
                    tasks.append(loop.create_task(body(f)))
                await settle(5)

            async def stop_all() -> None:
                for f in futs:
                    f.set_result(None)
                await asyncio.gather(*tasks)

        gc.collect()
        before = _status_kib("VmRSS")
        t0 = perf()
        await spawn_many()
        elapsed = perf() - t0
        gc.collect()
        after = _status_kib("VmRSS")
        peak = _status_kib("VmHWM")
        await stop_all()
        return {"before_kib": before, "after_kib": after, "peak_kib": peak, "spawn_s": elapsed}

    return run_on(loop_name, main)


def rss_in_subprocess(impl: str, loop_name: str, n: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--rss-child", impl, loop_name, str(n)],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    res: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    res["n"] = n
    res["kib_per_actor"] = (res["peak_kib"] - res["before_kib"]) / n
    res["rss_kib_per_actor"] = (res["after_kib"] - res["before_kib"]) / n
    res["mib_per_10k"] = res["kib_per_actor"] * RSS_PER / 1024
    return res


# ------------------------------------------------------------------------------------ 5. send


def cap_label(capacity: int | None) -> str:
    return "unbounded" if capacity is None else str(capacity)


async def send_ractor(n: int, capacity: int | None) -> float:
    """``await ref.send(i)`` n times to an actor with a mailbox of ``capacity``, then one
    call that returns once it has handled them all; msgs/s."""
    ref = await spawn(BenchActor(), None, capacity=capacity)
    await settle()
    t0 = perf()
    for i in range(n):
        await ref.send(i)
    got = await ref.call(Flush())
    dt = perf() - t0
    assert got == n, got
    await ref.stop_and_wait()
    return n / dt


async def send_floor_queue(n: int, capacity: int | None) -> float:
    """Floor: ``await q.put(i)`` into an ``asyncio.Queue(maxsize=capacity)`` read by one
    consumer task (``maxsize=0``, unbounded, for None)."""
    loop = asyncio.get_running_loop()
    q: asyncio.Queue[object] = asyncio.Queue(maxsize=capacity or 0)
    done: asyncio.Future[int] = loop.create_future()

    async def consumer() -> None:
        count = 0
        while True:
            m = await q.get()
            if m is _STOP:
                done.set_result(count)
                return
            count += 1

    task = loop.create_task(consumer())
    await settle()
    t0 = perf()
    for i in range(n):
        await q.put(i)
    await q.put(_STOP)
    got = await done
    dt = perf() - t0
    assert got == n, got
    await task
    return n / dt


# ------------------------------------------------------------------------------------ 6. heap


class NullNode(RemoteNode):
    """A transport's table of a connected node's actors that puts nothing on any wire."""

    __slots__ = ()

    def transmit_cast(self, pid: int, message: SerializedCast) -> None:
        pass

    def transmit_call(
        self,
        pid: int,
        message: SerializedCall,
        port: RpcReplyPort[Any],
        decode: Callable[[bytes], Any],
    ) -> None:
        pass


_NODE_IDS = iter(range(0xBE_0000, 0xBF_0000))  # node ids of this benchmark's tables
_REMOTE_PID0 = 1_000  # first pid: pids past the small-int cache, as a peer's would be


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


def tm_remote_refs(n: int, named: bool) -> dict[str, float]:
    """Python-heap bytes per remote ref: ``node.actor(pid)`` (``named``: with
    ``name=f"worker-{pid}"``, the name string made in the window as a transport decoding
    an advertisement would) for n pids of one node; the node's table holds the refs."""
    warm = NullNode(next(_NODE_IDS))
    for pid in range(_REMOTE_PID0, _REMOTE_PID0 + 100):
        warm.actor(pid, f"worker-{pid}" if named else None)
    warm.close("benchmark warm-up done")
    node = NullNode(next(_NODE_IDS))
    pids = range(_REMOTE_PID0, _REMOTE_PID0 + n)
    actor = node.actor
    tracemalloc.start()
    try:
        before = _traced()
        t0 = perf()
        if named:
            for pid in pids:
                actor(pid, f"worker-{pid}")
        else:
            for pid in pids:
                actor(pid)
        elapsed = perf() - t0
        after = _traced()
    finally:
        tracemalloc.stop()
    assert len(node) == n, len(node)
    ref = node.get(_REMOTE_PID0 + n - 1)
    assert ref is not None and ref.name == (f"worker-{_REMOTE_PID0 + n - 1}" if named else None)
    node.close("benchmark done")
    names = sum(sys.getsizeof(f"worker-{pid}") for pid in pids) / n if named else 0.0
    return {
        "n": n,
        "bytes": after - before,
        "bytes_per": (after - before) / n,
        "name_bytes_per": names,
        "make_s": elapsed,
    }


def tm_idle(impl: str, loop_name: str, n: int) -> dict[str, float]:
    """Python-heap bytes per idle local actor (``ractor_core``) or per bare task parked on a
    future (``floor_task``): spawned, every task started and parked, then a gc."""

    async def main() -> dict[str, float]:
        loop = asyncio.get_running_loop()
        refs: list[ActorRef[BenchMsg]] = []
        futs: list[asyncio.Future[None]] = []
        tasks: list[asyncio.Task[None]] = []

        async def body(f: asyncio.Future[None]) -> None:
            await f

        for _ in range(100):  # warm up code paths (and the loop's internal buffers)
            if impl == "ractor_core":
                r = await spawn(BenchActor(), None)
                await r.stop_and_wait()
            else:
                f: asyncio.Future[None] = loop.create_future()
                t = loop.create_task(body(f))
                await settle()
                f.set_result(None)
                await t
        tracemalloc.start()
        try:
            before = _traced()
            t0 = perf()
            if impl == "ractor_core":
                for _ in range(n):
                    refs.append(await spawn(BenchActor(), None))
            else:
                for _ in range(n):
                    f = loop.create_future()
                    futs.append(f)
                    tasks.append(loop.create_task(body(f)))
            await settle(5)  # every task started and parked on its waiter
            elapsed = perf() - t0
            after = _traced()
        finally:
            tracemalloc.stop()
        if impl == "ractor_core":
            for r in refs:
                r.stop()
            await asyncio.gather(*(r.wait() for r in refs))
        else:
            for f in futs:
                f.set_result(None)
            await asyncio.gather(*tasks)
        return {
            "n": n,
            "bytes": after - before,
            "bytes_per": (after - before) / n,
            "name_bytes_per": 0.0,
            "make_s": elapsed,
        }

    return run_on(loop_name, main)


# ------------------------------------------------------------------------------------ driver


@dataclass
class Results:
    machine: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    cast: dict[str, float] = field(default_factory=dict)  # key "impl/loop" -> msgs/s
    call: dict[str, Latency] = field(default_factory=dict)
    spawn: dict[str, float] = field(default_factory=dict)  # actors/s
    rss: dict[str, dict[str, float]] = field(default_factory=dict)
    # key "impl/capacity/loop" (capacity "unbounded" or N) -> msgs/s
    send: dict[str, float] = field(default_factory=dict)
    # key "remote/unnamed", "remote/named", "impl/loop" -> tracemalloc measurement
    heap: dict[str, dict[str, float]] = field(default_factory=dict)
    targets: list[dict[str, Any]] = field(default_factory=list)
    wall_s: float = 0.0


def machine_info() -> dict[str, Any]:
    """The machine, Python, and the versions of the peers measured."""
    return _machine_info("pykka", "uvloop")


def loops() -> list[str]:
    return ["asyncio", "uvloop"] if HAVE_UVLOOP else ["asyncio"]


def bench_loop(loop_name: str, p: Params, res: Results) -> None:
    async def main() -> None:
        # warm-up every path once
        await cast_ractor(2_000)
        await cast_floor_queue(2_000)
        await cast_floor_fast(2_000)
        await spawn_ractor(100)
        for cap in (None, *p.capacities):
            await send_ractor(2_000, cap)
            await send_floor_queue(2_000, cap)

        r = p.repeats
        res.cast[f"ractor_core/{loop_name}"] = await abest_rate(r, lambda: cast_ractor(p.cast_n))
        res.cast[f"floor_queue/{loop_name}"] = await abest_rate(
            r, lambda: cast_floor_queue(p.cast_n)
        )
        res.cast[f"floor_fast/{loop_name}"] = await abest_rate(r, lambda: cast_floor_fast(p.cast_n))
        res.call[f"ractor_core/{loop_name}"] = await call_ractor(p.call_n, p.call_warmup)
        res.call[f"floor_queue/{loop_name}"] = await call_floor_queue(p.call_n, p.call_warmup)
        res.call[f"floor_fast/{loop_name}"] = await call_floor_fast(p.call_n, p.call_warmup)
        res.spawn[f"ractor_core/{loop_name}"] = await abest_rate(r, lambda: spawn_ractor(p.spawn_n))
        res.spawn[f"floor_task/{loop_name}"] = await abest_rate(
            r, lambda: spawn_floor_task(p.spawn_n)
        )
        caps: tuple[int | None, ...] = (None, *p.capacities)
        for cap in caps:
            label = cap_label(cap)
            res.send[f"ractor_core/{label}/{loop_name}"] = await abest_rate(
                r, functools.partial(send_ractor, p.cast_n, cap)
            )
            res.send[f"floor_queue/{label}/{loop_name}"] = await abest_rate(
                r, functools.partial(send_floor_queue, p.cast_n, cap)
            )

    run_on(loop_name, main)


def bench_pykka(p: Params, res: Results) -> None:
    cast_pykka(2_000)
    res.cast["pykka/threads"] = best_rate(p.repeats, lambda: cast_pykka(p.pykka_cast_n))
    res.call["pykka/threads"] = call_pykka(p.pykka_call_n, min(p.call_warmup, 500))
    res.spawn["pykka/threads"] = best_rate(p.repeats, lambda: spawn_pykka(p.pykka_spawn_n))
    pykka.ActorRegistry.stop_all()


def bench_rss(p: Params, res: Results) -> None:
    for loop_name in loops():
        res.rss[f"ractor_core/{loop_name}"] = rss_in_subprocess("ractor_core", loop_name, p.rss_n)
        res.rss[f"floor_task/{loop_name}"] = rss_in_subprocess("floor_task", loop_name, p.rss_n)
    res.rss["pykka/threads"] = rss_in_subprocess("pykka", "threads", p.rss_pykka_n)


def bench_heap(p: Params, res: Results) -> None:
    res.heap["remote/unnamed"] = tm_remote_refs(p.tm_remote_n, named=False)
    res.heap["remote/named"] = tm_remote_refs(p.tm_remote_n, named=True)
    for loop_name in loops():
        res.heap[f"ractor_core/{loop_name}"] = tm_idle("ractor_core", loop_name, p.tm_actor_n)
        res.heap[f"floor_task/{loop_name}"] = tm_idle("floor_task", loop_name, p.tm_actor_n)


def _target(
    res: Results, name: str, loop: str, measured: float, bound: float, op: str, unit: str
) -> None:
    ok = measured >= bound if op == ">=" else measured <= bound
    res.targets.append(
        {
            "target": name,
            "loop": loop,
            "measured": measured,
            "required": f"{op} {bound:g}",
            "unit": unit,
            "pass": ok,
        }
    )


def compute_targets(res: Results) -> None:
    pk_cast = res.cast["pykka/threads"]
    pk_p50 = res.call["pykka/threads"].p50_us
    for ln in loops():
        key = f"ractor_core/{ln}"
        cast_rate = res.cast[key]
        floor_rate = res.cast[f"floor_queue/{ln}"]
        p50 = res.call[key].p50_us
        floor_p50 = res.call[f"floor_queue/{ln}"].p50_us
        kib = res.rss[key]["kib_per_actor"]
        rows = [
            ("cast >= 3x Pykka tell", cast_rate / pk_cast, CAST_VS_PYKKA, ">=", "x"),
            ("cast >= 0.5x asyncio.Queue floor", cast_rate / floor_rate, CAST_VS_FLOOR, ">=", "x"),
            ("call p50 <= 1.5x floor p50", p50 / floor_p50, CALL_P50_VS_FLOOR, "<=", "x"),
            ("call p50 >= 3x faster than Pykka ask", pk_p50 / p50, CALL_VS_PYKKA, ">=", "x"),
            (
                f"<= {KIB_PER_ACTOR:g} KiB per idle actor (RSS, section 4)",
                kib,
                KIB_PER_ACTOR,
                "<=",
                " KiB",
            ),
        ]
        for name, measured, bound, op, unit in rows:
            _target(res, name, ln, measured, bound, op, unit)
    for key, label in (
        ("remote/unnamed", "remote ref"),
        ("remote/named", "remote ref with a name (string included)"),
    ):
        _target(
            res,
            f"<= {BYTES_PER_REMOTE_REF:g} B per {label} (tracemalloc, section 6)",
            "-",
            res.heap[key]["bytes_per"],
            BYTES_PER_REMOTE_REF,
            "<=",
            " B",
        )


# ------------------------------------------------------------------------------------ report


def _fmt_rate(v: float) -> str:
    return f"{v:,.0f}"


def _x(v: float) -> str:
    return f"{v:.2f}x"


def render(res: Results, quick: bool) -> str:
    m = res.machine
    p = res.params
    out: list[str] = []
    out.append(
        f"## ractor_core benchmark ({'quick' if quick else 'full'} run, wall {res.wall_s:.1f} s)\n"
    )
    out.append(
        f"Machine: nproc={m['nproc']} (cpu_count={m['cpu_count']}), CPU: {m['cpu_model']}, "
        f"{m['implementation']} {m['python']}, {m['platform']}; pykka {m['pykka']}, "
        f"uvloop {m['uvloop'] or 'not installed'}.\n"
    )
    out.append(
        f"Sizes: cast N={p['cast_n']:,} (Pykka {p['pykka_cast_n']:,}), call N={p['call_n']:,} "
        f"(Pykka {p['pykka_call_n']:,}) after {p['call_warmup']:,} warm-up, spawn+stop "
        f"N={p['spawn_n']:,} (Pykka {p['pykka_spawn_n']:,}); rates are best of "
        f"{p['repeats']}. Floor = asyncio.Queue consumer task; fast floor = deque + waiter "
        "future. Ratios compare with the floor on the same loop and with Pykka.\n"
    )

    pk_cast = res.cast["pykka/threads"]
    pk_call = res.call["pykka/threads"]
    pk_spawn = res.spawn["pykka/threads"]
    pk_rss = res.rss["pykka/threads"]

    out.append("### 1. cast throughput, 1 producer -> 1 actor (msgs/s, higher is better)\n")
    out.append("| implementation | loop | msgs/s | vs floor (same loop) | vs Pykka tell |")
    out.append("|---|---|---:|---:|---:|")
    for ln in loops():
        floor = res.cast[f"floor_queue/{ln}"]
        for impl, label in (
            ("ractor_core", "ractor_core `cast`"),
            ("floor_queue", "asyncio.Queue floor"),
            ("floor_fast", "deque+future fast floor"),
        ):
            v = res.cast[f"{impl}/{ln}"]
            out.append(f"| {label} | {ln} | {_fmt_rate(v)} | {_x(v / floor)} | {_x(v / pk_cast)} |")
    out.append(f"| Pykka `tell` | threads | {_fmt_rate(pk_cast)} | - | 1.00x |\n")

    out.append("### 2. call round trip, sequential (µs, lower is better)\n")
    out.append(
        "| implementation | loop | p50 µs | p99 µs | mean µs | p50 vs floor "
        "| speed-up vs Pykka ask (p50) |"
    )
    out.append("|---|---|---:|---:|---:|---:|---:|")
    for ln in loops():
        floor_lat = res.call[f"floor_queue/{ln}"]
        for impl, label in (
            ("ractor_core", "ractor_core `await call`"),
            ("floor_queue", "asyncio.Queue + future floor"),
            ("floor_fast", "deque+future fast floor"),
        ):
            lat = res.call[f"{impl}/{ln}"]
            out.append(
                f"| {label} | {ln} | {lat.p50_us:.1f} | {lat.p99_us:.1f} | {lat.mean_us:.1f} "
                f"| {_x(lat.p50_us / floor_lat.p50_us)} | {_x(pk_call.p50_us / lat.p50_us)} |"
            )
    out.append(
        f"| Pykka `ask` | threads | {pk_call.p50_us:.1f} | {pk_call.p99_us:.1f} "
        f"| {pk_call.mean_us:.1f} | - | 1.00x |\n"
    )

    out.append("### 3. spawn + stop, sequential (actors/s, higher is better)\n")
    out.append("| implementation | loop | actors/s | vs task floor | vs Pykka |")
    out.append("|---|---|---:|---:|---:|")
    for ln in loops():
        floor = res.spawn[f"floor_task/{ln}"]
        for impl, label in (
            ("ractor_core", "ractor_core `spawn` + `stop_and_wait`"),
            ("floor_task", "bare task create + finish (floor)"),
        ):
            v = res.spawn[f"{impl}/{ln}"]
            out.append(
                f"| {label} | {ln} | {_fmt_rate(v)} | {_x(v / floor)} | {_x(v / pk_spawn)} |"
            )
    out.append(f"| Pykka `start()` + `stop()` | threads | {_fmt_rate(pk_spawn)} | - | 1.00x |\n")

    out.append(
        "### 4. memory of idle actors (fresh subprocess; VmHWM after - VmRSS before, "
        "lower is better)\n"
    )
    out.append(
        "| implementation | loop | actors measured | KiB / actor | MiB per 10,000 "
        "| vs task floor | spawn time |"
    )
    out.append("|---|---|---:|---:|---:|---:|---:|")
    for ln in loops():
        floor_kib = res.rss[f"floor_task/{ln}"]["kib_per_actor"]
        for impl, label in (
            ("ractor_core", "ractor_core actor"),
            ("floor_task", "bare task on a future (floor)"),
        ):
            r = res.rss[f"{impl}/{ln}"]
            out.append(
                f"| {label} | {ln} | {int(r['n']):,} | {r['kib_per_actor']:.2f} "
                f"| {r['mib_per_10k']:.1f} | {_x(r['kib_per_actor'] / floor_kib)} "
                f"| {r['spawn_s']:.2f} s |"
            )
    scaled = "" if pk_rss["n"] == RSS_PER else f" (measured {int(pk_rss['n']):,}, scaled)"
    out.append(
        f"| Pykka ThreadingActor (1 thread each) | threads | {int(pk_rss['n']):,} "
        f"| {pk_rss['kib_per_actor']:.2f} | {pk_rss['mib_per_10k']:.1f}{scaled} | - "
        f"| {pk_rss['spawn_s']:.2f} s |\n"
    )

    out.append(
        "### 5. bounded mailbox `await send`, 1 producer -> 1 actor (msgs/s, higher is better)\n"
    )
    out.append(
        f"N={p['cast_n']:,} sends then one call that returns once all are handled; best of "
        f"{p['repeats']}. Floor = `await q.put(msg)` into an `asyncio.Queue(maxsize=capacity)` "
        "read by one consumer task (`maxsize=0` for unbounded); the unbounded `cast` row is "
        "section 1's, its floor `put_nowait` into an unbounded `asyncio.Queue`.\n"
    )
    out.append(
        "| implementation | capacity | loop | msgs/s | vs floor (same capacity, same loop) "
        "| vs ractor_core unbounded `cast` |"
    )
    out.append("|---|---:|---|---:|---:|---:|")
    for ln in loops():
        cast = res.cast[f"ractor_core/{ln}"]
        cast_floor = res.cast[f"floor_queue/{ln}"]
        out.append(
            f"| ractor_core `cast` | unbounded | {ln} | {_fmt_rate(cast)} "
            f"| {_x(cast / cast_floor)} | 1.00x |"
        )
        out.append(
            f"| asyncio.Queue `put_nowait` floor | unbounded | {ln} | {_fmt_rate(cast_floor)} "
            f"| 1.00x | {_x(cast_floor / cast)} |"
        )
        for cap in (None, *p["capacities"]):
            label = cap_label(cap)
            floor = res.send[f"floor_queue/{label}/{ln}"]
            for impl, what in (
                ("ractor_core", "ractor_core `await send`"),
                ("floor_queue", f"asyncio.Queue(maxsize={cap or 0}) `await put` floor"),
            ):
                v = res.send[f"{impl}/{label}/{ln}"]
                out.append(
                    f"| {what} | {label} | {ln} | {_fmt_rate(v)} | {_x(v / floor)} "
                    f"| {_x(v / cast)} |"
                )
    out.append("")

    out.append(
        "### 6. Python-heap memory per remote ref and per idle actor (tracemalloc, lower is "
        "better)\n"
    )
    out.append(
        "Bytes allocated through Python's allocators and still live after a gc, over the "
        "window that makes them (tracemalloc; no allocator slack, no page granularity, so "
        "below the RSS of section 4). Remote refs: `node.actor(pid)` on a "
        "`ractor_core.transport.RemoteNode` subclass that transmits nothing; the node's table "
        "holds the refs (handle, ActorId, table entries). Idle actors: `spawn` (or a bare "
        "task on a future, the floor), every task started and parked; a list holds the "
        "refs.\n"
    )
    out.append(
        "| what | loop | measured | bytes each | of which name strings | KiB each "
        "| vs remote ref (no name) | vs task floor | make time (traced) |"
    )
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    remote = res.heap["remote/unnamed"]["bytes_per"]
    for key, label in (
        ("remote/unnamed", "remote ref, `node.actor(pid)`"),
        ("remote/named", 'remote ref, `node.actor(pid, name=f"worker-{pid}")`'),
    ):
        h = res.heap[key]
        names = f"{h['name_bytes_per']:.0f}" if h["name_bytes_per"] else "-"
        out.append(
            f"| {label} | - | {int(h['n']):,} | {h['bytes_per']:.0f} | {names} "
            f"| {h['bytes_per'] / 1024:.2f} | {_x(h['bytes_per'] / remote)} | - "
            f"| {h['make_s']:.2f} s |"
        )
    for ln in loops():
        floor_b = res.heap[f"floor_task/{ln}"]["bytes_per"]
        for impl, label in (
            ("ractor_core", "idle ractor_core actor, `spawn`"),
            ("floor_task", "bare task on a future (floor)"),
        ):
            h = res.heap[f"{impl}/{ln}"]
            out.append(
                f"| {label} | {ln} | {int(h['n']):,} | {h['bytes_per']:.0f} | - "
                f"| {h['bytes_per'] / 1024:.2f} | {_x(h['bytes_per'] / remote)} "
                f"| {_x(h['bytes_per'] / floor_b)} | {h['make_s']:.2f} s |"
            )
    out.append("")

    out.append("### Targets (computed, not asserted)\n")
    out.append("| target | loop | measured | required | result |")
    out.append("|---|---|---:|---:|:---:|")
    for t in res.targets:
        unit = t["unit"]
        measured = f"{t['measured']:.0f}" if unit == " B" else f"{t['measured']:.2f}"
        out.append(
            f"| {t['target']} | {t['loop']} | {measured}{unit} | {t['required']}{unit} "
            f"| {'pass' if t['pass'] else '**miss**'} |"
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (about 20-30 s)")
    ap.add_argument("--json", metavar="OUT", help="also write all results as JSON to OUT")
    ap.add_argument("--rss-child", nargs=3, metavar=("IMPL", "LOOP", "N"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.rss_child:
        impl, loop_name, n = args.rss_child
        print(json.dumps(rss_child(impl, loop_name, int(n))))
        return 0

    p = QUICK if args.quick else FULL
    res = Results(machine=machine_info(), params=asdict(p))
    t0 = perf()
    for ln in loops():
        print(f"[bench] ractor_core / floors on {ln} ...", file=sys.stderr, flush=True)
        bench_loop(ln, p, res)
    print("[bench] pykka ...", file=sys.stderr, flush=True)
    bench_pykka(p, res)
    print("[bench] idle-actor memory (subprocesses) ...", file=sys.stderr, flush=True)
    bench_rss(p, res)
    print("[bench] remote-ref / idle-actor heap (tracemalloc) ...", file=sys.stderr, flush=True)
    bench_heap(p, res)
    compute_targets(res)
    res.wall_s = perf() - t0

    print(render(res, args.quick))
    if args.json:
        doc = asdict(res)
        Path(args.json).write_text(json.dumps(doc, indent=2) + "\n")
        print(f"\n(JSON written to {args.json})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
