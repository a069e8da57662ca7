"""ractor_derive: typed message families and wire codecs, byte-identical to Rust ractor.

``@cluster_message`` mirrors ``#[derive(RactorClusterMessage)]`` and ``@local_message``
mirrors ``#[derive(RactorMessage)]``; ``to_bytes`` / ``from_bytes`` are the
``BytesConvertable`` encodings of field types.
"""

from __future__ import annotations

from ._codecs import Codec, CodecError, codec_for, from_bytes, to_bytes
from ._errors import DeserializationError, MessageDeclarationError, SerializationError
from ._message import (
    FamilyInfo,
    FieldInfo,
    Message,
    VariantInfo,
    cluster_message,
    decode_args,
    encode_args,
    local_message,
)
from ._plain import PlainFamily
from ._types import (
    F32,
    F64,
    I8,
    I16,
    I32,
    I64,
    I128,
    U8,
    U16,
    U32,
    U64,
    U128,
    Char,
    CharKind,
    FloatKind,
    IntKind,
)

__all__ = [
    "Char",
    "CharKind",
    "Codec",
    "CodecError",
    "DeserializationError",
    "F32",
    "F64",
    "FamilyInfo",
    "FieldInfo",
    "FloatKind",
    "I128",
    "I16",
    "I32",
    "I64",
    "I8",
    "IntKind",
    "Message",
    "MessageDeclarationError",
    "PlainFamily",
    "SerializationError",
    "U128",
    "U16",
    "U32",
    "U64",
    "U8",
    "VariantInfo",
    "cluster_message",
    "codec_for",
    "decode_args",
    "encode_args",
    "from_bytes",
    "local_message",
    "to_bytes",
]
