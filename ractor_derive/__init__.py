"""ractor_derive: typed message families and wire codecs, byte-identical to Rust ractor.

``@cluster_message`` mirrors ``#[derive(RactorClusterMessage)]`` and ``@local_message``
mirrors ``#[derive(RactorMessage)]``; ``to_bytes`` / ``from_bytes`` are the
``BytesConvertable`` encodings of field types. What a field type's bytes are is decided once,
by ``wire_of`` (the wire plan), which the codecs, the compiled variant codecs, ``ractor-derive
gen`` and the mypy plugin all read; ``args_codec`` gives a plain dataclass the same codec.
"""

from __future__ import annotations

from ._codecs import Codec, codec_for, from_bytes, list_structs, to_bytes
from ._compile import Fallback
from ._errors import (
    CodecError,
    DeserializationError,
    GenError,
    MessageDeclarationError,
    SerializationError,
)
from ._message import (
    ArgsCodec,
    FamilyInfo,
    FieldInfo,
    Message,
    VariantInfo,
    args_codec,
    cluster_message,
    decode_args,
    encode_args,
    fallback_of,
    layout_of,
    local_message,
    register_codecs,
)
from ._plain import PlainFamily
from ._plan import FieldPlan, Wire, wire_of
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
    "ArgsCodec",
    "Char",
    "CharKind",
    "Codec",
    "CodecError",
    "DeserializationError",
    "F32",
    "F64",
    "Fallback",
    "FamilyInfo",
    "FieldInfo",
    "FieldPlan",
    "FloatKind",
    "GenError",
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
    "Wire",
    "args_codec",
    "cluster_message",
    "codec_for",
    "decode_args",
    "encode_args",
    "fallback_of",
    "from_bytes",
    "layout_of",
    "list_structs",
    "local_message",
    "register_codecs",
    "to_bytes",
    "wire_of",
]
