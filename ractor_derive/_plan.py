"""The wire plan: which field types have an encoding, and what that encoding is.

This module is the one place that decides it. :func:`wire_of` turns an annotation into a
:class:`Wire`, a small frozen description of the bytes (kind, Rust type, fixed width,
``struct`` format, item, class); a :class:`FieldPlan` names one field of a variant with its
wire. Everything else reads these:

- the codecs (``_codecs.codec_of``) build one encoder/decoder per wire;
- the derive compiles each cluster variant's argument codec from its field plans
  (``_compile``), and ``ractor-derive gen`` writes the very same source into the generated
  module;
- the ``gen`` parser names Rust types from ``Wire.rust``;
- the mypy plugin (``ractor_derive.mypy``), which sees types and not objects, reads the
  rule tables below (:data:`SCALAR_TYPES`, :data:`LIST_ITEM_TYPES`, :data:`MODEL_BASES`,
  :data:`USER_METHODS`).

A variant's arguments are its fields in declaration order, each written as a big-endian u64
length and the field's bytes (PROTOCOL.md section 6.2), as the Rust derive writes them.
"""

from __future__ import annotations

import struct
import types
import typing
from dataclasses import dataclass
from typing import Any

from ._types import CharKind, FloatKind, IntKind

__all__ = [
    "FIXED_KINDS",
    "LIST_ITEM_TYPES",
    "MODEL_BASES",
    "SCALAR_TYPES",
    "USER_METHODS",
    "FieldPlan",
    "Wire",
    "has_base",
    "type_name",
    "wire_of",
]

SCALAR_TYPES: dict[Any, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    bytes: "bytes",
    None: "unit",
}
"""Plain Python types with an encoding, by kind: ``int`` is i64, ``float`` f64, ``None`` unit."""

MARKER_BASES: dict[type, type] = {IntKind: int, FloatKind: float, CharKind: str}
"""The Python type that each width marker annotates (``U8`` is ``Annotated[int, ...]``)."""

LIST_ITEM_TYPES: tuple[type, ...] = (int, float, bool, str)
"""The Python types of ``list[...]`` items: the fixed-width ones (``str`` as ``Char`` only)."""

MODEL_BASES: tuple[tuple[str, str, str], ...] = (
    ("google.protobuf", "Message", "protobuf"),
    ("pydantic", "BaseModel", "pydantic"),
)
"""(module prefix, class name, kind): subclasses are protobuf messages or pydantic models."""

USER_METHODS: tuple[str, str] = ("into_bytes", "from_bytes")
"""A class with both methods is its own ``BytesConvertable`` encoding."""

FIXED_KINDS = frozenset({"int", "float", "f32", "bool", "char"})
"""Kinds of fixed width (the possible items of a list)."""

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


@dataclass(frozen=True, slots=True)
class Wire:
    """How values of one field type are written.

    ``kind`` is one of ``int``, ``float`` (f64), ``f32``, ``bool``, ``char``, ``unit``,
    ``str``, ``bytes``, ``list``, ``protobuf``, ``pydantic``, ``user``. ``width`` is the fixed
    width in bytes (None when variable). ``fmt`` is the ``struct`` format character of a
    fixed-width scalar (``B`` … ``q``, ``f``, ``d``, ``?``; None for 128-bit integers and
    ``char``), and of a list's items when they pack with ``struct`` (integers up to 64 bits
    and f64). ``int_kind`` is the integer marker, ``item`` a list's item wire, ``cls`` the
    class of a protobuf message, pydantic model or user type.
    """

    kind: str
    rust: str
    python: str
    width: int | None = None
    fmt: str | None = None
    int_kind: IntKind | None = None
    item: Wire | None = None
    cls: type[Any] | None = None

    @property
    def rust_type(self) -> str:
        """The type as written in a Rust enum variant (``u8``, ``Vec<u16>``, ``Point``)."""
        return self.cls.__name__ if self.cls is not None else self.rust


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """One field of a variant's arguments: its attribute name and its wire."""

    name: str
    wire: Wire

    def signature(self) -> str:
        """``name:RustType`` (no spaces), as a generated module records its layout."""
        return f"{self.name}:{self.wire.rust.replace(' ', '')}"


