"""Byte codecs of field types, byte-identical to Rust ractor's ``BytesConvertable`` impls.

Encodings (PROTOCOL.md section 6.4): integers and floats big-endian at their fixed width;
``bool`` one byte ``01``/``00``; ``Char`` the be32 scalar value; ``str`` raw UTF-8;
``bytes`` raw; ``None`` (unit) empty; ``list[...]`` of fixed-width items concatenated with no
count; protobuf messages varint-length-delimited; pydantic models JSON; user classes through
their own ``into_bytes`` / ``from_bytes``.

Decoding is stricter than Rust's, on purpose: Rust ignores bytes past a number's width, a
trailing partial list item, and reads any bool byte but ``01`` as false; here each of those
is a :class:`CodecError`. Every value a Rust peer *encodes* decodes the same here, so the
strictness rejects only malformed input, which Rust would have decoded silently into
something else.
"""

from __future__ import annotations

import functools
import struct
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from ._types import CharKind, FloatKind, IntKind

__all__ = ["Codec", "CodecError", "codec_for", "from_bytes", "to_bytes"]

T = TypeVar("T")


class CodecError(ValueError):
    """A value could not be encoded, or bytes could not be decoded, for a field type."""


class Codec:
    """Encoder and decoder of one field type; ``rust`` names the matching Rust type."""

    __slots__ = ("decode", "encode", "fixed_width", "python", "rust")

    def __init__(
        self,
        encode: Callable[[Any], bytes],
        decode: Callable[[bytes], Any],
        rust: str,
        python: str,
        fixed_width: int | None = None,
    ) -> None:
        self.encode = encode
        self.decode = decode
        self.rust = rust
        self.python = python
        self.fixed_width = fixed_width

    def __repr__(self) -> str:
        return f"<Codec {self.python} as {self.rust}>"


# ------------------------------------------------------------------------- scalars

_STRUCT_INT = {
    (8, False): "B",
    (16, False): "H",
    (32, False): "I",
    (64, False): "Q",
    (8, True): "b",
    (16, True): "h",
    (32, True): "i",
    (64, True): "q",
}


def _int_codec(kind: IntKind) -> Codec:
    width = kind.bits // 8
    low, high, rust = kind.low, kind.high, kind.rust
    fmt = _STRUCT_INT.get((kind.bits, kind.signed))

    def check(value: Any) -> int:
        if type(value) is not int and (isinstance(value, bool) or not isinstance(value, int)):
            raise CodecError(f"expected an int for {rust}, got {type(value).__name__}")
        if value < low or value > high:
            raise CodecError(f"{value} is out of range for {rust} ({low}..={high})")
        return int(value)

    if fmt is not None:
        packer = struct.Struct(">" + fmt)
        pack, unpack = packer.pack, packer.unpack

        def encode(value: Any) -> bytes:
            if type(value) is int and low <= value <= high:
                return pack(value)
            return pack(check(value))

        def decode(data: bytes) -> int:
            if len(data) != width:
                raise CodecError(f"{rust} takes {width} bytes, got {len(data)}")
            return int(unpack(data)[0])

    else:
        signed = kind.signed

        def encode(value: Any) -> bytes:
            return check(value).to_bytes(width, "big", signed=signed)

        def decode(data: bytes) -> int:
            if len(data) != width:
                raise CodecError(f"{rust} takes {width} bytes, got {len(data)}")
            return int.from_bytes(data, "big", signed=signed)

    return Codec(encode, decode, rust, "int", width)


def _float_codec(kind: FloatKind) -> Codec:
    width = kind.bits // 8
    rust = kind.rust
    packer = struct.Struct(">f" if kind.bits == 32 else ">d")
    pack, unpack = packer.pack, packer.unpack

    def encode(value: Any) -> bytes:
        if type(value) is not float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise CodecError(f"expected a float for {rust}, got {type(value).__name__}")
            value = float(value)
        try:
            return pack(value)
        except (OverflowError, struct.error) as exc:
            raise CodecError(f"{value} does not fit in {rust}") from exc

    def decode(data: bytes) -> float:
        if len(data) != width:
            raise CodecError(f"{rust} takes {width} bytes, got {len(data)}")
        return float(unpack(data)[0])

    return Codec(encode, decode, rust, "float", width)


def _bool_encode(value: Any) -> bytes:
    if value is True:
        return b"\x01"
    if value is False:
        return b"\x00"
    raise CodecError(f"expected a bool, got {type(value).__name__}")


def _bool_decode(data: bytes) -> bool:
    if data == b"\x01":
        return True
    if data == b"\x00":
        return False
    raise CodecError(f"a bool is one byte 00 or 01, got {data[:8].hex() or 'nothing'}")


