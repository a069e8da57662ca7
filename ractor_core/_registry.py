"""The process-wide name registry and pid registry, with pid lifecycle monitors."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ._errors import SpawnError
from ._id import ActorId
from ._supervision import PidLifecycleEvent, PidSpawned, PidTerminated

if TYPE_CHECKING:
    from ._ref import ActorRef

__all__ = [
    "all_actors",
    "demonitor_pids",
    "monitor_pids",
    "registered",
    "where_is",
    "where_is_pid",
]

_log = logging.getLogger("ractor.core.registry")

_names: dict[str, ActorRef[Any]] = {}
_pids: dict[ActorId, ActorRef[Any]] = {}
_pid_monitors: dict[ActorId, ActorRef[Any]] = {}


def where_is(name: str) -> ActorRef[Any] | None:
    """Return the live actor registered under ``name``, or None."""
    return _names.get(name)


def registered() -> list[str]:
    """Return the names of all registered actors, sorted."""
    return sorted(_names)


def where_is_pid(actor_id: ActorId) -> ActorRef[Any] | None:
    """Return the live actor with this id (local, or of a connected node), or None."""
    if actor_id.node_id is not None:
        from ._remote import lookup

        return lookup(actor_id)
    return _pids.get(actor_id)


def all_actors() -> list[ActorRef[Any]]:
    """Return every local actor in the pid registry, in spawn order (remote actors are in
    their nodes' tables)."""
    return list(_pids.values())


def monitor_pids(monitor: ActorRef[Any]) -> None:
    """Send ``monitor`` a ``PidLifecycleEvent`` whenever a local actor enters or leaves the
    registry."""
    _pid_monitors[monitor.id] = monitor


def demonitor_pids(monitor: ActorId | ActorRef[Any]) -> None:
    """Stop sending pid lifecycle events to ``monitor`` (an id or a ref)."""
    _pid_monitors.pop(monitor if isinstance(monitor, ActorId) else monitor.id, None)


def _register_name(name: str, ref: ActorRef[Any]) -> None:
    if name in _names:
        raise SpawnError(f"an actor named {name!r} is already registered", name=name)
    _names[name] = ref


def _unregister_name(name: str, ref: ActorRef[Any]) -> None:
    if _names.get(name) is ref:
        del _names[name]


def _register_pid(ref: ActorRef[Any]) -> None:
    _pids[ref.id] = ref
    if _pid_monitors:
        _notify(PidLifecycleEvent(PidSpawned(ref)))


def _unregister_pid(ref: ActorRef[Any]) -> None:
    if _pids.pop(ref.id, None) is None:
        return
    _pid_monitors.pop(ref.id, None)
    if _pid_monitors:
        _notify(PidLifecycleEvent(PidTerminated(ref)))


def _notify(event: PidLifecycleEvent) -> None:
    for monitor in list(_pid_monitors.values()):
        if not monitor._cell.send_supervision(monitor, event):
            _pid_monitors.pop(monitor.id, None)


def _clear() -> None:
    """Forget every registration (for test isolation)."""
    _names.clear()
    _pids.clear()
    _pid_monitors.clear()
