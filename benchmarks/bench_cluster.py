#!/usr/bin/env python3
"""Benchmark ``ractor_cluster`` between two OS processes against a raw asyncio floor.

Usage::

    python benchmarks/bench_cluster.py [--quick] [--json OUT] [--profile DIR]
                                       [--placements os,same,split] [--pure-python]

One run, on loopback, measures:

1. Python <-> Python cluster: a node process (``ractor-cluster node --app cluster_app``)
   hosts a sink actor; this script is the second node. It dials the node, finds the sink
   (``remote_actors`` / ``as_remote``) and measures
   (a) remote cast throughput: N ``Put`` casts (a U64 and a 16-byte str), then one ``Count``
       call, which answers only once all arrived (msgs/s);
   (b) remote call round trip: p50/p99 of sequential ``Ping`` calls.
2. The raw floor in the same setup: a bare asyncio server process doing the same framing
   (be64 length + payload) with frames of the cluster's sizes, no actors, no protobuf:
   (a) N frames written with the cluster's coalescing (frames queued in a list, one joined
       write per batch, a drain after it), then a count request (msgs/s);
   (b) a one-frame request/response echo (round-trip p50/p99).

Every process runs on uvloop when it is importable (``ractor-cluster``'s CLI does the same),
else on the default asyncio loop; the loop of each process is reported.

Where the processes run matters as much as what they do: a wake-up on another (idle) CPU
costs tens of µs on a VM, one on the same CPU a context switch. So everything is measured
under three placements (Linux CPU affinity, changed between phases): as the OS schedules
them, all on one CPU, and driver / servers on two CPUs. Each process also reports its CPU
time, giving CPU µs per message on each side. Targets are computed per placement and shown
as pass/miss, never asserted. ``--profile DIR`` adds a pass with cProfile running in both
processes (driver: the send path; node: the receive path) and prints the top costs; the
.prof files and pstats text go to DIR.

Child processes stop when their stdin closes (so also if this script dies); at the end they
are closed, then SIGTERMed, then killed, whatever happened.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import json
import os
import pstats
import queue
import signal
import statistics
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from _machine import machine_info as _machine_info

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "benchmarks"
for _path in (str(ROOT), str(BENCH_DIR)):
    if _path not in sys.path:
        sys.path.insert(0, _path)

from cluster_app import (  # noqa: E402
    SINK_NAME,
    BenchMsg,
    Count,
    Cpu,
    Info,
    Ping,
    Profile,
    Put,
    loop_description,
    run,
)

from ractor_cluster import (  # noqa: E402
    DEFAULT_GC_THRESHOLD,
    NodeServer,
    _accel,
    as_remote,
    client_connect,
    remote_actors,
    tune_gc,
)
from ractor_cluster._wire import encode_call, encode_cast  # noqa: E402  (frame sizes only)
from ractor_core import ActorRef, spawn  # noqa: E402
from ractor_core.transport import SerializedCall, SerializedCast  # noqa: E402

perf_ns = time.perf_counter_ns
process_ns = time.process_time_ns
_LEN = struct.Struct(">Q")
_pack_len = _LEN.pack

TEXT = "0123456789abcdef"  # the cast's 16-byte str
CALL_TIMEOUT = 5.0  # per call / per round trip
PHASE_TIMEOUT = 60.0  # a whole throughput phase, or a whole latency loop of the floor
START_TIMEOUT = 20.0  # a child process printing its address
FLOOR_BATCH = 256  # frames per joined write in the floor client (the actors' budget is 256)

# Targets (computed, never asserted)
TARGET_CAST_RATE = 150_000.0
TARGET_CALL_VS_FLOOR = 3.0


@dataclass(frozen=True)
class Params:
    """Sizes of one run."""

    cast_n: int
    call_n: int
    warmup_casts: int
    warmup_calls: int
    repeats: int
    blocks: int
    profile_casts: int
    profile_calls: int


FULL = Params(cast_n=200_000, call_n=5_000, warmup_casts=20_000, warmup_calls=500,
              repeats=5, blocks=10, profile_casts=100_000, profile_calls=3_000)
QUICK = Params(cast_n=20_000, call_n=2_000, warmup_casts=5_000, warmup_calls=200,
               repeats=3, blocks=4, profile_casts=20_000, profile_calls=1_000)


# ------------------------------------------------------------------------------ results


@dataclass
class Latency:
    """Round-trip statistics, in microseconds."""

    p50_us: float
    p99_us: float
    mean_us: float
    n: int


@dataclass
class Rate:
    """Throughput over repeats, in messages per second."""

    best: float
    median: float
    runs: list[float]


@dataclass
class Measured:
    """What one placement of the processes on the CPUs measured."""

    placement: str
    cpus: str
    cluster_cast: Rate | None = None
    cluster_cast_paced: Rate | None = None
    cluster_call: Latency | None = None
    floor_cast: Rate | None = None
    floor_call: Latency | None = None
    block_p50_ratios: list[float] = field(default_factory=list)
    cpu_us: dict[str, dict[str, float]] = field(default_factory=dict)


@dataclass
class Results:
    """Everything one run measured."""

    loops: dict[str, str] = field(default_factory=dict)
    frame_bytes: dict[str, int] = field(default_factory=dict)
    placements: list[Measured] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    profile: dict[str, Any] = field(default_factory=dict)


def pct(sorted_ns: list[int], q: float) -> float:
    """Percentile (nearest rank) of sorted nanosecond samples, in microseconds."""
    idx = min(len(sorted_ns) - 1, max(0, round(q * len(sorted_ns)) - 1))
    return sorted_ns[idx] / 1000.0


def summarize(samples: list[int]) -> Latency:
    samples.sort()
    return Latency(pct(samples, 0.50), pct(samples, 0.99), statistics.fmean(samples) / 1000.0,
                   len(samples))


def rate_of(runs: list[float]) -> Rate:
    return Rate(max(runs), statistics.median(runs), runs)


# ------------------------------------------------------------------------------ child processes


class Child:
    """One child process; its stdout lines are queued, its stderr tail kept."""

    def __init__(self, label: str, cmd: list[str], env: dict[str, str]) -> None:
        self.label = label
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, bufsize=1,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.stderr: deque[str] = deque(maxlen=100)
        self._threads = [
            threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines.put),
                             daemon=True),
            threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append),
                             daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    @staticmethod
    def _pump(stream: Any, put: Callable[[str], object]) -> None:
        try:
            for line in stream:
                put(line.rstrip("\n"))
        except (OSError, ValueError):
            pass

    def wait_line(self, prefix: str, timeout: float) -> str:
        """The first stdout line starting with ``prefix`` (RuntimeError on timeout / exit)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or (self.proc.poll() is not None and self.lines.empty()):
                tail = "\n".join(self.stderr)[-2000:]
                raise RuntimeError(f"{self.label}: no {prefix!r} line within {timeout}s\n{tail}")
            try:
                line = self.lines.get(timeout=min(left, 0.1))
            except queue.Empty:
                continue
            if line.startswith(prefix):
                return line

    def stop(self, timeout: float = 10.0) -> int:
        """Close stdin (the child's cue to stop cleanly), then SIGTERM, then SIGKILL."""
        proc = self.proc
        if proc.stdin is not None and not proc.stdin.closed:
            try:
                proc.stdin.close()
            except OSError:
                pass
        for action in (None, proc.terminate, proc.kill):
            if proc.poll() is not None:
                break
            if action is not None:
                action()
            try:
                proc.wait(timeout / 2)
            except subprocess.TimeoutExpired:
                continue
        for thread in self._threads:
            thread.join(2)
        return proc.returncode if proc.returncode is not None else -9


