"""Bounded mailboxes: capacity, refusal by cast, waiting send and call, nothing lost."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import pytest

from ractor_core import (
    Actor,
    ActorRef,
    ActorTerminated,
    Call,
    CallTimeout,
    MailboxFull,
    MessagingError,
    SupervisionEvent,
    all_actors,
    spawn,
    spawn_linked,
)

from .actors import Echo, Fail, GetEvents, GetNotes, Note, Recorder, events_of


@dataclass(frozen=True, eq=False)
class Block:
    """A cast whose handler says it started, then waits until released."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True, eq=False)
class CancelTask:
    """A cast whose handler cancels a task."""

    task: asyncio.Task[Any]


@dataclass(frozen=True, eq=False)
class StealThenBlock:
    """A cast whose handler casts Note(value) to its own actor, then waits at ``gate``."""

    value: Any
    gate: Block


@dataclass(frozen=True)
class Mark(Call[int]):
    """A call that notes its value, answered with the number of notes."""

    value: Any


@dataclass(frozen=True)
class Seen(Call[list[Any]]):
    """A call answered with the notes and supervision events, in the order handled."""


Msg = Block | CancelTask | StealThenBlock | Mark | Seen | Note | Fail | GetNotes | GetEvents | Echo


class Gated(Actor[Msg, list[Any], None]):
    """Notes values and supervision events; a Block message holds it at a gate."""

    async def pre_start(self, myself: ActorRef[Msg], args: None) -> list[Any]:
        return []

    async def handle(self, myself: ActorRef[Msg], message: Msg, state: list[Any]) -> None:
        match message:
            case Block(entered=entered, release=release):
                entered.set()
                await release.wait()
            case CancelTask(task=task):
                task.cancel()
            case StealThenBlock(value=v, gate=gate):
                myself.cast(Note(v))
                gate.entered.set()
                await gate.release.wait()
            case Mark(value=v):
                state.append(v)
                message.reply.send(len(state))
            case Seen():
                message.reply.send(list(state))
            case Note(value=v):
                state.append(v)
            case Fail(text=t):
                raise RuntimeError(t)
            case GetNotes():
                message.reply.send([x for x in state if not isinstance(x, ActorTerminated)])
            case GetEvents():
                message.reply.send([x for x in state if isinstance(x, ActorTerminated)])
            case Echo(value=v):
                message.reply.send(v)

    async def handle_supervisor_evt(
        self, myself: ActorRef[Msg], event: SupervisionEvent, state: list[Any]
    ) -> None:
        if isinstance(event, ActorTerminated):
            state.append(event)


async def settle() -> None:
    """Let every ready task run to its next wait (nothing here depends on timers)."""
    for _ in range(20):
        await asyncio.sleep(0)


async def blocked(capacity: int | None) -> tuple[ActorRef[Msg], Block]:
    """A Gated actor with the given capacity, held at a gate with an empty mailbox."""
    ref = await spawn(Gated(), None, capacity=capacity)
    gate = Block()
    ref.cast(gate)
    await asyncio.wait_for(gate.entered.wait(), 2)
    assert ref.mailbox_len == 0
    return ref, gate


async def notes(ref: ActorRef[Msg]) -> list[Any]:
    return await ref.call(GetNotes(), timeout=2)


# ---------------------------------------------------------------------- capacity


async def test_a_mailbox_is_unbounded_by_default() -> None:
    ref, gate = await blocked(None)
    assert ref.capacity is None
    for i in range(5000):
        ref.cast(Note(i))
    assert ref.mailbox_len == 5000
    gate.release.set()
    assert await notes(ref) == list(range(5000))


async def test_the_ref_reports_the_capacity_given_to_spawn() -> None:
    ref = await spawn(Gated(), None, capacity=3)
    assert ref.capacity == 3
    child = await spawn_linked(Gated(), None, ref, capacity=1)
    assert child.capacity == 1
    assert child.supervisor is ref


@pytest.mark.parametrize("capacity", [0, -1, True, 1.5])
async def test_a_capacity_that_is_not_a_whole_number_of_at_least_one_is_refused(
    capacity: Any,
) -> None:
    with pytest.raises(ValueError, match="capacity"):
        await spawn(Gated(), None, name="bad", capacity=capacity)
    sup = await spawn(Gated(), None)
    with pytest.raises(ValueError, match="capacity"):
        await spawn_linked(Gated(), None, sup, name="bad", capacity=capacity)
    assert all_actors() == [sup]
    assert sup.children == []
    # the name was not taken by the refused spawn
    ok = await spawn(Gated(), None, name="bad", capacity=1)
    assert ok.name == "bad"


