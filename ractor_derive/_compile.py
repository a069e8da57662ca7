"""One compiler from field plans to Python source: the argument codecs and ``__init__``.

A cluster variant's codec is generated from its :class:`~ractor_derive._plan.FieldPlan`
tuple, once, by :func:`args_source`. The same source is used twice:

- at import, the derive compiles it (``exec``) into the variant's ``encode_args``,
  ``decode_args`` and ``serialize`` (:func:`materialize`);
- ``ractor-derive gen`` writes it into the generated module, whose functions are then
  registered with the runtime when that module is imported (``register_codecs``).

The fast path is explicit: fixed-width fields and the length prefixes go through one
``struct`` call per stretch between two variable-length fields, ``str`` and ``bytes``
inline, lists of integers and f64 through cached structs, every other field through its
codec. A value the fast path does not take (the type checks fail: a
``bytearray``, an ``IntEnum``, an f32 NaN to keep bit for bit) or bytes it refuses
(malformed, or a NaN) go to the variant's :class:`Fallback`, the general codec, which gives
the same result or the precise error, and counts the calls in ``Fallback.calls``.

The only exceptions the fast path catches are the ones its own operations raise on such
values: ``struct.error``, ``OverflowError``, ``ValueError`` (codec and Unicode errors are
ValueErrors) and, when encoding, ``TypeError`` (a user type's ``into_bytes``). Nothing is
swallowed: every catch goes to the fallback, which decides.
"""

from __future__ import annotations

import dataclasses
import keyword
import operator
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ._codecs import LIST_STRUCT_MAX, codec_of, list_structs
from ._plan import FieldPlan, Wire, struct_size

__all__ = [
    "ENCODE_ERRORS",
    "DECODE_ERRORS",
    "ArgsSource",
    "Fallback",
    "args_source",
    "call_lines",
    "inlinable",
    "materialize",
]

M = TypeVar("M")

LINE = 100
"""The line length of generated modules (as ruff formats them)."""

ENCODE_ERRORS = "(OverflowError, TypeError, ValueError, struct.error)"
DECODE_ERRORS = "(ValueError, struct.error)"

_FIXED = frozenset({"int", "float", "f32", "bool"})


def _is_fixed(wire: Wire) -> bool:
    """A fixed-width scalar packed with ``struct`` (not 128-bit integers, not char)."""
    return wire.kind in _FIXED and wire.fmt is not None


def _is_numeric_list(wire: Wire) -> bool:
    """A list of integers or f64 packed with the shared ``list_structs`` cache."""
    return wire.kind == "list" and wire.fmt is not None


def inlinable(fields: Sequence[FieldPlan]) -> bool:
    """Whether the fields can be named in generated source (identifiers, not keywords)."""
    return all(f.name.isidentifier() and not keyword.iskeyword(f.name) for f in fields)


def _encode_check(wire: Wire, v: str) -> list[str]:
    """The conditions (joined by ``and``) under which the fast path encodes ``v``."""
    kind = wire.kind
    if _is_fixed(wire):
        if kind == "int":
            return [f"type({v}) is int"]
        if kind == "float":
            return [f"type({v}) is float"]
        if kind == "f32":
            return [f"type({v}) is float", f"{v} == {v}"]  # a NaN: its bits, the general way
        return [f"({v} is True or {v} is False)"]
    if kind == "unit":
        return [f"{v} is None"]
    if kind in ("str", "bytes"):
        return [f"type({v}) is {kind}"]
    if _is_numeric_list(wire):
        item = "float" if wire.fmt == "d" else "int"
        return [f"type({v}) is list", f"_countOf(map(type, {v}), {item}) == len({v})"]
    return []


@dataclass(frozen=True)
class Global:
    """A module-level object the generated functions use: ``what`` of ``arg``.

    ``pack`` / ``unpack``: ``struct.Struct(">" + arg)``'s bound method; ``structs``: the shared
    ``list_structs(arg)`` cache; ``encode`` / ``decode``: the codec of field number ``arg``.
    """

    name: str
    what: str
    arg: str | int


