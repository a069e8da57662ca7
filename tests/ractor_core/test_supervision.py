"""Supervision trees: links, events, failure propagation, monitors."""

from __future__ import annotations

import asyncio

import pytest

from ractor_core import (
    ActorFailed,
    ActorStarted,
    ActorStatus,
    ActorTerminated,
    SpawnError,
    spawn,
    spawn_linked,
)

from .actors import Echo, Fail, Note, Recorder, Sleep, events_of


async def test_supervisor_sees_its_child_start_and_stop_with_the_reason() -> None:
    sup = await spawn(Recorder(), None)
    child = await spawn_linked(Recorder(), None, sup)
    assert child.supervisor is sup
    assert sup.children == [child]
    child.cast(Note("kept"))
    assert await child.call(Echo(0), timeout=2) == 0
    await child.stop_and_wait("done", timeout=2)
    events = await events_of(sup)
    assert isinstance(events[0], ActorStarted) and events[0].actor is child
    assert isinstance(events[1], ActorTerminated)
    assert events[1].reason == "done"
    assert events[1].state.notes == ["kept"]
    assert sup.children == []


async def test_a_raising_handler_stops_the_actor_and_reports_actor_failed() -> None:
    sup = await spawn(Recorder(), None)
    child = await spawn_linked(Recorder(), None, sup)
    child.cast(Fail("kaput"))
    await child.wait(timeout=2)
    failed = [e for e in await events_of(sup) if isinstance(e, ActorFailed)]
    assert len(failed) == 1
    assert isinstance(failed[0].error, RuntimeError)
    assert str(failed[0].error) == "kaput"
    assert sup.is_alive


async def test_a_raising_handler_never_takes_the_loop_down() -> None:
    refs = [await spawn(Recorder(), None) for _ in range(20)]
    for ref in refs[::2]:
        ref.cast(Fail())
    await asyncio.gather(*(r.wait(timeout=2) for r in refs[::2]))
    for ref in refs[1::2]:
        assert await ref.call(Echo(1), timeout=2) == 1


async def test_unhandled_child_failure_stops_the_supervisor() -> None:
    sup = await spawn(Recorder(stop_on_child_exit=True), None)
    child = await spawn_linked(Recorder(), None, sup)
    child.cast(Fail())
    await sup.wait(timeout=2)
    assert sup.status is ActorStatus.STOPPED


async def test_failure_propagates_up_a_tree_through_default_handlers() -> None:
    root_events = await spawn(Recorder(), None)
    mid = await spawn_linked(Recorder(stop_on_child_exit=True), None, root_events)
    leaf = await spawn_linked(Recorder(), None, mid)
    leaf.cast(Fail())
    await mid.wait(timeout=2)
    terminated = [e for e in await events_of(root_events) if isinstance(e, ActorTerminated)]
    assert [e.actor for e in terminated] == [mid]


async def test_kill_reports_killed_and_skips_post_stop() -> None:
    log: list[str] = []
    sup = await spawn(Recorder(), None)
    child = await spawn_linked(Recorder(), log, sup)
    child.cast(Sleep(10))
    await asyncio.sleep(0.01)
    await child.kill_and_wait(timeout=2)
    terminated = [e for e in await events_of(sup) if isinstance(e, ActorTerminated)]
    assert [e.reason for e in terminated] == ["killed"]
    assert not any(line.startswith("post_stop") for line in log)


async def test_stopping_a_supervisor_kills_its_children_without_events_to_it() -> None:
    sup = await spawn(Recorder(), None)
    children = [await spawn_linked(Recorder(), None, sup) for _ in range(3)]
    await sup.stop_and_wait(timeout=2)
    await asyncio.gather(*(c.wait(timeout=2) for c in children))
    assert all(c.status is ActorStatus.STOPPED for c in children)


async def test_stop_children_and_wait_stops_children_gracefully() -> None:
    log: list[str] = []
    sup = await spawn(Recorder(), None)
    child = await spawn_linked(Recorder(), log, sup)
    await sup.stop_children_and_wait("bye", timeout=2)
    assert log[-1] == f"post_stop {child.id}"
    assert sup.is_alive


async def test_failed_startup_sends_no_event_to_the_supervisor() -> None:
    sup = await spawn(Recorder(), None)
    with pytest.raises(SpawnError):
        await spawn_linked(Recorder(fail_start=True), None, sup)
    assert await events_of(sup) == []
    assert sup.children == []


async def test_spawning_under_a_stopped_supervisor_fails() -> None:
    sup = await spawn(Recorder(), None)
    await sup.stop_and_wait(timeout=2)
    with pytest.raises(SpawnError, match="shutting down"):
        await spawn_linked(Recorder(), None, sup)


async def test_a_monitor_sees_events_without_supervising() -> None:
    watcher = await spawn(Recorder(), None)
    target = await spawn(Recorder(), None)
    watcher.monitor(target)
    target.cast(Fail("x"))
    await target.wait(timeout=2)
    events = await events_of(watcher)
    assert [type(e) for e in events] == [ActorFailed]
    assert target.supervisor is None


async def test_unmonitor_stops_the_events() -> None:
    watcher = await spawn(Recorder(), None)
    target = await spawn(Recorder(), None)
    watcher.monitor(target)
    watcher.unmonitor(target)
    await target.stop_and_wait(timeout=2)
    assert await events_of(watcher) == []


async def test_link_and_unlink_after_spawn() -> None:
    sup = await spawn(Recorder(), None)
    child = await spawn(Recorder(), None)
    child.link(sup)
    assert sup.children == [child]
    child.unlink(sup)
    assert sup.children == [] and child.supervisor is None
    await child.stop_and_wait(timeout=2)
    assert await events_of(sup) == []
