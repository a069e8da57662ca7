#!/usr/bin/env python3
"""Remote cast / call between Rust and Python ractor_cluster nodes, Rust <-> Rust as the anchor.

Usage::

    python benchmarks/bench_interop.py [--quick] [--json OUT] [--pin os|same|split]

One run measures the same remote cast / call benchmark for four (driver -> server) pairs of
node processes on loopback: Rust -> Rust (the anchor), Python -> Rust, Rust -> Python and
Python -> Python. The Rust node is the interop peer (tests/interop/rust_peer, ractor /
ractor_cluster 0.16.5 from crates.io), built here with cargo exactly as the interop tests
build it (tests/interop/cargo.py); the Python node is ``ractor-cluster node --app
tests.ractor_cluster.node_app``. Both are started and driven by tests/ractor_cluster/harness.py
(JSON commands on stdin), and both implement the two benchmark ops identically:

- ``bench_cast`` {to, n}: n casts of ``Add(1)`` to the remote counter ``to``, then one ``Get``
  call (60 s timeout) that answers once all arrived; msgs/s = n / (casts + final call);
- ``bench_call`` {to, n}: n sequential ``Echo("ping")`` calls (5 s timeout each); p50 / p99 /
  mean round trip.

Both are timed inside the driver node (Python ``time.perf_counter``, Rust
``std::time::Instant``), so the harness's stdin/stdout plumbing is not measured. Each pair gets
two fresh processes (the server hosts ``counter-server``, the driver dials it), a warm-up,
then the cast benchmark (best of 3, the counter's total checked after every run) and the call
benchmark. By default the processes are placed by the OS scheduler; ``--pin same`` puts both
nodes of a pair on one CPU, ``--pin split`` the driver on one CPU and the server on another
(Linux CPU affinity of every thread, set once the nodes are up). On a small VM a wake-up on
another CPU costs tens of µs, so the call round trips of an OS-scheduled run depend on where
the scheduler happened to put the threads; pinning makes them comparable.

Without cargo (or without crates.io for a first build) the Rust rows are skipped with the
reason and only Python -> Python runs. Every node process is stopped at the end (SIGTERM, then
SIGKILL), also when a pair fails or the script is interrupted (Ctrl-C, SIGTERM, SIGHUP).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _machine import machine_info as _machine_info

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.ractor_cluster.harness import NodeProcess  # noqa: E402

CRATE = ROOT / "tests" / "interop" / "rust_peer"
SERVER, DRIVER = "server", "driver"
TARGET = f"counter-{SERVER}"
CONNECT_TIMEOUT = 15.0  # sessions up and the remote counter visible
CAST_WAIT = 180.0  # the harness's wait for one bench_cast answer (its Get call: 60 s)
CALL_WAIT = 180.0  # the harness's wait for one bench_call answer
RUST, PYTHON = "Rust", "Python"
PAIRS = [(RUST, RUST), (PYTHON, RUST), (RUST, PYTHON), (PYTHON, PYTHON)]
ANCHOR = (RUST, RUST)
PLACEMENTS = {
    "os": "placed by the OS scheduler",
    "same": "both nodes pinned to one CPU",
    "split": "driver and server pinned to two different CPUs",
}


@dataclass(frozen=True)
class Params:
    """Sizes of one run."""

    cast_n: int
    call_n: int
    repeats: int
    warmup_casts: int
    warmup_calls: int


FULL = Params(cast_n=200_000, call_n=5_000, repeats=3, warmup_casts=20_000, warmup_calls=500)
QUICK = Params(cast_n=20_000, call_n=1_000, repeats=3, warmup_casts=5_000, warmup_calls=200)


# ------------------------------------------------------------------------------ results


@dataclass
class PairResult:
    """What one driver -> server pair measured."""

    driver: str
    server: str
    cast_runs: list[float] = field(default_factory=list)  # msgs/s of each repeat
    cast_seconds: list[float] = field(default_factory=list)
    cast_best: float | None = None
    cast_median: float | None = None
    call: dict[str, float] | None = None  # p50_us, p99_us, mean_us
    # CPU µs per cast of each repeat (all threads, from /proc/<pid>/task/*/schedstat)
    cpu_driver: list[float] = field(default_factory=list)
    cpu_server: list[float] = field(default_factory=list)
    seconds: float = 0.0  # wall time of the pair, start to stop
    exit_codes: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def label(self) -> str:
        return f"{self.driver} → {self.server}"


@dataclass
class Results:
    """Everything one run measured."""

    machine: dict[str, Any]
    rust: dict[str, Any] = field(default_factory=dict)
    placement: str = "os"
    cpus: str = ""  # the pinning, in words
    python_mode: str = ""  # the Python nodes' accelerator and GC settings, in words
    pairs: list[PairResult] = field(default_factory=list)
    skipped: str | None = None  # why the Rust rows did not run
    errors: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------ the Rust peer


def build_peer() -> tuple[Path | None, str, bool]:
    """(binary, why not, failed): the peer built by tests/interop/cargo.py's logic.

    ``failed`` is True when cargo ran and the build broke (an error of this run), False when
    the peer is merely unavailable here (no cargo, no crates.io: the Rust rows are skipped).
    """
    try:
        from tests.interop.cargo import _build
    except ImportError as exc:  # cargo.py needs pytest (a dev dependency)
        return None, f"cannot import tests/interop/cargo.py ({exc})", False
    try:
        path, why = _build("peer")
    except RuntimeError as exc:
        return None, str(exc), True
    return path, why, False


def rust_info() -> dict[str, Any]:
    """rustc's version and the ractor / ractor_cluster / tokio versions of Cargo.lock."""
    info: dict[str, Any] = {"rustc": None}
    rustc = shutil.which("rustc")
    if rustc:
        try:
            out = subprocess.run([rustc, "--version"], capture_output=True, text=True, timeout=30)
            info["rustc"] = out.stdout.strip() or None
        except (OSError, subprocess.TimeoutExpired):
            pass
    try:
        lock = (CRATE / "Cargo.lock").read_text()
    except OSError:
        lock = ""
    for crate in ("ractor", "ractor_cluster", "tokio"):
        found = re.search(rf'name = "{crate}"\nversion = "([^"]+)"', lock)
        info[crate] = found.group(1) if found else None
    return info


