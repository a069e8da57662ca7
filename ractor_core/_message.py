"""The message protocol: rpc messages, reply ports, envelopes, and serialized messages.

A message is any Python object. An *rpc* message subclasses :class:`Call` with its reply
type, ``class Get(Call[int])``. ``ActorRef.call`` puts the message into the mailbox in an
envelope together with one reply port; the message object itself is never touched, so it
may be frozen, slotted, shared, or sent again. While ``handle`` runs, ``message.reply`` finds
the port of the envelope being handled.

A *cluster* message type can leave the process: its instances ``serialize()`` into a
:data:`SerializedMessage`, its rpc variants ``encode_reply`` / ``decode_reply`` their reply,
and its family ``deserialize()`` a serialized message back. ``ractor_derive`` derives all of
it; ``ractor_cluster`` moves the bytes. Nothing here knows a wire format.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import (
    Any,
    Generic,
    Protocol,
    Self,
    TypeAlias,
    TypeVar,
    final,
    runtime_checkable,
)

from ._errors import CallError, ReplyDropped, ReplyPortError

__all__ = [
    "BytesConvertable",
    "Call",
    "MessageFamily",
    "RpcReplyPort",
    "SerializedCall",
    "SerializedCast",
    "SerializedMessage",
    "message_family",
    "register_message_family",
]

R = TypeVar("R")
_log = logging.getLogger("ractor.core.rpc")


# --------------------------------------------------------------------------- reply ports


class RpcReplyPort(ABC, Generic[R]):
    """The one-shot port on which a called actor sends its reply (built only by the runtime).

    Answer with ``send(value)``, now or later; the port may be kept or forwarded. A port that
    is discarded unanswered fails the waiting call with :class:`ReplyDropped` (a port whose
    caller is on another node sends nothing, as in Rust: the caller times out).

    There is one port object per call in each process; its class depends on where the
    caller waits (this process, or another node), which a handler never needs to know.
    """

    __slots__ = ()

    @property
    @abstractmethod
    def timeout(self) -> float | None:
        """The caller's timeout in seconds (None: it waits without limit)."""

    @property
    @abstractmethod
    def is_closed(self) -> bool:
        """Whether the caller no longer waits (answered, timed out, or gone)."""

    @abstractmethod
    def send(self, value: R) -> bool:
        """Send the reply; returns False when the caller no longer waits.

        Raises:
            ReplyPortError: the port was already answered.
        """

    @abstractmethod
    def _fail(self, error: CallError) -> None:
        """End the call with ``error`` instead of a reply (idempotent; never raises)."""

    def _drop(self, why: str) -> None:
        """The port will never be answered: fail the caller with ``ReplyDropped``."""
        self._fail(ReplyDropped(why))


@final
class _FuturePort(RpcReplyPort[R]):
    """The port of a caller waiting in this process: it resolves the caller's future."""

    __slots__ = ("_answered", "_fut", "_timeout")

    def __init__(self, fut: asyncio.Future[R], timeout: float | None) -> None:
        self._fut = fut
        self._timeout = timeout
        self._answered = False

    @property
    def timeout(self) -> float | None:
        """The caller's timeout in seconds (None: it waits without limit)."""
        return self._timeout

    @property
    def is_closed(self) -> bool:
        """Whether the caller no longer waits (answered, timed out, or gave up)."""
        return self._answered or self._fut.done()

    def send(self, value: R) -> bool:
        """Send the reply; returns False when the caller no longer waits.

        Raises:
            ReplyPortError: the port was already answered.
        """
        if self._answered:
            raise ReplyPortError("this reply port was already answered; a port replies once")
        self._answered = True
        fut = self._fut
        if fut.done():
            return False
        fut.set_result(value)
        return True

    def _fail(self, error: CallError) -> None:
        self._answered = True
        fut = self._fut
        if not fut.done():
            try:
                fut.set_exception(error)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass

    def __del__(self) -> None:
        if not self._answered:
            self._drop("the reply port was discarded without an answer")

    def __repr__(self) -> str:
        state = "answered" if self._answered else "open"
        return f"<RpcReplyPort {state} timeout={self._timeout}>"


@final
class _Envelope:
    """A call in a mailbox: the untouched message and its reply port."""

    __slots__ = ("message", "port")

    def __init__(self, message: Any, port: RpcReplyPort[Any]) -> None:
        self.message = message
        self.port = port


class _Handling(Protocol):
    """What ``Call.reply`` reads of the actor running in the current task."""

    current: _Envelope | None


# The cell of the actor whose task this is (set when it handles its first call; tasks made
# by a handler inherit it, so they may read message.reply while the handler still runs).
_handling: contextvars.ContextVar[_Handling | None] = contextvars.ContextVar(
    "ractor_handling", default=None
)


R_co = TypeVar("R_co", covariant=True)


class _Asks(Protocol[R_co]):
    """Whatever is answered with an ``R_co``: the parameter type of ``ActorRef.call``.

    Covariant, so that a type checker infers the reply type from the message and never from
    the place the reply goes (``print(await ref.call(Get()))`` stays a ``Get`` call).
    """

    def _reply_type(self) -> R_co: ...


class Call(Generic[R]):
    """Base of rpc messages: ``class Get(Call[int])`` is answered with an ``int``.

    While the handler of a call runs, ``message.reply`` is its reply port. To answer after
    ``handle`` returns, keep the *port* (``port = message.reply``), not the message.
    """

    __slots__ = ()

    @property
    def reply(self) -> RpcReplyPort[R]:
        """The reply port of this call, while its handler runs.

        Raises:
            ReplyPortError: the message is not the call being handled by this actor (it was
                not sent with ``call``, or its handler already returned).
        """
        cell = _handling.get()
        if cell is not None:
            env = cell.current
            if env is not None and env.message is self:
                port: RpcReplyPort[R] = env.port
                return port
        raise ReplyPortError(
            f"{type(self).__name__} carries no reply port here: message.reply is the port "
            "of the call being handled, read inside handle() (it was not sent with "
            "ActorRef.call(), or its handler already returned; keep message.reply, not "
            "the message, to answer later)"
        )

    def _reply_type(self) -> R:  # pragma: no cover - a typing device, never called
        """What answers this call (for type checkers only)."""
        raise NotImplementedError


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
    """A call in serialized form: variant tag, packed arguments, optional metadata.

    Its reply travels apart: the message's ``encode_reply`` / ``decode_reply`` convert it.
    """

    variant: str
    args: bytes
    metadata: bytes | None = None


SerializedMessage: TypeAlias = SerializedCast | SerializedCall


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


_Encode: TypeAlias = Callable[[Any], bytes]
_Decode: TypeAlias = Callable[[bytes], Any]
