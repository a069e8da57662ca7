#!/usr/bin/env python3
"""Benchmark ``ractor_core.factory``: dispatch through a factory against a direct cast and a
hand-written round robin over a process group, in this process and with workers on two node
processes.

Usage::

    python benchmarks/bench_factory.py [--quick] [--json OUT] [--no-remote]

In this process (4 workers that count their messages):

1. direct cast: N casts to one actor, then one call that returns once it has them all;
2. round robin over pg: N casts spread over the members of a pg group by hand
   (``members[i % n].cast``), then one call per member;
3. factory: N ``dispatch`` es to a factory of 4 workers (queuer, round robin, key-persistent;
   one job in flight per worker, and 16), then ``drain_and_wait``, which returns once every
   job is acknowledged;
4. call round trip: a direct ``call`` against ``factory.call`` (p50, sequential).

With two node processes (``ractor-cluster node --app bench_factory``, each hosting 2 workers
in a pg group and 2 plain counting actors in another), this process is the coordinator node:
the same cast/round-robin/factory comparisons over the wire.

Per-job overhead is (factory time - direct time) / N in µs, against the direct cast and
against the round robin. Ratios, never pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

_HERE = Path(__file__).resolve().parent
_ROOT = _HERE.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from ractor_core import Actor, ActorRef, Call, pg, spawn  # noqa: E402
from ractor_core.factory import (  # noqa: E402
    Factory,
    Job,
    KeyPersistent,
    Queuer,
    RoundRobin,
    Routing,
    Worker,
    WorkerContext,
    serve_workers,
    spawn_factory,
    spawn_group_factory,
)
from ractor_derive import I64, Message, cluster_message  # noqa: E402

WORKERS = 4
COOKIE = "bench-factory"


@cluster_message
class Bench(Message):
    """Messages of the counting actors and workers."""


class Tick(Bench):
    n: I64


class Count(Bench, Call[I64]):
    pass


BenchMsg = Tick | Count
COUNTED = [0]


class Counter(Actor[BenchMsg, list[int], None]):
    """Counts Ticks; Count answers how many it got."""

    async def pre_start(self, myself: ActorRef[BenchMsg], args: None) -> list[int]:
        return [0]

    async def handle(self, myself: ActorRef[BenchMsg], message: BenchMsg,
                     state: list[int]) -> None:
        if type(message) is Tick:
            state[0] += 1
        elif isinstance(message, Count):
            message.reply.send(state[0])


class Ticker(Worker[int, BenchMsg, None]):
    """A worker that counts its jobs (process-wide) and answers Count."""

    async def pre_start(self, ctx: WorkerContext) -> None:
        return None

    async def handle(self, ctx: WorkerContext, job: Job[int, BenchMsg], state: None) -> None:
        msg = job.msg
        COUNTED[0] += 1
        if isinstance(msg, Count):
            msg.reply.send(COUNTED[0])


# ------------------------------------------------------------------------------- node app


async def start(node: Any, name: str) -> None:
    """The node app: 2 workers in group "workers", 2 counters in group "sinks"."""
    await serve_workers("workers", lambda wid: Ticker(), 2)
    pg.join("sinks", [await spawn(Counter(), None) for _ in range(2)])


# ------------------------------------------------------------------------------- timing


async def best(repeats: int, run: Callable[[], Awaitable[float]]) -> float:
    """The best (shortest) of ``repeats`` timed runs, in seconds."""
    return min([await run() for _ in range(repeats)])


async def direct_cast(n: int) -> float:
    ref = await spawn(Counter(), None)
    started = time.perf_counter()
    for i in range(n):
        ref.cast(Tick(n=i))
    assert await ref.call(Count(), timeout=60) == n
    took = time.perf_counter() - started
    await ref.stop_and_wait(timeout=5)
    return took


async def round_robin_pg(n: int, group: str, sync: bool = True) -> float:
    members = [m for m in pg.get_members(group)]
    before = [await m.call(Count(), timeout=60) for m in members] if sync else []
    started = time.perf_counter()
    k = len(members)
    for i in range(n):
        members[i % k].cast(Tick(n=i))
    after = [await m.call(Count(), timeout=60) for m in members]
    took = time.perf_counter() - started
    assert sum(after) - sum(before) == n
    return took


async def through_factory(factory: Factory[int, BenchMsg], n: int) -> float:
    started = time.perf_counter()
    for i in range(n):
        factory.dispatch(i, Tick(n=i))
    await factory.drain_and_wait(timeout=300)
    return time.perf_counter() - started


async def local_factory(n: int, routing: Routing, window: int) -> float:
    factory = await spawn_factory(lambda wid: Ticker(), workers=WORKERS, routing=routing,
                                  in_flight_per_worker=window)
    return await through_factory(factory, n)


async def call_p50(call: Callable[[], Awaitable[Any]], n: int) -> float:
    samples = []
    for _ in range(n):
        started = time.perf_counter_ns()
        await call()
        samples.append(time.perf_counter_ns() - started)
    return statistics.median(samples) / 1000


# ------------------------------------------------------------------------------- remote


def _node(name: str, address: str) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "ractor_cluster", "node", "--name", name, "--cookie", COOKIE,
           "--app", "bench_factory", "--connect", address, "--log-level", "WARNING"]
    env = {**os.environ, "PYTHONPATH": f"{_HERE}{os.pathsep}{_ROOT}"}
    return subprocess.Popen(cmd, cwd=_HERE, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


async def remote_rows(n: int, repeats: int) -> list[tuple[str, float]]:
    from ractor_cluster import GetNodeInfo, NodeServer

    node = await spawn(NodeServer(0, COOKIE, "coordinator", "localhost"), None)
    address = (await node.call(GetNodeInfo(), timeout=5)).connection_string
    procs = [_node(f"w{i}", address) for i in (1, 2)]
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while len(pg.get_members("workers")) < 4 or len(pg.get_members("sinks")) < 4:
            if loop.time() > deadline or any(p.poll() is not None for p in procs):
                raise RuntimeError("the worker nodes did not come up")
            await asyncio.sleep(0.05)
        rows = [("remote round robin over pg (4 actors, 2 nodes)",
                 await best(repeats, lambda: round_robin_pg(n, "sinks")))]
        for label, routing, window in (
            ("remote factory, queuer, 1 in flight per worker", Queuer(), 1),
            ("remote factory, queuer, 32 in flight per worker", Queuer(), 32),
            ("remote factory, round robin, 32 in flight", RoundRobin(), 32),
        ):
            async def run(routing: Routing = routing, window: int = window) -> float:
                factory = await spawn_group_factory("workers", int, Bench, routing=routing,
                                                    in_flight_per_worker=window)
                return await through_factory(factory, n)

            rows.append((label, await best(repeats, run)))
        return rows
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        await node.stop_and_wait(timeout=10)


# ------------------------------------------------------------------------------- main


def _table(rows: list[tuple[str, float]], n: int, base: float, rr: float) -> list[str]:
    out = ["| scenario | jobs/s | µs/job | vs direct cast | vs round robin | overhead µs/job "
           "vs rr |", "|---|---:|---:|---:|---:|---:|"]
    for label, took in rows:
        out.append(f"| {label} | {n / took:,.0f} | {took / n * 1e6:.2f} | {base / took:.2f}x | "
                   f"{rr / took:.2f}x | {(took - rr) / n * 1e6:+.2f} |")
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    n = 20_000 if args.quick else 100_000
    rn = 5_000 if args.quick else 20_000
    repeats = 2 if args.quick else 3
    result: dict[str, Any] = {"n": n, "remote_n": rn}

    local: list[tuple[str, float]] = []
    base = await best(repeats, lambda: direct_cast(n))
    local.append(("direct cast (1 actor)", base))
    counters = [await spawn(Counter(), None) for _ in range(WORKERS)]
    pg.join("local-sinks", counters)
    rr = await best(repeats, lambda: round_robin_pg(n, "local-sinks"))
    local.append((f"round robin over pg ({WORKERS} actors)", rr))
    for label, routing, window in (
        ("factory, queuer", Queuer(), 1),
        ("factory, queuer, 16 in flight per worker", Queuer(), 16),
        ("factory, round robin", RoundRobin(), 1),
        ("factory, key-persistent", KeyPersistent(), 1),
    ):
        local.append((label, await best(
            repeats, lambda r=routing, w=window: local_factory(n, r, w))))
    result["local"] = local
    lines = [f"In this process, N = {n:,} jobs (best of {repeats}):", "",
             *_table(local, n, base, rr)]

    factory = await spawn_factory(lambda wid: Ticker(), workers=WORKERS)
    direct = counters[0]
    calls = 2_000 if args.quick else 10_000
    p50_direct = await call_p50(lambda: direct.call(Count(), timeout=5), calls)
    p50_factory = await call_p50(lambda: factory.call(0, Count(), timeout=5), calls)
    await factory.stop_and_wait(timeout=5)
    result["call_p50_us"] = {"direct": p50_direct, "factory": p50_factory}
    lines += ["", f"Call round trip p50: direct {p50_direct:.1f} µs, through the factory "
              f"{p50_factory:.1f} µs ({p50_factory / p50_direct:.2f}x)."]
    for ref in counters:
        await ref.stop_and_wait(timeout=5)

    if not args.no_remote:
        remote = await remote_rows(rn, repeats)
        result["remote"] = remote
        rr_remote = remote[0][1]
        lines += ["", f"Workers on two node processes, N = {rn:,} jobs (best of {repeats}; "
                  "'vs direct cast' is against the local direct cast):", "",
                  *_table(remote, rn, base * rn / n, rr_remote)]
    print("\n".join(lines))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller runs")
    parser.add_argument("--no-remote", action="store_true", help="skip the node processes")
    parser.add_argument("--json", help="write the results as JSON to this file")
    args = parser.parse_args()
    try:
        import uvloop

        runner: Callable[[Any], Any] = uvloop.run
        loop_name = "uvloop"
    except ImportError:
        runner = asyncio.run
        loop_name = "asyncio"
    print(f"loop: {loop_name}; python {sys.version.split()[0]}; {os.cpu_count()} CPUs\n")
    result = runner(main_async(args))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
