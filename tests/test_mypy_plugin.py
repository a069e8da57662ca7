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


def test_the_plain_typing_expectations_hold_with_the_plugin_on_too() -> None:
    code, out = mypy("mypy_plugin.ini", *sorted((ROOT / "tests" / "typing").glob("check_*.py")))
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


def _mypy_in(folder: Path, *files: str) -> tuple[int, str]:
    config = folder / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\nplugins = ractor_derive.mypy\n"
                      f"cache_dir = {folder / '.cache'}\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", str(config), *files],
        cwd=folder, capture_output=True, text=True, timeout=280,
        env={**__import__("os").environ, "PYTHONPATH": str(ROOT)},
    )
    return result.returncode, result.stdout + result.stderr


def test_no_codec_is_still_reported_when_the_family_comes_from_mypys_cache(
    tmp_path: Path,
) -> None:
    (tmp_path / "fam.py").write_text(
        "from ractor_derive import Message, cluster_message\n\n\n"
        "@cluster_message\nclass Fam(Message):\n    pass\n"
    )
    app = tmp_path / "app.py"
    app.write_text("from fam import Fam\n\n\nclass Bad(Fam):\n    table: dict[str, int]\n")
    first = _mypy_in(tmp_path, "fam.py", "app.py")
    assert "[ractor-no-codec]" in first[1], first[1]
    app.write_text(app.read_text() + "\n# edited\n")  # fam.py now comes from the cache
    second = _mypy_in(tmp_path, "fam.py", "app.py")
    assert "[ractor-no-codec]" in second[1], second[1]


def test_generic_code_over_any_actor_ref_is_not_flagged(tmp_path: Path) -> None:
    (tmp_path / "generic.py").write_text(
        "from typing import TypeVar\n\nfrom ractor_core import ActorRef, Call\n\n"
        'M = TypeVar("M")\nR = TypeVar("R")\n\n\n'
        "async def call_with_retry(ref: ActorRef[M], msg: Call[R]) -> R:\n"
        "    return await ref.call(msg)\n"
    )
    code, out = _mypy_in(tmp_path, "generic.py")
    assert code == 0, out
