"""The mypy plugin: what it adds over plain typing, with its namespaced error codes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PLUGIN_DIR = ROOT / "tests" / "typing" / "plugin"
APP = PLUGIN_DIR / "app.py"

pytestmark = pytest.mark.timeout(300)


def mypy(config: str, *paths: Path) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--no-incremental", "--config-file",
         str(PLUGIN_DIR / config), *map(str, paths)],
        cwd=ROOT, capture_output=True, text=True, timeout=280,
    )
    return result.returncode, result.stdout + result.stderr


def test_the_app_type_checks_with_the_plugin_and_every_plugin_error_is_expected() -> None:
    code, out = mypy("mypy_plugin.ini", APP)
    assert code == 0, out


def test_without_the_plugin_only_the_plugin_specific_errors_go_unreported() -> None:
    plugin_lines = {
        number
        for number, line in enumerate(APP.read_text().splitlines(), start=1)
        if re.search(r"# type: ignore\[ractor-", line)
    }
    assert len(plugin_lines) == 3
    code, out = mypy("mypy_plain.ini", APP)
    assert code == 1
    reported = {int(m) for m in re.findall(r"app\.py:(\d+): error: Unused \"type: ignore\"", out)}
    assert reported == plugin_lines, out
    assert out.count("error:") == len(plugin_lines), out


def test_the_plugin_errors_name_the_problem(tmp_path: Path) -> None:
    source = APP.read_text()
    source = re.sub(r"  # type: ignore\[ractor-[a-z-]+\]", "", source)
    app = tmp_path / "app_plain.py"
    app.write_text(source)
    code, out = mypy("mypy_plugin.ini", app)
    assert code == 1
    assert (
        'error: "Balance" is not a message of this actor, which takes "Buy | Stock | Tags"'
        "  [ractor-wrong-actor]" in out
    ), out
    assert (
        'error: Field "maybe" of cluster message "Broken" has type "int | None", '
        "which has no wire encoding  [ractor-no-codec]" in out
    ), out
    assert 'Field "table" of cluster message "AlsoBroken"' in out
    assert "Anything" not in out  # a local family may use any type
