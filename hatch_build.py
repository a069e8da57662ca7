"""Build hook: compile the optional C accelerator ``ractor_cluster._speedups``.

The accelerator (ractor_cluster/_speedups.c, see ractor_cluster/_accel.py) reads and writes
the frames that carry messages; the package works the same without it, in pure Python. It is
compiled with the C compiler the interpreter was built with (sysconfig's ``LDSHARED``), when
there is one: without a compiler, Python headers or a POSIX platform the build goes on
without it, and says so. ``RACTOR_PURE_PYTHON=1`` at install time skips it.

An editable install puts the compiled module beside its source (the install is a path to
the repository); a wheel carries it and is then tagged for this interpreter and platform.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SOURCE = Path("ractor_cluster") / "_speedups.c"


def _say(message: str) -> None:
    print(f"ractor-py build: {message}", file=sys.stderr)


def compile_speedups(root: Path, out_dir: Path) -> Path | None:
    """Compile the accelerator into ``out_dir``; None (and why, on stderr) when it cannot."""
    if os.environ.get("RACTOR_PURE_PYTHON", "") not in ("", "0"):
        _say("RACTOR_PURE_PYTHON is set: the C accelerator is not built (pure Python)")
        return None
    if os.name != "posix" or sys.implementation.name != "cpython":
        _say("the C accelerator is built on CPython for POSIX only: pure Python")
        return None
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    ldshared = sysconfig.get_config_var("LDSHARED")
    include = sysconfig.get_paths()["include"]
    if not suffix or not ldshared or not (Path(include) / "Python.h").exists():
        _say("no Python headers or compiler settings here: pure Python")
        return None
    target = out_dir / f"_speedups{suffix}"
    sha = hashlib.sha256((root / SOURCE).read_bytes()).hexdigest()
    command = [*shlex.split(ldshared), "-O2", "-fPIC", "-Wall", f"-I{include}",
               f'-DRACTOR_SOURCE_SHA256="{sha}"', str(root / SOURCE), "-o", str(target)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.SubprocessError) as exc:
        _say(f"could not run the C compiler ({exc}): pure Python")
        return None
    if result.returncode != 0 or not target.exists():
        _say(f"the C accelerator did not compile: pure Python\n{result.stderr[-2000:]}")
        return None
    _say(f"built the C accelerator ({target.name})")
    return target


class SpeedupsHook(BuildHookInterface):  # type: ignore[type-arg,misc]
    """Compiles the accelerator for wheels and editable installs."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Add the compiled module to the build (or leave the build pure Python)."""
        if self.target_name != "wheel":
            return
        root = Path(self.root)
        if version == "editable":
            # the install is a path to this repository: the module goes beside its source,
            # replacing one built for this interpreter before (atomically: running
            # processes keep the file they loaded)
            package = root / "ractor_cluster"
            suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
            with tempfile.TemporaryDirectory(dir=package, prefix=".build-") as temp:
                built = compile_speedups(root, Path(temp))
                if built is not None:
                    os.replace(built, package / built.name)
                else:
                    (package / f"_speedups{suffix}").unlink(missing_ok=True)
            return
        self._temp = tempfile.TemporaryDirectory(prefix="ractor-speedups-")
        built = compile_speedups(root, Path(self._temp.name))
        if built is not None:
            build_data["force_include"][str(built)] = f"ractor_cluster/{built.name}"
            build_data["pure_python"] = False
            build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        """Remove the compiled module's scratch folder once the wheel holds it."""
        temp: tempfile.TemporaryDirectory[str] | None = getattr(self, "_temp", None)
        if temp is not None:
            temp.cleanup()
