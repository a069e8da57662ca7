#!/usr/bin/env python3
"""Sustained load on one ractor_cluster session, and a many-node, many-actor mesh.

Usage::

    python benchmarks/bench_load.py [--quick] [--json OUT] [--seconds S] [--callers C]
                                    [--nodes N] [--actors A]

Every node is a real OS process (``ractor-cluster node --app tests.ractor_cluster.node_app``)
started and driven by tests/ractor_cluster/harness.py (JSON commands on stdin, answers and
session events on stdout). One run has two parts:

1. Sustained load (default 60 s, ``--quick`` 10 s): nodes a and b, a dials b. For S seconds
   a sends sequence numbers 0, 1, 2, ... to b's ``seq-b`` with ``await send`` (bounded
   mailbox: the sender waits when b falls behind) while C loops call ``Echo`` on b's
   ``counter-b`` (the ``sustain`` op of the test app; the node times the calls itself). Then
   b's report must reach every number sent: a number missing or out of order is an error on
   b's side, and sent - received is what never arrived. The session must survive: no
   ``disconnected`` event on either node, and each still lists the other. RSS of both nodes
   and the longest event-loop stall of each (a 5 ms sleep that woke up late) are reported.
2. Scale (default 8 nodes x 5,000 actors, ``--quick`` 4 x 2,000): every node runs in
   transitive mode and joins its actors to the process group "scale" (``spawn_group``);
   nodes 1..N-1 dial node 0 and meet all others through it. The mesh has converged when every
   node counts exactly N x A members of "scale" (local + remote; more means an actor counted
   twice, e.g. through two sessions to one peer, for a while). Then one more transitive node with
   no actors of its own dials node 0; the time until it counts N x A members is the join time.
   RSS of every node, the remote actors the new node knows, and the event-loop stalls of
   node 0 (during convergence and during the join) and of the new node are reported, with
   the member counts sampled over time and each node's CPU time (where a slow convergence
   spends its time), and the "disconnected" session events split into Ready sessions lost,
   Ready sessions replaced by a crossed dial, and dials closed before Ready.

Targets are computed and shown as pass/miss, never asserted. Every node process is stopped
at the end (SIGTERM, then SIGKILL), also when a part fails or the script is interrupted
(Ctrl-C, SIGTERM, SIGHUP).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

from _machine import machine_info as _machine_info

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.ractor_cluster.harness import NodeProcess  # noqa: E402

T = TypeVar("T")

GROUP = "scale"
CONNECT_TIMEOUT = 20.0  # a session up and the remote actors visible
DRAIN_TIMEOUT = 120.0  # after `sustain` returned: until b received every number
SPAWN_WAIT = 300.0  # the harness's wait for one spawn_group answer
POLL_WAIT = 60.0  # the harness's wait for one polling answer (a busy node answers late)
JOIN_TIMEOUT = 60.0  # the new node seeing every member
JOIN_POLL = 0.05  # s between two member counts of the new node
CONVERGE_POLL = 0.1  # s between two rounds of member counts during convergence

# Targets (computed, never asserted)
TARGET_JOIN_S = 4.0
TARGET_RSS_MIB = 80.0  # per node (MiB = 2^20 B)


@dataclass(frozen=True)
class Params:
    """Sizes of one run."""

    seconds: float  # sustained load
    callers: int  # concurrent call loops during it
    nodes: int  # scale: nodes in the mesh (the joining node not counted)
    actors: int  # scale: actors per mesh node, all in GROUP


FULL = Params(seconds=60.0, callers=4, nodes=8, actors=5_000)
QUICK = Params(seconds=10.0, callers=4, nodes=4, actors=2_000)


# ------------------------------------------------------------------------------ results


@dataclass
class SustainResult:
    """What the sustained-load part measured."""

    sent: int | None = None
    casts_per_s: float | None = None
    received: int | None = None
    seq_errors: int | None = None  # numbers b saw missing or out of order
    lost: int | None = None  # sent - received once b caught up (or gave up)
    drain_s: float | None = None  # after `sustain` returned, until received == sent
    calls: int | None = None
    calls_per_s: float | None = None
    p50_us: float | None = None
    p99_us: float | None = None
    call_errors: dict[str, int] = field(default_factory=dict)  # error type -> count
    sessions: dict[str, list[str] | None] = field(default_factory=dict)  # node -> sessions
    disconnects: list[dict[str, Any]] = field(default_factory=list)  # events, any node
    rss_before_kib: dict[str, int | None] = field(default_factory=dict)
    rss_after_kib: dict[str, int | None] = field(default_factory=dict)
    loop_lag_ms: dict[str, float | None] = field(default_factory=dict)  # max during the run
    wall_s: float = 0.0  # wall of the sustain rpc
    exit_codes: dict[str, int] = field(default_factory=dict)
    error: str | None = None

    @property
    def session_kept(self) -> bool | None:
        if not self.sessions:
            return None
        return (not self.disconnects and "b@localhost" in (self.sessions.get("a") or [])
                and "a@localhost" in (self.sessions.get("b") or []))


@dataclass
class ScaleNode:
    """One node of the scale part."""

    name: str
    converged_s: float | None = None  # since the first connect (counts `expected` from then on)
    peak_members: int | None = None  # the highest member count seen (> expected: duplicates)
    members: int | None = None  # member_count(GROUP) at the end
    rss_kib: int | None = None  # after the join
    lag_converge_ms: float | None = None  # longest loop stall during convergence
    lag_join_ms: float | None = None  # longest loop stall during the join
    cpu_converge_s: float | None = None  # CPU time (user + system) during convergence
    cpu_join_s: float | None = None  # CPU time during the join
    sessions: int | None = None  # at the end


@dataclass
class ScaleResult:
    """What the scale part measured."""

    nodes: int
    actors: int
    expected: int  # members of GROUP every node should count
    start_s: float | None = None  # starting all node processes (in parallel)
    spawn_s: float | None = None  # spawn_group on every node (in parallel)
    converge_s: float | None = None  # first connect -> every node counts `expected`
    converge_samples: list[tuple[float, int, int, int]] = field(default_factory=list)
    longest_stall_s: float | None = None  # longest time the summed counts did not move
    longest_round_s: float | None = None  # longest polling round (the slowest node's answer)
    converge_wall_cpus: float | None = None  # CPUs' worth of node CPU time during convergence
    join_s: float | None = None  # new node's connect -> it counts `expected`
    join_sessions_s: float | None = None  # ... -> it lists every mesh node as a session
    join_samples: list[tuple[float, int]] = field(default_factory=list)
    join_remote_count: int | None = None
    rows: list[ScaleNode] = field(default_factory=list)  # mesh nodes, then the new node
    disconnects: int = 0  # "disconnected" events on any node (duplicate dials included)
    replaced: int = 0  # ... of Ready sessions, while another session to that peer is kept
    lost: int = 0  # ... of Ready sessions, with no other session to that peer kept
    events: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # node -> events
    exit_codes: dict[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass
class Results:
    machine: dict[str, Any]
    sustain: SustainResult | None = None
    scale: ScaleResult | None = None
    errors: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------ nodes


def parallel(fn: Callable[[Any], T], items: Sequence[Any]) -> list[T]:
    """fn over items in threads (one NodeProcess per thread); re-raises the first error."""
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=len(items)) as pool:
        return list(pool.map(fn, items))


def start_nodes(specs: list[tuple[str, list[str]]], cookie: str,
                nodes: list[NodeProcess]) -> list[NodeProcess]:
    """Start the nodes in parallel; each one started is appended to ``nodes`` (for cleanup)."""
    with ThreadPoolExecutor(max_workers=len(specs)) as pool:
        futures = [pool.submit(NodeProcess, name, cookie, extra) for name, extra in specs]
        started: list[NodeProcess] = []
        first: BaseException | None = None
        for future in futures:
            try:
                node = future.result()
            except Exception as exc:  # the others still have to be stopped
                first = first or exc
                continue
            nodes.append(node)
            started.append(node)
    if first is not None:
        raise first
    return started


def stop_nodes(nodes: list[NodeProcess]) -> dict[str, int]:
    """SIGTERM every node at once, then wait; SIGKILL what did not exit. Codes by name."""
    for node in nodes:
        if node.proc.poll() is None:
            try:
                node.proc.send_signal(signal.SIGTERM)
            except OSError:
                pass
    deadline = time.monotonic() + 15
    for node in nodes:
        try:
            node.proc.wait(max(0.1, deadline - time.monotonic()))
        except Exception:
            pass
    codes: dict[str, int] = {}
    for node in nodes:
        killed = node.proc.poll() is None
        try:
            node.kill()  # SIGKILL if still running; closes stdin, joins the reader threads
        except Exception:
            pass
        code = node.proc.returncode
        codes[node.name] = -9 if killed or code is None else code
    nodes.clear()
    return codes


def disconnects(node: NodeProcess) -> list[dict[str, Any]]:
    """The "disconnected" session events the node printed so far (as pumped by rpc)."""
    return [{**e, "node": node.name} for e in node.events if e.get("event") == "disconnected"]


def ready_ends(node: NodeProcess) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(replaced, lost): "disconnected" events of sessions that had been Ready.

    Replaced: the node keeps another Ready session to the same peer (two dials crossed, and
    the election, run when the later one authenticated, kept the later one). Lost: no
    session to that peer is left. (A dial that loses the election before it is Ready also
    ends with "disconnected"; it is neither.)
    """
    ready: dict[Any, str | None] = {}
    ended: set[Any] = set()
    ends = []
    for event in node.events:
        kind, sid = event.get("event"), event.get("node_id")
        if kind == "ready":
            ready[sid] = event.get("peer")
        elif kind == "disconnected":
            ended.add(sid)
            if sid in ready:
                ends.append({**event, "peer": ready[sid], "node": node.name})
    kept = {peer for sid, peer in ready.items() if sid not in ended}
    replaced = [e for e in ends if e["peer"] in kept]
    lost = [e for e in ends if e["peer"] not in kept]
    return replaced, lost