PLACEMENTS = {
    "os": "OS-scheduled",
    "same": "same CPU",
    "split": "split CPUs",
}


class Placement:
    """Moves the driver and the server processes between CPU placements (Linux affinity)."""

    def __init__(self, servers: list[int]) -> None:
        self.servers = servers
        self.allowed = sorted(os.sched_getaffinity(0))

    def available(self, wanted: list[str]) -> list[str]:
        """The wanted placements this machine allows (split needs two CPUs)."""
        return [w for w in wanted if w != "split" or len(self.allowed) >= 2]

    def apply(self, kind: str) -> str:
        """Set every thread's affinity for ``kind``; returns a description."""
        if kind == "os":
            driver = servers = set(self.allowed)
            text = f"all on CPUs {self.allowed}, placed by the OS"
        elif kind == "same":
            driver = servers = {self.allowed[0]}
            text = f"all on CPU {self.allowed[0]}"
        else:
            driver, servers = {self.allowed[0]}, {self.allowed[1]}
            text = f"driver on CPU {self.allowed[0]}, servers on CPU {self.allowed[1]}"
        self._set(os.getpid(), driver)
        for pid in self.servers:
            self._set(pid, servers)
        return text

    @staticmethod
    def _set(pid: int, cpus: set[int]) -> None:
        try:
            tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
        except OSError:
            tids = [pid]
        for tid in tids:
            try:
                os.sched_setaffinity(tid, cpus)
            except OSError:
                pass  # a thread that just ended


def child_env() -> dict[str, str]:
    extra = os.pathsep.join([str(ROOT), str(BENCH_DIR)])
    old = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": f"{extra}{os.pathsep}{old}" if old else extra}


PURE = os.environ.get("RACTOR_PURE_PYTHON", "") not in ("", "0")
"""``--pure-python``: both nodes without the C accelerator and with Python's GC settings."""


