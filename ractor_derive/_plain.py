"""Plain values as whole messages: an actor whose message type is ``str``, ``bytes``, ...

Rust ractor makes every ``BytesConvertable`` type a network message: it travels as a Cast
with an empty variant and the value's bytes as the arguments, without a length prefix
(PROTOCOL.md section 6.4). Importing ``ractor_derive`` registers the same for ``str``,
``bytes``, ``bool``, ``int`` (i64) and ``float`` (f64).
"""

from __future__ import annotations

from typing import Any

from ractor_core.transport import SerializedCast, SerializedMessage, register_message_family

from ._codecs import CodecError, codec_for
from ._errors import DeserializationError, SerializationError

__all__ = ["PlainFamily"]


class PlainFamily:
    """The message family of a plain type: a cast with variant ``""`` and the raw bytes."""

    def __init__(self, tp: Any) -> None:
        self.type = tp
        self.codec = codec_for(tp)

    def serialize(self, value: Any) -> SerializedCast:
        """Serialize ``value`` as Rust's blanket ``Message`` impl does.

        Raises:
            SerializationError: the value does not fit the type.
        """
        try:
            return SerializedCast("", self.codec.encode(value))
        except CodecError as exc:
            raise SerializationError(f"{self.codec.rust} message: {exc}") from exc

    def deserialize(self, message: SerializedMessage, /) -> Any:
        """Decode a plain message; the variant is ignored, and calls are refused.

        Raises:
            DeserializationError: a call, or bytes that do not decode.
        """
        if not isinstance(message, SerializedCast):
            raise DeserializationError(
                f"a {self.codec.rust} message takes casts only, got a {type(message).__name__}"
            )
        try:
            return self.codec.decode(message.args)
        except CodecError as exc:
            raise DeserializationError(f"{self.codec.rust} message: {exc}") from exc

    def __repr__(self) -> str:
        return f"<PlainFamily {self.codec.rust}>"


for _tp in (str, bytes, bool, int, float):
    register_message_family(_tp, PlainFamily(_tp))
