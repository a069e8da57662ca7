"""Small actors shared by the core tests."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ractor_core import Actor, ActorRef, Call, SupervisionEvent


@dataclass(frozen=True)
class Note:
    """A cast carrying one value."""

    value: Any


@dataclass(frozen=True)
class Fail:
    """A cast that makes the handler raise."""

    text: str = "boom"


@dataclass(frozen=True)
class Sleep:
    """A cast that makes the handler sleep."""

    seconds: float


@dataclass(frozen=True)
class GetNotes(Call[list[Any]]):
    """A call answered with every value noted so far."""


@dataclass(frozen=True)
class GetEvents(Call[list[SupervisionEvent]]):
    """A call answered with every supervision event seen so far."""


@dataclass(frozen=True)
class Echo(Call[Any]):
    """A call answered with its own value."""

    value: Any


@dataclass(frozen=True)
class Ignore(Call[int]):
    """A call whose handler discards the reply port."""


@dataclass(frozen=True)
class Hold(Call[int]):
    """A call whose port the handler keeps, to answer later with Release."""


@dataclass(frozen=True)
class Release:
    """Answer the held port with ``value``."""

    value: int


Msg = Note | Fail | Sleep | GetNotes | GetEvents | Echo | Ignore | Hold | Release


@dataclass
class Book:
    """State of the Recorder: what it saw."""

    notes: list[Any] = field(default_factory=list)
    events: list[SupervisionEvent] = field(default_factory=list)
    held: list[Any] = field(default_factory=list)
    log: list[str] | None = None


class Recorder(Actor[Msg, Book, "list[str] | None"]):
    """Records notes and supervision events; answers calls; shares a lifecycle log."""

    def __init__(self, *, stop_on_child_exit: bool = False, fail_start: bool = False) -> None:
        self.stop_on_child_exit = stop_on_child_exit
        self.fail_start = fail_start

    async def pre_start(self, myself: ActorRef[Msg], args: list[str] | None) -> Book:
        if self.fail_start:
            raise ValueError("refusing to start")
        if args is not None:
            args.append(f"pre_start {myself.id}")
        return Book(log=args)

    async def post_start(self, myself: ActorRef[Msg], state: Book) -> None:
        if state.log is not None:
            state.log.append(f"post_start {myself.id}")

    async def handle(self, myself: ActorRef[Msg], message: Msg, state: Book) -> None:
        match message:
            case Note(value=v):
                state.notes.append(v)
            case Fail(text=t):
                raise RuntimeError(t)
            case Sleep(seconds=s):
                await asyncio.sleep(s)
            case GetNotes():
                message.reply.send(list(state.notes))
            case GetEvents():
                message.reply.send(list(state.events))
            case Echo(value=v):
                message.reply.send(v)
            case Ignore():
                pass
            case Hold():
                state.held.append(message.reply)
            case Release(value=v):
                state.held.pop().send(v)

    async def handle_supervisor_evt(
        self, myself: ActorRef[Msg], event: SupervisionEvent, state: Book
    ) -> None:
        state.events.append(event)
        if self.stop_on_child_exit:
            await super().handle_supervisor_evt(myself, event, state)

    async def post_stop(self, myself: ActorRef[Msg], state: Book) -> None:
        if state.log is not None:
            state.log.append(f"post_stop {myself.id}")


async def events_of(ref: ActorRef[Msg]) -> list[SupervisionEvent]:
    """Read the supervision events a Recorder has seen (priority events come first)."""
    return await ref.call(GetEvents(), timeout=2)