async def test_mailbox_len_counts_queued_messages_but_not_the_one_being_handled() -> None:
    ref, gate = await blocked(3)
    ref.cast(Note(1))
    assert ref.mailbox_len == 1
    ref.cast(Note(2))
    assert ref.mailbox_len == 2
    gate.release.set()
    assert await notes(ref) == [1, 2]
    assert ref.mailbox_len == 0


# ---------------------------------------------------------------------- cast


async def test_cast_to_a_full_mailbox_raises_mailbox_full_and_queues_nothing() -> None:
    ref, gate = await blocked(2)
    ref.cast(Note(1))
    ref.cast(Note(2))
    refused = Note(3)
    with pytest.raises(MailboxFull, match="full") as info:
        ref.cast(refused)
    assert isinstance(info.value, MessagingError)
    assert info.value.unsent is refused
    assert ref.mailbox_len == 2
    assert ref.is_alive
    gate.release.set()
    assert await notes(ref) == [1, 2]


async def test_cast_succeeds_again_once_the_actor_takes_a_message() -> None:
    ref, gate = await blocked(1)
    ref.cast(Note(1))
    with pytest.raises(MailboxFull):
        ref.cast(Note(2))
    second = Block()
    gate.release.set()
    # Note(1) is handled; the mailbox has room again
    assert await notes(ref) == [1]
    ref.cast(second)
    await asyncio.wait_for(second.entered.wait(), 2)
    ref.cast(Note(3))
    with pytest.raises(MailboxFull):
        ref.cast(Note(4))
    second.release.set()
    assert await notes(ref) == [1, 3]


# ---------------------------------------------------------------------- send


async def test_send_waits_for_room_then_delivers() -> None:
    ref, gate = await blocked(1)
    ref.cast(Note(1))
    sending = asyncio.create_task(ref.send(Note(2)))
    await settle()
    assert not sending.done()
    assert ref.mailbox_len == 1
    gate.release.set()
    await asyncio.wait_for(sending, 2)
    assert await notes(ref) == [1, 2]


async def test_send_with_room_does_not_wait() -> None:
    ref, gate = await blocked(2)
    await asyncio.wait_for(ref.send(Note(1)), 2)
    assert ref.mailbox_len == 1
    gate.release.set()
    assert await notes(ref) == [1]


async def test_senders_waiting_for_room_get_it_in_fifo_order() -> None:
    ref, gate = await blocked(1)
    ref.cast(Note(0))
    senders = []
    for i in range(1, 8):
        senders.append(asyncio.create_task(ref.send(Note(i))))
        await settle()  # each sender is waiting before the next one starts
    assert not any(s.done() for s in senders)
    gate.release.set()
    await asyncio.wait_for(asyncio.gather(*senders), 2)
    assert await notes(ref) == list(range(8))


async def test_a_cast_taking_the_freed_slot_does_not_reorder_the_waiting_senders() -> None:
    ref, gate = await blocked(1)
    second = Block()
    ref.cast(StealThenBlock("stolen", second))
    first_sender = asyncio.create_task(ref.send(Note("A")))
    await settle()
    second_sender = asyncio.create_task(ref.send(Note("B")))
    await settle()
    # The actor takes StealThenBlock (waking A, whose turn it is), and its handler casts
    # into the slot before A runs; A must still get room before B, who waited after it.
    gate.release.set()
    await asyncio.wait_for(second.entered.wait(), 2)
    await settle()
    second.release.set()
    await asyncio.wait_for(asyncio.gather(first_sender, second_sender), 2)
    assert await notes(ref) == ["stolen", "A", "B"]


async def test_a_cancelled_waiting_sender_sends_nothing_and_keeps_no_place() -> None:
    ref, gate = await blocked(1)
    ref.cast(Note(0))
    first = asyncio.create_task(ref.send(Note("cancelled")))
    await settle()
    second = asyncio.create_task(ref.send(Note("second")))
    await settle()
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(first, 2)
    gate.release.set()
    await asyncio.wait_for(second, 2)
    assert await notes(ref) == [0, "second"]


