"""Derived refs: a view of an actor taking a narrower or converted message type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from ractor_core import (
    Actor,
    ActorRef,
    ActorStatus,
    Call,
    CallTimeout,
    DerivedActorRef,
    MessagingError,
    WaitTimeout,
    spawn,
)


@dataclass(frozen=True)
class Add:
    amount: int


@dataclass(frozen=True)
class Reset:
    pass


@dataclass(frozen=True)
class Total(Call[int]):
    pass


@dataclass(frozen=True)
class Never(Call[int]):
    """Never answered in time (the handler keeps the port)."""


CounterMsg = Add | Reset | Total | Never


@dataclass(frozen=True)
class Celsius:
    """A message type of another component, converted into the counter's."""

    degrees: int


@dataclass
class Count:
    value: int = 0
    held: list[Any] = field(default_factory=list[Any])


class Counter(Actor[CounterMsg, Count, None]):
    async def pre_start(self, myself: ActorRef[CounterMsg], args: None) -> Count:
        return Count()

    async def handle(self, myself: ActorRef[CounterMsg], message: CounterMsg, state: Count) -> None:
        match message:
            case Add(amount=amount):
                state.value += amount
            case Reset():
                state.value = 0
            case Total():
                message.reply.send(state.value)
            case Never():
                state.held.append(message.reply)  # kept, never answered


def adds_only(message: Add | Total) -> CounterMsg:
    """Narrowing: a holder may add and read, not reset."""
    return message


def from_celsius(message: Celsius) -> CounterMsg:
    return Add(message.degrees)


def as_is(message: CounterMsg) -> CounterMsg:
    return message


def doubled(n: int) -> Add | Total:
    return Add(2 * n)


async def test_a_narrowed_ref_sends_and_calls_through_to_the_actor() -> None:
    counter = await spawn(Counter(), None)
    view: DerivedActorRef[Add | Total] = counter.derive(adds_only)
    view.cast(Add(2))
    await view.send(Add(3))
    assert await view.call(Total(), timeout=2) == 5
    assert await counter.call(Total(), timeout=2) == 5


async def test_a_converting_ref_delivers_the_converted_message() -> None:
    counter = await spawn(Counter(), None)
    thermometer = counter.derive(from_celsius)
    thermometer.cast(Celsius(21))
    await thermometer.send(Celsius(1))
    assert await counter.call(Total(), timeout=2) == 22


async def test_derived_refs_compose() -> None:
    counter = await spawn(Counter(), None)
    view = counter.derive(adds_only)
    twice = view.derive(doubled)
    twice.cast(4)
    assert await view.call(Total(), timeout=2) == 8


async def test_a_derived_ref_reports_the_actor_and_waits_for_it() -> None:
    counter = await spawn(Counter(), None, name="counter")
    view = counter.derive(adds_only)
    assert view.id == counter.id and view.name == "counter"
    assert view.is_alive and view.status is ActorStatus.RUNNING
    with pytest.raises(WaitTimeout):
        await view.wait(timeout=0.01)
    counter.stop()
    await view.wait(timeout=2)
    assert not view.is_alive and view.status is ActorStatus.STOPPED
    assert "counter" in repr(view)


async def test_derived_refs_are_equal_by_the_actor_they_point_at() -> None:
    one = await spawn(Counter(), None)
    other = await spawn(Counter(), None)
    assert one.derive(adds_only) == one.derive(from_celsius)
    assert hash(one.derive(adds_only)) == hash(one.derive(from_celsius))
    assert one.derive(adds_only) != other.derive(adds_only)
    assert len({one.derive(adds_only), one.derive(from_celsius), other.derive(adds_only)}) == 2
    assert one.derive(adds_only) != one  # a view is not the ref itself


async def test_sending_to_a_stopped_actor_returns_the_converted_message() -> None:
    counter = await spawn(Counter(), None)
    thermometer = counter.derive(from_celsius)
    await counter.stop_and_wait(timeout=2)
    with pytest.raises(MessagingError) as cast_error:
        thermometer.cast(Celsius(5))
    assert cast_error.value.unsent == Add(5)
    with pytest.raises(MessagingError):
        await thermometer.send(Celsius(5))
    with pytest.raises(MessagingError):
        await counter.derive(adds_only).call(Total(), timeout=2)


async def test_a_call_through_a_derived_ref_times_out_like_a_direct_one() -> None:
    counter = await spawn(Counter(), None)
    with pytest.raises(CallTimeout):
        await counter.derive(as_is).call(Never(), timeout=0.05)


async def test_a_derived_ref_refuses_a_cast_message_in_call_and_cannot_be_built_by_hand(
) -> None:
    counter = await spawn(Counter(), None)
    view = counter.derive(adds_only)
    with pytest.raises(TypeError, match="rpc message"):
        await view.call(Add(1), timeout=2)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    with pytest.raises(TypeError, match="derive"):
        DerivedActorRef(object(), counter, adds_only)