# ------------------------------------------------------------------------------ one pair


def start_node(kind: str, name: str, cookie: str, peer: Path | None) -> NodeProcess:
    if kind == RUST:
        assert peer is not None
        return NodeProcess(name, cookie=cookie, command=[str(peer)])
    return NodeProcess(name, cookie=cookie, **PYTHON_NODE)


def python_mode(pure: bool) -> str:
    """How the Python nodes run, in words."""
    if pure:
        return ("pure Python (RACTOR_PURE_PYTHON=1) with Python's own GC settings "
                "(--gc-threshold 0)")
    from ractor_cluster import DEFAULT_GC_THRESHOLD, _accel

    accel = "the C accelerator" if _accel.active else "no C accelerator (not built)"
    return f"{accel}, --gc-threshold {DEFAULT_GC_THRESHOLD:,} (the defaults)"


PYTHON_NODE: dict[str, Any] = {}
"""How Python nodes start (``--pure-python``: without the C accelerator and the GC tuning)."""


def pin(placement: str, driver: NodeProcess, server: NodeProcess) -> str:
    """Set the CPU affinity of every thread of both nodes; returns the pinning in words."""
    if placement == "os":
        return ""
    allowed = sorted(os.sched_getaffinity(0))
    if placement == "same":
        cpus = {DRIVER: {allowed[0]}, SERVER: {allowed[0]}}
    elif len(allowed) >= 2:
        cpus = {DRIVER: {allowed[0]}, SERVER: {allowed[1]}}
    else:
        raise RuntimeError(f"--pin split needs two CPUs, this process may use {allowed}")
    for node in (driver, server):
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{node.proc.pid}/task")]
        except OSError:
            tids = [node.proc.pid]
        for tid in tids:
            try:
                os.sched_setaffinity(tid, cpus[node.name])
            except OSError:
                pass  # a thread that just ended
    return f"driver on CPU {min(cpus[DRIVER])}, server on CPU {min(cpus[SERVER])}"


