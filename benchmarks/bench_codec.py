#!/usr/bin/env python3
"""Benchmark the ``ractor_derive`` message codec against pickle and msgspec, in one run.

Usage::

    python benchmarks/bench_codec.py [--quick] [--json OUT] [--profile]

Measures, on the running machine, the time per message (ns/op, best of several repeats of a
``time.perf_counter_ns`` loop) to encode, decode, and encode+decode one 3-field cast message
(``a: U32``, ``name: str`` of 16 characters, ``items: list[U16]`` of 8 items) with:

a. the decorator path, ``Fam.deserialize(msg.serialize())``: the full path, including the
   ``SerializedCast`` object and the variant lookup by tag;
b. the decorator path's argument packing alone: ``info.encode_args(msg)`` and
   ``info.decode_args(args)`` where ``info = type(msg).__ractor_variant__``;
c. pickle (protocol 5) ``dumps`` / ``loads`` of an equivalent frozen dataclass;
d. msgspec: a frozen ``msgspec.Struct`` through a ``msgspec.msgpack.Encoder`` and a typed
   ``msgspec.msgpack.Decoder`` (with the same u32 / u16 range constraints as the Rust types).

Construction is measured too: building the variant with keyword arguments (its ``__init__``
checks each value against its wire type: 300 in a ``U8`` is refused there) against the same
frozen dataclass without checks and the msgspec Struct (which checks nothing on construction).

Encode, decode and total are three separate loops (total is ``decode(encode(x))`` in one
loop), so total is measured, not summed. The cost of the bare ``for`` loop is measured too
and shown, but not subtracted. The garbage collector is off while a loop runs (as timeit
does). Target: the decorator path (a) within 4x of pickle's total; shown as pass/miss,
never asserted.
"""

from __future__ import annotations

import argparse
import gc
import json
import pickle
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any

from _machine import machine_info as _machine_info

_ROOT = Path(__file__).resolve().parent.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

import msgspec  # noqa: E402

from ractor_core.transport import SerializedCast  # noqa: E402
from ractor_derive import U16, U32, Message, VariantInfo, cluster_message  # noqa: E402

perf_ns = time.perf_counter_ns

TARGET_RATIO = 4.0
"""The decorator path's total (a) should be within this factor of pickle's total (c)."""

# ------------------------------------------------------------------------------------ config


@dataclass(frozen=True)
class Params:
    """Sizes of one run."""

    loops: int
    repeats: int


FULL = Params(loops=100_000, repeats=7)
QUICK = Params(loops=20_000, repeats=3)

# ---------------------------------------------------------------------------------- messages

A = 3_000_000_000  # needs all 32 bits
NAME = "ractor-bench-16c"  # 16 characters
ITEMS = [0, 1, 255, 256, 4096, 32768, 65534, 65535]
assert len(NAME) == 16 and len(ITEMS) == 8


@cluster_message
class BenchMsg(Message):
    """The family of the benchmark message."""


class Sample3(BenchMsg):
    """A cast with three fields: a fixed-width int, a short str, a short list of ints."""

    a: U32
    name: str
    items: list[U16]


@dataclass(frozen=True, kw_only=True)
class PickleSample:
    """The same data as a plain frozen dataclass, for pickle."""

    a: int
    name: str
    items: list[int]


class MsgspecSample(msgspec.Struct, frozen=True):
    """The same data as a frozen msgspec Struct, with the Rust types' ranges as constraints."""

    a: Annotated[int, msgspec.Meta(ge=0, le=(1 << 32) - 1)]
    name: str
    items: list[Annotated[int, msgspec.Meta(ge=0, le=(1 << 16) - 1)]]


# ------------------------------------------------------------------------------------ timing


def _loop1(fn: Callable[[Any], Any], x: Any, n: int) -> int:
    r = range(n)
    t0 = perf_ns()
    for _ in r:
        fn(x)
    return perf_ns() - t0


def _loop_pair(enc: Callable[[Any], Any], dec: Callable[[Any], Any], x: Any, n: int) -> int:
    r = range(n)
    t0 = perf_ns()
    for _ in r:
        dec(enc(x))
    return perf_ns() - t0


def _loop_pickle_dumps(x: Any, n: int) -> int:
    dumps, r = pickle.dumps, range(n)
    t0 = perf_ns()
    for _ in r:
        dumps(x, 5)
    return perf_ns() - t0


def _loop_pickle_total(x: Any, n: int) -> int:
    dumps, loads, r = pickle.dumps, pickle.loads, range(n)
    t0 = perf_ns()
    for _ in r:
        loads(dumps(x, 5))
    return perf_ns() - t0


def _loop_build(cls: Callable[..., Any], items: list[int], n: int) -> int:
    r = range(n)
    t0 = perf_ns()
    for _ in r:
        cls(a=A, name=NAME, items=items)
    return perf_ns() - t0


