"""A job service on three node processes: a coordinator with a factory, workers on every
node, and one worker node killed with SIGKILL while it holds jobs. Every job still completes.

Run from the repository root (it starts the two other nodes itself)::

    python -m examples.job_service [JOBS]

The coordinator (this process) is a node hosting the factory and two workers; it starts two
more node processes (``ractor-cluster node --app examples.job_service``) with two workers
each. All six workers are one process group, ``renderers``, and the factory's workers are
that group. The coordinator sends every job as a call through the factory, kills one worker
node once it is busy, and waits for every answer: the jobs the dead node held are re-queued
and done by the others. It prints who did what and exits 0 when every job was answered.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from ractor_cluster import GetNodeInfo, NodeServer, NodeServerMessage
from ractor_core import ActorRef, Call, RactorError, pg, spawn
from ractor_core.factory import (
    Factory,
    Job,
    Queuer,
    Worker,
    WorkerContext,
    serve_workers,
    spawn_group_factory,
)
from ractor_derive import U32, Message, cluster_message

GROUP = "renderers"
COOKIE = "job-service"
ROOT = Path(__file__).resolve().parent.parent


@cluster_message
class RenderJobs(Message):
    """The jobs of the render workers."""


class Render(RenderJobs, Call[str]):
    """Render one page (``ms`` of work); the reply names the node that did it."""

    page: U32
    ms: U32


NODE: list[str] = ["?"]  # this process's node name


class Renderer(Worker[int, Render, None]):
    """Does one page at a time."""

    async def pre_start(self, ctx: WorkerContext) -> None:
        return None

    async def handle(self, ctx: WorkerContext, job: Job[int, Render], state: None) -> None:
        await asyncio.sleep(job.msg.ms / 1000)  # the work
        job.msg.reply.send(NODE[0])


async def start(node: ActorRef[NodeServerMessage], name: str) -> None:
    """The app of the worker nodes: two workers in the group."""
    NODE[0] = name
    await serve_workers(GROUP, lambda wid: Renderer(), 2)


def _worker_node(name: str, address: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ractor_cluster", "node", "--name", name, "--cookie", COOKIE,
         "--app", "examples.job_service", "--connect", address, "--log-level", "ERROR"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
    )


async def wait_until(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll ``check()`` every 20 ms until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout}s")
        await asyncio.sleep(0.02)


async def main(jobs: int) -> int:
    NODE[0] = "coordinator"
    server = await spawn(NodeServer(0, COOKIE, "coordinator", "localhost"), None)
    address = (await server.call(GetNodeInfo(), timeout=5)).connection_string
    await serve_workers(GROUP, lambda wid: Renderer(), 2)
    nodes = {name: _worker_node(name, address) for name in ("east", "west")}
    try:
        await wait_until(lambda: len(pg.get_members(GROUP)) == 6, "six workers in the group")
        print(f"coordinator: 6 workers on 3 nodes in group {GROUP!r}; sending {jobs} jobs")
        factory: Factory[int, RenderJobs] = await spawn_group_factory(
            GROUP, int, RenderJobs, routing=Queuer())
        answers: dict[int, str] = {}
        errors: list[str] = []

        async def one(page: int) -> None:
            try:
                answers[page] = await factory.call(page, Render(page=page, ms=25), timeout=60)
            except RactorError as exc:
                errors.append(f"page {page}: {exc}")

        calls = [asyncio.ensure_future(one(page)) for page in range(jobs)]
        await wait_until(lambda: Counter(answers.values())["east"] >= 5, "east busy")
        stats = await factory.stats()
        east = nodes["east"]
        os.kill(east.pid, signal.SIGKILL)
        print(f"coordinator: kill -9 east (pid {east.pid}) with {stats.in_flight} jobs in "
              f"flight in the cluster, {len(answers)} of {jobs} answered so far")
        await asyncio.wait_for(asyncio.gather(*calls), 120)
        stats = await factory.stats()
        print(f"coordinator: {len(answers)} of {jobs} jobs answered, {len(errors)} errors, "
              f"{stats.requeued} re-queued after the kill, {stats.total_discarded} discarded")
        for name, count in sorted(Counter(answers.values()).items()):
            print(f"  {name:12} {count:5} jobs")
        print(f"  workers left: {stats.workers}; mean job time "
              f"{stats.processing_time_mean * 1000:.1f} ms")
        await factory.drain_and_wait(timeout=10)
        ok = len(answers) == jobs and not errors and stats.requeued > 0
        print("every job completed" if ok else "some jobs were lost")
        return 0 if ok else 1
    finally:
        for proc in nodes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in nodes.values():
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        await server.stop_and_wait(timeout=10)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)))
