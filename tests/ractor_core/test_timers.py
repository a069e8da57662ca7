"""Timers: delayed and periodic messages, delayed stop and kill."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

import pytest

from ractor_core import (
    Actor,
    ActorRef,
    ActorTerminated,
    Call,
    SupervisionEvent,
    Timer,
    spawn,
    spawn_linked,
)

TICK = 0.01


class Seen(Call[list[Any]]):
    """Answered with every message handled so far."""


class InboxOf(Call[asyncio.Queue[Any]]):
    """Answered with the actor's inbox queue, so a test can await deliveries."""


class Events(Call[list[SupervisionEvent]]):
    """Answered with every supervision event seen so far."""


@dataclass
class Box:
    """What a Recorder saw; ``inbox`` gets each message as it is handled."""

    inbox: asyncio.Queue[Any]
    messages: list[Any] = field(default_factory=list)
    events: list[SupervisionEvent] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


class Recorder(Actor[Any, Box, "list[str] | None"]):
    """Records messages and supervision events; logs post_stop into the list it is given."""

    async def pre_start(self, myself: ActorRef[Any], args: list[str] | None) -> Box:
        return Box(inbox=asyncio.Queue(), log=args if args is not None else [])

    async def handle(self, myself: ActorRef[Any], message: Any, state: Box) -> None:
        if isinstance(message, InboxOf):
            message.reply.send(state.inbox)
        elif isinstance(message, Seen):
            message.reply.send(list(state.messages))
        elif isinstance(message, Events):
            message.reply.send(list(state.events))
        else:
            state.messages.append(message)
            state.inbox.put_nowait(message)

    async def handle_supervisor_evt(
        self, myself: ActorRef[Any], event: SupervisionEvent, state: Box
    ) -> None:
        state.events.append(event)

    async def post_stop(self, myself: ActorRef[Any], state: Box) -> None:
        state.log.append("post_stop")


async def probe(log: list[str] | None = None) -> tuple[ActorRef[Any], asyncio.Queue[Any]]:
    ref = await spawn(Recorder(), log)
    return ref, await ref.call(InboxOf(), timeout=1)


async def next_message(inbox: asyncio.Queue[Any]) -> Any:
    return await asyncio.wait_for(inbox.get(), 1)


async def terminated(supervisor: ActorRef[Any], child: ActorRef[Any]) -> ActorTerminated:
    events = await supervisor.call(Events(), timeout=1)
    ends = [e for e in events if isinstance(e, ActorTerminated) and e.actor == child]
    assert len(ends) == 1, events
    return ends[0]


# ---------------------------------------------------------------------- send_after


async def test_send_after_delivers_the_message_once_after_the_delay() -> None:
    ref, inbox = await probe()
    loop = asyncio.get_running_loop()
    start = loop.time()
    timer = ref.send_after(TICK, lambda: "hello")
    assert timer.active
    assert await next_message(inbox) == "hello"
    assert loop.time() - start >= TICK - 0.002  # the loop may run a timer a hair early
    await asyncio.sleep(3 * TICK)
    assert await ref.call(Seen(), timeout=1) == ["hello"]
    assert not timer.active
    assert timer.fired == 1


async def test_send_after_builds_the_message_when_it_fires() -> None:
    ref, inbox = await probe()
    built: list[str] = []

    def factory() -> str:
        built.append("built")
        return "late"

    ref.send_after(TICK, factory)
    assert built == []
    assert await next_message(inbox) == "late"
    assert built == ["built"]


async def test_cancelled_send_after_is_never_delivered() -> None:
    ref, _ = await probe()
    timer = ref.send_after(TICK, lambda: "never")
    timer.cancel()
    assert not timer.active
    await asyncio.sleep(3 * TICK)
    assert await ref.call(Seen(), timeout=1) == []
    assert timer.fired == 0
    timer.cancel()  # cancelling twice is harmless


async def test_send_after_to_an_actor_that_stopped_meanwhile_is_dropped() -> None:
    ref, _ = await probe()
    built: list[str] = []

    def factory() -> str:
        built.append("built")
        return "late"

    timer = ref.send_after(TICK, factory)
    await ref.stop_and_wait(timeout=1)
    await asyncio.sleep(3 * TICK)
    assert built == []
    assert not timer.active


