"""Message declarations of a small shop, used by the codegen example and its tests."""

from __future__ import annotations

from ractor_core import Call
from ractor_derive import U8, U32, U64, Char, Message, cluster_message, local_message


@cluster_message
class Shop(Message):
    """Messages of the shop actor."""


class Buy(Shop):
    item: str
    count: U8


class Restock(Shop, tag="Refill"):
    item: str
    amount: U32
    urgent: bool


class Stock(Shop, Call[U64]):
    item: str


class Codes(Shop, Call[list[U32]]):
    prefix: Char
    raw: bytes


class Close(Shop):
    pass


ShopMsg = Buy | Restock | Stock | Codes | Close


@local_message
class Audit(Message):
    """Local messages of the auditor (never leave the process)."""


class Entry(Audit):
    line: str
    amounts: dict[str, int]


class Flush(Audit, Call[int]):
    pass
