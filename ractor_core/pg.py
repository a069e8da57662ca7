"""Process groups: named sets of actors, in scopes, with change monitors (ractor's ``pg``).

Groups live in scopes; the functions without ``scoped`` in their name use the default scope
``"__default_scope__"``, the literal the cluster protocol carries. A stopping actor leaves
every group. Monitors receive ``ProcessGroupChanged`` supervision events; monitoring the
group :data:`ALL_GROUPS_NOTIFICATION` or the scope :data:`ALL_SCOPES_NOTIFICATION` observes
every group of a scope, or every scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ._id import ActorId
from ._supervision import GroupChange, GroupJoin, GroupLeave, ProcessGroupChanged

if TYPE_CHECKING:
    from ._ref import ActorRef

__all__ = [
    "ALL_GROUPS_NOTIFICATION",
    "ALL_SCOPES_NOTIFICATION",
    "DEFAULT_SCOPE",
    "demonitor",
    "demonitor_scope",
    "get_local_members",
    "get_members",
    "get_scoped_local_members",
    "get_scoped_members",
    "join",
    "join_scoped",
    "leave",
    "leave_scoped",
    "monitor",
    "monitor_scope",
    "which_groups",
    "which_scoped_groups",
    "which_scopes",
    "which_scopes_and_groups",
]

DEFAULT_SCOPE = "__default_scope__"
"""The scope of the unscoped functions, as it appears on the wire."""
ALL_SCOPES_NOTIFICATION = "__world_scope__"
"""Pass to :func:`monitor_scope` to observe every scope."""
ALL_GROUPS_NOTIFICATION = "__world_group_"
"""Pass to :func:`monitor` to observe every group of the default scope."""

# scope -> group -> id -> member (insertion ordered)
_groups: dict[str, dict[str, dict[ActorId, ActorRef[Any]]]] = {}
# id -> {(scope, group)} of its memberships, for leave-on-stop
_memberships: dict[ActorId, set[tuple[str, str]]] = {}
# (scope, group) -> monitors; scope -> monitors
_group_monitors: dict[tuple[str, str], dict[ActorId, ActorRef[Any]]] = {}
_scope_monitors: dict[str, dict[ActorId, ActorRef[Any]]] = {}


def join(group: str, actors: Iterable[ActorRef[Any]]) -> int:
    """Add ``actors`` to ``group`` in the default scope; returns how many joined."""
    return join_scoped(DEFAULT_SCOPE, group, actors)


def join_scoped(scope: str, group: str, actors: Iterable[ActorRef[Any]]) -> int:
    """Add ``actors`` to ``group`` in ``scope``; stopped actors and members are skipped.

    Returns how many joined.
    """
    members = _groups.setdefault(scope, {}).setdefault(group, {})
    added: list[ActorRef[Any]] = []
    for actor in actors:
        if actor.id in members or not actor.status.is_active:
            continue
        members[actor.id] = actor
        _memberships.setdefault(actor.id, set()).add((scope, group))
        added.append(actor)
    if not members:
        _drop_empty(scope, group)
    if added:
        _notify(GroupJoin(scope, group, tuple(added)))
    return len(added)


def leave(group: str, actors: Iterable[ActorRef[Any]]) -> int:
    """Remove ``actors`` from ``group`` in the default scope; returns how many left."""
    return leave_scoped(DEFAULT_SCOPE, group, actors)


def leave_scoped(scope: str, group: str, actors: Iterable[ActorRef[Any]]) -> int:
    """Remove ``actors`` from ``group`` in ``scope``; non-members are ignored.

    Returns how many left.
    """
    members = _groups.get(scope, {}).get(group)
    if not members:
        return 0
    removed: list[ActorRef[Any]] = []
    for actor in actors:
        if members.pop(actor.id, None) is not None:
            removed.append(actor)
            keys = _memberships.get(actor.id)
            if keys is not None:
                keys.discard((scope, group))
                if not keys:
                    del _memberships[actor.id]
    if not members:
        _drop_empty(scope, group)
    if removed:
        _notify(GroupLeave(scope, group, tuple(removed)))
    return len(removed)


def get_members(group: str) -> list[ActorRef[Any]]:
    """Members of ``group`` in the default scope, local and remote."""
    return get_scoped_members(DEFAULT_SCOPE, group)


def get_local_members(group: str) -> list[ActorRef[Any]]:
    """Local members of ``group`` in the default scope."""
    return get_scoped_local_members(DEFAULT_SCOPE, group)


def get_scoped_members(scope: str, group: str) -> list[ActorRef[Any]]:
    """Members of ``group`` in ``scope``, local and remote, in join order."""
    return list(_groups.get(scope, {}).get(group, {}).values())


def get_scoped_local_members(scope: str, group: str) -> list[ActorRef[Any]]:
    """Local members of ``group`` in ``scope``."""
    return [a for a in get_scoped_members(scope, group) if a.id.is_local]


def which_groups() -> list[str]:
    """Every group with members, across all scopes, without duplicates (sorted)."""
    return sorted({g for groups in _groups.values() for g in groups})


def which_scoped_groups(scope: str) -> list[str]:
    """Every group with members in ``scope`` (sorted)."""
    return sorted(_groups.get(scope, {}))


def which_scopes() -> list[str]:
    """Every scope with at least one non-empty group (sorted)."""
    return sorted(_groups)


def which_scopes_and_groups() -> list[tuple[str, str]]:
    """Every non-empty (scope, group) pair (sorted)."""
    return sorted((s, g) for s, groups in _groups.items() for g in groups)


def monitor(group: str, actor: ActorRef[Any]) -> None:
    """Send ``actor`` ``ProcessGroupChanged`` events for ``group`` in the default scope."""
    if not actor.is_alive:
        return
    _group_monitors.setdefault((DEFAULT_SCOPE, group), {})[actor.id] = actor


def monitor_scope(scope: str, actor: ActorRef[Any]) -> None:
    """Send ``actor`` ``ProcessGroupChanged`` events for every group of ``scope``."""
    if not actor.is_alive:
        return
    _scope_monitors.setdefault(scope, {})[actor.id] = actor


def demonitor(group: str, actor: ActorId | ActorRef[Any]) -> None:
    """Stop the group monitor of ``actor`` (an id or a ref) on ``group`` in the default scope."""
    _remove_monitor(_group_monitors, (DEFAULT_SCOPE, group), _id_of(actor))


def demonitor_scope(scope: str, actor: ActorId | ActorRef[Any]) -> None:
    """Stop the scope monitor of ``actor`` (an id or a ref) on ``scope``."""
    _remove_monitor(_scope_monitors, scope, _id_of(actor))


def _id_of(actor: ActorId | ActorRef[Any]) -> ActorId:
    return actor if isinstance(actor, ActorId) else actor.id


def _remove_monitor(
    table: dict[Any, dict[ActorId, ActorRef[Any]]], key: Any, actor: ActorId
) -> None:
    monitors = table.get(key)
    if monitors is not None:
        monitors.pop(actor, None)
        if not monitors:
            del table[key]


def _drop_empty(scope: str, group: str) -> None:
    groups = _groups.get(scope)
    if groups is not None and not groups.get(group):
        groups.pop(group, None)
        if not groups:
            del _groups[scope]


def _notify(change: GroupChange) -> None:
    targets: dict[ActorId, ActorRef[Any]] = {}
    for key in ((change.scope, change.group), (change.scope, ALL_GROUPS_NOTIFICATION)):
        targets.update(_group_monitors.get(key, {}))
    targets.update(_scope_monitors.get(change.scope, {}))
    targets.update(_scope_monitors.get(ALL_SCOPES_NOTIFICATION, {}))
    if not targets:
        return
    event = ProcessGroupChanged(change)
    for target in targets.values():
        target._cell.send_supervision(target, event)


def _on_actor_stopped(actor: ActorRef[Any]) -> int:
    """Leave every group and drop every monitor of a stopping actor; return how many groups
    it left."""
    keys = _memberships.pop(actor.id, None)
    left = 0
    if keys:
        for scope, group in sorted(keys):
            left += leave_scoped(scope, group, (actor,))
    if _group_monitors or _scope_monitors:
        aid = actor.id
        for table in (_group_monitors, _scope_monitors):
            for key in [k for k, v in table.items() if aid in v]:
                _remove_monitor(table, key, aid)
    return left


def _clear() -> None:
    """Forget every group and monitor (for test isolation)."""
    _groups.clear()
    _memberships.clear()
    _group_monitors.clear()
    _scope_monitors.clear()
