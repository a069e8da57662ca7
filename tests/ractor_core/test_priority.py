"""Priorities: kill before stop before supervision events before messages."""

from __future__ import annotations

import asyncio

from ractor_core import ActorTerminated, spawn, spawn_linked

from .actors import GetEvents, Note, Recorder, Sleep, events_of


async def test_a_stop_overtakes_queued_messages() -> None:
    sup = await spawn(Recorder(), None)
    ref = await spawn_linked(Recorder(), None, sup)
    ref.cast(Sleep(0.02))
    for i in range(100):
        ref.cast(Note(i))
    ref.stop("now")
    await ref.wait(timeout=2)
    terminated = [e for e in await events_of(sup) if isinstance(e, ActorTerminated)]
    assert terminated[0].reason == "now"
    assert terminated[0].state.notes == []


async def test_a_kill_overtakes_a_pending_stop() -> None:
    sup = await spawn(Recorder(), None)
    ref = await spawn_linked(Recorder(), None, sup)
    ref.cast(Sleep(10))
    await asyncio.sleep(0.01)
    ref.stop("polite")
    ref.kill()
    await ref.wait(timeout=2)
    terminated = [e for e in await events_of(sup) if isinstance(e, ActorTerminated)]
    assert [e.reason for e in terminated] == ["killed"]


async def test_supervision_events_overtake_queued_messages() -> None:
    sup = await spawn(Recorder(), None)
    child = await spawn_linked(Recorder(), None, sup)
    sup.cast(Sleep(0.05))
    for i in range(10):
        sup.cast(Note(i))
    await child.stop_and_wait(timeout=2)
    # The supervisor is still sleeping; the child's events queued behind the sleep but ahead
    # of the ten notes, so a call queued last sees both events and all the notes.
    events = await sup.call(GetEvents(), timeout=2)
    assert len(events) == 2
    assert isinstance(events[1], ActorTerminated)


async def test_stop_requested_while_handling_lets_the_handler_finish() -> None:
    log: list[str] = []
    sup = await spawn(Recorder(), None)
    ref = await spawn_linked(Recorder(), log, sup)
    ref.cast(Sleep(0.03))
    ref.cast(Note("after"))
    await asyncio.sleep(0.01)
    ref.stop()
    await ref.wait(timeout=2)
    assert log[-1] == f"post_stop {ref.id}"
    terminated = [e for e in await events_of(sup) if isinstance(e, ActorTerminated)]
    assert terminated[0].state.notes == []
