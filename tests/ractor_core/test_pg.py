"""Process groups: membership in scopes, queries, and change monitors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from ractor_core import (
    Actor,
    ActorRef,
    Call,
    GroupChange,
    GroupJoin,
    GroupLeave,
    ProcessGroupChanged,
    SpawnError,
    SupervisionEvent,
    pg,
    spawn,
)

from .remote import Recording

DEFAULT = "__default_scope__"


class Events(Call[list[SupervisionEvent]]):
    """Answered with every supervision event the actor has seen so far."""


@dataclass(frozen=True)
class Boom:
    """Makes the handler raise."""


class Member(Actor[Any, list[SupervisionEvent], None]):
    """A group member that records the supervision events it receives (and stays up)."""

    async def pre_start(self, myself: ActorRef[Any], args: None) -> list[SupervisionEvent]:
        return []

    async def handle(self, myself: ActorRef[Any], message: Any, state: list[Any]) -> None:
        if isinstance(message, Events):
            message.reply.send(list(state))
        elif isinstance(message, Boom):
            raise RuntimeError("boom")

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


class JoinsInPreStart(Actor[Any, None, str]):
    """Joins the group named by its argument in pre_start, then fails to start."""

    async def pre_start(self, myself: ActorRef[Any], args: str) -> None:
        pg.join(args, [myself])
        raise ValueError("no start")


async def members(n: int) -> list[ActorRef[Any]]:
    return [await spawn(Member(), None) for _ in range(n)]


async def changes(monitor: ActorRef[Any]) -> list[GroupChange]:
    """The group changes ``monitor`` has handled; the round trip flushes queued events."""
    events = await monitor.call(Events(), timeout=1)
    assert all(isinstance(e, ProcessGroupChanged) for e in events), events
    return [e.change for e in events]


# ---------------------------------------------------------------------- membership


async def test_joined_actors_are_members_of_the_group_in_the_default_scope() -> None:
    a, b = await members(2)
    pg.join("workers", [a, b])
    assert pg.DEFAULT_SCOPE == DEFAULT
    assert pg.get_members("workers") == [a, b]
    assert pg.get_scoped_members(DEFAULT, "workers") == [a, b]
    assert pg.which_scopes() == [DEFAULT]
    assert pg.which_scoped_groups(DEFAULT) == ["workers"]


async def test_members_are_listed_in_join_order() -> None:
    a, b, c = await members(3)
    pg.join("g", [c])
    pg.join("g", [a, b])
    assert pg.get_members("g") == [c, a, b]


async def test_unknown_group_has_no_members() -> None:
    assert pg.get_members("nobody") == []
    assert pg.get_local_members("nobody") == []
    assert pg.get_scoped_members("no-scope", "nobody") == []
    assert pg.get_scoped_local_members("no-scope", "nobody") == []


async def test_same_group_name_in_different_scopes_is_a_different_group() -> None:
    a, b = await members(2)
    pg.join_scoped("s1", "g", [a])
    pg.join_scoped("s2", "g", [b])
    assert pg.get_scoped_members("s1", "g") == [a]
    assert pg.get_scoped_members("s2", "g") == [b]
    assert pg.get_members("g") == []
    pg.join("g", [b])
    assert pg.get_members("g") == [b]
    assert pg.get_scoped_members("s1", "g") == [a]


async def test_leave_removes_only_the_named_actors() -> None:
    a, b, c = await members(3)
    pg.join("g", [a, b, c])
    pg.leave("g", [b])
    assert pg.get_members("g") == [a, c]
    pg.join_scoped("s", "g", [a, b])
    pg.leave_scoped("s", "g", [a])
    assert pg.get_scoped_members("s", "g") == [b]
    assert pg.get_members("g") == [a, c]


async def test_leaving_the_last_member_removes_the_group_and_its_scope() -> None:
    a, b = await members(2)
    pg.join_scoped("s", "g", [a])
    pg.join_scoped("s", "h", [b])
    pg.leave_scoped("s", "g", [a])
    assert pg.which_scoped_groups("s") == ["h"]
    assert pg.which_scopes() == ["s"]
    pg.leave_scoped("s", "h", [b])
    assert pg.which_scoped_groups("s") == []
    assert pg.which_scopes() == []
    assert pg.which_groups() == []
    assert pg.which_scopes_and_groups() == []


async def test_leaving_a_group_one_is_not_in_changes_nothing() -> None:
    a, b, mon = await members(3)
    pg.join("g", [a])
    pg.monitor_scope(pg.ALL_SCOPES_NOTIFICATION, mon)
    pg.leave("g", [b])
    pg.leave("other", [a])
    pg.leave_scoped("s", "g", [a])
    assert pg.get_members("g") == [a]
    assert await changes(mon) == []


async def test_joining_nobody_creates_no_group() -> None:
    pg.join("g", [])
    pg.join_scoped("s", "g", [])
    assert pg.which_scopes_and_groups() == []


async def test_duplicate_joins_do_not_duplicate_members() -> None:
    a, b, mon = await members(3)
    pg.monitor("g", mon)
    pg.join("g", [a])
    pg.join("g", [a, b, a])
    pg.join("g", [b])
    assert pg.get_members("g") == [a, b]
    # only the actors that really joined are announced; a no-op join announces nothing
    assert await changes(mon) == [GroupJoin(DEFAULT, "g", (a,)), GroupJoin(DEFAULT, "g", (b,))]


async def test_joining_a_stopped_actor_is_skipped() -> None:
    a, b, mon = await members(3)
    await a.stop_and_wait(timeout=1)
    pg.monitor("g", mon)
    pg.join("g", [a])
    assert pg.get_members("g") == []
    assert pg.which_groups() == []
    pg.join("g", [a, b])
    assert pg.get_members("g") == [b]
    assert await changes(mon) == [GroupJoin(DEFAULT, "g", (b,))]


async def test_local_members_exclude_remote_actors() -> None:
    (local,) = await members(1)
    remote = Recording().actor(42)
    assert not remote.id.is_local
    pg.join("g", [remote, local])
    pg.join_scoped("s", "g", [local, remote])
    assert pg.get_members("g") == [remote, local]
    assert pg.get_local_members("g") == [local]
    assert pg.get_scoped_members("s", "g") == [local, remote]
    assert pg.get_scoped_local_members("s", "g") == [local]


async def test_which_queries_list_each_group_and_scope_once_sorted() -> None:
    a, b = await members(2)
    pg.join_scoped("zeta", "g2", [a])
    pg.join_scoped("alpha", "g2", [b])
    pg.join_scoped("alpha", "g1", [a, b])
    pg.join("g3", [a])
    assert pg.which_groups() == ["g1", "g2", "g3"]
    assert pg.which_scopes() == sorted([DEFAULT, "alpha", "zeta"])
    assert pg.which_scoped_groups("alpha") == ["g1", "g2"]
    assert pg.which_scoped_groups("zeta") == ["g2"]
    assert pg.which_scoped_groups(DEFAULT) == ["g3"]
    assert pg.which_scoped_groups("unknown") == []
    assert pg.which_scopes_and_groups() == sorted(
        [("zeta", "g2"), ("alpha", "g2"), ("alpha", "g1"), (DEFAULT, "g3")]
    )


# ---------------------------------------------------------------------- monitors


async def test_group_monitor_receives_joins_and_leaves_as_supervision_events() -> None:
    a, b, mon = await members(3)
    pg.monitor("g", mon)
    pg.join("g", [a, b])
    pg.leave("g", [a])
    events = await mon.call(Events(), timeout=1)
    assert events == [
        ProcessGroupChanged(GroupJoin(DEFAULT, "g", (a, b))),
        ProcessGroupChanged(GroupLeave(DEFAULT, "g", (a,))),
    ]
    assert mon.is_alive


async def test_group_monitor_ignores_other_groups_and_scopes() -> None:
    a, mon = await members(2)
    pg.monitor("g", mon)
    pg.join("other", [a])
    pg.join_scoped("s", "g", [a])
    pg.leave_scoped("s", "g", [a])
    assert await changes(mon) == []


async def test_demonitor_stops_group_events() -> None:
    a, b, mon = await members(3)
    pg.monitor("g", mon)
    pg.join("g", [a])
    pg.demonitor("g", mon.id)
    pg.join("g", [b])
    pg.leave("g", [a])
    assert await changes(mon) == [GroupJoin(DEFAULT, "g", (a,))]


async def test_demonitor_of_an_unmonitored_group_is_harmless() -> None:
    a, mon = await members(2)
    pg.demonitor("g", mon.id)
    pg.demonitor_scope("s", mon.id)
    pg.monitor("g", mon)
    pg.demonitor("other", mon.id)
    pg.join("g", [a])
    assert await changes(mon) == [GroupJoin(DEFAULT, "g", (a,))]


async def test_scope_monitor_receives_changes_of_every_group_in_its_scope() -> None:
    a, b, mon = await members(3)
    pg.monitor_scope("s", mon)
    pg.join_scoped("s", "g1", [a])
    pg.join_scoped("s", "g2", [b])
    pg.join_scoped("t", "g1", [a])
    pg.join("g1", [a])
    pg.leave_scoped("s", "g1", [a])
    assert await changes(mon) == [
        GroupJoin("s", "g1", (a,)),
        GroupJoin("s", "g2", (b,)),
        GroupLeave("s", "g1", (a,)),
    ]


async def test_demonitor_scope_stops_scope_events() -> None:
    a, b, mon = await members(3)
    pg.monitor_scope("s", mon)
    pg.join_scoped("s", "g", [a])
    pg.demonitor_scope("s", mon.id)
    pg.join_scoped("s", "g", [b])
    pg.join_scoped("s", "h", [b])
    assert await changes(mon) == [GroupJoin("s", "g", (a,))]


async def test_all_scopes_monitor_receives_changes_in_every_scope() -> None:
    a, mon = await members(2)
    pg.monitor_scope(pg.ALL_SCOPES_NOTIFICATION, mon)
    pg.join("g", [a])
    pg.join_scoped("s", "h", [a])
    pg.leave_scoped("s", "h", [a])
    assert await changes(mon) == [
        GroupJoin(DEFAULT, "g", (a,)),
        GroupJoin("s", "h", (a,)),
        GroupLeave("s", "h", (a,)),
    ]
    pg.demonitor_scope(pg.ALL_SCOPES_NOTIFICATION, mon.id)
    pg.leave("g", [a])
    assert len(await changes(mon)) == 3


async def test_all_groups_monitor_receives_changes_of_every_default_scope_group() -> None:
    a, mon = await members(2)
    pg.monitor(pg.ALL_GROUPS_NOTIFICATION, mon)
    pg.join("g1", [a])
    pg.join("g2", [a])
    pg.join_scoped("s", "g1", [a])
    assert await changes(mon) == [GroupJoin(DEFAULT, "g1", (a,)), GroupJoin(DEFAULT, "g2", (a,))]


async def test_actor_monitoring_a_change_several_ways_is_told_once() -> None:
    a, mon = await members(2)
    pg.monitor("g", mon)
    pg.monitor(pg.ALL_GROUPS_NOTIFICATION, mon)
    pg.monitor_scope(DEFAULT, mon)
    pg.monitor_scope(pg.ALL_SCOPES_NOTIFICATION, mon)
    pg.join("g", [a])
    assert await changes(mon) == [GroupJoin(DEFAULT, "g", (a,))]


async def test_every_monitor_of_a_group_is_told() -> None:
    a, m1, m2 = await members(3)
    pg.monitor("g", m1)
    pg.monitor_scope(DEFAULT, m2)
    pg.join("g", [a])
    assert await changes(m1) == [GroupJoin(DEFAULT, "g", (a,))]
    assert await changes(m2) == [GroupJoin(DEFAULT, "g", (a,))]


async def test_group_events_do_not_stop_a_monitor_with_the_default_handler() -> None:
    (a,) = await members(1)
    mon = await spawn(DefaultHandler(), None)
    pg.monitor("g", mon)
    pg.monitor_scope(pg.ALL_SCOPES_NOTIFICATION, mon)
    pg.join("g", [a])
    pg.leave("g", [a])
    await mon.call(Events(), timeout=1)  # both events have been handled by now
    assert mon.is_alive


# ---------------------------------------------------------------------- stopping members


async def test_stopping_actor_leaves_all_groups() -> None:
    a, b = await members(2)
    pg.join("g1", [a, b])
    pg.join("g2", [a])
    pg.join_scoped("s", "g1", [a])
    await a.stop_and_wait(timeout=1)
    assert pg.get_members("g1") == [b]
    assert pg.get_members("g2") == []
    assert pg.get_scoped_members("s", "g1") == []
    assert pg.which_scopes_and_groups() == [(DEFAULT, "g1")]


async def test_monitors_see_a_stopping_actor_leave_each_of_its_groups() -> None:
    a, b, mon = await members(3)
    pg.join("g1", [a, b])
    pg.join("g2", [a])
    pg.join_scoped("s", "g1", [a])
    pg.monitor_scope(pg.ALL_SCOPES_NOTIFICATION, mon)
    await a.stop_and_wait(timeout=1)
    seen = await changes(mon)
    assert sorted(seen, key=lambda c: (c.scope, c.group)) == [
        GroupLeave(DEFAULT, "g1", (a,)),
        GroupLeave(DEFAULT, "g2", (a,)),
        GroupLeave("s", "g1", (a,)),
    ]


async def test_killed_actor_leaves_its_groups_and_monitors_see_it() -> None:
    a, mon = await members(2)
    pg.join("g", [a])
    pg.monitor("g", mon)
    await a.kill_and_wait(timeout=1)
    assert pg.get_members("g") == []
    assert await changes(mon) == [GroupLeave(DEFAULT, "g", (a,))]


async def test_failed_actor_leaves_its_groups() -> None:
    a, mon = await members(2)
    pg.join_scoped("s", "g", [a])
    pg.monitor_scope("s", mon)
    a.cast(Boom())
    await a.wait(timeout=1)
    assert pg.which_scopes() == []
    assert await changes(mon) == [GroupLeave("s", "g", (a,))]


async def test_actor_failing_to_start_leaves_the_groups_it_joined_in_pre_start() -> None:
    (mon,) = await members(1)
    pg.monitor("g", mon)
    with pytest.raises(SpawnError):
        await spawn(JoinsInPreStart(), "g")
    assert pg.get_members("g") == []
    seen = await changes(mon)
    assert [type(c) for c in seen] == [GroupJoin, GroupLeave]
    assert seen[0].actors == seen[1].actors


async def test_a_stopped_monitor_does_not_disturb_the_other_monitors() -> None:
    a, m1, m2 = await members(3)
    pg.monitor("g", m1)
    pg.monitor("g", m2)
    await m1.stop_and_wait(timeout=1)
    pg.join("g", [a])
    assert await changes(m2) == [GroupJoin(DEFAULT, "g", (a,))]