def python_mode() -> str:
    """How both nodes run, in words."""
    if PURE:
        return ("pure Python (RACTOR_PURE_PYTHON=1) with Python's own GC settings "
                "(the node: --gc-threshold 0; the driver: no tune_gc)")
    accel = "the C accelerator" if _accel.active else "no C accelerator (not built)"
    return (f"{accel}; GC tuned in both (the node's default --gc-threshold "
            f"{DEFAULT_GC_THRESHOLD:,}; the driver calls tune_gc() after the warm-up)")


def start_node(cookie: str) -> tuple[Child, str]:
    cmd = [sys.executable, "-m", "ractor_cluster", "node", "--name", "bench-sink",
           "--cookie", cookie, "--app", "cluster_app",
           *(["--gc-threshold", "0"] if PURE else [])]
    child = Child("cluster node", cmd, child_env())
    line = child.wait_line("listening on ", START_TIMEOUT)
    port = line.removeprefix("listening on ").rpartition(":")[2]
    return child, f"127.0.0.1:{port}"


def start_floor() -> tuple[Child, str, str]:
    cmd = [sys.executable, str(BENCH_DIR / "cluster_app.py"), "floor"]
    child = Child("floor server", cmd, child_env())
    line = child.wait_line("listening on ", START_TIMEOUT)
    rest = line.removeprefix("listening on ")
    address, _, loop = rest.partition(" loop ")
    return child, address, loop


# ------------------------------------------------------------------------------ cluster


async def wait_for_sink(timeout: float) -> ActorRef[BenchMsg]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        refs = remote_actors(SINK_NAME)
        if refs:
            return as_remote(refs[0], BenchMsg)
        await asyncio.sleep(0.02)
    raise RuntimeError(f"the remote actor {SINK_NAME!r} did not appear within {timeout}s")


async def cluster_casts(sink: ActorRef[BenchMsg], n: int, paced: bool, res: Results,
                        cpu: list[tuple[float, float]] | None = None) -> float:
    """N casts, then one Count call that returns once all arrived; msgs/s.

    ``cpu`` gets (driver, node) CPU µs per cast over the window.
    """
    before = await sink.call(Count(), timeout=CALL_TIMEOUT)
    node0 = await sink.call(Cpu(), timeout=CALL_TIMEOUT)
    gc.collect()
    text = TEXT
    c0 = process_ns()
    t0 = perf_ns()
    if paced:
        for i in range(n):
            sink.cast(Put(seq=i, text=text))
            if i & 255 == 255:
                await asyncio.sleep(0)
    else:
        for i in range(n):
            sink.cast(Put(seq=i, text=text))
    got = await sink.call(Count(), timeout=PHASE_TIMEOUT)
    dt = (perf_ns() - t0) / 1e9
    c1 = process_ns()
    node1 = await sink.call(Cpu(), timeout=CALL_TIMEOUT)
    if got != before + n:
        res.errors.append(f"cluster casts: the sink counted {got - before} of {n}")
    if cpu is not None:
        cpu.append(((c1 - c0) / n / 1e3, (node1 - node0) / n / 1e3))
    return n / dt


async def cluster_calls(sink: ActorRef[BenchMsg], n: int, res: Results,
                        cpu: list[tuple[float, float]] | None = None) -> list[int]:
    """N sequential Ping calls; their round trips in ns (``cpu`` as in cluster_casts)."""
    samples = []
    wrong = 0
    node0 = await sink.call(Cpu(), timeout=CALL_TIMEOUT)
    c0 = process_ns()
    for i in range(n):
        t0 = perf_ns()
        got = await sink.call(Ping(n=i), timeout=CALL_TIMEOUT)
        samples.append(perf_ns() - t0)
        wrong += got != i
    c1 = process_ns()
    node1 = await sink.call(Cpu(), timeout=CALL_TIMEOUT)
    if wrong:
        res.errors.append(f"cluster calls: {wrong} of {n} Ping replies were wrong")
    if cpu is not None:
        cpu.append(((c1 - c0) / n / 1e3, (node1 - node0) / n / 1e3))
    return samples


# ------------------------------------------------------------------------------ profile

