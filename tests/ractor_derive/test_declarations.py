"""Declaring message families: mistakes fail when the class is created, naming class and field.

This module does not use ``from __future__ import annotations``: its families are declared
inside the tests, and their field annotations must be live objects, not strings to resolve.
"""

import dataclasses
import re
import types
import typing
from typing import Annotated, Any

import pytest

from ractor_core import Call, RactorError, RpcReplyPort
from ractor_core.transport import SerializedCall, SerializedCast
from ractor_derive import (
    F64,
    I32,
    U8,
    U16,
    DeserializationError,
    IntKind,
    Message,
    MessageDeclarationError,
    SerializationError,
    cluster_message,
    local_message,
)


class Opaque:
    """A class with no wire encoding: no into_bytes/from_bytes, no protobuf, no pydantic."""


UNCODABLE: dict[str, Any] = {
    "dict[str, int]": dict[str, int],
    "int | None": int | None,
    "Optional[int]": typing.Optional[int],  # noqa: UP045
    "list[str]": list[str],
    "list[list[U8]]": list[list[U8]],
    "bare list": list,
    "tuple[int, int]": tuple[int, int],
    "arbitrary class": Opaque,
    "object": object,
    "u8 marker on str": Annotated[str, IntKind(8, False)],
}
"""Field types that have no Rust ``BytesConvertable`` encoding."""

SAMPLE_VALUES: dict[str, Any] = {
    "dict[str, int]": {"a": 1},
    "int | None": None,
    "Optional[int]": 3,
    "list[str]": ["a", "b"],
    "list[list[U8]]": [[1], [2, 3]],
    "bare list": [object()],
    "tuple[int, int]": (1, 2),
    "arbitrary class": Opaque(),
    "object": object(),
    "u8 marker on str": "not an int",
}


def _names(message: str, *parts: str) -> bool:
    """Whether ``message`` names each of ``parts`` as a whole dotted word, in order."""
    pattern = r".*".join(rf"(?<![\w]){re.escape(part)}(?![\w])" for part in parts)
    return re.search(pattern, message) is not None


def be64(n: int) -> bytes:
    return n.to_bytes(8, "big")


# ------------------------------------------------------------------ fields without a codec


@pytest.mark.parametrize("annotation", list(UNCODABLE.values()), ids=list(UNCODABLE))
def test_a_cluster_field_without_a_codec_fails_when_the_variant_is_declared(
    annotation: Any,
) -> None:
    @cluster_message
    class Orders(Message):
        pass

    with pytest.raises(MessageDeclarationError) as caught:

        class Place(Orders):
            count: U8
            payload: annotation

    assert _names(str(caught.value), "Orders", "Place.payload"), str(caught.value)
    assert isinstance(caught.value, TypeError)
    assert isinstance(caught.value, RactorError)
    info = Orders.__ractor_family_info__
    assert info is not None and not info.casts and not info.calls  # nothing half-registered


@pytest.mark.parametrize("label", list(UNCODABLE))
def test_the_same_field_type_is_fine_in_a_local_family(label: str) -> None:
    annotation = UNCODABLE[label]

    @local_message
    class Orders(Message):
        pass

    class Place(Orders):
        count: U8
        payload: annotation

    value = SAMPLE_VALUES[label]
    message = Place(count=1, payload=value)
    assert message.payload is value
    variant = Place.__ractor_variant__
    assert variant is not None
    assert [(f.name, f.codec) for f in variant.fields] == [("count", None), ("payload", None)]


def test_a_cluster_field_whose_type_cannot_be_resolved_fails_when_declared() -> None:
    @cluster_message
    class Orders(Message):
        pass

    with pytest.raises(MessageDeclarationError) as caught:

        class Place(Orders):
            payload: "NotDefinedAnywhere"  # type: ignore[name-defined]  # noqa: F821

    assert _names(str(caught.value), "Orders", "Place"), str(caught.value)
    assert "NotDefinedAnywhere" in str(caught.value)


