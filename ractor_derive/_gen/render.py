"""Render IR through the jinja2 templates: Python modules, or Rust enums.

Templates format; they do not decide. Everything they need is computed here, in order, so
that the same input gives the same bytes.
"""

from __future__ import annotations

import re
import typing
from importlib import resources
from pathlib import Path

import jinja2

from .._compile import LINE, ArgsSource, Global, args_source, call_lines
from .._errors import GenError
from .ir import FieldIR, ModuleIR, VariantIR

__all__ = ["outputs", "render_python", "render_rust"]

_RESERVED = {"ref", "timeout"}


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


def _global_line(g: Global, variant: VariantIR) -> str:
    """The module-level definition of one global of a variant's codec."""
    if g.what in ("pack", "unpack"):
        method = "pack" if g.what == "pack" else "unpack_from"
        value = f'struct.Struct(">{g.arg}").{method}'
    elif g.what == "structs":
        value = f'list_structs("{g.arg}")'
    else:
        assert isinstance(g.arg, int)
        field: FieldIR = variant.fields[g.arg]
        value = f"codec_for({field.py_type}).{g.what}"
    line = f"{g.name} = {value}"
    if len(line) > LINE:  # as ruff splits it
        head, _, rest = value.partition("(")
        line = f"{g.name} = {head}(\n    {rest[: rest.index(')')]}\n){rest[rest.index(')') + 1:]}"
    return line


def _def(name: str, param: str, returns: str) -> list[str]:
    """A function's ``def`` line(s), as ruff formats them."""
    line = f"def {name}({param}) -> {returns}:"
    if len(line) <= LINE:
        return [line]
    return [f"def {name}(", f"    {param},", f") -> {returns}:"]


def _doc(full: str, short: str) -> str:
    """A one-line docstring: ``full`` if it fits, else ``short``."""
    return full if len(full) + 10 <= LINE else short


def _codec(variant: VariantIR, family: str, index: int) -> dict[str, object]:
    """What the template writes for one cluster variant's codec (the ``index``-th)."""
    snake = variant.snake
    prefix = f"_{snake}_" if len(snake) <= 20 else f"_{snake[:16].rstrip('_')}{index}_"
    cls = variant.class_name
    source: ArgsSource = args_source(variant.plan, prefix=prefix, cls=cls,
                                     fast_build=variant.fast_build)
    fields = ",".join(f.signature() for f in variant.plan)
    layout = f"{variant.tag}{'!' if variant.is_call else ''}({fields})"
    label = f"{family}.{cls}"
    return {
        "globals": [_global_line(g, variant) for g in source.globals],
        "fallback": call_lines("", f"{source.fallback} = fallback_of", [cls]),
        "encode_def": _def(f"encode_{snake}", f"msg: {cls}", "bytes"),
        "decode_def": _def(f"decode_{snake}", "args: bytes", cls),
        "encode_doc": _doc(f"The packed arguments of {label} (wire variant {variant.tag}).",
                           f"Encode {cls}."),
        "decode_doc": _doc(f"Rebuild {label} from its packed arguments.", f"Decode {cls}."),
        "encode": source.encode_lines(),
        "decode": list(source.decode),
        "register": call_lines("", "register_codecs", [
            variant.class_name, f'"{layout}"', f"encode_{snake}", f"decode_{snake}"]),
    }


def _rust_fields(variant: VariantIR) -> str:
    types = [f.rust_type for f in variant.fields]
    if variant.reply is not None:
        types.append(f"RpcReplyPort<{variant.reply.rust_type}>")
    return f"({', '.join(types)})" if types else ""


def _context(m: ModuleIR) -> dict[str, object]:
    source_names: set[str] = set()
    exports: list[str] = []
    codecs: dict[str, dict[str, object]] = {}
    for family in m.families:
        source_names.add(family.ref_type)
        for v in family.variants:
            source_names.add(v.class_name)
            clash = {f.name for f in v.fields} & _RESERVED
            if clash:
                name = sorted(clash)[0]
                raise GenError(
                    f"{m.source}:{v.line}",
                    f"{family.name}.{v.class_name}: a field named {name!r} clashes with the "
                    f"parameter of the generated helper; rename the field",
                )
            if family.cluster:
                exports += [f"decode_{v.snake}", f"encode_{v.snake}"]
                codecs[v.class_name] = _codec(v, family.name, len(codecs))
            exports.append(f"{'call' if v.is_call else 'cast'}_{v.snake}")
    needs_any = any(f.py_type == "Any" for fam in m.families for v in fam.variants
                    for f in (*v.fields, *((v.reply,) if v.reply else ())))
    text = "\n".join(
        line
        for codec in codecs.values()
        for key in ("globals", "encode", "decode")
        for line in typing.cast(list[str], codec[key])
    )
    derive = set(m.derive_names)
    for name, used in (
        ("codec_for", "codec_for(" in text),
        ("list_structs", "list_structs(" in text),
        ("fallback_of", bool(codecs)),
        ("register_codecs", bool(codecs)),
    ):
        if used:
            derive.add(name)
    source_names.update(name for module, name in m.extra_imports if module == m.module)
    other_imports = [(module, name) for module, name in m.extra_imports if module != m.module]
    return {
        "m": m,
        "other_imports": other_imports,
        "needs_any": needs_any,
        "needs_struct": "struct." in text,
        "needs_count": "_countOf(" in text,
        "needs_new": "_new(" in text,
        "source_names": sorted(source_names),
        "exports": sorted(exports),
        "codecs": codecs,
        "derive_imports": sorted(derive, key=_import_order),
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
    return {f"{m.stem}_ractor.py": render_python(m)}