# The derive's generated serialize / decode_args are left out: every variant's code object has
# the same (file, line, name), so pstats merges them into one entry (whichever came last).
# A remote ref is a handle on the session's PeerActors table (a ractor_core.transport
# RemoteNode): a cast / call goes ActorRef -> RemoteNode.cast / put_call (serialize) ->
# PeerActors.transmit_cast / transmit_call -> a frame on the session. A call's reply comes
# back as a frame that PeerActors.reply answers; a frame for a local actor is decoded and
# offered to its ActorCell's mailbox (ractor_core.transport.decode / offer).
SEND_PATH = [
    ("ActorRef.cast", "_ref.py", "cast"),
    ("  RemoteNode.cast", "_remote.py", "cast"),
    ("ActorRef.call", "_ref.py", "call"),
    ("  RemoteNode.put_call", "_remote.py", "put_call"),
    ("    serialize", "_remote.py", "serialize"),
    ("    PeerActors.transmit_cast", "_remote_actor.py", "transmit_cast"),
    ("    PeerActors.transmit_call", "_remote_actor.py", "transmit_call"),
    ("      encode_cast", "_wire.py", "encode_cast"),
    ("      encode_call", "_wire.py", "encode_call"),
    ("_WirePort.send (reply to a remote caller)", "_session.py", "send"),
    ("  encode_reply", "_wire.py", "encode_reply"),
    ("NodeSession.send_frame", "_session.py", "send_frame"),
    ("  Outbound._put", "_outbound.py", "_put"),
    ("Outbound.flush", "_outbound.py", "flush"),
]
RECEIVE_PATH = [
    ("NodeSession._on_data", "_session.py", "_on_data"),
    ("NodeSession._read_loop", "_session.py", "_read_loop"),
    ("  FrameReader.feed", "_framing.py", "feed"),
    ("  decode_node", "_wire.py", "decode_node"),
    ("  NetworkMessage.FromString", "~", "FromString"),
    ("  NodeSession._on_node", "_session.py", "_on_node"),
    ("    transport.decode", "transport.py", "decode"),
    ("      family.deserialize", "_message.py", "deserialize"),
    ("    NodeSession._deliver", "_session.py", "_deliver"),
    ("      transport.offer", "transport.py", "offer"),
    ("        ActorCell.offer", "_cell.py", "offer"),
    ("    PeerActors.reply", "_remote_actor.py", "reply"),
    ("      _FuturePort.send", "ractor_core/_message.py", "send"),
    ("ActorCell.run", "_cell.py", "run"),
    ("  SinkActor.handle", "cluster_app.py", "handle"),
    ("    Call.reply", "ractor_core/_message.py", "reply"),
]


def _find(stats: pstats.Stats, file_part: str, func: str) -> tuple[int, float, float]:
    """(calls, tottime, cumtime) summed over the profile entries matching file and name."""
    calls, tot, cum = 0, 0.0, 0.0
    for (filename, _line, name), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        if file_part == "~":
            hit = filename == "~" and func in name
        else:
            hit = name == func and filename.endswith(file_part)
        if hit:
            calls += nc
            tot += tt
            cum += ct
    return calls, tot, cum


def _path_table(stats: pstats.Stats, rows: list[tuple[str, str, str]],
                n: int) -> list[dict[str, Any]]:
    out = []
    for label, file_part, func in rows:
        calls, tot, cum = _find(stats, file_part, func)
        if calls:
            out.append({"function": label, "calls": calls, "tottime_s": tot, "cumtime_s": cum,
                        "cum_us_per_msg": cum / n * 1e6, "tot_us_per_msg": tot / n * 1e6})
    return out


def _top(stats: pstats.Stats, n_msgs: int, limit: int = 18) -> list[dict[str, Any]]:
    entries = []
    for (filename, line, name), (_cc, nc, tt, ct, _c) in stats.stats.items():  # type: ignore[attr-defined]
        short = name if filename == "~" else f"{Path(filename).name}:{line}({name})"
        entries.append({"function": short, "calls": nc, "tottime_s": tt, "cumtime_s": ct,
                        "tot_us_per_msg": tt / n_msgs * 1e6})
    entries.sort(key=lambda e: e["tottime_s"], reverse=True)
    return entries[:limit]


async def profile_cluster(sink: ActorRef[BenchMsg], p: Params, out: Path,
                          res: Results) -> dict[str, Any]:
    """cProfile in both processes over one cast burst, then over sequential calls."""
    report: dict[str, Any] = {}
    for what, n in (("casts", p.profile_casts), ("calls", p.profile_calls)):
        node_file = out / f"node_{what}.prof"
        driver_file = out / f"driver_{what}.prof"
        await sink.call(Profile(path=""), timeout=CALL_TIMEOUT)
        prof = cProfile.Profile()
        gc.collect()
        t0 = perf_ns()
        prof.enable()
        if what == "casts":
            await cluster_casts(sink, n, False, res)
        else:
            await cluster_calls(sink, n, res)
        prof.disable()
        wall = (perf_ns() - t0) / 1e9
        prof.dump_stats(driver_file)
        await sink.call(Profile(path=str(node_file)), timeout=CALL_TIMEOUT)
        driver = pstats.Stats(str(driver_file))
        node = pstats.Stats(str(node_file))
        report[what] = {
            "n": n,
            "wall_s_profiled": wall,
            "driver_total_s": driver.total_tt,  # type: ignore[attr-defined]
            "node_total_s": node.total_tt,  # type: ignore[attr-defined]
            "driver_send_path": _path_table(driver, SEND_PATH, n),
            "node_receive_path": _path_table(node, RECEIVE_PATH, n),
            "driver_receive_path": _path_table(driver, RECEIVE_PATH, n),
            "node_send_path": _path_table(node, SEND_PATH, n),
            "driver_top": _top(driver, n),
            "node_top": _top(node, n),
            "files": [str(driver_file), str(node_file)],
        }
        for side, stats in (("driver", driver), ("node", node)):
            text = io.StringIO()
            stats.stream = text  # type: ignore[attr-defined]
            stats.sort_stats("tottime").print_stats(40)
            (out / f"{side}_{what}.txt").write_text(text.getvalue())
    return report


