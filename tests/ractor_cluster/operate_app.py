"""The app of the operability tests (``--app tests.ractor_cluster.operate_app``).

It runs the test node app's commands (``node_app``), plus: a supervision tree whose every
actor reports its ``post_stop`` on stdout, a ``stop(node)`` hook, a long-running task that
reports its cancellation, node up / down events, and an actor that fails on demand.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ractor_cluster import NodeEventSubscription, NodeServerSessionInformation, SubscribeToEvents
from ractor_cluster._messages import NodeServerMessage
from ractor_core import Actor, ActorRef, spawn, spawn_linked, where_is

from . import node_app
from .node_app import CounterActor, Tally, emit


class Reporting(CounterActor):
    """The test counter, reporting its post_stop."""

    async def post_stop(self, myself: ActorRef[Any], state: Tally) -> None:
        emit({"event": "post_stop", "name": myself.name, "children": len(myself.children)})


class Leaf(Actor[str, None, None]):
    """A child that takes a while to stop (its post_stop awaits)."""

    async def pre_start(self, myself: ActorRef[str], args: None) -> None:
        return None

    async def handle(self, myself: ActorRef[str], message: str, state: None) -> None:
        if message == "fail":
            raise RuntimeError("asked to fail")

    async def post_stop(self, myself: ActorRef[str], state: None) -> None:
        await asyncio.sleep(0.05)
        emit({"event": "post_stop", "name": myself.name, "children": len(myself.children)})


class Supervisor(Actor[str, None, int]):
    """Spawns ``args`` linked leaves (``<name>.<i>``); a leaf of its own can be asked to fail."""

    async def pre_start(self, myself: ActorRef[str], args: int) -> None:
        for i in range(args):
            await spawn_linked(Leaf(), None, myself, name=f"{myself.name}.{i}")
        return None

    async def handle(self, myself: ActorRef[str], message: str, state: None) -> None:
        return None

    async def post_stop(self, myself: ActorRef[str], state: None) -> None:
        emit({"event": "post_stop", "name": myself.name, "children": len(myself.children)})


class UpDown(NodeEventSubscription):
    """Prints node up / down events."""

    def node_up(self, info: NodeServerSessionInformation) -> None:
        peer = info.peer_name.name if info.peer_name is not None else None
        emit({"event": "node_up", "peer": peer})

    def node_down(self, info: NodeServerSessionInformation, reason: str) -> None:
        peer = info.peer_name.name if info.peer_name is not None else None
        emit({"event": "node_down", "peer": peer, "reason": reason})


async def _long_running() -> None:
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        emit({"event": "task_cancelled"})
        raise


async def _extra(node: ActorRef[NodeServerMessage], cmd: dict[str, Any]) -> Any:
    if cmd["op"] == "fail":
        leaf = await spawn(Leaf(), None, name=cmd.get("name", "failing"))
        leaf.cast("fail")
        return True
    return await _execute(node, cmd)


_execute = node_app.execute


async def start(node: ActorRef[NodeServerMessage], name: str) -> None:
    """Spawn the tree and the counter, subscribe, start the long-running task."""
    node_app.execute = _extra  # the shared command loop runs this app's commands too
    node.cast(SubscribeToEvents("test", node_app.Events()))
    node.cast(SubscribeToEvents("updown", UpDown()))
    node_app.NAME.append(name)
    await spawn(Reporting(), None, name=f"counter-{name}")
    top = await spawn(Supervisor(), 1, name="top")
    await spawn_linked(Supervisor(), 2, top, name="mid")
    # no reference kept: the CLI keeps the tasks that start creates alive
    asyncio.get_running_loop().create_task(_long_running())
    asyncio.get_running_loop().create_task(node_app.serve_commands(node))


async def stop(node: ActorRef[NodeServerMessage]) -> None:
    """The stop hook: runs first, while every actor still runs."""
    counter = where_is(f"counter-{node_app.NAME[0]}")
    emit({"event": "app_stop", "counter_alive": counter is not None and counter.is_alive})
