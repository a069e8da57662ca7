"""The wire plan: one description of the bytes that the codecs, the compiled and generated
codecs, ``args_codec`` and the mypy plugin all read; visible fast paths; checked construction;
one error tree."""

from __future__ import annotations

import dataclasses
import enum
import inspect
import math
import struct
import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel

from ractor_core import RactorError
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
    CodecError,
    DeserializationError,
    GenError,
    Message,
    MessageDeclarationError,
    SerializationError,
    args_codec,
    cluster_message,
    fallback_of,
    from_bytes,
    to_bytes,
    wire_of,
)
from ractor_derive import mypy as plugin
from ractor_derive._message import general_decoder, general_encoder
from ractor_derive._plan import LIST_ITEM_TYPES, SCALAR_TYPES

from .samples import Point


class Reading(BaseModel):
    sensor: str
    value: int


class Pair:
    """A user type with its own ``into_bytes`` / ``from_bytes``."""

    def __init__(self, left: int) -> None:
        self.left = left

    def into_bytes(self) -> bytes:
        return struct.pack(">H", self.left)

    @classmethod
    def from_bytes(cls, data: bytes) -> Pair:
        return cls(struct.unpack(">H", data)[0])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pair) and self.left == other.left

    def __hash__(self) -> int:
        return self.left


FIXED: dict[str, tuple[Any, Any]] = {
    "U8": (U8, 255),
    "U16": (U16, 65535),
    "U32": (U32, 2**32 - 1),
    "U64": (U64, 2**64 - 1),
    "U128": (U128, 2**128 - 1),
    "I8": (I8, -128),
    "I16": (I16, -(2**15)),
    "I32": (I32, -(2**31)),
    "I64": (I64, -(2**63)),
    "I128": (I128, -(2**127)),
    "int": (int, 2**63 - 1),
    "F32": (F32, 0.5),
    "F64": (F64, -0.0),
    "float": (float, 1e300),
    "bool": (bool, True),
    "Char": (Char, "é"),
}
SUPPORTED: dict[str, tuple[Any, Any]] = {
    **FIXED,
    **{f"list[{name}]": (list[tp], [v, v]) for name, (tp, v) in FIXED.items()},  # type: ignore[valid-type]
    "list[U16] long": (list[U16], list(range(300))),
    "list[F64] long": (list[F64], [0.5] * 300),
    "str": (str, "héllo"),
    "bytes": (bytes, b"\x00\xff"),
    "None": (None, None),
    "protobuf": (Point, Point(x=3, label="p")),
    "pydantic": (Reading, Reading(sensor="s", value=1)),
    "user": (Pair, Pair(7)),
}


@cluster_message
class Probe(Message):
    """Variants declared by the tests below, one per supported field type."""


def _variant(name: str, fields: dict[str, Any], call: bool = False) -> type[Any]:
    bases: tuple[type, ...] = (Probe,)
    if call:
        from ractor_core import Call

        bases = (Probe, Call[bool])
    def body(ns: dict[str, Any]) -> None:
        ns.update(__annotations__=fields, __module__=__name__)

    return types.new_class(name, bases, exec_body=body)


def _ident(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)


VARIANTS: dict[str, type[Any]] = {}
for _name, (_tp, _value) in SUPPORTED.items():
    # alone, between two variable-length fields, and in a long stretch of fixed-width ones
    VARIANTS[_name] = _variant(f"Only_{_ident(_name)}", {"x": _tp})
    VARIANTS[f"{_name} mixed"] = _variant(
        f"Mixed_{_ident(_name)}", {"a": str, "x": _tp, "b": U32, "c": bool, "d": U8, "e": bytes}
    )


