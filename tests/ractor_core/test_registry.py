"""The name registry, the pid registry, and pid lifecycle monitors."""

from __future__ import annotations

from typing import Any

import pytest

from ractor_core import (
    Actor,
    ActorId,
    ActorRef,
    Call,
    PidLifecycleEvent,
    PidSpawned,
    PidTerminated,
    SpawnError,
    SupervisionEvent,
    all_actors,
    demonitor_pids,
    monitor_pids,
    registered,
    spawn,
    where_is,
    where_is_pid,
)


class Events(Call[list[SupervisionEvent]]):
    """Answered with every supervision event the actor has seen so far."""


class Recorder(Actor[Any, list[SupervisionEvent], "list[str] | None"]):
    """Records supervision events; notes each pre_start in the optional log it is given."""

    def __init__(self, *, fail_start: bool = False) -> None:
        self.fail_start = fail_start

    async def pre_start(
        self, myself: ActorRef[Any], args: list[str] | None
    ) -> list[SupervisionEvent]:
        if args is not None:
            args.append("pre_start")
        if self.fail_start:
            raise ValueError("refusing to start")
        return []

    async def handle(self, myself: ActorRef[Any], message: Any, state: list[Any]) -> None:
        if isinstance(message, Events):
            message.reply.send(list(state))

    async def handle_supervisor_evt(
        self, myself: ActorRef[Any], event: SupervisionEvent, state: list[Any]
    ) -> None:
        state.append(event)


class DefaultHandler(Actor[Any, None, None]):
    """Keeps the base class's handle_supervisor_evt; answers Events with an empty list."""

    async def pre_start(self, myself: ActorRef[Any], args: None) -> None:
        return None

    async def handle(self, myself: ActorRef[Any], message: Any, state: None) -> None:
        if isinstance(message, Events):
            message.reply.send([])


async def lifecycle(monitor: ActorRef[Any]) -> list[PidSpawned | PidTerminated]:
    """The pid events ``monitor`` has handled; the round trip flushes queued events."""
    events = await monitor.call(Events(), timeout=1)
    assert all(isinstance(e, PidLifecycleEvent) for e in events), events
    return [e.event for e in events]


# ---------------------------------------------------------------------- names


async def test_named_actor_is_found_by_where_is() -> None:
    ref = await spawn(Recorder(), None, name="alpha")
    assert where_is("alpha") is ref
    assert ref.name == "alpha"
    assert registered() == ["alpha"]
    assert where_is("beta") is None


async def test_registered_lists_only_named_actors_sorted() -> None:
    await spawn(Recorder(), None, name="b")
    await spawn(Recorder(), None)
    await spawn(Recorder(), None, name="a")
    assert registered() == ["a", "b"]


async def test_spawning_under_a_taken_name_is_a_spawn_error() -> None:
    first = await spawn(Recorder(), None, name="alpha")
    before = all_actors()
    log: list[str] = []
    with pytest.raises(SpawnError, match="already registered") as info:
        await spawn(Recorder(), log, name="alpha")
    assert info.value.name == "alpha"
    assert log == []  # refused before pre_start
    assert where_is("alpha") is first
    assert first.is_alive
    assert all_actors() == before


async def test_name_is_freed_when_the_actor_stops_and_can_be_reused() -> None:
    first = await spawn(Recorder(), None, name="alpha")
    await first.stop_and_wait(timeout=1)
    assert where_is("alpha") is None
    assert registered() == []
    second = await spawn(Recorder(), None, name="alpha")
    assert where_is("alpha") is second
    assert second != first


async def test_name_is_freed_when_the_actor_is_killed() -> None:
    first = await spawn(Recorder(), None, name="alpha")
    await first.kill_and_wait(timeout=1)
    assert where_is("alpha") is None
    second = await spawn(Recorder(), None, name="alpha")
    assert where_is("alpha") is second


async def test_name_is_freed_when_pre_start_fails() -> None:
    with pytest.raises(SpawnError, match="refusing to start"):
        await spawn(Recorder(fail_start=True), None, name="alpha")
    assert where_is("alpha") is None
    assert registered() == []
    ref = await spawn(Recorder(), None, name="alpha")
    assert where_is("alpha") is ref


async def test_name_is_still_taken_until_the_actor_has_stopped() -> None:
    ref = await spawn(Recorder(), None, name="alpha")
    ref.stop()
    with pytest.raises(SpawnError):
        await spawn(Recorder(), None, name="alpha")
    await ref.wait(timeout=1)
    await spawn(Recorder(), None, name="alpha")


