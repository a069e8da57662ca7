"""Render IR through the jinja2 templates: Python modules and stubs, or Rust enums.

Templates format; they do not decide. Everything they need is computed here, in order, so
that the same input gives the same bytes.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import jinja2

from .ir import FieldIR, ModuleIR, VariantIR
from .parse import GenError

__all__ = ["outputs", "render_python", "render_rust", "render_stub"]

_RESERVED = {"ref", "timeout"}
_INLINE_KINDS = {"str", "bytes", "bool", "unit"}  # with a struct format: int, float, f32


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(_template),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


_SOURCE_TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def _template(name: str) -> str:
    """A template's text: from the installed wheel, or from the repository's templates/."""
    try:
        return resources.files("ractor_derive.templates").joinpath(name).read_text("utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return (_SOURCE_TEMPLATES / name).read_text("utf-8")


def _codec_name(variant: VariantIR, field: FieldIR) -> str:
    """A module-level name for one field's codec: unique, as class names are in a module."""
    return f"_codec_{variant.class_name}__{field.name}"


def _encode_lines(variant: VariantIR, field: FieldIR, i: int) -> list[str]:
    """Lines that set ``p{i}``: the field's length prefix and bytes."""
    v, p = f"v{i}", f"p{i}"
    kind = field.kind
    if kind in ("int", "float", "f32") and field.struct_fmt:
        check = "int" if kind == "int" else "float"
        lines = [f"if type({v}) is not {check}:", "    raise TypeError"]
        if kind == "f32":
            lines += [f"if {v} != {v}:", "    raise ValueError  # a NaN: its bits, the slow way"]
        return [*lines, f"{p} = _S_Q{field.struct_fmt}.pack({field.width}, {v})"]
    if kind == "bool":
        return [f"if type({v}) is not bool:", "    raise TypeError",
                f"{p} = _TRUE if {v} else _FALSE"]
    if kind == "str":
        return [f"if type({v}) is not str:", "    raise TypeError", f"d{i} = {v}.encode()",
                f"{p} = _LEN.pack(len(d{i})) + d{i}"]
    if kind == "bytes":
        return [f"if type({v}) is not bytes:", "    raise TypeError",
                f"{p} = _LEN.pack(len({v})) + {v}"]
    if kind == "unit":
        return [f"if {v} is not None:", "    raise TypeError", f"{p} = _UNIT"]
    return [f"d{i} = {_codec_name(variant, field)}.encode({v})",
            f"{p} = _LEN.pack(len(d{i})) + d{i}"]


def _decode_lines(variant: VariantIR, field: FieldIR, i: int) -> list[str]:
    """Lines that read field ``f{i}`` at ``pos`` and move ``pos`` past it."""
    f = f"f{i}"
    kind = field.kind
    if kind in ("int", "float", "f32") and field.struct_fmt:
        lines = [f"size, {f} = _S_Q{field.struct_fmt}.unpack_from(args, pos)",
                 f"if size != {field.width}:", "    raise ValueError",
                 f"pos += {8 + (field.width or 0)}"]
        if kind == "f32":
            lines += [f"if {f} != {f}:", "    raise ValueError  # a NaN: its bits, the slow way"]
        return lines
    if kind == "bool":
        return ["if args[pos : pos + 8] != _ONE:", "    raise ValueError",
                "flag = args[pos + 8]", "if flag > 1:", "    raise ValueError",
                f"{f} = flag == 1", "pos += 9"]
    if kind == "unit":
        return ["if args[pos : pos + 8] != _UNIT:", "    raise ValueError", f"{f} = None",
                "pos += 8"]
    lines = ["(size,) = _LEN.unpack_from(args, pos)", "pos += 8", "if size > end - pos:",
             "    raise ValueError", "chunk = args[pos : pos + size]", "pos += size"]
    if kind == "str":
        return [*lines, f"{f} = chunk.decode()"]
    if kind == "bytes":
        return [*lines, f"{f} = chunk"]
    return [*lines, f"{f} = {_codec_name(variant, field)}.decode(chunk)"]