@dataclass(frozen=True)
class ArgsSource:
    """The generated source of one variant's argument codec.

    ``encode`` and ``decode`` are function bodies (lines, unindented) over the parameters
    ``msg`` and ``args``; ``encode`` returns through ``{wrap}`` placeholders (see
    :meth:`encode_lines`). They use the :attr:`globals`, the fallback named :attr:`fallback`,
    the class named :attr:`cls`, and the shared ``struct``, ``_countOf``, ``_new``.
    """

    globals: tuple[Global, ...]
    encode: tuple[str, ...]
    decode: tuple[str, ...]
    fallback: str
    cls: str

    def encode_lines(self, wrap: str = "{}") -> list[str]:
        """The encode body, each returned value formatted through ``wrap``."""
        out: list[str] = []
        for line in self.encode:
            body = line.lstrip()
            if body.startswith("return "):
                line = line[: len(line) - len(body)] + "return " + wrap.format(body[7:])
            out.append(line)
        return out


def _fits(text: str) -> bool:
    return len(text) <= LINE


def call_lines(indent: str, head: str, args: list[str], tail: str = "") -> list[str]:
    """``head(args)tail`` as ruff formats it: one line, args on one line, or one per line."""
    one = f"{indent}{head}({', '.join(args)}){tail}"
    if _fits(one):
        return [one]
    inner = indent + "    "
    middle = inner + ", ".join(args)
    if _fits(middle) and _fits(f"{indent}{head}("):
        return [f"{indent}{head}(", middle, f"{indent}){tail}"]
    return [f"{indent}{head}(", *[f"{inner}{a}," for a in args], f"{indent}){tail}"]


def _either(indent: str, target: str, condition: str, yes: str, no: str) -> list[str]:
    """``target = yes if condition else no``: one line if it fits (ruff's SIM108), or four."""
    one = f"{indent}{target} = {yes} if {condition} else {no}"
    if _fits(one):
        return [one]
    return [f"{indent}if {condition}:", f"{indent}    {target} = {yes}", f"{indent}else:",
            f"{indent}    {target} = {no}"]


def _condition(indent: str, keyword_: str, parts: list[str], op: str) -> list[str]:
    """``keyword_ parts:`` joined by ``op``, split one per line as ruff does when too long."""
    one = f"{indent}{keyword_} {f' {op} '.join(parts)}:"
    if _fits(one):
        return [one]
    inner = indent + "    "
    return [f"{indent}{keyword_} (", f"{inner}{parts[0]}",
            *[f"{inner}{op} {p}" for p in parts[1:]], f"{indent}):"]


def _join(indent: str, head: str, parts: list[str]) -> list[str]:
    """``head`` applied to the concatenation of ``parts``, formatted as ruff does."""
    if len(parts) == 1:
        return [f"{indent}{head}{parts[0]}"]
    if len(parts) == 2:
        one = f"{indent}{head}{parts[0]} + {parts[1]}"
        if _fits(one):
            return [one]
    one = f'{indent}{head}b"".join(({", ".join(parts)}))'
    if _fits(one):
        return [one]
    inner, inner2 = indent + "    ", indent + "        "
    return [f'{indent}{head}b"".join(', f"{inner}(", *[f"{inner2}{p}," for p in parts],
            f"{inner})", f"{indent})"]


def args_source(fields: Sequence[FieldPlan], *, prefix: str, cls: str,
                fast_build: bool) -> ArgsSource:
    """Generate the argument codec of a variant with ``fields`` (all named by identifiers).

    ``prefix`` starts the names of its globals (unique within a generated module); ``cls``
    is the name of the variant class; ``fast_build`` decodes by filling the new instance's
    ``__dict__`` (no ``__init__``: no ``__post_init__``, no ``__slots__``).
    """
    globals_: list[Global] = []

    def glob(what: str, arg: str | int) -> str:
        for g in globals_:
            if g.what == what and g.arg == arg:
                return g.name
        name = f"{prefix}{what[0]}{len(globals_)}"  # pack p, unpack u, structs s, en/decode
        globals_.append(Global(name, what, arg))
        return name

    fallback = f"{prefix}fallback"
    encode = [line[4:] for line in _encode_source(fields, glob, fallback)]
    decode = [line[4:] for line in _decode_source(fields, glob, fallback, cls, fast_build)]
    return ArgsSource(tuple(globals_), tuple(encode), tuple(decode), fallback, cls)


