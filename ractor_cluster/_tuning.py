"""Process-wide settings a node process wants: the garbage collector's (``tune_gc``)."""

from __future__ import annotations

import gc

__all__ = ["DEFAULT_GC_THRESHOLD", "tune_gc"]

DEFAULT_GC_THRESHOLD = 50_000
"""The young-generation threshold ``ractor-cluster node`` sets (``--gc-threshold``).

A node allocates an object or more per message it sends or receives, and most of them are
gone within the loop pass that made them. With Python's default of 700 allocations, the
young-generation collections, and the older-generation ones they lead to through every
message still queued, took about a third of the CPU of receiving a cast
(docs/benchmarks.md section 5). 50,000 young objects are a few MiB at most."""


def tune_gc(threshold: int = DEFAULT_GC_THRESHOLD) -> None:
    """Freeze the objects alive now out of collections, and collect the young generation
    every ``threshold`` allocations (call it once the app has started).

    Raises:
        ValueError: ``threshold`` is not positive.
    """
    if threshold <= 0:
        raise ValueError(f"the GC threshold must be positive, not {threshold}")
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(threshold, older, oldest)
