"""Actor identities: a local pid, or a (node id, pid) pair for actors on other nodes."""

from __future__ import annotations

import itertools
from typing import final

__all__ = ["ActorId", "next_pid"]

_pids = itertools.count(0)


def next_pid() -> int:
    """Return a fresh process-wide pid; pids are never reused within a process."""
    return next(_pids)


@final
class ActorId:
    """Identity of an actor: local (``node_id is None``) or remote (``node_id``, ``pid``)."""

    __slots__ = ("_hash", "_node_id", "_pid")

    _pid: int
    _node_id: int | None
    _hash: int

    def __init__(self, pid: int, node_id: int | None = None) -> None:
        if pid < 0 or pid >= 1 << 64:
            raise ValueError(f"pid must be an unsigned 64-bit integer, got {pid}")
        if node_id is not None and (node_id < 0 or node_id >= 1 << 64):
            raise ValueError(f"node_id must be an unsigned 64-bit integer, got {node_id}")
        object.__setattr__(self, "_pid", pid)
        object.__setattr__(self, "_node_id", node_id)
        object.__setattr__(self, "_hash", hash((node_id, pid)))

    @property
    def pid(self) -> int:
        """The actor's process id on its own node."""
        return self._pid

    @property
    def node_id(self) -> int | None:
        """The observer-local id of the node the actor lives on, or None for local actors."""
        return self._node_id

    @classmethod
    def local(cls, pid: int) -> ActorId:
        """Build the id of a local actor."""
        return cls(pid)

    @classmethod
    def remote(cls, node_id: int, pid: int) -> ActorId:
        """Build the id of an actor living on node ``node_id``."""
        return cls(pid, node_id)

    @property
    def is_local(self) -> bool:
        """Whether the actor lives in this process."""
        return self.node_id is None

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("ActorId is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ActorId):
            return NotImplemented
        return self._pid == other._pid and self._node_id == other._node_id

    def __hash__(self) -> int:
        return self._hash

    def __lt__(self, other: ActorId) -> bool:
        mine = -1 if self._node_id is None else self._node_id
        theirs = -1 if other._node_id is None else other._node_id
        return (mine, self._pid) < (theirs, other._pid)

    def __str__(self) -> str:
        return f"{0 if self.node_id is None else self.node_id}.{self.pid}"

    def __repr__(self) -> str:
        if self.node_id is None:
            return f"ActorId.local({self.pid})"
        return f"ActorId.remote({self.node_id}, {self.pid})"

    def __reduce__(self) -> tuple[type[ActorId], tuple[int, int | None]]:
        return (ActorId, (self.pid, self.node_id))