def _sample(name: str) -> Any:
    base = name.removesuffix(" mixed")
    value = SUPPORTED[base][1]
    cls = VARIANTS[name]
    if name.endswith(" mixed"):
        return cls(a="ä", x=value, b=7, c=False, d=255, e=b"z")
    return cls(x=value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return struct.pack(">d", a) == struct.pack(">d", b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_the_fast_path_takes_every_supported_field_type(name: str) -> None:
    sample = _sample(name)
    cls = type(sample)
    info = cls.__ractor_variant__
    assert info.source is not None  # compiled, not the general codec
    fallback = fallback_of(cls)
    before = fallback.calls
    args = info.encode_args(sample)
    assert args == general_encoder(info)(sample)  # the same bytes as the general codec
    decoded = info.decode_args(args)
    assert all(_same(getattr(decoded, f.name), getattr(sample, f.name)) for f in info.plan)
    message = sample.serialize()
    assert type(message) is SerializedCast and message.args == args
    assert _same(Probe.deserialize(message).x, sample.x)  # type: ignore[attr-defined]
    assert fallback.calls == before, "a valid value went to the general codec"


def test_the_generated_modules_fast_path_takes_every_kitchen_variant() -> None:
    from .golden.expected import kitchen_ractor as gen
    from .test_codegen import SAMPLES as KITCHEN

    for sample in KITCHEN:
        info = type(sample).__ractor_variant__
        assert info is not None and info.generated
        assert info.encode_args is not None and info.decode_args is not None
        fallback = fallback_of(type(sample))
        before = fallback.calls
        assert info.decode_args(info.encode_args(sample)) == sample
        assert fallback.calls == before, type(sample).__name__
    assert gen.encode_ask.__module__ == gen.__name__


class Level(enum.IntEnum):
    LOW = 1


@pytest.mark.parametrize(
    ("name", "value"),
    [("U16", Level.LOW), ("F32", math.nan), ("F64", 3), ("bytes", bytearray(b"ab")),
     ("list[U16]", (1, 2)), ("list[U8]", [1, Level.LOW])],
)
def test_an_unusual_value_goes_to_the_general_codec_and_gives_its_bytes(
    name: str, value: Any
) -> None:
    cls = VARIANTS[name]
    info = cls.__ractor_variant__
    sample = object.__new__(cls)
    sample.__dict__["x"] = value
    fallback = fallback_of(cls)
    before = fallback.calls
    try:
        expected: Any = general_encoder(info)(sample)
    except SerializationError as exc:
        expected = str(exc)
    try:
        got: Any = info.encode_args(sample)
    except SerializationError as exc:
        got = str(exc)
    assert got == expected
    assert fallback.calls == before + 1


@pytest.mark.parametrize("args", [b"", b"\x00" * 7, bytes(8) + b"\x01", bytes(9)])
def test_malformed_bytes_go_to_the_general_codec_and_give_its_error(args: bytes) -> None:
    cls = VARIANTS["U8 mixed"]
    info = cls.__ractor_variant__
    fallback = fallback_of(cls)
    before = fallback.calls
    with pytest.raises(DeserializationError) as fast:
        info.decode_args(args)
    with pytest.raises(DeserializationError) as general:
        general_decoder(info)(args)
    assert str(fast.value) == str(general.value)
    assert fallback.calls == before + 1


def test_long_stretches_of_fixed_width_fields_round_trip() -> None:
    names = [f"f{i}" for i in range(40)]  # one struct call, its lines wrapped
    cls = _variant("Wide", dict.fromkeys(names, U16) | {"tail": str})
    sample = cls(**{n: i for i, n in enumerate(names)}, tail="t")
    info = cls.__ractor_variant__
    fallback = fallback_of(cls)
    args = info.encode_args(sample)
    assert args == general_encoder(info)(sample)
    assert info.decode_args(args) == sample
    assert fallback.calls == 0


def test_a_call_variant_serializes_as_a_call() -> None:
    cls = _variant("Asking", {"q": str}, call=True)
    message = cls(q="?").serialize()
    assert type(message) is SerializedCall
    assert Probe.deserialize(message) == cls(q="?")


# ------------------------------------------------------------------ args_codec


@dataclasses.dataclass(frozen=True)
class PlainShout:
    text: str
    times: U8


def test_args_codec_writes_the_bytes_of_a_derived_variant_with_the_same_fields() -> None:
    codec = args_codec(PlainShout, tag="Shout")
    derived = _variant("Shout", {"text": str, "times": U8})
    args = codec.encode(PlainShout("hi", 3))
    assert args == derived(text="hi", times=3).serialize().args
    assert codec.decode(args) == PlainShout("hi", 3)
    assert codec.serialize(PlainShout("hi", 3)) == SerializedCast("Shout", args)
    with pytest.raises(SerializationError, match=r"PlainShout\.times"):
        codec.encode(PlainShout("hi", 300))
    with pytest.raises(DeserializationError, match="trailing"):
        codec.decode(args + b"\x00")
    assert codec.fallback.calls == 2


def test_args_codec_refuses_what_has_no_encoding() -> None:
    @dataclasses.dataclass
    class Loose:
        table: dict[str, int]

    with pytest.raises(MessageDeclarationError, match=r"Loose\.table"):
        args_codec(Loose)
    with pytest.raises(MessageDeclarationError, match="not a dataclass"):
        args_codec(Pair)


@pytest.mark.parametrize("call", [False, True])
def test_the_cluster_demos_hand_codec_writes_the_plans_bytes(call: bool) -> None:
    # ractor_cluster may not import ractor_derive, so the demo keeps its own small codec;
    # it must agree with the plan byte for byte, both ways.
    from ractor_cluster._demo import _FAMILY, Ask, Relay, Shout

    samples: list[Any] = [Ask("y"), Relay("a", "b"), Relay("", "é" * 300)] if call else [
        Shout("x"), Shout("")]
    for msg in samples:
        plan = args_codec(type(msg), call=call)
        wire = msg.serialize()
        assert wire == plan.serialize(msg)
        assert _FAMILY.deserialize(wire) == msg == plan.decode(wire.args)
    for bad in (b"", bytes(7), bytes(8) + b"x", bytes(8) + b"\xff"):
        wire = (SerializedCall if call else SerializedCast)("Ask" if call else "Shout", bad)
        with pytest.raises(ValueError):
            _FAMILY.deserialize(wire)
        with pytest.raises(DeserializationError):
            args_codec(Ask if call else Shout, call=call).decode(bad)


# ------------------------------------------------------------------ the plugin reads the plan


def test_the_mypy_plugins_rules_are_the_plans() -> None:
    assert {f"builtins.{t.__name__}" for t in SCALAR_TYPES if t is not None} == (
        plugin._CODEC_SCALARS
    )
    assert {f"builtins.{t.__name__}" for t in LIST_ITEM_TYPES} == plugin._LIST_ITEMS
    for tp in SCALAR_TYPES:
        wire_of(tp)  # each has a wire
    for tp in LIST_ITEM_TYPES:
        wire_of(list[Char] if tp is str else list[tp])  # type: ignore[valid-type]


# ------------------------------------------------------------------ construction


@cluster_message
class Built(Message):
    """Variants whose construction is checked."""


class Point3(Built):
    x: U8
    y: I16 = -1
    tags: list[U16] = dataclasses.field(default_factory=list)
    ratio: F32 = 0.0
    letter: Char = "a"
    name: str = ""
    raw: bytes = b""
    flag: bool = False
    point: Point = dataclasses.field(default_factory=Point)


class Checked(Built):
    n: U32

    def __post_init__(self) -> None:
        if self.n == 13:
            raise ValueError("unlucky")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("x", 300, "300 is out of range for u8"),
        ("x", -1, "out of range"),
        ("x", True, "expected an int"),
        ("x", 1.0, "expected an int"),
        ("y", 2**15, "out of range for i16"),
        ("ratio", 1e39, "does not fit in f32"),
        ("ratio", "1", "expected a float"),
        ("letter", "ab", "one-character"),
        ("letter", "\ud800", "not a Unicode scalar value"),
        ("name", b"x", "expected a str"),
        ("raw", "x", "expected bytes"),
        ("flag", 1, "expected a bool"),
        ("tags", (1, 2), "expected a list"),
        ("point", "p", "expected a Point"),
    ],
)
def test_a_value_that_does_not_fit_is_refused_at_construction(
    field: str, value: Any, message: str
) -> None:
    values: dict[str, Any] = {"x": 1, field: value}
    with pytest.raises(SerializationError, match=message) as caught:
        Point3(**values)
    assert (caught.value.variant, caught.value.field) == ("Point3", field)
    assert f"Built.Point3.{field}" in str(caught.value)


