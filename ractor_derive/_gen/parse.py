"""Read declarations: import a source module and describe its families as IR.

The same declarations the decorators read; no second schema language. Mistakes come out as
:class:`GenError` with ``file:line`` and one sentence, never a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import re
import sys
import traceback
import types
import typing
from pathlib import Path
from typing import Any

from .._errors import GenError, MessageDeclarationError
from .._message import FamilyInfo, Message, VariantInfo, builds_without_init
from .._plan import wire_of
from .._types import CharKind, FloatKind, IntKind
from .ir import FamilyIR, FieldIR, ModuleIR, VariantIR

__all__ = ["GenError", "load"]

_INT_NAMES = {(k.bits, k.signed): k.rust.upper() for k in (
    IntKind(b, s) for b in (8, 16, 32, 64, 128) for s in (False, True))}


def _relative(path: Path) -> str:
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def _import(source: str) -> tuple[types.ModuleType, Path]:
    """Import ``source``: a path to a .py file, or a dotted module name."""
    path = Path(source)
    if source.endswith(".py") or path.is_file():
        if not path.is_file():
            raise GenError(f"{source}:1", "no such file")
        name = _module_name(path)
        if name in sys.modules:
            module = sys.modules[name]
        else:
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise GenError(f"{source}:1", "cannot be read as a Python module")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                del sys.modules[name]
                raise
        return module, path
    try:
        module = importlib.import_module(source)
    except ModuleNotFoundError as exc:
        raise GenError(f"{source}:1", f"cannot import the module: {exc}") from None
    file = getattr(module, "__file__", None)
    if file is None:
        raise GenError(f"{source}:1", "the module has no source file")
    return module, Path(file)


def _module_name(path: Path) -> str:
    """The dotted name under which a file imports from the working directory."""
    rel = path.resolve()
    try:
        rel = rel.relative_to(Path.cwd().resolve())
    except ValueError:
        return rel.stem
    parts = list(rel.with_suffix("").parts)
    return ".".join(parts) if all(p.isidentifier() for p in parts) else rel.stem


def _where_failed(exc: BaseException, path: Path) -> str:
    target = str(path.resolve())
    line = 1
    for frame in traceback.extract_tb(exc.__traceback__):
        if str(Path(frame.filename).resolve()) == target and frame.lineno:
            line = frame.lineno
    return f"{_relative(path)}:{line}"


def load(source: str) -> ModuleIR:
    """Import ``source`` and describe its message families.

    Raises:
        GenError: the source cannot be read, or declares something that cannot be generated.
    """
    cwd = str(Path.cwd())
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module, path = _import(source)
    except GenError:
        raise
    except MessageDeclarationError as exc:
        raise GenError(_where_failed(exc, Path(source)), str(exc)) from None
    except SyntaxError as exc:
        raise GenError(f"{_relative(Path(exc.filename or source))}:{exc.lineno or 1}",
                       f"syntax error: {exc.msg}") from None
    except Exception as exc:
        raise GenError(_where_failed(exc, Path(source)),
                       f"importing the source failed: {type(exc).__name__}: {exc}") from None
    rel = _relative(path)
    _SOURCE.append(module)
    try:
        return _describe(module, path, rel)
    finally:
        _SOURCE.pop()


def _describe(module: types.ModuleType, path: Path, rel: str) -> ModuleIR:
    families = [
        obj
        for name, obj in vars(module).items()
        if isinstance(obj, type)
        and issubclass(obj, Message)
        and obj.__dict__.get("__ractor_family_info__") is not None
        and obj.__module__ == module.__name__
        and obj.__name__ == name
    ]
    if not families:
        raise GenError(f"{rel}:1", "no @cluster_message or @local_message family is declared "
                                   "at the top level of this module")
    families.sort(key=lambda f: _line(f))
    derive_names: set[str] = set()
    extra: set[tuple[str, str]] = set()
    out: list[FamilyIR] = []
    seen_helpers: dict[str, str] = {}
    for family in families:
        info: FamilyInfo = family.__dict__["__ractor_family_info__"]
        variants: list[VariantIR] = []
        for variant in info.variants:
            if getattr(module, variant.cls.__name__, None) is not variant.cls:
                raise GenError(
                    f"{rel}:{_line(family)}",
                    f"{family.__name__}.{variant.cls.__name__} is not a top-level name of this "
                    f"module (declared in {variant.cls.__module__}); declare a family's "
                    "variants at the top level of the family's module",
                )
            v = _variant(variant, info.cluster, derive_names, extra, rel)
            for helper in (f"cast_{v.snake}", f"call_{v.snake}", f"encode_{v.snake}"):
                owner = f"{family.__name__}.{v.class_name}"
                if helper in seen_helpers and seen_helpers[helper] != owner:
                    raise GenError(
                        f"{rel}:{v.line}",
                        f"name clash: {owner} and {seen_helpers[helper]} both generate "
                        f"{helper}()",
                    )
                seen_helpers[helper] = owner
            variants.append(v)
        ref_type = _alias(module, info) or family.__name__
        doc = (inspect.getdoc(family) or f"Messages of {family.__name__}.").splitlines()[0]
        out.append(FamilyIR(family.__name__, info.cluster, doc, tuple(variants), ref_type,
                            _line(family)))
    taken: dict[str, str] = {f.name: module.__name__ for f in out}
    taken.update({v.class_name: module.__name__ for f in out for v in f.variants})
    for origin, name in sorted(extra):
        if name in taken and taken[name] != origin:
            raise GenError(
                f"{rel}:1",
                f"two types named {name!r} ({taken[name]}.{name} and {origin}.{name}) are "
                "used: the generated module would import one over the other; rename one",
            )
        taken[name] = origin
    return ModuleIR(
        source=rel,
        module=module.__name__,
        stem=path.stem,
        families=tuple(out),
        derive_names=tuple(sorted(derive_names)),
        extra_imports=tuple(sorted(extra)),
    )


def _line(obj: Any) -> int:
    declared = obj.__dict__.get("__ractor_line__") if isinstance(obj, type) else None
    if isinstance(declared, int):
        return declared
    try:
        return inspect.getsourcelines(obj)[1]
    except (OSError, TypeError):
        return 1


def _alias(module: types.ModuleType, info: FamilyInfo) -> str | None:
    """The module-level union alias of exactly the family's variants, if one is declared."""
    wanted = {v.cls for v in info.variants}
    for name, value in sorted(vars(module).items()):
        is_union = isinstance(value, types.UnionType) or typing.get_origin(value) is typing.Union
        if is_union and set(typing.get_args(value)) == wanted:
            return name
    return None


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _variant(
    info: VariantInfo, cluster: bool, derive: set[str], extra: set[tuple[str, str]], rel: str
) -> VariantIR:
    fields = tuple(
        _field(f.name, f.annotation, cluster, derive, extra, rel, info) for f in info.fields
    )
    reply = None
    if info.is_call:
        reply = _field("reply", info.reply_type, cluster, derive, extra, rel, info)
    fast = cluster and builds_without_init(info.cls)
    return VariantIR(info.cls.__name__, info.tag, _snake(info.cls.__name__), fields, reply,
                     _line(info.cls), fast)


