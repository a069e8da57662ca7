"""Remote actors: the local stand-ins of another node's actors, and how to find them.

A ``RemoteActor`` receives the serialized messages sent to its ``ActorRef`` (whose id is
remote: ``(node_id, pid)``), writes them as Cast / Call frames on its session, and matches
CallReply frames back to the waiting callers by tag.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, TypeVar

from ractor_core import (
    Actor,
    ActorRef,
    MessagingError,
    RpcReplyPort,
    SerializedCall,
    SerializedCast,
    SerializedMessage,
    all_actors,
    message_family,
)

from ._wire import encode_call, encode_cast

__all__ = ["RemoteActor", "as_remote", "remote_actors"]

M = TypeVar("M")

_log = logging.getLogger("ractor.cluster.remote_actor")
_U64_MAX = (1 << 64) - 1


class _Link(Protocol):
    def send_frame(self, payload: bytes) -> None: ...


class RemoteActor(Actor[SerializedMessage, None, None]):
    """Stands for actor ``pid`` of the peer behind one session (built by the session)."""

    def __init__(self, link: _Link, pid: int) -> None:
        self.link = link
        self.pid = pid
        self.tag = 0
        self.pending: dict[int, RpcReplyPort[bytes]] = {}
        self.sweep_at = 64

    async def pre_start(self, myself: ActorRef[SerializedMessage], args: None) -> None:
        """Nothing to build: the state lives on the instance."""
        return None

    async def handle(
        self, myself: ActorRef[SerializedMessage], message: SerializedMessage, state: None
    ) -> None:
        """Write a cast or a call to the wire (messages that waited in the mailbox)."""
        self.handle_now(message)

    def handle_now(self, message: SerializedMessage) -> None:
        """Write a cast or a call to the wire at once (the runtime's direct path)."""
        if isinstance(message, SerializedCast):
            self.link.send_frame(
                encode_cast(self.pid, message.args, message.variant, message.metadata)
            )
        elif isinstance(message, SerializedCall):
            port = message.reply
            timeout = port.timeout
            # u64 on the wire: a longer timeout than 2**64 ms is as good as none at all
            timeout_ms = None if timeout is None else min(int(timeout * 1000), _U64_MAX)
            self.tag += 1
            tag = self.tag
            frame = encode_call(self.pid, message.args, tag, timeout_ms, message.variant,
                                message.metadata)
            pending = self.pending
            if len(pending) >= self.sweep_at:
                # drop the entries of callers that gave up (timed out), now and then: the
                # threshold doubles with what is really pending, so this stays O(1) per call
                for stale in [t for t, p in pending.items() if p.is_closed]:
                    del pending[stale]
                self.sweep_at = max(64, 2 * len(pending))
            pending[tag] = port
            try:
                self.link.send_frame(frame)
            except BaseException:
                pending.pop(tag, None)
                raise

    def reply(self, tag: int, data: bytes) -> None:
        """Answer the call ``tag`` with the reply bytes; unknown and late tags are ignored."""
        port = self.pending.pop(tag, None)
        if port is not None:
            port.send(data)

    def release(self) -> None:
        """The stand-in stopped (its session ended, or it was killed): fail waiting calls."""
        self.fail_pending(f"remote actor {self.pid} is no longer reachable")

    def fail_pending(self, why: str) -> None:
        """Fail every waiting call at once (the connection is gone)."""
        pending, self.pending = self.pending, {}
        for port in pending.values():
            port._drop(why)


def remote_actors(name: str | None = None) -> list[ActorRef[Any]]:
    """The remote actors this node knows (optionally only those advertised as ``name``)."""
    return [
        ref
        for ref in all_actors()
        if not ref.id.is_local and ref.is_alive and (name is None or ref.name == name)
    ]


def as_remote(ref: ActorRef[Any], message_type: type[M] | Any) -> ActorRef[M]:
    """Type a remote actor's ref with the message type it takes, after checking what can be.

    The wire carries no message types, so this checks that ``ref`` is a live remote actor
    and that ``message_type`` can be serialized (a ``@cluster_message`` family, a union of
    its variants, or a plain type such as ``str``). Agreeing on the type with the peer is the
    application's part, as in Rust.

    Raises:
        MessagingError: ``ref`` is local or stopped, or ``message_type`` cannot go on the wire.
    """
    if ref.id.is_local:
        raise MessagingError(f"{ref} is a local actor, not a remote one")
    if not ref.is_alive:
        raise MessagingError(f"{ref} has stopped (its node disconnected or it terminated)")
    if message_family(message_type) is None:
        raise MessagingError(
            f"{message_type!r} is not a cluster message type (declare it with @cluster_message)"
        )
    return ref
