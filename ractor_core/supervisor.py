"""Supervisors: actors that start other actors, watch them, and restart them (OTP ``supervisor``).

A :class:`Supervisor` starts its children in order from their :class:`ChildSpec` (each child is
linked to it), and when a child exits decides, from the child's :class:`Restart` type, whether
to restart it, and from its :class:`Strategy`, which other children go with it:

- ``ONE_FOR_ONE``: only that child is restarted;
- ``ONE_FOR_ALL``: the others are stopped (in reverse start order), then all start again in
  order;
- ``REST_FOR_ONE``: the children started after it are stopped (in reverse order), then it and
  they start again in order.

Restart types: ``PERMANENT`` children are always restarted; ``TRANSIENT`` ones only after an
*abnormal* exit: a failure (a raising hook, ``ActorFailed``) or a kill (``ActorTerminated``
with reason ``"killed"``, or a cancelled task); a graceful stop with any reason is normal.
``TEMPORARY`` children are never restarted and leave the supervisor when they exit (also when
a sibling's failure stops them).

Restart intensity: more than ``max_restarts`` restarts within ``max_seconds`` (a restart
attempt whose ``pre_start`` raises counts as another one) and the supervisor gives up: it stops
its children in reverse order and fails with :class:`MaxRestartsExceeded`, so its own
supervisor sees ``ActorFailed`` and applies *its* strategy (escalation). A supervisor is an
actor like any other: put one under another with ``ChildSpec("sub", Supervisor(...), None)``.

A child's spec may ask for a ``backoff`` (seconds to wait before its n-th restart within the
intensity period); the supervisor stays responsive meanwhile. A restart attempt that fails in
``pre_start`` (or takes longer than ``start_timeout``) is retried in the same way until the
intensity is exceeded. A child registered by ``name`` is registered again under that name when
restarted, so ``where_is(name)`` (or ``spec.where_is()``) finds the new one.

What a restart does not keep: a restarted child is a *new* actor (a new id and ref, state built
afresh by ``pre_start``, the same args, and the same actor instance unless the spec was given
a factory of actors, such as the class). Messages still queued in the old mailbox are lost,
and the calls among them fail with ``ReplyDropped``; refs to the old actor refuse messages
with ``MessagingError``. Find the new one by name, or with :func:`which_children`; senders
that must not lose work resend it, or hand it to a worker pool (``ractor_core.factory``),
which re-queues the jobs of a worker that died.

Stopping: a supervisor that stops gracefully stops its children in reverse start order, each
with ``stop("shutdown")``, killing one that has not stopped within its spec's ``shutdown``
seconds (default 5; ``0``: killed at once; ``None``: waits as long as it takes, the default
for a nested supervisor, as in OTP). A dynamic supervisor stops its children (which have no
order) all at once. A killed supervisor kills its children at once.

Observing: ``Supervisor.events`` is an :class:`~ractor_core.OutputPort` of :data:`ChildEvent`
values (started, exited, failed to start, gave up), kept across restarts of the supervisor
itself; the logger ``ractor.core.supervisor`` logs the same.

A :class:`DynamicSupervisor` starts with no children and takes them at run time with
:func:`start_child` (any supervisor does), up to ``max_children``; it restarts one for one,
and a child that exits without being restarted leaves it. :func:`terminate_child` stops and
removes a child; :func:`which_children` lists them.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, NoReturn, TypeAlias, TypeVar, cast, final

from ._actor import Actor
from ._errors import MailboxFull, MessagingError, RactorError, WaitTimeout
from ._id import ActorId
from ._message import Call
from ._port import OutputPort
from ._ref import ActorRef, spawn_linked
from ._registry import where_is
from ._supervision import ActorFailed, ActorTerminated, SupervisionEvent

__all__ = [
    "ChildEvent",
    "ChildExited",
    "ChildInfo",
    "ChildSpec",
    "ChildStartFailed",
    "ChildStarted",
    "DynamicSupervisor",
    "MaxRestartsExceeded",
    "Restart",
    "RestartsExhausted",
    "Strategy",
    "Supervisor",
    "SupervisorError",
    "SupervisorMsg",
    "exponential_backoff",
    "start_child",
    "terminate_child",
    "which_children",
]

M = TypeVar("M")
A = TypeVar("A")

_log = logging.getLogger("ractor.core.supervisor")

_ABNORMAL = frozenset({"killed", "actor_task_cancelled"})
_WORKER_SHUTDOWN = 5.0  # a worker child's default shutdown time (a supervisor's: no limit)
_KILL_WAIT = 5.0  # how long a killed child may take to end before the supervisor moves on
_SHUTDOWN = "shutdown"


# --------------------------------------------------------------------------- options


class Strategy(enum.Enum):
    """Which children a supervisor restarts when one of them is to be restarted."""

    ONE_FOR_ONE = "one_for_one"
    """Only the child that exited."""
    ONE_FOR_ALL = "one_for_all"
    """Every child: the others are stopped in reverse order, then all start in order."""
    REST_FOR_ONE = "rest_for_one"
    """The child that exited and every child started after it."""


class Restart(enum.Enum):
    """When a child is restarted after it exits."""

    PERMANENT = "permanent"
    """Always."""
    TRANSIENT = "transient"
    """Only after an abnormal exit: a failure, or a kill."""
    TEMPORARY = "temporary"
    """Never; the child leaves its supervisor when it exits."""


def exponential_backoff(
    initial: float = 0.1, factor: float = 2.0, maximum: float = 10.0
) -> Callable[[int], float]:
    """A ``ChildSpec.backoff``: ``initial`` seconds before the first restart, times ``factor``
    for each further restart within the intensity period, at most ``maximum``."""
    for what, value in (("initial", initial), ("factor", factor), ("maximum", maximum)):
        if not (value >= 0 and math.isfinite(value)):
            raise ValueError(f"exponential_backoff: {what} is a finite number >= 0, got {value}")

    def delay(n: int) -> float:
        try:
            return min(maximum, initial * factor ** max(0, n - 1))
        except OverflowError:  # past the largest float, long after the maximum
            return maximum if initial else 0.0

    return delay


# --------------------------------------------------------------------------- errors


class SupervisorError(RactorError):
    """A supervisor refused a request (unknown or duplicate child id, too many children), or a
    child could not be started."""


class MaxRestartsExceeded(SupervisorError):
    """A supervisor restarted its children more than ``max_restarts`` times within
    ``max_seconds`` and gave up: it stopped its children and failed with this error.

    ``child_id`` is the child whose exit was one too many; ``cause`` is that exit (the
    exception of a failure or of a failed restart, or a stop reason).
    """

    def __init__(
        self,
        message: str,
        *,
        child_id: str,
        max_restarts: int,
        max_seconds: float,
        cause: BaseException | str | None,
    ) -> None:
        super().__init__(message)
        self.child_id = child_id
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self.cause = cause


# --------------------------------------------------------------------------- child specs


class _Default(enum.Enum):
    SHUTDOWN = "default"

    def __repr__(self) -> str:
        return "<5 s, or None for a supervisor>"


_DEFAULT_SHUTDOWN = _Default.SHUTDOWN


# Arguments are checked at run time too (callers need not be type-checked), through
# ``object`` so that the type checkers do not call the checks redundant.


def _is(value: object, kind: type[Any] | tuple[type[Any], ...]) -> bool:
    return isinstance(value, kind) and not isinstance(value, bool)


def _check_seconds(what: str, value: object, *, zero: bool) -> None:
    if value is None:
        return
    if (
        not _is(value, (int, float))
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not zero)
    ):
        bound = ">= 0" if zero else "> 0"
        raise ValueError(f"{what} is a finite number of seconds {bound} or None, got {value!r}")


@final
class ChildSpec(Generic[M]):
    """How a supervisor starts (and restarts) one child that takes messages ``M``.

    ``ChildSpec("worker", Worker(), args)`` is a ``ChildSpec[WorkerMsg]``; starting it gives an
    ``ActorRef[WorkerMsg]``. Given an actor instance, every restart reuses it (``pre_start``
    builds fresh state each time); given a callable such as the class itself
    (``ChildSpec("worker", Worker, args)``), each start gets a new instance from it. The same
    args are passed to every start.

    Args:
        id: the child's id, unique within its supervisor.
        actor: the actor to spawn, or a callable making one for each start.
        args: the arguments of its ``pre_start``.
        restart: when it is restarted (default ``PERMANENT``).
        name: a name to register it under (again after each restart); None: unnamed.
        shutdown: seconds it gets to stop gracefully before it is killed (0: killed at once;
            None: no limit). By default 5 s, and no limit for a supervisor (given as an
            instance or as its class), so that its subtree stops gracefully (as in OTP).
        backoff: seconds to wait before its n-th restart within the intensity period
            (n from 1), e.g. :func:`exponential_backoff`; None: restart at once.
        start_timeout: seconds its ``pre_start`` may take (None: no limit); past it the start
            fails like a raising ``pre_start``.
        capacity: the bound of its mailbox (None: unbounded).
    """

    __slots__ = (
        "actor",
        "args",
        "backoff",
        "capacity",
        "id",
        "name",
        "restart",
        "shutdown",
        "start_timeout",
    )

    def __init__(
        self,
        id: str,
        actor: Actor[M, Any, A] | Callable[[], Actor[M, Any, A]],
        args: A,
        *,
        restart: Restart = Restart.PERMANENT,
        name: str | None = None,
        shutdown: float | _Default | None = _DEFAULT_SHUTDOWN,
        backoff: Callable[[int], float] | None = None,
        start_timeout: float | None = None,
        capacity: int | None = None,
    ) -> None:
        if not _is(id, str) or not id:
            raise ValueError(f"a child id is a non-empty string, got {id!r}")
        if not _is(actor, Actor) and not callable(actor):
            raise TypeError(
                f"child {id!r}: actor is an Actor, or a callable making one, got {actor!r}"
            )
        if not _is(restart, Restart):
            raise TypeError(f"child {id!r}: restart is a Restart, got {restart!r}")
        if backoff is not None and not callable(backoff):
            raise TypeError(f"child {id!r}: backoff is a callable or None, got {backoff!r}")
        if name is not None and (not _is(name, str) or not name):
            raise ValueError(f"child {id!r}: name is a non-empty string or None, got {name!r}")
        if capacity is not None and (not _is(capacity, int) or capacity < 1):
            raise ValueError(
                f"child {id!r}: capacity (of its mailbox) is a whole number >= 1 or None, "
                f"got {capacity!r}"
            )
        if shutdown is _DEFAULT_SHUTDOWN:
            given: object = actor
            nested = _is(given, _SupervisorBase) or (
                isinstance(given, type) and issubclass(given, _SupervisorBase)
            )
            shutdown = None if nested else _WORKER_SHUTDOWN
        _check_seconds(f"child {id!r}: shutdown", shutdown, zero=True)
        _check_seconds(f"child {id!r}: start_timeout", start_timeout, zero=False)
        self.id = id
        """The child's id within its supervisor."""
        self.actor: Actor[M, Any, Any] | Callable[[], Actor[M, Any, Any]] = actor
        """The actor spawned at each start, or the callable making one for each start."""
        self.args: Any = args
        """The arguments of its ``pre_start``."""
        self.restart = restart
        """When it is restarted."""
        self.name = name
        """The name it is registered under, if any."""
        self.shutdown: float | None = shutdown
        """Seconds it gets to stop before it is killed (None: no limit)."""
        self.backoff = backoff
        """Seconds to wait before its n-th restart within the intensity period."""
        self.start_timeout = start_timeout
        """Seconds its ``pre_start`` may take (None: no limit)."""
        self.capacity = capacity
        """The bound of its mailbox (None: unbounded)."""

    def where_is(self) -> ActorRef[M] | None:
        """The live actor registered under this spec's ``name`` (None if unnamed or absent).

        After a restart this is the new child.
        """
        if self.name is None:
            return None
        return cast("ActorRef[M] | None", where_is(self.name))

    def __repr__(self) -> str:
        actor = self.actor
        name = f" name={self.name!r}" if self.name is not None else ""
        return (
            f"<ChildSpec {self.id!r} {getattr(actor, '__qualname__', type(actor).__name__)} "
            f"{self.restart.value}{name}>"
        )


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class ChildStarted:
    """A child started: ``restarts`` is 0 the first time, else its restarts within the
    intensity period."""

    supervisor: ActorRef[Any]
    child_id: str
    actor: ActorRef[Any]
    restarts: int


