"""The Rust interop peer (tests/interop/rust_peer): its binaries, built by cargo.

Building it takes minutes from a cold cache, so the tests never do it unasked: ``bash .ci/run``
builds it as an announced step before the tests, and a developer runs the same command
(``BUILD_COMMAND``). A test that needs a binary that is missing or older than its sources is
skipped with that reason, unless ``RACTOR_INTEROP_BUILD=1`` asks the tests to build it.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

import pytest

CRATE = Path(__file__).resolve().parent / "rust_peer"
BUILD_COMMAND = "cd tests/interop/rust_peer && cargo build --release --locked --bins"


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


def _sources_changed_since(moment: float) -> bool:
    sources = [CRATE / "Cargo.toml", CRATE / "Cargo.lock", *(CRATE / "src").rglob("*.rs")]
    return any(path.stat().st_mtime > moment for path in sources if path.exists())


def stale_reason(binary: str) -> str | None:
    """Why the built ``binary`` cannot be used as it is (None: it is built and up to date)."""
    path = CRATE / "target" / "release" / binary
    if not path.exists():
        return f"the Rust interop peer's {binary} is not built"
    if _sources_changed_since(path.stat().st_mtime):
        return f"the Rust interop peer's {binary} is older than its sources"
    return None


def rust_binary(binary: str) -> Path:
    """Path of a built, up-to-date interop binary; otherwise skips the test with the reason
    (or builds it when RACTOR_INTEROP_BUILD=1 asks for that)."""
    stale = stale_reason(binary)
    if stale is None:
        return CRATE / "target" / "release" / binary
    if os.environ.get("RACTOR_INTEROP_BUILD") != "1":
        pytest.skip(
            f"{stale}: build it with `{BUILD_COMMAND}` (bash .ci/run does, before the tests), "
            "or set RACTOR_INTEROP_BUILD=1 to let the tests build it (minutes from a cold cache)"
        )
    path, why = _build(binary)
    if path is None:
        pytest.skip(f"the Rust interop peer cannot be built: {why}")
    return path
