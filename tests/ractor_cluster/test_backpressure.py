"""Messages from another node into a full bounded mailbox: held in order, never dropped, and
pushed back on the sender over TCP (two NodeServers on loopback in one process)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ractor_cluster import GetNodeInfo, GetSessions, NodeServer, as_remote, client_connect
from ractor_cluster import remote_actors as _remote_actors
from ractor_core import Actor, ActorRef, spawn, where_is

from .node_app import Counter, CounterActor, Echo

CAPACITY = 4


@dataclass
class Inbox:
    """What the sink saw, and the gate that holds its handler."""

    gate: asyncio.Event = field(default_factory=asyncio.Event)
    seen: list[str] = field(default_factory=list)


class Sink(Actor[str, Inbox, Inbox]):
    """Takes plain strings (a remotable message type); each waits for the gate."""

    async def pre_start(self, myself: ActorRef[str], args: Inbox) -> Inbox:
        return args

    async def handle(self, myself: ActorRef[str], message: str, state: Inbox) -> None:
        await state.gate.wait()
        state.seen.append(message)


async def _until(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def _pair(inbox: Inbox) -> tuple[ActorRef[Any], ActorRef[Any], ActorRef[str], Any]:
    """"west" hosts the bounded sink and a counter; "east" dials it. Returns both nodes,
    east's ref to the sink, and west's session object (white box)."""
    west = await spawn(NodeServer(0, "cookie", "west", "localhost"), None)
    east = await spawn(NodeServer(0, "cookie", "east", "localhost"), None)
    await spawn(Sink(), inbox, name="sink", capacity=CAPACITY)
    await spawn(CounterActor(), None, name="counter")
    info = await west.call(GetNodeInfo(), timeout=2)
    await client_connect(east, info.connection_string, timeout=5)

    async def advertised() -> bool:
        return bool(_remote_actors("sink")) and bool(_remote_actors("counter"))

    await _until(advertised)
    (session_info,) = (await west.call(GetSessions(), timeout=2)).values()
    session = session_info.actor._cell._actor  # type: ignore[attr-defined]  # white box
    # both nodes live in this process, so each advertises "sink" to the other: take east's
    # ref (the one not in west's session table), whose messages west's session delivers
    remote_sink = as_remote(
        next(r for r in _remote_actors("sink") if r.id.node_id != session_info.node_id), str
    )
    return west, east, remote_sink, session


async def test_casts_into_a_full_remote_mailbox_are_held_in_order_and_all_delivered() -> None:
    inbox = Inbox()
    west, east, sink, session = await _pair(inbox)
    total = 2_000
    for i in range(total):
        sink.cast(f"m{i}")

    async def held() -> bool:
        return bool(session.parked_count == total - CAPACITY - 1)

    await _until(held)  # one in the handler, CAPACITY queued, the rest held by the session
    inbox.gate.set()

    async def all_seen() -> bool:
        return len(inbox.seen) == total

    await _until(all_seen)
    assert inbox.seen == [f"m{i}" for i in range(total)]
    assert session.parked_count == 0 and not session.parked
    await east.stop_and_wait(timeout=5)
    await west.stop_and_wait(timeout=5)


async def test_calls_to_other_actors_are_not_held_behind_a_full_mailbox() -> None:
    inbox = Inbox()
    west, east, sink, session = await _pair(inbox)
    for i in range(200):
        sink.cast(f"m{i}")
    counter = as_remote(
        next(r for r in _remote_actors("counter") if r.id.node_id == sink.id.node_id), Counter
    )

    async def holding() -> bool:
        return bool(session.parked_count > 0)

    await _until(holding)
    # the sink is stuck, its messages are held, and the same connection still serves calls
    assert await counter.call(Echo(text="through"), timeout=2) == "through"
    assert inbox.seen == []
    inbox.gate.set()

    async def all_seen() -> bool:
        return len(inbox.seen) == 200

    await _until(all_seen)
    assert inbox.seen == [f"m{i}" for i in range(200)]
    await east.stop_and_wait(timeout=5)
    await west.stop_and_wait(timeout=5)


async def test_past_the_budget_the_session_stops_reading_and_resumes_when_there_is_room() -> None:
    inbox = Inbox()
    west, east, sink, session = await _pair(inbox)
    total = 6_000  # more than the 4,096 messages a session holds before it stops reading
    for i in range(total):
        sink.cast(f"m{i}")

    async def paused() -> bool:
        return bool(session.park_paused)

    await _until(paused)
    assert session.parked_count <= total
    inbox.gate.set()

    async def all_seen() -> bool:
        return len(inbox.seen) == total

    await _until(all_seen, timeout=30)
    assert inbox.seen == [f"m{i}" for i in range(total)]
    assert not session.park_paused
    await east.stop_and_wait(timeout=5)
    await west.stop_and_wait(timeout=5)


async def test_messages_held_for_an_actor_that_stops_go_nowhere_and_free_the_budget() -> None:
    inbox = Inbox()
    west, east, sink, session = await _pair(inbox)
    for i in range(100):
        sink.cast(f"m{i}")

    async def holding() -> bool:
        return bool(session.parked_count > 0)

    await _until(holding)
    target = where_is("sink")
    assert target is not None
    target.kill()

    async def released() -> bool:
        return bool(session.parked_count == 0 and not session.parked)

    await _until(released)
    await east.stop_and_wait(timeout=5)
    await west.stop_and_wait(timeout=5)


async def test_held_messages_are_still_delivered_after_the_sender_disconnects() -> None:
    inbox = Inbox()
    west, east, sink, session = await _pair(inbox)
    for i in range(100):
        sink.cast(f"m{i}")

    async def holding() -> bool:
        return bool(session.parked_count > 0)

    await _until(holding)
    await east.stop_and_wait(timeout=5)  # the peer goes: what it sent was received
    inbox.gate.set()

    async def all_seen() -> bool:
        return len(inbox.seen) == 100

    await _until(all_seen)
    assert inbox.seen == [f"m{i}" for i in range(100)]
    await west.stop_and_wait(timeout=5)


@dataclass
class Relay:
    """What the calling sink needs: the counter to call, and how many it handled."""

    counter: ActorRef[Counter] | None = None
    handled: int = 0


class CallingSink(Actor[str, Relay, Relay]):
    """Each message makes a call back over the same connection before the next is taken."""

    async def pre_start(self, myself: ActorRef[str], args: Relay) -> Relay:
        return args

    async def handle(self, myself: ActorRef[str], message: str, state: Relay) -> None:
        assert state.counter is not None
        assert await state.counter.call(Echo(text=message), timeout=10) == message
        state.handled += 1


async def test_an_actor_with_a_full_mailbox_that_calls_the_sender_does_not_deadlock() -> None:
    # past 4,096 held messages a session stops reading, but not while its own node waits
    # for a reply on it: the caller here is the very actor whose mailbox is full
    relay = Relay()
    west = await spawn(NodeServer(0, "cookie", "west", "localhost"), None)
    east = await spawn(NodeServer(0, "cookie", "east", "localhost"), None)
    await spawn(CallingSink(), relay, name="caller", capacity=4)
    await spawn(CounterActor(), None, name="counter")
    info = await west.call(GetNodeInfo(), timeout=2)
    await client_connect(east, info.connection_string, timeout=5)

    async def advertised() -> bool:
        return len(_remote_actors("caller")) == 2 and len(_remote_actors("counter")) == 2

    await _until(advertised)
    (session_info,) = (await west.call(GetSessions(), timeout=2)).values()
    relay.counter = as_remote(
        next(r for r in _remote_actors("counter") if r.id.node_id == session_info.node_id),
        Counter,
    )
    caller = as_remote(
        next(r for r in _remote_actors("caller") if r.id.node_id != session_info.node_id), str
    )
    total = 6_000
    for i in range(total):
        caller.cast(f"m{i}")

    async def all_handled() -> bool:
        return relay.handled == total

    await _until(all_handled, timeout=120)
    await east.stop_and_wait(timeout=5)
    await west.stop_and_wait(timeout=5)