@dataclass(frozen=True, slots=True)
class ChildExited:
    """A child exited by itself (failed, stopped or was killed by someone else).

    ``error`` is the exception of a failure (else None), ``reason`` the stop reason of a
    graceful stop or ``"killed"``; ``restart_in`` is the delay before its restart in seconds
    (0.0: now), or None when it is not restarted.
    """

    supervisor: ActorRef[Any]
    child_id: str
    actor: ActorRef[Any]
    reason: str | None
    error: BaseException | None
    restart_in: float | None


@dataclass(frozen=True, slots=True)
class ChildStartFailed:
    """Starting a child failed (its ``pre_start`` raised, its name was taken, it timed out).

    ``restart_in`` is the delay before the next attempt, or None when none follows (a child
    added with ``start_child`` that does not start is refused instead).
    """

    supervisor: ActorRef[Any]
    child_id: str
    error: BaseException
    restart_in: float | None


@dataclass(frozen=True, slots=True)
class RestartsExhausted:
    """The supervisor exceeded its restart intensity: it stops its children and fails."""

    supervisor: ActorRef[Any]
    child_id: str
    error: MaxRestartsExceeded


ChildEvent: TypeAlias = ChildStarted | ChildExited | ChildStartFailed | RestartsExhausted
"""What a supervisor publishes on its ``events`` port."""