def cpu_ns(pid: int) -> int | None:
    """CPU time of every thread of process ``pid`` so far, in ns (Linux schedstat; None
    where there is no such file)."""
    total = 0
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except (OSError, ValueError, IndexError):
            continue  # a thread that just ended
    return total


def wait_connected(driver: NodeProcess, server: NodeProcess) -> None:
    """Both sides see the session, and the driver sees the server's counter."""
    driver.wait_for(lambda: server.full_name in driver.rpc("sessions"), CONNECT_TIMEOUT,
                    f"{driver.name} sees {server.name}")
    server.wait_for(lambda: driver.full_name in server.rpc("sessions"), CONNECT_TIMEOUT,
                    f"{server.name} sees {driver.name}")
    driver.wait_for(lambda: any(n == TARGET for _, n in driver.rpc("remote_actors")),
                    CONNECT_TIMEOUT, f"{driver.name} sees {TARGET}")


def bench_cast(driver: NodeProcess, n: int, expected: int) -> dict[str, Any]:
    """One bench_cast run; checks the counter's total (``expected`` after this run)."""
    result: dict[str, Any] = driver.rpc("bench_cast", wait=CAST_WAIT, to=TARGET, n=n)
    if result["total"] != expected:
        raise RuntimeError(f"bench_cast: the counter's total is {result['total']}, "
                           f"expected {expected} (casts lost?)")
    return result


def run_pair(pair: PairResult, p: Params, cookie: str, peer: Path | None,
             nodes: list[NodeProcess], res: Results) -> None:
    """Start the two nodes, connect, warm up, measure; the nodes are appended to ``nodes``."""
    started = time.perf_counter()
    server = start_node(pair.server, SERVER, cookie, peer)
    nodes.append(server)
    driver = start_node(pair.driver, DRIVER, cookie, peer)
    nodes.append(driver)
    driver.rpc("connect", address=server.address)
    wait_connected(driver, server)
    res.cpus = pin(res.placement, driver, server) or res.cpus
    total = 0
    if p.warmup_casts:
        total += p.warmup_casts
        bench_cast(driver, p.warmup_casts, total)
    if p.warmup_calls:
        driver.rpc("bench_call", wait=CALL_WAIT, to=TARGET, n=p.warmup_calls)
    for _ in range(p.repeats):
        total += p.cast_n
        d0, s0 = cpu_ns(driver.proc.pid), cpu_ns(server.proc.pid)
        result = bench_cast(driver, p.cast_n, total)
        if d0 is not None and s0 is not None:
            d1, s1 = cpu_ns(driver.proc.pid), cpu_ns(server.proc.pid)
            if d1 is not None and s1 is not None:
                pair.cpu_driver.append((d1 - d0) / 1000 / p.cast_n)
                pair.cpu_server.append((s1 - s0) / 1000 / p.cast_n)
        pair.cast_runs.append(float(result["rate"]))
        pair.cast_seconds.append(float(result["seconds"]))
    pair.cast_best = max(pair.cast_runs)
    pair.cast_median = statistics.median(pair.cast_runs)
    call = driver.rpc("bench_call", wait=CALL_WAIT, to=TARGET, n=p.call_n)
    pair.call = {key: float(call[key]) for key in ("p50_us", "p99_us", "mean_us")}
    pair.seconds = time.perf_counter() - started


def stop_nodes(nodes: list[NodeProcess]) -> dict[str, int]:
    """SIGTERM every node (SIGKILL if it does not exit); their exit codes by name."""
    codes: dict[str, int] = {}
    for node in nodes:
        try:
            codes[node.name] = node.terminate()
        except Exception:  # stopping the others matters more
            node.kill()
            codes[node.name] = -9
    nodes.clear()
    return codes


