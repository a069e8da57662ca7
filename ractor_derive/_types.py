"""Wire-width annotations: ``U8 … U128``, ``I8 … I128``, ``F32``, ``F64``, ``Char``.

Each is ``Annotated[int | float | str, <marker>]``: mypy sees the plain Python type, so a
field typed ``U8`` takes a plain ``int``; the codec reads the marker and encodes the value
with the Rust type's fixed width, big-endian, as ractor's ``BytesConvertable`` does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypeAlias

__all__ = [
    "F32",
    "F64",
    "I8",
    "I16",
    "I32",
    "I64",
    "I128",
    "U8",
    "U16",
    "U32",
    "U64",
    "U128",
    "Char",
    "CharKind",
    "FloatKind",
    "IntKind",
]


@dataclass(frozen=True, slots=True)
class IntKind:
    """Marker of a fixed-width integer: ``bits`` wide, signed or not (Rust ``u8`` … ``i128``)."""

    bits: int
    signed: bool

    def __post_init__(self) -> None:
        if self.bits not in (8, 16, 32, 64, 128):
            raise ValueError(f"Rust has no {self.bits}-bit integer (8, 16, 32, 64 or 128)")

    @property
    def rust(self) -> str:
        """The Rust name of the type, e.g. ``u32``."""
        return f"{'i' if self.signed else 'u'}{self.bits}"

    @property
    def low(self) -> int:
        """The smallest value."""
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def high(self) -> int:
        """The largest value."""
        return (1 << (self.bits - 1)) - 1 if self.signed else (1 << self.bits) - 1


@dataclass(frozen=True, slots=True)
class FloatKind:
    """Marker of an IEEE-754 float of ``bits`` width (Rust ``f32`` / ``f64``)."""

    bits: int

    def __post_init__(self) -> None:
        if self.bits not in (32, 64):
            raise ValueError(f"Rust has no {self.bits}-bit float (32 or 64)")

    @property
    def rust(self) -> str:
        """The Rust name of the type."""
        return f"f{self.bits}"


@dataclass(frozen=True, slots=True)
class CharKind:
    """Marker of a Unicode scalar value (Rust ``char``), a one-character ``str``."""

    @property
    def rust(self) -> str:
        """The Rust name of the type."""
        return "char"


U8: TypeAlias = Annotated[int, IntKind(8, False)]
U16: TypeAlias = Annotated[int, IntKind(16, False)]
U32: TypeAlias = Annotated[int, IntKind(32, False)]
U64: TypeAlias = Annotated[int, IntKind(64, False)]
U128: TypeAlias = Annotated[int, IntKind(128, False)]
I8: TypeAlias = Annotated[int, IntKind(8, True)]
I16: TypeAlias = Annotated[int, IntKind(16, True)]
I32: TypeAlias = Annotated[int, IntKind(32, True)]
I64: TypeAlias = Annotated[int, IntKind(64, True)]
I128: TypeAlias = Annotated[int, IntKind(128, True)]
F32: TypeAlias = Annotated[float, FloatKind(32)]
F64: TypeAlias = Annotated[float, FloatKind(64)]
Char: TypeAlias = Annotated[str, CharKind()]
