"""Message families: ``@local_message`` / ``@cluster_message`` and their derived codecs.

A message type is a *family* of variants, like a Rust enum. The family is a class
decorated with ``@cluster_message`` (or ``@local_message``) that subclasses :class:`Message`;
each variant subclasses the family, has typed fields, and is an rpc call when it also
subclasses ``Call[R]``::

    @cluster_message
    class CounterMsg(Message):
        '''Messages of the counter.'''

    class Inc(CounterMsg):
        by: U32

    class Get(CounterMsg, Call[U64]):
        pass

Variants are frozen, keyword-only dataclasses. Their tag on the wire is the class name (as
the Rust derive uses the variant identifier), or ``tag=`` for a differently named Rust
variant: ``class Inc(CounterMsg, tag="Increment")``. A field cannot take the name of an
attribute that the variant inherits (``serialize``, ``deserialize``, a call's ``reply``, ...).

A cluster variant serializes to ``SerializedCast`` / ``SerializedCall`` with its data fields
packed as in Rust (each field: be64 length + the field's bytes); its reply is encoded raw.
``Family.deserialize`` accepts any variant of the family; ``Variant.deserialize`` accepts
only that variant and raises ``DeserializationError`` for any other.

Speed: when a cluster variant is declared, an encoder and a decoder are generated for it
(as ``dataclasses`` generates ``__init__``): fixed-width fields and length prefixes are packed
with one ``struct`` call, ``str`` and ``bytes`` fields inline. Whatever that fast path does not
take (a value of an unusual type, malformed bytes, a NaN to keep bit for bit) goes to the
general path, which gives the same result or raises the same error as it always did.
"""

from __future__ import annotations

import dataclasses
import keyword
import operator
import re
import struct
import sys
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar, dataclass_transform

from ractor_core import Call, RpcReplyPort
from ractor_core.transport import SerializedCall, SerializedCast, SerializedMessage

from ._codecs import LIST_STRUCT_MAX, Codec, CodecError, codec_for, list_structs
from ._errors import DeserializationError, MessageDeclarationError, SerializationError

__all__ = [
    "FamilyInfo",
    "FieldInfo",
    "Message",
    "VariantInfo",
    "cluster_message",
    "decode_args",
    "encode_args",
    "local_message",
]

T = TypeVar("T")

_LEN = struct.Struct(">Q")
_pack_len = _LEN.pack
_unpack_len = _LEN.unpack_from

_TAG = re.compile(r"[A-Za-z][A-Za-z0-9_]*|_[A-Za-z0-9_]+")
_RUST_KEYWORDS = frozenset((
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum",
    "extern", "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move",
    "mut", "pub", "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true",
    "type", "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final",
    "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
))

_NO_CASTS: Mapping[str, Callable[[bytes], Any]] = types.MappingProxyType({})


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """One data field of a variant: its name, declared type and codec (None when local)."""

    name: str
    annotation: Any
    codec: Codec | None


@dataclass(eq=False, slots=True)
class VariantInfo:
    """What the derive knows of one variant."""

    cls: type[Message]
    tag: str
    fields: tuple[FieldInfo, ...]
    is_call: bool
    reply_type: Any
    reply_codec: Codec | None
    family: FamilyInfo
    encode_args: Callable[[Any], bytes] | None = None
    decode_args: Callable[[bytes], Any] | None = None


@dataclass(eq=False, slots=True)
class FamilyInfo:
    """What the derive knows of one family: its variants by tag, casts and calls apart."""

    cls: type[Message]
    cluster: bool
    casts: dict[str, VariantInfo] = dataclasses.field(default_factory=dict)
    calls: dict[str, VariantInfo] = dataclasses.field(default_factory=dict)

    @property
    def variants(self) -> list[VariantInfo]:
        """Every variant, sorted by tag."""
        return sorted([*self.casts.values(), *self.calls.values()], key=lambda v: v.tag)


