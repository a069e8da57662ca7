"""The message protocol: rpc messages, reply ports, and the serialized form of messages.

A message is any Python object. An *rpc* message subclasses :class:`Call` with its reply
type, ``class Get(Call[int])``; ``ActorRef.call`` attaches an :class:`RpcReplyPort` to it,
which the handler reaches as ``message.reply``.

A *cluster* message type can leave the process: its instances ``serialize()`` into a
:data:`SerializedMessage`, and its family ``deserialize()`` one back. ``ractor_derive`` derives
both; ``ractor_cluster`` moves them over the wire. Nothing here knows a wire format.
"""

from __future__ import annotations

import asyncio
import logging
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, Self, TypeAlias, TypeVar, final, runtime_checkable

from ._errors import CallError, ReplyDropped, ReplyPortError

__all__ = [
    "BytesConvertable",
    "Call",
    "MessageFamily",
    "bind_reply",
    "decoding_port",
    "encoding_port",
    "RpcReplyPort",
    "SerializedCall",
    "SerializedCallReply",
    "SerializedCast",
    "SerializedMessage",
    "message_family",
    "register_message_family",
    "reply_channel",
    "reply_sink",
]

R = TypeVar("R")
_log = logging.getLogger("ractor.core.rpc")

_TOKEN = object()


@final
class RpcReplyPort(Generic[R]):
    """The one-shot port on which a called actor sends its reply (built only by the runtime).

    Answer with ``send(value)``, now or later; the port may be kept or forwarded. A port
    that is discarded unanswered fails the waiting call with :class:`ReplyDropped`.
    """

    __slots__ = ("_answered", "_convert", "_decoding", "_fut", "_target", "timeout")

    def __init__(
        self,
        token: object,
        fut: asyncio.Future[Any] | None,
        timeout: float | None = None,
        *,
        convert: Callable[[Any], Any] | None = None,
        target: RpcReplyPort[Any] | None = None,
        decoding: bool = False,
    ) -> None:
        if token is not _TOKEN:
            raise TypeError("RpcReplyPort is built by the runtime; use ActorRef.call()")
        self._fut = fut
        self._answered = False
        self._convert = convert
        self._target = target
        self._decoding = decoding
        self.timeout = timeout

    @property
    def is_closed(self) -> bool:
        """Whether the caller no longer waits (answered, timed out, or gave up)."""
        if self._answered:
            return True
        if self._target is not None:
            return self._target.is_closed
        fut = self._fut
        if fut is None:
            return self._convert is None  # a sink port stays open until answered
        return fut.done()

    def send(self, value: R) -> bool:
        """Send the reply; returns False when the caller no longer waits.

        Raises:
            ReplyPortError: the port was already answered.
        """
        if self._answered:
            raise ReplyPortError("this reply port was already answered; a port replies once")
        self._answered = True
        convert = self._convert
        target = self._target
        if target is not None:
            if convert is not None:
                if self._decoding:
                    # bytes from another node: a decoding error fails the caller, not us
                    try:
                        value = convert(value)
                    except Exception as exc:
                        target._fail(CallError(f"the reply could not be decoded: {exc!r}"))
                        return False
                else:
                    # a typed reply going to another node: a value of the wrong type is the
                    # handler's bug, so the error is raised to it
                    value = convert(value)
            return target.send(value)
        fut = self._fut
        if fut is None:
            # a sink port (reply_sink): the callback takes the value at once
            return bool(convert(value)) if convert is not None else False
        if fut.done():
            return False
        fut.set_result(value)
        return True

    def _fail(self, error: BaseException) -> None:
        self._answered = True
        if self._target is not None:
            self._target._fail(error)
            return
        fut = self._fut
        if fut is not None and not fut.done():
            try:
                fut.set_exception(error)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass

    def _drop(self, why: str) -> None:
        """Fail the waiting caller because the port will never be answered."""
        if not self._answered:
            self._fail(ReplyDropped(why))

    def __del__(self) -> None:
        if not self._answered:
            self._drop("the reply port was discarded without an answer")

    def __repr__(self) -> str:
        state = "answered" if self._answered else "open"
        return f"<RpcReplyPort {state} timeout={self.timeout}>"


def _new_port(fut: asyncio.Future[Any] | None, timeout: float | None = None) -> RpcReplyPort[Any]:
    return RpcReplyPort(_TOKEN, fut, timeout)


def reply_channel(timeout: float | None = None) -> tuple[RpcReplyPort[Any], asyncio.Future[Any]]:
    """A reply port and the future its answer resolves (for transports; needs a running loop).

    The counterpart of Rust's ``oneshot`` + ``RpcReplyPort::from``: a transport hands the
    port to a local actor and awaits the future. A port discarded unanswered fails the future
    with ``ReplyDropped``.
    """
    fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    return RpcReplyPort(_TOKEN, fut, timeout), fut


def reply_sink(
    deliver: Callable[[Any], bool], timeout: float | None = None
) -> RpcReplyPort[Any]:
    """A reply port that hands its answer to ``deliver`` at once (for transports).

    ``deliver`` returns whether the answer went anywhere. A discarded port calls nothing:
    the transport sends no reply, as Rust's does.
    """
    return RpcReplyPort(_TOKEN, None, timeout, convert=deliver)


