"""The ``ractor-cluster`` command: run a node, inspect one, or run a three-node demo.

    ractor-cluster node --name NAME [--host HOST] [--port PORT] (--cookie C | --cookie-file F)
                        [--connect HOST:PORT]... [--seeds-file F] [--seeds-dns HOST:PORT]...
                        [--app MODULE] [--transitive] [--log-level L] [--log-format text|json]
                        [--metrics-port P] [--otel] [--shutdown-timeout S] [--gc-threshold N]
    ractor-cluster inspect HOST:PORT (--cookie C | --cookie-file F)
    ractor-cluster demo [--calls N]

``--app MODULE`` names a module (importable from the current directory) with
``start(node, name)``, called once the node listens, and optionally ``stop(node)``, called
first when the node stops; either may be a coroutine function. Tasks that ``start`` creates
are kept alive while the node runs and cancelled after ``stop``. A node runs until SIGTERM
or SIGINT, then stops gracefully (every actor's ``post_stop`` runs, children before their
supervisors; the peers are told) and exits 0 within ``--shutdown-timeout``; a second
signal, a second or more after the first, exits at once (status 1).
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import importlib
import inspect
import logging
import os
import signal
import ssl
import statistics
import subprocess
import sys
import time
from collections.abc import Coroutine, Generator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from ractor_core import ActorRef, RactorError, pg, spawn

from ._auth import ThrottlePolicy
from ._client import (
    accept_external,
    client_connect,
    client_connect_enc,
    client_connect_external,
    parse_address,
)
from ._discovery import SeedsDns, SeedsFile, SeedStrategy, run_discovery
from ._errors import ClientConnectError
from ._framing import DEFAULT_MAX_INBOUND_FRAME_SIZE
from ._logging import configure_logging
from ._messages import (
    GetNodeInfo,
    GetSessions,
    IncomingEncryptionMode,
    NodeConnectionMode,
    NodeServerMessage,
    Reconnect,
    ReconnectPolicy,
)
from ._node import DEFAULT_LIVENESS_TIMEOUT, NodeServer, shutdown
from ._outbound import FlowLimits
from ._protocol import PeerLimits
from ._remote_actor import remote_actors
from ._tuning import DEFAULT_GC_THRESHOLD, tune_gc

__all__ = ["main"]

_log = logging.getLogger("ractor.cluster.cli")


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
    node.add_argument("--connect", action="append", default=[], metavar="HOST:PORT",
                      help="dial a node (redialed with backoff whenever its session ends)")
    node.add_argument("--no-reconnect", action="store_true",
                      help="dial --connect addresses once, never again")
    node.add_argument("--reconnect-max", type=float, default=ReconnectPolicy().maximum,
                      help="longest wait between two redials, seconds (default %(default)s)")
    node.add_argument("--seeds-file", metavar="PATH",
                      help="a file of HOST:PORT lines, read again every --discovery-interval")
    node.add_argument("--seeds-dns", action="append", default=[], metavar="HOST:PORT",
                      help="dial every address HOST resolves to (resolved again every "
                      "--discovery-interval)")
    node.add_argument("--discovery-interval", type=float, default=5.0,
                      help="seconds between two polls of the seeds (default %(default)s)")
    node.add_argument("--unix-listen", metavar="PATH",
                      help="also accept nodes on this Unix socket (an external transport)")
    node.add_argument("--connect-unix", action="append", default=[], metavar="PATH",
                      help="dial a node's Unix socket (an external transport)")
    node.add_argument("--app", help="module whose `start(node, name)` spawns its actors "
                      "(and optional `stop(node)` runs first at shutdown)")
    node.add_argument("--transitive", action="store_true", help="dial the peers' peers")
    node.add_argument("--liveness", type=float, default=DEFAULT_LIVENESS_TIMEOUT,
                      help="seconds without a frame after which a peer is dead "
                      "(default %(default)s; 0: never)")
    node.add_argument("--shutdown-timeout", type=float, default=10.0,
                      help="seconds the graceful stop may take before actors are killed "
                      "(default %(default)s)")
    node.add_argument("--gc-threshold", type=int, default=DEFAULT_GC_THRESHOLD, metavar="N",
                      help="allocations between two young-generation garbage collections, "
                      "set once the app has started, when the objects of the start-up are "
                      "also frozen out of collections (default %(default)s; 0: leave "
                      "Python's settings)")
    node.add_argument("--log-level", default="INFO",
                      choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"],
                      type=str.upper, help="logs on stderr from this level (default INFO)")
    node.add_argument("--log-format", default="text", choices=["text", "json"],
                      help="log lines as text or as JSON objects (default text)")
    node.add_argument("--metrics-port", type=int, default=None,
                      help="serve Prometheus metrics on this port (needs the `metrics` extra)")
    node.add_argument("--metrics-host", default="0.0.0.0",
                      help="address the metrics endpoint binds (default %(default)s)")
    node.add_argument("--otel", action="store_true",
                      help="carry the OpenTelemetry trace context with remote messages and "
                      "handle them in child spans (needs the `otel` extra; the app, or the "
                      "OpenTelemetry SDK's own setup, picks the exporter)")
    node.add_argument("--no-auth-throttle", action="store_true",
                      help="do not make addresses that fail to authenticate back off")
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


_SIGNAL_ECHO = 1.0
"""Seconds after the first SIGTERM/SIGINT during which another one is the same request (a
wrapper forwarding the signal the terminal sent the whole process group), not "exit now"."""

_in_app_start: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "ractor_app_start", default=False
)


class _AppTasks:
    """The tasks an app's ``start`` created (directly, or through tasks it created): held
    while the node runs, so none is garbage-collected, and cancelled at stop. The actors'
    own loops are not among them (actors are stopped gracefully instead)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self._loop = loop
        self._previous = loop.get_task_factory()

    def install(self) -> None:
        """Watch the loop's new tasks."""
        self._loop.set_task_factory(self._factory)

    def _factory(
        self,
        loop: asyncio.AbstractEventLoop,
        coro: Coroutine[Any, Any, Any] | Generator[Any, None, Any],
        **kwargs: Any,
    ) -> asyncio.Future[Any]:
        task: asyncio.Future[Any]
        if self._previous is not None:
            task = self._previous(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        if (_in_app_start.get() and isinstance(task, asyncio.Task)
                and getattr(coro, "__qualname__", "") != "ActorCell.run"):
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return task

    async def cancel(self, timeout: float) -> None:
        """Cancel the app's tasks and wait (at most ``timeout``) for them to end."""
        self._loop.set_task_factory(self._previous)
        tasks = [t for t in self.tasks if not t.done() and t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        if tasks:
            _done, pending = await asyncio.wait(tasks, timeout=max(timeout, 0.01))
            if pending:
                _log.warning("%d app tasks did not end when cancelled", len(pending))


def _import_app(name: str) -> ModuleType:
    """The app module, importable from the current directory too.

    Raises:
        SystemExit: it cannot be imported, or has no ``start``.
    """
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise SystemExit(f"ractor-cluster: cannot import the app {name!r}: {exc} "
                         f"(looked in {cwd} and the installed packages)") from None
    if not callable(getattr(module, "start", None)):
        raise SystemExit(f"ractor-cluster: the app {name!r} has no start(node, name) function")
    return module


async def _maybe_await(value: Any) -> None:
    if inspect.isawaitable(value):
        await value


async def _start_app(
    module: ModuleType, node: ActorRef[NodeServerMessage], name: str, stop: asyncio.Event
) -> None:
    """Run the app's ``start``; a stop asked for meanwhile cancels it (a SIGTERM is not
    left waiting on a start that waits for something that never comes)."""
    result = module.start(node, name)
    if not inspect.isawaitable(result):
        return
    starting = asyncio.ensure_future(result)
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if starting.done():
        starting.result()  # (its exception, if any)
        return
    _log.warning("stopping: the app's start(node, name) was still running (cancelled)")
    starting.cancel()
    await asyncio.wait({starting}, timeout=2.0)
    if starting.done() and not starting.cancelled() and starting.exception() is not None:
        _log.warning("the app's start(node, name) raised when cancelled: %r",
                     starting.exception())


def _strategies(args: argparse.Namespace) -> list[SeedStrategy]:
    strategies: list[SeedStrategy] = []
    if args.seeds_file:
        strategies.append(SeedsFile(args.seeds_file))
    for spec in args.seeds_dns:
        try:
            strategies.append(SeedsDns.parse(spec))
        except ClientConnectError as exc:
            raise SystemExit(f"ractor-cluster: --seeds-dns {spec!r}: {exc}") from None
    return strategies


async def _run_node(args: argparse.Namespace) -> int:
    configure_logging(args.log_level, args.log_format)
    if args.otel:
        try:
            from ._tracing import enable_tracing
        except ImportError as exc:
            print(f"ractor-cluster: --otel needs the `otel` extra: {exc}", file=sys.stderr)
            return 1
        enable_tracing()  # before any actor starts: their handlers are wrapped at start
    module = _import_app(args.app) if args.app else None
    mode = NodeConnectionMode.TRANSITIVE if args.transitive else NodeConnectionMode.ISOLATED
    server_tls, client_tls = _tls(args)
    server = NodeServer(
        args.port,
        _cookie(args),
        args.name,
        args.host,
        connection_mode=mode,
        listen_addr=args.listen,
        liveness_timeout=args.liveness or None,
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
        auth_throttle=None if args.no_auth_throttle else ThrottlePolicy(),
    )
    strategies = _strategies(args)
    for address in args.connect:
        try:
            parse_address(address)
        except ClientConnectError as exc:
            print(f"ractor-cluster: --connect: {exc}", file=sys.stderr)
            return 1
    try:
        node = await spawn(server, None, name="node_server")
    except RactorError as exc:
        print(f"ractor-cluster: cannot start the node: {exc}", file=sys.stderr)
        return 1
    info = await node.call(GetNodeInfo(), timeout=5)
    loop = asyncio.get_running_loop()
    metrics = None
    if args.metrics_port is not None:
        from ._metrics import serve_metrics

        try:
            metrics = await serve_metrics(server, args.metrics_port, args.metrics_host)
        except (ImportError, OSError) as exc:
            print(f"ractor-cluster: cannot serve metrics: {exc}", file=sys.stderr)
            await node.stop_and_wait(timeout=5)
            return 1
    stop = asyncio.Event()
    first_signal: list[float] = []

    def on_signal(sig: signal.Signals) -> None:
        now = time.monotonic()
        if not first_signal:
            first_signal.append(now)
            _log.info("%s: stopping (within %.1fs; again to exit now)", sig.name,
                      args.shutdown_timeout)
            stop.set()
        elif now - first_signal[0] < _SIGNAL_ECHO:
            # Ctrl-C under a wrapper that forwards it (a shell trap, a process manager)
            # arrives twice at once: the same request, not "exit now"
            _log.info("%s right after the first signal: already stopping", sig.name)
        else:
            _log.warning("%s again: exiting now", sig.name)
            for handler in logging.getLogger().handlers:
                handler.flush()
            os._exit(1)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    print(f"listening on {info.connection_string}", flush=True)  # signals are handled now
    app_tasks = _AppTasks(loop)
    started = True
    if module is not None:
        app_tasks.install()
        token = _in_app_start.set(True)
        try:
            await _start_app(module, node, args.name, stop)
        except Exception:
            _log.exception("the app's start(node, name) failed: stopping")
            started = False
            stop.set()
        finally:
            _in_app_start.reset(token)
    if args.gc_threshold > 0:
        tune_gc(args.gc_threshold)
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
    policy = ReconnectPolicy(maximum=max(args.reconnect_max, ReconnectPolicy().initial))
    dials: list[asyncio.Task[None]] = []  # --no-reconnect: each address dialed once
    for address in args.connect:
        if not args.no_reconnect:
            node.cast(Reconnect(address, policy))  # dialed now, and again whenever it ends
            continue
        dials.append(loop.create_task(_dial_once(node, address, client_tls,
                                                 args.tls_server_name)))
    discovery = None
    if strategies:
        discovery = loop.create_task(
            run_discovery(node, strategies, interval=args.discovery_interval, policy=policy)
        )
    await stop.wait()
    for dial in dials:  # a dial still waiting for its peer does not hold the stop up
        dial.cancel()
    graceful = await _stop_node(args, node, module, app_tasks, discovery) and started
    if unix_server is not None:
        unix_server.close()
    if metrics is not None:
        metrics.close()
    print("stopped", flush=True)
    return 0 if graceful else 1


async def _dial_once(node: ActorRef[NodeServerMessage], address: str,
                     tls: ssl.SSLContext | None, server_name: str | None) -> None:
    """Dial ``address`` once (``--no-reconnect``); a failure is reported, not fatal."""
    try:
        if tls is not None:
            await client_connect_enc(node, address, tls, server_name)
        else:
            await client_connect(node, address)
    except ClientConnectError as exc:
        print(f"ractor-cluster: {exc}", file=sys.stderr, flush=True)
    except Exception:
        _log.exception("dialing %r failed", address)


async def _stop_node(
    args: argparse.Namespace,
    node: ActorRef[NodeServerMessage],
    module: ModuleType | None,
    app_tasks: _AppTasks,
    discovery: asyncio.Task[None] | None,
) -> bool:
    """The graceful stop: the app's stop hook, its tasks, every actor, then the sessions."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + args.shutdown_timeout
    graceful = True
    if discovery is not None:
        discovery.cancel()
    stop_hook = getattr(module, "stop", None) if module is not None else None
    if callable(stop_hook):
        try:
            await asyncio.wait_for(_maybe_await(stop_hook(node)), max(0.01, deadline - loop.time()))
        except TimeoutError:
            _log.warning("the app's stop(node) did not return in time")
            graceful = False
        except Exception:
            _log.exception("the app's stop(node) raised")
            graceful = False
    await app_tasks.cancel(min(2.0, max(0.01, deadline - loop.time())))
    if not await shutdown(node, timeout=max(0.1, deadline - loop.time())):
        _log.warning("the node did not stop gracefully within %.1fs", args.shutdown_timeout)
        graceful = False
    return graceful


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
               "--cookie-file", cookie_file, "--app", "ractor_cluster._demo",
               "--log-level", "WARNING"]
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