def _rust_fields(variant: VariantIR) -> str:
    types = [f.rust_type for f in variant.fields]
    if variant.reply is not None:
        types.append(f"RpcReplyPort<{variant.reply.rust_type}>")
    return f"({', '.join(types)})" if types else ""


def _context(m: ModuleIR) -> dict[str, object]:
    source_names: set[str] = set()
    exports: list[str] = []
    struct_formats: set[str] = set()
    codec_funcs: list[tuple[str, str]] = []
    has_codecs = False
    stub_names: set[str] = set()
    for family in m.families:
        source_names.add(family.ref_type)
        stub_names.add(family.ref_type)
        for v in family.variants:
            source_names.add(v.class_name)
            if family.cluster:
                stub_names.add(v.class_name)
            clash = {f.name for f in v.fields} & _RESERVED
            if clash:
                name = sorted(clash)[0]
                raise GenError(
                    f"{m.source}:{v.line}",
                    f"{family.name}.{v.class_name}: a field named {name!r} clashes with the "
                    f"parameter of the generated helper; rename the field",
                )
            if family.cluster:
                has_codecs = True
                exports += [f"decode_{v.snake}", f"encode_{v.snake}"]
                for fld in v.fields:
                    if fld.struct_fmt:
                        struct_formats.add("Q" + fld.struct_fmt)
                    elif fld.kind not in _INLINE_KINDS:
                        codec_funcs.append((_codec_name(v, fld), fld.py_type))
            exports.append(f"{'call' if v.is_call else 'cast'}_{v.snake}")
    needs_any = any(f.py_type == "Any" for fam in m.families for v in fam.variants
                    for f in (*v.fields, *((v.reply,) if v.reply else ())))
    derive = set(m.derive_names)
    if codec_funcs:
        derive.add("codec_for")
    if has_codecs:
        derive.update(("decode_args", "encode_args"))
    source_names.update(name for module, name in m.extra_imports if module == m.module)
    stub_names.update(name for module, name in m.extra_imports if module == m.module)
    other_imports = [(module, name) for module, name in m.extra_imports if module != m.module]
    return {
        "m": m,
        "other_imports": other_imports,
        "needs_any": needs_any,
        "source_names": sorted(source_names),
        "stub_source_names": sorted(stub_names),
        "exports": sorted(exports),
        "struct_formats": sorted(struct_formats),
        "codec_funcs": codec_funcs,
        "has_codecs": has_codecs,
        "derive_imports": sorted(derive, key=_import_order),
        "stub_derive_imports": sorted(m.derive_names, key=_import_order),
        "encode_lines": _encode_lines,
        "decode_lines": _decode_lines,
        "rust_fields": _rust_fields,
    }


def _import_order(name: str) -> tuple[int, list[object]]:
    """isort's order (as ruff applies it): CONSTANTS, Classes, functions; numbers naturally."""
    group = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    parts = re.split(r"(\d+)", name)
    return group, [int(p) if p.isdigit() else p for p in parts]


def render_python(m: ModuleIR) -> str:
    """The generated Python module."""
    return _environment().get_template("python_module.py.j2").render(_context(m))


def render_stub(m: ModuleIR) -> str:
    """The ``.pyi`` stub of the generated module."""
    return _environment().get_template("python_stub.pyi.j2").render(_context(m))


def render_rust(m: ModuleIR) -> str:
    """The Rust enums, one per cluster family, with ``#[derive(RactorClusterMessage)]``."""
    for family in m.families:
        if not family.cluster:
            continue
        for v in family.variants:
            if not v.tag.isidentifier() or not v.tag.isascii():
                raise GenError(
                    f"{m.source}:{v.line}",
                    f"{family.name}.{v.class_name}: the tag {v.tag!r} is not a Rust identifier",
                )
    return _environment().get_template("rust_module.rs.j2").render(_context(m))


def outputs(m: ModuleIR, lang: str) -> dict[str, str]:
    """The generated files of one source: file name -> text."""
    if lang == "rust":
        return {f"{m.stem}.rs": render_rust(m)}
    return {f"{m.stem}_ractor.py": render_python(m), f"{m.stem}_ractor.pyi": render_stub(m)}
