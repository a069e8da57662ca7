"""The ``Actor`` base class: the behaviour of an actor, as a set of async hooks."""

from __future__ import annotations

import typing
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

from ._supervision import ActorFailed, ActorTerminated, SupervisionEvent

if TYPE_CHECKING:
    from ._ref import ActorRef

__all__ = ["Actor"]

M = TypeVar("M")
S = TypeVar("S")
A = TypeVar("A")


class Actor(ABC, Generic[M, S, A]):
    """Behaviour of an actor taking messages ``M``, holding state ``S``, started with ``A``.

    The instance holds no per-actor state of its own: ``pre_start`` builds the state, and
    every other hook receives it. State is mutated in place, so make ``S`` a mutable object
    (a dataclass, a dict, ...). Hooks run one at a time on the actor's own task.

    Example::

        class Counter(Actor[CounterMsg, Count, int]):
            async def pre_start(self, myself, args: int) -> Count:
                return Count(args)

            async def handle(self, myself, message: CounterMsg, state: Count) -> None:
                ...
    """

    __ractor_message_type__: ClassVar[Any] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            origin = typing.get_origin(base)
            if isinstance(origin, type) and issubclass(origin, Actor):
                args = typing.get_args(base)
                if args and not isinstance(args[0], TypeVar):
                    cls.__ractor_message_type__ = args[0]
                    break

    @classmethod
    def message_type(cls) -> Any:
        """The message type ``M`` this actor class was declared with (None if generic)."""
        return cls.__ractor_message_type__

    @abstractmethod
    async def pre_start(self, myself: ActorRef[M], args: A) -> S:
        """Build the initial state; raising here fails the spawn with ``SpawnError``."""

    async def post_start(self, myself: ActorRef[M], state: S) -> None:
        """Run once after ``pre_start``, on the actor's task, before any message."""

    async def handle(self, myself: ActorRef[M], message: M, state: S) -> None:
        """Handle one message; raising stops the actor and reports ``ActorFailed``."""

    async def handle_supervisor_evt(
        self, myself: ActorRef[M], event: SupervisionEvent, state: S
    ) -> None:
        """Handle an event of a supervised or monitored actor.

        The default, as in ractor, stops this actor when a child terminates or fails.
        """
        if isinstance(event, (ActorTerminated, ActorFailed)):
            myself.stop(None)

    async def post_stop(self, myself: ActorRef[M], state: S) -> None:
        """Run after a graceful stop or drain (not after a kill or a failure)."""

    def release(self) -> None:
        """Release what the actor holds, once it has stopped for any reason (kill included).

        Python has no Drop: where a Rust actor's resources go with its state, override this
        to close sockets or fail pending work. It runs synchronously after ``post_stop`` (or
        instead of it), before the supervisor hears; it must not block, and errors are logged.
        """