def test_a_list_field_with_two_item_types_fails_as_a_declaration_error() -> None:
    @cluster_message
    class Orders(Message):
        pass

    with pytest.raises(MessageDeclarationError) as caught:

        class Place(Orders):
            payload: list[int, str]  # type: ignore[type-arg]

    assert _names(str(caught.value), "Place.payload")


@pytest.mark.parametrize("label", ["dict[str, int]", "list[str]", "tuple[int, int]"])
def test_the_error_shows_the_whole_annotation(label: str) -> None:
    @cluster_message
    class Orders(Message):
        pass

    with pytest.raises(MessageDeclarationError) as caught:

        class Place(Orders):
            payload: UNCODABLE[label]  # type: ignore[valid-type]

    assert label in str(caught.value), str(caught.value)


def _declare_in_a_function() -> type[Message]:
    @cluster_message
    class Fam(Message):
        pass

    class Broken(Fam):
        payload: dict[str, int]

    return Fam  # pragma: no cover


def test_an_error_in_a_nested_scope_names_family_variant_and_field_once() -> None:
    with pytest.raises(MessageDeclarationError) as caught:
        _declare_in_a_function()
    message = str(caught.value)
    assert "_declare_in_a_function.<locals>.Fam.Broken.payload:" in message, message
    assert message.count("<locals>") == 1, message


# ------------------------------------------------------------------ tags


@pytest.mark.parametrize(
    ("first", "second"),
    [("Same", "Same"), (None, "First"), ("Second", None)],
    ids=["both tag=", "tag= repeats a class name", "class name repeats a tag="],
)
def test_two_variants_with_one_tag_fail_when_the_second_is_declared(
    first: str | None, second: str | None
) -> None:
    @cluster_message
    class Orders(Message):
        pass

    class First(Orders, tag=first):
        pass

    with pytest.raises(MessageDeclarationError) as caught:

        class Second(Orders, tag=second):
            pass

    tag = first or "First"
    assert _names(str(caught.value), "Orders", "Second", repr(tag), "First"), str(caught.value)
    info = Orders.__ractor_family_info__
    assert info is not None and info.casts[tag].cls is First


def test_a_cast_and_a_call_cannot_share_a_tag() -> None:
    @cluster_message
    class Orders(Message):
        pass

    class Status(Orders):
        pass

    with pytest.raises(MessageDeclarationError) as caught:

        class Ask(Orders, Call[bool], tag="Status"):
            pass

    assert _names(str(caught.value), "Ask", "'Status'"), str(caught.value)


def test_a_duplicate_tag_also_fails_in_a_local_family() -> None:
    @local_message
    class Orders(Message):
        pass

    class First(Orders, tag="X"):
        pass

    with pytest.raises(MessageDeclarationError, match="'X'"):

        class Second(Orders, tag="X"):
            pass


def test_a_tag_that_is_not_a_str_fails() -> None:
    @cluster_message
    class Orders(Message):
        pass

    with pytest.raises(MessageDeclarationError) as caught:

        class Place(Orders, tag=7):  # type: ignore[arg-type]
            pass

    assert _names(str(caught.value), "Place"), str(caught.value)


def test_tag_on_a_class_outside_any_family_fails() -> None:
    with pytest.raises(MessageDeclarationError) as caught:

        class Loose(Message, tag="Loose"):
            pass

    assert _names(str(caught.value), "Loose"), str(caught.value)
    assert "tag=" in str(caught.value)


def test_a_tag_override_is_the_variant_name_on_the_wire() -> None:
    @cluster_message
    class Counter(Message):
        pass

    class Inc(Counter, tag="Increment"):
        by: U16

    message = Inc(by=258).serialize()
    assert message == SerializedCast("Increment", be64(2) + b"\x01\x02")
    assert Counter.deserialize(message) == Inc(by=258)
    with pytest.raises(DeserializationError, match="unknown variant 'Inc'"):
        Counter.deserialize(SerializedCast("Inc", message.args))
    info = Counter.__ractor_family_info__
    assert info is not None and list(info.casts) == ["Increment"]


