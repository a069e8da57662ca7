"""Generated codecs (``ractor-derive gen``) against the decorator path and pickle.

    python benchmarks/bench_codegen.py [--quick]

Encode + decode of one 3-field message (``examples.shop_messages.Restock``: str, U32, bool),
best of several runs, in ns per message. The generated functions are the source the
decorators compile from the same wire plan at import (ractor_derive/_compile.py), and
importing the generated module registers them as the variant's codec; so the rows are the
generated functions called directly, the same code compiled as the decorator does (before
registration replaced it), the general field-by-field codec that both fall back to, and pickle.
"""

from __future__ import annotations

import argparse
import os
import pickle
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from examples import shop_messages_ractor as gen
from examples.shop_messages import Restock
from ractor_derive import fallback_of
from ractor_derive._message import _compile_codec  # pyright: ignore[reportPrivateUsage]

MSG = Restock(item="green tea, 250 g", amount=4_000_000_000, urgent=True)


def best_ns(fn: Callable[[], object], loops: int, repeats: int) -> float:
    """Best per-call time of ``fn`` over ``repeats`` runs of ``loops`` calls."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter_ns() - start) / loops)
    return best


def main() -> int:
    """Measure and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    loops, repeats = (20_000, 3) if args.quick else (200_000, 7)
    info = Restock.__ractor_variant__
    assert info is not None and info.generated
    compiled = _compile_codec(info.plan, Restock, "Shop.Restock", info.tag, info.is_call)
    general = fallback_of(Restock)
    data = gen.encode_restock(MSG)
    assert data == compiled.encode(MSG) == general.encode(MSG)
    assert gen.decode_restock(data) == compiled.decode(data) == MSG
    pickled = pickle.dumps(MSG, protocol=5)
    rows = {
        "generated (encode_restock + decode_restock)": best_ns(
            lambda: gen.decode_restock(gen.encode_restock(MSG)), loops, repeats),
        "decorator path (the same code, compiled at import)": best_ns(
            lambda: compiled.decode(compiled.encode(MSG)), loops, repeats),
        "general codec (field by field, the fallback)": best_ns(
            lambda: general.decode(general.encode(MSG)), loops, repeats),
        "pickle protocol 5 (dumps + loads)": best_ns(
            lambda: pickle.loads(pickle.dumps(MSG, protocol=5)), loops, repeats),
    }
    base = rows["pickle protocol 5 (dumps + loads)"]
    deco = rows["decorator path (the same code, compiled at import)"]
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    print(f"Machine: nproc={os.cpu_count()}, CPU: {cpu}, Python {platform.python_version()}")
    print(f"Message: Restock (str, U32, bool); {len(data)} bytes of arguments, "
          f"{len(pickled)} bytes pickled; best of {repeats} x {loops:,}\n")
    print("| path | ns / message | vs pickle | vs decorator path |")
    print("|---|---:|---:|---:|")
    for name, ns in rows.items():
        print(f"| {name} | {ns:,.0f} | {ns / base:.2f}x | {ns / deco:.2f}x |")
    ratio = deco / rows["generated (encode_restock + decode_restock)"]
    print(f"\ngenerated path is {ratio:.2f}x the speed of the decorator path (the same code: "
          "expected 1x within noise)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
