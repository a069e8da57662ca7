"""The factory: a pool of workers fed from queues, with routing, discards, a dead-man's
switch, a capacity controller, stats and draining (ractor's ``factory`` module).

The factory is an actor. It keeps every job it has not seen finished: queued (in its own
queue, or in a worker's queue it holds for the worker) or *in flight* (given to a worker,
at most ``in_flight_per_worker`` at a time). A job goes to its worker as an rpc message whose
reply is the acknowledgement, so the same bookkeeping works for a worker in this process
and for one on another node; when a worker (or its node, or the connection) goes, the jobs
it held are re-queued or given to the discard handler, never silently lost.
"""

# The factory is part of the runtime: it uses the runtime's private parts (cells, ports).
# pyright: reportPrivateUsage=false

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import math
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, final

from .. import pg
from .._actor import Actor
from .._errors import (
    CallTimeout,
    MailboxFull,
    MessagingError,
    ReplyDropped,
    SpawnError,
    WaitTimeout,
)
from .._message import Call, SerializedCast, SerializedMessage, _Asks, _FuturePort
from .._ref import ActorRef, _check_timeout, spawn, spawn_linked
from .._registry import where_is
from .._supervision import (
    ActorFailed,
    ActorTerminated,
    GroupJoin,
    ProcessGroupChanged,
    SupervisionEvent,
)
from .._timers import Timer
from ..supervisor import ChildSpec, Restart
from ._job import (
    CapacityController,
    CustomHashing,
    DeadMansSwitch,
    DiscardMode,
    DiscardReason,
    DiscardSettings,
    Job,
    KeyPersistent,
    LifecycleHooks,
    Queuer,
    RoundRobin,
    Routing,
    StickyQueuer,
)
from ._worker import (
    _ACK,
    ACK_VARIANT,
    FACTORY_SCOPE,
    Worker,
    _AckPort,
    _JobCast,
    _JobMsg,
    _Outcome,
    _WorkerActor,
    factory_group,
)

__all__ = ["Factory", "FactoryStats", "spawn_factory", "spawn_group_factory"]

K = TypeVar("K")
M = TypeVar("M")
R = TypeVar("R")

_log = logging.getLogger("ractor.core.factory")
_TOKEN = object()

DiscardHandler = Callable[[Job[Any, Any], DiscardReason], None]


# ------------------------------------------------------------------------------- stats


@dataclass(frozen=True, slots=True)
class FactoryStats:
    """A snapshot of a factory (``await factory.stats()``); times in seconds."""

    workers: int
    """Workers taking jobs (retiring ones not counted)."""
    queued: int
    """Jobs waiting: in the factory's queue and in the workers' queues."""
    in_flight: int
    """Jobs given to workers and not yet acknowledged."""
    submitted: int
    """Jobs dispatched to the factory."""
    completed: int
    """Jobs whose handler returned."""
    failed: int
    """Jobs whose handler raised (or that could not be sent to their worker)."""
    requeued: int
    """Jobs given back to the queue because their worker was lost."""
    discarded: Mapping[DiscardReason, int]
    """Jobs given to the discard handler, by reason."""
    processing_time_mean: float
    """Mean time from giving a job to a worker to its acknowledgement."""
    processing_time_max: float
    """Longest such time."""
    queue_time_mean: float
    """Mean time a job waited before it went to a worker."""
    queue_limit: int | None
    """The current discard limit (None: unbounded)."""
    draining: bool
    """Whether the factory is draining."""

    @property
    def total_discarded(self) -> int:
        """Jobs discarded for any reason."""
        return sum(self.discarded.values())


# ------------------------------------------------------------------------------- queues


@final
class _Queue:
    """Jobs waiting, one FIFO per priority level (0 the most urgent)."""

    __slots__ = ("levels", "size")

    def __init__(self, priorities: int) -> None:
        self.levels: list[deque[Job[Any, Any]]] = [deque() for _ in range(priorities)]
        self.size = 0

    def __len__(self) -> int:
        return self.size

    def _level(self, job: Job[Any, Any]) -> deque[Job[Any, Any]]:
        levels = self.levels
        return levels[min(max(job.priority, 0), len(levels) - 1)]

    def push(self, job: Job[Any, Any]) -> None:
        self._level(job).append(job)
        self.size += 1

    def push_front(self, job: Job[Any, Any]) -> None:
        self._level(job).appendleft(job)
        self.size += 1

    def pop(self) -> Job[Any, Any] | None:
        if self.size:
            for level in self.levels:
                if level:
                    self.size -= 1
                    return level.popleft()
        return None

    def pop_oldest_least_urgent(self) -> Job[Any, Any] | None:
        if self.size:
            for i in range(len(self.levels) - 1, -1, -1):
                level = self.levels[i]
                if level:
                    self.size -= 1
                    return level.popleft()
        return None

    def take_expired(self) -> list[Job[Any, Any]]:
        expired: list[Job[Any, Any]] = []
        for i, level in enumerate(self.levels):
            if any(job.expired for job in level):
                keep: deque[Job[Any, Any]] = deque()
                for job in level:
                    (expired if job.expired else keep).append(job)
                self.levels[i] = keep
        self.size -= len(expired)
        return expired

    def take_all(self) -> list[Job[Any, Any]]:
        jobs = [job for level in self.levels for job in level]
        for level in self.levels:
            level.clear()
        self.size = 0
        return jobs


@final
class _Slot:
    """A worker as the factory sees it."""

    __slots__ = (
        "backlog",
        "builder",
        "busy_since",
        "generation",
        "id",
        "in_flight",
        "pending",
        "ref",
        "retiring",
        "stuck",
        "waiting",
    )

    def __init__(self, slot_id: int, ref: ActorRef[Any], priorities: int, builder: bool) -> None:
        self.id = slot_id
        self.ref = ref
        self.builder = builder  # spawned (and replaced) by this factory
        self.pending = _Queue(priorities)  # jobs routed to this worker, not yet given to it
        self.in_flight: dict[int, tuple[Job[Any, Any], float]] = {}
        self.busy_since = 0.0
        self.generation = 0  # bumped when a replacement takes the slot
        self.retiring = False
        self.stuck = False
        self.backlog: deque[_Ready] | None = None  # jobs waiting for room on the connection
        # jobs waiting for room in a worker's mailbox (a local one whose mailbox is bounded)
        self.waiting: deque[tuple[_JobMsg, _AckPort]] | None = None



# ------------------------------------------------------------------------------- messages


@final
class _Ready:
    """A job for a worker on another node, serialized, waiting for room on the connection."""

    __slots__ = ("job_id", "message")

    def __init__(self, job_id: int, message: SerializedMessage) -> None:
        self.job_id = job_id
        self.message = message

    def serialize(self) -> SerializedMessage:
        return self.message