# ------------------------------------------------------------------ reply ports and replies


@pytest.mark.parametrize("decorate", [cluster_message, local_message], ids=["cluster", "local"])
@pytest.mark.parametrize("rpc", [False, True], ids=["cast", "call"])
@pytest.mark.parametrize("port_type", [RpcReplyPort[int], RpcReplyPort], ids=["typed", "bare"])
def test_a_reply_port_field_fails_in_a_cast_and_in_a_call_variant(
    decorate: Any, rpc: bool, port_type: Any
) -> None:
    @decorate
    class Orders(Message):
        pass

    with pytest.raises(MessageDeclarationError) as caught:
        if rpc:

            class Place(Orders, Call[int]):
                key: str
                port: port_type

        else:

            class Place(Orders):  # type: ignore[no-redef]
                key: str
                port: port_type

    assert _names(str(caught.value), "Orders", "Place.port"), str(caught.value)
    assert "reply port" in str(caught.value)


@pytest.mark.parametrize("reply", [dict, dict[str, int], int | None, list[str], Opaque], ids=repr)
def test_an_rpc_variant_with_an_uncodable_reply_type_fails(reply: Any) -> None:
    @cluster_message
    class Orders(Message):
        pass

    with pytest.raises(MessageDeclarationError) as caught:

        class Ask(Orders, Call[reply]):  # type: ignore[valid-type]
            key: str

    assert _names(str(caught.value), "Orders", "Ask"), str(caught.value)
    assert "reply type" in str(caught.value)
    info = Orders.__ractor_family_info__
    assert info is not None and not info.calls


def test_an_rpc_variant_without_a_reply_type_fails_in_a_cluster_family() -> None:
    @cluster_message
    class Orders(Message):
        pass

    with pytest.raises(MessageDeclarationError) as caught:

        class Ask(Orders, Call):  # type: ignore[type-arg]
            pass

    assert _names(str(caught.value), "Ask"), str(caught.value)
    assert "Call[R]" in str(caught.value)


def test_an_uncodable_reply_type_is_fine_in_a_local_family() -> None:
    @local_message
    class Orders(Message):
        pass

    class Ask(Orders, Call[dict]):  # type: ignore[type-arg]
        key: str

    variant = Ask.__ractor_variant__
    assert variant is not None and variant.is_call and variant.reply_codec is None
    assert Ask(key="k") == Ask(key="k")


def test_a_call_variant_field_named_reply_fails_when_declared() -> None:
    @cluster_message
    class Orders(Message):
        pass

    with pytest.raises(MessageDeclarationError):

        class Ask(Orders, Call[bool]):
            reply: U8  # type: ignore[assignment]


@pytest.mark.parametrize("name", ["serialize", "deserialize"])
def test_a_field_named_after_a_message_method_fails_when_declared(name: str) -> None:
    @cluster_message
    class Orders(Message):
        pass

    with pytest.raises(MessageDeclarationError):
        type("Place", (Orders,), {"__annotations__": {name: U8}})


@pytest.mark.parametrize(
    "name", ["reply", "serialize", "deserialize", "encode_reply", "decode_reply"]
)
def test_the_error_for_a_taken_field_name_names_the_class_and_the_field(name: str) -> None:
    @cluster_message
    class Orders(Message):
        pass

    with pytest.raises(MessageDeclarationError) as caught:
        types.new_class(
            "Ask", (Orders, Call[bool]), exec_body=lambda ns: ns.update(__annotations__={name: U8})
        )
    assert _names(str(caught.value), "Orders", f"Ask.{name}"), str(caught.value)
    info = Orders.__ractor_family_info__
    assert info is not None and not info.calls


def test_a_field_cannot_hide_an_attribute_of_the_family() -> None:
    @cluster_message
    class Orders(Message):
        def describe(self) -> str:
            return "an order"

    with pytest.raises(MessageDeclarationError) as caught:

        class Place(Orders):
            describe: str  # type: ignore[assignment]

    assert _names(str(caught.value), "Orders", "Place.describe"), str(caught.value)