def _check_scalar(code: int) -> str:
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise CodecError(f"{code:#x} is not a Unicode scalar value")
    return chr(code)


def _char_encode(value: Any) -> bytes:
    if not isinstance(value, str) or len(value) != 1:
        raise CodecError(f"a char is a one-character str, got {value!r}")
    code = ord(value)
    _check_scalar(code)
    return code.to_bytes(4, "big")


def _char_decode(data: bytes) -> str:
    if len(data) != 4:
        raise CodecError(f"a char takes 4 bytes, got {len(data)}")
    return _check_scalar(int.from_bytes(data, "big"))


def _str_encode(value: Any) -> bytes:
    if not isinstance(value, str):
        raise CodecError(f"expected a str, got {type(value).__name__}")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CodecError(f"the str cannot be encoded as UTF-8: {exc.reason}") from exc


def _str_decode(data: bytes) -> str:
    try:
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CodecError(f"invalid UTF-8 at byte {exc.start}") from exc


def _bytes_encode(value: Any) -> bytes:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise CodecError(f"expected bytes, got {type(value).__name__}")


def _unit_encode(value: Any) -> bytes:
    if value is not None:
        raise CodecError(f"expected None (unit), got {type(value).__name__}")
    return b""


def _unit_decode(data: bytes) -> None:
    if data:
        raise CodecError(f"unit takes no bytes, got {len(data)}")
    return None


_BOOL = Codec(_bool_encode, _bool_decode, "bool", "bool", 1)
_CHAR = Codec(_char_encode, _char_decode, "char", "str", 4)
_STR = Codec(_str_encode, _str_decode, "String", "str")
_BYTES = Codec(_bytes_encode, bytes, "Vec<u8>", "bytes")
_UNIT = Codec(_unit_encode, _unit_decode, "()", "None")
_I64 = _int_codec(IntKind(64, True))
_F64 = _float_codec(FloatKind(64))


# ------------------------------------------------------------------------- lists


def _list_codec(item: Codec) -> Codec:
    width = item.fixed_width
    if width is None:
        raise TypeError(
            f"list[{item.python}] has no Rust BytesConvertable encoding: only lists of "
            "fixed-width items (integers, floats, bool, Char) are supported"
        )
    rust = f"Vec<{item.rust}>"
    item_encode, item_decode = item.encode, item.decode
    if item.rust == "u8":

        def encode_u8(value: Any) -> bytes:
            if not isinstance(value, list):
                raise CodecError(f"expected a list for {rust}, got {type(value).__name__}")
            try:
                return bytes(value)
            except (ValueError, TypeError) as exc:
                raise CodecError(f"{rust}: {exc}") from exc

        return Codec(encode_u8, list, rust, f"list[{item.python}]")

    def encode(value: Any) -> bytes:
        if not isinstance(value, list):
            raise CodecError(f"expected a list for {rust}, got {type(value).__name__}")
        return b"".join([item_encode(v) for v in value])

    def decode(data: bytes) -> list[Any]:
        if len(data) % width:
            raise CodecError(
                f"{rust} takes a multiple of {width} bytes, got {len(data)} "
                "(a trailing partial item)"
            )
        return [item_decode(data[i : i + width]) for i in range(0, len(data), width)]

    return Codec(encode, decode, rust, f"list[{item.python}]")


# ------------------------------------------------------------------------- models


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _read_varint(data: bytes) -> tuple[int, int]:
    """Read a base-128 varint (at most 10 bytes); return (value, bytes used)."""
    value = 0
    for i, byte in enumerate(data[:10]):
        value |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            if value >= 1 << 64:
                raise CodecError("varint exceeds 64 bits")
            return value, i + 1
    raise CodecError("truncated or overlong varint")


def _protobuf_codec(cls: type[Any]) -> Codec:
    name = cls.__name__

    def encode(value: Any) -> bytes:
        if not isinstance(value, cls):
            raise CodecError(f"expected a {name}, got {type(value).__name__}")
        body: bytes = value.SerializeToString()
        return _varint(len(body)) + body

    def decode(data: bytes) -> Any:
        data = bytes(data)
        try:
            size, pos = _read_varint(data)
        except CodecError as exc:
            raise CodecError(f"{name}: malformed length: {exc}") from exc
        if pos + size != len(data):
            raise CodecError(f"{name}: length {size} does not match the {len(data) - pos} bytes")
        msg = cls()
        try:
            msg.ParseFromString(data[pos:])
        except Exception as exc:
            raise CodecError(f"{name}: malformed protobuf ({exc})") from exc
        return msg

    return Codec(encode, decode, f"{name} (prost)", name)