def type_name(tp: Any) -> str:
    """How an annotation is shown in messages: a class by name, anything else in full."""
    if isinstance(tp, type) and typing.get_origin(tp) is None:
        return tp.__name__
    return repr(tp)


def has_base(tp: Any, module: str, name: str) -> bool:
    """Whether class ``tp`` has a base named ``name`` from a module under ``module``."""
    return isinstance(tp, type) and any(
        (getattr(b, "__module__", None) or "").startswith(module) and b.__name__ == name
        for b in tp.__mro__
    )


def _int_wire(kind: IntKind) -> Wire:
    return Wire("int", kind.rust, "int", kind.bits // 8, _STRUCT_INT.get((kind.bits, kind.signed)),
                int_kind=kind)


_I64 = _int_wire(IntKind(64, True))
_PLAIN: dict[Any, Wire] = {
    bool: Wire("bool", "bool", "bool", 1, "?"),
    int: _I64,
    float: Wire("float", "f64", "float", 8, "d"),
    str: Wire("str", "String", "str"),
    bytes: Wire("bytes", "Vec<u8>", "bytes"),
    None: Wire("unit", "()", "None"),
}
assert set(_PLAIN) == set(SCALAR_TYPES)
_CHAR = Wire("char", "char", "str", 4)


def _marker_wire(marker: object, base: Any) -> Wire | None:
    if isinstance(marker, IntKind):
        if base is not int:
            raise TypeError(f"{marker.rust} annotates int, not {base!r}")
        return _int_wire(marker)
    if isinstance(marker, FloatKind):
        if marker.bits == 64:
            return _PLAIN[float]
        return Wire("f32", "f32", "float", 4, "f")
    if isinstance(marker, CharKind):
        return _CHAR
    return None


def wire_of(tp: Any) -> Wire:
    """The wire of a field type.

    Raises:
        TypeError: the type has no wire encoding (with the reason).
    """
    if typing.get_origin(tp) is typing.Annotated:
        base, *meta = typing.get_args(tp)
        for marker in meta:
            wire = _marker_wire(marker, base)
            if wire is not None:
                return wire
        return wire_of(base)
    if tp is None or tp is type(None):
        return _PLAIN[None]
    if isinstance(tp, type) and tp in _PLAIN:
        return _PLAIN[tp]
    origin = typing.get_origin(tp)
    if origin is list:
        args = typing.get_args(tp)
        if len(args) != 1:
            raise TypeError(
                f"{type_name(tp)}: a list field takes exactly one item type, e.g. list[U32]"
            )
        return _list_wire(wire_of(args[0]))
    if origin in (typing.Union, types.UnionType):
        raise TypeError(
            f"{tp!r}: unions and Optional have no Rust BytesConvertable encoding; "
            "write a BytesConvertable class for them"
        )
    for module, name, kind in MODEL_BASES:
        if has_base(tp, module, name):
            suffix = "prost" if kind == "protobuf" else "serde_json"
            return Wire(kind, f"{tp.__name__} ({suffix})", tp.__name__, cls=tp)
    if isinstance(tp, type) and all(callable(getattr(tp, m, None)) for m in USER_METHODS):
        return Wire("user", tp.__name__, tp.__name__, cls=tp)
    raise TypeError(
        f"{type_name(tp)!r} has no wire encoding: use a built-in type (U8…U128, "
        "I8…I128, int, F32, float, bool, Char, str, bytes, None, list[...]), a protobuf "
        "message, a pydantic model, or a class with into_bytes/from_bytes"
    )


def _list_wire(item: Wire) -> Wire:
    if item.kind not in FIXED_KINDS:
        raise TypeError(
            f"list[{item.python}] has no Rust BytesConvertable encoding: only lists of "
            "fixed-width items (integers, floats, bool, Char) are supported"
        )
    packs = item.kind in ("int", "float") and item.fmt is not None
    return Wire("list", f"Vec<{item.rust}>", f"list[{item.python}]",
                fmt=item.fmt if packs else None, item=item)


def struct_size(fmt: str) -> int:
    """The size of a big-endian ``struct`` format."""
    return struct.calcsize(">" + fmt)