def _encode_source(fields: Sequence[FieldPlan], glob: Callable[[str, str | int], str],
                   fallback: str) -> list[str]:
    """``msg`` -> bytes: loads, type checks, then the packing inside a narrow ``try``.

    Lines are indented as in the function (4 spaces for its body), so that the line-length
    decisions are those of the final file.
    """
    if not fields:
        return ['    return b""']
    checks = [c for i, f in enumerate(fields) for c in _encode_check(f.wire, f"_v{i}")]
    outer = "        " if checks else "    "  # the `try:` line
    pad = outer + "    "  # its body
    body: list[str] = []
    segments: list[str] = []
    fmt = ""
    values: list[str] = []

    def flush() -> None:
        nonlocal fmt, values
        if fmt:
            name = f"_b{len(segments)}"  # packed bytes
            body.extend(call_lines(pad, f"{name} = {glob('pack', fmt)}", values))
            segments.append(name)
        fmt, values = "", []

    for i, f in enumerate(fields):
        wire = f.wire
        v, d = f"_v{i}", f"_d{i}"
        if _is_fixed(wire) or wire.kind == "unit":
            if wire.kind == "unit":
                fmt += "Q"
                values.append("0")
            else:
                assert wire.fmt is not None
                fmt += "Q" + wire.fmt
                values += [str(wire.width), v]
            continue
        if wire.kind == "str":
            body.append(f"{pad}{d} = {v}.encode()")
        elif wire.kind == "bytes":
            d = v
        elif _is_numeric_list(wire) and wire.fmt == "B":
            body.append(f"{pad}{d} = bytes({v})")
        elif _is_numeric_list(wire):
            assert wire.fmt is not None
            structs = glob("structs", wire.fmt)
            body += _either(pad, d, f"len({v}) <= {LIST_STRUCT_MAX}",
                            f"{structs}[len({v})].pack(*{v})", f"{glob('encode', i)}({v})")
        else:
            body.append(f"{pad}{d} = {glob('encode', i)}({v})")
        fmt += "Q"
        values.append(f"len({d})")
        flush()
        segments.append(d)
    flush()
    lines = [f"    _v{i} = msg.{f.name}" for i, f in enumerate(fields)]
    if checks:
        lines += _condition("    ", "if", checks, "and")
    lines.append(f"{outer}try:")
    if segments == ["_b0"]:  # one struct call: it is the result
        body = [line.replace(f"{pad}_b0 = ", f"{pad}_r = ", 1) for line in body]
        lines += body
    else:
        lines += body
        lines += _join(pad, "_r = ", segments)
    lines.append(f"{outer}except {ENCODE_ERRORS}:")
    lines.append(f"{pad}pass")
    lines.append(f"{outer}else:")
    lines.append(f"{pad}return _r")
    lines.append(f"    return {fallback}.encode(msg)")
    return lines


