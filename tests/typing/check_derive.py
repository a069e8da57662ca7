"""Type expectations for ractor_derive message families, checked by mypy --strict."""

from __future__ import annotations

from typing import assert_never, assert_type

from ractor_core import Actor, ActorRef, Call, spawn
from ractor_derive import U8, U64, Char, Message, cluster_message, local_message


@cluster_message
class CounterMsg(Message):
    """A cluster message family."""


class Inc(CounterMsg):
    by: U8


class Get(CounterMsg, Call[U64]):
    pass


class Label(CounterMsg, Call[str], tag="Name"):
    first: Char


Counter = Inc | Get | Label


@local_message
class OtherMsg(Message):
    """A local family."""


class Ping(OtherMsg):
    pass


class CounterActor(Actor[Counter, list[int], None]):
    async def pre_start(self, myself: ActorRef[Counter], args: None) -> list[int]:
        return [0]

    async def handle(self, myself: ActorRef[Counter], message: Counter, state: list[int]) -> None:
        match message:
            case Inc(by=by):
                assert_type(by, int)
                state[0] += by
            case Get():
                message.reply.send(state[0])
                message.reply.send("no")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
            case Label(first=first):
                message.reply.send(first + "x")
            case _:
                assert_never(message)


async def use() -> None:
    ref = await spawn(CounterActor(), None)
    ref.cast(Inc(by=1))
    ref.cast(Inc(by="one"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    ref.cast(Inc(1))  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    ref.cast(Inc())  # type: ignore[call-arg]  # pyright: ignore[reportCallIssue]
    ref.cast(Ping())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    assert_type(await ref.call(Get()), int)
    assert_type(await ref.call(Label(first="a")), str)
    inc = Inc(by=2)
    inc.by = 3  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]
    family_ref: ActorRef[CounterMsg] = await spawn(FamilyActor(), None)
    family_ref.cast(Inc(by=1))
    family_ref.cast(Ping())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


class FamilyActor(Actor[CounterMsg, None, None]):
    async def pre_start(self, myself: ActorRef[CounterMsg], args: None) -> None:
        return None
