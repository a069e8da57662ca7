"""``ActorRef``, the handle users hold, and ``spawn``.

A ref is an id and a cell: a local :class:`~ractor_core._cell.ActorCell` (mailbox, task,
lifecycle), or, for another node's actor, that node's table in a transport
(:class:`~ractor_core._remote.RemoteNode`). Everything a user does with a ref is the same
either way; a remote ref's messages are serialized on the way.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, final

from . import _registry
from ._cell import ActorCell, Cell
from ._deadlines import add_deadline
from ._derived import DerivedActorRef, _derive
from ._errors import (
    CallError,
    CallTimeout,
    MessagingError,
    RactorError,
    SpawnError,
    WaitTimeout,
)
from ._id import ActorId, next_pid
from ._message import Call, _Asks, _FuturePort
from ._supervision import ActorStarted, ActorStatus
from ._timers import Timer

if TYPE_CHECKING:
    from ._actor import Actor

__all__ = ["ActorRef", "multi_call", "spawn", "spawn_linked"]

M = TypeVar("M")
N = TypeVar("N")
S = TypeVar("S")
A = TypeVar("A")
R = TypeVar("R")

_log = logging.getLogger("ractor.core.actor")

_TOKEN = object()
_STOPPED = ActorStatus.STOPPED
_DRAINING = ActorStatus.DRAINING


def _expire(fut: asyncio.Future[Any], actor: ActorId, timeout: float) -> None:
    if not fut.done():
        fut.set_exception(CallTimeout(f"no reply from actor {actor} within {timeout}s", actor))


def _check_timeout(timeout: float | None) -> None:
    if timeout is not None and not 0 <= timeout < float("inf"):
        raise ValueError(f"a call timeout is a finite number of seconds >= 0, got {timeout}")


@final
class ActorRef(Generic[M]):
    """Handle to an actor taking messages of type ``M`` (built only by the runtime).

    ``cast``, ``send`` and ``call`` send messages; ``stop``, ``kill`` and ``drain`` end the
    actor; ``wait`` awaits its end. A ref to another node's actor has the same interface;
    its messages are serialized on the way.
    """

    __slots__ = ("_cell", "id")

    def __init__(self, token: object, actor_id: ActorId, cell: Cell) -> None:
        if token is not _TOKEN:
            raise TypeError("ActorRef is built by the runtime; use spawn()")
        self.id: ActorId = actor_id
        """The actor's identity."""
        self._cell = cell

    # ------------------------------------------------------------------ properties

    @property
    def name(self) -> str | None:
        """The registered name (for a remote actor: the name its node advertised), if any."""
        return self._cell.name(self)

    @property
    def status(self) -> ActorStatus:
        """The current lifecycle status."""
        return self._cell.status(self)

    @property
    def is_alive(self) -> bool:
        """Whether the actor has not stopped yet (a remote one: its node still has it)."""
        return self._cell.status(self) < _STOPPED

    @property
    def supervisor(self) -> ActorRef[Any] | None:
        """The actor this one is linked to, if any (None for a remote actor)."""
        cell = self._cell
        return cell.supervisor if isinstance(cell, ActorCell) else None

    @property
    def children(self) -> list[ActorRef[Any]]:
        """The actors linked to this one as their supervisor."""
        cell = self._cell
        return cell.children if isinstance(cell, ActorCell) else []

    @property
    def is_remotable(self) -> bool:
        """Whether this local actor's message type can be sent from other nodes."""
        cell = self._cell
        return isinstance(cell, ActorCell) and cell.family() is not None

    @property
    def mailbox_len(self) -> int:
        """Messages waiting in the mailbox (0 for a remote actor: its mailbox is remote)."""
        return self._cell.mailbox_len(self)

    @property
    def capacity(self) -> int | None:
        """The bound of the mailbox given to ``spawn`` (None: unbounded)."""
        return self._cell.capacity(self)

    def __repr__(self) -> str:
        name = self.name
        label = f" {name!r}" if name else ""
        where = "" if self.id.is_local else " remote"
        return f"<ActorRef{where} {self.id}{label} {self.status.name.lower()}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorRef) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    # ------------------------------------------------------------------ messaging

    def cast(self, msg: M) -> None:
        """Send ``msg`` without waiting for it to be handled.

        Raises:
            MailboxFull: the actor's bounded mailbox is full; ``unsent`` holds ``msg``.
            MessagingError: the actor no longer accepts messages; ``unsent`` holds ``msg``.
        """
        if isinstance(msg, Call):
            raise MessagingError(
                f"{type(msg).__name__} is an rpc message (Call); send it with call()", msg  # pyright: ignore[reportUnknownArgumentType]
            )
        cell = self._cell
        queue = cell._queue
        limit = cell._limit
        if limit < 0 or len(queue) < limit:
            # the hot path, inlined: a local actor that takes messages and has room (limit -1:
            # unbounded; 0: not taking messages, or not a local mailbox; see Cell._limit)
            queue.append(msg)  # type: ignore[union-attr]  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]
            waiter = cell._waiter
            if waiter is not None:
                cell._waiter = None  # type: ignore[misc]
                if not waiter.done():
                    waiter.set_result(None)
            return
        cell.cast(self, msg)

    async def send(self, msg: M) -> None:
        """Send ``msg``, waiting while the actor's bounded mailbox is full.

        Senders waiting for room get it in turn. For a remote actor, waits while the
        connection is congested.

        Raises:
            MessagingError: the actor stopped (or was not running); ``unsent`` holds ``msg``.
        """
        if isinstance(msg, Call):
            raise MessagingError(
                f"{type(msg).__name__} is an rpc message (Call); send it with call()", msg  # pyright: ignore[reportUnknownArgumentType]
            )
        await self._cell.send(self, msg)

    async def call(self, msg: _Asks[R], timeout: float | None = None) -> R:
        """Send an rpc message and await its reply.

        The timeout covers the whole call, waiting for room in a bounded mailbox included.

        Raises:
            MessagingError: the actor no longer accepts messages.
            CallTimeout: no reply within ``timeout`` seconds.
            ReplyDropped: the actor stopped or discarded the reply port unanswered.
        """
        if not isinstance(msg, Call):
            raise TypeError(f"call() takes an rpc message (a Call subclass), got {msg!r}")
        _check_timeout(timeout)
        cell = self._cell
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[R] = loop.create_future()
        port = _FuturePort(fut, timeout)
        try:
            queued = cell.put_call(self, msg, port)
        except BaseException:
            port._answered = True  # nothing will answer, and nobody will wait
            raise
        left = timeout
        if not queued:
            start = loop.time()
            await self._wait_room(cell, msg, port, timeout, start)
            if timeout is not None:
                left = max(0.0, timeout - (loop.time() - start))
        del port  # the callee holds the one port; dropping it unanswered fails fut
        del msg
        if left is None:
            return await fut
        add_deadline(loop, left, fut, self.id, timeout or left, _expire)
        return await fut

    def derive(self, convert: Callable[[N], M]) -> DerivedActorRef[N]:
        """A ref to this actor taking messages ``N``, each delivered as ``convert(msg)``.

        Narrow what a holder may send (``convert`` returning its argument, typed
        ``Callable[[Sub], M]``) or wrap a type of its own (``convert=Wrapped``).
        """
        return _derive(self, convert)

    async def _wait_room(
        self, cell: Cell, msg: Any, port: _FuturePort[Any], timeout: float | None, start: float
    ) -> None:
        """A bounded mailbox is full: wait for room within the call's timeout."""
        loop = asyncio.get_running_loop()
        again = False
        while True:
            left = None if timeout is None else timeout - (loop.time() - start)
            try:
                if left is not None and left <= 0:
                    raise TimeoutError
                await cell.wait_room(self, left, again)
            except TimeoutError:
                port._answered = True
                raise CallTimeout(
                    f"no room in the mailbox of actor {self.id} within {timeout}s; the call "
                    "was not sent",
                    self.id,
                ) from None
            except MessagingError:
                port._answered = True
                raise MessagingError(
                    f"actor {self.id} stopped; the call was not sent", msg
                ) from None
            except BaseException:
                port._answered = True
                raise
            cell = self._cell  # the actor may have gone meanwhile (a remote one, its node)
            try:
                if cell.put_call(self, msg, port):
                    return
            except BaseException:
                port._answered = True
                raise
            again = True

    # ------------------------------------------------------------------ lifecycle

    def stop(self, reason: str | None = None) -> None:
        """Ask the actor to stop after its current message; queued messages are dropped.

        For a remote actor, the ref stops here (its node is not told).
        """
        self._cell.stop(self, reason)

    def kill(self) -> None:
        """Stop the actor at once, interrupting its current handler; ``post_stop`` is skipped."""
        self._cell.kill(self)

    def drain(self) -> None:
        """Refuse new messages, handle those already queued, then stop (reason ``"Drained"``)."""
        self._cell.drain(self)

    async def wait(self, timeout: float | None = None) -> None:
        """Wait until the actor has stopped.

        Raises:
            WaitTimeout: it was still running after ``timeout`` seconds.
        """
        try:
            await self._cell.wait(self, timeout)
        except TimeoutError:
            raise WaitTimeout(f"actor {self.id} did not stop within {timeout}s") from None

    async def stop_and_wait(self, reason: str | None = None, timeout: float | None = None) -> None:
        """Stop the actor and wait until it has stopped."""
        self.stop(reason)
        await self.wait(timeout)

    async def kill_and_wait(self, timeout: float | None = None) -> None:
        """Kill the actor and wait until it has stopped."""
        self.kill()
        await self.wait(timeout)

    async def drain_and_wait(self, timeout: float | None = None) -> None:
        """Drain the actor and wait until it has stopped."""
        self.drain()
        await self.wait(timeout)

    # ------------------------------------------------------------------ supervision

    def link(self, supervisor: ActorRef[Any]) -> None:
        """Make ``supervisor`` receive this actor's supervision events (one supervisor).

        Raises:
            MessagingError: this actor or the supervisor is remote (monitor it instead).
        """
        cell = self._cell
        if not isinstance(cell, ActorCell):
            raise MessagingError(f"{self} is remote: monitor it instead of linking it")
        cell.link(self, supervisor)

    def unlink(self, supervisor: ActorRef[Any]) -> None:
        """Remove the link to ``supervisor``."""
        cell = self._cell
        if isinstance(cell, ActorCell):
            cell.unlink(self, supervisor)

    def monitor(self, who: ActorRef[Any]) -> None:
        """Receive ``who``'s start/stop/failure events, without supervising it.

        ``who`` may be remote: this actor then hears ``ActorTerminated`` when its node says it
        terminated (reason ``"remote_stopped"``) or the connection ends
        (``"connection_lost: <the session's reason>"``).
        """
        who._cell.watch(who, self)

    def unmonitor(self, who: ActorRef[Any]) -> None:
        """Stop receiving ``who``'s events."""
        who._cell.unwatch(who, self)

    def stop_children(self, reason: str | None = None) -> None:
        """Stop every linked child."""
        for child in self.children:
            child.stop(reason)

    async def stop_children_and_wait(
        self, reason: str | None = None, timeout: float | None = None
    ) -> None:
        """Stop every linked child and wait until all have stopped."""
        children = self.children
        for child in children:
            child.stop(reason)
        await asyncio.gather(*(c.wait(timeout) for c in children))

    # ------------------------------------------------------------------ timers

    def send_after(self, delay: float, msg_factory: Callable[[], M]) -> Timer:
        """Cast ``msg_factory()`` to this actor after ``delay`` seconds (if still running)."""
        return Timer.once(_loop(), delay, lambda: self._timer_cast(msg_factory))

    def send_interval(self, period: float, msg_factory: Callable[[], M]) -> Timer:
        """Cast ``msg_factory()`` every ``period`` seconds until cancelled or the actor stops."""
        return Timer.every(_loop(), period, lambda: self._timer_cast(msg_factory))

    def exit_after(self, delay: float) -> Timer:
        """Stop the actor after ``delay`` seconds (reason ``"Exit after {ms}ms"``)."""
        reason = f"Exit after {round(delay * 1000)}ms"

        def fire() -> bool:
            self.stop(reason)
            return False

        return Timer.once(_loop(), delay, fire)

    def kill_after(self, delay: float) -> Timer:
        """Kill the actor after ``delay`` seconds."""

        def fire() -> bool:
            self.kill()
            return False

        return Timer.once(_loop(), delay, fire)

    def _timer_cast(self, msg_factory: Callable[[], M]) -> bool:
        cell = self._cell
        if not cell.accepting(self) or not cell.status(self).is_active:
            return False
        try:
            self.cast(msg_factory())
        except MessagingError:
            # a full mailbox skips this tick (an interval keeps going); a stopped actor ends it
            return cell.accepting(self)
        return True