def cpu_seconds(node: NodeProcess) -> float | None:
    """user + system CPU time of the node process so far (Linux /proc), in seconds."""
    try:
        with open(f"/proc/{node.proc.pid}/stat") as fh:
            fields = fh.read().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def stderr_tails(nodes: list[NodeProcess], chars: int = 1500) -> str:
    return "".join(f"\n  stderr of {n.name}: {''.join(n.stderr)[-chars:]}"
                   for n in nodes if n.stderr)


def sees(node: NodeProcess, actor: str, timeout: float) -> None:
    node.wait_for(lambda: any(n == actor for _, n in node.rpc("remote_actors")), timeout,
                  f"{node.name} sees {actor}")


# ------------------------------------------------------------------------------ part 1


def run_sustain(p: Params, cookie: str, nodes: list[NodeProcess], r: SustainResult) -> None:
    a, b = start_nodes([("a", []), ("b", [])], cookie, nodes)
    a.rpc("connect", address=b.address)
    sees(a, "seq-b", CONNECT_TIMEOUT)
    sees(a, "counter-b", CONNECT_TIMEOUT)
    for node in (a, b):
        r.rss_before_kib[node.name] = node.rpc("rss_kib")
        node.rpc("loop_lag")  # reset: the next answer is the worst stall during the run
    print(f"sustained load: {p.seconds:g} s ...", file=sys.stderr, flush=True)
    seq: dict[str, int] = {}
    try:
        t0 = time.perf_counter()
        report = a.rpc("sustain", wait=p.seconds + 120, to_seq="seq-b",
                       to_counter="counter-b", seconds=p.seconds, callers=p.callers)
        r.wall_s = time.perf_counter() - t0
        r.sent = int(report["sent"])
        r.casts_per_s = r.sent / p.seconds
        r.calls = int(report["calls"])
        r.calls_per_s = r.calls / p.seconds
        r.p50_us, r.p99_us = report["p50_us"], report["p99_us"]
        r.call_errors = dict(Counter(report["call_errors"]))
        sent = r.sent
        t1 = time.perf_counter()

        def caught_up() -> bool:
            seq.update(b.rpc("seq_report"))
            return seq["received"] >= sent

        b.wait_for(caught_up, DRAIN_TIMEOUT, "b received every number")
        r.drain_s = time.perf_counter() - t1
    finally:  # what the nodes can still tell, also when something above failed
        if seq and r.sent is not None:
            r.received, r.seq_errors = seq["received"], seq["errors"]
            r.lost = r.sent - seq["received"]
        for node in (a, b):
            r.loop_lag_ms[node.name] = best_effort(node, "loop_lag")
            r.rss_after_kib[node.name] = best_effort(node, "rss_kib")
            r.sessions[node.name] = best_effort(node, "sessions")
        r.disconnects = disconnects(a) + disconnects(b)


