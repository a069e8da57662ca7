"""The optional C accelerator of the hot frames (``_speedups``): its functions, or None.

``ractor_cluster/_speedups.c`` does what ``_framing.FrameReader`` and the frame functions of
``_wire`` do, for the frames that carry messages; it is compiled when the package is
installed from source with a C compiler at hand (``hatch_build.py``), and left out
otherwise. The Python code is the reference: both are tested on the same bytes
(tests/ractor_cluster/test_speedups.py), and the C encoders hand whatever they do not
write themselves (a value out of range, a non-``bytes`` argument) to the Python encoders,
which write it or raise their error. ``RACTOR_PURE_PYTHON=1`` in the environment turns the
accelerator off (to compare, or to rule it out).
"""

from __future__ import annotations

import hashlib
import importlib
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["Split", "active", "call_frame", "cast_frame", "reply_frame", "set_fallbacks", "split"]


Split = Callable[
    [bytes | bytearray, int, int, bool],
    tuple[list["bytes | tuple[str, int, bytes, str, int, int | None, bytes | None]"], int,
          int | None],
]
"""``split(data, pos, limit, decode) -> (items, next_pos, over_limit_length)``: the
complete frames of ``data`` from ``pos``, each the payload's bytes, or (with ``decode``) a
canonical node message as ``_wire.decode_node`` returns it; ``next_pos`` is where the
incomplete rest begins, or -1 after a length prefix over ``limit`` (which is then
``over_limit_length``, else None)."""


def _load() -> Any:
    if os.environ.get("RACTOR_PURE_PYTHON", "") not in ("", "0"):
        return None
    try:
        module = importlib.import_module("ractor_cluster._speedups")
    except ImportError:
        return None
    source = Path(__file__).with_name("_speedups.c")
    if source.exists():  # beside it (a checkout): built from this very source?
        sha = hashlib.sha256(source.read_bytes()).hexdigest()
        if getattr(module, "SOURCE_SHA256", None) != sha:
            warnings.warn(
                "ractor_cluster: the compiled accelerator is older than _speedups.c beside "
                "it, so it is not used (pure Python); build it again: pip install -e .",
                RuntimeWarning,
                stacklevel=2,
            )
            return None
    return module


_module = _load()
active: bool = _module is not None
"""Whether the compiled module is in use."""
split: Split | None = None if _module is None else _module.split
cast_frame: Callable[..., bytes] | None = None if _module is None else _module.cast_frame
call_frame: Callable[..., bytes] | None = None if _module is None else _module.call_frame
reply_frame: Callable[..., bytes] | None = None if _module is None else _module.reply_frame
set_fallbacks: Callable[..., None] | None = None if _module is None else _module.set_fallbacks
