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

Variants are frozen, keyword-only dataclasses; a cluster variant's ``__init__`` also checks
each value against its field's wire type (``SerializationError``: 300 in a ``U8``). Their
tag on the wire is the class name (as the Rust derive uses the variant identifier), or
``tag=`` for a differently named Rust variant: ``class Inc(CounterMsg, tag="Increment")``. A
field cannot take the name of an attribute that the variant inherits (``serialize``,
``deserialize``, a call's ``reply``, ...).

A cluster variant serializes to ``SerializedCast`` / ``SerializedCall`` with its data fields
packed as in Rust (each field: be64 length + the field's bytes); its reply is encoded raw.
``Family.deserialize`` accepts any variant of the family; ``Variant.deserialize`` accepts
only that variant and raises ``DeserializationError`` for any other.

Speed: when a cluster variant is declared, its field plan (``_plan``) is compiled into an
encoder, a decoder and ``serialize`` (``_compile``, as ``dataclasses`` generates ``__init__``):
fixed-width fields and length prefixes are packed with one ``struct`` call, ``str`` and
``bytes`` fields inline. Whatever that fast path does not take (a value of an unusual type,
malformed bytes, a NaN to keep bit for bit) goes to the variant's ``Fallback``, the general
codec, which gives the same result or raises the same error. ``ractor-derive gen`` writes the
same code into a module that registers it on import (``register_codecs``).
"""

from __future__ import annotations

import dataclasses
import re
import struct
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, Self, TypeVar, dataclass_transform

from ractor_core import Call, RpcReplyPort
from ractor_core.transport import SerializedCall, SerializedCast, SerializedMessage

from ._codecs import Codec, codec_for, codec_of
from ._compile import (
    FACTORY,
    ArgsSource,
    Fallback,
    args_source,
    compile_function,
    field_defaults,
    init_params,
    init_source,
    inlinable,
    materialize,
)
from ._errors import DeserializationError, MessageDeclarationError, SerializationError
from ._plan import FieldPlan, wire_of

__all__ = [
    "ArgsCodec",
    "FamilyInfo",
    "FieldInfo",
    "Message",
    "VariantInfo",
    "args_codec",
    "cluster_message",
    "decode_args",
    "encode_args",
    "fallback_of",
    "layout_of",
    "local_message",
    "register_codecs",
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
    plan: tuple[FieldPlan, ...] = ()
    """The wire plan of the arguments (cluster variants): each field's name and wire."""
    fallback: Fallback[Any] | None = None
    """The general codec that the compiled one hands unusual values and bad bytes to."""
    source: ArgsSource | None = None
    """The source the codec was compiled from (what ``ractor-derive gen`` writes too)."""
    generated: bool = False
    """Whether a generated module registered its functions as this variant's codec."""


@dataclass(eq=False, slots=True)
class FamilyInfo:
    """What the derive knows of one family: its variants by tag, casts and calls apart."""

    cls: type[Message]
    cluster: bool
    casts: dict[str, VariantInfo] = dataclasses.field(default_factory=dict[str, VariantInfo])
    calls: dict[str, VariantInfo] = dataclasses.field(default_factory=dict[str, VariantInfo])

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
    __ractor_family__: ClassVar[Any]
    """The family, which ``ractor_core`` looks up (set by ``@cluster_message``; None: local)."""
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
        user_init = "__init__" in cls.__dict__
        dataclasses.dataclass(frozen=True, kw_only=True)(cls)
        info = _add_variant(family, cls, tag if tag is not None else cls.__name__)
        if family.cluster:
            _derive_init(info, user_init)

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
    elif isinstance(message, SerializedCall):  # pyright: ignore[reportUnnecessaryIsInstance]
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


def _variant_info(cls: object) -> VariantInfo:
    info = cls.__dict__.get("__ractor_variant__") if isinstance(cls, type) else None
    if not isinstance(info, VariantInfo) or info.fallback is None:
        raise MessageDeclarationError(f"{cls!r} is not a cluster message variant")
    return info


def fallback_of(cls: type[V]) -> Fallback[V]:
    """The general codec of cluster variant ``cls``, which its compiled codec falls back to.

    Generated modules call this; ``fallback_of(cls).calls`` counts the hand-overs.

    Raises:
        MessageDeclarationError: ``cls`` is not a cluster variant.
    """
    fallback: Fallback[V] | None = _variant_info(cls).fallback
    assert fallback is not None
    return fallback


def layout_of(cls: type[Any]) -> str:
    """The wire layout of a cluster variant: ``Tag(field:rust,...)``, ``Tag!(...)`` for a call."""
    info = _variant_info(cls)
    fields = ",".join(f.signature() for f in info.plan)
    return f"{info.tag}{'!' if info.is_call else ''}({fields})"


def register_codecs(cls: type[V], layout: str, encode: Callable[[V], bytes],
                    decode: Callable[[bytes], V]) -> None:
    """Make a generated module's ``encode`` / ``decode`` the codec of cluster variant ``cls``.

    ``ractor-derive gen`` writes a call to this after each variant's functions, with the
    layout the functions were generated for; they are compiled from the same plan as the
    derive's own, so this makes the reviewed code the code that runs.

    Raises:
        MessageDeclarationError: ``cls`` is not a cluster variant, or its layout is not
            ``layout`` any more (the generated module is stale: run ``ractor-derive gen``).
    """
    info = _variant_info(cls)
    actual = layout_of(cls)
    if actual != layout:
        raise MessageDeclarationError(
            f"{_label(info.family.cls, cls)}: the generated codec is for {layout}, but the "
            f"variant is now {actual}; regenerate it with ractor-derive gen"
        )
    info.encode_args = encode
    info.decode_args = decode
    info.generated = True
    table = "__ractor_calls__" if info.is_call else "__ractor_casts__"
    setattr(cls, table, {info.tag: decode})
    family = info.family.cls
    setattr(family, table, {**getattr(family, table), info.tag: decode})


def _family_decorator(cluster: bool) -> Callable[[type[T]], type[T]]:
    kind = "@cluster_message" if cluster else "@local_message"

    def decorate(cls: type[T]) -> type[T]:
        if not (isinstance(cls, type) and issubclass(cls, Message)):  # pyright: ignore[reportUnnecessaryIsInstance]
            raise MessageDeclarationError(
                f"{kind} decorates a class that subclasses ractor_derive.Message, got {cls!r}"
            )
        if cls.__ractor_family_info__ is not None:
            raise MessageDeclarationError(
                f"{cls.__qualname__}: a family cannot be declared inside another family"
            )
        cls.__ractor_family_info__ = FamilyInfo(cls, cluster)
        cls.__ractor_family__ = cls if cluster else None
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


def _add_variant(family: FamilyInfo, cls: type[Message], tag: str) -> VariantInfo:
    name = _label(family.cls, cls)
    if not isinstance(tag, str) or not _TAG.fullmatch(tag) or tag in _RUST_KEYWORDS:  # pyright: ignore[reportUnnecessaryIsInstance]
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
    fields: list[FieldInfo] = []
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
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
    if family.cluster:
        info.plan = _plan_of(info)
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
    return info


# ------------------------------------------------------------------------- general codecs


def general_encoder(info: VariantInfo) -> Callable[[Any], bytes]:
    """Pack the arguments field by field; a failure names the variant and the field."""
    return _encoder(info.plan, _label(info.family.cls, info.cls), info.tag)


def _encoder(fields: Sequence[FieldPlan], label: str, tag: str) -> Callable[[Any], bytes]:
    plan = [(f.name, codec_of(f.wire).encode) for f in fields]

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
        except (TypeError, ValueError) as exc:
            raise fail(fname, exc) from exc
        return b"".join(parts)

    return encode


def _builder(cls: type[Any], label: str, tag: str) -> Callable[[dict[str, Any]], Any]:
    """Build a decoded variant from its values; a failure of ``__init__`` names the variant."""
    fast = builds_without_init(cls)
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

    return build


def general_decoder(info: VariantInfo) -> Callable[[bytes], Any]:
    """Unpack the arguments field by field; a failure names the variant and the field."""
    label = _label(info.family.cls, info.cls)
    return _decoder(info.plan, label, info.tag, _builder(info.cls, label, info.tag))


def _decoder(fields: Sequence[FieldPlan], label: str, tag: str,
             build: Callable[[dict[str, Any]], Any]) -> Callable[[bytes], Any]:
    plan = [(f.name, codec_of(f.wire).decode) for f in fields]

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
            except (TypeError, ValueError) as exc:
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


def builds_without_init(cls: type[Any]) -> bool:
    """Whether a decoded variant can be built by filling its ``__dict__`` (no validation)."""
    return not hasattr(cls, "__post_init__") and "__slots__" not in cls.__dict__


# ------------------------------------------------------------------------- generated codecs


def _plan_of(info: VariantInfo) -> tuple[FieldPlan, ...]:
    fields: list[FieldPlan] = []
    for f in info.fields:
        assert f.codec is not None
        fields.append(FieldPlan(f.name, f.codec.wire))
    return tuple(fields)


@dataclass(frozen=True, slots=True)
class ArgsCodec(Generic[T]):
    """The compiled argument codec of one variant (or of a plain dataclass, ``args_codec``).

    ``encode`` raises :class:`SerializationError` and ``decode``
    :class:`DeserializationError`, naming the field; ``serialize`` wraps the arguments in the
    variant's ``SerializedCast`` / ``SerializedCall``. ``fallback`` is the general codec that
    the compiled one hands unusual values and bad bytes to; ``source`` what it was compiled
    from (None when a field name cannot appear in source: then the general codec is used).
    """

    encode: Callable[[T], bytes]
    decode: Callable[[bytes], T]
    serialize: Callable[[T], SerializedMessage]
    fallback: Fallback[T]
    source: ArgsSource | None


def _compile_codec(plan: Sequence[FieldPlan], cls: type[T], label: str, tag: str,
                   is_call: bool) -> ArgsCodec[T]:
    """Compile the argument codec of ``plan`` for class ``cls`` (errors name ``label``)."""
    build = _builder(cls, label, tag)
    fallback: Fallback[T] = Fallback(_encoder(plan, label, tag), _decoder(plan, label, tag, build),
                                     build)
    serialized: Callable[[str, bytes], SerializedMessage] = (
        SerializedCall if is_call else SerializedCast
    )
    if not inlinable(plan):
        encode = fallback.encode

        def serialize(self: T) -> SerializedMessage:
            return serialized(tag, encode(self))

        return ArgsCodec(fallback.encode, fallback.decode, serialize, fallback, None)
    source = args_source(plan, prefix="_g", cls="_cls", fast_build=builds_without_init(cls))
    ns = materialize(source, plan, fallback, cls, {"_tag": tag, "_Serialized": serialized})
    where = f"<ractor_derive {label}>"
    return ArgsCodec(
        compile_function("encode_args", "msg", source.encode_lines(), ns, where),
        compile_function("decode_args", "args", source.decode, ns, where),
        compile_function("serialize", "msg", source.encode_lines("_Serialized(_tag, {})"), ns,
                         where),
        fallback,
        source,
    )


def args_codec(cls: type[T], *, tag: str | None = None, call: bool = False) -> ArgsCodec[T]:
    """The argument codec of a plain dataclass, as the derive compiles a variant's.

    For messages declared without the decorators (as ``ractor_cluster._demo``'s): the fields
    of ``cls``, in order, with their annotated types, as the arguments of the variant
    ``tag`` (default: the class name), a call if ``call``.

    Raises:
        MessageDeclarationError: ``cls`` is not a dataclass, or a field has no encoding.
    """
    if not dataclasses.is_dataclass(cls):
        raise MessageDeclarationError(f"{cls!r} is not a dataclass")
    hints = typing.get_type_hints(cls, include_extras=True)
    plan: list[FieldPlan] = []
    for field in dataclasses.fields(cls):
        try:
            plan.append(FieldPlan(field.name, wire_of(hints.get(field.name, field.type))))
        except TypeError as exc:
            raise MessageDeclarationError(f"{cls.__qualname__}.{field.name}: {exc}") from exc
    return _compile_codec(tuple(plan), cls, cls.__qualname__, tag or cls.__name__, call)


def _derive_codecs(info: VariantInfo) -> None:
    """Set ``info.encode_args`` / ``decode_args`` and the variant's own ``serialize``.

    Compiled from the variant's plan by ``_compile.args_source``, the same source that
    ``ractor-derive gen`` writes into generated modules.
    """
    codec = _compile_codec(info.plan, info.cls, _label(info.family.cls, info.cls), info.tag,
                           info.is_call)
    info.encode_args, info.decode_args = codec.encode, codec.decode
    info.fallback, info.source = codec.fallback, codec.source
    _set_serialize(info.cls, codec.serialize)


def _derive_init(info: VariantInfo, user_init: bool) -> None:
    """Give a cluster variant an ``__init__`` that checks each value against its wire type.

    The same work as the frozen dataclass's ``__init__`` (which it replaces) plus one cheap
    check per field; see ``_compile.init_check`` for what is left to serialization.
    """
    cls = info.cls
    plan = info.plan
    label = _label(info.family.cls, cls)
    tag = info.tag
    checks: list[Callable[[Any], None]] = []
    for f in plan:
        encode = codec_of(f.wire).encode

        def check(value: Any, name: str = f.name, encode: Callable[[Any], bytes] = encode) -> None:
            try:
                encode(value)
            except (SerializationError, TypeError, ValueError) as exc:
                raise SerializationError(
                    f"{label}.{name}: {exc}", variant=tag, field=name
                ) from exc

        checks.append(check)
    defaults = None if user_init or not inlinable(plan) else field_defaults(cls)
    if defaults is None:  # keep the dataclass __init__; check the values after it
        init = cls.__init__

        def checked_init(self: Any, *args: Any, **kwargs: Any) -> None:
            init(self, *args, **kwargs)
            for f, field_check in zip(plan, checks, strict=True):
                field_check(getattr(self, f.name))

        new_init: Callable[..., None] = checked_init
    else:
        ns: dict[str, Any] = {"_ractor_MISSING": FACTORY,
                              "_ractor_setattr": object.__setattr__}
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
        for i, (f, field_check) in enumerate(zip(plan, checks, strict=True)):
            ns[f"_ractor_check_{i}"] = field_check
            ns[f"_ractor_cls_{i}"] = f.wire.cls
            if defaults[i] == "value":
                ns[f"_ractor_default_{i}"] = fields[f.name].default
            elif defaults[i] == "factory":
                ns[f"_ractor_factory_{i}"] = fields[f.name].default_factory
        body = init_source(plan, defaults, hasattr(cls, "__post_init__"))
        new_init = compile_function("__init__", init_params(plan, defaults), body, ns,
                                    f"<ractor_derive {label}.__init__>")
    if defaults is not None:  # the dataclass __init__'s annotations, for signatures and tools
        new_init.__annotations__ = dict(getattr(cls.__init__, "__annotations__", {}))
    new_init.__qualname__ = f"{cls.__qualname__}.__init__"
    new_init.__module__ = cls.__module__
    cls.__init__ = new_init  # type: ignore[method-assign]


def _set_reply_codec(cls: type[Message], codec: Codec) -> None:
    """Give an rpc variant its own ``encode_reply`` / ``decode_reply``: the codec's, with
    errors named after the variant (unless the class defines them)."""
    encode, decode = codec.encode, codec.decode
    label = cls.__qualname__
    variant = cls.__name__

    def encode_reply(self: Any, value: Any) -> bytes:
        try:
            return encode(value)
        except (TypeError, ValueError) as exc:
            raise SerializationError(f"{label} reply: {exc}", variant=variant) from exc

    def decode_reply(self: Any, data: bytes) -> Any:
        try:
            return decode(data)
        except (TypeError, ValueError) as exc:
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
