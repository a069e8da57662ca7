"""Byte codecs of field types, byte-identical to Rust ractor's ``BytesConvertable`` impls.

Encodings (PROTOCOL.md section 6.4): integers and floats big-endian at their fixed width;
``bool`` one byte ``01``/``00``; ``Char`` the be32 scalar value; ``str`` raw UTF-8;
``bytes`` raw; ``None`` (unit) empty; ``list[...]`` of fixed-width items concatenated with no
count; protobuf messages varint-length-delimited; pydantic models JSON; user classes through
their own ``into_bytes`` / ``from_bytes``.

Decoding is stricter than Rust's, on purpose: Rust ignores bytes past a number's width, a
trailing partial list item, and reads any bool byte but ``01`` as false; here each of those
is a :class:`DeserializationError`. Every value a Rust peer *encodes* decodes the same here, so the
strictness rejects only malformed input, which Rust would have decoded silently into
something else.

An ``f32`` NaN keeps its sign and payload bits both ways (Rust copies the bits): it decodes to
the ``float`` NaN whose ``f64`` payload is the ``f32`` payload shifted left by 29 bits, and such
a NaN encodes back to the same four bytes. (Converting through C's ``float``/``double`` would
quiet a signalling NaN: ``7f800001`` would come back as ``7fc00001``.)
"""

from __future__ import annotations

import array
import functools
import math
import operator
import struct
import sys
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from ._errors import CodecError, DeserializationError, SerializationError
from ._plan import Wire, wire_of

__all__ = ["Codec", "CodecError", "codec_for", "codec_of", "from_bytes", "list_structs", "to_bytes"]

T = TypeVar("T")

_count_of = operator.countOf


class Codec:
    """Encoder and decoder of one field type, built from its :class:`~ractor_derive._plan.Wire`.

    ``encode`` raises :class:`SerializationError`, ``decode`` :class:`DeserializationError`.
    ``rust`` names the matching Rust type; ``fixed_width``, ``fmt`` and ``kind`` are the wire's
    (see ``Wire``), kept here for the callers that hold a codec.
    """

    __slots__ = ("decode", "encode", "fixed_width", "fmt", "kind", "python", "rust", "wire")

    def __init__(
        self,
        encode: Callable[[Any], bytes],
        decode: Callable[[bytes], Any],
        wire: Wire,
    ) -> None:
        self.encode = encode
        self.decode = decode
        self.wire = wire
        self.rust = wire.rust
        self.python = wire.python
        self.fixed_width = wire.width
        self.fmt = wire.fmt
        self.kind = wire.kind

    def __repr__(self) -> str:
        return f"<Codec {self.python} as {self.rust}>"


def _show_int(value: int) -> str:
    """An int for an error message (a huge one by its size: str() refuses > 4300 digits)."""
    if value.bit_length() <= 256:
        return str(int(value))
    return f"an int of {value.bit_length()} bits"


# ------------------------------------------------------------------------- scalars

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_F32 = struct.Struct(">f")
_F64 = struct.Struct(">d")


def _int_codec(wire: Wire) -> Codec:
    kind = wire.int_kind
    assert kind is not None and wire.width is not None
    width = wire.width
    low, high, rust = kind.low, kind.high, kind.rust
    fmt = wire.fmt

    def check(value: Any) -> int:
        if type(value) is not int and (isinstance(value, bool) or not isinstance(value, int)):
            raise SerializationError(f"expected an int for {rust}, got {type(value).__name__}")
        if value < low or value > high:
            raise SerializationError(
                f"{_show_int(value)} is out of range for {rust} ({low}..={high})"
            )
        return int(value)

    def wrong_size(data: bytes) -> CodecError:
        return DeserializationError(f"{rust} takes {width} bytes, got {len(data)}")

    if fmt is not None:
        packer = struct.Struct(">" + fmt)
        pack, unpack = packer.pack, packer.unpack

        def encode(value: Any) -> bytes:
            if type(value) is int:
                try:
                    return pack(value)
                except struct.error:
                    pass
            return pack(check(value))

        def decode(data: bytes) -> int:
            try:
                value: int = unpack(data)[0]
            except struct.error:
                raise wrong_size(data) from None
            return value

    else:
        signed = kind.signed

        def encode(value: Any) -> bytes:
            return check(value).to_bytes(width, "big", signed=signed)

        def decode(data: bytes) -> int:
            if len(data) != width:
                raise wrong_size(data)
            return int.from_bytes(data, "big", signed=signed)

    return Codec(encode, decode, wire)