@final
class _Done:
    """A job's acknowledgement: its outcome (None: lost on the way), or the bytes of one from
    a worker on another node (decoded with the job's message)."""

    __slots__ = ("generation", "job_id", "outcome", "raw", "slot")

    def __init__(self, slot: int, job_id: int, outcome: _Outcome | None,
                 raw: bytes | None = None, generation: int = 0) -> None:
        self.slot = slot
        self.job_id = job_id
        self.outcome = outcome
        self.raw = raw
        self.generation = generation


@final
class _FactoryFamily:
    """What a group factory takes from other nodes: acknowledgements of its jobs."""

    __slots__ = ()

    def deserialize(self, message: SerializedMessage, /) -> _Done:
        if not isinstance(message, SerializedCast) or message.variant != ACK_VARIANT:
            raise ValueError("a factory takes only job acknowledgements from other nodes")
        args = message.args
        slot, job_id = _ACK.unpack_from(args)
        return _Done(slot, job_id, None, bytes(args[_ACK.size :]))


@final
class _Tick:
    __slots__ = ()


_TICK = _Tick()


@final
class _Drain:
    __slots__ = ()


@final
class _GetStats(Call[FactoryStats]):
    __slots__ = ()


@final
class _Resize(Call["int | SpawnError"]):
    __slots__ = ("count",)

    def __init__(self, count: int) -> None:
        self.count = count


_FactoryMsg = Job[Any, Any] | _Done | _Tick | _Drain | _GetStats | _Resize


# ------------------------------------------------------------------------------- settings


@dataclass(slots=True)
class _Settings:
    routing: Routing
    priorities: int
    discard: DiscardSettings | None
    discard_handler: DiscardHandler | None
    dead_mans_switch: DeadMansSwitch | None
    capacity: CapacityController | None
    hooks: LifecycleHooks[Any, Any] | None
    in_flight_per_worker: int
    max_retries: int
    tick: float
    builder: Callable[[int], Worker[Any, Any, Any]] | None = None
    workers: int = 0
    group: str | None = None
    scope: str = pg.DEFAULT_SCOPE


@dataclass(slots=True)
class _State:
    myself: ActorRef[_FactoryMsg]
    queue: _Queue
    limit: int | None
    slots: dict[int, _Slot] = field(default_factory=dict[int, _Slot])
    by_actor: dict[Any, _Slot] = field(default_factory=dict[Any, _Slot])
    free: dict[int, _Slot] = field(default_factory=dict[int, _Slot])
    next_job: Any = field(default_factory=lambda: itertools.count(1))
    next_slot: Any = field(default_factory=lambda: itertools.count(0))
    rr: int = 0
    track_keys: bool = False
    token: int = 0  # a group factory's name among the nodes (0: not a group factory)
    active: list[_Slot] | None = None  # the slots taking new jobs, in order (a cache)
    report: Callable[[int, int, _Outcome | None, int], None] | None = None
    keys: dict[Any, dict[int, int]] = field(default_factory=dict[Any, dict[int, int]])
    draining: bool = False
    timer: Timer | None = None
    submitted: int = 0
    completed: int = 0
    failed: int = 0
    requeued: int = 0
    discarded: dict[DiscardReason, int] = field(default_factory=dict[DiscardReason, int])
    processing_total: float = 0.0
    processing_max: float = 0.0
    queue_wait_total: float = 0.0
    started_jobs: int = 0
    # numbers of workers whose replacement failed to start, tried again from the ticks
    vacant: list[int] = field(default_factory=list[int])
    sends: set[asyncio.Task[None]] = field(default_factory=set[asyncio.Task[None]])
    refill_at: float = 0.0  # when to try again (monotonic)
    refill_wait: float = 0.0  # the wait before the next try, doubled after each failure


def _fail_caller(job: Job[Any, Any], why: str) -> None:
    port = job._port
    if port is not None:
        job._port = None
        port._fail(ReplyDropped(why))


# ------------------------------------------------------------------------------- the actor


