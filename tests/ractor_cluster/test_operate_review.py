"""Operator review of issue 14 (operable nodes): the failure modes an operator meets, each
reproduced first (redial loops, the auth throttle, shutdown with stuck actors...)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ractor_cluster import (
    ClientConnectError,
    GetNodeInfo,
    GetSessions,
    NodeEventSubscription,
    NodeServer,
    NodeServerMessage,
    NodeServerSessionInformation,
    PeerLimits,
    Reconnect,
    ReconnectPolicy,
    SeedsFile,
    SubscribeToEvents,
    ThrottlePolicy,
    client_connect,
    run_discovery,
    shutdown,
)
from ractor_cluster._auth import AuthThrottle
from ractor_core import Actor, ActorRef, spawn, spawn_linked

from .harness import NodeProcess, cli_node, connected

OPERATE = [sys.executable, "-m", "ractor_cluster", "node", "--app",
           "tests.ractor_cluster.operate_app"]

pytestmark = pytest.mark.timeout(30)


class _Opened(NodeEventSubscription):
    def __init__(self) -> None:
        self.opened = 0
        self.authenticated = 0

    def node_session_opened(self, info: NodeServerSessionInformation) -> None:
        self.opened += 1

    def node_session_authenticated(self, info: NodeServerSessionInformation) -> None:
        self.authenticated += 1


async def test_a_session_that_ends_right_after_authenticating_is_redialed_with_backoff(
    nodes: Callable[..., NodeProcess],
) -> None:
    # The peer authenticates, then the session ends at once (here: it announces more group
    # memberships than this node's limit allows). The backoff restarted from its first
    # step at every authentication, so the node redialed every `initial` seconds for ever,
    # each time taking the peer's whole sync.
    peer = await asyncio.to_thread(nodes, "flap")
    client: ActorRef[NodeServerMessage] = await spawn(
        NodeServer(0, "cookie", "flap-cli", "localhost",
                   limits=PeerLimits(max_group_memberships=0)), None)
    events = _Opened()
    client.cast(SubscribeToEvents("flap", events))
    try:
        policy = ReconnectPolicy(initial=0.05, maximum=5.0, jitter=0.0)
        await client_connect(client, peer.address, reconnect=policy, timeout=2)
        await asyncio.sleep(1.5)
        # backing off: sessions at about 0, 0.05, 0.15, 0.35, 0.75 s (then 1.55 s)
        assert 2 <= events.authenticated <= 6, events.authenticated
    finally:
        await client.stop_and_wait(timeout=5)


STOPPED: list[str] = []


class _Stops(Actor[str, None, None]):
    """Records its post_stop, which takes ``delay`` seconds (None: for ever)."""

    def __init__(self, delay: float | None = 0.0) -> None:
        self.delay = delay

    async def pre_start(self, myself: ActorRef[str], args: None) -> None:
        return None

    async def post_stop(self, myself: ActorRef[str], state: None) -> None:
        await asyncio.sleep(3600 if self.delay is None else self.delay)
        STOPPED.append(str(myself.name))


async def test_one_child_whose_post_stop_hangs_does_not_cost_its_supervisors_theirs() -> None:
    # The deepest level waited for the whole timeout on the hung child, so every level
    # above was killed at once: their post_stop never ran.
    STOPPED.clear()
    node = await spawn(NodeServer(0, "c", "review-hang", "localhost"), None)
    top = await spawn(_Stops(0.1), None, name="top")
    mid = await spawn_linked(_Stops(0.1), None, top, name="mid")
    await spawn_linked(_Stops(None), None, mid, name="hung")
    await spawn_linked(_Stops(), None, mid, name="fine")
    loop = asyncio.get_running_loop()
    started = loop.time()
    graceful = await asyncio.wait_for(shutdown(node, timeout=1.5), 5)
    assert not graceful  # one actor had to be killed
    assert loop.time() - started < 2.5
    assert STOPPED == ["fine", "mid", "top"]
    assert not node.is_alive and not top.is_alive


def _node_process(cwd: Path, *extra: str, stop_delay: float = 0.3) -> subprocess.Popen[str]:
    return cli_node(cwd, "--host", "127.0.0.1", "--listen", "127.0.0.1", *extra,
                    env={"STOP_DELAY": str(stop_delay)})


_SLOW_STOP = (
    "import asyncio\n"
    "async def start(node, name):\n"
    "    pass\n"
    "async def stop(node):\n"
    "    await asyncio.sleep(float(__import__('os').environ.get('STOP_DELAY', '0.3')))\n"
    "    print('stop hook done', flush=True)\n"
)


def test_sigint_and_sigterm_together_stop_the_node_gracefully_once(tmp_path: Path) -> None:
    # Ctrl-C under a wrapper that forwards it as SIGTERM (a shell trap, a process manager)
    # delivers both at once: the second was taken for "exit now", os._exit(1), so no
    # post_stop ran and the node exited 1.
    (tmp_path / "slow_stop.py").write_text(_SLOW_STOP)
    proc = _node_process(tmp_path, "--app", "slow_stop")
    try:
        proc.send_signal(signal.SIGINT)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert "stop hook done" in out, err
    assert proc.returncode == 0, err


def test_a_second_signal_later_still_exits_at_once(tmp_path: Path) -> None:
    (tmp_path / "slow_stop.py").write_text(_SLOW_STOP)
    proc = _node_process(tmp_path, "--app", "slow_stop", stop_delay=30)
    try:
        proc.send_signal(signal.SIGTERM)
        time.sleep(1.5)  # (the first signal is 1 s old for sure)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert time.monotonic() - started < 2
    assert proc.returncode == 1 and "exiting now" in err, err


async def _until(check: Callable[[], Any], timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def _authenticated_with(node: ActorRef[NodeServerMessage], name: str) -> bool:
    sessions = await node.call(GetSessions(), timeout=2)
    return any(i.peer_name is not None and i.peer_name.name == name for i in sessions.values())


async def test_wrong_cookies_from_a_shared_address_do_not_lock_out_a_known_peer() -> None:
    # An attacker behind the same NAT as a legitimate peer fails to authenticate again and
    # again: the address backed off, and every connection from it was refused at accept,
    # the legitimate peer's too, for as long as the attacker kept at it.
    policy = ThrottlePolicy(free=2, initial=30.0, maximum=60.0)
    server = await spawn(NodeServer(0, "secret", "nat-srv", "localhost",
                                    listen_addr="127.0.0.1", auth_throttle=policy), None)
    legit = await spawn(NodeServer(0, "secret", "nat-legit", "localhost"), None)
    attacker = await spawn(NodeServer(0, "guess", "nat-attacker", "localhost"), None)
    try:
        port = (await server.call(GetNodeInfo(), timeout=2)).port
        address = f"127.0.0.1:{port}"
        await client_connect(legit, address, timeout=2)
        await _until(lambda: _authenticated_with(server, "nat-legit@localhost"))
        await legit.stop_and_wait(timeout=5)  # it restarts, and will dial again
        legit = await spawn(NodeServer(0, "secret", "nat-legit", "localhost"), None)
        for _ in range(3):  # the attacker, from the same address
            with contextlib.suppress(ClientConnectError):
                await client_connect(attacker, address, timeout=2)
            await asyncio.sleep(0.15)
        await client_connect(legit, address, timeout=2)
        await _until(lambda: _authenticated_with(server, "nat-legit@localhost"), 3)
        # the attacker is still refused, whatever name it claims
        assert not await _authenticated_with(server, "nat-attacker@localhost")
    finally:
        for node in (server, legit, attacker):
            await node.stop_and_wait(timeout=5)


def test_the_throttle_judges_a_known_name_apart_and_an_ipv6_host_by_its_64() -> None:
    throttle = AuthThrottle(ThrottlePolicy(free=2, initial=10.0, maximum=10.0, forget=100.0))
    throttle.succeeded("10.0.0.1", "legit@h")
    assert throttle.failed("10.0.0.1", 0.0, "x@h") == 0.0
    assert throttle.failed("10.0.0.1", 0.1, "y@h") == 10.0
    assert throttle.blocked("10.0.0.1", 1.0) == 0.0  # a known name may be behind it
    assert throttle.blocked_name("10.0.0.1", "z@h", 1.0) == pytest.approx(9.1)
    assert throttle.blocked_name("10.0.0.1", "legit@h", 1.0) == 0.0
    assert throttle.blocked("10.0.0.2", 1.0) == 0.0
    # claiming the known name and failing with it backs that name off too
    throttle.failed("10.0.0.1", 2.0, "legit@h")
    assert throttle.failed("10.0.0.1", 2.1, "legit@h") == 10.0
    assert throttle.blocked_name("10.0.0.1", "legit@h", 3.0) == pytest.approx(9.1)
    # an address without a known name is refused at accept
    throttle.failed("10.0.0.3", 0.0)
    throttle.failed("10.0.0.3", 0.1)
    assert throttle.blocked("10.0.0.3", 1.0) == pytest.approx(9.1)
    # every address of an IPv6 /64 is one host
    for i in range(2):
        throttle.failed(f"2001:db8:0:1::{i + 1:x}", 0.0)
    assert throttle.blocked("2001:db8:0:1:ffff::9", 1.0) == pytest.approx(9.0)
    assert throttle.blocked("2001:db8:0:2::1", 1.0) == 0.0


def test_the_throttle_remembers_a_bounded_number_of_known_names() -> None:
    throttle = AuthThrottle(max_tracked=50)
    for i in range(500):
        for j in range(20):
            throttle.succeeded(f"10.1.{i // 256}.{i % 256}", f"n{j}@h")
    assert len(throttle._known) == 50
    assert all(len(names) <= 8 for names in throttle._known.values())


async def test_a_stall_of_the_event_loop_does_not_drop_a_healthy_peer() -> None:
    # A handler that blocks the loop (a slow sync call, a long GC pause, swapping) longer
    # than the liveness timeout: the first ping tick after it found the peer silent for
    # that long and closed the session, though the stall was this process's own doing.
    # (Both nodes in this process: the peer's side has the same stall to forgive.)
    a = await spawn(NodeServer(0, "c", "stall-a", "localhost", listen_addr="127.0.0.1",
                               liveness_timeout=0.6), None)
    b: ActorRef[NodeServerMessage] = await spawn(
        NodeServer(0, "c", "stall-b", "localhost", liveness_timeout=0.6), None)
    try:
        port = (await a.call(GetNodeInfo(), timeout=2)).port
        await client_connect(b, f"127.0.0.1:{port}", timeout=2)
        await _until(lambda: _authenticated_with(b, "stall-a@localhost"))
        await _until(lambda: _authenticated_with(a, "stall-b@localhost"))
        await asyncio.sleep(0.3)
        time.sleep(1.2)  # noqa: ASYNC251 (the loop stalls, twice the liveness timeout)
        await asyncio.sleep(0.5)
        assert await _authenticated_with(b, "stall-a@localhost")
        assert await _authenticated_with(a, "stall-b@localhost")
    finally:
        await a.stop_and_wait(timeout=5)
        await b.stop_and_wait(timeout=5)


def _samples(registry: Any, family: str) -> dict[str, float]:
    return {s.labels["peer"]: s.value for m in registry.collect() if m.name == family
            for s in m.samples if s.name == f"{family}_total"}


async def test_peer_labels_of_the_metrics_are_bounded_and_their_counters_never_go_down() -> None:
    # Every peer name got its own label (peer-supplied: any number of them), and once the
    # table of ended sessions was full, the counts of a session that ended were dropped:
    # its counters went down.
    pytest.importorskip("prometheus_client")
    from ractor_cluster._metrics import node_registry

    server_actor = NodeServer(0, "c", "labels-srv", "localhost", listen_addr="127.0.0.1")
    server_actor.max_peer_labels = 2
    server = await spawn(server_actor, None)
    registry, detach = node_registry(server_actor)
    try:
        port = (await server.call(GetNodeInfo(), timeout=2)).port
        seen: dict[str, float] = {}
        for i in range(4):
            peer = await spawn(NodeServer(0, "c", f"labels-{i}", "localhost"), None)
            await client_connect(peer, f"127.0.0.1:{port}", timeout=2)
            await _until(functools.partial(_authenticated_with, server, f"labels-{i}@localhost"))
            now = _samples(registry, "ractor_cluster_messages_received")
            assert all(now.get(k, 0) >= v for k, v in seen.items()), (seen, now)
            seen = now
            await peer.stop_and_wait(timeout=5)
            await _until(lambda: _no_session(server))
            now = _samples(registry, "ractor_cluster_messages_received")
            assert all(now.get(k, 0) >= v for k, v in seen.items()), (seen, now)
            seen = now
        assert set(seen) == {"labels-0@localhost", "labels-1@localhost", "other"}, seen
        assert seen["other"] > 0
    finally:
        detach()
        await server.stop_and_wait(timeout=5)


async def _no_session(node: ActorRef[NodeServerMessage]) -> bool:
    return not await node.call(GetSessions(), timeout=2)


_PARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.mark.parametrize("metadata", [
    f"traceparent={_PARENT}\nbaggage=" + "%" * 5000,
    f"traceparent={_PARENT}\nbaggage=" + "k=%ZZ;;;=," * 500,
    f"traceparent={_PARENT}\ntracestate=" + "a=" * 3000,
    f"traceparent={_PARENT}\ntracestate=" + ",".join(f"k{i}=v" for i in range(100)),
    "traceparent=" + "0" * 600,
    "traceparent=00-" + "z" * 32 + "-" + "1" * 16 + "-01",
])
def test_hostile_trace_metadata_is_not_logged_and_the_message_is_handled_untraced_or_traced(
    metadata: str, caplog: pytest.LogCaptureFixture,
) -> None:
    # OpenTelemetry's propagators log a warning with the peer's text (up to 8 KB) for every
    # malformed entry: a peer sending such metadata with every cast wrote that to the logs
    # for every message.
    pytest.importorskip("opentelemetry")
    from ractor_cluster import _tracing

    _tracing.enable_tracing()
    try:
        message = object()
        with caplog.at_level(logging.DEBUG):
            _tracing._received(message, metadata.encode(), "cast", "Hello")
        assert [r.getMessage()[:200] for r in caplog.records] == []
        entry = _tracing._waiting.pop(id(message), None)
        if metadata.startswith(f"traceparent={_PARENT}"):
            assert entry is not None  # the trace context itself is good: still followed
    finally:
        _tracing.disable_tracing()


async def test_a_node_given_its_own_address_stops_dialing_it() -> None:
    # A seeds file shared by every node lists each node's own address too.
    node: ActorRef[NodeServerMessage] = await spawn(
        NodeServer(0, "c", "self-dial", "localhost", listen_addr="127.0.0.1"), None)
    events = _Opened()
    node.cast(SubscribeToEvents("self", events))
    try:
        port = (await node.call(GetNodeInfo(), timeout=2)).port
        policy = ReconnectPolicy(initial=0.05, maximum=0.1, jitter=0.0)
        node.cast(Reconnect(f"127.0.0.1:{port}", policy))
        node.cast(Reconnect(f"localhost:{port}", policy))
        await asyncio.sleep(1.0)
        # one connection per address (each seen from both ends), then no more
        assert events.opened <= 4, events.opened
        assert events.authenticated == 0
    finally:
        await node.stop_and_wait(timeout=5)


def test_sigterm_with_frozen_peers_stops_in_time_and_exits_0(
    nodes: Callable[..., NodeProcess],
) -> None:
    # Peers that stopped reading (frozen, or gone behind a black hole) when this node stops.
    a = nodes("frozen-a", command=OPERATE, extra=["--shutdown-timeout", "3"])
    peers = [nodes(f"frozen-{i}") for i in range(3)]
    for peer in peers:
        peer.rpc("connect", address=a.address)
    for peer in peers:
        connected(a, peer)
    for peer in peers:
        peer.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert a.terminate(10) == 0, "".join(a.stderr)[-3000:]
        assert time.monotonic() - started < 4
    finally:
        for peer in peers:
            peer.signal(signal.SIGCONT)


async def test_connections_that_never_authenticate_are_capped_per_source_address() -> None:
    # Each accepted connection holds a session until it authenticates or its handshake
    # times out (5 s); nothing bounded how many one address could hold meanwhile (and an
    # address where a node name is known is let in at accept even while it backs off).
    actor = NodeServer(0, "c", "pending-srv", "localhost", listen_addr="127.0.0.1",
                       auth_throttle=ThrottlePolicy(max_pending=4))
    server = await spawn(actor, None)
    writers: list[asyncio.StreamWriter] = []
    try:
        port = (await server.call(GetNodeInfo(), timeout=2)).port
        readers: list[asyncio.StreamReader] = []
        for _ in range(12):
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", port), 2)
            readers.append(reader)
            writers.append(writer)
        closed = 0
        for reader in readers:
            with contextlib.suppress(TimeoutError, ConnectionError):
                if await asyncio.wait_for(reader.read(1), 0.3) == b"":
                    closed += 1
        assert closed == 8
        assert len(actor.sessions) == 4
        for writer in writers[:4]:
            writer.close()  # those settle: room for more

        async def drained() -> bool:
            return len(actor.sessions) == 0

        await _until(drained)
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
        writers.append(writer)
        with contextlib.suppress(TimeoutError):
            assert await asyncio.wait_for(reader.read(1), 0.3) != b""
        assert len(actor.sessions) == 1
    finally:
        for writer in writers:
            writer.close()
        await server.stop_and_wait(timeout=5)


class _Flaky:
    """A seed strategy that fails in an unexpected way before it answers."""

    def __init__(self) -> None:
        self.calls = 0

    async def addresses(self) -> set[str]:
        self.calls += 1
        if self.calls < 3:
            raise ValueError("a malformed answer")
        return {"127.0.0.1:2"}


async def test_a_seeds_file_that_is_not_utf8_or_a_strategy_that_raises_does_not_end_discovery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    # An editor saved the file in Latin-1: read_text raised UnicodeDecodeError (not an
    # OSError), which ended the discovery task silently; no seed was dialed, ever.
    seeds = tmp_path / "seeds"
    seeds.write_bytes(b"# caf\xe9\n127.0.0.1:1\n")
    actor = NodeServer(0, "c", "seeds-bad", "localhost")
    node = await spawn(actor, None)
    flaky = _Flaky()
    task = asyncio.get_running_loop().create_task(
        run_discovery(node, [SeedsFile(seeds), flaky], interval=0.05))
    try:
        async def dialed() -> bool:
            return "127.0.0.1:1" in actor.redials and "127.0.0.1:2" in actor.redials

        await _until(dialed, 3)
        assert not task.done()
        assert "a malformed answer" in caplog.text
    finally:
        task.cancel()
        await node.stop_and_wait(timeout=5)


def test_sigterm_while_the_apps_start_still_runs_stops_the_node(tmp_path: Path) -> None:
    # start() waited on something that never came (a database that is down): SIGTERM only
    # set an event nobody awaited yet, so the node ran on until a second signal or SIGKILL.
    (tmp_path / "slow_start.py").write_text(
        "import asyncio\n"
        "async def start(node, name):\n"
        "    print('starting', flush=True)\n"
        "    await asyncio.sleep(3600)\n"
        "def stop(node):\n"
        "    print('stop hook', flush=True)\n"
    )
    proc = _node_process(tmp_path, "--app", "slow_start")
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "starting"  # start() is running now
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        proc.kill()
    assert time.monotonic() - started < 3
    assert "stop hook" in out and out.strip().endswith("stopped"), (out, err)
    assert "start(node, name) was still running" in err
    assert proc.returncode == 0, err