def _as_float(value: Any, rust: str) -> float:
    """``value`` as a float for a ``rust`` field: a float or an int that a double holds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SerializationError(f"expected a float for {rust}, got {type(value).__name__}")
    try:
        return float(value)
    except OverflowError as exc:  # an int too large for a double
        raise SerializationError(f"{_show_int(int(value))} does not fit in {rust}") from exc


def _f32_nan_encode(value: float) -> bytes:
    """The f32 bits of a NaN: its sign and the top 23 bits of its f64 payload.

    A payload that would be all zeros (which is an infinity) becomes the quiet NaN's, as the
    C conversion does.
    """
    (bits,) = _U64.unpack(_F64.pack(value))
    mantissa = ((bits >> 29) & 0x7FFFFF) or 0x400000
    return _U32.pack(((bits >> 32) & 0x80000000) | 0x7F800000 | mantissa)


def _f32_nan_decode(data: bytes) -> float:
    """The float of four f32 NaN bytes, keeping the sign and payload (see the module doc)."""
    (bits,) = _U32.unpack(data)
    f64 = ((bits & 0x80000000) << 32) | 0x7FF0000000000000 | ((bits & 0x7FFFFF) << 29)
    value: float = _F64.unpack(_U64.pack(f64))[0]
    return value


def _float_codec(wire: Wire) -> Codec:
    rust = wire.rust
    assert wire.width is not None
    width = wire.width

    def wrong_size(data: bytes) -> CodecError:
        return DeserializationError(f"{rust} takes {width} bytes, got {len(data)}")

    if wire.kind == "float":
        pack64, unpack64 = _F64.pack, _F64.unpack

        def encode64(value: Any) -> bytes:
            if type(value) is float:
                return pack64(value)
            return pack64(_as_float(value, rust))

        def decode64(data: bytes) -> float:
            try:
                value: float = unpack64(data)[0]
            except struct.error:
                raise wrong_size(data) from None
            return value

        return Codec(encode64, decode64, wire)

    pack32, unpack32 = _F32.pack, _F32.unpack

    def encode32(value: Any) -> bytes:
        if type(value) is not float:
            value = _as_float(value, rust)
        if value != value:
            return _f32_nan_encode(value)
        try:
            return pack32(value)
        except (OverflowError, struct.error) as exc:
            raise SerializationError(f"{value} does not fit in {rust}") from exc

    def decode32(data: bytes) -> float:
        try:
            value: float = unpack32(data)[0]
        except struct.error:
            raise wrong_size(data) from None
        if value != value:
            return _f32_nan_decode(data)
        return value

    return Codec(encode32, decode32, wire)


def _bool_encode(value: Any) -> bytes:
    if value is True:
        return b"\x01"
    if value is False:
        return b"\x00"
    raise SerializationError(f"expected a bool, got {type(value).__name__}")


def _bool_decode(data: bytes) -> bool:
    if data == b"\x01":
        return True
    if data == b"\x00":
        return False
    raise DeserializationError(f"a bool is one byte 00 or 01, got {data[:8].hex() or 'nothing'}")


def _check_scalar(code: int, error: type[CodecError]) -> str:
    if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        raise error(f"{code:#x} is not a Unicode scalar value")
    return chr(code)


def _char_encode(value: Any) -> bytes:
    if not isinstance(value, str) or len(value) != 1:
        raise SerializationError(f"a char is a one-character str, got {value!r}")
    code = ord(value)
    _check_scalar(code, SerializationError)
    return _U32.pack(code)


def _char_decode(data: bytes) -> str:
    try:
        (code,) = _U32.unpack(data)
    except struct.error:
        raise DeserializationError(f"a char takes 4 bytes, got {len(data)}") from None
    return _check_scalar(code, DeserializationError)


def _str_encode(value: Any) -> bytes:
    if not isinstance(value, str):
        raise SerializationError(f"expected a str, got {type(value).__name__}")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise SerializationError(f"the str cannot be encoded as UTF-8: {exc.reason}") from exc


def _str_decode(data: bytes) -> str:
    try:
        if type(data) is bytes:
            return data.decode("utf-8")
        return bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DeserializationError(f"invalid UTF-8 at byte {exc.start}") from exc


def _bytes_encode(value: Any) -> bytes:
    if type(value) is bytes:
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(typing.cast(bytes, value))
    raise SerializationError(f"expected bytes, got {type(value).__name__}")


def _unit_encode(value: Any) -> bytes:
    if value is not None:
        raise SerializationError(f"expected None (unit), got {type(value).__name__}")
    return b""


def _unit_decode(data: bytes) -> None:
    if data:
        raise DeserializationError(f"unit takes no bytes, got {len(data)}")
    return None


_SCALARS: dict[str, tuple[Callable[[Any], bytes], Callable[[bytes], Any]]] = {
    "bool": (_bool_encode, _bool_decode),
    "char": (_char_encode, _char_decode),
    "str": (_str_encode, _str_decode),
    "bytes": (_bytes_encode, bytes),
    "unit": (_unit_encode, _unit_decode),
}


# ------------------------------------------------------------------------- lists

LIST_STRUCT_MAX = 256
"""Lists of up to this many items pack through a cached ``struct.Struct``; longer ones use
``array.array`` (plus a byte swap on little-endian machines)."""

_LITTLE_ENDIAN = sys.byteorder == "little"
_F32_MAX = 3.4028234663852886e38
_is_one: Callable[[int], bool] = (1).__eq__


class ListStructs(dict[int, struct.Struct]):
    """``struct.Struct(f">{n}{fmt}")`` by item count ``n``, made on first use.

    Callers use it for ``n <= LIST_STRUCT_MAX`` only, which bounds its size.
    """

    __slots__ = ("fmt",)

    def __init__(self, fmt: str) -> None:
        super().__init__()
        self.fmt = fmt

    def __missing__(self, n: int) -> struct.Struct:
        packer = self[n] = struct.Struct(f">{n}{self.fmt}")
        return packer


@functools.cache
def list_structs(fmt: str) -> ListStructs:
    """The shared struct cache of lists whose items have the ``struct`` format ``fmt``."""
    return ListStructs(fmt)


def _array_code(fmt: str) -> str:
    """The ``array`` type code whose items match the ``struct`` format character ``fmt``."""
    if fmt in "fd":
        return fmt
    size = struct.calcsize(">" + fmt)
    for code in "bhilq" if fmt.islower() else "BHILQ":
        if array.array(code).itemsize == size:
            return code
    raise TypeError(f"no array type code for the struct format {fmt!r}")  # pragma: no cover


def _list_codec(wire: Wire) -> Codec:
    assert wire.item is not None
    item = codec_of(wire.item)
    width = item.fixed_width
    assert width is not None
    rust = wire.rust
    item_encode, item_decode = item.encode, item.decode

    # The general paths: item by item, with each item's error message. The fast paths below
    # take the common case and leave everything else (and every error) to these.

    def encode_items(value: Any) -> bytes:
        if not isinstance(value, list):
            raise SerializationError(f"expected a list for {rust}, got {type(value).__name__}")
        items: list[Any] = typing.cast(Any, value)
        return b"".join([item_encode(v) for v in items])

    def decode_items(data: bytes) -> list[Any]:
        if len(data) % width:
            raise DeserializationError(
                f"{rust} takes a multiple of {width} bytes, got {len(data)} "
                "(a trailing partial item)"
            )
        return [item_decode(data[i : i + width]) for i in range(0, len(data), width)]

    fmt = item.fmt
    if fmt is None:  # Char, 128-bit integers
        return Codec(encode_items, decode_items, wire)

    if item.kind == "bool":

        def encode_bools(value: Any) -> bytes:
            items: list[Any] = value
            if type(items) is list and _count_of(map(type, items), bool) == len(items):
                return bytes(items)
            return encode_items(value)

        def decode_bools(data: bytes) -> list[Any]:
            if max(data, default=0) <= 1:
                return list(map(_is_one, data))
            return decode_items(data)  # raises, naming the bad byte

        return Codec(encode_bools, decode_bools, wire)

    structs = list_structs(fmt)
    code = _array_code(fmt)

    def pack_array(value: list[Any]) -> bytes:
        items: array.array[Any] = array.array(code, value)
        if _LITTLE_ENDIAN:
            items.byteswap()
        return items.tobytes()

    def unpack(data: bytes) -> list[Any]:
        n = len(data) // width
        if n <= LIST_STRUCT_MAX:
            return list(structs[n].unpack(data))
        items: array.array[Any] = array.array(code)
        items.frombytes(data)
        if _LITTLE_ENDIAN:
            items.byteswap()
        return items.tolist()

    if item.kind == "f32":

        def encode_f32(value: Any) -> bytes:
            # All floats, none a NaN (keep its bits) nor an infinity: pack them at once.
            items: list[Any] = value
            if type(items) is list and _count_of(map(type, items), float) == len(items):
                total = sum(items)
                if total - total == 0.0:
                    try:
                        if len(items) <= LIST_STRUCT_MAX:
                            return structs[len(items)].pack(*items)
                        if min(items) >= -_F32_MAX and max(items) <= _F32_MAX:
                            return pack_array(items)  # (array("f") would make an infinity)
                    except OverflowError:  # beyond f32: the item's error
                        pass
            return encode_items(value)

        def decode_f32(data: bytes) -> list[Any]:
            if len(data) % width:
                return decode_items(data)  # raises: a trailing partial item
            values = unpack(data)
            total = sum(values)
            if total != total:  # a NaN: decode item by item to keep its bits
                return decode_items(data)
            return values

        return Codec(encode_f32, decode_f32, wire)

    if fmt == "B":  # Vec<u8>: one byte per item

        def encode_u8(value: Any) -> bytes:
            items: list[Any] = value
            if type(items) is list and _count_of(map(type, items), int) == len(items):
                try:
                    return bytes(items)
                except ValueError:  # out of range: the item's error
                    pass
            return encode_items(value)

        return Codec(encode_u8, list, wire)

    item_type = float if item.kind == "float" else int

    def encode(value: Any) -> bytes:
        # All exact ints (floats): pack them at once; struct refuses one out of range.
        items: list[Any] = value
        if type(items) is list and _count_of(map(type, items), item_type) == len(items):
            try:
                if len(items) <= LIST_STRUCT_MAX:
                    return structs[len(items)].pack(*items)
                return pack_array(items)
            except (struct.error, OverflowError):  # out of range: the item's error
                pass
        return encode_items(value)

    def decode(data: bytes) -> list[Any]:
        if len(data) % width:
            return decode_items(data)  # raises: a trailing partial item
        return unpack(data)

    return Codec(encode, decode, wire)


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
                raise DeserializationError("varint exceeds 64 bits")
            return value, i + 1
    raise DeserializationError("truncated or overlong varint")


def _protobuf_codec(wire: Wire) -> Codec:
    cls = wire.cls
    assert cls is not None
    name = cls.__name__

    def encode(value: Any) -> bytes:
        if not isinstance(value, cls):
            raise SerializationError(f"expected a {name}, got {type(value).__name__}")
        body: bytes = value.SerializeToString()
        return _varint(len(body)) + body

    def decode(data: bytes) -> Any:
        data = bytes(data)
        try:
            size, pos = _read_varint(data)
        except CodecError as exc:
            raise DeserializationError(f"{name}: malformed length: {exc}") from exc
        if pos + size != len(data):
            raise DeserializationError(
                f"{name}: length {size} does not match the {len(data) - pos} bytes"
            )
        msg = cls()
        try:
            msg.ParseFromString(data[pos:])
        except Exception as exc:
            raise DeserializationError(f"{name}: malformed protobuf ({exc})") from exc
        return msg

    return Codec(encode, decode, wire)


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        mapping: dict[Any, Any] = typing.cast(Any, value)
        return any(_has_non_finite(v) for v in mapping.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        items: list[Any] = typing.cast(Any, value)
        return any(_has_non_finite(v) for v in items)
    return False


def _pydantic_codec(wire: Wire) -> Codec:
    cls = wire.cls
    assert cls is not None
    name = cls.__name__

    def encode(value: Any) -> bytes:
        if not isinstance(value, cls):
            raise SerializationError(f"expected a {name}, got {type(value).__name__}")
        if _has_non_finite(value.model_dump()):
            # pydantic would write null, which then fails to decode as a float: refuse now
            raise SerializationError(f"{name}: JSON cannot carry a NaN or infinite float")
        return bytes(value.model_dump_json().encode("utf-8"))

    def decode(data: bytes) -> Any:
        try:
            return cls.model_validate_json(bytes(data))
        except Exception as exc:  # pydantic.ValidationError, or bad JSON
            raise DeserializationError(f"{name}: {exc}".splitlines()[0]) from exc

    return Codec(encode, decode, wire)


def _user_codec(wire: Wire) -> Codec:
    cls = wire.cls
    assert cls is not None
    name = cls.__name__

    def encode(value: Any) -> bytes:
        if not isinstance(value, cls):
            raise SerializationError(f"expected a {name}, got {type(value).__name__}")
        out = value.into_bytes()
        if not isinstance(out, bytes):
            raise SerializationError(
                f"{name}.into_bytes() returned {type(out).__name__}, not bytes"
            )
        return out

    def decode(data: bytes) -> Any:
        try:
            return cls.from_bytes(bytes(data))
        except DeserializationError:
            raise
        except Exception as exc:
            raise DeserializationError(f"{name}.from_bytes failed: {exc!r}") from exc

    return Codec(encode, decode, wire)


_BUILDERS: dict[str, Callable[[Wire], Codec]] = {
    "int": _int_codec,
    "float": _float_codec,
    "f32": _float_codec,
    "list": _list_codec,
    "protobuf": _protobuf_codec,
    "pydantic": _pydantic_codec,
    "user": _user_codec,
}


@functools.cache
def codec_of(wire: Wire) -> Codec:
    """The codec of a wire (one per wire, shared)."""
    scalar = _SCALARS.get(wire.kind)
    if scalar is not None:
        return Codec(*scalar, wire)
    return _BUILDERS[wire.kind](wire)


def codec_for(tp: Any) -> Codec:
    """Return the codec of a field type.

    Raises:
        TypeError: the type has no wire encoding (with the reason).
    """
    return codec_of(wire_of(tp))


def to_bytes(value: Any, tp: Any) -> bytes:
    """Encode ``value`` as the Rust type that ``tp`` names (e.g. ``to_bytes(7, U32)``).

    Raises:
        SerializationError: the value does not fit the type.
        TypeError: the type has no wire encoding.
    """
    return codec_for(tp).encode(value)


def from_bytes(data: bytes, tp: Any) -> Any:
    """Decode ``data`` as the Rust type that ``tp`` names (e.g. ``from_bytes(b, U32)``).

    Raises:
        DeserializationError: the bytes are malformed for the type.
        TypeError: the type has no wire encoding.
    """
    return codec_for(tp).decode(data)