class _FactoryActor(Actor[_FactoryMsg, _State, None]):
    def __init__(self, settings: _Settings) -> None:
        self.s = settings
        self._held: _State | None = None  # the jobs to report if post_stop does not run

    # -- lifecycle

    async def pre_start(self, myself: ActorRef[_FactoryMsg], args: None) -> _State:
        s = self.s
        st = _State(myself, _Queue(s.priorities), s.discard.limit if s.discard else None)
        st.track_keys = type(s.routing) in (KeyPersistent, StickyQueuer)
        if s.builder is not None:
            for _ in range(s.workers):
                await self._spawn_worker(st, next(st.next_slot))
        else:
            assert s.group is not None
            st.token = random.getrandbits(63) | 1
            pg.join_scoped(FACTORY_SCOPE, factory_group(st.token), [myself])
            pg.monitor_scope(s.scope, myself)
            for ref in pg.get_scoped_members(s.scope, s.group):
                self._add_slot(st, ref, builder=False)
        self._held = st
        return st

    async def post_start(self, myself: ActorRef[_FactoryMsg], state: _State) -> None:
        state.timer = myself.send_interval(self.s.tick, lambda: _TICK)
        if self.s.hooks is not None:
            await self._hook(myself, self.s.hooks.on_factory_started(Factory(_TOKEN, myself)))

    async def post_stop(self, myself: ActorRef[_FactoryMsg], state: _State) -> None:
        self._held = None
        own = self._shut_down(state)
        try:
            await asyncio.gather(*(ref.wait(5.0) for ref in own))
        except WaitTimeout:
            for ref in own:
                ref.kill()
        if self.s.hooks is not None:
            await self._hook(myself, self.s.hooks.on_factory_stopped())

    @staticmethod
    async def _hook(myself: ActorRef[_FactoryMsg], call: Awaitable[None]) -> None:
        """Run a lifecycle hook; one that raises is logged (the jobs are not its to lose)."""
        try:
            await call
        except Exception:
            _log.exception("factory %s: a lifecycle hook raised", myself.id)

    def release(self) -> None:
        """A factory killed, or failed: report the jobs it held (as ``post_stop`` would); its
        own workers were killed with it."""
        state = self._held
        if state is not None:
            self._held = None
            self._shut_down(state)

    def _shut_down(self, state: _State) -> list[ActorRef[Any]]:
        """Stop the ticks and the own workers (an idle one gracefully, a busy one killed) and
        give every job held to the discard handler (``SHUTDOWN``); the workers stopped."""
        if state.timer is not None:
            state.timer.cancel()
        for task in list(state.sends):
            task.cancel()
        jobs = state.queue.take_all()
        own: list[ActorRef[Any]] = []
        for slot in list(state.slots.values()):
            jobs.extend(slot.pending.take_all())
            jobs.extend(job for job, _ in slot.in_flight.values())
            if slot.builder:  # an idle worker stops gracefully; a busy one's jobs are reported
                (slot.ref.kill if slot.in_flight else slot.ref.stop)()
                own.append(slot.ref)
            slot.in_flight.clear()
        state.slots.clear()
        state.free.clear()
        for job in jobs:
            self._discard(state, job, DiscardReason.SHUTDOWN)
        return own

    # -- messages

    async def handle(self, myself: ActorRef[_FactoryMsg], message: _FactoryMsg,
                     state: _State) -> None:
        if type(message) is Job:
            self._dispatch(state, message)
        elif type(message) is _Done:
            self._done(state, message)
        elif type(message) is _Tick:
            await self._tick(state)
        elif type(message) is _GetStats:
            message.reply.send(self._stats(state))
        elif type(message) is _Resize:
            size, error = await self._resize(state, message.count)
            message.reply.send(size if error is None else error)
        elif type(message) is _Drain and not state.draining:
            state.draining = True
            if self.s.hooks is not None:
                await self._hook(myself, self.s.hooks.on_factory_draining(Factory(_TOKEN, myself)))
            await self._check_drained(state)

    async def handle_supervisor_evt(self, myself: ActorRef[_FactoryMsg],
                                    event: SupervisionEvent, state: _State) -> None:
        if isinstance(event, (ActorTerminated, ActorFailed)):
            slot = state.by_actor.get(event.actor.id)
            if slot is not None and slot.ref == event.actor:
                await self._lost(state, slot)
        elif isinstance(event, ProcessGroupChanged):
            change = event.change
            if change.group != self.s.group or change.scope != self.s.scope:
                return
            if isinstance(change, GroupJoin):
                for ref in change.actors:
                    if ref.id not in state.by_actor:
                        self._add_slot(state, ref, builder=False)
            else:
                for ref in change.actors:
                    slot = state.by_actor.get(ref.id)
                    if slot is not None:
                        await self._lost(state, slot)

    # -- workers

    async def _spawn_worker(self, st: _State, slot_id: int, slot: _Slot | None = None) -> None:
        builder = self.s.builder
        assert builder is not None
        ref = await spawn_linked(_WorkerActor(builder(slot_id), slot_id), None, st.myself)
        if slot is None:
            self._add_slot(st, ref, builder=True, slot_id=slot_id)
        else:  # a replacement keeps the slot's number and its queue
            slot.generation += 1  # what the old worker still reports is ignored
            slot.ref = ref
            slot.stuck = False
            slot.backlog = slot.waiting = None  # the old worker's (its sender gives them up)
            st.by_actor[ref.id] = slot
            self._make_free(st, slot)
            self._feed(st, slot)

    def _add_slot(self, st: _State, ref: ActorRef[Any], builder: bool,
                  slot_id: int | None = None) -> None:
        sid = next(st.next_slot) if slot_id is None else slot_id
        slot = _Slot(sid, ref, self.s.priorities, builder)
        st.slots[sid] = slot
        st.active = None
        st.by_actor[ref.id] = slot
        st.free[sid] = slot
        if not self.s.routing.factory_queueing and st.queue:
            for job in st.queue.take_all():  # jobs that waited for a worker to exist
                self._route(st, job)
        self._feed(st, slot)

    def _remove_slot(self, st: _State, slot: _Slot) -> None:
        st.active = None
        st.slots.pop(slot.id, None)
        st.free.pop(slot.id, None)
        if st.by_actor.get(slot.ref.id) is slot:
            del st.by_actor[slot.ref.id]

    async def _lost(self, st: _State, slot: _Slot) -> None:
        """The worker of ``slot`` died (or left the group): deal with what it held."""
        st.by_actor.pop(slot.ref.id, None)
        lost = [job for job, _ in slot.in_flight.values()]
        slot.in_flight.clear()
        for job in lost:
            self._leave(st, job)
        # a worker lost during a drain is replaced too: the drain waits for its jobs
        replace = slot.builder and not slot.retiring
        if not replace:
            self._remove_slot(st, slot)
        self._lost_jobs(st, lost)
        if replace:
            st.free.pop(slot.id, None)
            try:
                await self._spawn_worker(st, slot.id, slot)
            except Exception as exc:  # the replacement could not start: try again later
                _log.warning("factory %s: worker %s could not be replaced (tried again on the "
                             "next ticks): %r", st.myself.id, slot.id, exc)
                self._remove_slot(st, slot)
                self._reroute(st, slot)
                self._vacate(st, slot.id)
        else:
            self._reroute(st, slot)  # never started: route them again
        self._feed_all(st)
        await self._check_drained(st)

    def _vacate(self, st: _State, slot_id: int) -> None:
        """A worker's replacement failed to start: the ticks try again, waiting longer after
        each failure (up to 30 s), so that the pool heals when the cause is gone."""
        if slot_id not in st.vacant:
            st.vacant.append(slot_id)
        st.refill_wait = min(30.0, max(self.s.tick, st.refill_wait * 2))
        st.refill_at = time.monotonic() + st.refill_wait

    async def _refill(self, st: _State) -> None:
        """Try again to start the workers whose replacement failed."""
        while st.vacant:
            sid = st.vacant[0]
            try:
                await self._spawn_worker(st, sid)
            except Exception as exc:
                _log.warning("factory %s: worker %s could not be replaced (tried again "
                             "in %gs): %r", st.myself.id, sid, st.refill_wait * 2, exc)
                self._vacate(st, sid)
                return
            st.vacant.pop(0)
            st.refill_wait = 0.0
        self._feed_all(st)

    def _reroute(self, st: _State, slot: _Slot) -> None:
        for job in slot.pending.take_all():
            self._leave(st, job)
            self._route(st, job)

    def _enter(self, st: _State, slot: _Slot, job: Job[Any, Any]) -> None:
        """``job`` is now held by ``slot`` (queued for it, or in flight on it)."""
        if job._slot is None:
            job._slot = slot.id
            held = st.keys.get(job.key)
            if held is None:
                st.keys[job.key] = {slot.id: 1}
            else:
                held[slot.id] = held.get(slot.id, 0) + 1

    def _leave(self, st: _State, job: Job[Any, Any]) -> None:
        """``job`` is no longer held by a worker."""
        sid = job._slot
        if sid is not None:
            job._slot = None
            held = st.keys.get(job.key)
            if held is not None:
                left = held.get(sid, 0) - 1
                if left > 0:
                    held[sid] = left
                else:
                    held.pop(sid, None)
                    if not held:
                        del st.keys[job.key]

    def _holder(self, st: _State, key: Any) -> _Slot | None:
        """The worker holding jobs of ``key`` (key-tracking routings); a retiring worker too,
        so that a key's jobs keep their order until it has finished the ones it holds."""
        held = st.keys.get(key)
        if held:
            for sid in held:
                slot = st.slots.get(sid)
                if slot is not None:
                    return slot
        return None

    def _lost_jobs(self, st: _State, jobs: list[Job[Any, Any]]) -> None:
        """Jobs a worker held when it was lost (oldest first): back to the front of the
        queue in their order (queuer routings, up to ``max_retries``), else discarded."""
        again: list[Job[Any, Any]] = []
        for job in jobs:
            self._leave(st, job)
            job.attempts += 1
            if self.s.routing.factory_queueing and job.attempts <= self.s.max_retries:
                again.append(job)
            else:
                self._discard(st, job, DiscardReason.WORKER_LOST)
        st.requeued += len(again)
        for job in reversed(again):
            st.queue.push_front(job)

    def _behind_stuck(self, st: _State, slot: _Slot) -> None:
        """The jobs waiting behind a stuck job in the mailbox of a worker that is not killed
        (one on another node): re-queued (queuer routings, up to ``max_retries``; the worker
        may still run them if it comes back: at least once), else discarded (``STUCK``)."""
        jobs = [job for job, _ in slot.in_flight.values()]
        slot.in_flight.clear()
        again: list[Job[Any, Any]] = []
        for job in jobs:
            self._leave(st, job)
            job.attempts += 1
            if self.s.routing.factory_queueing and job.attempts <= self.s.max_retries:
                again.append(job)
            else:
                self._discard(st, job, DiscardReason.STUCK)
        st.requeued += len(again)
        for job in reversed(again):
            st.queue.push_front(job)
        self._feed_all(st)

    async def _resize(self, st: _State, count: int) -> tuple[int, SpawnError | None]:
        """Grow or shrink the pool to ``count``; the size reached, and why it is short of
        ``count`` when a new worker failed to start (the factory goes on without it)."""
        if self.s.builder is None or st.draining:
            return self._active(st), None
        st.vacant.clear()  # the size asked for replaces the workers not yet replaced
        count = max(count, 0)
        active = sorted((s for s in st.slots.values() if not s.retiring), key=lambda s: s.id)
        for _ in range(count - len(active)):
            try:
                await self._spawn_worker(st, next(st.next_slot))
            except Exception as exc:
                size = self._active(st)
                error = SpawnError(
                    f"factory {st.myself.id}: a new worker failed to start ({exc}); the pool "
                    f"has {size} worker{'' if size == 1 else 's'}, {count} were asked for"
                )
                error.__cause__ = exc
                _log.warning("%s", error)
                return size, error
        for slot in active[count:] if count < len(active) else ():
            slot.retiring = True
            st.active = None
            st.free.pop(slot.id, None)
            self._reroute(st, slot)
            if not slot.in_flight:
                self._retire(st, slot)
        self._feed_all(st)
        return self._active(st), None

    def _retire(self, st: _State, slot: _Slot) -> None:
        self._remove_slot(st, slot)
        slot.ref.stop("retired")

    @staticmethod
    def _active(st: _State) -> int:
        return sum(1 for s in st.slots.values() if not s.retiring)

    # -- jobs

    def _dispatch(self, st: _State, job: Job[Any, Any]) -> None:
        job.id = next(st.next_job)
        st.submitted += 1
        if st.draining:
            self._discard(st, job, DiscardReason.SHUTDOWN)
            return
        try:
            self._route(st, job)
        except Exception as exc:  # a custom hasher that raised: that job fails, not the factory
            _log.warning("factory %s: job %s could not be routed: %r", st.myself.id, job.id, exc)
            self._leave(st, job)
            st.failed += 1
            _fail_caller(job, f"the job could not be routed: {exc!r}")

    def _route(self, st: _State, job: Job[Any, Any]) -> None:
        routing = self.s.routing
        if routing.factory_queueing:
            if st.track_keys:
                holder = self._holder(st, job.key)
                if holder is not None:
                    self._enqueue(st, holder.pending, job, holder)
                    self._feed(st, holder)
                    return
            if not st.queue and st.free:
                slot = next(iter(st.free.values()))
                if not slot.pending:
                    self._send(st, slot, job)
                    return
            self._enqueue(st, st.queue, job)
            if st.free:
                self._feed_all(st)
            return
        chosen = self._choose(st, job)
        if chosen is None:  # no worker yet: the job waits at the factory for one
            self._enqueue(st, st.queue, job)
            return
        if not chosen.pending and chosen.id in st.free:
            self._send(st, chosen, job)
        else:
            self._enqueue(st, chosen.pending, job, chosen)
            self._feed(st, chosen)

    def _choose(self, st: _State, job: Job[Any, Any]) -> _Slot | None:
        slots = st.active
        if slots is None:
            slots = st.active = [s for s in st.slots.values() if not s.retiring]
        if not slots:
            return None
        routing = self.s.routing
        if type(routing) is KeyPersistent:
            holder = self._holder(st, job.key)
            return holder if holder is not None else slots[hash(job.key) % len(slots)]
        if type(routing) is RoundRobin:
            st.rr += 1
            return slots[st.rr % len(slots)]
        if isinstance(routing, CustomHashing):
            return slots[routing._pick(job.key, len(slots)) % len(slots)]
        raise AssertionError(f"unknown routing {routing!r}")  # pragma: no cover

    def _enqueue(self, st: _State, queue: _Queue, job: Job[Any, Any],
                 slot: _Slot | None = None) -> None:
        limit = st.limit
        if limit is not None and len(queue) >= limit:
            assert self.s.discard is not None
            if self.s.discard.mode is DiscardMode.NEWEST:
                self._discard(st, job, DiscardReason.LOADSHED)
                return
        queue.push(job)
        if slot is not None and st.track_keys:
            self._enter(st, slot, job)
        # the oldest of the least urgent level goes (the new job, if it is the least urgent;
        # several, if a controller lowered the limit)
        while limit is not None and len(queue) > limit:
            victim = queue.pop_oldest_least_urgent()
            if victim is None:
                break
            self._discard(st, victim, DiscardReason.LOADSHED)

    def _feed_all(self, st: _State) -> None:
        for slot in list(st.free.values()):
            self._feed(st, slot)

    def _feed(self, st: _State, slot: _Slot) -> None:
        """Give ``slot`` jobs while it has room: its own queue first, then the factory's."""
        if slot.retiring and not slot.in_flight and not slot.pending:
            if slot.id in st.slots:
                self._retire(st, slot)
            return
        window = self.s.in_flight_per_worker
        queue = st.queue if self.s.routing.factory_queueing else None
        while len(slot.in_flight) < window and not slot.stuck and slot.id in st.slots:
            job = slot.pending.pop()
            if job is None and queue is not None and not slot.retiring:
                job = queue.pop()
            if job is None:
                return
            if job.expired:
                self._discard(st, job, DiscardReason.TTL_EXPIRED)
                continue
            self._send(st, slot, job)

    def _send(self, st: _State, slot: _Slot, job: Job[Any, Any]) -> None:
        now = time.monotonic()
        if job.ttl is not None and now - job.submitted > job.ttl:
            self._discard(st, job, DiscardReason.TTL_EXPIRED)
            return
        if not slot.in_flight:
            slot.busy_since = now
        slot.in_flight[job.id] = (job, now)
        if st.track_keys:
            self._enter(st, slot, job)
        st.queue_wait_total += now - job.submitted
        st.started_jobs += 1
        st.free.pop(slot.id, None)
        if (len(slot.in_flight) < self.s.in_flight_per_worker and not slot.retiring
                and not slot.stuck):
            st.free[slot.id] = slot  # to the back of the free workers: jobs spread over them
        ref = slot.ref
        if st.token and not ref.id.is_local:
            self._cast_job(st, slot, job)
            return
        msg = _JobMsg(job)
        report = st.report
        if report is None:
            report = st.report = self._report_to(st.myself)
        port = _AckPort(report, slot.id, job.id, slot.generation)
        waiting = slot.waiting
        if waiting is not None:  # behind the jobs waiting for room, not ahead of them
            waiting.append((msg, port))
            return
        try:
            queued = ref._cell.put_call(ref, msg, port)
        except MessagingError as exc:
            port._done = True
            if ref._cell.accepting(ref):  # the job itself cannot be sent (no codec)
                del slot.in_flight[job.id]
                self._leave(st, job)
                st.failed += 1
                _log.warning("factory %s: job %s cannot be sent to worker %s: %s",
                             st.myself.id, job.id, slot.id, exc)
                _fail_caller(job, f"the job could not be sent to its worker: {exc}")
                self._make_free(st, slot)
            else:  # a worker that stops or stopped: its termination event re-queues the job
                slot.stuck = True  # and it gets no more jobs meanwhile
                st.free.pop(slot.id, None)
            return
        if not queued:  # a full mailbox (or a congested connection): send when it has room
            waiting = slot.waiting = deque([(msg, port)])
            self._later(st, self._put_waiting(slot, ref, waiting))

    def _cast_job(self, st: _State, slot: _Slot, job: Job[Any, Any]) -> None:
        """Send a job to a worker on another node: a cast, acknowledged by a cast."""
        ref = slot.ref
        cast = _JobCast(job, slot.id, st.token)
        backlog = slot.backlog
        try:
            if backlog is None:
                try:
                    ref.cast(cast)
                    return
                except MailboxFull:  # the node's outbound cap: wait for room, in order
                    backlog = slot.backlog = deque()
                    self._later(st, self._send_backlog(st.myself, slot, ref, backlog))
            # jobs wait behind the ones already waiting (a later job sent as soon as there
            # is room would overtake them); serialized now, so that one that cannot be
            # sent fails here
            backlog.append(_Ready(job.id, cast.serialize()))
        except MessagingError as exc:
            if ref._cell.accepting(ref):  # the job itself cannot be sent (no codec)
                del slot.in_flight[job.id]
                self._leave(st, job)
                st.failed += 1
                _log.warning("factory %s: job %s cannot be sent to worker %s: %s",
                             st.myself.id, job.id, slot.id, exc)
                _fail_caller(job, f"the job could not be sent to its worker: {exc}")
                self._make_free(st, slot)
            # else a gone worker: its leaving the group re-queues the job

    @staticmethod
    def _later(st: _State, send: Coroutine[Any, Any, None]) -> None:
        """Run ``send`` (a job waiting for room) on a task the factory keeps, and cancels
        when it stops: a job it reported as discarded is not delivered afterwards."""
        task = asyncio.get_running_loop().create_task(send)
        st.sends.add(task)
        task.add_done_callback(st.sends.discard)

    @staticmethod
    async def _send_backlog(factory: ActorRef[_FactoryMsg], slot: _Slot, ref: ActorRef[Any],
                            backlog: deque[_Ready]) -> None:
        """Send the jobs waiting for room on the connection to ``ref``, in order; those that
        cannot go (the worker or its node went) are reported lost."""
        try:
            while backlog:
                await ref.send(backlog[0])
                backlog.popleft()
        except MessagingError:
            while backlog:
                try:
                    factory.cast(_Done(slot.id, backlog.popleft().job_id, None))
                except MessagingError:
                    pass
        finally:
            if slot.backlog is backlog:
                slot.backlog = None

    @staticmethod
    async def _put_waiting(slot: _Slot, ref: ActorRef[Any],
                           waiting: deque[tuple[_JobMsg, _AckPort]]) -> None:
        """Put the jobs waiting for room into the mailbox of ``ref``, in order; those that
        cannot go (the worker went) are reported lost."""
        again = False  # first in line only once woken and beaten to the room
        try:
            while waiting:
                msg, port = waiting[0]
                await ref._cell.wait_room(ref, None, again)
                if ref._cell.put_call(ref, msg, port):
                    waiting.popleft()
                    again = False
                else:
                    again = True
        except MessagingError:
            while waiting:
                waiting.popleft()[1]._fail(ReplyDropped("the worker went"))
        finally:
            if slot.waiting is waiting:
                slot.waiting = None

    @staticmethod
    def _report_to(
        myself: ActorRef[_FactoryMsg],
    ) -> Callable[[int, int, _Outcome | None, int], None]:
        def report(slot: int, job_id: int, outcome: _Outcome | None, generation: int) -> None:
            try:
                myself.cast(_Done(slot, job_id, outcome, None, generation))
            except MessagingError:  # the factory stopped: it reported its jobs then
                pass

        return report

    def _done(self, st: _State, done: _Done) -> None:
        slot = st.slots.get(done.slot)
        if slot is None or slot.generation != done.generation:
            return  # a worker that was replaced meanwhile
        entry = slot.in_flight.pop(done.job_id, None)
        if entry is None:  # stale: the job was declared lost or stuck meanwhile
            # a stuck worker that answers is back (unless it is going: killed, stopping)
            if slot.stuck and slot.ref._cell.accepting(slot.ref):
                slot.stuck = False
                self._make_free(st, slot)
                self._feed(st, slot)
                if st.draining:
                    self._maybe_stop(st)
            return
        job, started = entry
        if st.track_keys:
            self._leave(st, job)
        now = time.monotonic()
        outcome = done.outcome
        if done.raw is not None:
            try:
                outcome = _JobMsg(job).decode_reply(done.raw)
            except Exception as exc:
                outcome = _Outcome(False, error=f"an undecodable acknowledgement: {exc!r}")
        if outcome is None:  # lost on the way (the connection went)
            self._lost_jobs(st, [job])
        else:
            took = now - started
            st.processing_total += took
            if took > st.processing_max:
                st.processing_max = took
            if outcome.ok:
                st.completed += 1
                port = job._port
                if outcome.answered and port is not None:
                    job._port = None
                    port.send(outcome.value)
            else:
                st.failed += 1
            _fail_caller(job, outcome.error or "the worker did not answer the call")
        slot.busy_since = now
        self._make_free(st, slot)
        self._feed(st, slot)
        if st.draining:
            self._maybe_stop(st)

    def _make_free(self, st: _State, slot: _Slot) -> None:
        if (not slot.retiring and not slot.stuck and slot.id in st.slots
                and len(slot.in_flight) < self.s.in_flight_per_worker):
            st.free[slot.id] = slot

    def _discard(self, st: _State, job: Job[Any, Any], reason: DiscardReason) -> None:
        self._leave(st, job)
        st.discarded[reason] = st.discarded.get(reason, 0) + 1
        handler = self.s.discard_handler
        if handler is not None:
            try:
                handler(job, reason)
            except Exception as exc:
                _log.warning("factory %s: the discard handler raised: %r", st.myself.id, exc)
        _fail_caller(job, f"the job was discarded ({reason.value})")

    # -- ticks, draining, stats

    async def _tick(self, st: _State) -> None:
        for queue in [st.queue, *(slot.pending for slot in st.slots.values())]:
            if queue:
                for job in queue.take_expired():
                    self._discard(st, job, DiscardReason.TTL_EXPIRED)
        dms = self.s.dead_mans_switch
        if dms is not None:
            now = time.monotonic()
            for slot in list(st.slots.values()):
                if slot.in_flight and not slot.stuck and now - slot.busy_since > dms.timeout:
                    job_id = next(iter(slot.in_flight))
                    job, _ = slot.in_flight.pop(job_id)
                    _log.warning("factory %s: worker %s is stuck on job %s", st.myself.id,
                                 slot.id, job_id)
                    self._discard(st, job, DiscardReason.STUCK)
                    slot.busy_since = now
                    slot.stuck = True  # no more jobs: until it answers, or its replacement
                    st.free.pop(slot.id, None)
                    if dms.kill_worker and slot.builder:
                        slot.ref.kill()  # its termination replaces it (and re-queues)
                    elif slot.in_flight:
                        self._behind_stuck(st, slot)
            if st.draining:
                self._maybe_stop(st)
        if st.vacant and time.monotonic() >= st.refill_at:
            await self._refill(st)
        discard = self.s.discard
        if discard is not None and discard.controller is not None and st.limit is not None:
            try:
                st.limit = max(0, int(await discard.controller.compute(st.limit)))
            except Exception as exc:  # keep the limit; a controller's error is not the jobs'
                _log.warning("factory %s: the discard controller raised: %r", st.myself.id, exc)
        capacity = self.s.capacity
        if capacity is not None and self.s.builder is not None and not st.draining:
            current = self._active(st)
            try:
                wanted = int(await capacity.pool_size(current))
            except Exception as exc:
                _log.warning("factory %s: the capacity controller raised: %r",
                             st.myself.id, exc)
                wanted = current
            if wanted != current:
                await self._resize(st, wanted)  # a worker that fails to start is logged
        if st.draining:
            await self._check_drained(st)

    def _queued(self, st: _State) -> int:
        return len(st.queue) + sum(len(s.pending) for s in st.slots.values())

    async def _check_drained(self, st: _State) -> None:
        if st.draining:
            self._maybe_stop(st)

    def _maybe_stop(self, st: _State) -> None:
        if st.queue:
            return  # jobs wait (for a worker, maybe)
        if self._queued(st) == 0 and not any(s.in_flight for s in st.slots.values()):
            st.myself.stop("Drained")

    def _stats(self, st: _State) -> FactoryStats:
        done = st.completed + st.failed
        return FactoryStats(
            workers=self._active(st),
            queued=self._queued(st),
            in_flight=sum(len(s.in_flight) for s in st.slots.values()),
            submitted=st.submitted,
            completed=st.completed,
            failed=st.failed,
            requeued=st.requeued,
            discarded=dict(st.discarded),
            processing_time_mean=st.processing_total / done if done else 0.0,
            processing_time_max=st.processing_max,
            queue_time_mean=st.queue_wait_total / st.started_jobs if st.started_jobs else 0.0,
            queue_limit=st.limit,
            draining=st.draining,
        )