def decoding_port(target: RpcReplyPort[R], decode: Callable[[bytes], R]) -> RpcReplyPort[bytes]:
    """A port taking encoded reply bytes, decoding them, and answering ``target``.

    A decoding failure fails the waiting caller with ``CallError``. Used by cluster messages
    sent to remote actors.
    """
    return RpcReplyPort(_TOKEN, None, target.timeout, convert=decode, target=target, decoding=True)


def encoding_port(target: RpcReplyPort[bytes], encode: Callable[[R], bytes]) -> RpcReplyPort[R]:
    """A typed port whose replies are encoded and sent on to the bytes port ``target``.

    Used when a serialized call from another node is delivered to a local actor.
    """
    return RpcReplyPort(_TOKEN, None, target.timeout, convert=encode, target=target)


def bind_reply(message: Call[R], port: RpcReplyPort[R]) -> None:
    """Attach ``port`` to an rpc message, as ``call`` does (for codecs and transports)."""
    _REPLY_SLOT.__set__(message, port)


class Call(Generic[R]):
    """Base of rpc messages: ``class Get(Call[int])`` is answered with an ``int``.

    ``ActorRef.call`` attaches the reply port, which the handler reads as ``message.reply``.
    The runtime detaches the port from the message once ``handle`` returns, so a handler
    that answers later keeps the *port*, not the message.
    """

    __slots__ = ("_ractor_reply",)

    @property
    def reply(self) -> RpcReplyPort[R]:
        """The reply port of this call.

        Raises:
            ReplyPortError: the message was not sent with ``call`` or its handler returned.
        """
        port: RpcReplyPort[R] | None = getattr(self, "_ractor_reply", None)
        if port is None:
            raise ReplyPortError(
                f"{type(self).__name__} carries no reply port: it was not sent with "
                "ActorRef.call(), or its handler already returned (keep message.reply, "
                "not the message, to answer later)"
            )
        return port

    def __copy__(self) -> Self:
        """Copy the message's fields, without its reply port."""
        cls = type(self)
        new = object.__new__(cls)
        fields = getattr(self, "__dict__", None)
        if fields:
            new.__dict__.update(fields)
        for klass in cls.__mro__:
            slots = klass.__dict__.get("__slots__", ())
            for slot in (slots,) if isinstance(slots, str) else slots:
                if slot in ("_ractor_reply", "__dict__", "__weakref__"):
                    continue
                try:
                    value = object.__getattribute__(self, slot)
                except AttributeError:
                    continue
                object.__setattr__(new, slot, value)
        return new


_REPLY_SLOT: Any = Call.__dict__["_ractor_reply"]


# --------------------------------------------------------------------------- serialized
# Plain (not frozen) slotted dataclasses: they are built for every message that crosses a
# node boundary, and a frozen dataclass's __init__ costs twice as much. Treat them as values.


@dataclass(slots=True)
class SerializedCast:
    """A cast in serialized form: variant tag, packed arguments, optional metadata."""

    variant: str
    args: bytes
    metadata: bytes | None = None


@dataclass(slots=True)
class SerializedCall:
    """A call in serialized form; the reply port takes the encoded reply bytes."""

    variant: str
    args: bytes
    reply: RpcReplyPort[bytes]
    metadata: bytes | None = None


@dataclass(slots=True)
class SerializedCallReply:
    """The encoded reply to a call, matched to its caller by ``tag``."""

    tag: int
    data: bytes


SerializedMessage: TypeAlias = SerializedCast | SerializedCall | SerializedCallReply


@runtime_checkable
class BytesConvertable(Protocol):
    """A value with a byte encoding: the counterpart of Rust ractor's ``BytesConvertable``."""

    def into_bytes(self) -> bytes:
        """Encode this value."""
        ...

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Decode a value; raise on malformed input."""
        ...


class MessageFamily(Protocol):
    """What a remotable message type provides to the runtime: decoding a serialized message.

    Instances of the family provide ``serialize() -> SerializedMessage``; rpc variants also
    provide ``encode_reply(value) -> bytes`` and ``decode_reply(data) -> R``.
    """

    def deserialize(self, message: SerializedMessage, /) -> Any:
        """Rebuild a message from its serialized form; raise on malformed input."""
        ...


_families: dict[Any, MessageFamily] = {}


def register_message_family(tp: Any, family: MessageFamily) -> None:
    """Declare how messages of type ``tp`` (a class or a union) are deserialized."""
    _families[tp] = family


def message_family(tp: Any) -> MessageFamily | None:
    """Return the family that deserializes messages of type ``tp``, or None if local-only."""
    if tp is None:
        return None
    try:
        found = _families.get(tp)
    except TypeError:  # unhashable annotation
        found = None
    if found is not None:
        return found
    if hasattr(tp, "__ractor_family__"):  # a derived message type says it (None: local only)
        return typing.cast("MessageFamily | None", tp.__ractor_family__)
    if isinstance(tp, types.UnionType) or typing.get_origin(tp) is typing.Union:
        members = {getattr(arg, "__ractor_family__", None) for arg in typing.get_args(tp)}
        if len(members) == 1:
            (one,) = members
            if one is not None:
                return typing.cast(MessageFamily, one)
        return None
    if callable(getattr(tp, "deserialize", None)):
        return typing.cast(MessageFamily, tp)
    return None
