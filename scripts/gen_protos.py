"""Regenerate the protobuf modules of ractor_cluster and their stubs (or check for drift).

    python scripts/gen_protos.py          # rewrite ractor_cluster/protocol/*_pb2.py, stubs/
    python scripts/gen_protos.py --check  # exit 1, listing stale files, if anything differs

Inputs: ractor_cluster/protocol/*.proto. Outputs: ractor_cluster/protocol/<name>_pb2.py
(protoc's Python, for the upb runtime) with its stub <name>_pb2.pyi beside it (mypy-protobuf),
so that the wheel carries the types. Needs grpcio-tools and mypy-protobuf (the `dev` extra).
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "ractor_cluster" / "protocol"


def generate(out: Path) -> list[Path]:
    """Run protoc into ``out``; return the generated files relative to ``out``."""
    protos = sorted(p.relative_to(ROOT).as_posix() for p in PROTO_DIR.glob("*.proto"))
    plugin = Path(sys.executable).parent / "protoc-gen-mypy"
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        f"-I{ROOT}",
        f"--python_out={out}",
        f"--plugin=protoc-gen-mypy={plugin}",
        f"--mypy_out=quiet:{out}",
        *protos,
    ]
    subprocess.run(cmd, cwd=ROOT, check=True)
    return sorted(p.relative_to(out) for p in out.rglob("*_pb2.py*"))


def destination(rel: Path) -> Path:
    """Where a generated file belongs in the repository."""
    return PROTO_DIR / rel.name


def main() -> int:
    """Regenerate, or with --check report drift."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if generated files are stale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        files = generate(out)
        stale = [
            destination(rel)
            for rel in files
            if not destination(rel).exists() or not filecmp.cmp(out / rel, destination(rel), False)
        ]
        if args.check:
            for path in stale:
                print(f"stale: {path.relative_to(ROOT)}")
            return 1 if stale else 0
        for rel in files:
            shutil.copyfile(out / rel, destination(rel))
        print(f"wrote {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