def best_effort(node: NodeProcess, op: str) -> Any:
    """The answer to ``op``, or None when the node cannot give one (it crashed, ...)."""
    if node.proc.poll() is not None:
        return None
    try:
        return node.rpc(op)
    except Exception:
        return None


# ------------------------------------------------------------------------------ part 2


def run_scale(p: Params, cookie: str, nodes: list[NodeProcess], r: ScaleResult) -> None:
    n, expected = p.nodes, r.expected
    names = [f"n{i}" for i in range(n)] + ["joiner"]
    print(f"scale: starting {n + 1} nodes ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    started = start_nodes([(name, ["--transitive"]) for name in names], cookie, nodes)
    r.start_s = time.perf_counter() - t0
    mesh, joiner = started[:n], started[n]
    r.rows = [ScaleNode(node.name) for node in started]
    rows = {row.name: row for row in r.rows}
    print(f"scale: {p.actors:,} actors on each of {n} nodes ...", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    parallel(lambda node: node.rpc("spawn_group", wait=SPAWN_WAIT, n=p.actors, group=GROUP),
             mesh)
    r.spawn_s = time.perf_counter() - t0
    counts = parallel(lambda node: node.rpc("member_count", group=GROUP), mesh)
    if any(c != p.actors for c in counts):
        raise RuntimeError(f"before connecting, the nodes count {counts} members, "
                           f"expected {p.actors} each")
    for node in started:
        node.rpc("loop_lag")  # reset

    # -- the mesh
    print(f"scale: nodes 1..{n - 1} dial node 0; waiting for {expected:,} members everywhere "
          "...", file=sys.stderr, flush=True)
    converge_timeout = 60.0 + 0.004 * expected * n ** 0.5  # generous: 8 x 5,000 -> ~150 s
    cpu0 = {node.name: cpu_seconds(node) for node in started}
    t0 = time.perf_counter()
    for node in mesh[1:]:
        node.rpc("connect", address=mesh[0].address)
    current = dict.fromkeys((node.name for node in mesh), 0)
    last_total, last_change = -1, 0.0
    longest = longest_round = 0.0

    def poll(node: NodeProcess) -> None:
        count = node.rpc("member_count", wait=POLL_WAIT, group=GROUP)
        row = rows[node.name]
        current[node.name] = count
        row.peak_members = max(row.peak_members or 0, count)
        if count != expected:
            row.converged_s = None  # not yet, or no longer (duplicates counted)
        elif row.converged_s is None:
            row.converged_s = time.perf_counter() - t0

    while True:
        round_started = time.perf_counter()
        parallel(poll, mesh)  # every node at once: a round lasts as long as the slowest
        longest_round = max(longest_round, time.perf_counter() - round_started)
        r.longest_round_s = longest_round
        now = time.perf_counter() - t0
        values = list(current.values())
        total = sum(values)
        r.converge_samples.append((round(now, 3), min(values), max(values), total))
        if total != last_total:
            longest = max(longest, now - last_change) if last_total >= 0 else 0.0
            last_total, last_change = total, now
        if all(rows[node.name].converged_s is not None for node in mesh):
            break
        if now > converge_timeout:
            r.longest_stall_s = max(longest, now - last_change)
            raise TimeoutError(f"the mesh did not converge in {converge_timeout:.0f} s: "
                               f"member counts {current}, expected {expected:,} each")
        time.sleep(CONVERGE_POLL)
    r.converge_s = max(row.converged_s or 0.0 for row in r.rows[:n])
    r.longest_stall_s = longest
    converge_wall = time.perf_counter() - t0
    cpu1 = {node.name: cpu_seconds(node) for node in started}
    for node in started:
        rows[node.name].cpu_converge_s = cpu_delta(cpu0[node.name], cpu1[node.name])
    used = [row.cpu_converge_s for row in r.rows if row.cpu_converge_s is not None]
    r.converge_wall_cpus = sum(used) / converge_wall if used else None
    for node, lag in zip(mesh, parallel(lambda node: node.rpc("loop_lag"), mesh), strict=True):
        rows[node.name].lag_converge_ms = lag
    joiner.rpc("loop_lag")  # reset

    # -- one more node
    print("scale: the new node dials node 0 ...", file=sys.stderr, flush=True)
    mesh_names = {node.full_name for node in mesh}
    t0 = time.perf_counter()
    joiner.rpc("connect", address=mesh[0].address)
    join_row = rows[joiner.name]
    while True:
        count = joiner.rpc("member_count", wait=POLL_WAIT, group=GROUP)
        now = time.perf_counter() - t0
        join_row.peak_members = max(join_row.peak_members or 0, count)
        r.join_samples.append((round(now, 3), count))
        if r.join_sessions_s is None:
            reply = joiner.try_rpc("sessions", POLL_WAIT)
            if reply["ok"] and mesh_names <= set(reply["result"]):
                r.join_sessions_s = time.perf_counter() - t0
        if count == expected:
            r.join_s = r.join_samples[-1][0]  # the same (rounded) time as the milestones
            break
        if now > JOIN_TIMEOUT:
            raise TimeoutError(f"the new node counts {count:,} members after {now:.1f} s, "
                               f"expected {expected:,}")
        time.sleep(JOIN_POLL)
    cpu2 = {node.name: cpu_seconds(node) for node in started}
    for node in started:
        rows[node.name].cpu_join_s = cpu_delta(cpu1[node.name], cpu2[node.name])
    r.join_remote_count = joiner.rpc("remote_count")
    for node, lag in zip(started, parallel(lambda node: node.rpc("loop_lag"), started),
                         strict=True):
        rows[node.name].lag_join_ms = lag
    for node, (rss, members, sessions) in zip(started, parallel(
            lambda node: (node.rpc("rss_kib"), node.rpc("member_count", group=GROUP),
                          len(node.rpc("sessions"))), started), strict=True):
        rows[node.name].rss_kib, rows[node.name].members = rss, members
        rows[node.name].sessions = sessions


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


def mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.1f}"


def num(x: float | None, fmt: str = ",.0f") -> str:
    return "-" if x is None else format(x, fmt)


def mark(ok: bool | None) -> str:
    return "-" if ok is None else ("pass" if ok else "miss")


def targets(res: Results) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    s = res.sustain
    if s is not None:
        lost = s.lost
        out.append({"target": "sustained: casts lost (sent - received)",
                    "measured": num(lost), "required": "0",
                    "result": mark(None if lost is None else lost == 0)})
        out.append({"target": "sustained: numbers missing / out of order on b",
                    "measured": num(s.seq_errors), "required": "0",
                    "result": mark(None if s.seq_errors is None else s.seq_errors == 0)})
        kept = s.session_kept
        out.append({"target": "sustained: session kept (no disconnect, both list the other)",
                    "measured": "-" if kept is None else ("kept" if kept else "lost"),
                    "required": "kept", "result": mark(kept)})
        errors = sum(s.call_errors.values()) if s.calls is not None else None
        out.append({"target": "sustained: call errors", "measured": num(errors),
                    "required": "0", "result": mark(None if errors is None else errors == 0)})
    c = res.scale
    if c is not None:
        out.append({"target": f"scale: new node sees all {c.expected:,} members",
                    "measured": "-" if c.join_s is None else f"{c.join_s:.2f} s",
                    "required": f"<= {TARGET_JOIN_S:g} s",
                    "result": mark(None if c.join_s is None else c.join_s <= TARGET_JOIN_S)})
        done = c.join_s is not None  # the counters are complete only after the whole part
        out.append({"target": "scale: Ready sessions lost (no other session to that peer left)",
                    "measured": num(c.lost if done else None), "required": "0",
                    "result": mark(c.lost == 0 if done else None)})
        measured = [row for row in c.rows if row.rss_kib is not None]
        if measured:
            worst = max(measured, key=lambda row: row.rss_kib or 0)
            ok = all((row.rss_kib or 0) / 1024 <= TARGET_RSS_MIB for row in measured)
            out.append({"target": "scale: RSS of every node (the largest shown)",
                        "measured": f"{mib(worst.rss_kib)} MiB ({worst.name})",
                        "required": f"<= {TARGET_RSS_MIB:g} MiB", "result": mark(ok)})
        else:
            out.append({"target": "scale: RSS of every node", "measured": "-",
                        "required": f"<= {TARGET_RSS_MIB:g} MiB", "result": "-"})
    return out


def _milestones(samples: list[tuple[float, int]], expected: int) -> str:
    marks = []
    for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
        need = max(1, int(expected * frac)) if frac else 1
        hit = next((t for t, count in samples if count >= need), None)
        label = "first" if frac == 0.0 else f"{frac:.0%}"
        marks.append(f"{label} {'-' if hit is None else f'{hit:.2f} s'}")
    return ", ".join(marks)


def _converge_table(c: ScaleResult) -> list[str]:
    """A dozen of the convergence samples: how the counts grew."""
    samples = c.converge_samples
    if not samples:
        return []
    step = max(1, len(samples) // 12)
    picked = samples[::step]
    if picked[-1] != samples[-1]:
        picked.append(samples[-1])
    lines = ["| t (s) | min count | max count | summed counts, % of N x target |",
             "|---:|---:|---:|---:|"]
    for t, lo, hi, total in picked:
        lines.append(f"| {t:.2f} | {lo:,} | {hi:,} | {total / (c.nodes * c.expected):.1%} |")
    return lines


def render(res: Results, p: Params, quick: bool, wall: float) -> str:
    m = res.machine
    loop = (f"uvloop {m['uvloop']}" if m["uvloop"]
            else "the default asyncio loop (uvloop is not installed)")
    lines = [
        f"## ractor_cluster load benchmark ({'quick' if quick else 'full'} run, "
        f"wall {wall:.1f} s)",
        "",
        f"Machine: nproc={m['nproc']} (cpu_count={m['cpu_count']}), CPU: {m['cpu_model']}, "
        f"{m['implementation']} {m['python']}, {m['platform']}; nodes run on {loop}, "
        f"protobuf {m['protobuf']}.",
        "",
        "Every node is its own OS process (`ractor-cluster node --app "
        "tests.ractor_cluster.node_app`, driven over stdin by tests/ractor_cluster/harness.py), "
        "on loopback, placed by the OS scheduler.",
    ]
    s = res.sustain
    if s is not None:
        lines += [
            "",
            f"### 1. Sustained load: {p.seconds:g} s, one session (a → b)",
            "",
            f"a sends 0, 1, 2, ... to `seq-b` with `await send` (yielding every 256) while "
            f"{p.callers} loops call `Echo` on `counter-b` (10 s timeout each); b counts every "
            "number, and a number missing or out of order as an error. Call round trips are "
            "timed inside a. Loop stall: the longest a 5 ms sleep woke up late during the run.",
            "",
            "| measurement | value |",
            "|---|---:|",
            f"| casts sent | {num(s.sent)} |",
            f"| casts/s | {num(s.casts_per_s)} |",
            f"| received by b | {num(s.received)} |",
            f"| lost (sent - received) | {num(s.lost)} |",
            f"| missing / out of order on b | {num(s.seq_errors)} |",
            f"| b caught up after `sustain` returned | "
            f"{'-' if s.drain_s is None else f'{s.drain_s:.2f} s'} |",
            f"| calls done | {num(s.calls)} |",
            f"| calls/s | {num(s.calls_per_s)} |",
            f"| call p50 µs | {num(s.p50_us, ',.1f')} |",
            f"| call p99 µs | {num(s.p99_us, ',.1f')} |",
            f"| call errors | {sum(s.call_errors.values()) if s.calls is not None else '-'}"
            f"{' (' + ', '.join(f'{k}: {v}' for k, v in s.call_errors.items()) + ')' if s.call_errors else ''} |",  # noqa: E501
            f"| session kept | {'-' if s.session_kept is None else ('yes' if s.session_kept else 'no')}"  # noqa: E501
            f" (disconnected events: {len(s.disconnects)}; a lists {s.sessions.get('a', '-')}, "
            f"b lists {s.sessions.get('b', '-')}) |",
        ]
        for name in ("a", "b"):
            lines.append(f"| RSS of {name}, MiB (before → after) | "
                         f"{mib(s.rss_before_kib.get(name))} → {mib(s.rss_after_kib.get(name))} |")
        for name in ("a", "b"):
            lag = s.loop_lag_ms.get(name)
            lines.append(f"| longest loop stall of {name}, ms | {num(lag, ',.1f')} |")
        if s.error:
            lines += ["", f"Part 1 failed: {s.error}"]
    c = res.scale
    if c is not None:
        lines += [
            "",
            f"### 2. Scale: {c.nodes} nodes x {c.actors:,} actors in group \"{GROUP}\", "
            "then one more node",
            "",
            f"All nodes transitive. Nodes 1..{c.nodes - 1} dial node 0 (each meets the others "
            f"through it); converged when every node counts exactly {c.expected:,} members of "
            f"\"{GROUP}\" (all in the same polling round; a node's time is when it reached "
            f"that count for good). CPU time is each process's user + system time "
            f"(/proc). Then the new node (no actors of its own) dials node 0; join time = "
            f"its connect → it counts {c.expected:,} (polled every {JOIN_POLL * 1000:.0f} ms). "
            f"Starting the {c.nodes + 1} processes took "
            f"{'-' if c.start_s is None else f'{c.start_s:.1f} s'}, spawning the actors "
            f"{'-' if c.spawn_s is None else f'{c.spawn_s:.1f} s'} (all nodes in parallel).",
            "",
            "| measurement | value |",
            "|---|---:|",
            f"| mesh converged (first connect → every node counts {c.expected:,}) | "
            f"{'-' if c.converge_s is None else f'{c.converge_s:.2f} s'} |",
            f"| longest time the summed member counts did not move | "
            f"{'-' if c.longest_stall_s is None else f'{c.longest_stall_s:.2f} s'} |",
            f"| new node: all {c.expected:,} members | "
            f"{'-' if c.join_s is None else f'{c.join_s:.2f} s'} |",
            f"| new node: sessions to all {c.nodes} mesh nodes | "
            f"{'-' if c.join_sessions_s is None else f'{c.join_sessions_s:.2f} s'} |",
            f"| new node: member count reached | {_milestones(c.join_samples, c.expected)} |",
            f"| new node: remote actors known (`remote_count`) | {num(c.join_remote_count)} |",
            f"| longest polling round (all nodes asked at once; the slowest answer) | "
            f"{'-' if c.longest_round_s is None else f'{c.longest_round_s:.2f} s'} |",
            f"| node CPU time during convergence, all nodes / wall (CPUs busy; {m['nproc']} "
            f"here) | {num(c.converge_wall_cpus, '.2f')} |",
            f"| \"disconnected\" events, all nodes: Ready session lost / Ready session "
            f"replaced by a crossed dial / dial closed before Ready (lost the election) | "
            f"{c.lost} / {c.replaced} / {c.disconnects - c.lost - c.replaced} |",
            f"| highest member count seen on any node (> {c.expected:,}: an actor counted "
            f"twice for a while) | {num(max((row.peak_members or 0 for row in c.rows), default=None))} |",  # noqa: E501
            "",
            "| node | converged after (s) | peak members | members at the end | sessions | "
            "RSS MiB | RSS ≤ target | CPU s, convergence | CPU s, join | longest loop stall, "
            "convergence (ms) | longest loop stall, join (ms) |",
            "|---|---:|---:|---:|---:|---:|:---:|---:|---:|---:|---:|",
        ]
        for i, row in enumerate(c.rows):
            label = row.name + (" (new)" if i == c.nodes else "")
            ok = None if row.rss_kib is None else row.rss_kib / 1024 <= TARGET_RSS_MIB
            lines.append(
                f"| {label} | {num(row.converged_s, '.2f')} | {num(row.peak_members)} | "
                f"{num(row.members)} | {num(row.sessions)} | {mib(row.rss_kib)} | {mark(ok)} | "
                f"{num(row.cpu_converge_s, '.2f')} | {num(row.cpu_join_s, '.2f')} | "
                f"{num(row.lag_converge_ms, ',.1f')} | {num(row.lag_join_ms, ',.1f')} |")
        table = _converge_table(c)
        if table:
            lines += ["", "Member counts during convergence (all nodes polled at once, "
                      f"every {CONVERGE_POLL * 1000:.0f} ms after the previous round's last "
                      "answer):", "",
                      *table]
        if c.error:
            lines += ["", f"Part 2 failed: {c.error}"]
    lines += ["", "### Targets (computed, not asserted)", "",
              "| target | measured | required | result |", "|---|---:|---:|:---:|"]
    for t in targets(res):
        lines.append(f"| {t['target']} | {t['measured']} | {t['required']} | {t['result']} |")
    if res.errors:
        lines += ["", "Errors:"] + [f"- {e}" for e in res.errors]
    return "\n".join(lines)


# ------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="10 s of load, 4 nodes x 2,000 actors (~1.5 min)")
    parser.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    parser.add_argument("--seconds", type=float, help="seconds of sustained load")
    parser.add_argument("--callers", type=int, help="call loops during the sustained load")
    parser.add_argument("--nodes", type=int, help="nodes in the mesh (>= 2)")
    parser.add_argument("--actors", type=int, help="actors per mesh node")
    args = parser.parse_args(argv)
    p = QUICK if args.quick else FULL
    p = replace(p, **{k: v for k, v in (("seconds", args.seconds), ("callers", args.callers),
                                        ("nodes", args.nodes), ("actors", args.actors))
                      if v is not None})
    if p.nodes < 2 or p.actors < 1 or p.seconds <= 0 or p.callers < 0:
        parser.error("need --nodes >= 2, --actors >= 1, --seconds > 0, --callers >= 0")
    started = time.perf_counter()
    res = Results(machine_info())

    def on_signal(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    cookie = os.urandom(12).hex()
    nodes: list[NodeProcess] = []
    stopped_by: int | None = None
    try:
        res.sustain = SustainResult()
        try:
            run_sustain(p, cookie, nodes, res.sustain)
        except Exception as exc:
            res.sustain.error = f"{type(exc).__name__}: {exc}"
            res.errors.append(f"sustained load: {res.sustain.error}{stderr_tails(nodes)}")
        finally:
            res.sustain.exit_codes = stop_nodes(nodes)
        res.scale = ScaleResult(p.nodes, p.actors, p.nodes * p.actors)
        try:
            run_scale(p, cookie, nodes, res.scale)
        except Exception as exc:
            res.scale.error = f"{type(exc).__name__}: {exc}"
            res.errors.append(f"scale: {res.scale.error}{stderr_tails(nodes)}")
        finally:
            res.scale.disconnects = sum(len(disconnects(node)) for node in nodes)
            ends = [ready_ends(node) for node in nodes]
            res.scale.replaced = sum(len(replaced) for replaced, _ in ends)
            res.scale.lost = sum(len(lost) for _, lost in ends)
            res.scale.events = {node.name: node.events for node in nodes}
            res.scale.exit_codes = stop_nodes(nodes)
        for part, codes in (("sustained load", res.sustain.exit_codes),
                            ("scale", res.scale.exit_codes)):
            for name, code in codes.items():
                if code != 0:
                    res.errors.append(f"{part}: node {name} exited with code {code}")
    except (KeyboardInterrupt, SystemExit) as exc:
        stopped_by = 130 if isinstance(exc, KeyboardInterrupt) else int(exc.code or 1)
        res.errors.append(f"interrupted ({type(exc).__name__}); what follows did not run")
    finally:
        stop_nodes(nodes)
    wall = time.perf_counter() - started
    print(render(res, p, args.quick, wall))
    if args.json:
        payload = {"machine": res.machine, "params": asdict(p), "quick": args.quick,
                   "wall_s": wall,
                   "sustain": ({**asdict(res.sustain), "session_kept": res.sustain.session_kept}
                               if res.sustain else None),
                   "scale": asdict(res.scale) if res.scale else None,
                   "targets": targets(res), "errors": res.errors}
        Path(args.json).write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n")
    if stopped_by is not None:
        return stopped_by
    return 1 if res.errors else 0


if __name__ == "__main__":
    sys.exit(main())
