"""A transport for core tests: a ``RemoteNode`` whose wire is a list, or a local actor.

``Recording`` keeps what would go on the wire. ``Loopback`` hands every message to a local
actor through the transport seam (decode, offer), as a node session does with frames, and
answers calls with the reply bytes decoded by the caller's message, as a CallReply would be.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from ractor_core import ActorRef, MessagingError, RpcReplyPort
from ractor_core.transport import (
    RemoteNode,
    SerializedCall,
    SerializedCast,
    decode,
    drop_port,
    offer,
)

_node_ids = itertools.count(1000)


class Recording(RemoteNode):
    """Keeps the casts and calls it is asked to transmit."""

    def __init__(self) -> None:
        super().__init__(next(_node_ids))
        self.casts: list[tuple[int, SerializedCast]] = []
        self.calls: list[tuple[int, SerializedCall, RpcReplyPort[Any], Callable[[bytes], Any]]] = []

    def transmit_cast(self, pid: int, message: SerializedCast) -> None:
        """Record a cast."""
        self.casts.append((pid, message))

    def transmit_call(
        self,
        pid: int,
        message: SerializedCall,
        port: RpcReplyPort[Any],
        decode: Callable[[bytes], Any],
    ) -> None:
        """Record a call."""
        self.calls.append((pid, message, port, decode))

    def forget_calls(self, pid: int, why: str) -> None:
        """Drop the ports of calls to ``pid``."""
        for call in [c for c in self.calls if c[0] == pid]:
            self.calls.remove(call)
            drop_port(call[2], why)


class _BytesPort(RpcReplyPort[Any]):
    """The callee side's port: encodes the reply and answers the caller's port with bytes."""

    def __init__(
        self, target: RpcReplyPort[Any], encode: Callable[[Any], bytes],
        decode: Callable[[bytes], Any],
    ) -> None:
        self.target = target
        self.encode = encode
        self.decode = decode
        self.answered = False

    @property
    def timeout(self) -> float | None:
        return self.target.timeout

    @property
    def is_closed(self) -> bool:
        return self.answered or self.target.is_closed

    def send(self, value: Any) -> bool:
        self.answered = True
        return self.target.send(self.decode(self.encode(value)))

    def _fail(self, error: Any) -> None:
        self.answered = True


class Loopback(Recording):
    """Delivers to a local actor as a node session would (``pid`` is ignored)."""

    def __init__(self, target: ActorRef[Any]) -> None:
        super().__init__()
        self.target = target

    def transmit_cast(self, pid: int, message: SerializedCast) -> None:
        """Decode and queue the cast for the target."""
        super().transmit_cast(pid, message)
        msg = decode(self.target, SerializedCast(message.variant, bytes(message.args)))
        if not offer(self.target, msg):
            raise MessagingError("the loopback target's mailbox is full", msg)

    def transmit_call(
        self,
        pid: int,
        message: SerializedCall,
        port: RpcReplyPort[Any],
        decode_reply: Callable[[bytes], Any],
    ) -> None:
        """Decode and queue the call; the reply crosses back as bytes. The caller's port is
        kept (in ``calls``) until answered, as a session keeps it in its pending table."""
        super().transmit_call(pid, message, port, decode_reply)
        msg = decode(self.target, SerializedCall(message.variant, bytes(message.args)))
        if not offer(self.target, msg, _BytesPort(port, msg.encode_reply, decode_reply)):
            raise MessagingError("the loopback target's mailbox is full", msg)
