"""The intermediate representation of message declarations: plain frozen data, no jinja."""

from __future__ import annotations

from dataclasses import dataclass

from .._plan import FieldPlan, Wire

__all__ = ["FamilyIR", "FieldIR", "ModuleIR", "VariantIR"]


@dataclass(frozen=True)
class FieldIR:
    """A field (or a reply type): its Python annotation text, its Rust type, its wire plan."""

    name: str
    py_type: str
    rust_type: str
    wire: Wire | None  # None in a local family


@dataclass(frozen=True)
class VariantIR:
    """A variant: class name, wire tag, fields in declaration order, rpc reply if any."""

    class_name: str
    tag: str
    snake: str
    fields: tuple[FieldIR, ...]
    reply: FieldIR | None
    line: int
    fast_build: bool = False  # no __post_init__, no slots: decoding may fill __dict__ directly

    @property
    def is_call(self) -> bool:
        """Whether the variant is an rpc call."""
        return self.reply is not None

    @property
    def plan(self) -> tuple[FieldPlan, ...]:
        """The wire plan of the arguments (a cluster variant's)."""
        return tuple(FieldPlan(f.name, f.wire) for f in self.fields if f.wire is not None)


@dataclass(frozen=True)
class FamilyIR:
    """A message family: its class, whether it is a cluster family, its variants by tag."""

    name: str
    cluster: bool
    doc: str
    variants: tuple[VariantIR, ...]
    ref_type: str  # the message type written in ActorRef[...] of the helpers
    line: int


@dataclass(frozen=True)
class ModuleIR:
    """One source module: where it is, how to import it, its families, the names it needs."""

    source: str  # the path relative to the working directory, POSIX style
    module: str  # the import name of the source module
    stem: str
    families: tuple[FamilyIR, ...]
    derive_names: tuple[str, ...]  # names imported from ractor_derive (U8, Char, ...)
    extra_imports: tuple[tuple[str, str], ...]  # (module, name) of field types used
