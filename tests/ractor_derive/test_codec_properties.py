"""Property tests of the field codecs and of the decoders that the derive builds from them.

The golden vectors (test_vectors.py) pin the bytes for a few values; these properties cover
the whole value space of each type, the values each encoder must refuse, and the bytes each
decoder must refuse. Decoding is the attack surface: whatever bytes a peer sends, a codec
and a message family raise ``DeserializationError``, nothing else (encoders raise
``SerializationError``).
"""

from __future__ import annotations

import enum
import json
import math
import struct
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from ractor_core.transport import SerializedCall, SerializedCast
from ractor_derive import (
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
    DeserializationError,
    IntKind,
    Message,
    SerializationError,
    VariantInfo,
    cluster_message,
    codec_for,
    from_bytes,
    to_bytes,
)
from ractor_derive._message import general_decoder, general_encoder

from .samples import SAMPLES, Hey, Named, Point, Sample, Several, WithPoint

modest = settings(max_examples=200, deadline=None)
"""Each property: about 200 examples, no deadline (the suite runs on 2 slow cores)."""

brief = settings(max_examples=60, deadline=None)
# Long inputs: under load (CI on 2 cores) generating them can trip the too-slow health check.
few = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
"""For properties parametrized over many types: the parameters multiply the examples."""
# few: for properties whose examples are large (long lists).

VECTORS = Path(__file__).resolve().parent / "vectors" / "rust_codec_vectors.jsonl"
MESSAGES = [
    line for line in map(json.loads, VECTORS.read_text().splitlines()) if line["kind"] == "message"
]

INT_TYPES: dict[str, Any] = {
    "U8": U8,
    "U16": U16,
    "U32": U32,
    "U64": U64,
    "U128": U128,
    "I8": I8,
    "I16": I16,
    "I32": I32,
    "I64": I64,
    "I128": I128,
    "int": int,
}
FLOAT_TYPES: dict[str, Any] = {"F32": F32, "F64": F64, "float": float}
FIXED_TYPES: dict[str, Any] = {**INT_TYPES, **FLOAT_TYPES, "bool": bool, "Char": Char}
"""Every fixed-width type: the item types that a ``list[...]`` field can hold."""

scalar = st.characters(exclude_categories=["Cs"])
"""Any Unicode scalar value: every code point but the surrogates."""

text = st.text(alphabet=scalar)


def kind_of(tp: Any) -> IntKind:
    """The integer marker of an int type (``int`` is Rust's i64)."""
    if tp is int:
        return IntKind(64, True)
    kind = typing.get_args(tp)[1]
    assert isinstance(kind, IntKind)
    return kind


def width_of(name: str) -> int:
    """The wire width of a fixed-width type."""
    if name in INT_TYPES:
        return kind_of(INT_TYPES[name]).bits // 8
    return {"F32": 4, "F64": 8, "float": 8, "bool": 1, "Char": 4}[name]


def values_of(name: str) -> st.SearchStrategy[Any]:
    """Every value of a fixed-width type."""
    if name in INT_TYPES:
        kind = kind_of(INT_TYPES[name])
        return st.integers(kind.low, kind.high)
    if name == "F32":
        return st.floats(width=32)
    if name in ("F64", "float"):
        return st.floats()
    if name == "bool":
        return st.booleans()
    assert name == "Char"
    return scalar


def f64_bits(value: float) -> bytes:
    """The IEEE-754 bits of a Python float: compares -0.0, infinities and NaN payloads."""
    return struct.pack(">d", value)


def same(a: Any, b: Any) -> bool:
    """Equality, bitwise for floats."""
    if isinstance(a, float) and isinstance(b, float):
        return f64_bits(a) == f64_bits(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b) and type(a) is type(b)


def varint(value: int) -> bytes:
    """Protobuf base-128 varint, written independently of the codec under test."""
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if not value:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


def be64(n: int) -> bytes:
    return n.to_bytes(8, "big")


# ------------------------------------------------------------------ types defined here


class Reading(BaseModel):
    """A pydantic model as a field type (encoded as JSON)."""

    sensor: str
    value: int
    tags: list[str]


class Pair:
    """A user type with its own ``into_bytes`` / ``from_bytes`` (a u16 and an i16)."""

    __slots__ = ("left", "right")

    def __init__(self, left: int, right: int) -> None:
        self.left = left
        self.right = right

    def into_bytes(self) -> bytes:
        return struct.pack(">Hh", self.left, self.right)

    @classmethod
    def from_bytes(cls, data: bytes) -> Pair:
        left, right = struct.unpack(">Hh", data)  # struct.error on a wrong length
        return cls(left, right)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pair) and (self.left, self.right) == (other.left, other.right)

    def __hash__(self) -> int:
        return hash((self.left, self.right))


