"""What a transport (``ractor_cluster``, or your own) needs from the runtime.

Applications do not need this module; it is the seam between the actor runtime and
whatever carries messages between processes:

- the serialized form of messages (:class:`SerializedCast`, :class:`SerializedCall`) and
  the families that decode them (:class:`MessageFamily`, :func:`message_family`,
  :func:`register_message_family`);
- :class:`RemoteNode`, the table of one connected node's actors, whose refs are handles
  with no task and no mailbox: subclass it and implement ``transmit_cast`` /
  ``transmit_call``;
- delivery into local mailboxes that never blocks and never drops silently:
  :func:`decode` a serialized message for a local actor, :func:`offer` it (False when the
  bounded mailbox is full, nothing queued), :func:`wait_room` until it can be offered again;
- reply ports: subclass :class:`~ractor_core.RpcReplyPort` for callers on the wire;
  :func:`fail_port` / :func:`drop_port` end a call that will not be answered.

Back-pressure contract: a transport that gets a message for a full mailbox keeps it (in
order, with every later message for that actor), stops reading from the connection once it
holds more than its budget, and offers it again after :func:`wait_room`. Call replies and
control traffic do not go through mailboxes and are never held behind it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, final

from ._cell import ActorCell, HandleWrapper, handle_wrappers
from ._errors import CallError, MessagingError, ReplyDropped
from ._message import (
    MessageFamily,
    RpcReplyPort,
    SerializedCall,
    SerializedCast,
    SerializedMessage,
    _Envelope,
    message_family,
    register_message_family,
)
from ._ref import ActorRef
from ._remote import RemoteNode

__all__ = [
    "Inbox",
    "MessageFamily",
    "RemoteNode",
    "SerializedCall",
    "SerializedCast",
    "SerializedMessage",
    "decode",
    "drop_port",
    "fail_port",
    "local_family",
    "message_family",
    "offer",
    "register_message_family",
    "unwrap_handle",
    "wait_room",
    "wrap_handle",
]


def _local(ref: ActorRef[Any]) -> ActorCell:
    cell = ref._cell
    if not isinstance(cell, ActorCell):
        raise MessagingError(f"{ref} is not a local actor")
    return cell


def local_family(ref: ActorRef[Any]) -> MessageFamily | None:
    """The family that decodes messages for the local actor ``ref`` (None: local only)."""
    cell = ref._cell
    return cell.family() if isinstance(cell, ActorCell) else None


def decode(ref: ActorRef[Any], message: SerializedMessage) -> Any:
    """Decode a message from another node for the local actor ``ref``.

    Raises:
        MessagingError: ``ref`` is not a local actor that takes messages from other nodes.
        Exception: the family's decoding error, for a malformed message.
    """
    family = _local(ref).family()
    if family is None:
        raise MessagingError(f"actor {ref.id} does not take messages from other nodes", message)
    return family.deserialize(message)


def offer(ref: ActorRef[Any], message: Any, port: RpcReplyPort[Any] | None = None) -> bool:
    """Put ``message`` (with ``port`` when it is a call) into the mailbox of the local actor
    ``ref`` if there is room. False when the bounded mailbox is full: nothing was queued.

    Raises:
        MessagingError: the actor no longer takes messages.
    """
    cell = _local(ref)
    return cell.offer(message if port is None else _Envelope(message, port))


async def wait_room(ref: ActorRef[Any], timeout: float | None = None) -> None:
    """Wait until the mailbox of the local actor ``ref`` has room (waiters go in turn).

    Raises:
        MessagingError: the actor stopped meanwhile.
        TimeoutError: no room within ``timeout`` seconds.
    """
    await _local(ref).wait_room(ref, timeout)


@final
class Inbox:
    """Delivery into one local actor from another node, its message family resolved once
    (the fast path of :func:`decode` and :func:`offer` for a transport's hot loop).

    A family may offer ``__ractor_casts__`` and ``__ractor_calls__``, mappings from a variant
    to the decoder of its arguments; what they list skips ``deserialize`` (``ractor_derive``
    families do).
    """

    __slots__ = ("_calls", "_casts", "_cell", "_family", "offer_cast", "ref")

    def __init__(self, ref: ActorRef[Any]) -> None:
        cell = _local(ref)
        family = cell.family()
        if family is None:
            raise MessagingError(f"actor {ref.id} does not take messages from other nodes")
        self.ref = ref
        self._cell = cell
        self._family = family
        casts = getattr(family, "__ractor_casts__", None)
        self._casts: Mapping[str, Callable[[bytes], Any]] = casts if casts is not None else {}
        calls = getattr(family, "__ractor_calls__", None)
        self._calls: Mapping[str, Callable[[bytes], Any]] = calls if calls is not None else {}
        self.offer_cast: Callable[[Any], bool] = cell.offer
        """``offer`` for a cast (no port), in one call."""

    def decode_cast(self, variant: str, args: bytes, metadata: bytes | None = None) -> Any:
        """Decode a cast (raises the family's error for a malformed one)."""
        decode = self._casts.get(variant)
        if decode is not None:
            return decode(args)
        return self._family.deserialize(SerializedCast(variant, args, metadata))

    def decode_call(self, variant: str, args: bytes, metadata: bytes | None = None) -> Any:
        """Decode a call (raises the family's error for a malformed one)."""
        decode = self._calls.get(variant)
        if decode is not None:
            return decode(args)
        return self._family.deserialize(SerializedCall(variant, args, metadata))

    def offer(self, message: Any, port: RpcReplyPort[Any] | None = None) -> bool:
        """As :func:`offer`: into the mailbox if there is room; False when it is full.

        Raises:
            MessagingError: the actor no longer takes messages.
        """
        return self._cell.offer(message if port is None else _Envelope(message, port))


def fail_port(port: RpcReplyPort[Any], error: CallError) -> None:
    """End the call of ``port`` with ``error`` instead of a reply."""
    port._fail(error)


def drop_port(port: RpcReplyPort[Any], why: str) -> None:
    """End the call of ``port`` with ``ReplyDropped(why)``: it will not be answered."""
    port._fail(ReplyDropped(why))


def wrap_handle(wrapper: HandleWrapper) -> None:
    """Wrap the ``handle`` of every actor that starts from now on (``wrapper(handle)`` is
    called once per actor and returns the coroutine function its loop calls instead; e.g.
    to run messages from other nodes in a tracing span)."""
    if wrapper not in handle_wrappers:
        handle_wrappers.append(wrapper)


def unwrap_handle(wrapper: HandleWrapper) -> None:
    """Stop wrapping the handlers of actors that start from now on."""
    if wrapper in handle_wrappers:
        handle_wrappers.remove(wrapper)
