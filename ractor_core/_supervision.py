"""Actor status and the supervision events an actor's supervisor and monitors receive."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from ._ref import ActorRef

__all__ = [
    "ActorFailed",
    "ActorStarted",
    "ActorStatus",
    "ActorTerminated",
    "GroupChange",
    "GroupJoin",
    "GroupLeave",
    "PidLifecycleEvent",
    "PidSpawned",
    "PidTerminated",
    "ProcessGroupChanged",
    "SupervisionEvent",
]


class ActorStatus(enum.IntEnum):
    """Lifecycle stage of an actor, in order (as in Rust ractor)."""

    UNSTARTED = 0
    STARTING = 1
    RUNNING = 2
    UPGRADING = 3
    DRAINING = 4
    STOPPING = 5
    STOPPED = 6

    @property
    def is_active(self) -> bool:
        """Whether the actor still accepts work (starting, running or upgrading)."""
        return self <= ActorStatus.UPGRADING


@dataclass(frozen=True, slots=True)
class ActorStarted:
    """A supervised or monitored actor finished ``pre_start``."""

    actor: ActorRef[Any]


@dataclass(frozen=True, slots=True)
class ActorTerminated:
    """An actor stopped: ``reason`` is the stop reason (``"killed"`` when killed)."""

    actor: ActorRef[Any]
    state: Any
    reason: str | None


@dataclass(frozen=True, slots=True)
class ActorFailed:
    """An actor stopped because one of its hooks raised ``error``."""

    actor: ActorRef[Any]
    error: BaseException


@dataclass(frozen=True, slots=True)
class GroupJoin:
    """Actors joined ``group`` in ``scope``."""

    scope: str
    group: str
    actors: tuple[ActorRef[Any], ...]


@dataclass(frozen=True, slots=True)
class GroupLeave:
    """Actors left ``group`` in ``scope``."""

    scope: str
    group: str
    actors: tuple[ActorRef[Any], ...]


GroupChange: TypeAlias = GroupJoin | GroupLeave


@dataclass(frozen=True, slots=True)
class ProcessGroupChanged:
    """A monitored process group or scope changed."""

    change: GroupChange


@dataclass(frozen=True, slots=True)
class PidSpawned:
    """An actor was registered in the pid registry (before its ``pre_start`` runs)."""

    actor: ActorRef[Any]


@dataclass(frozen=True, slots=True)
class PidTerminated:
    """An actor left the pid registry."""

    actor: ActorRef[Any]


@dataclass(frozen=True, slots=True)
class PidLifecycleEvent:
    """A pid-registry change, delivered to lifecycle monitors (the cluster layer's hook)."""

    event: PidSpawned | PidTerminated


SupervisionEvent: TypeAlias = (
    ActorStarted | ActorTerminated | ActorFailed | ProcessGroupChanged | PidLifecycleEvent
)
