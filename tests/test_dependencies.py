"""Dependencies follow the layering: the core needs nothing outside the standard library, and
each extra brings what its part needs (cluster -> protobuf, codegen -> jinja2)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]

# Prints the top-level names of the non-standard-library modules that the statement loads
# (what the interpreter's start-up loaded, such as .pth hooks, does not count).
_PROBE = """
import json, sys
before = set(sys.modules)
{statement}
own = {{"ractor_core", "ractor_derive", "ractor_cluster"}}
loaded = {{name.split(".")[0] for name in set(sys.modules) - before}}
print(json.dumps(sorted(loaded - set(sys.stdlib_module_names) - own)))
"""


def _third_party_loaded_by(statement: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-I", "-c", _PROBE.format(statement=statement)],
        cwd=ROOT.parent, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout))


def _requirement_names(requirements: list[str]) -> set[str]:
    names = set()
    for requirement in requirements:
        name = requirement.split(";")[0]
        for stop in "<>=![ ":
            name = name.split(stop)[0]
        names.add(name.lower())
    return names


def test_the_core_has_no_dependencies_and_loads_no_third_party_module() -> None:
    assert PROJECT["dependencies"] == []
    assert _third_party_loaded_by(
        "import ractor_core, ractor_core.pg, ractor_core.transport"
    ) == set()


def test_the_derive_decorators_and_codecs_load_no_third_party_module() -> None:
    statement = (
        "from ractor_derive import U8, Message, cluster_message\n"
        "@cluster_message\n"
        "class Fam(Message):\n"
        "    pass\n"
        "class Var(Fam):\n"
        "    n: U8\n"
        "assert Var(n=1).serialize().variant == 'Var'\n"
    )
    assert _third_party_loaded_by(statement) == set()


def test_the_cluster_needs_protobuf_only() -> None:
    assert _third_party_loaded_by("import ractor_cluster") == {"google"}


def test_codegen_without_jinja2_says_which_extra_to_install(tmp_path: Path) -> None:
    source = ROOT / "examples" / "shop_messages.py"
    statement = (
        "sys.modules['jinja2'] = None  # as if jinja2 were not installed\n"
        "from ractor_derive._cli import main\n"
        f"code = main(['gen', {str(source)!r}, '-o', {str(tmp_path)!r}])\n"
        "assert code == 2, code\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", "import sys\n" + statement],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "pip install 'ractor-py[codegen]'" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("extra", "needs"),
    [("cluster", {"protobuf"}), ("codegen", {"jinja2"}), ("pydantic", {"pydantic"})],
)
def test_each_extra_brings_what_its_part_needs(extra: str, needs: set[str]) -> None:
    extras = PROJECT["optional-dependencies"]
    assert _requirement_names(extras[extra]) == needs


def test_the_dev_extra_has_every_other_extra_and_both_type_checkers() -> None:
    extras = PROJECT["optional-dependencies"]
    dev = _requirement_names(extras["dev"])
    for extra in ("cluster", "codegen", "derive", "pydantic", "fast"):
        assert _requirement_names(extras[extra]) <= dev, extra
    assert {"mypy", "pyright"} <= dev
    pinned = [r for r in extras["dev"] if r.startswith("pyright")]
    assert pinned and "==" in pinned[0], "pyright is pinned: its version decides what CI reports"