@dataclass(frozen=True, slots=True)
class ChildInfo:
    """One child of a supervisor, as :func:`which_children` reports it.

    ``actor`` is None while the child is not running (waiting for a restart, or a transient
    child that exited normally).
    """

    id: str
    actor: ActorRef[Any] | None
    restart: Restart
    restarts: int
    """Its restarts within the supervisor's intensity period (as of its last restart)."""


# --------------------------------------------------------------------------- messages


@dataclass(frozen=True, eq=False)
class _StartChild(Call["ActorRef[Any] | BaseException"]):
    spec: ChildSpec[Any]


@dataclass(frozen=True)
class _TerminateChild(Call["SupervisorError | None"]):
    child_id: str


@dataclass(frozen=True)
class _WhichChildren(Call[list[ChildInfo]]):
    pass


@dataclass(frozen=True)
class _RestartDue:
    token: int
    ids: tuple[str, ...]


SupervisorMsg: TypeAlias = _StartChild | _TerminateChild | _WhichChildren | _RestartDue
"""The message type of a supervisor (``ActorRef[SupervisorMsg]``); use the module's functions
(:func:`start_child`, :func:`terminate_child`, :func:`which_children`) to send them."""


async def start_child(
    supervisor: ActorRef[SupervisorMsg], spec: ChildSpec[M], *, timeout: float | None = None
) -> ActorRef[M]:
    """Start a child from ``spec`` under ``supervisor``, which restarts it from then on.

    The child is added after the existing ones (it is the last to start in a one-for-all
    restart and the first to stop).

    Raises:
        SupervisorError: the id is taken, the supervisor has ``max_children`` children, or
            the child did not start within its ``start_timeout``.
        SpawnError: the child's ``pre_start`` raised, or its name is taken.
        MessagingError: the supervisor is not running.
        CallTimeout: no answer within ``timeout`` seconds (the child may still start).
    """
    result = await supervisor.call(_StartChild(spec), timeout)
    if isinstance(result, BaseException):
        raise result
    return cast("ActorRef[M]", result)


