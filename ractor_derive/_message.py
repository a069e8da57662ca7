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
variant: ``class Inc(CounterMsg, tag="Increment")``.

A cluster variant serializes to ``SerializedCast`` / ``SerializedCall`` with its data fields
packed as in Rust (each field: be64 length + the field's bytes); its reply is encoded raw.
"""

from __future__ import annotations

import dataclasses
import struct
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Self, TypeVar, dataclass_transform

from ractor_core import (
    Call,
    RpcReplyPort,
    SerializedCall,
    SerializedCast,
    SerializedMessage,
    bind_reply,
    decoding_port,
    encoding_port,
)

from ._codecs import Codec, CodecError, codec_for
from ._errors import DeserializationError, MessageDeclarationError, SerializationError

__all__ = ["FamilyInfo", "FieldInfo", "Message", "VariantInfo", "cluster_message", "local_message"]

T = TypeVar("T")

_LEN = struct.Struct(">Q")
_pack_len = _LEN.pack
_unpack_len = _LEN.unpack_from


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
        if cls.__ractor_variant__ is not None:
            raise MessageDeclarationError(
                f"{cls.__qualname__}: variants cannot be subclassed "
                f"({cls.__ractor_variant__.cls.__qualname__} is a variant)"
            )
        dataclasses.dataclass(frozen=True, kw_only=True)(cls)
        _add_variant(family, cls, tag if tag is not None else cls.__name__)

    def serialize(self) -> SerializedMessage:
        """Serialize this variant for another node.

        Raises:
            SerializationError: the family is local-only, or a field does not fit its type.
            ReplyPortError: an rpc variant without a reply port (not sent with ``call``).
        """
        info = type(self).__ractor_variant__
        if info is None or info.encode_args is None:
            raise SerializationError(
                f"{type(self).__qualname__} is not a cluster message (declare its family "
                "with @cluster_message)"
            )
        args = info.encode_args(self)
        if info.is_call:
            assert info.reply_codec is not None
            port: RpcReplyPort[Any] = self.reply  # type: ignore[attr-defined]
            return SerializedCall(info.tag, args, decoding_port(port, info.reply_codec.decode))
        return SerializedCast(info.tag, args)

    @classmethod
    def deserialize(cls, message: SerializedMessage, /) -> Self:
        """Rebuild a variant of this family from its serialized form.

        Raises:
            DeserializationError: unknown tag, cast/call mismatch, or malformed arguments.
        """
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
        assert info.decode_args is not None
        obj = info.decode_args(message.args)
        if isinstance(message, SerializedCall):
            assert info.reply_codec is not None
            bind_reply(obj, encoding_port(message.reply, info.reply_codec.encode))
        return typing.cast(Self, obj)


def _family_decorator(cluster: bool) -> Callable[[type[T]], type[T]]:
    kind = "@cluster_message" if cluster else "@local_message"

    def decorate(cls: type[T]) -> type[T]:
        if not (isinstance(cls, type) and issubclass(cls, Message)):
            raise MessageDeclarationError(
                f"{kind} decorates a class that subclasses ractor_derive.Message, "
                f"got {cls!r}"
            )
        if cls.__ractor_family_info__ is not None:
            raise MessageDeclarationError(
                f"{cls.__qualname__}: a family cannot be declared inside another family"
            )
        cls.__ractor_family_info__ = FamilyInfo(cls, cluster)
        cls.__ractor_family__ = cls if cluster else None  # type: ignore[attr-defined]
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


def _reply_type_of(cls: type[Any]) -> tuple[bool, Any]:
    for klass in cls.__mro__:
        for base in getattr(klass, "__orig_bases__", ()):
            if typing.get_origin(base) is Call:
                (reply,) = typing.get_args(base)
                return True, reply
    return issubclass(cls, Call), Any


def _is_reply_port(tp: Any) -> bool:
    return tp is RpcReplyPort or typing.get_origin(tp) is RpcReplyPort


def _add_variant(family: FamilyInfo, cls: type[Message], tag: str) -> None:
    name = f"{family.cls.__qualname__}.{cls.__qualname__}"
    if not isinstance(tag, str):
        raise MessageDeclarationError(f"{name}: tag must be a str, got {tag!r}")
    is_call, reply_type = _reply_type_of(cls)
    try:
        hints = typing.get_type_hints(cls, include_extras=True)
    except NameError as exc:
        raise MessageDeclarationError(
            f"{name}: a field type cannot be resolved ({exc}); define it before the variant"
        ) from exc
    fields = []
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
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
                f"{name}: tag {tag!r} is already used by "
                f"{family.cls.__qualname__}.{table[tag].cls.__qualname__}"
            )
    info = VariantInfo(cls, tag, tuple(fields), is_call, reply_type, reply_codec, family)
    if family.cluster:
        info.encode_args = _make_encoder(info)
        info.decode_args = _make_decoder(info)
    cls.__ractor_variant__ = info
    (family.calls if is_call else family.casts)[tag] = info


def _make_encoder(info: VariantInfo) -> Callable[[Any], bytes]:
    plan = [(f.name, f.codec.encode) for f in info.fields if f.codec is not None]
    label = f"{info.family.cls.__qualname__}.{info.cls.__qualname__}"

    def fail(obj: Any, field: str, exc: Exception) -> SerializationError:
        return SerializationError(
            f"{label}.{field}: {exc}", variant=info.tag, field=field
        )

    if not plan:
        return lambda obj: b""
    if len(plan) == 1:
        ((fname, fencode),) = plan

        def encode_one(obj: Any) -> bytes:
            try:
                data = fencode(getattr(obj, fname))
            except (CodecError, TypeError, ValueError) as exc:
                raise fail(obj, fname, exc) from exc
            return _pack_len(len(data)) + data

        return encode_one

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
            raise fail(obj, fname, exc) from exc
        return b"".join(parts)

    return encode


def _make_decoder(info: VariantInfo) -> Callable[[bytes], Any]:
    cls = info.cls
    plan = [(f.name, f.codec.decode) for f in info.fields if f.codec is not None]
    label = f"{info.family.cls.__qualname__}.{cls.__qualname__}"
    tag = info.tag
    fast = not hasattr(cls, "__post_init__") and "__slots__" not in cls.__dict__
    new = object.__new__

    def build(values: dict[str, Any]) -> Any:
        if fast:
            obj = new(cls)
            obj.__dict__.update(values)
            return obj
        return cls(**values)

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
                    f"{label}.{fname}: length {length} runs past the end "
                    f"({size - pos} bytes left)",
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
