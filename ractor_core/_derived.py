"""``DerivedActorRef``: a view of an actor that takes a narrower or converted message type.

Rust ractor's ``DerivedActorRef<N>``: ``ref.derive(convert)`` gives a handle that accepts
messages ``N`` and delivers ``convert(msg)`` to the actor behind it, whose message type is
``M``. Hand it to code that should only send part of an actor's protocol (a child that may
report to its parent, but not reconfigure it), or that speaks a type of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, final

from ._message import Call, _Asks

if TYPE_CHECKING:
    from ._id import ActorId
    from ._ref import ActorRef
    from ._supervision import ActorStatus

__all__ = ["DerivedActorRef"]

N = TypeVar("N")
K = TypeVar("K")
R = TypeVar("R")

_TOKEN = object()


@final
class DerivedActorRef(Generic[N]):
    """Handle to an actor through a converter: takes ``N``, delivers ``convert(msg)``.

    Built by :meth:`ActorRef.derive`. It sends (``cast``, ``send``, ``call``) and observes
    (``is_alive``, ``status``, ``wait``); it cannot stop, kill or link the actor. Two derived
    refs are equal when they point at the same actor (whatever their converters).
    """

    __slots__ = ("_convert", "_inner")

    def __init__(self, token: object, inner: ActorRef[Any], convert: Callable[[N], Any]) -> None:
        if token is not _TOKEN:
            raise TypeError("DerivedActorRef is built by ActorRef.derive()")
        self._inner = inner
        self._convert = convert

    @property
    def id(self) -> ActorId:
        """The identity of the actor behind this ref."""
        return self._inner.id

    @property
    def name(self) -> str | None:
        """The actor's registered name, if any."""
        return self._inner.name

    @property
    def status(self) -> ActorStatus:
        """The actor's lifecycle status."""
        return self._inner.status

    @property
    def is_alive(self) -> bool:
        """Whether the actor has not stopped yet."""
        return self._inner.is_alive

    def __repr__(self) -> str:
        return f"<DerivedActorRef of {self._inner!r}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DerivedActorRef) and other._inner.id == self._inner.id

    def __hash__(self) -> int:
        return hash(self._inner.id)

    def cast(self, msg: N) -> None:
        """Convert ``msg`` and cast it to the actor without waiting.

        Raises:
            MailboxFull: the actor's bounded mailbox is full; ``unsent`` holds the converted
                message.
            MessagingError: the actor no longer accepts messages (``unsent``: converted).
        """
        self._inner.cast(self._convert(msg))

    async def send(self, msg: N) -> None:
        """Convert ``msg`` and send it, waiting while the actor's bounded mailbox is full.

        Raises:
            MessagingError: the actor stopped; ``unsent`` holds the converted message.
        """
        await self._inner.send(self._convert(msg))

    async def call(self, msg: _Asks[R], timeout: float | None = None) -> R:
        """Convert an rpc message and await the reply.

        The converter must turn a ``Call[R]`` into a ``Call`` of the actor with the same reply
        type: the actor answers the converted message, and its reply comes back as is.

        Raises:
            TypeError: ``msg`` or its conversion is not an rpc message.
            MessagingError: the actor no longer accepts messages.
            CallTimeout: no reply within ``timeout`` seconds.
            ReplyDropped: the actor stopped or discarded the reply port unanswered.
        """
        if not isinstance(msg, Call):
            raise TypeError(f"call() takes an rpc message (a Call subclass), got {msg!r}")
        converted = self._convert(cast(N, msg))
        reply: R = await self._inner.call(converted, timeout)
        return reply

    async def wait(self, timeout: float | None = None) -> None:
        """Wait until the actor has stopped.

        Raises:
            WaitTimeout: it was still running after ``timeout`` seconds.
        """
        await self._inner.wait(timeout)

    def derive(self, convert: Callable[[K], N]) -> DerivedActorRef[K]:
        """A ref taking ``K``, converted to ``N`` and then as this ref converts it."""
        outer = self._convert

        def both(msg: K) -> Any:
            return outer(convert(msg))

        return DerivedActorRef(_TOKEN, self._inner, both)


def _derive(inner: ActorRef[Any], convert: Callable[[N], Any]) -> DerivedActorRef[N]:
    return DerivedActorRef(_TOKEN, inner, convert)
