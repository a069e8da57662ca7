"""Output ports: publish values to subscribed actors, each through its own converter."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Generic, TypeVar, final

from ._errors import MessagingError
from ._ref import ActorRef

__all__ = ["OutputPort", "Subscription"]

_log = logging.getLogger("ractor.core.port")

T = TypeVar("T")
M = TypeVar("M")


@final
class Subscription:
    """One actor's subscription to an :class:`OutputPort`; ``unsubscribe()`` ends it."""

    __slots__ = ("_convert", "_port", "receiver")

    def __init__(
        self, port: OutputPort[Any], receiver: ActorRef[Any], convert: Callable[[Any], Any]
    ) -> None:
        self._port = port
        self.receiver = receiver
        self._convert = convert

    @property
    def active(self) -> bool:
        """Whether the subscription still receives values."""
        return self.receiver.is_alive and self in self._port._subs

    def unsubscribe(self) -> None:
        """End the subscription."""
        try:
            self._port._subs.remove(self)
        except ValueError:
            pass


@final
class OutputPort(Generic[T]):
    """A publisher of ``T`` values; each subscriber converts them into its own message type.

    A converter returning None skips that value for that subscriber. A subscription ends when
    its receiver stops accepting messages, or on ``unsubscribe()``.
    """

    __slots__ = ("_subs",)

    def __init__(self) -> None:
        self._subs: list[Subscription] = []

    def subscribe(self, receiver: ActorRef[M], converter: Callable[[T], M | None]) -> Subscription:
        """Deliver ``converter(value)`` to ``receiver`` for every value sent on this port.

        A converter that raises skips that value for that subscriber (the error is logged).
        """
        sub = Subscription(self, receiver, converter)
        self._subs.append(sub)
        return sub

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are active."""
        return len(self._subs)

    def send(self, value: T) -> None:
        """Publish ``value`` to every subscriber (a cast each; never blocks; a full bounded
        mailbox misses the value)."""
        dead: list[Subscription] = []
        for sub in list(self._subs):
            try:
                msg = sub._convert(value)
            except Exception:
                _log.exception("an output port converter raised; the value is skipped for %s",
                               sub.receiver)
                continue
            if msg is None:
                if not sub.receiver.is_alive:
                    dead.append(sub)
                continue
            try:
                sub.receiver.cast(msg)
            except MessagingError:
                receiver = sub.receiver
                if not receiver.is_alive or not receiver._cell.accepting(receiver):
                    dead.append(sub)
        for sub in dead:
            sub.unsubscribe()
