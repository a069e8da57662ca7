"""Custom transports: the protocol over any asyncio stream pair (here a Unix socket pair)."""

from __future__ import annotations

import asyncio
import socket

import pytest

from ractor_cluster import (
    GetReadyState,
    GetSessions,
    NodeServer,
    NodeServerMessage,
    accept_external,
    as_remote,
    client_connect_external,
    remote_actors,
)
from ractor_core import ActorRef, spawn

from .node_app import Counter, CounterActor, Echo


async def _until(check: object, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def linked_nodes(
    *, refuse_protocol_change: bool = False
) -> tuple[ActorRef[NodeServerMessage], ActorRef[NodeServerMessage]]:
    """Two NodeServers ("left" dials, "right" accepts) over a Unix socket pair; "right"
    hosts ``counter-right``."""
    left = await spawn(NodeServer(0, "cookie", "left", "localhost"), None)
    right = await spawn(NodeServer(0, "cookie", "right", "localhost"), None)
    await spawn(CounterActor(), None, name="counter-right")
    one, two = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    reader1, writer1 = await asyncio.open_unix_connection(sock=one)
    reader2, writer2 = await asyncio.open_unix_connection(sock=two)
    if refuse_protocol_change:

        def refuse(protocol: object) -> None:
            raise NotImplementedError("this transport keeps its protocol")

        for writer in (writer1, writer2):
            writer.transport.set_protocol = refuse  # type: ignore[method-assign]
    client_connect_external(left, reader1, writer1, label="unix-left")
    accept_external(right, reader2, writer2, label="unix-right")
    return left, right


async def test_two_nodes_authenticate_and_talk_over_a_unix_socket_pair() -> None:
    left, right = await linked_nodes()

    async def both_ready() -> bool:
        for node in (left, right):
            sessions = await node.call(GetSessions(), timeout=2)
            if len(sessions) != 1:
                return False
            (info,) = sessions.values()
            if not await info.actor.call(GetReadyState(), timeout=2):
                return False
        return True

    await _until(both_ready)
    sessions = await right.call(GetSessions(), timeout=2)
    (info,) = sessions.values()
    assert info.peer_addr == "unix-right"
    assert info.peer_name is not None and info.peer_name.name == "left@localhost"
    proxies = [r for r in remote_actors("counter-right")]
    assert proxies, "the counter was advertised over the socket pair"
    counter = as_remote(proxies[0], Counter)
    assert await counter.call(Echo(text="over unix"), timeout=2) == "over unix"
    await left.stop_and_wait(timeout=5)
    await right.stop_and_wait(timeout=5)


async def test_killing_a_node_fails_its_pending_remote_calls_at_once() -> None:
    from ractor_core import ReplyDropped

    from .node_app import Slow

    left, right = await linked_nodes()

    async def advertised() -> bool:
        return any(r.id.node_id is not None for r in remote_actors("counter-right"))

    await _until(advertised)
    stand_in = remote_actors("counter-right")[0]
    pending = asyncio.create_task(as_remote(stand_in, Counter).call(Slow(ms=10_000)))
    await asyncio.sleep(0.05)
    left.kill()  # no post_stop anywhere: release() must still fail the call
    with pytest.raises(ReplyDropped):
        await asyncio.wait_for(pending, 2)
    await right.stop_and_wait(timeout=5)


async def test_a_new_actors_spawn_and_join_reach_the_peer_before_its_first_message() -> None:
    from ractor_cluster.protocol import meta_pb2
    from ractor_core import Actor, ActorRef, pg

    from .node_app import Note

    class Worker(Actor[Counter, None, ActorRef[Counter]]):
        async def pre_start(self, myself: ActorRef[Counter], boss: ActorRef[Counter]) -> None:
            pg.join("workers", [myself])
            boss.cast(Note(text="I am up: find me in 'workers'"))

    left = await spawn(NodeServer(0, "cookie", "left", "localhost"), None)
    right = await spawn(NodeServer(0, "cookie", "right", "localhost"), None)
    await spawn(CounterActor(), None, name="boss")
    one, two = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    reader1, writer1 = await asyncio.open_unix_connection(sock=one)
    reader2, writer2 = await asyncio.open_unix_connection(sock=two)
    client_connect_external(left, reader1, writer1)
    accept_external(right, reader2, writer2)

    async def both_sides_see_the_boss() -> bool:
        return len(remote_actors("boss")) == 2

    await _until(both_sides_see_the_boss)
    (info,) = (await left.call(GetSessions(), timeout=2)).values()
    session = info.actor._cell._actor  # type: ignore[attr-defined]  # white box: its frames
    sent: list[str | None] = []
    write = session.out._write

    def spy(data: bytes) -> object:
        pos = 0
        while pos < len(data):
            size = int.from_bytes(data[pos : pos + 8], "big")
            msg = meta_pb2.NetworkMessage.FromString(data[pos + 8 : pos + 8 + size])
            arm = msg.control if msg.WhichOneof("message") == "control" else msg.node
            sent.append(arm.WhichOneof("msg"))
            pos += 8 + size
        return write(data)

    session.out._write = spy
    boss = next(r for r in remote_actors("boss") if r.id.node_id == info.node_id)
    await spawn(Worker(), as_remote(boss, Counter))

    async def three_frames_written() -> bool:
        return len(sent) >= 3

    await _until(three_frames_written)
    assert sent[:3] == ["spawn", "pg_join", "cast"]
    await left.stop_and_wait(timeout=5)
    await right.stop_and_wait(timeout=5)


async def test_streams_whose_transport_keeps_its_protocol_are_read_by_a_task() -> None:
    from .node_app import Echo

    left, right = await linked_nodes(refuse_protocol_change=True)

    async def advertised() -> bool:
        return bool(remote_actors("counter-right"))

    await _until(advertised)
    stand_in = remote_actors("counter-right")[0]
    assert await as_remote(stand_in, Counter).call(Echo(text="by task"), timeout=2) == "by task"
    (info,) = (await left.call(GetSessions(), timeout=2)).values()
    session = info.actor._cell._actor  # type: ignore[attr-defined]  # white box
    assert session.reader_task is not None  # the fallback ran
    await left.stop_and_wait(timeout=5)
    await right.stop_and_wait(timeout=5)
