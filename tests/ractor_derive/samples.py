"""Declarations mirroring the Rust ``Sample`` enum of tests/interop/rust_peer (vectors.rs)."""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from ractor_core import Call
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
    Message,
    cluster_message,
)


def _point_class() -> Any:
    """Build the protobuf ``vectors.Point {int32 x = 1; string label = 2;}`` at run time."""
    proto = descriptor_pb2.FileDescriptorProto(
        name="ractor_py_vectors.proto", package="vectors", syntax="proto3"
    )
    msg = proto.message_type.add(name="Point")
    msg.field.add(
        name="x",
        number=1,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_INT32,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    msg.field.add(
        name="label",
        number=2,
        type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
        label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("vectors.Point"))


Point = _point_class()

RUST_TYPES: dict[str, Any] = {
    "u8": U8,
    "u16": U16,
    "u32": U32,
    "u64": U64,
    "u128": U128,
    "i8": I8,
    "i16": I16,
    "i32": I32,
    "i64": I64,
    "i128": I128,
    "f32": F32,
    "f64": F64,
    "bool": bool,
    "char": Char,
    "String": str,
    "()": None,
    "Vec<u8>": bytes,
    "Vec<i8>": list[I8],
    "Vec<u16>": list[U16],
    "Vec<i16>": list[I16],
    "Vec<u32>": list[U32],
    "Vec<i32>": list[I32],
    "Vec<u64>": list[U64],
    "Vec<i64>": list[I64],
    "Vec<u128>": list[U128],
    "Vec<i128>": list[I128],
    "Vec<f32>": list[F32],
    "Vec<f64>": list[F64],
    "Vec<bool>": list[bool],
    "Vec<char>": list[Char],
    "Point": Point,
}


def python_value(rust_type: str, shown: Any) -> Any:
    """Turn a vector's JSON ``value`` into the Python value of ``rust_type``."""
    tp = RUST_TYPES[rust_type]
    if rust_type in ("u128", "i128"):
        return int(shown)
    if rust_type in ("f32", "f64"):
        return float(shown)
    if rust_type in ("Vec<u128>", "Vec<i128>"):
        return [int(v) for v in shown]
    if rust_type in ("Vec<f32>", "Vec<f64>"):
        return [float(v) for v in shown]
    if rust_type == "Vec<u8>":
        return bytes(shown)
    if tp is Point:
        return Point(**shown)
    return shown


@cluster_message
class Sample(Message):
    """The Python side of the Rust ``Sample`` enum."""


class Unit(Sample):
    pass


class Hey(Sample):
    text: str


class Several(Sample):
    a: U8
    b: I64
    c: bool
    d: list[U16]


class Named(Sample):
    id: U128
    ch: Char
    ratio: F32


class WithPoint(Sample):
    point: Point


class IsDone(Sample, Call[bool]):
    pass


class PortFirst(Sample, Call[list[I8]]):
    a: bytes
    b: list[U32]


class Lookup(Sample, Call[U64]):
    key: str


class Describe(Sample, Call[str]):
    n: I32
    ch: Char


SAMPLES: dict[str, Sample] = {
    "Unit": Unit(),
    "Hey": Hey(text="Hey there"),
    "Several": Several(a=7, b=-2, c=True, d=[1, 2]),
    "Named": Named(id=(1 << 128) - 1, ch="z", ratio=0.5),
    "WithPoint": WithPoint(point=Point(x=150, label="hi")),
    "IsDone": IsDone(),
    "PortFirst": PortFirst(a=bytes([0, 5]), b=[1, 2, 3, 4]),
    "Lookup": Lookup(key="key"),
    "Describe": Describe(n=-1, ch="q"),
}