class BadPair(Pair):
    """A user type whose ``into_bytes`` breaks its contract."""

    def into_bytes(self) -> bytes:
        return [self.left, self.right]  # type: ignore[return-value]


readings = st.builds(
    Reading,
    sensor=text,
    value=st.integers(-(2**63), 2**63 - 1),
    tags=st.lists(text, max_size=4),
)
pairs = st.builds(Pair, st.integers(0, 2**16 - 1), st.integers(-(2**15), 2**15 - 1))
points = st.builds(Point, x=st.integers(-(2**31), 2**31 - 1), label=text)


@cluster_message
class Guarded(Message):
    """A family whose variant validates its fields in ``__post_init__``."""


class Positive(Guarded):
    n: I32

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError(f"n must not be negative, got {self.n}")


# ------------------------------------------------------------------ round trips


@pytest.mark.parametrize("name", list(INT_TYPES))
@brief
@given(data=st.data())
def test_every_integer_round_trips_at_its_fixed_width_big_endian(name: str, data: Any) -> None:
    tp = INT_TYPES[name]
    kind = kind_of(tp)
    value = data.draw(st.integers(kind.low, kind.high), label="value")
    encoded = to_bytes(value, tp)
    assert encoded == value.to_bytes(kind.bits // 8, "big", signed=kind.signed)
    decoded = from_bytes(encoded, tp)
    assert type(decoded) is int and decoded == value


@pytest.mark.parametrize("name", list(INT_TYPES))
def test_integer_bounds_round_trip(name: str) -> None:
    kind = kind_of(INT_TYPES[name])
    for value in (kind.low, kind.high, 0):
        assert from_bytes(to_bytes(value, INT_TYPES[name]), INT_TYPES[name]) == value


def test_a_plain_int_field_is_rust_i64() -> None:
    assert codec_for(int).rust == "i64"
    assert to_bytes(-2, int) == to_bytes(-2, I64) == bytes.fromhex("fffffffffffffffe")


@modest
@given(value=st.floats(width=32))
@example(value=-0.0)
@example(value=math.inf)
@example(value=-math.inf)
@example(value=math.nan)
@example(value=1.401298464324817e-45)  # the smallest subnormal f32
@example(value=3.4028234663852886e38)  # f32::MAX
def test_an_f32_value_round_trips_bit_for_bit(value: float) -> None:
    encoded = to_bytes(value, F32)
    assert len(encoded) == 4
    assert encoded == struct.pack(">f", value)
    assert f64_bits(from_bytes(encoded, F32)) == f64_bits(value)


@modest
@given(data=st.binary(min_size=4, max_size=4))
@example(data=bytes.fromhex("7fc00001"))  # a quiet NaN with a payload
@example(data=bytes.fromhex("7f800001"))  # a signaling NaN
@example(data=bytes.fromhex("80000000"))
def test_four_bytes_decode_as_f32_and_encode_back_unchanged(data: bytes) -> None:
    assert to_bytes(from_bytes(data, F32), F32) == data


@pytest.mark.parametrize("hexed", ["7f800001", "ffbfffff", "7fa00000"])
def test_an_f32_signaling_nan_keeps_its_bits(hexed: str) -> None:
    data = bytes.fromhex(hexed)
    assert to_bytes(from_bytes(data, F32), F32) == data


@pytest.mark.parametrize("tp", [F64, float], ids=["F64", "float"])
@modest
@given(value=st.floats())
@example(value=-0.0)
@example(value=math.nan)
@example(value=-math.inf)
def test_an_f64_value_round_trips_bit_for_bit(tp: Any, value: float) -> None:
    encoded = to_bytes(value, tp)
    assert encoded == struct.pack(">d", value)
    assert f64_bits(from_bytes(encoded, tp)) == f64_bits(value)


@modest
@given(data=st.binary(min_size=8, max_size=8))
@example(data=bytes.fromhex("7ff0000000000001"))  # a signaling NaN
def test_eight_bytes_decode_as_f64_and_encode_back_unchanged(data: bytes) -> None:
    assert to_bytes(from_bytes(data, F64), F64) == data


def test_ints_are_accepted_by_float_fields() -> None:
    assert to_bytes(3, F64) == to_bytes(3.0, F64)
    assert to_bytes(-3, F32) == to_bytes(-3.0, F32)


def test_a_bool_round_trips_as_one_byte() -> None:
    assert to_bytes(True, bool) == b"\x01"
    assert to_bytes(False, bool) == b"\x00"
    assert from_bytes(b"\x01", bool) is True
    assert from_bytes(b"\x00", bool) is False


@modest
@given(ch=scalar)
@example(ch="\x00")
@example(ch="\U0010ffff")
@example(ch="\ud7ff")
@example(ch="\ue000")
def test_any_unicode_scalar_round_trips_as_a_char(ch: str) -> None:
    encoded = to_bytes(ch, Char)
    assert encoded == ord(ch).to_bytes(4, "big")
    assert from_bytes(encoded, Char) == ch


@modest
@given(value=text)
def test_any_text_round_trips_as_raw_utf8(value: str) -> None:
    encoded = to_bytes(value, str)
    assert encoded == value.encode("utf-8")
    assert from_bytes(encoded, str) == value


@modest
@given(value=st.binary())
def test_any_bytes_round_trip_unchanged(value: bytes) -> None:
    assert to_bytes(value, bytes) == value
    assert to_bytes(bytearray(value), bytes) == value
    assert from_bytes(value, bytes) == value
    assert type(from_bytes(value, bytes)) is bytes


def test_none_is_the_empty_unit() -> None:
    assert to_bytes(None, None) == b""
    assert from_bytes(b"", None) is None
    assert to_bytes(None, type(None)) == b""


@pytest.mark.parametrize("item", list(FIXED_TYPES))
@brief
@given(data=st.data())
def test_a_list_of_fixed_width_items_round_trips_without_a_count(item: str, data: Any) -> None:
    tp = list[FIXED_TYPES[item]]  # type: ignore[valid-type]
    value = data.draw(st.lists(values_of(item), max_size=20), label="value")
    encoded = to_bytes(value, tp)
    assert len(encoded) == width_of(item) * len(value)
    assert encoded == b"".join(to_bytes(v, FIXED_TYPES[item]) for v in value)
    assert same(from_bytes(encoded, tp), value)


@pytest.mark.parametrize("item", list(FIXED_TYPES))
@few
@given(data=st.data())
def test_a_long_list_round_trips_as_a_short_one_does(item: str, data: Any) -> None:
    # more items than the cached structs take: the array path (or item by item)
    tp = list[FIXED_TYPES[item]]  # type: ignore[valid-type]
    # A long list is drawn as a short one repeated to the length: drawing 257+ items would make
    # hypothesis reject examples that outgrow its buffer (filter_too_much, data_too_large).
    short = data.draw(st.lists(values_of(item), min_size=1, max_size=16), label="items")
    length = data.draw(st.integers(257, 300), label="length")
    value = (short * (length // len(short) + 1))[:length]
    encoded = to_bytes(value, tp)
    assert encoded == b"".join(to_bytes(v, FIXED_TYPES[item]) for v in value)
    assert same(from_bytes(encoded, tp), value)


@pytest.mark.parametrize("size", [1, 8, 256, 257, 300])
@pytest.mark.parametrize("hexed", ["7f800001", "ffbfffff", "7fc00001", "7f800000"])
def test_an_f32_list_keeps_the_bits_of_nans_and_infinities(size: int, hexed: str) -> None:
    data = bytes.fromhex("3f800000") * (size - 1) + bytes.fromhex(hexed)
    assert to_bytes(from_bytes(data, list[F32]), list[F32]) == data


@pytest.mark.parametrize("size", [1, 8, 256, 257, 300])
@pytest.mark.parametrize("name", [n for n in INT_TYPES if n != "int"])
def test_a_list_refuses_an_item_out_of_range_at_any_length(size: int, name: str) -> None:
    kind = kind_of(INT_TYPES[name])
    tp = list[INT_TYPES[name]]  # type: ignore[valid-type]
    for bad in (kind.high + 1, kind.low - 1):
        with pytest.raises(SerializationError, match="out of range"):
            to_bytes([0] * (size - 1) + [bad], tp)
    for wrong in (True, 1.0):
        with pytest.raises(SerializationError):
            to_bytes([0] * (size - 1) + [wrong], tp)


@pytest.mark.parametrize("size", [1, 8, 256, 257, 300])
@pytest.mark.parametrize("name", ["F32", "F64"])
def test_a_float_list_refuses_a_bad_item_at_any_length(size: int, name: str) -> None:
    tp = list[FLOAT_TYPES[name]]  # type: ignore[valid-type]
    bad_items = [True, "1.0", 2**1024] + ([1e39, -1e39] if name == "F32" else [])
    for bad in bad_items:
        with pytest.raises(SerializationError):
            to_bytes([0.5] * (size - 1) + [bad], tp)
    assert to_bytes([0.5] * (size - 1) + [1], tp) == to_bytes([0.5] * (size - 1) + [1.0], tp)


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 0x0102


def test_int_subclasses_other_than_bool_are_ints() -> None:
    assert to_bytes(Level.HIGH, U16) == b"\x01\x02"
    assert to_bytes([Level.LOW, 3], list[U16]) == b"\x00\x01\x00\x03"
    assert to_bytes([Level.LOW], list[U8]) == b"\x01"
    assert Several(a=Level.LOW, b=Level.HIGH, c=True, d=[Level.LOW]).serialize() == (
        Several(a=1, b=0x0102, c=True, d=[1]).serialize()
    )


@modest
@given(point=points)
@example(point=Point())
def test_a_protobuf_message_round_trips_length_delimited(point: Any) -> None:
    body = point.SerializeToString()
    encoded = to_bytes(point, Point)
    assert encoded == varint(len(body)) + body
    assert from_bytes(encoded, Point) == point


@modest
@given(reading=readings)
def test_a_pydantic_model_round_trips_as_json(reading: Reading) -> None:
    encoded = to_bytes(reading, Reading)
    assert encoded == reading.model_dump_json().encode("utf-8")
    assert from_bytes(encoded, Reading) == reading


@modest
@given(pair=pairs)
def test_a_user_class_round_trips_through_its_own_methods(pair: Pair) -> None:
    encoded = to_bytes(pair, Pair)
    assert encoded == pair.into_bytes()
    assert from_bytes(encoded, Pair) == pair


@modest
@given(
    sample=st.one_of(
        st.builds(lambda t: Hey(text=t), text),
        st.builds(
            lambda a, b, c, d: Several(a=a, b=b, c=c, d=d),
            st.integers(0, 255),
            st.integers(-(2**63), 2**63 - 1),
            st.booleans(),
            st.lists(st.integers(0, 2**16 - 1), max_size=8),
        ),
        st.builds(
            lambda i, ch, r: Named(id=i, ch=ch, ratio=r),
            st.integers(0, 2**128 - 1),
            scalar,
            st.floats(width=32, allow_nan=False),
        ),
        st.builds(lambda p: WithPoint(point=p), points),
    )
)
def test_a_cast_variant_round_trips_through_serialize_and_deserialize(sample: Sample) -> None:
    message = sample.serialize()
    assert isinstance(message, SerializedCast)
    assert Sample.deserialize(message) == sample


# ------------------------------------------------------------------ what encoders refuse


@pytest.mark.parametrize("name", list(INT_TYPES))
@brief
@given(data=st.data())
def test_an_integer_out_of_range_is_refused_when_encoding(name: str, data: Any) -> None:
    tp = INT_TYPES[name]
    kind = kind_of(tp)
    value = data.draw(
        st.one_of(st.integers(max_value=kind.low - 1), st.integers(min_value=kind.high + 1)),
        label="value",
    )
    with pytest.raises(SerializationError, match="out of range"):
        to_bytes(value, tp)


@pytest.mark.parametrize(
    ("value", "tp"),
    [
        (256, U8),
        (-1, U8),
        (-1, U64),
        (2**64, U64),
        (2**127, I128),
        (-(2**127) - 1, I128),
        (2**128, U128),
        (-1, U128),
        (128, I8),
        (2**63, int),
    ],
)
def test_the_first_value_past_each_bound_is_refused(value: int, tp: Any) -> None:
    with pytest.raises(SerializationError):
        to_bytes(value, tp)


@pytest.mark.parametrize("name", list(INT_TYPES))
@pytest.mark.parametrize("value", [True, False, 1.0, 0.0, "1", None, b"\x01"])
def test_an_integer_field_refuses_bools_floats_and_other_types(name: str, value: Any) -> None:
    with pytest.raises(SerializationError):
        to_bytes(value, INT_TYPES[name])


@pytest.mark.parametrize("name", list(FLOAT_TYPES))
@pytest.mark.parametrize("value", [True, False, "1.0", None])
def test_a_float_field_refuses_bools_and_other_types(name: str, value: Any) -> None:
    with pytest.raises(SerializationError):
        to_bytes(value, FLOAT_TYPES[name])


@pytest.mark.parametrize("name", list(FLOAT_TYPES))
def test_a_float_field_refuses_an_int_too_large_for_a_double(name: str) -> None:
    with pytest.raises(SerializationError):
        to_bytes(2**1024, FLOAT_TYPES[name])


def test_an_f32_field_refuses_a_finite_double_beyond_f32_range() -> None:
    with pytest.raises(SerializationError):
        to_bytes(1e39, F32)


@pytest.mark.parametrize("value", [1, 0, None, b"\x01", "true"])
def test_a_bool_field_refuses_everything_but_bools(value: Any) -> None:
    with pytest.raises(SerializationError):
        to_bytes(value, bool)


@modest
@given(value=st.text(alphabet=scalar).filter(lambda s: len(s) != 1))
@example(value="")
@example(value="ab")
def test_a_char_field_refuses_a_str_that_is_not_one_character(value: str) -> None:
    with pytest.raises(SerializationError):
        to_bytes(value, Char)


@modest
@given(code=st.integers(0xD800, 0xDFFF))
def test_a_surrogate_is_refused_as_a_char_and_inside_a_str(code: int) -> None:
    with pytest.raises(SerializationError):
        to_bytes(chr(code), Char)
    with pytest.raises(SerializationError):
        to_bytes(f"a{chr(code)}b", str)
    with pytest.raises(SerializationError):
        to_bytes(["a", chr(code)], list[Char])


@pytest.mark.parametrize(
    ("value", "tp"),
    [
        (7, Char),
        ("x", bytes),
        (b"x", str),
        ((1, 2), list[U16]),
        (b"\x01", list[U16]),
        (Pair(1, 2), Point),
        (Point(), Reading),
        (Point(), Pair),
        (0, None),
    ],
)
def test_a_value_of_another_type_is_refused(value: Any, tp: Any) -> None:
    with pytest.raises(SerializationError):
        to_bytes(value, tp)


@pytest.mark.parametrize("item", list(FIXED_TYPES))
def test_a_list_with_one_bad_item_is_refused(item: str) -> None:
    tp = list[FIXED_TYPES[item]]  # type: ignore[valid-type]
    good = 0 if item in INT_TYPES else 0.0 if item in FLOAT_TYPES else {"bool": True}.get(item, "a")
    with pytest.raises(SerializationError):
        to_bytes([good, "not an item"], tp)


@pytest.mark.parametrize("item", [n for n in INT_TYPES if n != "U8"])
def test_a_list_of_integers_refuses_a_bool_item(item: str) -> None:
    with pytest.raises(SerializationError):
        to_bytes([1, True], list[INT_TYPES[item]])  # type: ignore[valid-type]


def test_a_list_of_u8_refuses_a_bool_item() -> None:
    with pytest.raises(SerializationError):
        to_bytes([1, True], list[U8])


@pytest.mark.parametrize("value", [[256], [-1], [1.0], ["a"]])
def test_a_list_of_u8_refuses_items_that_are_not_bytes(value: list[Any]) -> None:
    with pytest.raises(SerializationError):
        to_bytes(value, list[U8])


def test_a_user_class_whose_into_bytes_returns_no_bytes_is_refused() -> None:
    with pytest.raises(SerializationError, match="into_bytes"):
        to_bytes(BadPair(1, 2), BadPair)


# ------------------------------------------------------------------ what decoders refuse


@pytest.mark.parametrize("name", list(FIXED_TYPES))
@brief
@given(data=st.data())
def test_a_fixed_width_decoder_refuses_any_other_length(name: str, data: Any) -> None:
    width = width_of(name)
    raw = data.draw(st.binary(max_size=40).filter(lambda b: len(b) != width), label="raw")
    with pytest.raises(DeserializationError):
        from_bytes(raw, FIXED_TYPES[name])


@pytest.mark.parametrize("byte", [b for b in range(256) if b > 1])
def test_a_bool_byte_other_than_00_or_01_is_refused(byte: int) -> None:
    with pytest.raises(DeserializationError):
        from_bytes(bytes([byte]), bool)
    with pytest.raises(DeserializationError):
        from_bytes(bytes([1, byte, 0]), list[bool])


def _invalid_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@modest
@given(raw=st.binary(min_size=1).filter(_invalid_utf8))
@example(raw=b"\xed\xa0\x80")  # an encoded surrogate
@example(raw=b"\xc0\xaf")  # an overlong "/"
@example(raw=b"\xf4\x90\x80\x80")  # past U+10FFFF
@example(raw=b"ok\xe2\x82")  # a truncated sequence
def test_invalid_utf8_is_refused_as_a_str(raw: bytes) -> None:
    with pytest.raises(DeserializationError):
        from_bytes(raw, str)


@modest
@given(code=st.one_of(st.integers(0xD800, 0xDFFF), st.integers(0x110000, 2**32 - 1)))
@example(code=0x110000)
@example(code=2**32 - 1)
def test_a_char_that_is_no_unicode_scalar_is_refused(code: int) -> None:
    raw = code.to_bytes(4, "big")
    with pytest.raises(DeserializationError):
        from_bytes(raw, Char)
    with pytest.raises(DeserializationError):
        from_bytes(b"\x00\x00\x00a" + raw, list[Char])


@pytest.mark.parametrize("item", [n for n in FIXED_TYPES if width_of(n) > 1])
@brief
@given(data=st.data())
def test_a_trailing_partial_list_item_is_refused(item: str, data: Any) -> None:
    width = width_of(item)
    raw = data.draw(st.binary(max_size=64).filter(lambda b: len(b) % width), label="raw")
    with pytest.raises(DeserializationError):
        from_bytes(raw, list[FIXED_TYPES[item]])  # type: ignore[valid-type]


def test_unit_refuses_any_byte() -> None:
    with pytest.raises(DeserializationError):
        from_bytes(b"\x00", None)


@modest
@given(point=points, data=st.data())
def test_a_protobuf_whose_varint_length_is_wrong_is_refused(point: Any, data: Any) -> None:
    body = point.SerializeToString()
    wrong = data.draw(st.integers(0, 2**64 - 1).filter(lambda n: n != len(body)), label="len")
    with pytest.raises(DeserializationError):
        from_bytes(varint(wrong) + body, Point)


@pytest.mark.parametrize(
    "raw",
    [
        b"",  # no length at all
        b"\x80",  # a truncated varint
        b"\xff" * 10 + b"\x01",  # a varint longer than 10 bytes
        b"\xff" * 9 + b"\x7f",  # a 10-byte varint past 2**64
        b"\x04\x12\x02\xff\xfe",  # a string field with invalid UTF-8
        b"\x02\x0a\x01",  # field 1 with the wrong wire type
        b"\x01\x08",  # a truncated field value
        varint(3) + b"\x08\x01",  # the body is shorter than the length
        varint(2) + b"\x08\x01\x00",  # bytes after the message
    ],
)
def test_a_malformed_protobuf_is_refused(raw: bytes) -> None:
    with pytest.raises(DeserializationError):
        from_bytes(raw, Point)


@modest
@given(raw=st.binary(max_size=64))
@example(raw=b"{}")
@example(raw=b'{"sensor": "s", "value": 1.5, "tags": []}')
@example(raw=b"[" * 5000)
def test_a_pydantic_decoder_raises_only_codec_errors(raw: bytes) -> None:
    try:
        value = from_bytes(raw, Reading)
    except DeserializationError:
        return
    assert isinstance(value, Reading)


@modest
@given(raw=st.binary(max_size=8))
def test_a_user_decoder_failure_becomes_a_codec_error(raw: bytes) -> None:
    if len(raw) == 4:
        assert isinstance(from_bytes(raw, Pair), Pair)
    else:
        with pytest.raises(DeserializationError, match=r"Pair\.from_bytes"):
            from_bytes(raw, Pair)


ALL_TYPES: dict[str, Any] = {
    **FIXED_TYPES,
    **{f"list[{n}]": list[tp] for n, tp in FIXED_TYPES.items()},  # type: ignore[valid-type]
    "str": str,
    "bytes": bytes,
    "None": None,
    "Point": Point,
    "Reading": Reading,
    "Pair": Pair,
}


@modest
@given(name=st.sampled_from(sorted(ALL_TYPES)), raw=st.binary(max_size=48))
def test_every_decoder_returns_a_value_or_raises_a_codec_error(name: str, raw: bytes) -> None:
    tp = ALL_TYPES[name]
    try:
        value = from_bytes(raw, tp)
    except DeserializationError:
        return
    # whatever decodes is canonical for the strict decoders: it encodes back to itself
    again = to_bytes(value, tp)
    if name == "Point":
        assert from_bytes(again, tp) == value
    elif name != "Reading":
        assert again == raw


# ------------------------------------------------------------------ fuzzing the Sample family

_OK = object()
"""The reference decoder's answer for bytes that form a valid message."""


def _expected_failure(info: VariantInfo, args: bytes) -> object:
    """Which field a correct decoder blames for ``args``: a name, None (trailing bytes), _OK.

    A reference model of PROTOCOL.md section 6.2, written apart from the derived decoder: each
    field is be64 length + bytes, read in order; after the last one, nothing may remain.
    """
    pos = 0
    for field in info.fields:
        assert field.codec is not None
        if len(args) - pos < 8:
            return field.name
        length = int.from_bytes(args[pos : pos + 8], "big")
        pos += 8
        if length > len(args) - pos:
            return field.name
        try:
            field.codec.decode(args[pos : pos + length])
        except DeserializationError:
            return field.name
        pos += length
    return _OK if pos == len(args) else None


def _decode(info: VariantInfo, args: bytes) -> Any:
    """Decode as a receiving node does: a cast through the family, a call's arguments."""
    if info.is_call:
        assert info.decode_args is not None
        return info.decode_args(args)
    return Sample.deserialize(SerializedCast(info.tag, args))


def _check_decoding(info: VariantInfo, args: bytes) -> None:
    expected = _expected_failure(info, args)
    try:
        decoded = _decode(info, args)
    except DeserializationError as exc:
        assert exc.variant == info.tag
        assert expected is not _OK, f"valid arguments were refused: {exc}"
        assert exc.field == expected, str(exc)
        if exc.field is not None:
            assert exc.field in str(exc)
        return
    assert expected is _OK
    assert type(decoded) is info.cls
    assert info.encode_args is not None and info.decode_args is not None
    encoded = info.encode_args(decoded)
    assert info.encode_args(info.decode_args(encoded)) == encoded
    if info.cls.__name__ != "WithPoint":  # a protobuf message has more than one encoding
        assert encoded == args  # the strict codecs accept only the canonical encoding


def _info(name: str) -> VariantInfo:
    info = type(SAMPLES[name]).__ractor_variant__
    assert info is not None
    return info


@st.composite
def _mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """``base`` with a few bytes flipped, inserted or deleted, or cut short."""
    data = bytearray(base)
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if op == "flip" and data:
            at = draw(st.integers(0, len(data) - 1))
            data[at] ^= draw(st.integers(1, 255))
        elif op == "insert":
            data.insert(draw(st.integers(0, len(data))), draw(st.integers(0, 255)))
        elif op == "delete" and data:
            del data[draw(st.integers(0, len(data) - 1))]
        elif op == "truncate":
            del data[draw(st.integers(0, len(data))) :]
    return bytes(data)


mutations = st.sampled_from(MESSAGES).flatmap(
    lambda v: st.tuples(st.just(v["name"]), _mutated(bytes.fromhex(v["args"])))
)


@st.composite
def _framed(draw: st.DrawFn, name: str) -> bytes:
    """Well-framed arguments of random field bytes: the field codecs decide."""
    info = _info(name)
    parts = []
    for field in info.fields:
        assert field.codec is not None
        width = field.codec.fixed_width
        size = st.integers(0, 24) if width is None else st.sampled_from([width, width, 0, 1, 17])
        raw = draw(st.binary(min_size=(n := draw(size)), max_size=n))
        parts.append(be64(len(raw)) + raw)
    return b"".join(parts)


framed = st.sampled_from(sorted(SAMPLES)).flatmap(lambda n: st.tuples(st.just(n), _framed(n)))


def test_the_vectors_hold_a_message_for_every_sample_variant() -> None:
    assert {v["name"] for v in MESSAGES} == set(SAMPLES)


@modest
@given(case=mutations)
def test_mutated_rust_arguments_decode_or_raise_deserialization_error(
    case: tuple[str, bytes],
) -> None:
    name, args = case
    _check_decoding(_info(name), args)


@modest
@given(name=st.sampled_from(sorted(SAMPLES)), args=st.binary(max_size=64))
def test_random_arguments_decode_or_raise_deserialization_error(name: str, args: bytes) -> None:
    _check_decoding(_info(name), args)


@modest
@given(case=framed)
def test_well_framed_random_fields_decode_or_name_the_bad_field(case: tuple[str, bytes]) -> None:
    name, args = case
    _check_decoding(_info(name), args)


def _outcome(fn: Any, arg: Any) -> tuple[Any, ...]:
    """What ``fn(arg)`` gives: its result, or its error's type, message, variant and field."""
    try:
        result = fn(arg)
    except (DeserializationError, SerializationError) as exc:
        return (type(exc), str(exc), exc.variant, exc.field)
    return ("ok", type(result), result if isinstance(result, bytes) else repr(result))


any_arguments = st.one_of(
    mutations,
    framed,
    st.tuples(st.sampled_from(sorted(SAMPLES)), st.binary(max_size=64)),
)


@modest
@given(case=any_arguments)
def test_the_generated_decoder_decodes_and_fails_as_the_general_one(
    case: tuple[str, bytes],
) -> None:
    name, args = case
    info = _info(name)
    assert _outcome(info.decode_args, args) == _outcome(general_decoder(info), args)
    # and the same for arguments that are not bytes (the generated code takes bytes only)
    assert _outcome(info.decode_args, bytearray(args)) == _outcome(
        general_decoder(info), bytearray(args)
    )


JUNK = [
    None,
    True,
    False,
    0,
    -1,
    2**70,
    2**1024,
    1.5,
    math.nan,
    -math.inf,
    1e39,
    "",
    "a",
    "\ud800",
    b"",
    b"\x01",
    bytearray(b"\x02"),
    [],
    [1, True],
    [1.0],
    [0, 2**40],
    Level.LOW,
]


@st.composite
def _odd_messages(draw: st.DrawFn) -> Sample:
    """A sample variant whose fields hold valid values, or values of other types."""
    sample = SAMPLES[draw(st.sampled_from(sorted(SAMPLES)))]
    info = type(sample).__ractor_variant__
    assert info is not None
    values = {f.name: draw(st.sampled_from([getattr(sample, f.name), *JUNK])) for f in info.fields}
    # past __init__, which refuses most of these values: the encoders must refuse them too
    odd: Sample = object.__new__(type(sample))
    odd.__dict__.update(values)
    return odd


@modest
@given(message=_odd_messages())
def test_the_generated_encoder_encodes_and_fails_as_the_general_one(message: Sample) -> None:
    info = type(message).__ractor_variant__
    assert info is not None and info.encode_args is not None
    general = general_encoder(info)
    expected = _outcome(general, message)
    assert _outcome(info.encode_args, message) == expected
    if not info.is_call:
        serialized = _outcome(type(message).serialize, message)
        if expected[0] == "ok":
            assert serialized == _outcome(lambda m: SerializedCast(info.tag, general(m)), message)
        else:
            assert serialized == expected


@pytest.mark.parametrize(
    ("name", "args", "field"),
    [
        ("Hey", b"", "text"),  # no length
        ("Hey", be64(1)[:5], "text"),  # a short length
        ("Hey", be64(4) + b"abc", "text"),  # runs past the end
        ("Hey", be64(1) + b"\xff", "text"),  # invalid UTF-8
        ("Hey", be64(1) + b"a" + b"\x00", None),  # trailing bytes
        ("Unit", b"\x00", None),
        ("Several", be64(1) + b"\x07" + be64(8) + bytes(8) + be64(1) + b"\x02", "c"),
        ("Several", be64(2) + b"\x00\x07", "a"),  # a u8 field given 2 bytes
        ("Named", be64(16) + bytes(16) + be64(4) + bytes.fromhex("0000d800"), "ch"),
        ("WithPoint", be64(2) + b"\x05\x08", "point"),
        ("Describe", be64(4) + bytes(4) + be64(4) + bytes.fromhex("00110000"), "ch"),
        ("PortFirst", be64(0) + be64(3) + b"\x00\x00\x01", "b"),
    ],
)
def test_a_deserialization_error_names_the_variant_and_the_field(
    name: str, args: bytes, field: str | None
) -> None:
    info = _info(name)
    with pytest.raises(DeserializationError) as caught:
        _decode(info, args)
    assert caught.value.variant == info.tag
    assert caught.value.field == field
    if field is not None:
        assert f"{name}.{field}" in str(caught.value)


@modest
@given(variant=text.filter(lambda s: s not in SAMPLES), args=st.binary(max_size=16))
@example(variant="", args=b"")
@example(variant="hey", args=b"")  # tags are case-sensitive
@example(variant="Sample::Hey", args=b"")
def test_an_unknown_cast_variant_is_refused_by_name(variant: str, args: bytes) -> None:
    with pytest.raises(DeserializationError, match="unknown variant") as caught:
        Sample.deserialize(SerializedCast(variant, args))
    assert caught.value.variant == variant
    assert caught.value.field is None
    assert repr(variant) in str(caught.value)


def test_an_unknown_call_variant_is_refused_by_name() -> None:
    @modest
    @given(variant=text.filter(lambda s: s not in SAMPLES))
    @example(variant="isDone")
    def check(variant: str) -> None:
        with pytest.raises(DeserializationError, match="unknown variant") as caught:
            Sample.deserialize(SerializedCall(variant, b""))
        assert caught.value.variant == variant
        assert repr(variant) in str(caught.value)

    check()


@pytest.mark.parametrize("name", [n for n in SAMPLES if not _info(n).is_call])
def test_a_cast_variant_sent_as_a_call_is_refused(name: str) -> None:
    valid = SAMPLES[name].serialize().args
    with pytest.raises(DeserializationError, match="not a call") as caught:
        Sample.deserialize(SerializedCall(name, valid))
    assert caught.value.variant == name


@pytest.mark.parametrize("name", [n for n in SAMPLES if _info(n).is_call])
def test_a_call_variant_sent_as_a_cast_is_refused(name: str) -> None:
    info = _info(name)
    assert info.encode_args is not None
    valid = info.encode_args(SAMPLES[name])
    with pytest.raises(DeserializationError, match="not a cast") as caught:
        Sample.deserialize(SerializedCast(name, valid))
    assert caught.value.variant == name


@pytest.mark.parametrize("name", [n for n in SAMPLES if _info(n).is_call])
def test_a_call_variant_decodes_from_a_serialized_call_and_codes_its_reply(
    name: str,
) -> None:
    info = _info(name)
    assert info.encode_args is not None and info.reply_codec is not None
    decoded = Sample.deserialize(SerializedCall(name, info.encode_args(SAMPLES[name])))
    assert decoded == SAMPLES[name]
    reply = {"IsDone": True, "PortFirst": [-1, 2], "Lookup": 5, "Describe": "ok"}[name]
    encoded = decoded.encode_reply(reply)
    assert encoded == info.reply_codec.encode(reply)
    assert decoded.decode_reply(encoded) == reply


def test_a_variant_that_validates_in_post_init_decodes_valid_arguments() -> None:
    message = SerializedCast("Positive", be64(4) + (5).to_bytes(4, "big"))
    assert Guarded.deserialize(message) == Positive(n=5)


def test_a_variant_refusing_its_values_in_post_init_gives_a_deserialization_error() -> None:
    message = SerializedCast("Positive", be64(4) + (-1).to_bytes(4, "big", signed=True))
    with pytest.raises(DeserializationError) as caught:
        Guarded.deserialize(message)
    assert caught.value.variant == "Positive"


def test_a_pydantic_model_with_a_non_finite_float_is_refused_when_encoded() -> None:
    import pydantic

    class Reading(pydantic.BaseModel):
        value: float

    with pytest.raises(SerializationError, match="NaN or infinite"):
        to_bytes(Reading(value=float("nan")), Reading)
    assert from_bytes(to_bytes(Reading(value=1.5), Reading), Reading) == Reading(value=1.5)