# ------------------------------------------------------------------------------ the floor


async def floor_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        kind: bytes) -> int:
    """One ``Q`` (count) or ``T`` (CPU ns) request to the floor server; its be64 answer."""
    writer.write(_pack_len(1) + kind)
    async with asyncio.timeout(CALL_TIMEOUT):
        head = await reader.readexactly(8)
        return int(_LEN.unpack(await reader.readexactly(_LEN.unpack(head)[0]))[0])


async def floor_casts(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int,
                      payload: bytes, res: Results,
                      cpu: list[tuple[float, float]] | None = None) -> float:
    """N frames (coalesced per batch, drained), then a count request; msgs/s."""
    query = _pack_len(1) + b"Q"
    before = await floor_request(reader, writer, b"Q")
    server0 = await floor_request(reader, writer, b"T")
    gc.collect()
    async with asyncio.timeout(PHASE_TIMEOUT):
        pending: list[bytes] = []
        c0 = process_ns()
        t0 = perf_ns()
        for _ in range(n):
            pending.append(_pack_len(len(payload)))
            pending.append(payload)
            if len(pending) >= 2 * FLOOR_BATCH:
                writer.write(b"".join(pending))
                pending.clear()
                await writer.drain()
        pending.append(query)
        writer.write(b"".join(pending))
        await writer.drain()
        head = await reader.readexactly(8)
        got = _LEN.unpack(await reader.readexactly(_LEN.unpack(head)[0]))[0]
        dt = (perf_ns() - t0) / 1e9
        c1 = process_ns()
    server1 = await floor_request(reader, writer, b"T")
    if got != before + n:
        res.errors.append(f"floor casts: the server counted {got - before} of {n}")
    if cpu is not None:
        cpu.append(((c1 - c0) / n / 1e3, (server1 - server0) / n / 1e3))
    return n / dt


async def floor_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, n: int,
                     payload: bytes, cpu: list[tuple[float, float]] | None = None) -> list[int]:
    """N sequential one-frame echoes; their round trips in ns."""
    frame = _pack_len(len(payload)) + payload
    samples = []
    readexactly = reader.readexactly
    server0 = await floor_request(reader, writer, b"T")
    c0 = process_ns()
    async with asyncio.timeout(PHASE_TIMEOUT):
        for _ in range(n):
            t0 = perf_ns()
            writer.write(frame)
            head = await readexactly(8)
            await readexactly(_LEN.unpack(head)[0])
            samples.append(perf_ns() - t0)
    c1 = process_ns()
    server1 = await floor_request(reader, writer, b"T")
    if cpu is not None:
        cpu.append(((c1 - c0) / n / 1e3, (server1 - server0) / n / 1e3))
    return samples


async def open_floor(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, _, port = address.rpartition(":")
    return await asyncio.wait_for(asyncio.open_connection(host, int(port)), CALL_TIMEOUT)


async def close_floor(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), CALL_TIMEOUT)
    except (TimeoutError, ConnectionError, OSError):
        pass


# ------------------------------------------------------------------------------ the run


