"""The ``ractor-derive`` command.

    ractor-derive gen SOURCE... [-o OUT_DIR] [--check] [--lang python|rust]

SOURCE is a Python file or module holding ``@local_message`` / ``@cluster_message``
declarations. For ``--lang python`` (the default) each source gives ``<stem>_ractor.py``
(explicit codecs per variant, registered on import, and typed ``cast_*`` / ``call_*``
helpers; fully typed, no stub); for ``--lang rust``, ``<stem>.rs`` with the matching
``#[derive(RactorClusterMessage)]`` enums. Files go beside each source unless ``-o`` names a
folder. ``--check`` writes nothing and exits 1 listing the files that are missing or stale.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from ._gen.parse import GenError, load

__all__ = ["main"]

_NO_JINJA = "ractor-derive gen needs jinja2: pip install 'ractor-py[codegen]'"


def _parser() -> argparse.ArgumentParser:
    summary = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="ractor-derive", description=summary)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("gen", help="generate codecs and typed helpers (or Rust enums)")
    gen.add_argument("sources", nargs="+", metavar="SOURCE")
    gen.add_argument("-o", "--out-dir", type=Path, default=None)
    gen.add_argument("--check", action="store_true", help="fail if generated files are stale")
    gen.add_argument("--lang", choices=("python", "rust"), default="python")
    return parser


def _source_dir(rel: str) -> Path:
    return Path(rel).parent


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ractor-derive``."""
    args = _parser().parse_args(argv)
    try:
        from ._gen.render import outputs  # jinja2: the codegen extra, needed only here
    except ModuleNotFoundError as exc:
        if exc.name != "jinja2":
            raise
        print(_NO_JINJA, file=sys.stderr)
        return 2
    stale: list[str] = []
    written: list[str] = []
    failed = False
    claimed: dict[Path, str] = {}
    for source in args.sources:
        try:
            module = load(source)
            files = outputs(module, args.lang)
        except GenError as exc:
            print(exc, file=sys.stderr)
            failed = True
            continue
        folder = args.out_dir if args.out_dir is not None else _source_dir(module.source)
        for name, text in files.items():
            path = folder / name
            if path in claimed:
                print(f"{module.source}:1: error: {path} is also the output of "
                      f"{claimed[path]}; generate them into different folders", file=sys.stderr)
                failed = True
                continue
            claimed[path] = module.source
            current = path.read_text("utf-8") if path.is_file() else None
            if current == text:
                continue
            if args.check:
                stale.append(str(path))
                continue
            try:
                folder.mkdir(parents=True, exist_ok=True)
                path.write_text(text, "utf-8")
            except OSError as exc:
                print(f"{path}: error: cannot write: {exc.strerror}", file=sys.stderr)
                failed = True
                continue
            written.append(str(path))
    for path in stale:
        print(f"stale: {path}")
    for path in written:
        print(f"wrote {path}")
    if failed:
        return 2
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
