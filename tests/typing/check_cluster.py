"""Type expectations for refs found on other nodes, under mypy --strict and pyright --strict
(no plugin): ``as_remote(ref, ActorRef[BankMsg])`` types a discovered ref precisely, also when
the message type is a union alias."""

from __future__ import annotations

from typing import Any, assert_type

from ractor_cluster import as_remote, remote_actors
from ractor_core import ActorRef, Call
from ractor_derive import Message, cluster_message


@cluster_message
class Bank(Message):
    """The bank's family."""


class Deposit(Bank):
    amount: int


class Balance(Bank, Call[int]):
    pass


BankMsg = Deposit | Balance


@cluster_message
class Greeter(Message):
    """Another family."""


class Hey(Greeter):
    text: str


async def discovered() -> None:
    found = remote_actors("teller")[0]
    assert_type(found, ActorRef[Any])
    teller = as_remote(found, ActorRef[BankMsg])
    assert_type(teller, ActorRef[Deposit | Balance])
    teller.cast(Deposit(amount=1))
    teller.cast(Hey(text="hi"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    teller.cast(Deposit(amount="1"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    assert_type(await teller.call(Balance(), timeout=1.0), int)
    wrong: ActorRef[str] = as_remote(found, ActorRef[BankMsg])  # type: ignore[arg-type]  # pyright: ignore[reportAssignmentType]
    family = as_remote(found, Bank)
    assert_type(family, ActorRef[Bank])
    family.cast(Hey(text="hi"))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    text = as_remote(found, str)
    assert_type(text, ActorRef[str])
    text.cast(b"bytes")  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    del wrong
