"""A mypy plugin for apps built on ractor: checks what plain typing cannot.

Enable it in the app's mypy configuration::

    [tool.mypy]
    plugins = ["ractor_derive.mypy"]

Checks, with namespaced error codes:

- ``ractor-wrong-actor``: ``ActorRef[M].call(msg)`` with an rpc message that is not one of
  ``M``'s variants (plain typing accepts any ``Call[R]`` there).
- ``ractor-no-codec``: a variant of a ``@cluster_message`` family with a field whose type has
  no wire encoding (plain ``int | None``, ``dict``, ``list[bytes]``, arbitrary classes ...);
  at run time the same mistake fails at import with ``MessageDeclarationError``.

What has an encoding is read from the wire plan's rule tables (``ractor_derive._plan``), the
same ones the codecs are built from. The plugin sees types, not the ``Annotated`` markers
that mypy erases, so ``list[str]`` passes here as ``list[Char]`` would; the decorator then
refuses a plain ``list[str]`` at import.
"""

from __future__ import annotations

from collections.abc import Callable

from mypy.errorcodes import ErrorCode
from mypy.messages import format_type
from mypy.nodes import TypeInfo, Var
from mypy.plugin import ClassDefContext, MethodContext, Plugin
from mypy.subtypes import is_subtype
from mypy.types import (
    AnyType,
    Instance,
    NoneType,
    ProperType,
    Type,
    UnionType,
    get_proper_type,
)

from ._plan import LIST_ITEM_TYPES, MODEL_BASES, SCALAR_TYPES, USER_METHODS

__all__ = ["NO_CODEC", "WRONG_ACTOR", "RactorPlugin", "plugin"]

WRONG_ACTOR = ErrorCode("ractor-wrong-actor", "A message for an actor of another type", "ractor")
NO_CODEC = ErrorCode("ractor-no-codec", "A cluster message field without a wire codec", "ractor")

_CALL = "ractor_core._ref.ActorRef.call"
_CLUSTER = "ractor_derive._message.cluster_message"
_CODEC_SCALARS = {f"builtins.{tp.__name__}" for tp in SCALAR_TYPES if tp is not None}
_LIST_ITEMS = {f"builtins.{tp.__name__}" for tp in LIST_ITEM_TYPES}


def _check_call(ctx: MethodContext) -> Type:
    self_type = get_proper_type(ctx.type)
    if not isinstance(self_type, Instance) or not self_type.args or not ctx.arg_types:
        return ctx.default_return_type
    accepted = get_proper_type(self_type.args[0])
    if not isinstance(accepted, Instance | UnionType) or not ctx.arg_types[0]:
        return ctx.default_return_type  # Any, a type variable (generic code): nothing to check
    sent = ctx.arg_types[0][0]
    if not is_subtype(sent, accepted):
        options = ctx.api.options
        ctx.api.fail(
            f"{format_type(sent, options)} is not a message of this actor, which takes "
            f"{format_type(accepted, options)}",
            ctx.context,
            code=WRONG_ACTOR,
        )
    return ctx.default_return_type


def _has_codec(tp: Type) -> bool:
    proper: ProperType = get_proper_type(tp)
    if isinstance(proper, NoneType | AnyType):
        return True
    if isinstance(proper, UnionType):
        return False
    if not isinstance(proper, Instance):
        return False
    name = proper.type.fullname
    if name in _CODEC_SCALARS:
        return True
    if name == "builtins.list":
        if not proper.args:
            return False
        item = get_proper_type(proper.args[0])
        return isinstance(item, Instance) and item.type.fullname in _LIST_ITEMS
    info = proper.type
    if any(b.module_name.startswith(module) and b.name == base
           for module, base, _ in MODEL_BASES for b in info.mro):
        return True
    return all(info.get(method) is not None for method in USER_METHODS)


def _family_is_cluster(info: TypeInfo) -> bool:
    # the flag set by the decorator hook survives mypy's cache (decorator nodes do not)
    return any(base.metadata.get("ractor", {}).get("cluster") for base in info.mro[1:])


def _mark_cluster_family(ctx: ClassDefContext) -> None:
    ctx.cls.info.metadata["ractor"] = {"cluster": True}


def _check_variant(ctx: ClassDefContext) -> None:
    info = ctx.cls.info
    if not _family_is_cluster(info):
        return
    for name, node in info.names.items():
        var = node.node
        if not isinstance(var, Var) or var.is_classvar or var.type is None:
            continue
        if name.startswith("__"):
            continue
        if not _has_codec(var.type):
            shown = format_type(var.type, ctx.api.options)
            ctx.api.fail(
                f'Field "{name}" of cluster message "{info.name}" has type {shown}, '
                "which has no wire encoding",
                ctx.cls,
                code=NO_CODEC,
            )


class RactorPlugin(Plugin):
    """The plugin: a method hook on ``ActorRef.call`` and a class hook on message variants."""

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        """Check the message of every ``ActorRef.call``."""
        return _check_call if fullname == _CALL else None

    def get_class_decorator_hook(
        self, fullname: str
    ) -> Callable[[ClassDefContext], None] | None:
        """Remember which families are cluster families (in mypy's cache too)."""
        return _mark_cluster_family if fullname == _CLUSTER else None

    def get_base_class_hook(self, fullname: str) -> Callable[[ClassDefContext], None] | None:
        """Check the fields of classes deriving from a cluster family."""
        sym = self.lookup_fully_qualified(fullname)
        if sym is not None and isinstance(sym.node, TypeInfo) and any(
            b.fullname == "ractor_derive._message.Message" for b in sym.node.mro
        ):
            return _check_variant
        return None


def plugin(version: str) -> type[Plugin]:
    """mypy's entry point."""
    del version
    return RactorPlugin

