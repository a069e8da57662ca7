"""Package hygiene: exports, layering, docstrings, and the typing expectations."""

from __future__ import annotations

import ast
import importlib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["ractor_core", "ractor_derive", "ractor_cluster"]
PUBLIC_MODULES = [
    *PACKAGES,
    "ractor_core.transport",
    "ractor_core.pg",
    "ractor_core.supervisor",
    "ractor_core.factory",
]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_and_lists_every_public_name(package: str) -> None:
    module = importlib.import_module(package)
    exported = list(getattr(module, "__all__", []))
    assert exported == sorted(exported)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert public <= set(exported), public - set(exported)
    for name in exported:
        assert hasattr(module, name), name


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_the_core_imports_neither_sibling_nor_protobuf_nor_jinja() -> None:
    forbidden = {"ractor_derive", "ractor_cluster", "google", "jinja2"}
    for path in (ROOT / "ractor_core").rglob("*.py"):
        assert not _imports(path) & forbidden, path


def test_the_core_exports_the_user_api_and_keeps_transport_hooks_apart() -> None:
    import ractor_core
    import ractor_core.transport

    hooks = {"offer", "decode", "wait_room", "RemoteNode", "SerializedCall", "SerializedCast",
             "message_family", "register_message_family", "MessageFamily"}
    exported = ractor_core.transport.__all__
    assert exported == sorted(exported) and all(hasattr(ractor_core.transport, n) for n in exported)
    assert hooks <= set(exported)
    assert not hooks & set(ractor_core.__all__)
    assert {"spawn_remote", "bind_reply", "reply_sink", "reply_channel"}.isdisjoint(
        dir(ractor_core)
    )


def test_derive_and_cluster_do_not_import_each_other() -> None:
    for path in (ROOT / "ractor_derive").rglob("*.py"):
        assert "ractor_cluster" not in _imports(path), path
    for path in (ROOT / "ractor_cluster").rglob("*.py"):
        assert "ractor_derive" not in _imports(path), path


@pytest.mark.parametrize("package", PUBLIC_MODULES)
def test_every_public_item_has_a_docstring(package: str) -> None:
    module = importlib.import_module(package)
    missing = []
    for name in getattr(module, "__all__", []):
        value = getattr(module, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            if not inspect.getdoc(value):
                missing.append(name)
            if inspect.isclass(value):
                for attr, member in vars(value).items():
                    if attr.startswith("_") or not callable(member):
                        continue
                    if not inspect.getdoc(member):
                        missing.append(f"{name}.{attr}")
    assert missing == []


@pytest.mark.timeout(240)
def test_typing_expectations_hold_under_mypy_strict() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--warn-unused-ignores", "tests/typing"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=230,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(240)
def test_typing_expectations_hold_under_pyright_strict() -> None:
    """tests/typing under the project's [tool.pyright] (strict): every ``# pyright: ignore``
    mark is needed (reportUnnecessaryTypeIgnoreComment) and mypy's marks are not read."""
    pyright = Path(sys.executable).with_name("pyright")
    result = subprocess.run(
        [str(pyright), "-p", "pyproject.toml", "--pythonpath", sys.executable, "tests/typing"],
        cwd=ROOT, capture_output=True, text=True, timeout=230,
        env={**os.environ, "PYRIGHT_PYTHON_IGNORE_WARNINGS": "1"},  # no look-up of releases
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_exception_the_packages_raise_is_a_ractor_error() -> None:
    from ractor_core import RactorError
    from ractor_derive._gen.parse import GenError

    errors = [GenError]
    for package in PACKAGES:
        module = importlib.import_module(package)
        errors += [v for v in vars(module).values()
                   if inspect.isclass(v) and issubclass(v, BaseException)]
    assert len(errors) > 10
    for error in errors:
        assert issubclass(error, RactorError), error
