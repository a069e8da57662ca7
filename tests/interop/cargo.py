"""Building the Rust interop peer (tests/interop/rust_peer) with cargo, once per run."""

from __future__ import annotations

import functools
import shutil
import subprocess
from pathlib import Path

import pytest

CRATE = Path(__file__).resolve().parent / "rust_peer"


@functools.cache
def _build(binary: str) -> tuple[Path | None, str]:
    cargo = shutil.which("cargo")
    if cargo is None:
        return None, "cargo is not installed on this machine"
    try:
        result = subprocess.run(
            [cargo, "build", "--release", "--locked", "--bin", binary],
            cwd=CRATE,
            capture_output=True,
            text=True,
            timeout=1500,
        )
    except subprocess.TimeoutExpired:
        return None, "cargo build did not finish within 25 minutes"
    if result.returncode != 0:
        tail = "\n".join(result.stderr.splitlines()[-15:])
        offline = any(
            word in result.stderr
            for word in ("failed to download", "Couldn't resolve host", "failed to get", "network")
        )
        if offline:
            return None, f"crates.io is not reachable from this machine: {tail}"
        raise RuntimeError(f"cargo build of the interop peer failed:\n{tail}")
    return CRATE / "target" / "release" / binary, ""


def rust_binary(binary: str) -> Path:
    """Path of a built interop binary; skips the test, with the reason, if it cannot be built."""
    path, why = _build(binary)
    if path is None:
        pytest.skip(f"the Rust interop peer cannot be built: {why}")
    return path
