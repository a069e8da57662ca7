"""Jobs, routing modes, discard settings and the other settings of a factory."""

from __future__ import annotations

import enum
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar, final

if TYPE_CHECKING:
    from ._factory import Factory

__all__ = [
    "CapacityController",
    "CustomHashing",
    "DeadMansSwitch",
    "DiscardController",
    "DiscardMode",
    "DiscardReason",
    "DiscardSettings",
    "Job",
    "KeyPersistent",
    "LifecycleHooks",
    "Queuer",
    "RoundRobin",
    "Routing",
    "StickyQueuer",
]

K = TypeVar("K")
M = TypeVar("M")


@final
class Job(Generic[K, M]):
    """One unit of work: a ``key`` (for routing) and a ``msg`` for a worker.

    Built by :meth:`Factory.dispatch` / :meth:`Factory.call`; a worker receives it in
    ``handle`` and a discard handler is given it back. ``msg`` may be an rpc message
    (``Call[R]``) sent with :meth:`Factory.call`: the worker answers it with
    ``job.msg.reply.send(value)``, which reaches the caller.
    """

    __slots__ = ("_port", "_slot", "attempts", "id", "key", "msg", "priority", "submitted", "ttl")

    def __init__(
        self,
        key: K,
        msg: M,
        *,
        priority: int = 0,
        ttl: float | None = None,
        job_id: int = 0,
        submitted: float | None = None,
        attempts: int = 0,
    ) -> None:
        self.key: K = key
        """The routing key: key-persistent and sticky routings keep a key on one worker."""
        self.msg: M = msg
        """The worker's message."""
        self.priority = priority
        """The priority level, 0 being the most urgent."""
        self.ttl = ttl
        """Seconds the job may wait in the factory's queues before it is discarded."""
        self.id = job_id
        """A number unique within its factory."""
        self.submitted = time.monotonic() if submitted is None else submitted
        """``time.monotonic()`` when the job was dispatched (on the factory's process)."""
        self.attempts = attempts
        """How many times the job was given to a worker that was then lost."""
        self._port: Any = None  # the caller's reply port, for a job sent with call()
        self._slot: int | None = None  # the worker holding it (key-tracking routings only)

    @property
    def expired(self) -> bool:
        """Whether the job waited longer than its ``ttl``."""
        ttl = self.ttl
        return ttl is not None and time.monotonic() - self.submitted > ttl

    def __repr__(self) -> str:
        return f"<Job {self.id} key={self.key!r} {type(self.msg).__name__}>"


# ------------------------------------------------------------------------------- routing


class Routing:
    """How a factory chooses a worker for a job (one of the classes below)."""

    __slots__ = ()
    factory_queueing: bool = False
    """Whether waiting jobs queue at the factory (else in each worker's own queue)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


@final
class KeyPersistent(Routing):
    """Each key always goes to the same worker (a hash of the key over the workers); jobs
    wait in that worker's queue. Jobs of one key run one at a time, in order."""

    __slots__ = ()


@final
class Queuer(Routing):
    """Jobs wait in the factory's queue and go to whichever worker is free first."""

    __slots__ = ()
    factory_queueing = True


@final
class StickyQueuer(Routing):
    """As :class:`Queuer`, but a job whose key a worker is busy with joins that worker's
    queue, so jobs of one key run in order."""

    __slots__ = ()
    factory_queueing = True


@final
class RoundRobin(Routing):
    """Each job to the next worker in turn; jobs wait in each worker's queue."""

    __slots__ = ()


@final
class CustomHashing(Routing, Generic[K]):
    """``hasher(key, worker_count)`` picks the worker (an index below ``worker_count``);
    jobs wait in each worker's queue."""

    __slots__ = ("hasher",)

    def __init__(self, hasher: Callable[[K, int], int]) -> None:
        given: object = hasher
        if not callable(given):
            raise TypeError(
                f"CustomHashing takes a hasher (key, worker_count) -> int, got {given!r}"
            )
        self.hasher = hasher
        """Picks the worker of a key: ``hasher(key, worker_count)``."""

    def _pick(self, key: Any, worker_count: int) -> int:
        return self.hasher(key, worker_count)


# ------------------------------------------------------------------------------- discards


class DiscardReason(enum.Enum):
    """Why a job was given to the discard handler instead of a worker."""

    LOADSHED = "loadshed"
    """The queue was at its limit (the oldest or the newest job went)."""
    TTL_EXPIRED = "ttl_expired"
    """The job waited longer than its ``ttl``."""
    SHUTDOWN = "shutdown"
    """The factory stopped or was draining."""
    WORKER_LOST = "worker_lost"
    """The job's worker (or its node) died while it held the job, and the routing does not
    re-queue (key-persistent, round-robin, custom hashing), or it was lost too often."""
    STUCK = "stuck"
    """The dead-man's switch found the job's worker stuck on it."""


class DiscardMode(enum.Enum):
    """Which job goes when a queue is at its limit."""

    OLDEST = "oldest"
    """The job that waited longest (of the least urgent priority)."""
    NEWEST = "newest"
    """The job being added."""


class DiscardController(ABC):
    """Computes a new queue limit now and then (a dynamic discard limit)."""

    @abstractmethod
    async def compute(self, current_limit: int) -> int:
        """The new limit, given the current one."""


@dataclass(frozen=True, slots=True)
class DiscardSettings:
    """A bound on waiting jobs: at most ``limit`` in the factory's queue (queuer routings)
    or in each worker's queue (the others); past it, ``mode`` chooses the job that goes.

    With a ``controller``, the limit is recomputed on every tick of the factory.
    """

    limit: int
    mode: DiscardMode = DiscardMode.OLDEST
    controller: DiscardController | None = None

    def __post_init__(self) -> None:
        if self.limit < 0:
            raise ValueError(f"a discard limit is >= 0, got {self.limit}")


# ------------------------------------------------------------------------------- the rest


@dataclass(frozen=True, slots=True)
class DeadMansSwitch:
    """A worker busy with one job for more than ``timeout`` seconds is stuck: the job goes to
    the discard handler (``STUCK``) and, with ``kill_worker``, a local worker is killed and
    replaced (its other jobs re-queued as for a lost worker). A worker not killed (or on
    another node) gets no more jobs until it answers, and the jobs waiting behind the stuck
    one in its mailbox are re-queued (queuer routings; it may still run them: at least once)
    or discarded (``STUCK``)."""

    timeout: float
    kill_worker: bool = True

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ValueError(f"a dead-man's switch timeout is > 0 seconds, got {self.timeout}")


class CapacityController(ABC):
    """Decides the size of a factory's worker pool now and then."""

    @abstractmethod
    async def pool_size(self, current: int) -> int:
        """The number of workers wanted, given the current number."""


class LifecycleHooks(Generic[K, M]):
    """Hooks a factory runs on its own task; override the ones you need."""

    async def on_factory_started(self, factory: Factory[K, M]) -> None:
        """The factory and its first workers are running."""

    async def on_factory_draining(self, factory: Factory[K, M]) -> None:
        """The factory takes no more jobs and finishes those it has."""

    async def on_factory_stopped(self) -> None:
        """The factory has stopped."""
