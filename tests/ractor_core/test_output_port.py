"""Output ports: values published to subscribed actors, each through its own converter."""

from __future__ import annotations

from typing import Any

from ractor_core import Actor, ActorRef, Call, OutputPort, spawn


class Seen(Call[list[Any]]):
    """Answered with every message handled so far."""


class Recorder(Actor[Any, list[Any], None]):
    """Records every message it handles."""

    async def pre_start(self, myself: ActorRef[Any], args: None) -> list[Any]:
        return []

    async def handle(self, myself: ActorRef[Any], message: Any, state: list[Any]) -> None:
        if isinstance(message, Seen):
            message.reply.send(list(state))
        else:
            state.append(message)


async def receiver() -> ActorRef[Any]:
    return await spawn(Recorder(), None)


async def seen(ref: ActorRef[Any]) -> list[Any]:
    """What ``ref`` has handled; the call is queued behind every earlier cast."""
    return await ref.call(Seen(), timeout=1)


async def test_subscriber_receives_each_value_through_its_converter_in_order() -> None:
    port: OutputPort[int] = OutputPort()
    ref = await receiver()
    sub = port.subscribe(ref, lambda v: ("got", v))
    assert sub.active
    assert sub.receiver is ref
    assert port.subscriber_count == 1
    for v in (1, 2, 3):
        port.send(v)
    assert await seen(ref) == [("got", 1), ("got", 2), ("got", 3)]


async def test_sending_without_subscribers_does_nothing() -> None:
    port: OutputPort[int] = OutputPort()
    assert port.subscriber_count == 0
    port.send(1)
    ref = await receiver()
    port.subscribe(ref, lambda v: v)
    port.send(2)
    assert await seen(ref) == [2]  # values sent before subscribing are not replayed


async def test_converter_returning_none_skips_the_value() -> None:
    port: OutputPort[int] = OutputPort()
    ref = await receiver()
    sub = port.subscribe(ref, lambda v: v if v % 2 == 0 else None)
    for v in range(1, 6):
        port.send(v)
    assert await seen(ref) == [2, 4]
    assert sub.active


async def test_falsy_converted_values_are_still_delivered() -> None:
    port: OutputPort[int] = OutputPort()
    ref = await receiver()
    port.subscribe(ref, lambda v: v - 1)
    port.send(1)
    port.send(2)
    assert await seen(ref) == [0, 1]


async def test_each_subscriber_gets_its_own_conversion() -> None:
    port: OutputPort[int] = OutputPort()
    doubles, texts, odds = await receiver(), await receiver(), await receiver()
    port.subscribe(doubles, lambda v: v * 2)
    port.subscribe(texts, str)
    port.subscribe(odds, lambda v: v if v % 2 else None)
    assert port.subscriber_count == 3
    for v in (1, 2, 3):
        port.send(v)
    assert await seen(doubles) == [2, 4, 6]
    assert await seen(texts) == ["1", "2", "3"]
    assert await seen(odds) == [1, 3]


async def test_unsubscribed_receiver_gets_nothing_more() -> None:
    port: OutputPort[int] = OutputPort()
    kept, dropped = await receiver(), await receiver()
    port.subscribe(kept, lambda v: v)
    sub = port.subscribe(dropped, lambda v: v)
    port.send(1)
    sub.unsubscribe()
    assert not sub.active
    assert port.subscriber_count == 1
    port.send(2)
    assert await seen(dropped) == [1]
    assert await seen(kept) == [1, 2]
    sub.unsubscribe()  # a second unsubscribe is harmless
    assert port.subscriber_count == 1


async def test_subscription_ends_when_its_receiver_stops() -> None:
    port: OutputPort[int] = OutputPort()
    alive, gone = await receiver(), await receiver()
    keep = port.subscribe(alive, lambda v: v)
    end = port.subscribe(gone, lambda v: v)
    port.send(1)
    await gone.stop_and_wait(timeout=1)
    port.send(2)  # the failed cast to the stopped receiver ends its subscription
    assert port.subscriber_count == 1
    assert not end.active
    assert keep.active
    port.send(3)
    assert await seen(alive) == [1, 2, 3]


async def test_subscription_ends_when_its_receiver_is_killed() -> None:
    port: OutputPort[int] = OutputPort()
    gone = await receiver()
    sub = port.subscribe(gone, lambda v: v)
    await gone.kill_and_wait(timeout=1)
    port.send(1)
    assert port.subscriber_count == 0
    assert not sub.active


async def test_subscription_ends_when_its_receiver_drains() -> None:
    port: OutputPort[int] = OutputPort()
    draining = await receiver()
    sub = port.subscribe(draining, lambda v: v)
    port.send(1)
    draining.drain()
    port.send(2)
    assert not sub.active
    await draining.wait(timeout=1)
    assert port.subscriber_count == 0


async def test_converter_that_unsubscribes_its_own_subscription_does_not_skip_others() -> None:
    port: OutputPort[int] = OutputPort()
    once, other = await receiver(), await receiver()
    subs = []

    def last_one(v: int) -> int:
        subs[0].unsubscribe()  # take this value, then no more
        return v

    subs.append(port.subscribe(once, last_one))
    port.subscribe(other, lambda v: v)
    port.send(1)
    port.send(2)
    assert await seen(once) == [1]
    assert await seen(other) == [1, 2]