def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def _new_ref(actor_id: ActorId, cell: Cell) -> ActorRef[Any]:
    """A ref for ``cell`` (for cells made by transports)."""
    return ActorRef(_TOKEN, actor_id, cell)


# ---------------------------------------------------------------------- spawning


def _check_capacity(capacity: int | None) -> None:
    if capacity is not None and (
        not isinstance(capacity, int) or isinstance(capacity, bool) or capacity < 1  # pyright: ignore[reportUnnecessaryIsInstance]
    ):
        raise ValueError(f"a mailbox capacity is a whole number >= 1 or None, got {capacity!r}")


async def spawn(
    actor: Actor[M, S, A], args: A, *, name: str | None = None, capacity: int | None = None
) -> ActorRef[M]:
    """Start an actor; returns once its ``pre_start`` has run.

    ``capacity`` bounds the mailbox (default unbounded, as in Rust): past it ``cast`` raises
    ``MailboxFull`` and ``send`` / ``call`` wait for room.

    Raises:
        SpawnError: ``pre_start`` raised, or ``name`` is already registered.
        ValueError: ``capacity`` is not a whole number >= 1.
    """
    return await _spawn(actor, args, name, None, capacity)


async def spawn_linked(
    actor: Actor[M, S, A],
    args: A,
    supervisor: ActorRef[Any],
    *,
    name: str | None = None,
    capacity: int | None = None,
) -> ActorRef[M]:
    """Start an actor supervised by ``supervisor``, which receives its supervision events.

    Raises:
        SpawnError: ``pre_start`` raised, ``name`` is taken, or the supervisor is stopping
            or is not a local actor.
        ValueError: ``capacity`` is not a whole number >= 1.
    """
    return await _spawn(actor, args, name, supervisor, capacity)