async def test_a_sender_cancelled_after_its_wake_up_passes_its_turn_to_the_next() -> None:
    ref, gate = await blocked(1)
    first = asyncio.create_task(ref.send(Note("first")))
    # The actor takes CancelTask (waking `first`, whose turn it is) and cancels `first`
    # before it runs: the slot must go to `second`, or `second` would wait forever.
    ref.cast(CancelTask(first))
    await settle()
    assert not first.done()
    second = asyncio.create_task(ref.send(Note("second")))
    await settle()
    gate.release.set()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(first, 2)
    await asyncio.wait_for(second, 2)
    assert await notes(ref) == ["second"]


@pytest.mark.parametrize("end", ["stop", "kill", "drain"])
async def test_a_sender_waiting_for_room_fails_when_the_actor_ends(end: str) -> None:
    ref, gate = await blocked(1)
    ref.cast(Note(1))
    msg = Note(2)
    sending = asyncio.create_task(ref.send(msg))
    await settle()
    assert not sending.done()
    getattr(ref, end)()
    with pytest.raises(MessagingError) as info:
        await asyncio.wait_for(sending, 2)
    assert not isinstance(info.value, MailboxFull)
    assert info.value.unsent is msg
    gate.release.set()
    await ref.wait(timeout=2)


async def test_a_sender_waiting_for_room_fails_when_the_actor_fails() -> None:
    ref, gate = await blocked(1)
    ref.cast(Fail("kaput"))
    msg = Note(2)
    sending = asyncio.create_task(ref.send(msg))
    await settle()
    assert not sending.done()
    gate.release.set()  # the actor takes Fail (making room) and fails at once
    with pytest.raises(MessagingError) as info:
        await asyncio.wait_for(sending, 2)
    assert info.value.unsent is msg
    await ref.wait(timeout=2)


async def test_send_to_an_actor_that_is_not_running_raises_messaging_error() -> None:
    ref = await spawn(Gated(), None, capacity=1)
    await ref.stop_and_wait(timeout=2)
    msg = Note(1)
    with pytest.raises(MessagingError) as info:
        await asyncio.wait_for(ref.send(msg), 2)
    assert not isinstance(info.value, MailboxFull)
    assert info.value.unsent is msg
    with pytest.raises(MessagingError) as cast_info:
        ref.cast(msg)
    assert not isinstance(cast_info.value, MailboxFull)
    assert cast_info.value.unsent is msg


async def test_an_rpc_message_is_refused_by_send_and_cast() -> None:
    ref = await spawn(Gated(), None, capacity=1)
    msg = Echo(1)
    with pytest.raises(MessagingError, match="call") as info:
        await asyncio.wait_for(ref.send(msg), 2)
    assert info.value.unsent is msg
    with pytest.raises(MessagingError, match="call"):
        ref.cast(msg)
    assert ref.mailbox_len == 0
    assert await ref.call(Echo(2), timeout=2) == 2


async def test_concurrent_senders_lose_nothing_and_keep_their_own_order() -> None:
    ref = await spawn(Gated(), None, capacity=2)
    senders, per_sender = 10, 50

    async def sender(s: int) -> None:
        for i in range(per_sender):
            await ref.send(Note((s, i)))

    await asyncio.wait_for(asyncio.gather(*(sender(s) for s in range(senders))), 5)
    seen = await notes(ref)
    assert sorted(seen) == [(s, i) for s in range(senders) for i in range(per_sender)]
    for s in range(senders):
        assert [i for (t, i) in seen if t == s] == list(range(per_sender))


# ---------------------------------------------------------------------- call


async def test_call_waits_for_room_then_returns_the_reply() -> None:
    ref, gate = await blocked(1)
    ref.cast(Note(1))
    calling = asyncio.create_task(ref.call(Mark("called"), timeout=2))
    await settle()
    assert not calling.done()
    gate.release.set()
    assert await asyncio.wait_for(calling, 2) == 2
    assert await notes(ref) == [1, "called"]


