"""The actors of ``ractor-cluster demo``: messages declared without the decorators.

The demo's messages are plain frozen dataclasses that implement the core's message protocol
(``serialize``, a family's ``deserialize``, ``encode_reply`` / ``decode_reply``) by hand, which
is how to declare a cluster message without ``@cluster_message``. Their argument bytes come
from ``ractor_derive.args_codec``, the codec the derive compiles from the wire plan (each field
be64-length-prefixed, as the Rust derive); replies are a Rust ``String``, raw UTF-8.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

from ractor_core import Actor, ActorRef, Call, pg
from ractor_core.transport import SerializedCast, SerializedMessage
from ractor_derive import ArgsCodec, DeserializationError, args_codec, codec_for

from ._remote_actor import remote_actors

__all__ = ["DEMO_GROUP", "Ask", "DemoMsg", "EchoActor", "Relay", "Shout", "start"]

DEMO_GROUP = "demo"
_REPLY = codec_for(str)


class _Variant:
    codec: ClassVar[ArgsCodec[Any]]
    __ractor_family__: ClassVar[Any]

    def serialize(self) -> SerializedMessage:
        """Serialize as the Rust derive would."""
        return type(self).codec.serialize(self)

    def encode_reply(self, value: str) -> bytes:
        """Encode a reply (every demo call is answered with a string)."""
        return _REPLY.encode(value)

    def decode_reply(self, data: bytes) -> str:
        """Decode a reply."""
        reply: str = _REPLY.decode(data)
        return reply


@dataclass(frozen=True)
class Shout(_Variant):
    """Cast: note ``text``."""

    text: str


@dataclass(frozen=True)
class Ask(_Variant, Call[str]):
    """Call: answered with who answered, and how many shouts it heard."""

    text: str


@dataclass(frozen=True)
class Relay(_Variant, Call[str]):
    """Call: ask the actor named ``to`` (on another node) and pass its answer back."""

    to: str
    text: str


Shout.codec = args_codec(Shout)
Ask.codec = args_codec(Ask, call=True)
Relay.codec = args_codec(Relay, call=True)

DemoMsg: TypeAlias = Shout | Ask | Relay

_CASTS: dict[str, type[DemoMsg]] = {"Shout": Shout}
_CALLS: dict[str, type[DemoMsg]] = {"Ask": Ask, "Relay": Relay}


class _Family:
    """Decodes the demo messages (the part ``@cluster_message`` would derive)."""

    def deserialize(self, message: SerializedMessage, /) -> DemoMsg:
        variants = _CASTS if isinstance(message, SerializedCast) else _CALLS
        cls = variants.get(message.variant)
        if cls is None:
            raise DeserializationError(
                f"unknown demo {type(message).__name__} variant {message.variant!r}",
                variant=message.variant,
            )
        msg: DemoMsg = cls.codec.decode(message.args)
        return msg


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