# ------------------------------------------------------------------------------- the handle


def _expire(fut: asyncio.Future[Any], timeout: float) -> None:
    if not fut.done():
        fut.set_exception(CallTimeout(f"no reply through the factory within {timeout}s"))


def _is_call(msg: object) -> bool:
    return isinstance(msg, Call)


def _check_key(key: object) -> None:
    try:
        hash(key)
    except TypeError:
        raise TypeError(
            f"a job key is hashable (routings hash it, and keep a key's jobs together), got "
            f"{type(key).__name__} {key!r}"
        ) from None


@final
class Factory(Generic[K, M]):
    """Handle to a factory taking jobs with keys ``K`` and messages ``M`` (built by
    :func:`spawn_factory` or :func:`spawn_group_factory`)."""

    __slots__ = ("ref",)

    def __init__(self, token: object, ref: ActorRef[Any]) -> None:
        if token is not _TOKEN:
            raise TypeError("Factory is built by spawn_factory() or spawn_group_factory()")
        self.ref: ActorRef[Any] = ref
        """The factory's actor."""

    def __repr__(self) -> str:
        return f"<Factory {self.ref.id} {self.ref.status.name.lower()}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Factory) and other.ref == self.ref

    def _stopped(self, job: Job[Any, Any]) -> MessagingError:
        return MessagingError(
            f"factory {self.ref.id} has stopped (or is stopping); job {job!r} was not "
            "dispatched", job
        )

    def __hash__(self) -> int:
        return hash(self.ref)

    @property
    def is_alive(self) -> bool:
        """Whether the factory has not stopped."""
        return self.ref.is_alive

    def dispatch(self, key: K, msg: M, *, priority: int = 0, ttl: float | None = None) -> None:
        """Give the factory a job; it never waits.

        ``priority`` 0 is the most urgent (levels past the factory's ``priorities`` count as
        its least urgent); ``ttl`` discards the job (``TTL_EXPIRED``) if it waited longer.

        Raises:
            MessagingError: the factory has stopped; ``unsent`` holds the job.
            TypeError: ``key`` is not hashable.
        """
        if _is_call(msg):
            raise MessagingError(
                f"{type(msg).__name__} is an rpc message (Call); send it with call()", msg
            )
        _check_key(key)
        job = Job(key, msg, priority=priority, ttl=ttl)
        try:
            self.ref.cast(job)
        except MessagingError:
            raise self._stopped(job) from None

    async def call(self, key: K, msg: _Asks[R], *, timeout: float | None = None,
                   priority: int = 0, ttl: float | None = None) -> R:
        """Give the factory an rpc job and await the worker's reply.

        Raises:
            MessagingError: the factory has stopped.
            CallTimeout: no reply within ``timeout`` seconds.
            ReplyDropped: the job was discarded, its worker failed it, or did not answer.
            TypeError: ``msg`` is not an rpc message, or ``key`` is not hashable.
        """
        if not isinstance(msg, Call):
            raise TypeError(f"call() takes an rpc message (a Call subclass), got {msg!r}")
        _check_key(key)
        _check_timeout(timeout)
        message: Any = msg
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[R] = loop.create_future()
        port = _FuturePort(fut, timeout)
        job: Job[Any, Any] = Job(key, message, priority=priority, ttl=ttl)
        job._port = port
        try:
            self.ref.cast(job)
        except MessagingError:
            port._answered = True
            raise self._stopped(job) from None
        except BaseException:
            port._answered = True
            raise
        del port, job, message, msg
        if timeout is None:
            return await fut
        handle = loop.call_later(timeout, _expire, fut, timeout)
        try:
            return await fut
        finally:
            handle.cancel()

    async def stats(self, timeout: float | None = 5.0) -> FactoryStats:
        """A snapshot of the factory's queues, workers and counters."""
        return await self.ref.call(_GetStats(), timeout)

    async def resize(self, workers: int, timeout: float | None = 30.0) -> int:
        """Grow or shrink the pool to ``workers`` (a factory of its own workers only: a group
        factory's pool is its group); returns the new size. Retired workers finish the jobs
        they hold; their queued jobs go to the others (under key-tracking routings, those of
        a key a retiring worker is busy with stay with it, so the key's jobs keep their
        order).

        Raises:
            SpawnError: a new worker failed to start; the message tells the pool's size, and
                the factory goes on with the workers it has.
        """
        result = await self.ref.call(_Resize(workers), timeout)
        if isinstance(result, SpawnError):
            raise result
        return result

    def drain(self) -> None:
        """Take no more jobs (new ones are discarded, ``SHUTDOWN``), finish every job held,
        then stop (nothing to do for a factory that stopped, as for ``ActorRef.drain``)."""
        try:
            self.ref.cast(_Drain())
        except MessagingError:  # not running (its mailbox is unbounded, never full)
            pass

    async def drain_and_wait(self, timeout: float | None = None) -> None:
        """Drain, and wait until the factory has stopped.

        Raises:
            WaitTimeout: it had not stopped within ``timeout`` seconds.
        """
        self.drain()
        await self.ref.wait(timeout)

    def stop(self) -> None:
        """Stop after the current message; jobs still held go to the discard handler
        (``SHUTDOWN``) and the factory's own workers stop."""
        self.ref.stop(None)

    async def stop_and_wait(self, timeout: float | None = None) -> None:
        """Stop, and wait until the factory has stopped."""
        self.ref.stop(None)
        await self.ref.wait(timeout)

    async def wait(self, timeout: float | None = None) -> None:
        """Wait until the factory has stopped."""
        await self.ref.wait(timeout)