def _renderable(tp: Any) -> bool:
    """Whether ``_py_type`` can write the annotation as importable source text."""
    if tp is None or tp is type(None) or tp is Any:
        return True
    if typing.get_origin(tp) is typing.Annotated:
        return True
    origin = typing.get_origin(tp)
    if origin is not None:
        if origin not in (list, dict, set, frozenset, tuple, typing.Union, types.UnionType):
            return False
        return all(a is not Ellipsis and _renderable(a) for a in typing.get_args(tp))
    if isinstance(tp, type):
        home = sys.modules.get(tp.__module__ or "")
        return tp.__module__ == "builtins" or (
            home is not None and getattr(home, tp.__name__, None) is tp
        ) or (bool(_SOURCE) and getattr(_SOURCE[-1], tp.__name__, None) is tp)
    return False


def _field(
    name: str,
    annotation: Any,
    cluster: bool,
    derive: set[str],
    extra: set[tuple[str, str]],
    rel: str,
    info: VariantInfo,
) -> FieldIR:
    where = f"{rel}:{_line(info.cls)}"
    if not _renderable(annotation):
        if cluster:
            raise GenError(where, f"{info.cls.__name__}.{name}: the type {annotation!r} cannot "
                                  "be imported by name, so it cannot be generated")
        return FieldIR(name, "Any", "", None)  # local: typed loosely
    py = _py_type(annotation, derive, extra)
    if not cluster:
        return FieldIR(name, py, "", None)
    try:
        wire = wire_of(annotation)
    except TypeError as exc:  # the decorator would have refused it already
        raise GenError(f"{rel}:{_line(info.cls)}", str(exc)) from None
    return FieldIR(name, py, wire.rust_type, wire)


_SOURCE: list[types.ModuleType] = []  # the module being read (set by load)


def _py_type(tp: Any, derive: set[str], extra: set[tuple[str, str]]) -> str:
    """The annotation as source text, noting the names it needs."""
    if typing.get_origin(tp) is typing.Annotated:
        base, *meta = typing.get_args(tp)
        for marker in meta:
            if isinstance(marker, IntKind):
                name = _INT_NAMES[(marker.bits, marker.signed)]
            elif isinstance(marker, FloatKind):
                name = f"F{marker.bits}"
            elif isinstance(marker, CharKind):
                name = "Char"
            else:
                continue
            derive.add(name)
            return name
        return _py_type(base, derive, extra)
    if tp is None or tp is type(None):
        return "None"
    origin = typing.get_origin(tp)
    if origin is list:
        (item,) = typing.get_args(tp)
        return f"list[{_py_type(item, derive, extra)}]"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_py_type(a, derive, extra) for a in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(_py_type(a, derive, extra) for a in typing.get_args(tp))
        return f"{_py_type(origin, derive, extra)}[{args}]"
    if isinstance(tp, type):
        cls: type = tp
        name = cls.__name__
        if cls.__module__ == "builtins":
            return name
        home = sys.modules.get(cls.__module__ or "")
        if home is not None and getattr(home, name, None) is cls:
            extra.add((cls.__module__, name))  # where the type is defined
            return name
        source = _SOURCE[-1] if _SOURCE else None
        if source is not None and getattr(source, name, None) is cls:
            extra.add((source.__name__, name))  # a type made at run time: as imported
            return name
        raise TypeError(f"{cls!r} cannot be imported by name from its module")
    return "Any"
