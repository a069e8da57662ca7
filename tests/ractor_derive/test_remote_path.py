"""Cluster messages through the core's remote path, in process.

A ``Loopback`` node (tests/ractor_core/remote.py) stands where the cluster's session will: its
refs are remote, it gets the serialized messages a remote ``ActorRef`` produces, and hands
them to a local actor through ``ractor_core.transport`` (decode, offer) as a node session
does, with the reply crossing back as bytes. Everything but the socket is the real path:
derived codecs, reply ports, typed replies.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ractor_core import (
    Actor,
    ActorRef,
    CallTimeout,
    MessagingError,
    spawn,
)
from ractor_core.transport import SerializedCall, SerializedCast, decode, offer
from ractor_derive import DeserializationError, SerializationError

from ..ractor_core.remote import Loopback, Recording
from .samples import Describe, Hey, IsDone, Lookup, Named, PortFirst, Sample, Several


class Target(Actor[Sample, list[Sample], None]):
    """Notes casts; answers calls from what it noted."""

    async def pre_start(self, myself: ActorRef[Sample], args: None) -> list[Sample]:
        return []

    async def handle(self, myself: ActorRef[Sample], message: Sample, state: list[Sample]) -> None:
        match message:
            case IsDone():
                message.reply.send(bool(state))
            case Lookup(key=key):
                if key == "never":
                    return  # drop the port: the caller must fail promptly
                if key == "slow":
                    await asyncio.sleep(1)
                message.reply.send(len(state))
            case PortFirst(a=a, b=b):
                message.reply.send([-x for x in a] + [x % 128 for x in b])
            case Describe(n=n, ch=ch):
                message.reply.send(f"{ch}{n}")
            case _:
                state.append(message)


async def remote_pair() -> tuple[ActorRef[Sample], ActorRef[Sample]]:
    target = await spawn(Target(), None)
    node = Loopback(target)
    return target, node.actor(target.id.pid)


async def test_a_remote_ref_has_a_remote_id() -> None:
    _, proxy = await remote_pair()
    assert not proxy.id.is_local
    assert proxy.id.node_id is not None and str(proxy.id).startswith(f"{proxy.id.node_id}.")


async def test_casts_to_a_remote_ref_arrive_decoded() -> None:
    _, proxy = await remote_pair()
    proxy.cast(Hey(text="Hey there"))
    proxy.cast(Several(a=1, b=-1, c=False, d=[7]))
    proxy.cast(Named(id=5, ch="é", ratio=-0.25))
    assert await proxy.call(Lookup(key="k"), timeout=2) == 3


async def test_calls_to_a_remote_ref_return_typed_replies() -> None:
    _, proxy = await remote_pair()
    assert await proxy.call(IsDone(), timeout=2) is False
    assert await proxy.call(PortFirst(a=bytes([1, 2]), b=[130]), timeout=2) == [-1, -2, 2]
    assert await proxy.call(Describe(n=-4, ch="q"), timeout=2) == "q-4"


async def test_a_remote_call_whose_port_is_dropped_times_out_as_on_the_wire() -> None:
    _, proxy = await remote_pair()
    with pytest.raises(CallTimeout):
        await proxy.call(Lookup(key="never"), timeout=0.05)


async def test_a_remote_call_past_its_timeout_raises_call_timeout() -> None:
    _, proxy = await remote_pair()
    with pytest.raises(CallTimeout):
        await proxy.call(Lookup(key="slow"), timeout=0.02)


async def test_a_value_that_does_not_fit_is_refused_when_built_or_before_sending() -> None:
    with pytest.raises(SerializationError, match="out of range"):
        Several(a=300, b=0, c=True, d=[])
    _, proxy = await remote_pair()
    with pytest.raises(MessagingError, match="out of range"):  # list items: checked when sent
        proxy.cast(Several(a=3, b=0, c=True, d=[70000]))


async def test_a_local_only_message_cannot_go_to_a_remote_ref() -> None:
    _, proxy = await remote_pair()

    class NotCluster:
        pass

    with pytest.raises(MessagingError, match="not a cluster message"):
        proxy.cast(NotCluster())


async def test_malformed_serialized_input_is_refused_and_nothing_is_queued() -> None:
    target, _ = await remote_pair()
    with pytest.raises(DeserializationError, match="unknown variant"):
        decode(target, SerializedCast("Nope", b""))
    with pytest.raises(DeserializationError, match="trailing"):
        decode(target, SerializedCast("Unit", b"\x00"))
    assert target.is_remotable
    assert await target.call(Lookup(key="k"), timeout=2) == 0


async def test_an_actor_with_a_local_message_type_is_not_remotable() -> None:
    class Plain(Actor[ActorRef[Any], None, None]):
        async def pre_start(self, myself: ActorRef[ActorRef[Any]], args: None) -> None:
            return None

    ref = await spawn(Plain(), None)
    assert not ref.is_remotable
    with pytest.raises(MessagingError, match="does not take messages from other nodes"):
        decode(ref, SerializedCast("x", b""))


class Texts(Actor[str, list[str], None]):
    """An actor whose message type is a plain str (remotable, as in Rust)."""

    async def pre_start(self, myself: ActorRef[str], args: None) -> list[str]:
        return []

    async def handle(self, myself: ActorRef[str], message: str, state: list[str]) -> None:
        state.append(message)
        if message == "done":
            myself.stop(",".join(state))


async def test_a_plain_str_actor_is_remotable_and_takes_empty_variant_casts() -> None:
    ref = await spawn(Texts(), None)
    assert ref.is_remotable
    assert offer(ref, decode(ref, SerializedCast("", "héllo".encode())))
    assert offer(ref, decode(ref, SerializedCast("ignored", b"done")))
    await ref.wait(timeout=2)


async def test_a_plain_str_message_serializes_like_rusts_blanket_impl() -> None:
    node = Recording()
    proxy = node.actor(99)
    proxy.cast("hé")
    assert node.casts == [(99, SerializedCast("", "hé".encode()))]


async def test_a_plain_message_refuses_calls_and_bad_bytes() -> None:
    ref = await spawn(Texts(), None)
    with pytest.raises(DeserializationError, match="invalid UTF-8"):
        decode(ref, SerializedCast("", b"\xff"))
    with pytest.raises(DeserializationError, match="casts only"):
        decode(ref, SerializedCall("", b"x"))