# ------------------------------------------------------------------------------- spawning


_ROUTINGS = (Queuer, StickyQueuer, KeyPersistent, RoundRobin, CustomHashing)


def _instance(value: object, kind: type[Any]) -> bool:
    return isinstance(value, kind)


def _settings(routing: Routing, priorities: int, discard: DiscardSettings | None,
              discard_handler: Any, dead_mans_switch: DeadMansSwitch | None,
              capacity: CapacityController | None, hooks: Any, in_flight_per_worker: int,
              max_retries: int, tick: float | None) -> _Settings:
    # checked at run time too (callers need not be type-checked), through ``object`` so that
    # the type checkers do not call the checks redundant
    if not _instance(routing, Routing) or type(routing) is Routing:
        raise TypeError(
            f"routing is a Routing instance such as Queuer() or KeyPersistent(), got {routing!r}"
        )
    if type(routing) not in _ROUTINGS:
        raise TypeError(
            f"routing is one of Queuer, StickyQueuer, KeyPersistent, RoundRobin, CustomHashing "
            f"(CustomHashing(fn) routes by a function of your own), got {routing!r}"
        )
    handler: object = discard_handler
    if handler is not None and (not callable(handler) or inspect.iscoroutinefunction(handler)):
        raise TypeError(
            f"discard_handler is a plain function (job, reason) -> None, run on the factory's "
            f"task (not a coroutine function: cast to an actor from it), got {handler!r}"
        )
    for what, value, kind in (
        ("discard", discard, DiscardSettings),
        ("dead_mans_switch", dead_mans_switch, DeadMansSwitch),
        ("capacity", capacity, CapacityController),
        ("hooks", hooks, LifecycleHooks),
    ):
        if value is not None and not isinstance(value, kind):
            raise TypeError(f"{what} is a {kind.__name__} or None, got {value!r}")
    if priorities < 1:
        raise ValueError(f"a factory has at least 1 priority level, got {priorities}")
    if in_flight_per_worker < 1:
        raise ValueError(f"in_flight_per_worker is >= 1, got {in_flight_per_worker}")
    if max_retries < 0:
        raise ValueError(f"max_retries is >= 0, got {max_retries}")
    if tick is not None and not (tick > 0 and math.isfinite(tick)):
        raise ValueError(f"tick is a finite number of seconds > 0 or None, got {tick}")
    if tick is None:
        tick = 0.5
        if dead_mans_switch is not None:
            tick = min(tick, dead_mans_switch.timeout / 4)
    return _Settings(routing, priorities, discard, discard_handler, dead_mans_switch, capacity,
                     hooks, in_flight_per_worker, max_retries, tick)


