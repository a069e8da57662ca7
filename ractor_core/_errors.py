"""The exception tree of the actor runtime.

::

    RactorError                      root of every error this project raises
    ├── SpawnError                   an actor could not start (pre_start raised, name taken)
    ├── MessagingError               a message could not be sent; ``.unsent`` gives it back
    │   └── MailboxFull              the actor's bounded mailbox is full (``cast``)
    ├── CallError                    a call produced no reply value
    │   ├── CallTimeout              no reply within the caller's timeout
    │   └── ReplyDropped             the callee stopped, or discarded the reply port unanswered
    ├── ReplyPortError               a reply port was used twice, or read off a cast
    └── WaitTimeout                  an actor did not stop within the given time

An exception raised inside an actor's hook is not wrapped: the supervisor receives it as is,
in ``ActorFailed.error``.

Every error carries a message a person can act on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._id import ActorId

__all__ = [
    "CallError",
    "CallTimeout",
    "MailboxFull",
    "MessagingError",
    "RactorError",
    "ReplyDropped",
    "ReplyPortError",
    "SpawnError",
    "WaitTimeout",
]


class RactorError(Exception):
    """Root of every exception raised by ractor."""


class SpawnError(RactorError):
    """An actor failed to start: its ``pre_start`` raised, or its name is already taken."""

    def __init__(self, message: str, *, name: str | None = None) -> None:
        super().__init__(message)
        self.name = name


class MessagingError(RactorError):
    """A message could not be delivered; ``unsent`` holds the message that was not sent."""

    def __init__(self, message: str, unsent: Any = None) -> None:
        super().__init__(message)
        self.unsent = unsent


class MailboxFull(MessagingError):
    """The actor's bounded mailbox is full; ``unsent`` holds the message (``send`` waits)."""


class CallError(RactorError):
    """A call ended without a reply value."""

    def __init__(self, message: str, actor: ActorId | None = None) -> None:
        super().__init__(message)
        self.actor = actor


class CallTimeout(CallError, TimeoutError):
    """No reply arrived within the call's timeout."""


class ReplyDropped(CallError):
    """The callee stopped, or discarded the reply port, without answering."""


class ReplyPortError(RactorError):
    """A reply port was misused (for example answered twice)."""


class WaitTimeout(RactorError, TimeoutError):
    """An actor did not stop within the time given to ``wait`` (or ``stop_and_wait``)."""

