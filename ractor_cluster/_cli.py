"""The ``ractor-cluster`` command: run a node, inspect one, or run a three-node demo.

    ractor-cluster node --name NAME [--host HOST] [--port PORT] (--cookie C | --cookie-file F)
                        [--connect HOST:PORT]... [--app MODULE] [--transitive]
    ractor-cluster inspect HOST:PORT (--cookie C | --cookie-file F)
    ractor-cluster demo [--calls N]

``--app MODULE`` names a module with ``async def start(node, name)``, called once the node
listens, to spawn the actors it hosts. A node runs until SIGTERM or SIGINT, then stops
cleanly and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ractor_core import ActorRef, RactorError, pg, spawn

from ._client import (
    accept_external,
    client_connect,
    client_connect_enc,
    client_connect_external,
)
from ._errors import ClientConnectError
from ._framing import DEFAULT_MAX_INBOUND_FRAME_SIZE
from ._messages import (
    GetNodeInfo,
    GetSessions,
    IncomingEncryptionMode,
    NodeConnectionMode,
    NodeServerMessage,
)
from ._node import NodeServer
from ._outbound import FlowLimits
from ._protocol import PeerLimits
from ._remote_actor import remote_actors

__all__ = ["main"]


def _cookie(args: argparse.Namespace) -> str:
    if args.cookie is not None:
        return str(args.cookie)
    try:
        return Path(args.cookie_file).read_text().strip()
    except OSError as exc:
        raise SystemExit(f"ractor-cluster: cannot read the cookie file: {exc}") from None


def _add_cookie(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--cookie", help="the cluster's shared secret")
    group.add_argument("--cookie-file", help="a file holding the cluster's shared secret")


def _parser() -> argparse.ArgumentParser:
    summary = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="ractor-cluster", description=summary)
    sub = parser.add_subparsers(dest="command", required=True)
    node = sub.add_parser("node", help="run a node until SIGTERM/SIGINT")
    node.add_argument("--name", required=True, help="node name (full name: NAME@HOST)")
    node.add_argument("--host", default="localhost", help="advertised host name")
    node.add_argument("--port", type=int, default=0, help="port to listen on (0: any)")
    node.add_argument("--listen", default=None, help="address to bind (default: all)")
    _add_cookie(node)
    node.add_argument("--connect", action="append", default=[], metavar="HOST:PORT")
    node.add_argument("--unix-listen", metavar="PATH",
                      help="also accept nodes on this Unix socket (an external transport)")
    node.add_argument("--connect-unix", action="append", default=[], metavar="PATH",
                      help="dial a node's Unix socket (an external transport)")
    node.add_argument("--app", help="module whose `start(node, name)` spawns its actors")
    node.add_argument("--transitive", action="store_true", help="dial the peers' peers")
    node.add_argument("--liveness", type=float, default=None, help="dead-peer timeout (s)")
    node.add_argument("--handshake-timeout", type=float, default=5.0,
                      help="seconds a connection may take to authenticate")
    node.add_argument("--max-frame", type=int, default=None, help="inbound frame limit (bytes)")
    limits = node.add_argument_group("limits per peer (past one, that session ends)")
    defaults = PeerLimits()
    limits.add_argument("--max-remote-actors", type=int, default=defaults.max_remote_actors,
                        help="actors one peer may advertise (default %(default)s)")
    limits.add_argument("--max-group-memberships", type=int,
                        default=defaults.max_group_memberships,
                        help="group memberships one peer may announce (default %(default)s)")
    limits.add_argument("--max-name-length", type=int, default=defaults.max_name_length,
                        help="longest node/group/actor name a peer may send (default "
                        "%(default)s)")
    flow = node.add_argument_group("outbound flow control")
    flow_defaults = FlowLimits()
    flow.add_argument("--max-outbound-buffer", type=int, default=flow_defaults.node_cap,
                      help="bytes of casts queued for slow peers, node-wide, past which a "
                      "cast refuses (default %(default)s)")
    flow.add_argument("--stuck-timeout", type=float, default=flow_defaults.stuck_timeout,
                      help="seconds a peer may take no bytes while some wait for it "
                      "(default %(default)s)")
    tls = node.add_argument_group("TLS")
    tls.add_argument("--tls-cert", help="PEM certificate chain: accept TLS connections")
    tls.add_argument("--tls-key", help="PEM private key of --tls-cert")
    tls.add_argument("--tls-ca", help="PEM CA to trust: dial peers over TLS")
    tls.add_argument("--tls-server-name", help="name to check on the peers' certificates")
    tls.add_argument("--tls-client-ca", help="PEM CA: require client certificates (mTLS)")
    inspect = sub.add_parser("inspect", help="connect as a node and print what a peer has")
    inspect.add_argument("address", metavar="HOST:PORT")
    _add_cookie(inspect)
    inspect.add_argument("--timeout", type=float, default=5.0)
    demo = sub.add_parser("demo", help="run a three-node cluster on localhost and report")
    demo.add_argument("--calls", type=int, default=200, help="calls per measurement")
    return parser


def _tls(args: argparse.Namespace) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None]:
    """The server-side and client-side TLS contexts the flags ask for."""
    server_ctx = client_ctx = None
    if args.tls_cert:
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.tls_client_ca:
            server_ctx.load_verify_locations(args.tls_client_ca)
            server_ctx.verify_mode = ssl.CERT_REQUIRED
    if args.tls_ca:
        client_ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=args.tls_ca)
        if args.tls_cert:  # present our certificate too, for peers that require one
            client_ctx.load_cert_chain(args.tls_cert, args.tls_key)
    return server_ctx, client_ctx


async def _run_node(args: argparse.Namespace) -> int:
    mode = NodeConnectionMode.TRANSITIVE if args.transitive else NodeConnectionMode.ISOLATED
    server_tls, client_tls = _tls(args)
    server = NodeServer(
        args.port,
        _cookie(args),
        args.name,
        args.host,
        connection_mode=mode,
        listen_addr=args.listen,
        liveness_timeout=args.liveness,
        handshake_timeout=args.handshake_timeout,
        max_inbound_frame_size=args.max_frame or DEFAULT_MAX_INBOUND_FRAME_SIZE,
        limits=PeerLimits(
            max_remote_actors=args.max_remote_actors,
            max_group_memberships=args.max_group_memberships,
            max_name_length=args.max_name_length,
        ),
        flow=FlowLimits(node_cap=args.max_outbound_buffer, stuck_timeout=args.stuck_timeout),
        encryption_mode=IncomingEncryptionMode.tls(server_tls) if server_tls else None,
        client_ssl_context=client_tls,
        client_server_hostname=args.tls_server_name,
    )
    try:
        node = await spawn(server, None, name="node_server")
    except RactorError as exc:
        print(f"ractor-cluster: cannot start the node: {exc}", file=sys.stderr)
        return 1
    info = await node.call(GetNodeInfo(), timeout=5)
    print(f"listening on {info.connection_string}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.app:
        module = importlib.import_module(args.app)
        await module.start(node, args.name)
    unix_server = None
    if args.unix_listen:
        unix_server = await asyncio.start_unix_server(
            lambda r, w: accept_external(node, r, w, label=f"unix:{args.unix_listen}"),
            args.unix_listen,
        )
    for path in args.connect_unix:
        try:
            reader, writer = await asyncio.open_unix_connection(path)
        except OSError as exc:
            print(f"ractor-cluster: cannot connect to {path}: {exc}", file=sys.stderr, flush=True)
        else:
            client_connect_external(node, reader, writer, label=f"unix:{path}")
    for address in args.connect:
        try:
            if client_tls is not None:
                await client_connect_enc(node, address, client_tls, args.tls_server_name)
            else:
                await client_connect(node, address)
        except ClientConnectError as exc:
            print(f"ractor-cluster: {exc}", file=sys.stderr, flush=True)
    await stop.wait()
    if unix_server is not None:
        unix_server.close()
    await node.stop_and_wait("shutdown", timeout=10)
    print("stopped", flush=True)
    return 0


async def _until(predicate: Any, timeout: float, every: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(every)
    return False


async def _inspect(args: argparse.Namespace) -> int:
    node = await spawn(NodeServer(0, _cookie(args), f"inspect-{os.getpid()}", "localhost"), None)
    try:
        await client_connect(node, args.address, timeout=args.timeout)

        async def connected() -> bool:
            sessions = await node.call(GetSessions(), timeout=1)
            return len(sessions) > 0

        if not await _until(connected, args.timeout):
            print(f"could not authenticate with {args.address} (wrong cookie?)", file=sys.stderr)
            return 1
        await asyncio.sleep(0.3)  # let the peer's initial sync arrive
        sessions = await node.call(GetSessions(), timeout=1)
        for info in sessions.values():
            peer = info.peer_name
            print(f"peer {peer.name if peer else '?'} at {peer.connection_string if peer else '?'}")
        print("remote actors:")
        for ref in sorted(remote_actors(), key=lambda r: r.id.pid):
            print(f"  pid {ref.id.pid}" + (f" name {ref.name}" if ref.name else ""))
        print("groups:")
        for scope, group in pg.which_scopes_and_groups():
            members = [r.id.pid for r in pg.get_scoped_members(scope, group) if not r.id.is_local]
            if members:
                print(f"  {scope}/{group}: pids {sorted(members)}")
        return 0
    finally:
        await node.stop_and_wait(timeout=5)


class _NodeProcess:
    """One demo node, as an OS process running ``ractor-cluster node``."""

    def __init__(self, name: str, cookie_file: str, connect: Sequence[str]) -> None:
        cmd = [sys.executable, "-m", "ractor_cluster", "node", "--name", name,
               "--cookie-file", cookie_file, "--app", "ractor_cluster._demo"]
        for address in connect:
            cmd += ["--connect", address]
        self.name = name
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on "):
            self.proc.kill()
            raise RuntimeError(f"node {name} did not start: {line!r}")
        self.address = line.removeprefix("listening on ")

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return -9


def _summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"p50 {p50:.0f} µs, p99 {p99:.0f} µs"


async def _demo(args: argparse.Namespace, cookie_file: str, cookie: str) -> int:
    from ._demo import DEMO_GROUP, Ask, Relay, Shout

    started = time.perf_counter()
    a = _NodeProcess("a", cookie_file, [])
    b = _NodeProcess("b", cookie_file, [a.address])
    c = _NodeProcess("c", cookie_file, [a.address, b.address])
    nodes = [a, b, c]
    print(f"started nodes a ({a.address}), b ({b.address}), c ({c.address}) as OS processes "
          f"{[n.proc.pid for n in nodes]}")
    driver: ActorRef[NodeServerMessage] = await spawn(
        NodeServer(0, cookie, "driver", "localhost"), None
    )
    try:
        for node in nodes:
            await client_connect(driver, node.address)

        async def all_seen() -> bool:
            remote = [r for r in pg.get_members(DEMO_GROUP) if not r.id.is_local]
            return len(remote) == 3

        if not await _until(all_seen, 10):
            print("demo: the three echo actors did not appear", file=sys.stderr)
            return 1
        sessions = await driver.call(GetSessions(), timeout=2)
        print(f"driver joined the cluster: {len(sessions)} sessions, "
              f"{len(remote_actors())} remote actors, group {DEMO_GROUP!r} has 3 members")
        echoes = {n.name: remote_actors(f"echo-{n.name}")[0] for n in nodes}
        for name, ref in echoes.items():
            for i in range(3):
                ref.cast(Shout(f"shout {i} to {name}"))
        for name, ref in echoes.items():
            answer = await ref.call(Ask("hello"), timeout=5)
            print(f"call  driver -> {name}: {answer}")
        for src, dst in (("a", "b"), ("b", "c"), ("c", "a")):
            answer = await echoes[src].call(Relay(f"echo-{dst}", "relayed"), timeout=5)
            print(f"relay driver -> {src} -> {dst}: {answer}")
        for name, ref in echoes.items():
            samples: list[float] = []
            for _ in range(args.calls):
                t0 = time.perf_counter()
                await ref.call(Ask("ping"), timeout=5)
                samples.append((time.perf_counter() - t0) * 1e6)
            print(f"latency driver -> {name}: {_summary(samples)} over {args.calls} calls")
        count = 2000
        t0 = time.perf_counter()
        for i in range(count):
            echoes["a"].cast(Shout(str(i)))
        await echoes["a"].call(Ask("flush"), timeout=10)
        rate = count / (time.perf_counter() - t0)
        print(f"casts driver -> a: {count} in order, {rate:,.0f} msgs/s (incl. a final call)")
    finally:
        await driver.stop_and_wait(timeout=5)
        codes = [n.stop() for n in nodes]
    print(f"stopped the nodes (exit codes {codes}); demo took {time.perf_counter() - started:.1f}s")
    return 0 if codes == [0, 0, 0] else 1


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``ractor-cluster``."""
    args = _parser().parse_args(argv)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:
        runner = asyncio.run
    if args.command == "node":
        return int(runner(_run_node(args)))
    if args.command == "inspect":
        return int(runner(_inspect(args)))
    import tempfile

    cookie = os.urandom(12).hex()
    with tempfile.NamedTemporaryFile("w", suffix=".cookie", delete=False) as handle:
        handle.write(cookie)
    try:
        return int(runner(_demo(args, handle.name, cookie)))
    finally:
        os.unlink(handle.name)


if __name__ == "__main__":
    sys.exit(main())
