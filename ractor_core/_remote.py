"""Remote actors: another node's actors, as one table per connection.

A transport (``ractor_cluster``'s node session) subclasses :class:`RemoteNode` for each
connected node and implements how a cast and a call go on its wire. The node's actors are
entries in that table: ``node.actor(pid, name)`` gives the ``ActorRef`` of one, a handle whose
cell is the table itself. A remote ref has no task and no mailbox; it costs a handle, an id
and its table entries.

When the peer says an actor terminated, or the connection ends, the transport calls
``terminate`` / ``close``: the ref stops (``is_alive`` False, sends raise ``MessagingError``),
leaves its process groups, and its monitors receive ``ActorTerminated`` with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from abc import abstractmethod
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from . import pg
from ._cell import Cell, _wait_expired
from ._errors import MailboxFull, MessagingError
from ._id import ActorId
from ._message import (
    RpcReplyPort,
    SerializedCall,
    SerializedCast,
    SerializedMessage,
    message_family,
)
from ._ref import _new_ref
from ._supervision import ActorStatus, ActorTerminated

if TYPE_CHECKING:
    from ._ref import ActorRef

__all__ = ["RemoteNode"]

_log = logging.getLogger("ractor.core.remote")

_RUNNING = ActorStatus.RUNNING
_STOPPED = ActorStatus.STOPPED

# node id -> the table of that connection's actors (for where_is_pid)
_nodes: dict[int, RemoteNode] = {}


def serialize(ref: ActorRef[Any], msg: Any) -> SerializedMessage:
    """Serialize ``msg`` for the remote actor ``ref``.

    Raises:
        MessagingError: the message is not a cluster message, or its codec refused it.
    """
    serialize_ = getattr(msg, "serialize", None)
    if serialize_ is None:
        # a plain value as a whole message (str, bytes, ...): its registered family
        family = message_family(type(msg))
        plain = getattr(family, "serialize", None)
        if plain is not None:
            serialize_ = functools.partial(plain, msg)
    if serialize_ is None:
        raise MessagingError(
            f"actor {ref.id} is remote, and {type(msg).__name__} is not a cluster message "
            "(declare it with @cluster_message)",
            msg,
        )
    try:
        serialized: SerializedMessage = serialize_()
        return serialized
    except MessagingError:
        raise
    except Exception as exc:
        raise MessagingError(f"could not serialize {type(msg).__name__}: {exc}", msg) from exc


class RemoteNode(Cell):
    """The actors of one connected node, as this process sees them (for transports).

    Subclass it per connection and implement :meth:`transmit_cast` and
    :meth:`transmit_call`; :meth:`transmit_send` may wait (flow control). ``node_id`` must
    be unique in the process while the node is open (it is part of every ``ActorId``).
    """

    __slots__ = ("__weakref__", "_actors", "_closed", "_names", "_waiters", "_watchers",
                 "memberships", "node_id")

    def __init__(self, node_id: int) -> None:
        if node_id in _nodes:
            raise ValueError(f"node id {node_id} is already in use in this process")
        self.node_id = node_id
        self._actors: dict[int, ActorRef[Any]] = {}
        self._names: dict[int, str] = {}  # only the named ones
        self._watchers: dict[int, dict[ActorId, ActorRef[Any]]] = {}
        self._waiters: dict[int, list[asyncio.Future[None]]] = {}
        self._closed: str | None = None
        self.memberships = 0
        """How many (group, actor) memberships this node's actors hold here."""
        _nodes[node_id] = self

    # ------------------------------------------------------------------ the table

    def actor(self, pid: int, name: str | None = None) -> ActorRef[Any]:
        """The ref of actor ``pid`` of this node, made on first use (a known pid keeps its
        first name, as in Rust).

        Raises:
            MessagingError: the node is closed.
        """
        ref = self._actors.get(pid)
        if ref is not None:
            return ref
        if self._closed is not None:
            raise MessagingError(f"node {self.node_id} is closed ({self._closed})")
        ref = _new_ref(ActorId(pid, self.node_id), self)
        self._actors[pid] = ref
        if name is not None:
            self._names[pid] = name
        return ref

    def get(self, pid: int) -> ActorRef[Any] | None:
        """The ref of actor ``pid`` if this node advertised it and it is still there."""
        return self._actors.get(pid)

    def __len__(self) -> int:
        return len(self._actors)

    def __iter__(self) -> Iterator[ActorRef[Any]]:
        return iter(list(self._actors.values()))

    @property
    def closed(self) -> bool:
        """Whether the connection has ended (no actor is reachable any more)."""
        return self._closed is not None

    def terminate(self, pid: int, reason: str) -> ActorRef[Any] | None:
        """Actor ``pid`` is gone: its ref stops, leaves its groups, its monitors hear why."""
        ref = self._actors.pop(pid, None)
        if ref is None:
            return None
        name = self._names.pop(pid, None)
        ref._cell = _Gone(name, reason)
        self.memberships -= pg._on_actor_stopped(ref)
        watchers = self._watchers.pop(pid, None)
        if watchers:
            event = ActorTerminated(ref, None, reason)
            for watcher in watchers.values():
                watcher._cell.send_supervision(watcher, event)
        waiters = self._waiters.pop(pid, None)
        if waiters:
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)
        self.forget_calls(pid, f"remote actor {ref.id} terminated ({reason})")
        return ref

    def join_group(self, scope: str, group: str, refs: list[ActorRef[Any]]) -> int:
        """Add actors of this node to a process group (counted in ``memberships``)."""
        added = pg.join_scoped(scope, group, refs)
        self.memberships += added
        return added

    def leave_group(self, scope: str, group: str, refs: list[ActorRef[Any]]) -> int:
        """Remove actors of this node from a process group."""
        removed = pg.leave_scoped(scope, group, refs)
        self.memberships -= removed
        return removed

    def close(self, reason: str) -> None:
        """The connection ended: every actor of the node is gone, with ``reason``."""
        if self._closed is not None:
            return
        self._closed = reason
        for pid in list(self._actors):
            self.terminate(pid, reason)
        self._forget()

    async def close_in_slices(self, reason: str, slice_seconds: float = 0.01) -> None:
        """As :meth:`close`, letting other tasks run every ``slice_seconds`` (a node with
        hundreds of thousands of actors takes a while to forget)."""
        if self._closed is not None:
            return
        self._closed = reason
        started = time.monotonic()
        for i, pid in enumerate(list(self._actors)):
            self.terminate(pid, reason)
            if i & 255 == 255 and time.monotonic() - started > slice_seconds:
                await asyncio.sleep(0)
                started = time.monotonic()
        self._forget()

    def _forget(self) -> None:
        if _nodes.get(self.node_id) is self:
            del _nodes[self.node_id]

    # ------------------------------------------------------------------ transport hooks

    @abstractmethod
    def transmit_cast(self, pid: int, message: SerializedCast) -> None:
        """Put a cast to actor ``pid`` on the wire (never waits).

        Raises:
            MessagingError: it cannot be sent.
        """

    @abstractmethod
    def transmit_call(
        self,
        pid: int,
        message: SerializedCall,
        port: RpcReplyPort[Any],
        decode: Callable[[bytes], Any],
    ) -> None:
        """Put a call to actor ``pid`` on the wire; answer ``port`` with ``decode(reply)``.

        Raises:
            MessagingError: it cannot be sent (the port is then left unanswered).
        """

    async def transmit_send(self, pid: int, message: SerializedCast) -> None:
        """Put a cast on the wire, waiting while the connection is congested (a refusal
        because the node's outbound cap is reached is waited out too)."""
        while True:
            if self.congested:
                await self.uncongested(None)
            if pid not in self._actors:
                raise MessagingError(f"remote actor {self.node_id}.{pid} is gone")
            try:
                self.transmit_cast(pid, message)
                return
            except MailboxFull:
                await self.uncongested(None, len(message.args) + 64)

    @property
    def congested(self) -> bool:
        """Whether ``send`` and ``call`` should wait before transmitting (flow control;
        the default never is)."""
        return False

    async def uncongested(self, timeout: float | None, need: int = 0) -> None:
        """Wait until the connection takes messages again, ``need`` more bytes of them
        (``TimeoutError`` past ``timeout``; ``MessagingError`` if it closes)."""

    def forget_calls(self, pid: int, why: str) -> None:
        """Fail the calls waiting on actor ``pid`` (it is gone); the default has none."""

    # ------------------------------------------------------------------ Cell

    def status(self, ref: ActorRef[Any]) -> ActorStatus:
        """RUNNING while the node advertises the actor."""
        return _RUNNING

    def name(self, ref: ActorRef[Any]) -> str | None:
        """The name the node advertised the actor with."""
        return self._names.get(ref.id.pid)

    def accepting(self, ref: ActorRef[Any]) -> bool:
        """Messages are taken while the node advertises the actor."""
        return True

    def cast(self, ref: ActorRef[Any], msg: Any) -> None:
        """Serialize and transmit a cast."""
        # the common case first: a message that serializes itself into a cast
        serialize_ = getattr(msg, "serialize", None)
        serialized: Any = None
        if serialize_ is not None:
            try:
                serialized = serialize_()
            except Exception:
                serialized = None  # the general path below raises the right error
        if type(serialized) is not SerializedCast:
            serialized = serialize(ref, msg)
            if not isinstance(serialized, SerializedCast):
                raise MessagingError(
                    f"{type(msg).__name__} serializes as a call, not a cast", msg
                )
        try:
            self.transmit_cast(ref.id.pid, serialized)
        except MessagingError as exc:
            exc.unsent = msg
            raise

    async def send(self, ref: ActorRef[Any], msg: Any) -> None:
        """Serialize and transmit a cast, waiting while the connection is congested."""
        serialized = serialize(ref, msg)
        if not isinstance(serialized, SerializedCast):
            raise MessagingError(f"{type(msg).__name__} serializes as a call, not a cast", msg)
        try:
            await self.transmit_send(ref.id.pid, serialized)
        except MessagingError as exc:
            exc.unsent = msg
            raise

    async def wait_room(
        self, ref: ActorRef[Any], timeout: float | None, again: bool = False
    ) -> None:
        """Wait while the connection is congested (a call waits its turn)."""
        await self.uncongested(timeout)

    def put_call(self, ref: ActorRef[Any], msg: Any, port: RpcReplyPort[Any]) -> bool:
        """Serialize and transmit a call (False while the connection is congested); its
        reply is decoded by the message."""
        if self._actors.get(ref.id.pid) is not ref:
            raise MessagingError(f"remote actor {ref.id} is gone; the call was not sent", msg)
        if self.congested:
            return False
        serialized = serialize(ref, msg)
        if not isinstance(serialized, SerializedCall):
            raise MessagingError(f"{type(msg).__name__} serializes as a cast, not a call", msg)
        decode = getattr(msg, "decode_reply", None)
        if decode is None:
            raise MessagingError(f"{type(msg).__name__} has no decode_reply for its reply", msg)
        self.transmit_call(ref.id.pid, serialized, port, decode)
        return True

    def stop(self, ref: ActorRef[Any], reason: str | None) -> None:
        """Forget the actor here (its node is not told, as in Rust)."""
        self.terminate(ref.id.pid, reason or "stopped")

    def kill(self, ref: ActorRef[Any]) -> None:
        """Forget the actor here (its node is not told)."""
        self.terminate(ref.id.pid, "killed")

    def drain(self, ref: ActorRef[Any]) -> None:
        """Forget the actor here (nothing is queued locally)."""
        self.terminate(ref.id.pid, "Drained")

    async def wait(self, ref: ActorRef[Any], timeout: float | None) -> None:
        """Wait until the node says the actor terminated, or the connection ends."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        waiters = self._waiters.setdefault(ref.id.pid, [])
        waiters.append(fut)
        handle = None
        if timeout is not None:
            handle = asyncio.get_running_loop().call_later(timeout, _wait_expired, fut)
        try:
            await fut
        finally:
            if handle is not None:
                handle.cancel()
            with contextlib.suppress(ValueError):
                waiters.remove(fut)
            if not waiters and self._waiters.get(ref.id.pid) is waiters:
                del self._waiters[ref.id.pid]

    def watch(self, ref: ActorRef[Any], watcher: ActorRef[Any]) -> None:
        """Send ``watcher`` ``ActorTerminated`` when the actor goes away."""
        self._watchers.setdefault(ref.id.pid, {})[watcher.id] = watcher

    def unwatch(self, ref: ActorRef[Any], watcher: ActorRef[Any]) -> None:
        """Stop watching."""
        watchers = self._watchers.get(ref.id.pid)
        if watchers is not None:
            watchers.pop(watcher.id, None)
            if not watchers:
                del self._watchers[ref.id.pid]

    def __repr__(self) -> str:
        state = f"closed: {self._closed}" if self._closed else f"{len(self._actors)} actors"
        return f"<{type(self).__name__} node {self.node_id} ({state})>"


class _Gone(Cell):
    """The cell of a remote ref whose actor went away: everything refuses, waits end."""

    __slots__ = ("_name", "reason")

    def __init__(self, name: str | None, reason: str) -> None:
        self._name = name
        self.reason = reason

    def status(self, ref: ActorRef[Any]) -> ActorStatus:
        """STOPPED."""
        return _STOPPED

    def name(self, ref: ActorRef[Any]) -> str | None:
        """The name it had."""
        return self._name

    def accepting(self, ref: ActorRef[Any]) -> bool:
        """Never."""
        return False

    def _refuse(self, ref: ActorRef[Any], msg: Any) -> MessagingError:
        return MessagingError(f"remote actor {ref.id} is gone ({self.reason}); the message "
                              "was not sent", msg)

    def cast(self, ref: ActorRef[Any], msg: Any) -> None:
        """Refused."""
        raise self._refuse(ref, msg)

    async def send(self, ref: ActorRef[Any], msg: Any) -> None:
        """Refused."""
        raise self._refuse(ref, msg)

    def put_call(self, ref: ActorRef[Any], msg: Any, port: RpcReplyPort[Any]) -> bool:
        """Refused."""
        raise self._refuse(ref, msg)

    def stop(self, ref: ActorRef[Any], reason: str | None) -> None:
        """Already stopped."""

    def kill(self, ref: ActorRef[Any]) -> None:
        """Already stopped."""

    def drain(self, ref: ActorRef[Any]) -> None:
        """Already stopped."""

    async def wait(self, ref: ActorRef[Any], timeout: float | None) -> None:
        """Already stopped."""

    def watch(self, ref: ActorRef[Any], watcher: ActorRef[Any]) -> None:
        """Nothing more will happen."""

    def unwatch(self, ref: ActorRef[Any], watcher: ActorRef[Any]) -> None:
        """Nothing to undo."""


def lookup(actor_id: ActorId) -> ActorRef[Any] | None:
    """The live remote ref with this id, if its node is connected."""
    node_id = actor_id.node_id
    if node_id is None:
        return None
    node = _nodes.get(node_id)
    return None if node is None else node.get(actor_id.pid)


def _clear() -> None:
    """Forget every node (for test isolation)."""
    for node in list(_nodes.values()):
        node.close("cleared")
    _nodes.clear()
