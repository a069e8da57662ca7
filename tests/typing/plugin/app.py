"""An app checked with the ractor mypy plugin on, and again with it off.

Lines whose ignore comment names a ``ractor-`` error code are what only the plugin catches:
with it off, mypy reports those ignores as unused, and nothing else changes. pyright (strict,
which has no plugins) checks this file too: it catches what carries a ``# pyright: ignore``
mark, and neither plugin-only mistake.
"""

from __future__ import annotations

from ractor_core import Actor, ActorRef, Call, spawn
from ractor_derive import U8, U64, Char, Message, cluster_message, local_message


@cluster_message
class Shop(Message):
    """A cluster family."""


class Buy(Shop):
    item: str
    count: U8


class Stock(Shop, Call[U64]):
    item: str


class Tags(Shop):
    letters: list[Char]


ShopMsg = Buy | Stock | Tags


@cluster_message
class Bank(Message):
    """Another cluster family."""


class Balance(Bank, Call[U64]):
    pass


class Broken(Shop):  # type: ignore[ractor-no-codec]
    maybe: int | None


class AlsoBroken(Shop):  # type: ignore[ractor-no-codec]
    table: dict[str, int]


@local_message
class Local(Message):
    """A local family: any field type is fine."""


class Anything(Local):
    maybe: int | None
    table: dict[str, int]


class ShopActor(Actor[ShopMsg, dict[str, int], None]):
    async def pre_start(self, myself: ActorRef[ShopMsg], args: None) -> dict[str, int]:
        return {}

    async def handle(
        self, myself: ActorRef[ShopMsg], message: ShopMsg, state: dict[str, int]
    ) -> None:
        match message:
            case Buy(item=item, count=count):
                state[item] = state.get(item, 0) + count
            case Stock(item=item):
                message.reply.send(state.get(item, 0))
            case Tags():
                pass


async def use() -> None:
    shop = await spawn(ShopActor(), None)
    await shop.call(Stock(item="tea"))
    await shop.call(Balance())  # type: ignore[ractor-wrong-actor]
    shop.cast(Balance())  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
