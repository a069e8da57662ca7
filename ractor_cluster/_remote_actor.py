"""Remote actors: a peer's actors as one table per session, and how to find them.

A session keeps a :class:`PeerActors` table (a ``ractor_core.transport.RemoteNode``): the
peer's advertised actors are entries in it, and their ``ActorRef``s are handles bound to it,
with no task and no mailbox. Casts and calls on such a ref are written as Cast / Call frames
on the session; CallReply frames are matched back to the waiting callers by tag (the
calling side of remote messaging, docs/protocol.md §5.2).
"""

from __future__ import annotations

import logging
import time
import types
import typing
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, overload

from ractor_core import ActorRef, CallError, MessagingError, RpcReplyPort
from ractor_core.transport import (
    RemoteNode,
    SerializedCall,
    SerializedCast,
    drop_port,
    fail_port,
    message_family,
)

from ._outbound import Outbound
from ._protocol import SessionProtocol
from ._wire import cast_frame

__all__ = ["PeerActors", "as_remote", "remote_actors"]

M = TypeVar("M")

_log = logging.getLogger("ractor.cluster.remote_actor")
_U64_MAX = (1 << 64) - 1

# node id -> the table of each open session
_peers: dict[int, PeerActors] = {}

call_latency: list[Callable[[float], None]] = []
"""Observers of remote call round trips in seconds (metrics); empty: calls are not timed."""

SendHook = Callable[["PeerActors", "bytes | None"], "bytes | None"]
"""Sees every cast and call sent (its peer table and metadata) and returns the metadata to
send (metrics count, tracing adds the trace context)."""
send_hook: SendHook | None = None  # every hook of _send_hooks in turn; None: none at all
_send_hooks: list[SendHook] = []

ReceiveHook = Callable[[Any, bytes, str, str], None]
"""Sees every decoded cast and call that came with metadata: (message, metadata, arm,
variant) (tracing)."""
receive_hook: ReceiveHook | None = None


def add_send_hook(hook: SendHook) -> None:
    """Run ``hook`` on every cast and call sent from now on."""
    _send_hooks.append(hook)
    _compose()


def remove_send_hook(hook: SendHook) -> None:
    """Stop running ``hook``."""
    if hook in _send_hooks:
        _send_hooks.remove(hook)
    _compose()


def _compose() -> None:
    global send_hook
    hooks = tuple(_send_hooks)
    if not hooks:
        send_hook = None
    elif len(hooks) == 1:
        send_hook = hooks[0]
    else:
        def composed(peer: PeerActors, metadata: bytes | None) -> bytes | None:
            for hook in hooks:
                metadata = hook(peer, metadata)
            return metadata

        send_hook = composed


class _Link(Protocol):
    """What PeerActors needs of its session."""

    @property
    def out(self) -> Outbound | None: ...

    @property
    def proto(self) -> SessionProtocol: ...

    def calls_waiting(self) -> None: ...


