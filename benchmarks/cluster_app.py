"""The processes of ``benchmarks/bench_cluster.py``.

Two roles, each its own OS process:

- a cluster node's app: ``ractor-cluster node --app cluster_app`` (with ``benchmarks/`` on
  ``PYTHONPATH``) hosts one ``SinkActor`` named ``sink``. It counts ``Put`` casts, answers
  ``Ping`` / ``Count`` / ``Info`` calls, and ``Profile`` runs cProfile inside the node
  process for a window chosen by the driver;
- the raw floor: ``python benchmarks/cluster_app.py floor`` runs a bare asyncio server doing
  the same framing as the cluster (a be64 length, then the payload), with no actors and no
  protobuf. Payload kinds (first byte): ``C`` counted, ``Q`` answered with the count (be64),
  ``E`` echoed back as is, ``T`` answered with the process's CPU time in ns (be64).

Both stop when their stdin reaches EOF (the driver closed it or died), so no process
outlives the benchmark.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import platform
import signal
import struct
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any

from ractor_core import Actor, ActorRef, Call, spawn
from ractor_derive import U64, Message, cluster_message

SINK_NAME = "sink"
FLOOR_IDLE_TIMEOUT = 120.0  # the floor server exits after this long without any client data

_LEN = struct.Struct(">Q")
_pack_len = _LEN.pack
_unpack_len = _LEN.unpack_from


# ------------------------------------------------------------------------------ messages


@cluster_message
class Bench(Message):
    """Messages of the benchmark sink."""


class Put(Bench):
    """A cast: counted by the sink."""

    seq: U64
    text: str


class Ping(Bench, Call[U64]):
    """Answered at once with ``n`` (the round-trip probe)."""

    n: U64


class Count(Bench, Call[U64]):
    """Answered with the number of ``Put`` casts received so far."""


class Info(Bench, Call[str]):
    """Answered with the node process's event loop, Python and pid."""


class Cpu(Bench, Call[U64]):
    """Answered with the node process's CPU time so far (``time.process_time_ns``)."""


class Profile(Bench, Call[str]):
    """``path == ""``: start cProfile in the node; otherwise stop it and dump stats there."""

    path: str


BenchMsg = Put | Ping | Count | Info | Cpu | Profile


@dataclass
class SinkState:
    """What the sink keeps."""

    count: int = 0
    profiler: cProfile.Profile | None = None


class SinkActor(Actor[BenchMsg, SinkState, None]):
    """Counts casts, answers calls."""

    async def pre_start(self, myself: ActorRef[BenchMsg], args: None) -> SinkState:
        return SinkState()

    async def handle(self, myself: ActorRef[BenchMsg], message: BenchMsg, state: SinkState) -> None:
        match message:
            case Put():
                state.count += 1
            case Ping(n=n):
                message.reply.send(n)
            case Count():
                message.reply.send(state.count)
            case Info():
                message.reply.send(loop_description())
            case Cpu():
                message.reply.send(time.process_time_ns())
            case Profile(path=path):
                message.reply.send(_profile(state, path))


def _profile(state: SinkState, path: str) -> str:
    if not path:
        if state.profiler is None:
            state.profiler = cProfile.Profile()
            state.profiler.enable()
        return "started"
    profiler, state.profiler = state.profiler, None
    if profiler is None:
        return "not running"
    profiler.disable()
    profiler.dump_stats(path)
    return path


def loop_description() -> str:
    """The running loop's class, the Python version and the pid."""
    loop = asyncio.get_running_loop()
    kind = type(loop).__module__.split(".")[0]
    name = "uvloop" if kind == "uvloop" else f"asyncio ({type(loop).__name__})"
    impl = f"{platform.python_implementation()} {platform.python_version()}"
    return f"{name} ({impl}, pid {os.getpid()})"


def _exit_on_stdin_eof(action: Any) -> None:
    """Run ``action`` in the loop once stdin reaches EOF (driver closed it or died)."""
    loop = asyncio.get_running_loop()

    def watch() -> None:
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        try:
            loop.call_soon_threadsafe(action)
        except RuntimeError:
            pass  # the loop is already closed

    threading.Thread(target=watch, daemon=True, name="stdin-eof").start()


async def start(node: ActorRef[Any], name: str) -> None:
    """The ``--app`` hook: host the sink; stop the node (as SIGTERM does) on stdin EOF."""
    await spawn(SinkActor(), None, name=SINK_NAME)
    _exit_on_stdin_eof(lambda: os.kill(os.getpid(), signal.SIGTERM))


# ------------------------------------------------------------------------------ the floor


class FloorServer:
    """One connection of the raw floor: split frames, count / answer / echo them."""

    def __init__(self) -> None:
        self.count = 0
        self.last_data = 0.0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buf = bytearray()
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await reader.read(256 * 1024)
                if not data:
                    break
                self.last_data = loop.time()
                buf += data
                pos, size, out = 0, len(buf), []
                while size - pos >= 8:
                    (length,) = _unpack_len(buf, pos)
                    end = pos + 8 + length
                    if end > size:
                        break
                    payload = bytes(buf[pos + 8 : end])
                    pos = end
                    kind = payload[0]
                    if kind == 0x43:  # C
                        self.count += 1
                    elif kind == 0x45:  # E
                        out.append(_pack_len(length))
                        out.append(payload)
                    elif kind == 0x51:  # Q
                        out.append(_pack_len(8))
                        out.append(_pack_len(self.count))
                    elif kind == 0x54:  # T
                        out.append(_pack_len(8))
                        out.append(_pack_len(time.process_time_ns()))
                if pos:
                    del buf[:pos]
                if out:
                    writer.write(b"".join(out))
                    await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


async def _floor_main() -> None:
    floor = FloorServer()
    loop = asyncio.get_running_loop()
    floor.last_data = loop.time()
    stop = asyncio.Event()
    server = await asyncio.start_server(floor.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"listening on 127.0.0.1:{port} loop {loop_description()}", flush=True)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    _exit_on_stdin_eof(stop.set)
    try:
        while not stop.is_set():  # idle watchdog: the only unbounded wait is bounded here
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                if loop.time() - floor.last_data > FLOOR_IDLE_TIMEOUT:
                    break
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), 5)
    print("stopped", flush=True)


def run(main: Any) -> Any:
    """Run a coroutine on uvloop when it is importable, else on asyncio (as the CLI does)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


if __name__ == "__main__":
    if sys.argv[1:] != ["floor"]:
        raise SystemExit("usage: cluster_app.py floor")
    run(_floor_main())