def _own_settings(worker: Callable[[int], Worker[Any, Any, Any]], workers: int,
                  routing: Routing | None, priorities: int, discard: DiscardSettings | None,
                  discard_handler: Callable[[Job[Any, Any], DiscardReason], None] | None,
                  dead_mans_switch: DeadMansSwitch | None,
                  capacity: CapacityController | None, hooks: LifecycleHooks[Any, Any] | None,
                  in_flight_per_worker: int, max_retries: int, tick: float | None) -> _Settings:
    """The checked settings of a factory with workers of its own."""
    s = _settings(routing or Queuer(), priorities, discard, discard_handler, dead_mans_switch,
                  capacity, hooks, in_flight_per_worker, max_retries, tick)
    if workers < 0:
        raise ValueError(f"a factory has >= 0 workers, got {workers}")
    s.builder = worker
    s.workers = workers
    return s


async def spawn_factory(
    worker: Callable[[int], Worker[K, M, Any]],
    *,
    workers: int = 1,
    routing: Routing | None = None,
    name: str | None = None,
    priorities: int = 1,
    discard: DiscardSettings | None = None,
    discard_handler: Callable[[Job[K, M], DiscardReason], None] | None = None,
    dead_mans_switch: DeadMansSwitch | None = None,
    capacity: CapacityController | None = None,
    hooks: LifecycleHooks[K, M] | None = None,
    in_flight_per_worker: int = 1,
    max_retries: int = 3,
    tick: float | None = None,
) -> Factory[K, M]:
    """Start a factory with ``workers`` workers of its own, built by ``worker(number)``.

    ``routing`` defaults to :class:`Queuer`. A worker that dies is replaced (same number,
    same queue); the jobs it held are re-queued (queuer routings, up to ``max_retries`` times
    per job) or given to ``discard_handler`` (``WORKER_LOST``). ``tick`` is the period of the
    factory's checks (TTLs, dead-man's switch, controllers).

    Raises:
        SpawnError: a worker or the factory failed to start, or ``name`` is taken.
        ValueError: a setting is out of range.
    """
    s = _own_settings(worker, workers, routing, priorities, discard, discard_handler,
                      dead_mans_switch, capacity, hooks, in_flight_per_worker, max_retries, tick)
    ref = await spawn(_FactoryActor(s), None, name=name)
    return Factory(_TOKEN, ref)


