"""Actor cells: what an ``ActorRef`` points at.

A *cell* holds an actor's life; the ``ActorRef`` users hold is a small handle (an id and a
cell). :class:`ActorCell` is a local actor: its mailbox, its run loop on one asyncio task,
its lifecycle, links, monitors and supervision events. A ref to another node's actor points
at that node's :class:`~ractor_core._remote.RemoteNode` instead, an entry in a transport's
table with no task and no mailbox of its own.

Order of processing in an ``ActorCell``: a kill (a signal) interrupts whatever runs; a stop
request is taken before supervision events, which are taken before ordinary messages.
Messages from one sender arrive in the order sent (one FIFO mailbox). A mailbox may be
bounded (``capacity``): ``cast`` then refuses with ``MailboxFull``, ``send`` and ``call`` wait
for room; stop, kill and supervision events never wait and are never refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import traceback
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from . import _registry, pg
from ._errors import MailboxFull, MessagingError
from ._message import MessageFamily, RpcReplyPort, _Envelope, _handling, message_family
from ._supervision import (
    ActorFailed,
    ActorStatus,
    ActorTerminated,
    SupervisionEvent,
)

if TYPE_CHECKING:
    from ._actor import Actor
    from ._ref import ActorRef

__all__ = ["ActorCell", "Cell"]

_log = logging.getLogger("ractor.core.actor")
_sup_log = logging.getLogger("ractor.core.supervision")

_DRAIN = object()  # end-of-mailbox marker queued by drain()
_BUDGET = 256  # messages handled before the actor yields to other tasks

HandleWrapper = Callable[[Callable[..., Awaitable[None]]], Callable[..., Awaitable[None]]]
handle_wrappers: list[HandleWrapper] = []
"""Wrappers of ``handle`` applied when an actor starts (see ``transport.wrap_handle``)."""
_UNBOUNDED = sys.maxsize

_UNSTARTED = ActorStatus.UNSTARTED
_STARTING = ActorStatus.STARTING
_RUNNING = ActorStatus.RUNNING
_DRAINING = ActorStatus.DRAINING
_STOPPING = ActorStatus.STOPPING
_STOPPED = ActorStatus.STOPPED


def _wait_expired(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_exception(TimeoutError())


class Cell(ABC):
    """What a ref's operations act on: a local actor, or a transport's remote-actor table.

    Every method takes the ref it is called through, so one cell object can stand behind
    many refs (a remote node's table stands behind all the refs of its actors).
    """

    __slots__ = ()

    # What ActorRef.cast's inlined hot path reads (ActorCell has its own): a cell without a
    # local mailbox has no room (limit 0), so every cast goes to its cast() method.
    _queue: deque[Any] | tuple[()] = ()
    _limit: int = 0
    _waiter: asyncio.Future[None] | None = None

    @abstractmethod
    def status(self, ref: ActorRef[Any]) -> ActorStatus:
        """The actor's lifecycle status."""

    @abstractmethod
    def name(self, ref: ActorRef[Any]) -> str | None:
        """The actor's name (registered, or advertised by its node)."""

    @abstractmethod
    def accepting(self, ref: ActorRef[Any]) -> bool:
        """Whether messages are still taken."""

    @abstractmethod
    def cast(self, ref: ActorRef[Any], msg: Any) -> None:
        """Send without waiting; raise ``MessagingError`` (``MailboxFull`` when full)."""

    @abstractmethod
    async def send(self, ref: ActorRef[Any], msg: Any) -> None:
        """Send, waiting for room in a bounded mailbox."""

    @abstractmethod
    def put_call(self, ref: ActorRef[Any], msg: Any, port: RpcReplyPort[Any]) -> bool:
        """Queue (or transmit) a call; False when the mailbox is full (nothing queued)."""

    async def wait_room(  # noqa: B027
        self, ref: ActorRef[Any], timeout: float | None, again: bool = False
    ) -> None:
        """Wait until the mailbox has room (``TimeoutError`` past ``timeout``); ``again``: the
        caller was woken before and lost the slot, so it waits first in line. A cell that
        never refuses a call has room at once."""

    @abstractmethod
    def stop(self, ref: ActorRef[Any], reason: str | None) -> None:
        """Stop after the current message."""

    @abstractmethod
    def kill(self, ref: ActorRef[Any]) -> None:
        """Stop at once."""

    @abstractmethod
    def drain(self, ref: ActorRef[Any]) -> None:
        """Stop after the queued messages."""

    @abstractmethod
    async def wait(self, ref: ActorRef[Any], timeout: float | None) -> None:
        """Wait until the actor has stopped (``TimeoutError`` past ``timeout``)."""

    @abstractmethod
    def watch(self, ref: ActorRef[Any], watcher: ActorRef[Any]) -> None:
        """Send ``watcher`` the actor's supervision events (a monitor)."""

    @abstractmethod
    def unwatch(self, ref: ActorRef[Any], watcher: ActorRef[Any]) -> None:
        """Stop sending ``watcher`` the actor's events."""

    def send_supervision(self, ref: ActorRef[Any], event: SupervisionEvent) -> bool:
        """Deliver a supervision event; False when the actor does not take them."""
        return False

    def mailbox_len(self, ref: ActorRef[Any]) -> int:
        """Messages queued here and not taken yet."""
        return 0

    def capacity(self, ref: ActorRef[Any]) -> int | None:
        """The mailbox bound (None: unbounded)."""
        return None


class ActorCell(Cell):
    """A local actor: mailbox, run loop, lifecycle, links and monitors."""

    __slots__ = (
        "_actor",
        "_cap",
        "_children",
        "_done_waiters",
        "_event_now",
        "_family",
        "_in_task",
        "_killed",
        "_limit",
        "_loop",
        "_monitors",
        "_name",
        "_prio",
        "_putters",
        "_queue",
        "_status",
        "_stop_reason",
        "_stop_requested",
        "_sup_events",
        "_supervisor",
        "_task",
        "_waiter",
        "current",
    )

    def __init__(
        self,
        actor: Actor[Any, Any, Any],
        name: str | None,
        loop: asyncio.AbstractEventLoop,
        capacity: int | None,
    ) -> None:
        self._actor = actor
        self._name = name
        self._loop = loop
        self._queue: deque[Any] = deque()  # pyright: ignore[reportIncompatibleVariableOverride]
        self._cap = _UNBOUNDED if capacity is None else capacity
        self._putters: deque[asyncio.Future[None]] | None = None  # senders waiting for room
        self._waiter: asyncio.Future[None] | None = None
        # what the hot path reads: -1 while messages are taken by an unbounded mailbox, the
        # capacity while they are taken by a bounded one, 0 once they are not taken
        self._limit = -1 if capacity is None else capacity
        self._status = _UNSTARTED
        self._prio = False
        self._stop_requested = False
        self._stop_reason: str | None = None
        self._killed = False
        self._in_task = False
        self._sup_events: deque[SupervisionEvent] | None = None  # made when first needed
        self._task: asyncio.Task[None] | None = None
        # None while running; each wait() adds its own future
        self._done_waiters: list[asyncio.Future[None]] | None = None
        self._supervisor: ActorRef[Any] | None = None
        self._children: dict[Any, ActorRef[Any]] | None = None  # made when first needed
        self._monitors: dict[Any, ActorRef[Any]] | None = None
        self._event_now: Callable[[SupervisionEvent], bool] | None = getattr(
            actor, "handle_event_now", None
        )
        self._family: MessageFamily | bool | None = False  # False: not resolved yet
        self.current: _Envelope | None = None  # the call being handled

    # ------------------------------------------------------------------ queries

    def status(self, ref: ActorRef[Any]) -> ActorStatus:
        """The actor's lifecycle status."""
        return self._status

    def name(self, ref: ActorRef[Any]) -> str | None:
        """The registered name."""
        return self._name

    def accepting(self, ref: ActorRef[Any]) -> bool:
        """Whether messages are still taken."""
        return self._limit != 0

    def mailbox_len(self, ref: ActorRef[Any]) -> int:
        """Messages queued and not taken yet (the one being handled is not counted)."""
        queue = self._queue
        return len(queue) - 1 if queue and queue[-1] is _DRAIN else len(queue)

    def capacity(self, ref: ActorRef[Any]) -> int | None:
        """The mailbox bound (None: unbounded)."""
        return None if self._cap == _UNBOUNDED else self._cap

    def family(self) -> MessageFamily | None:
        """The message family that decodes messages from other nodes (None: local only)."""
        family = self._family
        if family is False:
            family = message_family(type(self._actor).message_type())
            self._family = family
        return family  # type: ignore[return-value]  # pyright: ignore[reportReturnType]

    @property
    def supervisor(self) -> ActorRef[Any] | None:
        """The linked supervisor."""
        return self._supervisor

    @property
    def children(self) -> list[ActorRef[Any]]:
        """The linked children."""
        return list(self._children.values()) if self._children else []

    # ------------------------------------------------------------------ messaging

    def _refuse(self, ref: ActorRef[Any], msg: Any, what: str) -> MessagingError:
        return MessagingError(f"actor {ref.id} is not running; the {what} was not sent", msg)

    def _append(self, item: Any) -> None:
        """Queue ``item`` (a message, an envelope, the drain marker) and wake the loop."""
        self._queue.append(item)
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def cast(self, ref: ActorRef[Any], msg: Any) -> None:
        """Queue a message; ``MailboxFull`` when the bounded mailbox is full."""
        if not self._limit:
            raise self._refuse(ref, msg, "message")
        if len(self._queue) >= self._cap:
            raise MailboxFull(
                f"the mailbox of actor {ref.id} is full ({self._cap} messages); the message "
                "was not sent (await send() waits for room)",
                msg,
            )
        self._append(msg)

    def offer(self, msg: Any) -> bool:
        """Queue a message if there is room (for transports); False when full.

        Raises:
            MessagingError: the actor no longer takes messages.
        """
        if not self._limit:
            raise MessagingError("the actor is not running", msg)
        if len(self._queue) >= self._cap:
            return False
        self._append(msg)
        return True

    async def send(self, ref: ActorRef[Any], msg: Any) -> None:
        """Queue a message, waiting for room in a bounded mailbox."""
        again = False
        while True:
            if not self._limit:
                raise self._refuse(ref, msg, "message")
            if len(self._queue) < self._cap:
                self.cast(ref, msg)
                return
            try:
                await self._wait_for_room(None, again)
            except MessagingError:
                raise self._refuse(ref, msg, "message") from None
            again = True

    def put_call(self, ref: ActorRef[Any], msg: Any, port: RpcReplyPort[Any]) -> bool:
        """Queue a call in its envelope; False when the mailbox is full."""
        if not self._limit:
            raise self._refuse(ref, msg, "call")
        if len(self._queue) >= self._cap:
            return False
        self._append(_Envelope(msg, port))
        return True

    async def wait_room(
        self, ref: ActorRef[Any], timeout: float | None, again: bool = False
    ) -> None:
        """Wait until the mailbox has room (``TimeoutError`` past ``timeout``); returns at
        once when there is room now."""
        if self._limit and len(self._queue) < self._cap:
            return
        try:
            await self._wait_for_room(timeout, again)
        except MessagingError:
            raise self._refuse(ref, None, "call") from None

    async def _wait_for_room(self, timeout: float | None, again: bool = False) -> None:
        """Wait for a free slot, in turn with other waiting senders; a sender that was woken
        but lost the slot (a cast took it first) waits at the front, so waiting senders keep
        their order. ``MessagingError`` when the actor stops meanwhile."""
        if not self._limit:
            raise MessagingError("the actor stopped")
        putters = self._putters
        if putters is None:
            putters = self._putters = deque()
        fut: asyncio.Future[None] = self._loop.create_future()
        if again:
            putters.appendleft(fut)
        else:
            putters.append(fut)
        handle = None if timeout is None else self._loop.call_later(timeout, _wait_expired, fut)
        try:
            await fut
        except BaseException:
            fut.cancel()
            with contextlib.suppress(ValueError):
                putters.remove(fut)
            # a wake-up this waiter got but cannot use goes to the next one
            if self._limit and len(self._queue) < self._cap:
                self._wake_putter()
            raise
        finally:
            if handle is not None:
                handle.cancel()

    def _wake_putter(self) -> None:
        putters = self._putters
        while putters:
            fut = putters.popleft()
            if not fut.done():
                fut.set_result(None)
                return

    # ------------------------------------------------------------------ lifecycle

    def stop(self, ref: ActorRef[Any], reason: str | None) -> None:
        """Ask the actor to stop after its current message; queued messages are dropped."""
        if self._status >= _STOPPING or self._stop_requested:
            return
        self._stop_requested = True
        self._stop_reason = reason
        self._limit = 0
        self._fail_putters()
        self._wake_priority()

    def kill(self, ref: ActorRef[Any]) -> None:
        """Stop the actor at once, interrupting its current handler; ``post_stop`` is skipped."""
        if self._status >= _STOPPED or self._killed:
            return
        self._killed = True
        self._limit = 0
        self._fail_putters()
        self._wake_priority()
        task = self._task
        # A task that has not started yet must not be cancelled (its coroutine would never
        # run its cleanup); it sees the kill flag on its first step instead.
        if task is not None and self._in_task and not task.done():
            task.cancel()

    def drain(self, ref: ActorRef[Any]) -> None:
        """Refuse new messages, handle those already queued, then stop (reason ``"Drained"``)."""
        if not self._limit or self._status >= _DRAINING:
            return
        self._limit = 0
        self._fail_putters()
        if self._status >= _RUNNING:
            self._status = _DRAINING
        self._append(_DRAIN)

    def _fail_putters(self) -> None:
        putters = self._putters
        if putters:
            self._putters = None
            for fut in putters:
                if not fut.done():
                    fut.set_exception(MessagingError("the actor stopped"))

    async def wait(self, ref: ActorRef[Any], timeout: float | None) -> None:
        """Wait until the actor has stopped (``TimeoutError`` past ``timeout``)."""
        if self._status >= _STOPPED:
            return
        fut: asyncio.Future[None] = self._loop.create_future()
        waiters = self._done_waiters
        if waiters is None:
            waiters = self._done_waiters = []
        waiters.append(fut)
        handle = None if timeout is None else self._loop.call_later(timeout, _wait_expired, fut)
        try:
            await fut
        finally:
            if handle is not None:
                handle.cancel()
            if self._done_waiters is not None:  # a waiter cancelled or timed out leaves
                with contextlib.suppress(ValueError):
                    self._done_waiters.remove(fut)

    def _set_done(self) -> None:
        waiters = self._done_waiters
        self._done_waiters = None
        if waiters:
            for fut in waiters:
                if not fut.done():
                    fut.set_result(None)

    def _wake_priority(self) -> None:
        self._prio = True
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    # ------------------------------------------------------------------ supervision

    def link(self, ref: ActorRef[Any], supervisor: ActorRef[Any]) -> None:
        """Make ``supervisor`` (a local actor) receive this actor's supervision events."""
        sup_cell = supervisor._cell
        if not isinstance(sup_cell, ActorCell):
            raise MessagingError(f"a supervisor is a local actor; {supervisor} is not")
        old = self._supervisor
        if old is not None and old is not supervisor:
            old_cell = old._cell
            if isinstance(old_cell, ActorCell) and old_cell._children:
                old_cell._children.pop(ref.id, None)
        self._supervisor = supervisor
        if sup_cell._children is None:
            sup_cell._children = {}
        sup_cell._children[ref.id] = ref

    def unlink(self, ref: ActorRef[Any], supervisor: ActorRef[Any]) -> None:
        """Remove the link to ``supervisor``."""
        if self._supervisor is supervisor:
            self._supervisor = None
        sup_cell = supervisor._cell
        if isinstance(sup_cell, ActorCell) and sup_cell._children:
            sup_cell._children.pop(ref.id, None)

    def watch(self, ref: ActorRef[Any], watcher: ActorRef[Any]) -> None:
        """Send ``watcher`` this actor's start/stop/failure events."""
        if self._monitors is None:
            self._monitors = {}
        self._monitors[watcher.id] = watcher

    def unwatch(self, ref: ActorRef[Any], watcher: ActorRef[Any]) -> None:
        """Stop sending ``watcher`` this actor's events."""
        if self._monitors:
            self._monitors.pop(watcher.id, None)

    def send_supervision(self, ref: ActorRef[Any], event: SupervisionEvent) -> bool:
        """Queue a supervision event; False when this actor no longer takes them."""
        if self._status >= _STOPPING:
            return False
        now = self._event_now
        if now is not None and self._status.is_active:
            try:
                if now(event):
                    return True
            except Exception:
                _sup_log.exception("actor %s: handle_event_now raised", ref.id)
        events = self._sup_events
        if events is None:
            events = self._sup_events = deque()
        events.append(event)
        self._wake_priority()
        return True

    def notify(self, event: SupervisionEvent) -> None:
        """Send ``event`` to the supervisor and the monitors."""
        sup = self._supervisor
        if sup is not None:
            sup._cell.send_supervision(sup, event)
        monitors = self._monitors
        if monitors:
            for mon in list(monitors.values()):
                if not mon._cell.send_supervision(mon, event):
                    monitors.pop(mon.id, None)

    # ------------------------------------------------------------------ the loop

    async def run(self, ref: ActorRef[Any], state: Any) -> None:
        """The actor's task: post_start, then messages until it stops."""
        actor = self._actor
        handle: Callable[..., Awaitable[None]] = actor.handle
        if handle_wrappers:  # e.g. tracing: once per actor, nothing per message
            for wrap in handle_wrappers:
                handle = wrap(handle)
        queue = self._queue
        loop = self._loop
        item: Any = None
        reason: str | None = None
        failure: BaseException | None = None
        outside_cancel = False
        budget = _BUDGET
        self._in_task = True
        bound = False  # whether message.reply can find this cell (set at the first call)
        try:
            if self._killed:
                raise asyncio.CancelledError
            await actor.post_start(ref, state)
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
                        await actor.handle_supervisor_evt(ref, event, state)
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
                    item = queue.popleft()
                    if self._putters:
                        self._wake_putter()
                    if type(item) is _Envelope:
                        if not bound:
                            # lazily: an actor that is never called pays nothing for it
                            _handling.set(self)
                            bound = True
                        self.current = item
                        await handle(ref, item.message, state)
                        self.current = None
                    elif item is _DRAIN:
                        reason = "Drained"
                        break
                    else:
                        await handle(ref, item, state)
                    item = None  # an unanswered, unkept reply port fails its caller now
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
            _sup_log.warning("actor %s failed: %r", ref.id, exc, exc_info=exc)
            # The traceback's frames would keep the state (and any reply port held in it)
            # alive; release them so that waiting callers fail now, as when Rust drops state.
            traceback.clear_frames(exc.__traceback__)
        self.current = None
        item = None
        outside_cancel = await self._finish(ref, state, reason, failure, outside_cancel)
        state = failure = None
        if outside_cancel:
            raise asyncio.CancelledError

    async def _finish(
        self,
        ref: ActorRef[Any],
        state: Any,
        reason: str | None,
        failure: BaseException | None,
        cancelled: bool,
    ) -> bool:
        """Run post_stop (unless killed or failed), release, notify; return whether the task
        was cancelled from outside (so that the caller re-raises the cancellation)."""
        self._limit = 0
        self._status = _STOPPING
        if self._killed:
            reason = "killed"
        elif failure is None and not cancelled:
            try:
                await self._actor.post_stop(ref, state)
            except asyncio.CancelledError:
                if self._killed:
                    reason = "killed"
                else:
                    cancelled = True
                    reason = "actor_task_cancelled"
                state = None
            except Exception as exc:
                failure = exc
                _sup_log.warning("actor %s failed in post_stop: %r", ref.id, exc, exc_info=exc)
        self.cleanup(ref)
        self._release(ref)
        if failure is not None:
            event: SupervisionEvent = ActorFailed(ref, failure)
        else:
            event = ActorTerminated(ref, state, reason)
        self.notify(event)
        sup = self._supervisor
        if sup is not None:
            sup_cell = sup._cell
            if isinstance(sup_cell, ActorCell) and sup_cell._children:
                sup_cell._children.pop(ref.id, None)
        self._monitors = None
        self._set_done()
        return cancelled

    def _release(self, ref: ActorRef[Any]) -> None:
        try:
            self._actor.release()
        except Exception:
            _log.exception("actor %s: release() raised", ref.id)

    def abandon(self, ref: ActorRef[Any]) -> None:
        """End an actor whose startup failed: clean up, release, wake the waiters."""
        self.cleanup(ref)
        self._release(ref)
        self._set_done()

    def cleanup(self, ref: ActorRef[Any]) -> None:
        """Release everything the actor holds; shared by normal exit and failed startup."""
        self._limit = 0
        self._status = _STOPPING
        self._fail_putters()
        children = self._children
        self._children = None
        if children:
            for child in children.values():
                child_cell = child._cell
                if isinstance(child_cell, ActorCell):
                    child_cell._supervisor = None
                child.kill()
        if self._name is not None:
            _registry._unregister_name(self._name, ref)
        _registry._unregister_pid(ref)  # Terminate is seen before the group leaves
        pg._on_actor_stopped(ref)
        _registry.demonitor_pids(ref.id)
        queue = self._queue
        why = f"actor {ref.id} stopped before handling the call"
        while queue:
            dropped = queue.popleft()
            if type(dropped) is _Envelope:
                dropped.port._drop(why)
        self._sup_events = None
        self._status = _STOPPED

    # ------------------------------------------------------------------ startup

    def start(self, ref: ActorRef[Any], state: Any) -> None:
        """Run the actor's loop on a new task (after ``pre_start``)."""
        if self._status == _STARTING:
            self._status = _RUNNING
        self._task = self._loop.create_task(self.run(ref, state))

    @property
    def killed(self) -> bool:
        """Whether the actor was killed (before its task started, too)."""
        return self._killed

    def starting(self) -> None:
        """``pre_start`` is about to run."""
        self._status = _STARTING
