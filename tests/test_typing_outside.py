"""An application outside the repository type-checks against the installed packages.

Every ```python block of the README and every file of examples/ is copied to a folder outside
the repository and checked there, as a user would after the README's install command, with
``mypy --strict`` (the plugin ``ractor_derive.mypy`` on) and ``pyright --strict``. The
packages are found only through the environment (the editable install's path), never
through the working directory.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)
EXAMPLES = sorted(p for p in (ROOT / "examples").iterdir() if p.suffix in (".py", ".pyi"))

pytestmark = pytest.mark.timeout(300)


def _outside_the_repository() -> Path:
    """A fresh folder that is neither in the repository nor under a folder with a pyright or
    mypy configuration of its own."""
    base = Path(tempfile.mkdtemp(prefix="ractor-typing-"))
    assert ROOT not in base.parents
    return base


@pytest.fixture(scope="module")
def app() -> Iterator[Path]:
    folder = _outside_the_repository()
    (folder / "examples").mkdir()
    for path in EXAMPLES:
        shutil.copy(path, folder / "examples" / path.name)
    for i, code in enumerate(BLOCKS):
        (folder / f"readme_block{i}.py").write_text(code)
    (folder / "mypy.ini").write_text(
        "[mypy]\nstrict = True\nplugins = ractor_derive.mypy\n"
        f"cache_dir = {folder / '.mypy_cache'}\n"
    )
    (folder / "pyrightconfig.json").write_text(json.dumps({
        "typeCheckingMode": "strict",
        "pythonVersion": "3.11",
    }))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}
    env["PYRIGHT_PYTHON_IGNORE_WARNINGS"] = "1"  # the pinned pyright, no look-up of releases
    return env


FILES = [f"readme_block{i}.py" for i in range(len(BLOCKS))]
FILES += [f"examples/{p.name}" for p in EXAMPLES if p.suffix == ".py"]

# Files whose pyright --strict errors wait for a fix elsewhere, with the reason (strict
# xfail: once the fix lands, the entry must go).
PYRIGHT_PENDING: dict[str, str] = {}


def _per_file(lines: list[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {name: [] for name in FILES}
    for line in lines:
        for name in FILES:
            if f"{name}:" in line:
                found[name].append(line)
    return found


@pytest.fixture(scope="module")
def mypy_errors(app: Path) -> dict[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", *FILES],
        cwd=app, env=_environment(), capture_output=True, text=True, timeout=280,
    )
    errors = [line for line in result.stdout.splitlines() if ": error:" in line]
    assert result.returncode == (1 if errors else 0), result.stdout + result.stderr
    return _per_file(errors)


@pytest.fixture(scope="module")
def pyright_errors(app: Path) -> dict[str, list[str]]:
    pyright = Path(sys.executable).with_name("pyright")
    assert pyright.exists(), "pyright is in the dev extra: pip install -e '.[dev]'"
    result = subprocess.run(
        [str(pyright), "-p", "pyrightconfig.json", "--pythonpath", sys.executable,
         "--outputjson", *FILES],
        cwd=app, env=_environment(), capture_output=True, text=True, timeout=280,
    )
    report = json.loads(result.stdout)
    errors = [
        f"{d['file']}:{d['range']['start']['line'] + 1}: {d['message']} ({d.get('rule', '')})"
        for d in report["generalDiagnostics"] if d["severity"] == "error"
    ]
    assert report["summary"]["filesAnalyzed"] >= len(FILES), result.stdout
    return _per_file(errors)


def test_there_is_something_to_check() -> None:
    assert len(BLOCKS) >= 3
    assert "examples/shop_messages_ractor.py" in FILES


@pytest.mark.parametrize("name", FILES)
def test_mypy_strict_with_the_plugin_passes_from_outside_the_repository(
    name: str, mypy_errors: dict[str, list[str]]
) -> None:
    assert mypy_errors[name] == []


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(name, marks=pytest.mark.xfail(reason=PYRIGHT_PENDING[name], strict=True))
        if name in PYRIGHT_PENDING else name
        for name in FILES
    ],
)
def test_pyright_strict_passes_from_outside_the_repository(
    name: str, pyright_errors: dict[str, list[str]]
) -> None:
    assert pyright_errors[name] == []