@dataclass_transform(frozen_default=True, kw_only_default=True)
class Message:
    """Base of message families; subclasses of a decorated family are its variants."""

    __slots__ = ()

    __ractor_family_info__: ClassVar[FamilyInfo | None] = None
    __ractor_variant__: ClassVar[VariantInfo | None] = None
    __ractor_casts__: ClassVar[Mapping[str, Callable[[bytes], Any]]] = _NO_CASTS
    """The decoders of the casts that ``deserialize`` takes on its fast path, by tag."""
    __ractor_calls__: ClassVar[Mapping[str, Callable[[bytes], Any]]] = _NO_CASTS
    """The same for the calls (transports decode calls with them directly)."""

    def __init_subclass__(cls, *, tag: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        family = cls.__ractor_family_info__
        if family is None:
            if tag is not None:
                raise MessageDeclarationError(
                    f"{cls.__qualname__}: tag= is for variants; decorate the family with "
                    "@cluster_message or @local_message before declaring its variants"
                )
            return
        variant = cls.__ractor_variant__
        if variant is not None:
            raise MessageDeclarationError(
                f"{cls.__qualname__}: variants cannot be subclassed "
                f"({_label(variant.family.cls, variant.cls)} is a variant)"
            )
        try:  # where the class statement is, for tools (ractor-derive gen's messages)
            cls.__ractor_line__ = sys._getframe(1).f_lineno  # type: ignore[attr-defined]
        except ValueError:
            pass
        dataclasses.dataclass(frozen=True, kw_only=True)(cls)
        _add_variant(family, cls, tag if tag is not None else cls.__name__)

    def serialize(self) -> SerializedMessage:
        """Serialize this variant for another node.

        Raises:
            SerializationError: the family is local-only, or a field does not fit its type.
        """
        info = type(self).__ractor_variant__
        if info is None or info.encode_args is None:
            raise SerializationError(
                f"{type(self).__qualname__} is not a cluster message (declare its family "
                "with @cluster_message)"
            )
        args = info.encode_args(self)
        if info.is_call:
            return SerializedCall(info.tag, args)
        return SerializedCast(info.tag, args)

    def encode_reply(self, value: Any) -> bytes:
        """Encode the reply to this rpc variant as the Rust derive does (each cluster rpc
        variant has its own, with its reply type's codec).

        Raises:
            SerializationError: not a cluster rpc variant, or ``value`` does not fit the type.
        """
        raise SerializationError(
            f"{type(self).__qualname__} is not an rpc variant of a cluster message family"
        )

    def decode_reply(self, data: bytes) -> Any:
        """Decode the reply to this rpc variant (each cluster rpc variant has its own).

        Raises:
            DeserializationError: not a cluster rpc variant, or the bytes do not decode.
        """
        raise DeserializationError(
            f"{type(self).__qualname__} is not an rpc variant of a cluster message family"
        )

    @classmethod
    def deserialize(cls, message: SerializedMessage, /) -> Self:
        """Rebuild a variant of this family from its serialized form.

        On a variant class, accept that variant only.

        Raises:
            DeserializationError: unknown tag, cast/call mismatch, another variant than
                ``cls``, or malformed arguments.
        """
        if type(message) is SerializedCast:
            decode = cls.__ractor_casts__.get(message.variant)
            if decode is not None:
                obj: Self = decode(message.args)
                return obj
        result: Self = _deserialize(cls, message)
        return result


def _deserialize(cls: type[Message], message: SerializedMessage) -> Any:
    """The general path of ``Message.deserialize``: every check, every error."""
    family = cls.__ractor_family_info__
    if family is None or not family.cluster:
        raise DeserializationError(f"{cls.__qualname__} is not a cluster message family")
    if isinstance(message, SerializedCast):
        info = family.casts.get(message.variant)
        other = family.calls
    elif isinstance(message, SerializedCall):
        info = family.calls.get(message.variant)
        other = family.casts
    else:
        raise DeserializationError(
            f"{family.cls.__qualname__}: a {type(message).__name__} is not a message"
        )
    if info is None:
        name = family.cls.__qualname__
        if message.variant in other:
            kind = "cast" if isinstance(message, SerializedCast) else "call"
            raise DeserializationError(
                f"{name}: variant {message.variant!r} is not a {kind}",
                variant=message.variant,
            )
        raise DeserializationError(
            f"{name}: unknown variant {message.variant!r}", variant=message.variant
        )
    if not issubclass(info.cls, cls):
        raise DeserializationError(
            f"{_label(family.cls, cls)}.deserialize: got variant {message.variant!r} "
            f"(a {info.cls.__name__}), not a {cls.__name__}; "
            f"{family.cls.__name__}.deserialize takes any variant of the family",
            variant=message.variant,
        )
    assert info.decode_args is not None
    return info.decode_args(message.args)


def encode_args(message: Message) -> bytes:
    """The packed arguments of a cluster variant, by the decorator path.

    Raises:
        SerializationError: the message is not a cluster variant, or a field does not fit.
    """
    info = type(message).__ractor_variant__
    if info is None or info.encode_args is None:
        raise SerializationError(f"{type(message).__qualname__} is not a cluster message")
    return info.encode_args(message)


V = TypeVar("V", bound=Message)


def decode_args(cls: type[V], args: bytes) -> V:
    """Rebuild cluster variant ``cls`` from its packed arguments, by the decorator path.

    Raises:
        DeserializationError: the bytes do not form that variant.
    """
    info = cls.__dict__.get("__ractor_variant__")
    if info is None or info.decode_args is None:
        raise DeserializationError(f"{cls.__qualname__} is not a cluster message variant")
    decoded = info.decode_args(args)
    if not isinstance(decoded, cls):
        raise DeserializationError(f"the arguments decode to {type(decoded).__name__}, "
                                   f"not {cls.__name__}", variant=info.tag)
    return decoded


def _family_decorator(cluster: bool) -> Callable[[type[T]], type[T]]:
    kind = "@cluster_message" if cluster else "@local_message"

    def decorate(cls: type[T]) -> type[T]:
        if not (isinstance(cls, type) and issubclass(cls, Message)):
            raise MessageDeclarationError(
                f"{kind} decorates a class that subclasses ractor_derive.Message, got {cls!r}"
            )
        if cls.__ractor_family_info__ is not None:
            raise MessageDeclarationError(
                f"{cls.__qualname__}: a family cannot be declared inside another family"
            )
        cls.__ractor_family_info__ = FamilyInfo(cls, cluster)
        cls.__ractor_family__ = cls if cluster else None  # type: ignore[attr-defined]
        cls.__ractor_casts__ = {}
        cls.__ractor_calls__ = {}
        return cls

    return decorate


_cluster = _family_decorator(True)
_local = _family_decorator(False)


def cluster_message(cls: type[T]) -> type[T]:
    """Declare a family whose variants can go to other nodes (``RactorClusterMessage``).

    Raises:
        MessageDeclarationError: ``cls`` is not a ``Message`` subclass, or already a family.
    """
    return _cluster(cls)


def local_message(cls: type[T]) -> type[T]:
    """Declare a family that never leaves the process (``RactorMessage``): no codecs.

    Raises:
        MessageDeclarationError: ``cls`` is not a ``Message`` subclass, or already a family.
    """
    return _local(cls)


# ------------------------------------------------------------------------- variants


def _label(family: type[Any], variant: type[Any]) -> str:
    """``Family.Variant`` for messages: the family's qualified name, the variant's name."""
    if variant is family:
        return family.__qualname__
    return f"{family.__qualname__}.{variant.__name__}"


def _reply_type_of(cls: type[Any]) -> tuple[bool, Any]:
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            if typing.get_origin(base) is Call:
                (reply,) = typing.get_args(base)
                return True, reply
    return issubclass(cls, Call), Any


def _is_reply_port(tp: Any) -> bool:
    return tp is RpcReplyPort or typing.get_origin(tp) is RpcReplyPort


def _inherited_owner(cls: type[Any], name: str) -> type[Any] | None:
    """The base class of ``cls`` that defines ``name`` (not as a dataclass field), if any.

    A field of that name would hide it, and ``dataclasses`` would take it as the default.
    """
    for klass in cls.__mro__[1:]:
        if name in klass.__dict__:
            if name in klass.__dict__.get("__dataclass_fields__", {}):
                return None  # a field inherited from a dataclass base, with its default
            return klass
    return None


def _add_variant(family: FamilyInfo, cls: type[Message], tag: str) -> None:
    name = _label(family.cls, cls)
    if not isinstance(tag, str) or not _TAG.fullmatch(tag) or tag in _RUST_KEYWORDS:
        raise MessageDeclarationError(
            f"{name}: tag {tag!r} is not a valid variant name: use an ASCII identifier "
            "that is not a Rust keyword (it names the Rust enum variant)"
        )
    is_call, reply_type = _reply_type_of(cls)
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except NameError as exc:
        raise MessageDeclarationError(
            f"{name}: a field type cannot be resolved ({exc}); define it before the variant"
        ) from exc
    fields = []
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        owner = _inherited_owner(cls, field.name)
        if owner is not None:
            raise MessageDeclarationError(
                f"{name}.{field.name}: a field cannot be named {field.name!r}, which "
                f"{owner.__qualname__} already defines; rename the field"
            )
        annotation = hints.get(field.name, field.type)
        if _is_reply_port(annotation):
            raise MessageDeclarationError(
                f"{name}.{field.name}: a reply port is not a field; "
                + (
                    "the Call base provides it as message.reply"
                    if is_call
                    else "make the variant an rpc call by subclassing Call[R]"
                )
            )
        codec = None
        if family.cluster:
            try:
                codec = codec_for(annotation)
            except TypeError as exc:
                raise MessageDeclarationError(f"{name}.{field.name}: {exc}") from exc
        fields.append(FieldInfo(field.name, annotation, codec))
    reply_codec = None
    if is_call and family.cluster:
        if reply_type is Any:
            raise MessageDeclarationError(f"{name}: an rpc variant names its reply type: Call[R]")
        try:
            reply_codec = codec_for(reply_type)
        except TypeError as exc:
            raise MessageDeclarationError(f"{name}: reply type: {exc}") from exc
    for table in (family.casts, family.calls):
        if tag in table:
            raise MessageDeclarationError(
                f"{name}: tag {tag!r} is already used by {_label(family.cls, table[tag].cls)}"
            )
    info = VariantInfo(cls, tag, tuple(fields), is_call, reply_type, reply_codec, family)
    casts: dict[str, Callable[[bytes], Any]] = {}
    calls: dict[str, Callable[[bytes], Any]] = {}
    if family.cluster:
        _derive_codecs(info)
        assert info.decode_args is not None
        (calls if is_call else casts)[tag] = info.decode_args
        if is_call:
            assert reply_codec is not None
            _set_reply_codec(cls, reply_codec)
    cls.__ractor_variant__ = info
    cls.__ractor_casts__ = casts
    cls.__ractor_calls__ = calls
    if casts:
        family.cls.__ractor_casts__ = {**family.cls.__ractor_casts__, **casts}
    if calls:
        family.cls.__ractor_calls__ = {**family.cls.__ractor_calls__, **calls}
    (family.calls if is_call else family.casts)[tag] = info


# ------------------------------------------------------------------------- general codecs


def _general_encoder(info: VariantInfo) -> Callable[[Any], bytes]:
    """Pack the arguments field by field; a failure names the variant and the field."""
    plan = [(f.name, f.codec.encode) for f in info.fields if f.codec is not None]
    label = _label(info.family.cls, info.cls)
    tag = info.tag

    def fail(field: str, exc: Exception) -> SerializationError:
        return SerializationError(f"{label}.{field}: {exc}", variant=tag, field=field)

    def encode(obj: Any) -> bytes:
        parts: list[bytes] = []
        append = parts.append
        fname = ""
        try:
            for fname, fencode in plan:
                data = fencode(getattr(obj, fname))
                append(_pack_len(len(data)))
                append(data)
        except (CodecError, TypeError, ValueError) as exc:
            raise fail(fname, exc) from exc
        return b"".join(parts)

    return encode


def _general_decoder(info: VariantInfo) -> Callable[[bytes], Any]:
    """Unpack the arguments field by field; a failure names the variant and the field."""
    cls = info.cls
    plan = [(f.name, f.codec.decode) for f in info.fields if f.codec is not None]
    label = _label(info.family.cls, cls)
    tag = info.tag
    fast = _builds_without_init(cls)
    new = object.__new__

    def build(values: dict[str, Any]) -> Any:
        if fast:
            obj = new(cls)
            obj.__dict__.update(values)
            return obj
        try:
            return cls(**values)
        except Exception as exc:  # e.g. __post_init__ refusing the values
            raise DeserializationError(f"{label}: {exc}", variant=tag) from exc

    def decode(args: bytes) -> Any:
        size = len(args)
        pos = 0
        values: dict[str, Any] = {}
        for fname, fdecode in plan:
            if size - pos < 8:
                raise DeserializationError(
                    f"{label}.{fname}: the arguments end before the field's length "
                    f"({size - pos} of 8 bytes)",
                    variant=tag,
                    field=fname,
                )
            (length,) = _unpack_len(args, pos)
            pos += 8
            if length > size - pos:
                raise DeserializationError(
                    f"{label}.{fname}: length {length} runs past the end ({size - pos} bytes left)",
                    variant=tag,
                    field=fname,
                )
            try:
                values[fname] = fdecode(args[pos : pos + length])
            except (CodecError, ValueError, TypeError) as exc:
                raise DeserializationError(
                    f"{label}.{fname}: {exc}", variant=tag, field=fname
                ) from exc
            pos += length
        if pos != size:
            raise DeserializationError(
                f"{label}: {size - pos} trailing bytes after the last field", variant=tag
            )
        return build(values)

    return decode


def _builds_without_init(cls: type[Any]) -> bool:
    """Whether a decoded variant can be built by filling its ``__dict__`` (no validation)."""
    return not hasattr(cls, "__post_init__") and "__slots__" not in cls.__dict__


# ------------------------------------------------------------------------- generated codecs
#
# For each cluster variant, three functions are generated: encode_args, decode_args and
# serialize. Each does the common case inline and, for anything else, calls the general
# codec, which then returns the same result or raises the same error as before.

_FIXED_KINDS = frozenset({"int", "float", "f32", "bool"})

_ENCODE_CHECK = {
    "int": "type({v}) is int",
    "float": "type({v}) is float",
    "f32": "type({v}) is float and {v} == {v}",  # a NaN goes the general way (its bits)
    "bool": "({v} is True or {v} is False)",
    "unit": "{v} is None",
    "str": "type({v}) is str",
    "bytes": "type({v}) is bytes",
}


class _Miss(Exception):
    """The generated fast path does not take these bytes; the general decoder decides."""


def _inlinable(info: VariantInfo) -> bool:
    return all(
        f.codec is not None and f.name.isidentifier() and not keyword.iskeyword(f.name)
        for f in info.fields
    )


def _is_fixed(codec: Codec) -> bool:
    """A fixed-width scalar that the generated code packs with ``struct``."""
    return codec.fmt is not None and codec.kind in _FIXED_KINDS


def _is_numeric_list(codec: Codec) -> bool:
    """A list of integers or f64 that the generated code packs with ``list_structs``."""
    return codec.fmt is not None and codec.kind == "list"


def _encode_body(info: VariantInfo, ns: dict[str, Any]) -> tuple[list[str], list[str], list[str]]:
    """Generate the encoding of ``_obj``: the attribute loads, the type checks, and the lines
    (to run inside a ``try``) that set ``_r`` to the packed arguments.

    Fixed-width fields and the length prefixes go into one ``struct`` call per stretch
    between two variable-length fields.
    """
    loads: list[str] = []
    checks: list[str] = []
    lines: list[str] = []
    segments: list[str] = []
    fmt = ""
    values: list[str] = []

    def flush() -> None:
        nonlocal fmt, values
        if fmt:
            name = f"_s{len(segments)}"
            ns[name] = struct.Struct(">" + fmt).pack
            segments.append(f"{name}({', '.join(values)})")
        fmt, values = "", []

    for i, f in enumerate(info.fields):
        codec = f.codec
        assert codec is not None
        v, d = f"_v{i}", f"_d{i}"
        loads.append(f"{v} = _obj.{f.name}")
        if _is_fixed(codec):
            assert codec.fmt is not None
            checks.append(_ENCODE_CHECK[codec.kind].format(v=v))
            fmt += "Q" + codec.fmt
            values += [str(codec.fixed_width), v]
            continue
        if codec.kind == "unit":
            checks.append(_ENCODE_CHECK["unit"].format(v=v))
            fmt += "Q"
            values.append("0")
            continue
        if codec.kind in ("str", "bytes"):
            checks.append(_ENCODE_CHECK[codec.kind].format(v=v))
            if codec.kind == "str":
                lines.append(f"{d} = {v}.encode()")
            else:
                d = v
        elif _is_numeric_list(codec):
            assert codec.fmt is not None
            item = "float" if codec.fmt == "d" else "int"
            checks.append(f"type({v}) is list and _countOf(map(type, {v}), {item}) == len({v})")
            if codec.fmt == "B":
                lines.append(f"{d} = bytes({v})")
            else:
                ns[f"_l{i}"] = list_structs(codec.fmt)
                ns[f"_e{i}"] = codec.encode
                lines.append(
                    f"{d} = _l{i}[len({v})].pack(*{v}) if len({v}) <= {LIST_STRUCT_MAX} "
                    f"else _e{i}({v})"
                )
        else:
            ns[f"_e{i}"] = codec.encode
            lines.append(f"{d} = _e{i}({v})")
        fmt += "Q"
        values.append(f"len({d})")
        flush()
        segments.append(d)
    flush()
    if not segments:
        result = 'b""'
    elif len(segments) == 1:
        result = segments[0]
    elif len(segments) == 2:
        result = f"{segments[0]} + {segments[1]}"
    else:
        result = f"b''.join(({', '.join(segments)}))"
    return loads, checks, [*lines, f"_r = {result}"]


def _decode_body(info: VariantInfo, ns: dict[str, Any]) -> list[str]:
    """Generate the decoding of ``_a`` (bytes, ``_z`` of them) into ``_v0``, ``_v1``, ...

    Fixed-width fields and the length prefixes are read with one ``struct`` call per stretch
    between two variable-length fields; anything unexpected raises ``_Miss``.
    """
    lines: list[str] = []
    base, offset = "", 0  # the read position: the variable `base` (or 0) + offset
    fmt = ""
    targets: list[str] = []
    fails: list[str] = []  # the conditions on which the stretch is malformed
    after: list[str] = []  # the conversions of its values
    last = len(info.fields) - 1

    def pos(extra: int = 0) -> str:
        if not base:
            return str(offset + extra)
        return f"{base} + {offset + extra}" if offset + extra else base

    def read() -> int:
        """Read the stretch; return its size."""
        name = f"_u{len(lines)}"
        ns[name] = struct.Struct(">" + fmt).unpack_from
        lines.append(f"{', '.join(targets)}, = {name}(_a, {pos()})")
        return struct.calcsize(">" + fmt)

    for i, f in enumerate(info.fields):
        codec = f.codec
        assert codec is not None
        v, n = f"_v{i}", f"_n{i}"
        if _is_fixed(codec):
            assert codec.fmt is not None
            fmt += "Q" + ("B" if codec.kind == "bool" else codec.fmt)
            targets += [n, v]
            fails.append(f"{n} != {codec.fixed_width}")
            if codec.kind == "bool":
                after.append(f"{v} = _BOOLS[{v}]")  # IndexError past 01
            elif codec.kind == "f32":
                after.append(f"if {v} != {v}: raise _Miss")  # a NaN: keep its bits
            continue
        if codec.kind == "unit":
            fmt += "Q"
            targets.append(n)
            fails.append(f"{n} != 0")
            after.append(f"{v} = None")
            continue
        fmt += "Q"
        targets.append(n)
        size = read()
        lines.append(f"_p = {pos(size)}")
        lines.append(f"_e = _p + {n}")
        fails.append("_e != _z" if i == last else "_e > _z")
        lines.append(f"if {' or '.join(fails)}:")
        lines.append("    raise _Miss")
        lines += after
        chunk = "_a[_p:_e]"
        if codec.kind == "str":
            lines.append(f"{v} = {chunk}.decode()")
        elif codec.kind == "bytes":
            lines.append(f"{v} = {chunk}")
        elif _is_numeric_list(codec) and codec.fmt == "B":
            lines.append(f"{v} = list({chunk})")
        elif _is_numeric_list(codec):
            assert codec.fmt is not None
            width = struct.calcsize(">" + codec.fmt)
            ns[f"_l{i}"] = list_structs(codec.fmt)
            ns[f"_c{i}"] = codec.decode
            lines.append(f"if {n} % {width} or {n} > {width * LIST_STRUCT_MAX}:")
            lines.append(f"    {v} = _c{i}({chunk})")
            lines.append("else:")
            lines.append(f"    {v} = list(_l{i}[{n} // {width}].unpack_from(_a, _p))")
        else:
            ns[f"_c{i}"] = codec.decode
            lines.append(f"{v} = _c{i}({chunk})")
        base, offset = "_e", 0
        fmt, targets, fails, after = "", [], [], []
    if fmt:  # fixed-width fields up to the end of the arguments
        size = read()
        fails.append(f"{pos(size)} != _z")
        lines.append(f"if {' or '.join(fails)}:")
        lines.append("    raise _Miss")
        lines += after
    elif last < 0:
        lines.append("if _z:")
        lines.append("    raise _Miss")
    return lines


def _compile(source: str, ns: dict[str, Any], name: str) -> Callable[..., Any]:
    exec(compile(source, f"<ractor_derive {name}>", "exec"), ns)
    fn: Callable[..., Any] = ns[name]
    return fn


def _indent(lines: list[str], depth: int) -> str:
    pad = "    " * depth
    return "".join(f"{pad}{line}\n" for line in lines)


def _derive_codecs(info: VariantInfo) -> None:
    """Set ``info.encode_args`` / ``decode_args`` and the variant's own ``serialize``."""
    cls = info.cls
    slow_encode = _general_encoder(info)
    slow_decode = _general_decoder(info)
    tag = info.tag
    is_call = info.is_call
    if not _inlinable(info):
        info.encode_args, info.decode_args = slow_encode, slow_decode
        encode_args = slow_encode

        def serialize(self: Any) -> SerializedMessage:
            args = encode_args(self)
            if is_call:
                return SerializedCall(tag, args)
            return SerializedCast(tag, args)

        _set_serialize(cls, serialize)
        return

    ns: dict[str, Any] = {
        "_slow_encode": slow_encode,
        "_slow_decode": slow_decode,
        "_Miss": _Miss,
        "_BOOLS": (False, True),
        "_cls": cls,
        "_new": object.__new__,
        "_tag": tag,
        "_SerializedCast": SerializedCast,
        "_SerializedCall": SerializedCall,
        "_countOf": operator.countOf,
    }
    loads, checks, lines = _encode_body(info, ns)
    check = " and ".join(checks) or "True"
    wrap = "_SerializedCall(_tag, {})" if is_call else "_SerializedCast(_tag, {})"
    for name, result in (("encode_args", "{}"), ("serialize", wrap)):
        source = (
            f"def {name}(_obj):\n"
            + _indent(loads, 1)
            + f"    if {check}:\n"
            + "        try:\n"
            + _indent(lines, 3)
            + "        except Exception:\n"
            + "            pass\n"
            + "        else:\n"
            + f"            return {result.format('_r')}\n"
            + f"    return {result.format('_slow_encode(_obj)')}\n"
        )
        fn = _compile(source, ns, name)
        if name == "encode_args":
            info.encode_args = fn
        else:
            _set_serialize(cls, fn)

    if _builds_without_init(cls):
        build = ["_o = _new(_cls)"]
        if info.fields:
            build.append("_dict = _o.__dict__")
            build += [f"_dict[{f.name!r}] = _v{i}" for i, f in enumerate(info.fields)]
        build.append("return _o")
    else:
        kwargs = ", ".join(f"{f.name}=_v{i}" for i, f in enumerate(info.fields))
        build = [f"return _cls({kwargs})"]
    source = (
        "def decode_args(_a):\n"
        "    try:\n"
        "        if type(_a) is not bytes:\n"
        "            raise _Miss\n"
        "        _z = len(_a)\n"
        + _indent(_decode_body(info, ns), 2)
        + _indent(build, 2)
        + "    except Exception:\n"
        "        pass\n"
        "    return _slow_decode(_a)\n"
    )
    info.decode_args = _compile(source, ns, "decode_args")


def _set_reply_codec(cls: type[Message], codec: Codec) -> None:
    """Give an rpc variant its own ``encode_reply`` / ``decode_reply``: the codec's, with
    errors named after the variant (unless the class defines them)."""
    encode, decode = codec.encode, codec.decode
    label = cls.__qualname__
    variant = cls.__name__

    def encode_reply(self: Any, value: Any) -> bytes:
        try:
            return encode(value)
        except (CodecError, TypeError, ValueError) as exc:
            raise SerializationError(f"{label} reply: {exc}", variant=variant) from exc

    def decode_reply(self: Any, data: bytes) -> Any:
        try:
            return decode(data)
        except (CodecError, TypeError, ValueError) as exc:
            raise DeserializationError(f"{label} reply: {exc}", variant=variant) from exc

    for fn, base in ((encode_reply, Message.encode_reply), (decode_reply, Message.decode_reply)):
        name = base.__name__
        if name in cls.__dict__:
            continue
        fn.__name__ = name
        fn.__qualname__ = f"{label}.{name}"
        fn.__module__ = cls.__module__
        fn.__doc__ = base.__doc__
        setattr(cls, name, fn)


def _set_serialize(cls: type[Message], fn: Callable[..., Any]) -> None:
    """Give a cluster variant its own generated ``serialize`` (unless it defines one)."""
    if "serialize" in cls.__dict__:
        return
    fn.__name__ = "serialize"
    fn.__qualname__ = f"{cls.__qualname__}.serialize"
    fn.__module__ = cls.__module__
    fn.__doc__ = Message.serialize.__doc__
    cls.serialize = fn  # type: ignore[method-assign]