async def _spawn(
    actor: Actor[M, S, A],
    args: A,
    name: str | None,
    supervisor: ActorRef[Any] | None,
    capacity: int | None,
) -> ActorRef[M]:
    _check_capacity(capacity)
    loop = asyncio.get_running_loop()
    if supervisor is not None:
        if not isinstance(supervisor._cell, ActorCell):
            raise SpawnError(f"a supervisor is a local actor; {supervisor} is not", name=name)
        if supervisor.status >= _DRAINING:
            raise SpawnError(f"supervisor {supervisor.id} is shutting down", name=name)
    cell = ActorCell(actor, name, loop, capacity)
    ref: ActorRef[M] = ActorRef(_TOKEN, ActorId(next_pid()), cell)
    if name is not None:
        _registry._register_name(name, ref)
    cell.starting()
    _registry._register_pid(ref)
    try:
        state = await actor.pre_start(ref, args)
    except BaseException as exc:
        cell.abandon(ref)
        if isinstance(exc, Exception):
            label = f"{type(actor).__name__}" + (f" {name!r}" if name else "")
            raise SpawnError(f"{label} failed to start: {exc!r}", name=name) from exc
        raise
    if cell.killed:
        cell.abandon(ref)
        raise SpawnError(f"{type(actor).__name__} was killed during startup", name=name)
    if supervisor is not None:
        if supervisor.status >= _DRAINING:
            cell.abandon(ref)
            raise SpawnError(f"supervisor {supervisor.id} is shutting down", name=name)
        cell.link(ref, supervisor)
    cell.start(ref, state)
    cell.notify(ActorStarted(ref))
    return ref


async def multi_call(
    actors: Sequence[ActorRef[Any]], msg: _Asks[R], timeout: float | None = None
) -> list[R | RactorError]:
    """Call every actor with ``msg`` at once; each result is a reply or an error."""

    async def one(ref: ActorRef[Any]) -> R | RactorError:
        try:
            return await ref.call(msg, timeout)
        except (CallError, MessagingError) as exc:
            return exc

    return list(await asyncio.gather(*(one(a) for a in actors)))
