"""Type expectations for ractor_core, checked by ``mypy --strict`` (never run).

``assert_type`` states what must be inferred; ``# type: ignore[code]`` marks what must be
rejected (with ``warn_unused_ignores``, a rejection that stops happening fails the check).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_never, assert_type

from ractor_core import (
    Actor,
    ActorRef,
    Call,
    MailboxFull,
    MessagingError,
    RactorError,
    RpcReplyPort,
    multi_call,
    spawn,
)


@dataclass(frozen=True)
class Inc:
    by: int


@dataclass(frozen=True)
class Get(Call[int]):
    pass


@dataclass(frozen=True)
class Name(Call[str]):
    pass


CounterMsg = Inc | Get | Name


@dataclass
class Count:
    value: int


class Counter(Actor[CounterMsg, Count, int]):
    async def pre_start(self, myself: ActorRef[CounterMsg], args: int) -> Count:
        return Count(args)

    async def handle(self, myself: ActorRef[CounterMsg], message: CounterMsg, state: Count) -> None:
        match message:
            case Inc(by=by):
                state.value += by
            case Get():
                message.reply.send(state.value)
                message.reply.send("seven")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
            case Name():
                assert_type(message.reply, RpcReplyPort[str])
                message.reply.send("counter")
            case _:
                assert_never(message)


class Incomplete(Actor[CounterMsg, Count, int]):
    async def pre_start(self, myself: ActorRef[CounterMsg], args: int) -> Count:
        return Count(args)

    async def handle(self, myself: ActorRef[CounterMsg], message: CounterMsg, state: Count) -> None:
        match message:
            case Inc():
                pass
            case Get():
                pass
            case _:
                assert_never(message)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


class NoAssertNever(Actor[CounterMsg, Count, int]):
    """A match that forgets a variant and has no ``assert_never``: only pyright (strict,
    reportMatchNotExhaustive) sees it; mypy checks exhaustiveness through assert_never."""

    async def pre_start(self, myself: ActorRef[CounterMsg], args: int) -> Count:
        return Count(args)

    async def handle(self, myself: ActorRef[CounterMsg], message: CounterMsg, state: Count) -> None:
        match message:  # pyright: ignore[reportMatchNotExhaustive]
            case Inc():
                pass
            case Get():
                pass


@dataclass(frozen=True)
class Other:
    text: str


async def use() -> None:
    ref = await spawn(Counter(), 0)
    assert_type(ref, ActorRef[CounterMsg])
    ref.cast(Inc(by=1))
    ref.cast(Other("x"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    Inc(by="one")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    assert_type(await ref.call(Get()), int)
    assert_type(await ref.call(Name(), timeout=1.0), str)
    wrong: str = await ref.call(Get())  # type: ignore[arg-type]  # pyright: ignore[reportAssignmentType]
    print(await ref.call(Get()))  # the reply type comes from the message, not the context
    anything: object = await ref.call(Get())
    shown = f"{await ref.call(Name())}"
    widened: float = await ref.call(Get())
    await ref.call(Inc(by=1))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    await spawn(Counter(), "zero")  # type: ignore[misc]  # pyright: ignore[reportArgumentType]
    results = await multi_call([ref], Get())
    assert_type(results, list[int | RactorError])
    other: ActorRef[Other] = ref  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    del wrong, other, anything, shown, widened


async def bounded() -> None:
    ref = await spawn(Counter(), 0, capacity=8)
    assert_type(ref.capacity, int | None)
    assert_type(ref.mailbox_len, int)
    await ref.send(Inc(by=1))
    await ref.send(Other("x"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    await spawn(Counter(), 0, capacity="8")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    try:
        ref.cast(Inc(by=1))
    except MailboxFull as full:
        assert_type(full, MailboxFull)
        assert isinstance(full, MessagingError)