class _GroupFactoryActor(_FactoryActor):
    """A factory whose workers are a process group: it takes acknowledgements from other
    nodes, so it is advertised to them."""


_GroupFactoryActor.__ractor_message_type__ = _FactoryFamily()


async def spawn_group_factory(
    group: str,
    key_type: type[K],
    message_type: type[M],
    *,
    scope: str = pg.DEFAULT_SCOPE,
    routing: Routing | None = None,
    name: str | None = None,
    priorities: int = 1,
    discard: DiscardSettings | None = None,
    discard_handler: Callable[[Job[K, M], DiscardReason], None] | None = None,
    dead_mans_switch: DeadMansSwitch | None = None,
    hooks: LifecycleHooks[K, M] | None = None,
    in_flight_per_worker: int = 1,
    max_retries: int = 3,
    tick: float | None = None,
) -> Factory[K, M]:
    """Start a factory whose workers are the members of the process group ``group`` (in
    ``scope``), on this node and on every connected node (see :func:`serve_workers`).

    Members that join get jobs; when one leaves (it stopped, or its node or the connection
    went), the jobs it held are re-queued (queuer routings) or given to ``discard_handler``
    (``WORKER_LOST``); jobs in its queue go to the others. ``key_type`` and ``message_type``
    only type the factory. A job re-queued after its worker was lost may have run already:
    delivery is at least once.

    Raises:
        SpawnError: the factory failed to start, or ``name`` is taken.
        ValueError: a setting is out of range.
    """
    del key_type, message_type
    s = _settings(routing or Queuer(), priorities, discard, discard_handler, dead_mans_switch,
                  None, hooks, in_flight_per_worker, max_retries, tick)
    s.group = group
    s.scope = scope
    ref = await spawn(_GroupFactoryActor(s), None, name=name)
    return Factory(_TOKEN, ref)