# ---------------------------------------------------------------------- send_interval


async def test_send_interval_delivers_repeatedly_until_cancelled() -> None:
    ref, inbox = await probe()
    counter = itertools.count()
    timer = ref.send_interval(TICK, lambda: f"tick {next(counter)}")
    got = [await next_message(inbox) for _ in range(3)]
    assert got == ["tick 0", "tick 1", "tick 2"]
    assert timer.active
    timer.cancel()
    assert not timer.active
    delivered = await ref.call(Seen(), timeout=1)
    await asyncio.sleep(3 * TICK)
    assert await ref.call(Seen(), timeout=1) == delivered
    assert len(delivered) == timer.fired


async def test_send_interval_stops_when_the_actor_stops() -> None:
    ref, inbox = await probe()
    built: list[int] = []

    def factory() -> int:
        built.append(1)
        return len(built)

    timer = ref.send_interval(TICK, factory)
    assert await next_message(inbox) == 1
    await ref.stop_and_wait(timeout=1)
    count = len(built)
    # the next period finds the actor stopped, and the timer ends for good
    await asyncio.sleep(3 * TICK)
    assert not timer.active
    assert len(built) == count


async def test_send_interval_stops_when_the_actor_is_killed() -> None:
    ref, inbox = await probe()
    timer = ref.send_interval(TICK, lambda: "tick")
    await next_message(inbox)
    await ref.kill_and_wait(timeout=1)
    await asyncio.sleep(3 * TICK)
    assert not timer.active


async def test_send_interval_cancelled_by_its_own_message_factory_stops() -> None:
    ref, inbox = await probe()
    counter = itertools.count()
    timer: Timer | None = None

    def factory() -> int:
        n = next(counter)
        if n == 1:
            assert timer is not None
            timer.cancel()  # the last tick: no further firing should happen
        return n

    timer = ref.send_interval(TICK, factory)
    assert await next_message(inbox) == 0
    assert await next_message(inbox) == 1
    try:
        assert not timer.active
        await asyncio.sleep(3 * TICK)
        assert await ref.call(Seen(), timeout=1) == [0, 1]
    finally:
        timer.cancel()


# ---------------------------------------------------------------------- exit_after / kill_after


async def test_exit_after_stops_the_actor_gracefully_with_an_exit_reason() -> None:
    supervisor, _ = await probe()
    log: list[str] = []
    child = await spawn_linked(Recorder(), log, supervisor)
    timer = child.exit_after(0.02)
    assert child.is_alive
    await child.wait(timeout=1)
    end = await terminated(supervisor, child)
    assert end.reason == "Exit after 20ms"
    assert log == ["post_stop"]
    assert not timer.active
    assert supervisor.is_alive


async def test_cancelled_exit_after_leaves_the_actor_running() -> None:
    ref, _ = await probe()
    timer = ref.exit_after(TICK)
    timer.cancel()
    await asyncio.sleep(3 * TICK)
    assert ref.is_alive
    assert await ref.call(Seen(), timeout=1) == []


async def test_kill_after_kills_the_actor_without_post_stop() -> None:
    supervisor, _ = await probe()
    log: list[str] = []
    child = await spawn_linked(Recorder(), log, supervisor)
    child.kill_after(TICK)
    await child.wait(timeout=1)
    end = await terminated(supervisor, child)
    assert end.reason == "killed"
    assert log == []


async def test_cancelled_kill_after_leaves_the_actor_running() -> None:
    ref, _ = await probe()
    ref.kill_after(TICK).cancel()
    await asyncio.sleep(3 * TICK)
    assert ref.is_alive


# ---------------------------------------------------------------------- delays


@pytest.mark.parametrize("bad", [-0.001, -1.0])
async def test_negative_delays_are_refused(bad: float) -> None:
    ref, _ = await probe()
    with pytest.raises(ValueError):
        ref.send_after(bad, lambda: "x")
    with pytest.raises(ValueError):
        ref.exit_after(bad)
    with pytest.raises(ValueError):
        ref.kill_after(bad)


@pytest.mark.parametrize("bad", [0.0, -0.5])
async def test_send_interval_refuses_a_period_that_is_not_positive(bad: float) -> None:
    ref, _ = await probe()
    with pytest.raises(ValueError):
        ref.send_interval(bad, lambda: "x")
