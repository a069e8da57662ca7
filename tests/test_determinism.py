"""The suite runs the same way every time: hypothesis' CI profile, a seed that once tripped a
health check, and the Rust peer never built silently by a test."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from .interop import cargo

ROOT = Path(__file__).resolve().parent.parent


def test_the_ci_profile_is_derandomized_without_an_example_database() -> None:
    ci = settings.get_profile("ci")
    assert ci.derandomize and ci.database is None and ci.deadline is None
    assert HealthCheck.filter_too_much not in ci.suppress_health_check
    assert HealthCheck.data_too_large not in ci.suppress_health_check


@pytest.mark.timeout(120)
def test_the_seed_that_once_tripped_filter_too_much_passes() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/ractor_derive/test_codec_properties.py", "-k", "long_list",
         "--hypothesis-seed=7755676565956429764815976521185934537"],
        cwd=ROOT, capture_output=True, text=True, timeout=110,
        env={**os.environ, "HYPOTHESIS_PROFILE": "ractor"},  # the seed counts (not derandomized)
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout


def _crate(tmp_path: Path) -> Path:
    (tmp_path / "src" / "bin").mkdir(parents=True)
    (tmp_path / "Cargo.toml").write_text("[package]\n")
    (tmp_path / "src" / "bin" / "peer.rs").write_text("fn main() {}\n")
    return tmp_path


def test_a_missing_interop_binary_is_a_skip_that_names_the_build_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cargo, "CRATE", _crate(tmp_path))
    monkeypatch.delenv("RACTOR_INTEROP_BUILD", raising=False)
    started = time.monotonic()
    with pytest.raises(pytest.skip.Exception) as skipped:
        cargo.rust_binary("peer")
    assert time.monotonic() - started < 5  # nothing was built
    assert "is not built" in str(skipped.value)
    assert cargo.BUILD_COMMAND in str(skipped.value)


def test_an_interop_binary_older_than_its_sources_is_a_skip_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    crate = _crate(tmp_path)
    monkeypatch.setattr(cargo, "CRATE", crate)
    monkeypatch.delenv("RACTOR_INTEROP_BUILD", raising=False)
    binary = crate / "target" / "release" / "peer"
    binary.parent.mkdir(parents=True)
    binary.write_text("")
    assert cargo.rust_binary("peer") == binary
    later = binary.stat().st_mtime + 10
    os.utime(crate / "src" / "bin" / "peer.rs", (later, later))
    with pytest.raises(pytest.skip.Exception, match="older than its sources"):
        cargo.rust_binary("peer")