@final
class FactoryChild(Generic[K, M]):
    """A factory as a supervisor's child (made by :func:`factory_child`): put ``spec`` among
    the supervisor's children; ``factory()`` finds the running factory by its name, again
    after each restart."""

    __slots__ = ("name", "spec")

    def __init__(self, token: object, spec: ChildSpec[Any], name: str) -> None:
        if token is not _TOKEN:
            raise TypeError("FactoryChild is built by factory_child()")
        self.spec: ChildSpec[Any] = spec
        """The child spec to give the supervisor."""
        self.name = name
        """The name the factory is registered under."""

    def factory(self) -> Factory[K, M] | None:
        """The running factory (None while it is down or restarting)."""
        ref = where_is(self.name)
        if ref is None or not ref.is_alive:
            return None
        return Factory(_TOKEN, ref)

    def __repr__(self) -> str:
        return f"<FactoryChild {self.spec.id!r} named {self.name!r}>"


def factory_child(
    id: str,
    worker: Callable[[int], Worker[K, M, Any]],
    *,
    name: str,
    workers: int = 1,
    routing: Routing | None = None,
    restart: Restart = Restart.PERMANENT,
    shutdown: float | None = None,
    backoff: Callable[[int], float] | None = None,
    priorities: int = 1,
    discard: DiscardSettings | None = None,
    discard_handler: Callable[[Job[K, M], DiscardReason], None] | None = None,
    dead_mans_switch: DeadMansSwitch | None = None,
    capacity: CapacityController | None = None,
    hooks: LifecycleHooks[K, M] | None = None,
    in_flight_per_worker: int = 1,
    max_retries: int = 3,
    tick: float | None = None,
) -> FactoryChild[K, M]:
    """A factory that a :class:`~ractor_core.supervisor.Supervisor` starts and restarts.

    The settings are those of :func:`spawn_factory`, plus the child's ``restart``,
    ``shutdown`` (default: no limit, as for a supervisor: the factory stops its own workers)
    and ``backoff``. Each start is a fresh factory with fresh workers, registered as
    ``name``. The jobs a factory held when it failed or was killed go to ``discard_handler``
    (``SHUTDOWN``) and their callers get ``ReplyDropped``: a restarted factory starts empty.

    Raises:
        ValueError: a setting is out of range.
        TypeError: a setting is of the wrong kind.
    """
    s = _own_settings(worker, workers, routing, priorities, discard, discard_handler,
                      dead_mans_switch, capacity, hooks, in_flight_per_worker, max_retries, tick)

    def start() -> Actor[Any, Any, None]:
        return _FactoryActor(s)

    spec: ChildSpec[Any] = ChildSpec(id, start, None, restart=restart, name=name,
                                     shutdown=shutdown, backoff=backoff)
    return FactoryChild(_TOKEN, spec, name)
