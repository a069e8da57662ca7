"""Type expectations for supervisors and derived refs, checked by mypy and pyright (never run).

A ``ChildSpec`` carries its child's message type: starting it gives an ``ActorRef`` of that
type, its args are checked against the actor's, and a spec of one type is not a spec of
another. ``ref.derive(convert)`` gives a ``DerivedActorRef`` of the converter's input type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, assert_type

from ractor_core import (
    Actor,
    ActorRef,
    Call,
    ChildSpec,
    DerivedActorRef,
    DynamicSupervisor,
    MaxRestartsExceeded,
    Restart,
    Strategy,
    Supervisor,
    SupervisorMsg,
    spawn,
)
from ractor_core.supervisor import (
    ChildEvent,
    ChildExited,
    ChildInfo,
    exponential_backoff,
    start_child,
    terminate_child,
    which_children,
)


@dataclass(frozen=True)
class Work:
    n: int


@dataclass(frozen=True)
class Done(Call[int]):
    pass


WorkerMsg = Work | Done


class Worker(Actor[WorkerMsg, list[int], int]):
    async def pre_start(self, myself: ActorRef[WorkerMsg], args: int) -> list[int]:
        return [args]


@dataclass(frozen=True)
class Log:
    line: str


class Logger(Actor[Log, None, None]):
    async def pre_start(self, myself: ActorRef[Log], args: None) -> None:
        return None


async def specs() -> None:
    worker = ChildSpec("worker", Worker(), 3, restart=Restart.TRANSIENT, name="worker")
    assert_type(worker, ChildSpec[WorkerMsg])
    assert_type(worker.where_is(), ActorRef[WorkerMsg] | None)
    ChildSpec("worker", Worker(), "three")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    wrong: ChildSpec[Log] = worker  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    ChildSpec("w", Worker(), 3, restart="permanent")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    assert_type(ChildSpec("w", Worker, 3), ChildSpec[WorkerMsg])  # a new Worker each start
    assert_type(ChildSpec("w", lambda: Worker(), 3), ChildSpec[WorkerMsg])
    ChildSpec("w", Worker, "three")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    ChildSpec("w", Work, 3)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    ChildSpec("w", Worker(), 3, backoff=exponential_backoff(0.1))
    ChildSpec("w", Worker(), 3, backoff=lambda n: 0.1 * n, shutdown=None, start_timeout=2.0)
    del wrong

    logger = ChildSpec("log", Logger(), None)
    sub = ChildSpec("sub", Supervisor([worker, logger], strategy=Strategy.REST_FOR_ONE), None)
    assert_type(sub, ChildSpec[SupervisorMsg])
    root = await spawn(Supervisor([sub], max_restarts=5, max_seconds=10.0), None, name="root")
    assert_type(root, ActorRef[SupervisorMsg])
    Supervisor([worker], strategy="one_for_all")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


async def dynamic() -> None:
    sup = await spawn(DynamicSupervisor(max_children=8), None)
    ref = await start_child(sup, ChildSpec("w1", Worker(), 1), timeout=1.0)
    assert_type(ref, ActorRef[WorkerMsg])
    assert_type(await ref.call(Done()), int)
    ref.cast(Log("x"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    log: ActorRef[Log] = await start_child(sup, ChildSpec("w2", Worker(), 2))  # type: ignore[arg-type]  # pyright: ignore[reportAssignmentType]
    worker = await spawn(Worker(), 1)
    await start_child(worker, ChildSpec("w3", Worker(), 3))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    await terminate_child(sup, "w1")
    assert_type(await which_children(sup), list[ChildInfo])
    del log


def events(event: ChildEvent, error: MaxRestartsExceeded) -> None:
    if isinstance(event, ChildExited):
        assert_type(event.error, BaseException | None)
        assert_type(event.restart_in, float | None)
    assert_type(error.cause, BaseException | str | None)
    assert_type(Supervisor().events.subscriber_count, int)


def as_add(message: Work) -> WorkerMsg:
    return message


def as_is(message: WorkerMsg) -> WorkerMsg:
    return message


def from_log(log: Log) -> Log:
    return log


def from_text(text: str) -> WorkerMsg:
    return Work(len(text))


async def derived() -> None:
    ref = await spawn(Worker(), 1)
    narrow = ref.derive(as_add)
    assert_type(narrow, DerivedActorRef[Work])
    narrow.cast(Work(1))
    narrow.cast(Done())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    texts = ref.derive(from_text)
    assert_type(texts, DerivedActorRef[str])
    await texts.send("hello")
    texts.cast(3)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    assert_type(texts.derive(str), DerivedActorRef[object])
    assert_type(await ref.derive(as_is).call(Done()), int)
    ref.derive(from_log)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    as_ref: ActorRef[Work] = narrow  # type: ignore[assignment]  # pyright: ignore[reportAssignmentType]
    anything: Any = narrow.id
    del as_ref, anything