async def terminate_child(
    supervisor: ActorRef[SupervisorMsg], child_id: str, *, timeout: float | None = None
) -> None:
    """Stop the child ``child_id`` (killing it after its ``shutdown`` seconds) and remove it.

    Raises:
        SupervisorError: ``supervisor`` has no child ``child_id``.
        MessagingError: the supervisor is not running.
        CallTimeout: no answer within ``timeout`` seconds.
    """
    error = await supervisor.call(_TerminateChild(child_id), timeout)
    if error is not None:
        raise error


async def which_children(
    supervisor: ActorRef[SupervisorMsg], *, timeout: float | None = None
) -> list[ChildInfo]:
    """The children of ``supervisor``, in start order.

    Raises:
        MessagingError: the supervisor is not running.
        CallTimeout: no answer within ``timeout`` seconds.
    """
    return await supervisor.call(_WhichChildren(), timeout)


# --------------------------------------------------------------------------- the actor


@dataclass(eq=False)
class _Child:
    spec: ChildSpec[Any]
    ref: ActorRef[Any] | None = None
    token: int = 0  # of the restart it waits for (0: none)
    times: deque[float] = field(default_factory=deque[float])  # its restarts in the period


@dataclass(eq=False)
class _State:
    myself: ActorRef[SupervisorMsg]
    children: dict[str, _Child] = field(default_factory=dict[str, _Child])  # start order
    running: dict[ActorId, _Child] = field(default_factory=dict[ActorId, _Child])
    restarts: deque[float] = field(default_factory=deque[float])
    timers: dict[int, asyncio.TimerHandle] = field(
        default_factory=dict[int, asyncio.TimerHandle]
    )
    tokens: int = 0


