"""``ActorRef``, the actor's processing loop, and ``spawn``.

One ``ActorRef`` object exists per actor and holds its mailbox; the actor runs as one
asyncio task. Order of processing: a kill (a signal) interrupts whatever runs; a stop
request is taken before supervision events, which are taken before ordinary messages.
Messages from one sender arrive in the order sent (one FIFO mailbox).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import logging
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, final

from . import _registry, pg
from ._errors import (
    CallError,
    CallTimeout,
    MessagingError,
    RactorError,
    SpawnError,
    WaitTimeout,
)
from ._id import ActorId, next_pid
from ._message import (
    _REPLY_SLOT,
    Call,
    MessageFamily,
    SerializedCall,
    SerializedCast,
    SerializedMessage,
    _new_port,
    message_family,
)
from ._supervision import (
    ActorFailed,
    ActorStarted,
    ActorStatus,
    ActorTerminated,
    SupervisionEvent,
)
from ._timers import Timer

if TYPE_CHECKING:
    from ._actor import Actor

__all__ = ["ActorRef", "multi_call", "spawn", "spawn_linked", "spawn_remote"]

M = TypeVar("M")
S = TypeVar("S")
A = TypeVar("A")
R = TypeVar("R")

_log = logging.getLogger("ractor.core.actor")
_sup_log = logging.getLogger("ractor.core.supervision")

_TOKEN = object()
_DRAIN = object()  # end-of-mailbox marker queued by drain()
_BUDGET = 256  # messages handled before the actor yields to other tasks

_STARTING = ActorStatus.STARTING
_RUNNING = ActorStatus.RUNNING
_DRAINING = ActorStatus.DRAINING
_STOPPING = ActorStatus.STOPPING
_STOPPED = ActorStatus.STOPPED


def _wait_expired(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


def _expire(fut: asyncio.Future[Any], actor: ActorId, timeout: float) -> None:
    if not fut.done():
        fut.set_exception(CallTimeout(f"no reply from actor {actor} within {timeout}s", actor))


@final
class ActorRef(Generic[M]):
    """Handle to an actor taking messages of type ``M`` (built only by the runtime).

    ``cast`` and ``call`` send messages; ``stop``, ``kill`` and ``drain`` end the actor;
    ``wait`` awaits its end. A remote actor (another node's, standing here) has the same
    interface; its messages are serialized on the way.
    """

    __slots__ = (
        "__weakref__",
        "_accepting",
        "_actor",
        "_children",
        "_direct",
        "_done_waiters",
        "_event_now",
        "_family",
        "_in_task",
        "_killed",
        "_loop",
        "_monitors",
        "_name",
        "_prio",
        "_queue",
        "_remote",
        "_status",
        "_stop_reason",
        "_stop_requested",
        "_sup_events",
        "_supervisor",
        "_task",
        "_waiter",
        "id",
    )

    def __init__(
        self,
        token: object,
        actor: Actor[M, Any, Any],
        name: str | None,
        loop: asyncio.AbstractEventLoop,
        actor_id: ActorId,
    ) -> None:
        if token is not _TOKEN:
            raise TypeError("ActorRef is built by the runtime; use spawn()")
        self.id: ActorId = actor_id
        """The actor's identity."""
        self._name = name
        self._actor = actor
        self._loop = loop
        self._queue: deque[Any] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._accepting = True
        self._status = ActorStatus.UNSTARTED
        self._prio = False
        self._stop_requested = False
        self._stop_reason: str | None = None
        self._killed = False
        self._in_task = False
        self._sup_events: deque[SupervisionEvent] | None = None  # made when first needed
        self._task: asyncio.Task[None] | None = None
        # None while running; each wait() adds its own future; _STOPPED_MARK once stopped
        self._done_waiters: list[asyncio.Future[None]] | None = None
        self._supervisor: ActorRef[Any] | None = None
        self._children: dict[ActorId, ActorRef[Any]] = {}
        self._monitors: dict[ActorId, ActorRef[Any]] = {}
        self._remote = not actor_id.is_local
        self._direct: Callable[[Any], None] | None = (
            getattr(actor, "handle_now", None) if self._remote else None
        )
        self._event_now: Callable[[SupervisionEvent], bool] | None = getattr(
            actor, "handle_event_now", None
        )
        self._family: MessageFamily | bool | None = False  # False: not resolved yet

    # ------------------------------------------------------------------ properties

    @property
    def name(self) -> str | None:
        """The registered name, if any."""
        return self._name

    @property
    def status(self) -> ActorStatus:
        """The current lifecycle status."""
        return self._status

    @property
    def is_alive(self) -> bool:
        """Whether the actor has not stopped yet."""
        return self._status < _STOPPED

    @property
    def supervisor(self) -> ActorRef[Any] | None:
        """The actor this one is linked to, if any."""
        return self._supervisor

    @property
    def children(self) -> list[ActorRef[Any]]:
        """The actors linked to this one as their supervisor."""
        return list(self._children.values())

    @property
    def is_remotable(self) -> bool:
        """Whether this local actor's message type can be sent from other nodes."""
        return not self._remote and self._resolve_family() is not None

    def __repr__(self) -> str:
        label = f" {self._name!r}" if self._name else ""
        where = " remote" if self._remote else ""
        return f"<ActorRef{where} {self.id}{label} {self._status.name.lower()}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ActorRef) and other.id == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    # ------------------------------------------------------------------ messaging

    def cast(self, msg: M) -> None:
        """Send ``msg`` without waiting for it to be handled.

        Raises:
            MessagingError: the actor no longer accepts messages; ``unsent`` holds ``msg``.
        """
        if not self._accepting:
            raise MessagingError(f"actor {self.id} is not running; the message was not sent", msg)
        if isinstance(msg, Call):
            raise MessagingError(
                f"{type(msg).__name__} is an rpc message (Call); send it with call()", msg
            )
        if self._remote:
            self._send_remote(self._serialize(msg))
            return
        self._queue.append(msg)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def call(self, msg: Call[R], timeout: float | None = None) -> R:
        """Send an rpc message and await its reply.

        Raises:
            MessagingError: the actor no longer accepts messages.
            CallTimeout: no reply within ``timeout`` seconds.
            ReplyDropped: the actor stopped or discarded the reply port unanswered.
        """
        if not self._accepting:
            raise MessagingError(f"actor {self.id} is not running; the call was not sent", msg)
        if not isinstance(msg, Call):
            raise TypeError(f"call() takes an rpc message (a Call subclass), got {msg!r}")
        if timeout is not None and not 0 <= timeout < float("inf"):
            raise ValueError(f"a call timeout is a finite number of seconds >= 0, got {timeout}")
        existing = getattr(msg, "_ractor_reply", None)
        if existing is not None and not existing._answered:
            msg = copy.copy(msg)  # the same message is in flight elsewhere: never share a port
        loop = self._loop
        fut: asyncio.Future[R] = loop.create_future()
        port = _new_port(fut, timeout)
        _REPLY_SLOT.__set__(msg, port)
        if self._remote:
            try:
                serialized = self._serialize(msg)
                self._send_remote(serialized)
            except BaseException:
                port._answered = True  # nothing will answer, and nobody will wait
                fut.cancel()
                raise
            finally:
                _REPLY_SLOT.__set__(msg, None)
            del port
        else:
            del port
            self._queue.append(msg)
            waiter = self._waiter
            if waiter is not None:
                self._waiter = None
                if not waiter.done():
                    waiter.set_result(None)
        del msg
        if timeout is None:
            return await fut
        handle = loop.call_later(timeout, _expire, fut, self.id, timeout)
        try:
            return await fut
        finally:
            handle.cancel()

    def _serialize(self, msg: Any) -> SerializedMessage:
        serialize = getattr(msg, "serialize", None)
        if serialize is None:
            # a plain value as a whole message (str, bytes, ...): its registered family
            family = message_family(type(msg))
            plain = getattr(family, "serialize", None)
            if plain is not None:
                serialize = functools.partial(plain, msg)
        if serialize is None:
            raise MessagingError(
                f"actor {self.id} is remote, and {type(msg).__name__} is not a cluster message "
                "(declare it with @cluster_message)",
                msg,
            )
        try:
            return cast(SerializedMessage, serialize())
        except MessagingError:
            raise
        except Exception as exc:
            raise MessagingError(f"could not serialize {type(msg).__name__}: {exc}", msg) from exc

    def _send_remote(self, serialized: SerializedMessage) -> None:
        # A stand-in that defines handle_now takes messages synchronously while nothing is
        # queued (same order, one loop pass less); otherwise they go through the mailbox.
        direct = self._direct
        if direct is not None and not self._queue and self._status is _RUNNING:
            direct(serialized)
        else:
            self._enqueue(serialized)

    def _enqueue(self, msg: Any) -> None:
        """Put a message into the mailbox as is (no serialization, no checks)."""
        self._queue.append(msg)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def _resolve_family(self) -> MessageFamily | None:
        family = self._family
        if family is False:
            family = message_family(type(self._actor).message_type())
            self._family = family
        return cast("MessageFamily | None", family)

    def send_serialized(self, msg: SerializedCast | SerializedCall) -> None:
        """Deliver a message that came from another node (for transports such as the cluster).

        The actor's message family decodes it first; nothing is queued if decoding fails.

        Raises:
            MessagingError: the actor is not running or is not remotable.
            Exception: the message family's decoding error, for a malformed message.
        """
        if not self._accepting:
            raise MessagingError(f"actor {self.id} is not running", msg)
        family = self._resolve_family()
        if family is None:
            raise MessagingError(f"actor {self.id} does not take messages from other nodes", msg)
        self._enqueue(family.deserialize(msg))

    # ------------------------------------------------------------------ lifecycle

    def stop(self, reason: str | None = None) -> None:
        """Ask the actor to stop after its current message; queued messages are dropped."""
        if self._status >= _STOPPING or self._stop_requested:
            return
        self._stop_requested = True
        self._stop_reason = reason
        self._accepting = False
        self._wake_priority()

    def kill(self) -> None:
        """Stop the actor at once, interrupting its current handler; ``post_stop`` is skipped."""
        if self._status >= _STOPPED or self._killed:
            return
        self._killed = True
        self._accepting = False
        self._wake_priority()
        task = self._task
        # A task that has not started yet must not be cancelled (its coroutine would never
        # run its cleanup); it sees the kill flag on its first step instead.
        if task is not None and self._in_task and not task.done():
            task.cancel()

    def drain(self) -> None:
        """Refuse new messages, handle those already queued, then stop (reason ``"Drained"``)."""
        if not self._accepting or self._status >= _DRAINING:
            return
        self._accepting = False
        if self._status >= _RUNNING:
            self._status = _DRAINING
        self._enqueue(_DRAIN)

    async def wait(self, timeout: float | None = None) -> None:
        """Wait until the actor has stopped.

        Raises:
            WaitTimeout: it was still running after ``timeout`` seconds.
        """
        if self._status >= _STOPPED:
            return
        fut: asyncio.Future[None] = self._loop.create_future()
        waiters = self._done_waiters
        if waiters is None:
            waiters = self._done_waiters = []
        waiters.append(fut)
        if timeout is None:
            await fut
            return
        handle = self._loop.call_later(timeout, _wait_expired, fut)
        try:
            await fut
        except TimeoutError:
            raise WaitTimeout(f"actor {self.id} did not stop within {timeout}s") from None
        finally:
            handle.cancel()
            if self._done_waiters is not None:
                with contextlib.suppress(ValueError):
                    self._done_waiters.remove(fut)

    def _set_done(self) -> None:
        waiters = self._done_waiters
        self._done_waiters = None
        if waiters:
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

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

    def _wake_priority(self) -> None:
        self._prio = True
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # ------------------------------------------------------------------ supervision

    def link(self, supervisor: ActorRef[Any]) -> None:
        """Make ``supervisor`` receive this actor's supervision events (one supervisor)."""
        if self._supervisor is not None and self._supervisor is not supervisor:
            self._supervisor._children.pop(self.id, None)
        self._supervisor = supervisor
        supervisor._children[self.id] = self

    def unlink(self, supervisor: ActorRef[Any]) -> None:
        """Remove the link to ``supervisor``."""
        if self._supervisor is supervisor:
            self._supervisor = None
        supervisor._children.pop(self.id, None)

    def monitor(self, who: ActorRef[Any]) -> None:
        """Receive ``who``'s start/stop/failure events, without supervising it."""
        who._monitors[self.id] = self

    def unmonitor(self, who: ActorRef[Any]) -> None:
        """Stop receiving ``who``'s events."""
        who._monitors.pop(self.id, None)

    def stop_children(self, reason: str | None = None) -> None:
        """Stop every linked child."""
        for child in list(self._children.values()):
            child.stop(reason)

    async def stop_children_and_wait(
        self, reason: str | None = None, timeout: float | None = None
    ) -> None:
        """Stop every linked child and wait until all have stopped."""
        children = list(self._children.values())
        for child in children:
            child.stop(reason)
        await asyncio.gather(*(c.wait(timeout) for c in children))

    def _send_supervision(self, event: SupervisionEvent) -> bool:
        """Queue a supervision event; False when this actor no longer takes them."""
        if self._status >= _STOPPING:
            return False
        now = self._event_now
        if now is not None and self._status.is_active:
            try:
                if now(event):
                    return True
            except Exception:
                _sup_log.exception("actor %s: handle_event_now raised", self.id)
        events = self._sup_events
        if events is None:
            events = self._sup_events = deque()
        events.append(event)
        self._wake_priority()
        return True

    def _notify_supervisors(self, event: SupervisionEvent) -> None:
        sup = self._supervisor
        if sup is not None:
            sup._send_supervision(event)
        if self._monitors:
            for mon in list(self._monitors.values()):
                if not mon._send_supervision(event):
                    self._monitors.pop(mon.id, None)

    # ------------------------------------------------------------------ timers

    def send_after(self, delay: float, msg_factory: Callable[[], M]) -> Timer:
        """Cast ``msg_factory()`` to this actor after ``delay`` seconds (if still running)."""
        return Timer.once(self._loop, delay, lambda: self._timer_cast(msg_factory))

    def send_interval(self, period: float, msg_factory: Callable[[], M]) -> Timer:
        """Cast ``msg_factory()`` every ``period`` seconds until cancelled or the actor stops."""
        return Timer.every(self._loop, period, lambda: self._timer_cast(msg_factory))

    def exit_after(self, delay: float) -> Timer:
        """Stop the actor after ``delay`` seconds (reason ``"Exit after {ms}ms"``)."""
        reason = f"Exit after {round(delay * 1000)}ms"

        def fire() -> bool:
            self.stop(reason)
            return False

        return Timer.once(self._loop, delay, fire)

    def kill_after(self, delay: float) -> Timer:
        """Kill the actor after ``delay`` seconds."""

        def fire() -> bool:
            self.kill()
            return False

        return Timer.once(self._loop, delay, fire)

    def _timer_cast(self, msg_factory: Callable[[], M]) -> bool:
        if not self._accepting or not self._status.is_active:
            return False
        try:
            self.cast(msg_factory())
        except MessagingError:
            return False
        return True

    # ------------------------------------------------------------------ the loop

    async def _run(self, state: Any) -> None:
        actor = self._actor
        handle = actor.handle
        queue = self._queue
        loop = self._loop
        msg: Any = None
        reason: str | None = None
        failure: BaseException | None = None
        outside_cancel = False
        budget = _BUDGET
        self._in_task = True
        try:
            if self._killed:
                raise asyncio.CancelledError
            await actor.post_start(self, state)
            while True:
                if self._prio:
                    if self._killed:
                        break
                    if self._stop_requested:
                        reason = self._stop_reason
                        break
                    events = self._sup_events
                    if events:
                        event = events.popleft()
                        if not events:
                            self._prio = False
                        await actor.handle_supervisor_evt(self, event, state)
                    else:
                        self._prio = False
                    continue
                if queue:
                    budget -= 1
                    if not budget:
                        # Let other tasks run now and then, however full the mailbox
                        # (a reduction count, as in Erlang).
                        budget = _BUDGET
                        await asyncio.sleep(0)
                        continue
                    msg = queue.popleft()
                    if msg is _DRAIN:
                        reason = "Drained"
                        break
                    await handle(self, msg, state)
                    if isinstance(msg, Call):
                        _REPLY_SLOT.__set__(msg, None)
                    msg = None
                else:
                    waiter = loop.create_future()
                    self._waiter = waiter
                    await waiter
        except asyncio.CancelledError:
            if not self._killed:
                outside_cancel = True
                reason = "actor_task_cancelled"
        except Exception as exc:
            failure = exc
            _sup_log.warning("actor %s failed: %r", self.id, exc)
            # The traceback's frames would keep the state (and any reply port held in it)
            # alive; release them so that waiting callers fail now, as when Rust drops state.
            traceback.clear_frames(exc.__traceback__)
        if msg is not None and isinstance(msg, Call):
            _REPLY_SLOT.__set__(msg, None)
        msg = None
        outside_cancel = await self._finish(state, reason, failure, outside_cancel)
        state = failure = None
        if outside_cancel:
            raise asyncio.CancelledError

    async def _finish(
        self, state: Any, reason: str | None, failure: BaseException | None, cancelled: bool
    ) -> bool:
        """Run post_stop (unless killed or failed), release, notify; return whether the task
        was cancelled from outside (so that the caller re-raises the cancellation)."""
        self._accepting = False
        self._status = _STOPPING
        killed = self._killed
        if killed:
            reason = "killed"
        elif failure is None and not cancelled:
            try:
                await self._actor.post_stop(self, state)
            except asyncio.CancelledError:
                if self._killed:
                    reason = "killed"
                else:
                    cancelled = True
                    reason = "actor_task_cancelled"
                state = None
            except Exception as exc:
                failure = exc
                _sup_log.warning("actor %s failed in post_stop: %r", self.id, exc)
        self._cleanup()
        self._release()
        if failure is not None:
            event: SupervisionEvent = ActorFailed(self, failure)
        else:
            event = ActorTerminated(self, state, reason)
        self._notify_supervisors(event)
        sup = self._supervisor
        if sup is not None:
            sup._children.pop(self.id, None)
        self._monitors.clear()
        self._set_done()
        return cancelled

    def _release(self) -> None:
        try:
            self._actor.release()
        except Exception:
            _log.exception("actor %s: release() raised", self.id)

    def _abandon(self) -> None:
        """End an actor whose startup failed: clean up, release, wake the waiters."""
        self._cleanup()
        self._release()
        self._set_done()

    def _cleanup(self) -> None:
        """Release everything the actor holds; shared by normal exit and failed startup."""
        self._accepting = False
        self._status = _STOPPING
        children = list(self._children.values())
        self._children.clear()
        for child in children:
            child._supervisor = None
            child.kill()
        if self._name is not None:
            _registry._unregister_name(self._name, self)
        _registry._unregister_pid(self)  # Terminate is seen before the group leaves
        pg._on_actor_stopped(self)
        _registry.demonitor_pids(self.id)
        queue = self._queue
        while queue:
            dropped = queue.popleft()
            if isinstance(dropped, SerializedCall):
                dropped.reply._drop(f"actor {self.id} stopped before handling the call")
            elif isinstance(dropped, Call):
                port = getattr(dropped, "_ractor_reply", None)
                if port is not None:
                    port._drop(f"actor {self.id} stopped before handling the call")
                _REPLY_SLOT.__set__(dropped, None)
        self._sup_events = None
        self._status = _STOPPED


# ---------------------------------------------------------------------- spawning


async def spawn(actor: Actor[M, S, A], args: A, *, name: str | None = None) -> ActorRef[M]:
    """Start an actor; returns once its ``pre_start`` has run.

    Raises:
        SpawnError: ``pre_start`` raised, or ``name`` is already registered.
    """
    return await _spawn(actor, args, name, None, None)


async def spawn_linked(
    actor: Actor[M, S, A],
    args: A,
    supervisor: ActorRef[Any],
    *,
    name: str | None = None,
) -> ActorRef[M]:
    """Start an actor supervised by ``supervisor``, which receives its supervision events.

    Raises:
        SpawnError: ``pre_start`` raised, ``name`` is taken, or the supervisor is stopping.
    """
    return await _spawn(actor, args, name, supervisor, None)


async def _spawn(
    actor: Actor[M, S, A],
    args: A,
    name: str | None,
    supervisor: ActorRef[Any] | None,
    actor_id: ActorId | None,
) -> ActorRef[M]:
    loop = asyncio.get_running_loop()
    if supervisor is not None and supervisor._status >= _DRAINING:
        raise SpawnError(f"supervisor {supervisor.id} is shutting down", name=name)
    ref: ActorRef[M] = ActorRef(_TOKEN, actor, name, loop, actor_id or ActorId(next_pid()))
    if name is not None:
        _registry._register_name(name, ref)
    ref._status = _STARTING
    _registry._register_pid(ref)
    try:
        state = await actor.pre_start(ref, args)
    except BaseException as exc:
        ref._abandon()
        if isinstance(exc, Exception):
            label = f"{type(actor).__name__}" + (f" {name!r}" if name else "")
            raise SpawnError(f"{label} failed to start: {exc!r}", name=name) from exc
        raise
    if ref._killed:
        ref._abandon()
        raise SpawnError(f"{type(actor).__name__} was killed during startup", name=name)
    if supervisor is not None:
        if supervisor._status >= _DRAINING:
            ref._abandon()
            raise SpawnError(f"supervisor {supervisor.id} is shutting down", name=name)
        ref.link(supervisor)
    if ref._status == _STARTING:
        ref._status = _RUNNING
    ref._task = loop.create_task(ref._run(state))
    ref._notify_supervisors(ActorStarted(ref))
    return ref


async def spawn_remote(
    actor: Actor[Any, S, A],
    args: A,
    *,
    node_id: int,
    pid: int,
    name: str | None = None,
    supervisor: ActorRef[Any] | None = None,
) -> ActorRef[Any]:
    """Start the local stand-in of actor ``pid`` on node ``node_id`` (for transports).

    Messages sent to the returned ref are serialized and handed to ``actor``; its name is
    shown but never registered (names are per node). If ``actor`` defines a synchronous
    ``handle_now(message)``, messages are given to it directly while its mailbox is empty,
    in order, sparing a loop pass; it must not block.

    Raises:
        SpawnError: ``pre_start`` raised.
    """
    ref = await _spawn(actor, args, None, supervisor, ActorId(pid, node_id))
    ref._name = name
    return ref


async def multi_call(
    actors: Sequence[ActorRef[Any]], msg: Call[R], timeout: float | None = None
) -> list[R | RactorError]:
    """Call every actor with (a copy of) ``msg`` at once; each result is a reply or an error."""

    async def one(ref: ActorRef[Any]) -> R | RactorError:
        try:
            return await ref.call(copy.copy(msg), timeout)
        except (CallError, MessagingError) as exc:
            return exc

    return list(await asyncio.gather(*(one(a) for a in actors)))