def test_construction_takes_what_the_codec_takes_and_keeps_dataclass_behaviour() -> None:
    p = Point3(x=Level.LOW, ratio=3, raw=bytearray(b"r"), letter="😀")  # type: ignore[arg-type]
    assert p.x == 1 and p.ratio == 3 and p.tags == [] and p.y == -1
    assert Point3(x=1).tags is not Point3(x=1).tags  # default_factory, called each time
    assert Point3(x=1) == Point3(x=1) and hash(Checked(n=2)) == hash(Checked(n=2))
    assert dataclasses.replace(Point3(x=1), y=5).y == 5
    with pytest.raises(SerializationError):
        dataclasses.replace(Point3(x=1), y=2**20)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 2  # type: ignore[misc]
    with pytest.raises(TypeError):
        Point3(1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Point3()  # type: ignore[call-arg]
    assert Point3.__init__.__qualname__ == "Point3.__init__"
    shown = str(inspect.signature(Point3))
    assert shown.startswith("(*, x: 'U8', y: 'I16' = -1, tags: 'list[U16]' = <factory>"), shown


def test_post_init_still_runs_after_the_checks() -> None:
    assert Checked(n=5).n == 5
    with pytest.raises(ValueError, match="unlucky"):
        Checked(n=13)
    with pytest.raises(SerializationError, match="out of range"):
        Checked(n=-1)
    with pytest.raises(DeserializationError, match="unlucky"):
        Built.deserialize(SerializedCast("Checked", bytes.fromhex("0000000000000004") + bytes(
            [0, 0, 0, 13])))


def test_a_user_written_init_is_kept_and_its_values_checked_after_it() -> None:
    class Custom(Built):
        n: U8

        def __init__(self, n: int) -> None:
            object.__setattr__(self, "n", n * 2)

    assert Custom(5).n == 10
    with pytest.raises(SerializationError, match=r"Custom\.n: 400"):
        Custom(200)


def test_what_construction_leaves_to_serialization() -> None:
    # a list's items and a str's surrogates are checked when the message is serialized
    deep = Point3(x=1, tags=[70000], name="\ud800")
    with pytest.raises(SerializationError, match=r"Point3\.(tags|name)"):
        deep.serialize()


# ------------------------------------------------------------------ one error tree


def test_to_bytes_and_from_bytes_raise_serialization_and_deserialization_errors() -> None:
    with pytest.raises(SerializationError):
        to_bytes(300, U8)
    with pytest.raises(DeserializationError):
        from_bytes(b"\x00", U16)
    with pytest.raises(DeserializationError):
        from_bytes(b"\xff", str)
    for error in (SerializationError, DeserializationError):
        assert issubclass(error, CodecError) and issubclass(error, ValueError)
        assert issubclass(error, RactorError)
    assert issubclass(GenError, RactorError) and issubclass(MessageDeclarationError, RactorError)
    assert typing.get_type_hints(to_bytes)["return"] is bytes