def _make(spec: ChildSpec[Any]) -> Actor[Any, Any, Any]:
    """The actor of one start of ``spec``: its instance, or a new one from its factory."""
    actor: Any = spec.actor
    if _is(actor, Actor):
        return cast("Actor[Any, Any, Any]", actor)
    made: Any = actor()
    if not _is(made, Actor):
        raise SupervisorError(
            f"child {spec.id!r}: its actor factory {actor!r} returned {made!r}, not an Actor"
        )
    return cast("Actor[Any, Any, Any]", made)


def _label(ref: ActorRef[Any]) -> str:
    name = ref.name
    return repr(name) if name is not None else str(ref.id)


def _describe(cause: BaseException | str | None) -> str:
    if isinstance(cause, BaseException):
        return f"failed: {cause!r}"
    if cause is None:
        return "stopped"
    return f"stopped ({cause})"


class _SupervisorBase(Actor[SupervisorMsg, _State, None]):
    """What Supervisor and DynamicSupervisor share: the restart engine."""

    def __init__(
        self,
        children: Sequence[ChildSpec[Any]],
        strategy: Strategy,
        max_restarts: int,
        max_seconds: float,
        max_children: int | None,
        dynamic: bool,
    ) -> None:
        if not _is(strategy, Strategy):
            raise TypeError(f"strategy is a Strategy, got {strategy!r}")
        if not _is(max_restarts, int) or max_restarts < 0:
            raise ValueError(f"max_restarts is a whole number >= 0, got {max_restarts!r}")
        _check_seconds("max_seconds", max_seconds, zero=False)
        if not _is(max_seconds, (int, float)):
            raise ValueError(f"max_seconds is a finite number of seconds > 0, got {max_seconds!r}")
        if max_children is not None and (not _is(max_children, int) or max_children < 1):
            raise ValueError(f"max_children is a whole number >= 1 or None, got {max_children!r}")
        specs = list(children)
        seen: set[str] = set()
        for spec in specs:
            if not _is(spec, ChildSpec):
                raise TypeError(f"children are ChildSpec instances, got {spec!r}")
            if spec.id in seen:
                raise ValueError(f"two children have the id {spec.id!r}")
            seen.add(spec.id)
        self._specs: tuple[ChildSpec[Any], ...] = tuple(specs)
        self.strategy = strategy
        """Which children restart together."""
        self.max_restarts = max_restarts
        """Restarts allowed within ``max_seconds`` before the supervisor gives up."""
        self.max_seconds = float(max_seconds)
        """The period of the restart intensity, in seconds."""
        self.max_children = max_children
        """How many children it takes at most (None: no limit)."""
        self._dynamic = dynamic
        # the states of the running supervisors of this instance (one, unless it is spawned
        # twice), whose timers release() cancels
        self._live: list[_State] = []
        self.events: OutputPort[ChildEvent] = OutputPort()
        """Where the supervisor publishes what happens to its children."""

    # ------------------------------------------------------------------ hooks

    async def pre_start(self, myself: ActorRef[SupervisorMsg], args: None) -> _State:
        """Start the children in order; if one fails, stop the started ones and fail."""
        state = _State(myself)
        self._live.append(state)
        for spec in self._specs:
            state.children[spec.id] = _Child(spec)
        for child in list(state.children.values()):
            try:
                await self._start(state, child)
            except Exception as exc:
                self._emit(ChildStartFailed(myself, child.spec.id, exc, None))
                await self._stop_all(state)
                raise SupervisorError(
                    f"supervisor {_label(myself)}: child {child.spec.id!r} failed to start: "
                    f"{exc}"
                ) from exc
        return state

    async def handle(
        self, myself: ActorRef[SupervisorMsg], message: SupervisorMsg, state: _State
    ) -> None:
        """Serve start_child, terminate_child, which_children, and due restarts."""
        match message:
            case _RestartDue(token=token, ids=ids):
                state.timers.pop(token, None)
                due = [
                    c
                    for i in ids
                    if (c := state.children.get(i)) is not None
                    and c.token == token
                    and c.ref is None
                ]
                for child in due:
                    child.token = 0
                await self._start_batch(state, due)
            case _StartChild(spec=spec):
                started = message.reply
                started.send(await self._add_child(state, spec))
            case _TerminateChild(child_id=child_id):
                done = message.reply
                gone = state.children.pop(child_id, None)
                if gone is None:
                    done.send(
                        SupervisorError(f"supervisor {_label(myself)} has no child {child_id!r}")
                    )
                    return
                self._cancel(state, gone)
                _log.info("supervisor %s: terminating child %r", _label(myself), child_id)
                await self._stop(state, gone)
                done.send(None)
            case _WhichChildren():
                message.reply.send(
                    [
                        ChildInfo(c.spec.id, c.ref, c.spec.restart, len(c.times))
                        for c in state.children.values()
                    ]
                )

    async def handle_supervisor_evt(
        self, myself: ActorRef[SupervisorMsg], event: SupervisionEvent, state: _State
    ) -> None:
        """Apply the restart type and the strategy to a child that exited.

        Raises:
            MaxRestartsExceeded: the restart intensity was exceeded (children already stopped).
        """
        if isinstance(event, ActorFailed):
            error: BaseException | None = event.error
            reason: str | None = None
        elif isinstance(event, ActorTerminated):
            error, reason = None, event.reason
        else:
            return
        child = state.running.get(event.actor.id)
        if child is None or child.ref != event.actor:
            return  # an actor this supervisor stopped itself, or not a child of it
        del state.running[event.actor.id]
        child.ref = None
        spec = child.spec
        abnormal = error is not None or reason in _ABNORMAL
        if spec.restart is Restart.PERMANENT or (spec.restart is Restart.TRANSIENT and abnormal):
            cause: BaseException | str | None = error if error is not None else reason
            delay = self._count_restart(state, child)
            self._emit(ChildExited(myself, spec.id, event.actor, reason, error, delay))
            if delay is None:
                await self._give_up(state, child, cause)
            _log.log(
                logging.WARNING if abnormal else logging.INFO,
                "supervisor %s: child %r %s; restarting it%s",
                _label(myself), spec.id, _describe(cause),
                f" in {delay:g}s" if delay else "",
            )
            await self._restart(state, child, delay)
            return
        self._emit(ChildExited(myself, spec.id, event.actor, reason, error, None))
        _log.info(
            "supervisor %s: child %r %s; not restarted (%s)",
            _label(myself), spec.id, _describe(error if error is not None else reason),
            spec.restart.value,
        )
        if spec.restart is Restart.TEMPORARY or self._dynamic:
            state.children.pop(spec.id, None)

    async def post_stop(self, myself: ActorRef[SupervisorMsg], state: _State) -> None:
        """Stop the children in reverse start order."""
        await self._stop_all(state)

    def release(self) -> None:
        """Cancel the pending restarts of a supervisor that ended without ``post_stop`` (killed,
        or failed); its children went with it."""
        for state in [s for s in self._live if not s.myself.is_alive]:
            self._live.remove(state)
            for handle in state.timers.values():
                handle.cancel()
            state.timers.clear()

    # ------------------------------------------------------------------ the engine

    def _emit(self, event: ChildEvent) -> None:
        if self.events.subscriber_count:
            self.events.send(event)

    async def _start(self, state: _State, child: _Child) -> ActorRef[Any]:
        """Spawn one child, linked; raise what its start raised."""
        spec = child.spec
        start = spawn_linked(
            _make(spec), spec.args, state.myself, name=spec.name, capacity=spec.capacity
        )
        if spec.start_timeout is None:
            ref = await start
        else:
            try:
                ref = await asyncio.wait_for(start, spec.start_timeout)
            except TimeoutError:
                raise SupervisorError(
                    f"child {spec.id!r} did not start within {spec.start_timeout}s"
                ) from None
        child.ref = ref
        state.running[ref.id] = child
        self._emit(ChildStarted(state.myself, spec.id, ref, len(child.times)))
        return ref

    async def _add_child(self, state: _State, spec: ChildSpec[Any]) -> ActorRef[Any] | Exception:
        label = _label(state.myself)
        if not _is(spec, ChildSpec):
            return TypeError(f"start_child takes a ChildSpec, got {spec!r}")
        if spec.id in state.children:
            return SupervisorError(f"supervisor {label} already has a child {spec.id!r}")
        if self.max_children is not None and len(state.children) >= self.max_children:
            return SupervisorError(
                f"supervisor {label} has max_children={self.max_children} children; "
                f"{spec.id!r} was not started"
            )
        child = _Child(spec)
        state.children[spec.id] = child
        try:
            return await self._start(state, child)
        except Exception as exc:
            if state.children.get(spec.id) is child:
                del state.children[spec.id]
            self._emit(ChildStartFailed(state.myself, spec.id, exc, None))
            return exc

    def _count_restart(self, state: _State, child: _Child) -> float | None:
        """Count one restart of ``child``: its backoff in seconds, or None past the intensity
        (the caller then gives up)."""
        now = asyncio.get_running_loop().time()
        horizon = now - self.max_seconds
        for times in (state.restarts, child.times):
            times.append(now)
            while times and times[0] < horizon:
                times.popleft()
        if len(state.restarts) > self.max_restarts:
            return None
        backoff = child.spec.backoff
        if backoff is None:
            return 0.0
        try:
            delay = float(backoff(len(child.times)))
        except Exception as exc:  # a bug in the backoff must not take the tree down
            _log.error(
                "supervisor %s: the backoff of child %r raised %r; restarting it at once",
                _label(state.myself), child.spec.id, exc,
            )
            return 0.0
        return delay if delay > 0 and math.isfinite(delay) else 0.0

    async def _give_up(
        self, state: _State, child: _Child, cause: BaseException | str | None
    ) -> NoReturn:
        myself = state.myself
        error = MaxRestartsExceeded(
            f"supervisor {_label(myself)} gave up: more than {self.max_restarts} restarts "
            f"within {self.max_seconds:g}s; the last, child {child.spec.id!r}, "
            f"{_describe(cause)}",
            child_id=child.spec.id,
            max_restarts=self.max_restarts,
            max_seconds=self.max_seconds,
            cause=cause,
        )
        _log.error("%s", error)
        self._emit(RestartsExhausted(myself, child.spec.id, error))
        await self._stop_all(state)
        if isinstance(cause, Exception):
            raise error from cause
        raise error

    def _affected(self, state: _State, child: _Child) -> list[_Child]:
        """The children restarting with ``child`` under the strategy, in start order."""
        if self.strategy is Strategy.ONE_FOR_ONE:
            return [child]
        children = list(state.children.values())
        if self.strategy is Strategy.REST_FOR_ONE:
            return children[children.index(child) :]
        return children

    async def _restart(self, state: _State, child: _Child, delay: float) -> None:
        group = self._affected(state, child)
        for other in reversed(group):
            if other is not child:
                self._cancel(state, other)
                await self._stop(state, other)
        batch: list[_Child] = []
        for other in group:
            if other is child or other.spec.restart is not Restart.TEMPORARY:
                batch.append(other)
            else:
                state.children.pop(other.spec.id, None)
        if delay > 0:
            self._schedule(state, batch, delay)
        else:
            await self._start_batch(state, batch)

    async def _start_batch(self, state: _State, batch: list[_Child]) -> None:
        """Start the children of a restart in order; a failed start is one more restart of
        that child, retried (with the rest of the batch) through the mailbox."""
        for i, child in enumerate(batch):
            if child.ref is not None or state.children.get(child.spec.id) is not child:
                continue
            try:
                await self._start(state, child)
            except Exception as exc:
                delay = self._count_restart(state, child)
                self._emit(ChildStartFailed(state.myself, child.spec.id, exc, delay))
                if delay is None:
                    await self._give_up(state, child, exc)
                _log.warning(
                    "supervisor %s: child %r failed to restart: %r; retrying%s",
                    _label(state.myself), child.spec.id, exc,
                    f" in {delay:g}s" if delay else "",
                )
                self._schedule(state, batch[i:], delay)
                return

    def _schedule(self, state: _State, batch: list[_Child], delay: float) -> None:
        """Restart ``batch`` after ``delay`` seconds, by a message to the supervisor itself."""
        state.tokens += 1
        token = state.tokens
        for child in batch:
            child.token = token
        due = _RestartDue(token, tuple(c.spec.id for c in batch))
        loop = asyncio.get_running_loop()
        myself = state.myself

        def fire() -> None:
            try:
                myself.cast(due)
            except MailboxFull:
                state.timers[token] = loop.call_later(0.01, fire)
            except MessagingError:
                pass  # the supervisor stopped

        state.timers[token] = loop.call_later(delay, fire)

    def _cancel(self, state: _State, child: _Child) -> None:
        """Forget a pending restart of ``child`` (the others of its batch keep it)."""
        child.token = 0

    async def _stop(self, state: _State, child: _Child) -> None:
        """Stop one running child within its shutdown time (killing it past it)."""
        ref = child.ref
        if ref is None:
            return
        child.ref = None
        state.running.pop(ref.id, None)
        if not ref.is_alive:
            return
        timeout = child.spec.shutdown
        if timeout == 0:
            ref.kill()
        else:
            ref.stop(_SHUTDOWN)
            try:
                await ref.wait(timeout)
                return
            except WaitTimeout:
                _log.warning(
                    "supervisor %s: child %r did not stop within %gs; killing it",
                    _label(state.myself), child.spec.id, timeout,
                )
                ref.kill()
        try:
            await ref.wait(_KILL_WAIT)
        except WaitTimeout:
            _log.error(
                "supervisor %s: child %r did not end within %gs of a kill; moving on",
                _label(state.myself), child.spec.id, _KILL_WAIT,
            )

    async def _stop_all(self, state: _State) -> None:
        """Cancel pending restarts; stop every child in reverse start order (a dynamic
        supervisor's children, which have no order, all at once)."""
        for handle in state.timers.values():
            handle.cancel()
        state.timers.clear()
        children = list(state.children.values())
        for child in children:
            child.token = 0
        if self._dynamic:
            await asyncio.gather(*(self._stop(state, child) for child in children))
            return
        for child in reversed(children):
            await self._stop(state, child)