def _decode_source(fields: Sequence[FieldPlan], glob: Callable[[str, str | int], str],
                   fallback: str, cls: str, fast_build: bool) -> list[str]:
    """``args`` -> the variant: one ``struct`` read per stretch; a miss raises ValueError.

    Lines are indented as in the function (see :func:`_encode_source`).
    """
    pad = "            "  # under `if type(args) is bytes:` and `try:`
    lines: list[str] = []
    base, offset = "", 0  # the read position: the variable `base` (or 0) + offset
    fmt = ""
    targets: list[str] = []
    fails: list[str] = []  # the conditions on which the stretch is malformed
    after: list[str] = []  # the conversions of its values
    last = len(fields) - 1

    def pos(extra: int = 0) -> str:
        if not base:
            return str(offset + extra)
        return f"{base} + {offset + extra}" if offset + extra else base

    def read() -> int:
        """Read the stretch; return its size."""
        unpack = glob("unpack", fmt)
        target = f"({targets[0]},)" if len(targets) == 1 else ", ".join(targets)
        if _fits(f"{pad}{target} = {unpack}("):
            lines.extend(call_lines(pad, f"{target} = {unpack}", ["args", pos()]))
        else:  # as ruff splits a long target list
            lines.append(f"{pad}(")
            lines.extend(f"{pad}    {t}," for t in targets)
            lines.extend(call_lines(pad, f") = {unpack}", ["args", pos()]))
        return struct_size(fmt)

    def miss(conditions: list[str]) -> None:
        lines.extend(_condition(pad, "if", conditions, "or"))
        lines.append(f"{pad}    raise ValueError")

    for i, f in enumerate(fields):
        wire = f.wire
        v, n = f"_v{i}", f"_n{i}"
        if _is_fixed(wire) or wire.kind == "unit":
            if wire.kind == "unit":
                fmt += "Q"
                targets.append(n)
                fails.append(f"{n} != 0")
                after.append(f"{pad}{v} = None")
                continue
            assert wire.fmt is not None
            fmt += "Q" + ("B" if wire.kind == "bool" else wire.fmt)
            targets += [n, v]
            fails.append(f"{n} != {wire.width}")
            if wire.kind == "bool":
                fails.append(f"{v} > 1")  # only 00 and 01
                after.append(f"{pad}{v} = {v} == 1")
            elif wire.kind == "f32":
                after.append(f"{pad}if {v} != {v}:")  # a NaN: keep its bits
                after.append(f"{pad}    raise ValueError")
            continue
        fmt += "Q"
        targets.append(n)
        size = read()
        lines.append(f"{pad}_p = {pos(size)}")
        lines.append(f"{pad}_e = _p + {n}")
        fails.append("_e != _z" if i == last else "_e > _z")
        miss(fails)
        lines.extend(after)
        chunk = "args[_p:_e]"
        if wire.kind == "str":
            lines.append(f"{pad}{v} = {chunk}.decode()")
        elif wire.kind == "bytes":
            lines.append(f"{pad}{v} = {chunk}")
        elif _is_numeric_list(wire) and wire.fmt == "B":
            lines.append(f"{pad}{v} = list({chunk})")
        elif _is_numeric_list(wire):
            assert wire.fmt is not None
            width = struct_size(wire.fmt)
            structs = glob("structs", wire.fmt)
            lines += _either(pad, v, f"{n} % {width} or {n} > {width * LIST_STRUCT_MAX}",
                             f"{glob('decode', i)}({chunk})",
                             f"list({structs}[{n} // {width}].unpack_from(args, _p))")
        else:
            lines.append(f"{pad}{v} = {glob('decode', i)}({chunk})")
        base, offset = "_e", 0
        fmt, targets, fails, after = "", [], [], []
    if fmt:  # fixed-width fields up to the end of the arguments
        size = read()
        fails.append(f"{pos(size)} != _z")
        miss(fails)
        lines.extend(after)
    elif last < 0:
        miss(["_z"])
    out = ["    if type(args) is bytes:", "        _z = len(args)", "        try:", *lines]
    out.append(f"        except {DECODE_ERRORS}:")
    out.append("            pass")
    out.append("        else:")
    if fast_build:
        out.append(f"            _o = _new({cls})")
        if fields:
            out.append("            _f = _o.__dict__")
            out += [f'            _f["{f.name}"] = _v{i}' for i, f in enumerate(fields)]
        out.append("            return _o")
    else:
        out += call_lines("            ", f"return {fallback}.build",
                     [f"{f.name}=_v{i}" for i, f in enumerate(fields)])
    out.append(f"    return {fallback}.decode(args)")
    return out


class Fallback(Generic[M]):
    """The general path of one variant's codec, which the fast path hands over to.

    ``calls`` counts the hand-overs (a test asserts that valid values of every supported
    field type never take it).
    """

    __slots__ = ("_build", "_decode", "_encode", "calls")

    def __init__(self, encode: Callable[[M], bytes], decode: Callable[[bytes], M],
                 build: Callable[..., M]) -> None:
        self._encode = encode
        self._decode = decode
        self._build = build
        self.calls = 0

    def encode(self, msg: M) -> bytes:
        """Encode ``msg`` field by field (the same bytes, or the precise error)."""
        self.calls += 1
        return self._encode(msg)

    def decode(self, args: bytes) -> M:
        """Decode ``args`` field by field (the same value, or the precise error)."""
        self.calls += 1
        return self._decode(args)

    def build(self, **values: Any) -> M:
        """Build the variant from decoded values through its ``__init__``."""
        return self._build(values)