# ---------------------------------------------------------------------- pids


async def test_where_is_pid_finds_live_actors_only() -> None:
    a = await spawn(Recorder(), None)
    b = await spawn(Recorder(), None, name="named")
    assert where_is_pid(a.id) is a
    assert where_is_pid(ActorId.local(b.id.pid)) is b
    await a.stop_and_wait(timeout=1)
    assert where_is_pid(a.id) is None
    assert where_is_pid(b.id) is b
    assert where_is_pid(ActorId.remote(1, b.id.pid)) is None


async def test_all_actors_lists_live_actors_in_spawn_order() -> None:
    assert all_actors() == []
    a = await spawn(Recorder(), None)
    b = await spawn(Recorder(), None, name="b")
    c = await spawn(Recorder(), None)
    assert all_actors() == [a, b, c]
    await b.stop_and_wait(timeout=1)
    assert all_actors() == [a, c]
    with pytest.raises(SpawnError):
        await spawn(Recorder(fail_start=True), None)
    assert all_actors() == [a, c]


# ---------------------------------------------------------------------- lifecycle monitors


async def test_pid_monitor_sees_actors_spawn_and_terminate() -> None:
    mon = await spawn(Recorder(), None)
    monitor_pids(mon)
    a = await spawn(Recorder(), None)
    b = await spawn(Recorder(), None, name="b")
    await a.stop_and_wait(timeout=1)
    await b.kill_and_wait(timeout=1)
    assert await lifecycle(mon) == [
        PidSpawned(a),
        PidSpawned(b),
        PidTerminated(a),
        PidTerminated(b),
    ]


async def test_pid_monitor_sees_an_actor_that_fails_to_start_come_and_go() -> None:
    mon = await spawn(Recorder(), None)
    monitor_pids(mon)
    with pytest.raises(SpawnError):
        await spawn(Recorder(fail_start=True), None)
    seen = await lifecycle(mon)
    assert [type(e) for e in seen] == [PidSpawned, PidTerminated]
    assert seen[0].actor is seen[1].actor
    assert not seen[0].actor.is_alive


async def test_pid_monitor_does_not_see_earlier_actors() -> None:
    earlier = await spawn(Recorder(), None)
    mon = await spawn(Recorder(), None)
    monitor_pids(mon)
    assert await lifecycle(mon) == []
    await earlier.stop_and_wait(timeout=1)
    assert await lifecycle(mon) == [PidTerminated(earlier)]


async def test_every_pid_monitor_is_told() -> None:
    m1 = await spawn(Recorder(), None)
    m2 = await spawn(Recorder(), None)
    monitor_pids(m1)
    monitor_pids(m2)
    monitor_pids(m2)  # monitoring twice does not double the events
    a = await spawn(Recorder(), None)
    assert await lifecycle(m1) == [PidSpawned(a)]
    assert await lifecycle(m2) == [PidSpawned(a)]


async def test_a_pid_monitor_sees_another_monitor_stop() -> None:
    m1 = await spawn(Recorder(), None)
    m2 = await spawn(Recorder(), None)
    monitor_pids(m1)
    monitor_pids(m2)
    await m1.stop_and_wait(timeout=1)
    assert await lifecycle(m2) == [PidTerminated(m1)]
    a = await spawn(Recorder(), None)
    assert await lifecycle(m2) == [PidTerminated(m1), PidSpawned(a)]


async def test_demonitor_pids_stops_lifecycle_events() -> None:
    mon = await spawn(Recorder(), None)
    monitor_pids(mon)
    a = await spawn(Recorder(), None)
    demonitor_pids(mon.id)
    b = await spawn(Recorder(), None)
    await a.stop_and_wait(timeout=1)
    await b.stop_and_wait(timeout=1)
    assert await lifecycle(mon) == [PidSpawned(a)]
    demonitor_pids(mon.id)  # a second demonitor is harmless


async def test_pid_events_do_not_stop_a_monitor_with_the_default_handler() -> None:
    mon = await spawn(DefaultHandler(), None)
    monitor_pids(mon)
    a = await spawn(Recorder(), None)
    await a.stop_and_wait(timeout=1)
    await mon.call(Events(), timeout=1)  # both events have been handled by now
    assert mon.is_alive