# ------------------------------------------------------------------------------ report


def machine_info() -> dict[str, Any]:
    """nproc, CPU model, Python and its event loop on the running machine."""
    return _machine_info("uvloop")


def ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.2f}x"


def render(res: Results, p: Params, quick: bool, wall: float) -> str:
    m, r = res.machine, res.rust
    loop = (f"uvloop {m['uvloop']} (ractor-cluster's CLI runs on it when importable)"
            if m["uvloop"] else "the default asyncio loop (uvloop is not installed)")
    rust = (f"{r.get('rustc') or 'rustc ?'}, ractor {r.get('ractor')} / ractor_cluster "
            f"{r.get('ractor_cluster')}, tokio {r.get('tokio')} multi-thread runtime "
            f"(#[tokio::main]: one worker per CPU), release build" if r else "not run")
    lines = [
        f"## Rust ↔ Python ractor_cluster benchmark ({'quick' if quick else 'full'} run, "
        f"wall {wall:.1f} s)",
        "",
        f"Machine: nproc={m['nproc']} (cpu_count={m['cpu_count']}), CPU: {m['cpu_model']}, "
        f"{m['implementation']} {m['python']}, {m['platform']}. Python nodes: {loop}; "
        f"{res.python_mode}. "
        f"Rust nodes: {rust}.",
        "",
        f"Two fresh node processes per pair on loopback (TCP), {PLACEMENTS[res.placement]}"
        f"{f' ({res.cpus})' if res.cpus else ''}; the "
        f"driver node runs the benchmark against the server node's counter and times it itself "
        f"(no stdin/stdout in the window). Cast: N={p.cast_n:,} `Add(1)` casts, then one "
        f"`Get` call that answers once all arrived; best of {p.repeats} (median in brackets). "
        f"Call: N={p.call_n:,} sequential `Echo(\"ping\")` round trips. After "
        f"{p.warmup_casts:,} warm-up casts and {p.warmup_calls:,} warm-up calls. Anchor: "
        f"Rust → Rust; \"÷ anchor\" is this row's number divided by the anchor's (casts: "
        f"higher is faster; calls: lower is faster).",
        "",
        "| driver → server | cast msgs/s | cast rate ÷ anchor | call p50 µs | call p99 µs "
        "| call mean µs | p50 ÷ anchor | p99 ÷ anchor |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    anchor = next((x for x in res.pairs if (x.driver, x.server) == ANCHOR and not x.error), None)
    for x in res.pairs:
        name = x.label + (" (anchor)" if (x.driver, x.server) == ANCHOR else "")
        if x.error or x.cast_best is None or x.call is None:
            lines.append(f"| {name} | failed | | | | | | |")
            continue
        a_cast = anchor.cast_best if anchor else None
        a_call = anchor.call if anchor and anchor.call else {}
        c = x.call
        lines.append(
            f"| {name} | {x.cast_best:,.0f} ({x.cast_median:,.0f}) | "
            f"{ratio(x.cast_best, a_cast)} | {c['p50_us']:.1f} | {c['p99_us']:.1f} | "
            f"{c['mean_us']:.1f} | {ratio(c['p50_us'], a_call.get('p50_us'))} | "
            f"{ratio(c['p99_us'], a_call.get('p99_us'))} |")
    lines += [
        "",
        "CPU time per cast, both processes of the pair (all their threads, from "
        "/proc/<pid>/task/*/schedstat, over each whole `bench_cast` command; median of the "
        "repeats):",
        "",
        "| driver → server | driver µs | server µs | both µs | both ÷ anchor |",
        "|---|---:|---:|---:|---:|",
    ]
    a_cpu = (statistics.median(anchor.cpu_driver) + statistics.median(anchor.cpu_server)
             if anchor and anchor.cpu_driver and anchor.cpu_server else None)
    for x in res.pairs:
        if not x.cpu_driver or not x.cpu_server:
            continue
        d, v = statistics.median(x.cpu_driver), statistics.median(x.cpu_server)
        lines.append(f"| {x.label} | {d:.2f} | {v:.2f} | {d + v:.2f} | {ratio(d + v, a_cpu)} |")
    if res.skipped:
        lines += ["", f"Rust rows skipped (no anchor, so no ratios): {res.skipped}"]
    if res.errors:
        lines += ["", "Errors:"] + [f"- {e}" for e in res.errors]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (< 30 s)")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    parser.add_argument("--pin", choices=list(PLACEMENTS), default="os",
                        help="CPU placement of each pair's two nodes: os (the scheduler decides, "
                             "the default), same (one CPU), split (two CPUs)")
    parser.add_argument("--pure-python", action="store_true",
                        help="Python nodes without the C accelerator (RACTOR_PURE_PYTHON=1) and "
                             "with Python's own GC settings (--gc-threshold 0): to compare")
    args = parser.parse_args(argv)
    if args.pure_python:
        PYTHON_NODE.update(env={"RACTOR_PURE_PYTHON": "1"}, extra=["--gc-threshold", "0"])
    p = QUICK if args.quick else FULL
    started = time.perf_counter()
    res = Results(machine_info(), placement=args.pin, python_mode=python_mode(args.pure_python))

    def on_signal(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    print("building the Rust peer (cargo build --release --locked --bin peer) ...",
          file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    peer, why, failed = build_peer()
    build_s = time.perf_counter() - t0
    if peer is None:
        res.skipped = why
        if failed:
            res.errors.append(f"the Rust peer did not build: {why}")
        print(f"Rust rows skipped: {why}", file=sys.stderr, flush=True)
    else:
        res.rust = {**rust_info(), "binary": str(peer), "build_s": build_s}
    pairs = [pair for pair in PAIRS if peer is not None or RUST not in pair]
    cookie = os.urandom(12).hex()
    nodes: list[NodeProcess] = []
    stopped_by: int | None = None  # the exit code when interrupted
    try:
        for driver, server in pairs:
            pair = PairResult(driver, server)
            res.pairs.append(pair)
            print(f"{pair.label} ...", file=sys.stderr, flush=True)
            try:
                run_pair(pair, p, cookie, peer, nodes, res)
            except Exception as exc:  # this pair failed: report it, go on with the next
                pair.error = f"{type(exc).__name__}: {exc}"
                tails = [f"{n.name}: {''.join(n.stderr)[-1500:]}" for n in nodes if n.stderr]
                res.errors.append(f"{pair.label}: {pair.error}"
                                  + ("".join(f"\n  stderr of {t}" for t in tails)))
            finally:
                pair.exit_codes = stop_nodes(nodes)
            for name, code in pair.exit_codes.items():
                if code != 0 and not pair.error:
                    res.errors.append(f"{pair.label}: the {name} node exited with code {code}")
    except (KeyboardInterrupt, SystemExit) as exc:
        stopped_by = 130 if isinstance(exc, KeyboardInterrupt) else int(exc.code or 1)
        res.errors.append(f"interrupted ({type(exc).__name__}); the rows after it did not run")
    finally:
        stop_nodes(nodes)
    wall = time.perf_counter() - started
    print(render(res, p, args.quick, wall))
    if args.json:
        payload = {"machine": res.machine, "rust": res.rust, "params": asdict(p),
                   "quick": args.quick, "wall_s": wall, "anchor": " → ".join(ANCHOR),
                   "placement": res.placement, "cpus": res.cpus,
                   "pairs": [{**asdict(x), "label": x.label} for x in res.pairs],
                   "skipped": res.skipped, "errors": res.errors}
        Path(args.json).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    if stopped_by is not None:
        return stopped_by
    return 1 if res.errors else 0


if __name__ == "__main__":
    sys.exit(main())
