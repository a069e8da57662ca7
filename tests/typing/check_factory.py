"""Type expectations for ractor_core.factory, checked by mypy and pyright (never run).

``assert_type`` states what must be inferred; ``# type: ignore[code]`` (mypy) and
``# pyright: ignore[rule]`` mark what must be rejected.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, assert_type

from ractor_core import Call, ChildSpec, Supervisor
from ractor_core.factory import (
    CustomHashing,
    DiscardReason,
    Factory,
    FactoryChild,
    FactoryStats,
    Job,
    KeyPersistent,
    Worker,
    WorkerContext,
    factory_child,
    spawn_factory,
    spawn_group_factory,
)


@dataclass(frozen=True)
class Resize:
    width: int


@dataclass(frozen=True)
class Size(Call[int]):
    name: str


@dataclass(frozen=True)
class Other:
    pass


ImageMsg = Resize | Size


class Resizer(Worker[str, ImageMsg, list[int]]):
    async def pre_start(self, ctx: WorkerContext) -> list[int]:
        return []

    async def handle(self, ctx: WorkerContext, job: Job[str, ImageMsg], state: list[int]) -> None:
        assert_type(job.key, str)
        msg = job.msg
        match msg:
            case Resize(width=width):
                state.append(width)
            case Size():
                msg.reply.send(len(state))
                msg.reply.send("many")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def on_discard(job: Job[str, ImageMsg], reason: DiscardReason) -> None:
    pass


def wrong_discard(job: Job[int, ImageMsg], reason: DiscardReason) -> None:
    pass


def by_length(key: str, workers: int) -> int:
    return len(key) % workers


async def main() -> None:
    factory = await spawn_factory(lambda wid: Resizer(), workers=4, routing=KeyPersistent(),
                                  discard_handler=on_discard)
    assert_type(factory, Factory[str, ImageMsg])
    factory.dispatch("cat.png", Resize(640))
    factory.dispatch(7, Resize(640))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    factory.dispatch("cat.png", Other())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    assert_type(await factory.call("cat.png", Size("cat"), timeout=1.0), int)
    await factory.call("cat.png", Resize(1))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    assert_type(await factory.stats(), FactoryStats)
    await spawn_factory(lambda wid: Resizer(), discard_handler=wrong_discard)  # type: ignore[misc]  # pyright: ignore[reportArgumentType]
    await spawn_factory(lambda wid: Resizer(), routing=CustomHashing(by_length))
    await spawn_factory(lambda wid: wid)  # type: ignore[arg-type, return-value]  # pyright: ignore[reportArgumentType]

    remote = await spawn_group_factory("resizers", str, Resize)
    assert_type(remote, Factory[str, Resize])

    supervised = factory_child("images", lambda wid: Resizer(), name="images", workers=2,
                               discard_handler=on_discard)
    assert_type(supervised, FactoryChild[str, ImageMsg])
    assert_type(supervised.spec, ChildSpec[Any])
    Supervisor([supervised.spec])
    found = supervised.factory()
    assert_type(found, Factory[str, ImageMsg] | None)
    if found is not None:
        found.dispatch(7, Resize(640))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