async def test_call_without_room_in_time_raises_call_timeout_and_is_never_handled() -> None:
    ref, gate = await blocked(1)
    ref.cast(Note(1))
    with pytest.raises(CallTimeout, match="no room"):
        await asyncio.wait_for(ref.call(Mark("late"), timeout=0.05), 2)
    assert ref.mailbox_len == 1
    gate.release.set()
    assert await notes(ref) == [1]


async def test_a_call_waiting_for_room_fails_with_messaging_error_when_the_actor_stops() -> None:
    ref, gate = await blocked(1)
    ref.cast(Note(1))
    msg = Mark("never")
    calling = asyncio.create_task(ref.call(msg, timeout=5))
    await settle()
    assert not calling.done()
    ref.stop()
    with pytest.raises(MessagingError) as info:
        await asyncio.wait_for(calling, 2)
    assert not isinstance(info.value, MailboxFull)
    assert info.value.unsent is msg
    gate.release.set()
    await ref.wait(timeout=2)


async def test_a_timed_out_call_leaves_room_for_the_senders_behind_it() -> None:
    ref, gate = await blocked(1)
    ref.cast(Note(1))
    calling = asyncio.create_task(ref.call(Mark("late"), timeout=0.05))
    await settle()
    sending = asyncio.create_task(ref.send(Note(2)))
    with pytest.raises(CallTimeout):
        await asyncio.wait_for(calling, 2)
    gate.release.set()
    await asyncio.wait_for(sending, 2)
    assert await notes(ref) == [1, 2]


# ---------------------------------------------------------------------- never refused


async def test_stop_is_not_refused_by_a_full_mailbox_and_drops_the_queue() -> None:
    sup = await spawn(Recorder(), None)
    ref = await spawn_linked(Gated(), None, sup, capacity=1)
    gate = Block()
    ref.cast(gate)
    await asyncio.wait_for(gate.entered.wait(), 2)
    ref.cast(Note("dropped"))
    ref.stop("enough")
    gate.release.set()
    await ref.wait(timeout=2)
    (ended,) = [e for e in await events_of(sup) if isinstance(e, ActorTerminated)]
    assert ended.reason == "enough"
    assert ended.state == []


async def test_kill_is_not_refused_by_a_full_mailbox() -> None:
    ref, _ = await blocked(1)
    ref.cast(Note(1))
    ref.kill()  # the handler is never released: the kill interrupts it
    await ref.wait(timeout=2)
    assert not ref.is_alive


async def test_drain_handles_the_queued_messages_of_a_full_mailbox() -> None:
    sup = await spawn(Recorder(), None)
    ref = await spawn_linked(Gated(), None, sup, capacity=2)
    gate = Block()
    ref.cast(gate)
    await asyncio.wait_for(gate.entered.wait(), 2)
    ref.cast(Note(1))
    ref.cast(Note(2))
    ref.drain()
    assert ref.mailbox_len == 2  # the end-of-mailbox marker is not a message
    with pytest.raises(MessagingError):
        ref.cast(Note(3))
    gate.release.set()
    await ref.wait(timeout=2)
    (ended,) = [e for e in await events_of(sup) if isinstance(e, ActorTerminated)]
    assert ended.reason == "Drained"
    assert ended.state == [1, 2]


async def test_a_supervisor_with_a_full_mailbox_still_hears_its_child_terminate() -> None:
    sup, gate = await blocked(1)
    sup.cast(Note("queued"))
    child = await spawn_linked(Recorder(), None, sup)
    await child.stop_and_wait("child done", timeout=2)
    assert sup.mailbox_len == 1
    gate.release.set()
    seen = await sup.call(Seen(), timeout=2)
    # the supervision event got in although the mailbox was full, and went first
    assert len(seen) == 2
    assert isinstance(seen[0], ActorTerminated)
    assert seen[0].actor == child
    assert seen[0].reason == "child done"
    assert seen[1] == "queued"


async def test_a_monitor_with_a_full_mailbox_still_hears_the_actor_it_monitors() -> None:
    watcher, gate = await blocked(1)
    watcher.cast(Note("queued"))
    watched = await spawn(Recorder(), None)
    watcher.monitor(watched)
    watched.kill()
    await watched.wait(timeout=2)
    gate.release.set()
    (ended,) = await watcher.call(GetEvents(), timeout=2)
    assert isinstance(ended, ActorTerminated)
    assert ended.actor == watched
    assert ended.reason == "killed"