class PeerActors(RemoteNode):
    """The actors a peer advertised on one session, and the calls waiting on them.

    Call tags count up from 1 per session (unique among the session's outstanding calls,
    which is all the peer needs: it echoes them); replies are matched on (to, tag).
    """

    def __init__(self, link: _Link, node_id: int) -> None:
        super().__init__(node_id)
        self.link = link
        self.tag = 0
        self.pending: dict[int, tuple[int, RpcReplyPort[Any], Callable[[bytes], Any]]] = {}
        self.calls_to: dict[int, int] = {}  # pid -> number of its pending calls
        self.sweep_at = 64
        self.messages_out = 0  # casts and calls written (counted by the metrics' send hook)
        self.call_started: dict[int, float] = {}  # tag -> when, while calls are timed
        _peers[node_id] = self

    def _out(self) -> Outbound:
        out = self.link.out
        if out is None or out.closed:
            raise MessagingError(f"the connection to node {self.node_id} is closed")
        return out

    def transmit_cast(self, pid: int, message: SerializedCast) -> None:
        """Write a Cast frame (or queue it while the peer is slow).

        Raises:
            MailboxFull: the node's outbound cap is reached.
            MessagingError: the connection is closed.
        """
        out = self.link.out
        if out is None or out.closed:
            raise MessagingError(f"the connection to node {self.node_id} is closed")
        metadata = message.metadata
        if send_hook is not None:
            metadata = send_hook(self, metadata)
        out.cast(pid, cast_frame(pid, message.args, message.variant, metadata))

    @property
    def congested(self) -> bool:
        """Whether casts queue beyond the session's high-water mark (send and call wait)."""
        out = self.link.out
        return out is not None and out.congested

    async def uncongested(self, timeout: float | None, need: int = 0) -> None:
        """Wait until the session's queued casts are below its low-water mark (and the
        node's cap has ``need`` bytes free)."""
        await self._out().room(timeout, need)

    def transmit_call(
        self,
        pid: int,
        message: SerializedCall,
        port: RpcReplyPort[Any],
        decode: Callable[[bytes], Any],
    ) -> None:
        """Write a Call frame and remember who waits for its reply."""
        timeout = port.timeout
        # u64 on the wire: a longer timeout than 2**64 ms is as good as none at all
        timeout_ms = None if timeout is None else min(int(timeout * 1000), _U64_MAX)
        out = self._out()
        self.tag += 1
        tag = self.tag
        metadata = message.metadata
        if send_hook is not None:
            metadata = send_hook(self, metadata)
        frame = self.link.proto.call(pid, message.args, tag, timeout_ms, message.variant,
                                     metadata)
        pending = self.pending
        if len(pending) >= self.sweep_at:
            self._sweep()
        pending[tag] = (pid, port, decode)
        self.calls_to[pid] = self.calls_to.get(pid, 0) + 1
        self.link.calls_waiting()
        try:
            out.call(pid, frame)
        except BaseException:
            self._take(tag)
            raise
        if call_latency:
            self.call_started[tag] = time.perf_counter()

    def _sweep(self) -> None:
        """Drop the entries of callers that gave up (timed out), now and then: the threshold
        doubles with what is really pending, so this stays O(1) per call."""
        for stale in [t for t, (_, p, _) in self.pending.items() if p.is_closed]:
            self._take(stale)
        self.sweep_at = max(64, 2 * len(self.pending))
        if self.call_started:
            self.call_started = {t: v for t, v in self.call_started.items() if t in self.pending}

    def _take(self, tag: int) -> tuple[int, RpcReplyPort[Any], Callable[[bytes], Any]] | None:
        entry = self.pending.pop(tag, None)
        if entry is not None:
            pid = entry[0]
            left = self.calls_to[pid] - 1
            if left:
                self.calls_to[pid] = left
            else:
                del self.calls_to[pid]
        return entry

    def reply(self, to: int, tag: int, data: bytes) -> None:
        """Answer call ``tag`` to actor ``to``; unknown, mismatched and late tags are ignored."""
        entry = self.pending.get(tag)
        if entry is None or entry[0] != to:
            return
        self._take(tag)
        _, port, decode = entry
        if self.call_started:
            started = self.call_started.pop(tag, None)
            if started is not None:
                elapsed = time.perf_counter() - started
                for observe in call_latency:
                    observe(elapsed)
        try:
            value = decode(data)
        except Exception as exc:
            fail_port(port, CallError(f"the reply from remote actor {self.node_id}.{to} could "
                                      f"not be decoded: {exc}"))
            return
        port.send(value)

    def forget_calls(self, pid: int, why: str) -> None:
        """Fail the calls waiting on actor ``pid`` (it terminated)."""
        if pid not in self.calls_to:
            return
        for tag in [t for t, entry in self.pending.items() if entry[0] == pid]:
            entry = self._take(tag)
            if entry is not None:
                drop_port(entry[1], why)

    def close(self, reason: str) -> None:
        """The session ended: every actor is gone and every waiting call fails now."""
        self._fail_calls(reason)
        super().close(reason)

    async def close_in_slices(self, reason: str, slice_seconds: float = 0.01) -> None:
        """As :meth:`close`; the waiting calls fail at once, the actors go in slices."""
        self._fail_calls(reason)
        await super().close_in_slices(reason, slice_seconds)

    def _fail_calls(self, reason: str) -> None:
        if _peers.get(self.node_id) is self:
            del _peers[self.node_id]
        pending, self.pending = self.pending, {}
        self.calls_to.clear()
        why = f"the connection to node {self.node_id} was lost ({reason})"
        for _, port, _ in pending.values():
            drop_port(port, why)


def remote_actors(name: str | None = None) -> list[ActorRef[Any]]:
    """The remote actors this node knows (optionally only those advertised as ``name``)."""
    found: list[ActorRef[Any]] = []
    for node_id in sorted(_peers):
        for ref in _peers[node_id]:
            if name is None or ref.name == name:
                found.append(ref)
    return found


@overload
def as_remote(ref: ActorRef[Any], message_type: type[ActorRef[M]]) -> ActorRef[M]: ...
@overload
def as_remote(ref: ActorRef[Any], message_type: type[M]) -> ActorRef[M]: ...
@overload
def as_remote(ref: ActorRef[Any], message_type: types.UnionType) -> ActorRef[Any]: ...
def as_remote(ref: ActorRef[Any], message_type: object) -> ActorRef[Any]:
    """Type a remote actor's ref with the message type it takes, after checking what can be.

    ``as_remote(ref, ActorRef[BankMsg])`` gives an ``ActorRef[BankMsg]`` for any message type,
    a union alias such as ``BankMsg = Deposit | Balance`` included, under mypy and pyright
    alike; a class can be passed as it is (``as_remote(ref, Bank)``, ``as_remote(ref, str)``).
    A bare union alias (``as_remote(ref, BankMsg)``) is accepted too, but type checkers see
    the alias as a value (a ``types.UnionType``) there and the result is an ``ActorRef[Any]``.

    The wire carries no message types, so this checks that ``ref`` is a live remote actor
    and that the message type can be serialized (a ``@cluster_message`` family, a union of
    its variants, or a plain type such as ``str``). Agreeing on the type with the peer is the
    application's part, as in Rust.

    Raises:
        MessagingError: ``ref`` is local or stopped, or the message type cannot go on the wire.
    """
    if typing.get_origin(message_type) is ActorRef:
        (message_type,) = typing.get_args(message_type)
    if ref.id.is_local:
        raise MessagingError(f"{ref} is a local actor, not a remote one")
    if not ref.is_alive:
        raise MessagingError(f"{ref} has stopped (its node disconnected or it terminated)")
    if message_family(message_type) is None:
        raise MessagingError(
            f"{message_type!r} is not a cluster message type (declare it with @cluster_message)"
        )
    return ref