def materialize(source: ArgsSource, fields: Sequence[FieldPlan], fallback: Fallback[Any],
                cls: type[Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The namespace in which ``source`` runs at import: its globals as objects."""
    ns: dict[str, Any] = {
        "struct": struct,
        "_countOf": operator.countOf,
        "_new": object.__new__,
        source.fallback: fallback,
        source.cls: cls,
        **(extra or {}),
    }
    for g in source.globals:
        if g.what == "pack":
            assert isinstance(g.arg, str)
            ns[g.name] = struct.Struct(">" + g.arg).pack
        elif g.what == "unpack":
            assert isinstance(g.arg, str)
            ns[g.name] = struct.Struct(">" + g.arg).unpack_from
        elif g.what == "structs":
            assert isinstance(g.arg, str)
            ns[g.name] = list_structs(g.arg)
        else:
            assert isinstance(g.arg, int)
            codec = codec_of(fields[g.arg].wire)
            ns[g.name] = codec.encode if g.what == "encode" else codec.decode
    return ns


def compile_function(name: str, params: str, body: Sequence[str], ns: dict[str, Any],
                     filename: str) -> Callable[..., Any]:
    """Compile ``def name(params): body`` in ``ns`` and return the function."""
    text = f"def {name}({params}):\n" + "".join(f"    {line}\n" for line in body)
    exec(compile(text, filename, "exec"), ns)
    fn: Callable[..., Any] = ns.pop(name)
    return fn


_F32_MAX = "3.4028234663852886e38"


def init_check(wire: Wire, v: str, cls_name: str) -> str:
    """The cheap condition under which ``v`` is accepted at construction without more ado.

    When it fails, the field's full check runs (the codec's encoder): a value it takes (an
    ``IntEnum``, an int in a float field, a ``bytearray``) is accepted, any other raises. What
    the condition does not look into (a ``str``'s surrogates, a list's items, a model's
    contents) is checked when the message is serialized.
    """
    kind = wire.kind
    if kind == "int":
        assert wire.int_kind is not None
        return f"type({v}) is int and {wire.int_kind.low} <= {v} <= {wire.int_kind.high}"
    if kind == "float":
        return f"type({v}) is float"
    if kind == "f32":
        return f"type({v}) is float and -{_F32_MAX} <= {v} <= {_F32_MAX}"
    if kind == "bool":
        return f"{v} is True or {v} is False"
    if kind == "char":
        return f'type({v}) is str and len({v}) == 1 and not "\\ud800" <= {v} <= "\\udfff"'
    if kind in ("str", "bytes", "list"):
        return f"type({v}) is {kind}"
    if kind == "unit":
        return f"{v} is None"
    return f"isinstance({v}, {cls_name})"


def init_source(fields: Sequence[FieldPlan], defaults: Sequence[str | None],
                post_init: bool) -> list[str]:
    """The body of a cluster variant's ``__init__(_ractor_self, *, field, ...)``.

    It checks each value (:func:`init_check`, then ``_ractor_check_{i}(value)``), sets the
    attributes with ``object.__setattr__`` as a frozen dataclass's ``__init__`` does (writing
    ``__dict__`` would be faster here, but makes every later attribute read slower) and calls
    ``__post_init__`` if the class has one. ``defaults``
    gives, per field, None (required), ``"value"`` (``= _ractor_default_{i}``) or
    ``"factory"`` (``_ractor_factory_{i}()`` when not given).
    """
    lines: list[str] = []
    for i, (f, default) in enumerate(zip(fields, defaults, strict=True)):
        v = f.name
        if default == "factory":
            lines.append(f"if {v} is _ractor_MISSING:")
            lines.append(f"    {v} = _ractor_factory_{i}()")
        lines.append(f"if not ({init_check(f.wire, v, f'_ractor_cls_{i}')}):")
        lines.append(f"    _ractor_check_{i}({v})")
    lines += [f'_ractor_setattr(_ractor_self, "{f.name}", {f.name})' for f in fields]
    if post_init:
        lines.append("_ractor_self.__post_init__()")
    return lines or ["pass"]


class _Factory:
    """The default of a field with a ``default_factory`` in a generated ``__init__``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<factory>"  # as dataclasses shows it in the signature


FACTORY = _Factory()


def init_params(fields: Sequence[FieldPlan], defaults: Sequence[str | None]) -> str:
    """The parameters of the ``__init__`` of :func:`init_source`."""
    params = ["_ractor_self"]
    if fields:
        params.append("*")
    for i, (f, default) in enumerate(zip(fields, defaults, strict=True)):
        if default is None:
            params.append(f.name)
        elif default == "value":
            params.append(f"{f.name}=_ractor_default_{i}")
        else:
            params.append(f"{f.name}=_ractor_MISSING")
    return ", ".join(params)


def field_defaults(cls: type[Any]) -> list[str | None] | None:
    """Per field, None, ``"value"`` or ``"factory"``: when ``__init__`` may be generated.

    None when the dataclass ``__init__`` must stay: a positional or ``init=False`` field, an
    ``InitVar``, or an ``__init__`` or ``__slots__`` written in the class.
    """
    all_fields: dict[str, dataclasses.Field[Any]] = cls.__dataclass_fields__
    fields = dataclasses.fields(cls)
    if len(fields) != len(all_fields) or "__slots__" in vars(cls):
        return None
    out: list[str | None] = []
    for f in fields:
        if not f.init or not f.kw_only:
            return None
        if f.default is not dataclasses.MISSING:
            out.append("value")
        elif f.default_factory is not dataclasses.MISSING:
            out.append("factory")
        else:
            out.append(None)
    return out
