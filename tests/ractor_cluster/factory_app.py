"""The app of the factory's node tests (``ractor-cluster node --app
tests.ractor_cluster.factory_app``): worker nodes serve workers in a process group, a
coordinator node runs a group factory over them. Commands come as JSON lines on stdin and are
answered as JSON lines carrying the command's ``id`` (as in ``node_app``)."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from typing import Any

from ractor_cluster import GetSessions, NodeServerMessage, client_connect
from ractor_core import ActorRef, Call, RactorError, pg
from ractor_core.factory import (
    DiscardReason,
    Factory,
    Job,
    KeyPersistent,
    Queuer,
    Worker,
    WorkerContext,
    serve_workers,
    spawn_group_factory,
)
from ractor_derive import I64, U32, Message, cluster_message


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
BUSY: list[int] = [0]
DONE: list[int] = []


class Cruncher(Worker[int, CrunchMsg, None]):
    """Sleeps ``ms`` (the work), then answers a Square with n * n."""

    async def pre_start(self, ctx: WorkerContext) -> None:
        return None

    async def handle(self, ctx: WorkerContext, job: Job[int, CrunchMsg], state: None) -> None:
        msg = job.msg
        BUSY[0] += 1
        try:
            await asyncio.sleep(msg.ms / 1000)
        finally:
            BUSY[0] -= 1
        if isinstance(msg, Square):
            msg.reply.send(msg.n * msg.n)
        DONE.append(msg.n)


class Coordinator:
    """The factory of the coordinator node and what its jobs came to."""

    def __init__(self) -> None:
        self.factory: Factory[int, Crunching] | None = None
        self.results: dict[int, int] = {}
        self.errors: list[str] = []
        self.discarded: list[tuple[int, str]] = []

    def on_discard(self, job: Job[int, Crunching], why: DiscardReason) -> None:
        self.discarded.append((job.key, why.value))

    async def one(self, n: int, ms: int) -> None:
        assert self.factory is not None
        try:
            self.results[n] = await self.factory.call(n, Square(n=n, ms=ms), timeout=60)
        except RactorError as exc:
            self.errors.append(f"{n}: {type(exc).__name__}: {exc}")


COORD = Coordinator()
_tasks: list[asyncio.Task[Any]] = []


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def execute(node: ActorRef[NodeServerMessage], cmd: dict[str, Any]) -> Any:
    op = cmd["op"]
    if op == "connect":
        await client_connect(node, cmd["address"])
        return True
    if op == "sessions":
        sessions = await node.call(GetSessions(), timeout=2)
        return sorted(i.peer_name.name for i in sessions.values() if i.peer_name is not None)
    if op == "serve":  # {group, count}: workers on this node
        refs = await serve_workers(cmd["group"], lambda wid: Cruncher(), cmd["count"])
        return len(refs)
    if op == "members":  # {group}: [local, remote] member counts
        members = pg.get_members(cmd["group"])
        return [sum(m.id.is_local for m in members), sum(not m.id.is_local for m in members)]
    if op == "factory":  # {group, routing}
        routing = KeyPersistent() if cmd.get("routing") == "key" else Queuer()
        COORD.factory = await spawn_group_factory(cmd["group"], int, Crunching, routing=routing,
                                                  discard_handler=COORD.on_discard)
        return True
    if op == "calls":  # {n, ms}: n concurrent Square calls through the factory (background)
        loop = asyncio.get_running_loop()
        _tasks.extend(loop.create_task(COORD.one(i, cmd["ms"])) for i in range(cmd["n"]))
        return True
    if op == "casts":  # {n, ms, keys}: n Crunch jobs over `keys` keys
        assert COORD.factory is not None
        for i in range(cmd["n"]):
            COORD.factory.dispatch(i % cmd["keys"], Crunch(n=i, ms=cmd["ms"]))
        return True
    if op == "report":
        assert COORD.factory is not None
        stats = await COORD.factory.stats()
        return {"results": len(COORD.results),
                "correct": all(v == k * k for k, v in COORD.results.items()),
                "errors": COORD.errors[:5], "discarded": COORD.discarded,
                "completed": stats.completed, "failed": stats.failed, "requeued": stats.requeued,
                "in_flight": stats.in_flight, "queued": stats.queued, "workers": stats.workers}
    if op == "busy":  # jobs running on this node's workers
        return BUSY[0]
    if op == "done":
        return len(DONE)
    raise ValueError(f"unknown op {op!r}")


async def serve_commands(node: ActorRef[NodeServerMessage]) -> None:
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)

    threading.Thread(target=read, daemon=True).start()
    while True:
        cmd = json.loads(await lines.get())
        try:
            emit({"id": cmd["id"], "ok": True, "result": await execute(node, cmd)})
        except (RactorError, LookupError, ValueError, AssertionError) as exc:
            emit({"id": cmd["id"], "ok": False, "error": type(exc).__name__, "text": str(exc)})


async def start(node: ActorRef[NodeServerMessage], name: str) -> None:
    _tasks.append(asyncio.get_running_loop().create_task(serve_commands(node)))
