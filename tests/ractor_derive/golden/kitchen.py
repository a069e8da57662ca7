"""Every field kind the generator handles, in one cluster family and one local family."""

from __future__ import annotations

from ractor_cluster.protocol.control_pb2 import Actor
from ractor_core import Call
from ractor_derive import (
    F32,
    F64,
    I8,
    I128,
    U16,
    U64,
    U128,
    Char,
    Message,
    cluster_message,
    local_message,
)


@cluster_message
class Kitchen(Message):
    """Every kind of field."""


class Empty(Kitchen):
    pass


class Numbers(Kitchen):
    tiny: I8
    port: U16
    big: U128
    huge: I128
    plain: int
    ratio: F32
    exact: F64
    real: float


class Texts(Kitchen):
    text: str
    letter: Char
    raw: bytes
    flag: bool
    nothing: None


class Lists(Kitchen):
    shorts: list[U16]
    bits: list[bool]
    letters: list[Char]
    floats: list[F32]


class WithActor(Kitchen, tag="Advertised"):
    actor: Actor


class Ask(Kitchen, Call[list[U64]]):
    query: str
    limit: U16


class Ping(Kitchen, Call[bool]):
    pass


KitchenMsg = Empty | Numbers | Texts | Lists | WithActor | Ask | Ping


@local_message
class Notes(Message):
    """A local family: typed helpers only."""


class Jot(Notes):
    text: str
    anything: dict[str, int]


class Count(Notes, Call[int]):
    pass