def test_a_cast_variant_may_have_a_field_named_reply() -> None:
    @cluster_message
    class Orders(Message):
        pass

    class Answer(Orders):
        reply: U8

    message = Answer(reply=7)
    assert message.reply == 7
    assert Orders.deserialize(message.serialize()) == message


def test_a_field_inherited_from_a_dataclass_base_keeps_its_default() -> None:
    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Traced:
        trace: str = ""

    @cluster_message
    class Orders(Message):
        pass

    class Place(Orders, Traced):
        count: U8

    message = Place(count=2)
    assert message.trace == ""
    assert message.serialize() == SerializedCast("Place", be64(0) + be64(1) + b"\x02")
    assert Orders.deserialize(Place(count=2, trace="t").serialize()) == Place(count=2, trace="t")


# ------------------------------------------------------------------ family structure


def test_subclassing_a_variant_fails() -> None:
    @cluster_message
    class Orders(Message):
        pass

    class Place(Orders):
        count: U8

    with pytest.raises(MessageDeclarationError) as caught:

        class BigPlace(Place):
            extra: U8

    assert _names(str(caught.value), "BigPlace", "Place"), str(caught.value)
    info = Orders.__ractor_family_info__
    assert info is not None and list(info.casts) == ["Place"]


@pytest.mark.parametrize("decorate", [cluster_message, local_message], ids=["cluster", "local"])
def test_decorating_a_class_that_is_not_a_message_fails(decorate: Any) -> None:
    class NotAMessage:
        pass

    with pytest.raises(MessageDeclarationError) as caught:
        decorate(NotAMessage)
    assert _names(str(caught.value), "NotAMessage"), str(caught.value)
    assert not hasattr(NotAMessage, "__ractor_family_info__")


@pytest.mark.parametrize("decorate", [cluster_message, local_message], ids=["cluster", "local"])
def test_decorating_something_that_is_not_a_class_fails(decorate: Any) -> None:
    def handler() -> None:
        pass

    with pytest.raises(MessageDeclarationError, match="handler"):
        decorate(handler)


def test_a_family_cannot_be_declared_inside_another_family() -> None:
    @cluster_message
    class Orders(Message):
        pass

    class Inner(Orders):
        pass

    with pytest.raises(MessageDeclarationError) as caught:
        local_message(Inner)
    assert _names(str(caught.value), "Inner"), str(caught.value)


def test_an_undecorated_message_subclass_is_no_family_and_declares_nothing() -> None:
    class Draft(Message):
        pass

    class Item(Draft):
        n: int

    assert Draft.__ractor_family_info__ is None
    assert Item.__ractor_variant__ is None
    assert not dataclasses.is_dataclass(Item)


# ------------------------------------------------------------------ variants at run time


@cluster_message
class Shapes(Message):
    """A family for the run-time behaviour of variants."""


class Circle(Shapes):
    radius: U16


class Square(Shapes):
    radius: U16  # the same field as Circle, on purpose


class Box(Shapes, tag="Rect"):
    width: U8
    height: U8
    depth: I32


class Scale(Shapes):
    factor: F64


@local_message
class Notes(Message):
    """A local family: its variants never leave the process."""


class Jot(Notes):
    text: str