def _loop_empty(n: int) -> int:
    r = range(n)
    t0 = perf_ns()
    for _ in r:
        pass
    return perf_ns() - t0


def best_ns_per_op(p: Params, once: Callable[[int], int]) -> float:
    """Run ``once(loops)`` (after one short warm-up) ``repeats`` times; best ns per op."""
    once(max(1, p.loops // 10))
    best = float("inf")
    enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for _ in range(p.repeats):
            best = min(best, once(p.loops) / p.loops)
    finally:
        if enabled:
            gc.enable()
    return best


# ----------------------------------------------------------------------------------- results


@dataclass
class Row:
    """The ns/op of one contender."""

    key: str
    label: str
    encode: float
    decode: float
    total: float
    wire_bytes: int
    vs_pickle: dict[str, float] = field(default_factory=dict)


@dataclass
class Results:
    """Everything one run measured."""

    machine: dict[str, Any]
    params: dict[str, Any]
    loop_overhead_ns: float = 0.0
    rows: list[Row] = field(default_factory=list)
    target: dict[str, Any] = field(default_factory=dict)
    construct: dict[str, float] = field(default_factory=dict)
    wall_s: float = 0.0


def machine_info() -> dict[str, Any]:
    """nproc, CPU model and Python of the running machine."""
    return _machine_info("msgspec")


# --------------------------------------------------------------------------------- contenders


def _check_roundtrips(
    msg: Sample3, ps: PickleSample, ms: MsgspecSample, dec: msgspec.msgpack.Decoder[Any]
) -> None:
    """Each contender must give back what it was given (so no one is timed doing nothing)."""
    back = BenchMsg.deserialize(msg.serialize())
    if back != msg or type(back) is not Sample3:
        raise SystemExit(f"decorator round trip is wrong: {back!r}")
    if pickle.loads(pickle.dumps(ps, 5)) != ps:
        raise SystemExit("pickle round trip is wrong")
    if dec.decode(msgspec.msgpack.encode(ms)) != ms:
        raise SystemExit("msgspec round trip is wrong")


def bench(p: Params) -> Results:
    """Measure the four contenders."""
    res = Results(machine=machine_info(), params=asdict(p))
    msg = Sample3(a=A, name=NAME, items=list(ITEMS))
    ps = PickleSample(a=A, name=NAME, items=list(ITEMS))
    ms = MsgspecSample(a=A, name=NAME, items=list(ITEMS))
    m_enc = msgspec.msgpack.Encoder()
    m_dec = msgspec.msgpack.Decoder(MsgspecSample)
    _check_roundtrips(msg, ps, ms, m_dec)

    info = type(msg).__ractor_variant__
    assert isinstance(info, VariantInfo)
    assert info.encode_args is not None and info.decode_args is not None
    encode_args, decode_args = info.encode_args, info.decode_args
    serialize = Sample3.serialize  # the plain function: serialize(msg)
    deserialize = BenchMsg.deserialize
    ser = msg.serialize()
    assert isinstance(ser, SerializedCast)
    args = encode_args(msg)
    pickled = pickle.dumps(ps, 5)
    packed = m_enc.encode(ms)

    res.loop_overhead_ns = best_ns_per_op(p, _loop_empty)

    def measure(
        key: str,
        label: str,
        enc: Callable[[Any], Any],
        dec: Callable[[Any], Any],
        obj: Any,
        wire: Any,
        wire_bytes: int,
    ) -> None:
        print(f"[bench] {label} ...", file=sys.stderr, flush=True)
        res.rows.append(
            Row(
                key=key,
                label=label,
                encode=best_ns_per_op(p, lambda n: _loop1(enc, obj, n)),
                decode=best_ns_per_op(p, lambda n: _loop1(dec, wire, n)),
                total=best_ns_per_op(p, lambda n: _loop_pair(enc, dec, obj, n)),
                wire_bytes=wire_bytes,
            )
        )

    measure(
        "decorator",
        "a. decorator: Fam.deserialize(msg.serialize())",
        serialize,
        deserialize,
        msg,
        ser,
        len(ser.variant.encode()) + len(ser.args),
    )
    measure(
        "decorator_args",
        "b. decorator args only: encode_args / decode_args",
        encode_args,
        decode_args,
        msg,
        args,
        len(args),
    )
    print("[bench] c. pickle ...", file=sys.stderr, flush=True)
    res.rows.append(
        Row(
            key="pickle",
            label="c. pickle (protocol 5), frozen dataclass",
            encode=best_ns_per_op(p, lambda n: _loop_pickle_dumps(ps, n)),
            decode=best_ns_per_op(p, lambda n: _loop1(pickle.loads, pickled, n)),
            total=best_ns_per_op(p, lambda n: _loop_pickle_total(ps, n)),
            wire_bytes=len(pickled),
        )
    )
    measure(
        "msgspec",
        "d. msgspec msgpack, frozen Struct, typed Decoder",
        m_enc.encode,
        m_dec.decode,
        ms,
        packed,
        len(packed),
    )

    print("[bench] construction ...", file=sys.stderr, flush=True)
    items = list(ITEMS)
    res.construct = {
        "variant": best_ns_per_op(p, lambda n: _loop_build(Sample3, items, n)),
        "dataclass": best_ns_per_op(p, lambda n: _loop_build(PickleSample, items, n)),
        "msgspec": best_ns_per_op(p, lambda n: _loop_build(MsgspecSample, items, n)),
    }

    by_key = {r.key: r for r in res.rows}
    pk = by_key["pickle"]
    for r in res.rows:
        r.vs_pickle = {
            "encode": r.encode / pk.encode,
            "decode": r.decode / pk.decode,
            "total": r.total / pk.total,
        }
    ratio = by_key["decorator"].total / by_key["pickle"].total
    res.target = {
        "name": f"decorator path (a) total within {TARGET_RATIO:g}x of pickle (c) total",
        "ratio": ratio,
        "limit": TARGET_RATIO,
        "pass": ratio <= TARGET_RATIO,
    }
    return res


# ----------------------------------------------------------------------------------- output


def render(res: Results, quick: bool) -> str:
    """The report: machine, table, target."""
    m = res.machine
    out = [
        f"# ractor_derive codec benchmark{' (--quick)' if quick else ''}",
        "",
        f"Machine: nproc={m['nproc']} (cpu_count={m['cpu_count']}), CPU: {m['cpu_model']}, "
        f"{m['implementation']} {m['python']}, {m['platform']}; msgspec {m['msgspec']}",
        f"Loops of {res.params['loops']:,} ops, best of {res.params['repeats']} repeats; "
        f"bare loop overhead {res.loop_overhead_ns:.1f} ns/op (included, not subtracted).",
        "Message: cast with a: U32, name: str (16 chars), items: list[U16] (8 items).",
        "",
        "| contender | encode ns/op | decode ns/op | total ns/op "
        "| encode vs pickle | decode vs pickle | total vs pickle | wire bytes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in res.rows:
        v = r.vs_pickle
        out.append(
            f"| {r.label} | {r.encode:,.0f} | {r.decode:,.0f} | {r.total:,.0f} "
            f"| {v['encode']:.2f}x | {v['decode']:.2f}x | {v['total']:.2f}x | {r.wire_bytes} |"
        )
    t = res.target
    c = res.construct
    out += [
        "",
        "(wire bytes: a = tag + packed args, without the cluster envelope; b = packed args.)",
        "",
        "| construction (keyword arguments) | ns/op | vs frozen dataclass |",
        "|---|---:|---:|",
        f"| variant (checks each value's wire type) | {c['variant']:,.0f} "
        f"| {c['variant'] / c['dataclass']:.2f}x |",
        f"| frozen dataclass (no checks) | {c['dataclass']:,.0f} | 1.00x |",
        f"| msgspec frozen Struct (no checks) | {c['msgspec']:,.0f} "
        f"| {c['msgspec'] / c['dataclass']:.2f}x |",
        "",
        f"Target: {t['name']}: {t['ratio']:.2f}x (limit {t['limit']:g}x) -> "
        f"{'pass' if t['pass'] else '**miss**'}",
        f"Wall time: {res.wall_s:.1f} s",
    ]
    return "\n".join(out)


def profile_decorator(loops: int, top: int = 15) -> str:
    """cProfile the decorator path (a); the hot functions by own time (profiler-inflated)."""
    import cProfile
    import io
    import pstats

    msg = Sample3(a=A, name=NAME, items=list(ITEMS))
    serialize, deserialize = Sample3.serialize, BenchMsg.deserialize
    prof = cProfile.Profile()
    prof.enable()
    _loop_pair(serialize, deserialize, msg, loops)
    prof.disable()
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    return buf.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the report; optionally write JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--quick", action="store_true", help="smaller sizes (a few seconds)")
    ap.add_argument("--json", metavar="OUT", help="also write all results as JSON to OUT")
    ap.add_argument("--profile", action="store_true", help="also cProfile the decorator path (a)")
    args = ap.parse_args(argv)

    p = QUICK if args.quick else FULL
    t0 = time.perf_counter()
    res = bench(p)
    res.wall_s = time.perf_counter() - t0

    print(render(res, args.quick))
    if args.profile:
        print("\n## cProfile of the decorator path (a), by own time\n")
        print(profile_decorator(p.loops // 2).rstrip())
    if args.json:
        Path(args.json).write_text(json.dumps(asdict(res), indent=2) + "\n")
        print(f"\n(JSON written to {args.json})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
