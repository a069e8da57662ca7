"""The actors of ``ractor-cluster demo``, with hand-written codecs.

The demo needs no ``ractor_derive`` (``ractor_cluster`` does not import it): it implements
the core's message protocol by hand, which is also how to declare a cluster message without
the decorators. Wire format as the Rust derive: each field be64-length-prefixed, replies raw
UTF-8. ``tests/ractor_derive/test_plan.py`` checks these bytes against ``ractor_derive``'s wire
plan (``args_codec`` of the same dataclasses), so this layout is not a second source of truth.
"""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

from ractor_core import Actor, ActorRef, Call, pg
from ractor_core.transport import SerializedCall, SerializedCast, SerializedMessage

from ._remote_actor import remote_actors

__all__ = ["DEMO_GROUP", "Ask", "DemoMsg", "EchoActor", "Relay", "Shout", "start"]

DEMO_GROUP = "demo"
_LEN = struct.Struct(">Q")


def _pack(*fields: str) -> bytes:
    out = b""
    for text in fields:
        data = text.encode("utf-8")
        out += _LEN.pack(len(data)) + data
    return out


def _unpack(args: bytes, count: int) -> list[str]:
    fields: list[str] = []
    pos = 0
    for _ in range(count):
        if len(args) - pos < 8:
            raise ValueError("truncated field length")
        (size,) = _LEN.unpack_from(args, pos)
        pos += 8
        if size > len(args) - pos:
            raise ValueError("field runs past the end")
        fields.append(args[pos : pos + size].decode("utf-8"))
        pos += size
    if pos != len(args):
        raise ValueError("trailing bytes")
    return fields


def _encode_str(value: str) -> bytes:
    return value.encode("utf-8")


def _decode_str(data: bytes) -> str:
    return data.decode("utf-8")


class _Variant:
    tag: ClassVar[str]
    __ractor_family__: ClassVar[Any]

    def _fields(self) -> tuple[str, ...]:
        raise NotImplementedError

    def serialize(self) -> SerializedMessage:
        """Serialize as the Rust derive would."""
        args = _pack(*self._fields())
        if isinstance(self, Call):
            return SerializedCall(self.tag, args)
        return SerializedCast(self.tag, args)

    def encode_reply(self, value: str) -> bytes:
        """Encode a reply (every demo call is answered with a string)."""
        return _encode_str(value)

    def decode_reply(self, data: bytes) -> str:
        """Decode a reply."""
        return _decode_str(data)


@dataclass(frozen=True)
class Shout(_Variant):
    """Cast: note ``text``."""

    text: str
    tag: ClassVar[str] = "Shout"

    def _fields(self) -> tuple[str, ...]:
        return (self.text,)


@dataclass(frozen=True)
class Ask(_Variant, Call[str]):
    """Call: answered with who answered, and how many shouts it heard."""

    text: str
    tag: ClassVar[str] = "Ask"

    def _fields(self) -> tuple[str, ...]:
        return (self.text,)


@dataclass(frozen=True)
class Relay(_Variant, Call[str]):
    """Call: ask the actor named ``to`` (on another node) and pass its answer back."""

    to: str
    text: str
    tag: ClassVar[str] = "Relay"

    def _fields(self) -> tuple[str, ...]:
        return (self.to, self.text)


DemoMsg: TypeAlias = Shout | Ask | Relay


class _Family:
    """Decodes the demo messages (the part ``@cluster_message`` would derive)."""

    def deserialize(self, message: SerializedMessage, /) -> DemoMsg:
        if isinstance(message, SerializedCast) and message.variant == "Shout":
            (text,) = _unpack(message.args, 1)
            return Shout(text)
        if isinstance(message, SerializedCall):
            msg: Ask | Relay
            if message.variant == "Ask":
                (text,) = _unpack(message.args, 1)
                msg = Ask(text)
            elif message.variant == "Relay":
                to, text = _unpack(message.args, 2)
                msg = Relay(to, text)
            else:
                raise ValueError(f"unknown call variant {message.variant!r}")
            return msg
        raise ValueError(f"not a demo message: {message!r}")


_FAMILY = _Family()
for _cls in (Shout, Ask, Relay):
    _cls.__ractor_family__ = _FAMILY


@dataclass
class Heard:
    """State of an Echo actor."""

    name: str
    shouts: int = 0


class EchoActor(Actor[DemoMsg, Heard, str]):
    """Counts shouts, answers asks, and relays asks to other nodes' echo actors."""

    async def pre_start(self, myself: ActorRef[DemoMsg], args: str) -> Heard:
        """Join the demo group."""
        pg.join(DEMO_GROUP, [myself])
        return Heard(args)

    async def handle(self, myself: ActorRef[DemoMsg], message: DemoMsg, state: Heard) -> None:
        """Shout, Ask, Relay."""
        match message:
            case Shout():
                state.shouts += 1
            case Ask(text=text):
                message.reply.send(f"{state.name} heard {state.shouts} shouts; you said {text!r}")
            case Relay(to=to, text=text):
                port = message.reply
                targets = remote_actors(to)
                if not targets:
                    port.send(f"{state.name}: no actor named {to!r} is known here")
                    return
                started = time.perf_counter()
                answer = await targets[0].call(Ask(text), timeout=5)
                took = (time.perf_counter() - started) * 1e6
                port.send(f"{state.name} -> {answer} ({took:.0f} µs)")





async def start(node: ActorRef[Any], name: str) -> None:
    """The demo's ``--app`` hook: host one echo actor named after the node."""
    from ractor_core import spawn

    await spawn(EchoActor(), name, name=f"echo-{name}")