def test_variants_are_frozen() -> None:
    circle = Circle(radius=3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        circle.radius = 4  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        del circle.radius
    with pytest.raises(dataclasses.FrozenInstanceError):
        Jot(text="a").text = "b"  # type: ignore[misc]
    assert circle.radius == 3


def test_variants_take_keyword_arguments_only() -> None:
    with pytest.raises(TypeError):
        Circle(3)  # type: ignore[misc]
    with pytest.raises(TypeError):
        Box(1, 2, depth=3)  # type: ignore[misc]
    with pytest.raises(TypeError):
        Circle()  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        Circle(radius=1, diameter=2)  # type: ignore[call-arg]
    assert Box(width=1, height=2, depth=3).depth == 3


def test_variants_compare_and_hash_by_value() -> None:
    assert Circle(radius=3) == Circle(radius=3)
    assert hash(Circle(radius=3)) == hash(Circle(radius=3))
    assert Circle(radius=3) != Circle(radius=4)
    assert Circle(radius=3) != Square(radius=3)  # the variant is part of the value
    assert {Circle(radius=3), Circle(radius=3), Square(radius=3)} == {
        Circle(radius=3),
        Square(radius=3),
    }
    assert Jot(text="a") == Jot(text="a")


def test_serialize_on_a_local_family_raises_serialization_error() -> None:
    with pytest.raises(SerializationError, match="@cluster_message"):
        Jot(text="a").serialize()


def test_deserialize_on_a_local_family_raises_deserialization_error() -> None:
    with pytest.raises(DeserializationError, match="Notes"):
        Notes.deserialize(SerializedCast("Jot", be64(1) + b"a"))


def test_a_cluster_variant_serializes_its_fields_in_declaration_order() -> None:
    message = Box(width=1, height=2, depth=-1).serialize()
    assert message == SerializedCast(
        "Rect", be64(1) + b"\x01" + be64(1) + b"\x02" + be64(4) + b"\xff\xff\xff\xff"
    )
    assert Shapes.deserialize(message) == Box(width=1, height=2, depth=-1)


def test_a_variant_deserializes_itself_only() -> None:
    circle = Circle(radius=3)
    assert Circle.deserialize(circle.serialize()) == circle
    assert Shapes.deserialize(circle.serialize()) == circle
    with pytest.raises(DeserializationError) as caught:
        Square.deserialize(circle.serialize())
    assert caught.value.variant == "Circle"
    assert _names(str(caught.value), "Shapes.Square", "'Circle'"), str(caught.value)
    with pytest.raises(DeserializationError, match="unknown variant"):
        Square.deserialize(SerializedCast("Nothing", b""))


def test_a_variant_refuses_a_call_of_another_variant() -> None:
    @cluster_message
    class Questions(Message):
        pass

    class Ask(Questions, Call[bool]):
        pass

    class Tell(Questions, Call[bool]):
        pass

    with pytest.raises(DeserializationError) as caught:
        Tell.deserialize(SerializedCall("Ask", b""))
    assert caught.value.variant == "Ask"
    asked = Ask.deserialize(SerializedCall("Ask", b""))
    assert type(asked) is Ask
    assert asked.encode_reply(True) == b"\x01"
    assert asked.decode_reply(b"\x01") is True


def test_serialization_error_names_the_variant_and_field_of_an_out_of_range_value() -> None:
    with pytest.raises(SerializationError) as caught:
        Box(width=1, height=300, depth=0).serialize()
    error = caught.value
    assert error.variant == "Rect"  # the tag on the wire
    assert error.field == "height"
    assert _names(str(error), "Shapes", "Box.height"), str(error)
    assert "300" in str(error) and "u8" in str(error)
    assert isinstance(error, ValueError) and isinstance(error, RactorError)


def test_serialization_error_names_the_field_of_a_single_field_variant() -> None:
    with pytest.raises(SerializationError) as caught:
        Circle(radius=-1).serialize()
    assert (caught.value.variant, caught.value.field) == ("Circle", "radius")


@pytest.mark.parametrize("value", ["3", 3.0, True, None])
def test_serialization_error_names_the_field_of_a_value_of_the_wrong_type(value: Any) -> None:
    with pytest.raises(SerializationError) as caught:
        Box(width=1, height=2, depth=value).serialize()
    assert (caught.value.variant, caught.value.field) == ("Rect", "depth")


def test_serialization_error_names_the_field_of_an_int_too_large_for_a_float() -> None:
    with pytest.raises(SerializationError) as caught:
        Scale(factor=2**1024).serialize()
    assert (caught.value.variant, caught.value.field) == ("Scale", "factor")