@final
class Supervisor(_SupervisorBase):
    """An actor that starts ``children`` in order and restarts them by ``strategy``.

    Spawn it like any actor (``await spawn(Supervisor([...]), None, name="root")``, or as a
    child of another supervisor). If a child fails to start, the started ones are stopped and
    the spawn fails with ``SpawnError``. More than ``max_restarts`` restarts within
    ``max_seconds`` and it stops its children and fails with :class:`MaxRestartsExceeded`.
    """

    def __init__(
        self,
        children: Sequence[ChildSpec[Any]] = (),
        *,
        strategy: Strategy = Strategy.ONE_FOR_ONE,
        max_restarts: int = 3,
        max_seconds: float = 5.0,
    ) -> None:
        super().__init__(children, strategy, max_restarts, max_seconds, None, dynamic=False)

    def __repr__(self) -> str:
        ids = ", ".join(repr(s.id) for s in self._specs)
        return f"<Supervisor {self.strategy.value} [{ids}]>"


@final
class DynamicSupervisor(_SupervisorBase):
    """A supervisor of children added at run time with :func:`start_child` (one for one).

    It takes at most ``max_children`` children (None: no limit); a child that exits without
    being restarted (temporary, or transient after a normal exit) leaves it.
    """

    def __init__(
        self,
        *,
        max_children: int | None = None,
        max_restarts: int = 3,
        max_seconds: float = 5.0,
    ) -> None:
        super().__init__(
            (), Strategy.ONE_FOR_ONE, max_restarts, max_seconds, max_children, dynamic=True
        )

    def __repr__(self) -> str:
        return f"<DynamicSupervisor max_children={self.max_children}>"
