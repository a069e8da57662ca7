"""The README's examples and the demo run as written.

Every ```python block is a whole program and runs; ```py blocks are fragments. The blocks
are type-checked by tests/test_typing_outside.py.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_the_readme_has_python_examples_and_two_setup_commands() -> None:
    assert BLOCKS
    commands = re.findall(r"```sh\n(.*?)```", README, flags=re.S)
    assert len(commands) == 2
    assert "pytest" in commands[1]


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_python_block_runs(code: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(code)
    result = subprocess.run(
        [sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_ping_pong_demo_runs_and_reports() -> None:
    result = subprocess.run(
        [sys.executable, "examples/ping_pong.py", "2000"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2000 hits" in result.stdout
    assert "ping hit 1000, pong hit 1000" in result.stdout


@pytest.mark.timeout(120)
def test_the_cluster_demo_runs_three_node_processes_and_reports() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ractor_cluster", "demo", "--calls", "50"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "group 'demo' has 3 members" in out
    for src, dst in (("a", "b"), ("b", "c"), ("c", "a")):
        assert f"relay driver -> {src} -> {dst}: {src} -> {dst} heard 3 shouts" in out
    assert out.count("latency driver ->") == 3
    assert "exit codes [0, 0, 0]" in out