async def measure_placement(p: Params, m: Measured, sink: ActorRef[BenchMsg],
                            reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                            payloads: tuple[bytes, bytes], res: Results) -> None:
    """Throughput repeats, then latency blocks, floor and cluster interleaved."""
    cast_payload, echo_payload = payloads
    await asyncio.sleep(0.05)  # let the scheduler move the processes
    await floor_echo(reader, writer, p.warmup_calls // 2, echo_payload)
    await cluster_calls(sink, p.warmup_calls // 2, res)
    floor_runs, cast_runs, paced_runs = [], [], []
    cpu: dict[str, list[tuple[float, float]]] = {
        "floor cast": [], "cluster cast": [], "cluster cast paced": [],
        "floor echo": [], "cluster call": []}
    for _ in range(p.repeats):
        floor_runs.append(await floor_casts(reader, writer, p.cast_n, cast_payload, res,
                                            cpu["floor cast"]))
        cast_runs.append(await cluster_casts(sink, p.cast_n, False, res, cpu["cluster cast"]))
        paced_runs.append(await cluster_casts(sink, p.cast_n, True, res,
                                              cpu["cluster cast paced"]))
    m.floor_cast = rate_of(floor_runs)
    m.cluster_cast = rate_of(cast_runs)
    m.cluster_cast_paced = rate_of(paced_runs)
    floor_ns: list[int] = []
    call_ns: list[int] = []
    per_block = max(1, p.call_n // p.blocks)
    for block in range(p.blocks):
        gc.collect()
        if block % 2:  # alternate which goes first
            call_block = await cluster_calls(sink, per_block, res, cpu["cluster call"])
            floor_block = await floor_echo(reader, writer, per_block, echo_payload,
                                           cpu["floor echo"])
        else:
            floor_block = await floor_echo(reader, writer, per_block, echo_payload,
                                           cpu["floor echo"])
            call_block = await cluster_calls(sink, per_block, res, cpu["cluster call"])
        m.block_p50_ratios.append(statistics.median(call_block) / statistics.median(floor_block))
        floor_ns += floor_block
        call_ns += call_block
    m.floor_call = summarize(floor_ns)
    m.cluster_call = summarize(call_ns)
    for key, pairs in cpu.items():
        m.cpu_us[key] = {"driver": statistics.median(d for d, _ in pairs),
                         "server": statistics.median(s for _, s in pairs)}


async def measure(p: Params, floor_address: str, node_address: str, cookie: str,
                  placement: Placement, kinds: list[str], res: Results,
                  profile_dir: Path | None) -> None:
    """Connect to both servers, warm up, then measure each placement in turn."""
    res.loops["driver"] = loop_description()
    res.frame_bytes = frame_sizes()
    payloads = (b"C" + b"x" * (res.frame_bytes["cast payload"] - 1),
                b"E" + b"x" * (res.frame_bytes["call payload"] - 1))
    reader, writer = await open_floor(floor_address)
    node = await spawn(NodeServer(0, cookie, "bench-driver", "localhost"), None)
    try:
        await client_connect(node, node_address, timeout=CALL_TIMEOUT)
        sink = await wait_for_sink(10.0)
        res.loops["cluster node"] = await sink.call(Info(), timeout=CALL_TIMEOUT)
        # warm-up: every path once
        await floor_casts(reader, writer, p.warmup_casts, payloads[0], res)
        await cluster_casts(sink, p.warmup_casts, False, res)
        await floor_echo(reader, writer, p.warmup_calls, payloads[1])
        await cluster_calls(sink, p.warmup_calls, res)
        if not PURE:
            tune_gc()  # as the node's CLI does once its app has started
        for kind in kinds:
            m = Measured(kind, placement.apply(kind))
            res.placements.append(m)
            await measure_placement(p, m, sink, reader, writer, payloads, res)
        placement.apply("os")
        if profile_dir is not None:
            res.profile = await profile_cluster(sink, p, profile_dir, res)
    finally:
        placement.apply("os")
        try:
            await node.stop_and_wait(timeout=CALL_TIMEOUT)
        finally:
            await close_floor(writer)


# ------------------------------------------------------------------------------ report


def machine_info() -> dict[str, Any]:
    """The machine, Python, uvloop, and protobuf with its backend."""
    info = _machine_info("uvloop", "protobuf")
    try:
        from google.protobuf.internal import api_implementation

        info["protobuf"] = f"{info['protobuf']} ({api_implementation.Type()})"
    except ImportError:  # pragma: no cover
        pass
    return info


def frame_sizes() -> dict[str, int]:
    """Payload sizes of the cluster's frames (the floor sends frames of the same sizes).

    A call serializes without its reply port (the port stays with the caller; the frame
    carries a tag), so this is the same encoding ``PeerActors.transmit_call`` writes.
    """
    put = Put(seq=123_456, text=TEXT).serialize()
    ping = Ping(n=123_456).serialize()
    assert isinstance(put, SerializedCast) and isinstance(ping, SerializedCall)
    cast = encode_cast(1000, put.args, put.variant, put.metadata)
    call = encode_call(1000, ping.args, 12_345, int(CALL_TIMEOUT * 1000), ping.variant,
                       ping.metadata)
    return {"cast payload": len(cast), "call payload": len(call)}


def ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.2f}x"


def _cells(m: Measured) -> list[tuple[str, str]]:
    """(measurement, "cluster | floor | ratio" cells) of one placement."""
    cc, cp, fc, cl, fl = m.cluster_cast, m.cluster_cast_paced, m.floor_cast, m.cluster_call, \
        m.floor_call
    out = []
    if cc and fc:
        out.append(("cast throughput, N casts + 1 call (msgs/s)",
                    f"{cc.best:,.0f} ({cc.median:,.0f}) | {fc.best:,.0f} ({fc.median:,.0f}) | "
                    f"{ratio(cc.best, fc.best)}"))
    if cp and fc:
        out.append(("cast throughput, producer yields every 256 (msgs/s)",
                    f"{cp.best:,.0f} ({cp.median:,.0f}) | {fc.best:,.0f} | "
                    f"{ratio(cp.best, fc.best)}"))
    if cl and fl:
        for label, a, b in (("p50", cl.p50_us, fl.p50_us), ("p99", cl.p99_us, fl.p99_us),
                            ("mean", cl.mean_us, fl.mean_us)):
            out.append((f"call round trip {label} (µs)", f"{a:.1f} | {b:.1f} | {ratio(a, b)}"))
    if m.block_p50_ratios:
        r = m.block_p50_ratios
        out.append(("call p50 ratio per block: median (min-max)",
                    f" | | {statistics.median(r):.2f}x ({min(r):.2f}-{max(r):.2f}x)"))
    return out


def render(res: Results, p: Params, machine: dict[str, Any], quick: bool, wall: float) -> str:
    lines = [
        f"## ractor_cluster benchmark ({'quick' if quick else 'full'} run, wall {wall:.1f} s)",
        "",
        f"Machine: nproc={machine['nproc']} (cpu_count={machine['cpu_count']}), "
        f"CPU: {machine['cpu_model']}, {machine['implementation']} {machine['python']}, "
        f"{machine['platform']}; uvloop {machine['uvloop']}, protobuf {machine['protobuf']}.",
        "",
        "Event loops: " + "; ".join(f"{k}: {v}" for k, v in res.loops.items()) + ". "
        f"Python nodes: {python_mode()}.",
        "",
        f"Two OS processes on loopback (127.0.0.1, TCP): this script (the driver, itself a "
        f"node) and the cluster node, or the driver and the floor server. Cast N={p.cast_n:,} "
        f"then one final call (best of {p.repeats}, median in brackets); call N={p.call_n:,} "
        f"sequential (in {p.blocks} blocks), after {p.warmup_casts:,} warm-up casts and "
        f"{p.warmup_calls:,} warm-up calls. Floor and cluster runs alternate (repeat by "
        f"repeat, block by block). Frames: cast {res.frame_bytes.get('cast payload')} B, call "
        f"{res.frame_bytes.get('call payload')} B (+8 B prefix); the floor sends the same "
        f"sizes. Placements: "
        + "; ".join(f"{PLACEMENTS[m.placement]} = {m.cpus}" for m in res.placements) + ".",
        "",
        "| measurement | placement | ractor_cluster | raw floor | cluster vs floor |",
        "|---|---|---:|---:|---:|",
    ]
    table: dict[str, list[str]] = {}
    for m in res.placements:
        for label, cells in _cells(m):
            table.setdefault(label, []).append(f"| {label} | {PLACEMENTS[m.placement]} | "
                                               f"{cells} |")
    for rows in table.values():
        lines += rows
    lines += ["", "CPU time per message (µs; user + system from `time.process_time_ns` in each "
              "process, median over repeats / blocks; server = the cluster node or the floor "
              "server):", "",
              "| measurement | placement | driver | server | both |", "|---|---|---:|---:|---:|"]
    for key, label in (("cluster cast", "cluster cast"),
                       ("cluster cast paced", "cluster cast, producer yields"),
                       ("floor cast", "floor frame"), ("cluster call", "cluster call"),
                       ("floor echo", "floor echo")):
        for m in res.placements:
            c = m.cpu_us.get(key)
            if c:
                lines.append(f"| {label} | {PLACEMENTS[m.placement]} | {c['driver']:.2f} | "
                             f"{c['server']:.2f} | {c['driver'] + c['server']:.2f} |")
    lines += ["", "### Targets (computed, not asserted)", "",
              "| target | placement | measured | required | result |", "|---|---|---:|---:|:---:|"]
    for t in targets(res):
        lines.append(f"| {t['target']} | {t['placement']} | {t['measured']} | {t['required']} "
                     f"| {t['result']} |")
    if res.errors:
        lines += ["", "Errors:"] + [f"- {e}" for e in res.errors]
    if res.profile:
        lines += ["", render_profile(res.profile)]
    return "\n".join(lines)


def targets(res: Results) -> list[dict[str, str]]:
    out = []
    for m in res.placements:
        if m.cluster_cast:
            rate = m.cluster_cast.best
            out.append({"target": "remote cast throughput", "placement": PLACEMENTS[m.placement],
                        "measured": f"{rate:,.0f} msg/s",
                        "required": f">= {TARGET_CAST_RATE:,.0f} msg/s",
                        "result": "pass" if rate >= TARGET_CAST_RATE else "miss"})
    for m in res.placements:
        if m.cluster_call and m.floor_call:
            r = m.cluster_call.p50_us / m.floor_call.p50_us
            out.append({"target": "call p50 vs floor round-trip p50",
                        "placement": PLACEMENTS[m.placement], "measured": f"{r:.2f}x",
                        "required": f"<= {TARGET_CALL_VS_FLOOR:g}x",
                        "result": "pass" if r <= TARGET_CALL_VS_FLOOR else "miss"})
    return out


def _rows(title: str, rows: list[dict[str, Any]], per: str) -> list[str]:
    out = [f"{title}", "", f"| function | calls | tottime s | cumtime s | cum µs/{per} |",
           "|---|---:|---:|---:|---:|"]
    for r in rows:
        name = r["function"]
        indent = "&nbsp;&nbsp;" * ((len(name) - len(name.lstrip())) // 2)
        out.append(f"| {indent}`{name.strip()}` | {r['calls']:,} | {r['tottime_s']:.3f} | "
                   f"{r['cumtime_s']:.3f} | {r['cum_us_per_msg']:.2f} |")
    return [*out, ""]


def _top_rows(title: str, rows: list[dict[str, Any]], per: str) -> list[str]:
    out = [title, "", f"| function | calls | tottime s | tot µs/{per} |", "|---|---:|---:|---:|"]
    for r in rows:
        out.append(f"| `{r['function']}` | {r['calls']:,} | {r['tottime_s']:.3f} | "
                   f"{r['tot_us_per_msg']:.2f} |")
    return [*out, ""]


def render_profile(profile: dict[str, Any]) -> str:
    lines = ["### Profile (cProfile in both processes; times are inflated by the profiler)", ""]
    for what, rep in profile.items():
        n = rep["n"]
        per = "cast" if what == "casts" else "call"
        lines.append(f"#### {n:,} {what}: profiled wall {rep['wall_s_profiled']:.2f} s; "
                     f"driver profile total {rep['driver_total_s']:.2f} s, node "
                     f"{rep['node_total_s']:.2f} s")
        lines.append("")
        lines += _rows("Driver, send path:", rep["driver_send_path"], per)
        lines += _rows("Node, receive path:", rep["node_receive_path"], per)
        if what == "calls":
            lines += _rows("Node, reply send path:", rep["node_send_path"], per)
            lines += _rows("Driver, reply receive path:", rep["driver_receive_path"], per)
        lines += _top_rows("Driver, top by own time:", rep["driver_top"], per)
        lines += _top_rows("Node, top by own time:", rep["node_top"], per)
    return "\n".join(lines)


# ------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (< 20 s)")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    parser.add_argument("--profile", metavar="DIR",
                        help="add a cProfile pass in both processes; write .prof/.txt here")
    parser.add_argument("--placements", default="os,same,split",
                        help="comma-separated CPU placements to measure: os (the scheduler "
                             "decides), same (every process on one CPU), split (driver on one "
                             "CPU, servers on another); default: all three")
    parser.add_argument("--pure-python", action="store_true",
                        help="both nodes without the C accelerator (RACTOR_PURE_PYTHON=1) and "
                             "with Python's own GC settings: to compare")
    args = parser.parse_args(argv)
    if args.pure_python and not PURE:  # the accelerator is chosen at import: start again
        os.execve(sys.executable, [sys.executable, *sys.argv],
                  {**os.environ, "RACTOR_PURE_PYTHON": "1"})
    wanted = [w.strip() for w in args.placements.split(",") if w.strip()]
    if not wanted or any(w not in PLACEMENTS for w in wanted):
        parser.error(f"--placements takes a list of {', '.join(PLACEMENTS)}")
    p = QUICK if args.quick else FULL
    profile_dir = Path(args.profile) if args.profile else None
    if profile_dir is not None:
        profile_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    machine = machine_info()
    res = Results()
    cookie = os.urandom(12).hex()
    children: list[Child] = []

    def on_term(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    codes: dict[str, int] = {}
    try:
        floor, floor_address, floor_loop = start_floor()
        children.append(floor)
        res.loops["floor server"] = floor_loop
        node, node_address = start_node(cookie)
        children.append(node)
        placement = Placement([floor.proc.pid, node.proc.pid])
        kinds = placement.available(wanted)
        run(measure(p, floor_address, node_address, cookie, placement, kinds, res,
                    profile_dir))
    finally:
        for child in children:
            codes[child.label] = child.stop()
    wall = time.perf_counter() - started
    for label, code in codes.items():
        if code != 0:
            res.errors.append(f"{label} exited with code {code}")
    print(render(res, p, machine, args.quick, wall))
    if args.json:
        payload = {"machine": machine, "params": asdict(p), "quick": args.quick, "wall_s": wall,
                   "results": asdict(res), "targets": targets(res)}
        Path(args.json).write_text(json.dumps(payload, indent=2) + "\n")
    return 1 if res.errors else 0


if __name__ == "__main__":
    sys.exit(main())