def _pydantic_codec(cls: type[Any]) -> Codec:
    name = cls.__name__

    def encode(value: Any) -> bytes:
        if not isinstance(value, cls):
            raise CodecError(f"expected a {name}, got {type(value).__name__}")
        return bytes(value.model_dump_json().encode("utf-8"))

    def decode(data: bytes) -> Any:
        try:
            return cls.model_validate_json(bytes(data))
        except Exception as exc:  # pydantic.ValidationError, or bad JSON
            raise CodecError(f"{name}: {exc}".splitlines()[0]) from exc

    return Codec(encode, decode, f"{name} (serde_json)", name)


def _user_codec(cls: type[Any]) -> Codec:
    name = cls.__name__

    def encode(value: Any) -> bytes:
        if not isinstance(value, cls):
            raise CodecError(f"expected a {name}, got {type(value).__name__}")
        out = value.into_bytes()
        if not isinstance(out, bytes):
            raise CodecError(f"{name}.into_bytes() returned {type(out).__name__}, not bytes")
        return out

    def decode(data: bytes) -> Any:
        try:
            return cls.from_bytes(bytes(data))
        except CodecError:
            raise
        except Exception as exc:
            raise CodecError(f"{name}.from_bytes failed: {exc!r}") from exc

    return Codec(encode, decode, name, name)


def _has_base(tp: Any, module: str, name: str) -> bool:
    return isinstance(tp, type) and any(
        (getattr(b, "__module__", None) or "").startswith(module) and b.__name__ == name
        for b in tp.__mro__
    )


def _is_protobuf(tp: Any) -> bool:
    return _has_base(tp, "google.protobuf", "Message")


def _is_pydantic(tp: Any) -> bool:
    return _has_base(tp, "pydantic", "BaseModel")


@functools.cache
def _codec_for_hashable(tp: Any) -> Codec:
    return _build(tp)


def codec_for(tp: Any) -> Codec:
    """Return the codec of a field type.

    Raises:
        TypeError: the type has no wire encoding (with the reason).
    """
    try:
        return _codec_for_hashable(tp)
    except TypeError as exc:
        if "unhashable" in str(exc):
            return _build(tp)
        raise


def _build(tp: Any) -> Codec:
    if typing.get_origin(tp) is typing.Annotated:
        base, *meta = typing.get_args(tp)
        for marker in meta:
            if isinstance(marker, IntKind):
                if base is not int:
                    raise TypeError(f"{marker.rust} annotates int, not {base!r}")
                return _int_codec(marker)
            if isinstance(marker, FloatKind):
                return _float_codec(marker)
            if isinstance(marker, CharKind):
                return _CHAR
        return _build(base)
    if tp is bool:
        return _BOOL
    if tp is int:
        return _I64
    if tp is float:
        return _F64
    if tp is str:
        return _STR
    if tp is bytes:
        return _BYTES
    if tp is None or tp is type(None):
        return _UNIT
    origin = typing.get_origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp) or (None,)
        if item is None:
            raise TypeError("a list field needs its item type, e.g. list[U32]")
        return _list_codec(_build(item))
    if origin in (typing.Union, types.UnionType):
        raise TypeError(
            f"{tp!r}: unions and Optional have no Rust BytesConvertable encoding; "
            "write a BytesConvertable class for them"
        )
    if _is_protobuf(tp):
        return _protobuf_codec(tp)
    if _is_pydantic(tp):
        return _pydantic_codec(tp)
    if isinstance(tp, type) and callable(getattr(tp, "into_bytes", None)) and callable(
        getattr(tp, "from_bytes", None)
    ):
        return _user_codec(tp)
    raise TypeError(
        f"{getattr(tp, '__name__', tp)!r} has no wire encoding: use a built-in type (U8…U128, "
        "I8…I128, int, F32, float, bool, Char, str, bytes, None, list[...]), a protobuf "
        "message, a pydantic model, or a class with into_bytes/from_bytes"
    )


def to_bytes(value: Any, tp: Any) -> bytes:
    """Encode ``value`` as the Rust type that ``tp`` names (e.g. ``to_bytes(7, U32)``).

    Raises:
        CodecError: the value does not fit the type.
        TypeError: the type has no wire encoding.
    """
    return codec_for(tp).encode(value)


def from_bytes(data: bytes, tp: Any) -> Any:
    """Decode ``data`` as the Rust type that ``tp`` names (e.g. ``from_bytes(b, U32)``).

    Raises:
        CodecError: the bytes are malformed for the type.
        TypeError: the type has no wire encoding.
    """
    return codec_for(tp).decode(data)
