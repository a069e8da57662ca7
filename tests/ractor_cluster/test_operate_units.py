"""Operability pieces in one process: the auth throttle, the backoff policy, the metadata
format, shutdown() through the API, and client_connect(reconnect=True) over real sockets."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ractor_cluster import (
    DEFAULT_LIVENESS_TIMEOUT,
    GetNodeInfo,
    GetSessions,
    NodeEventSubscription,
    NodeServer,
    NodeServerMessage,
    NodeServerSessionInformation,
    PeerName,
    ReconnectPolicy,
    SeedsFile,
    SeedsList,
    SubscribeToEvents,
    ThrottlePolicy,
    client_connect,
    shutdown,
)
from ractor_cluster._auth import AuthThrottle
from ractor_cluster.tracing import decode_metadata, encode_metadata
from ractor_core import Actor, ActorRef, spawn, spawn_linked

pytestmark = pytest.mark.timeout(30)


def test_the_throttle_lets_a_few_failures_through_then_backs_off_doubling() -> None:
    throttle = AuthThrottle(ThrottlePolicy(free=3, initial=1.0, maximum=4.0, forget=100.0))
    assert throttle.failed("10.0.0.1", 0.0) == 0.0
    assert throttle.failed("10.0.0.1", 0.1) == 0.0
    assert throttle.blocked("10.0.0.1", 0.2) == 0.0
    assert throttle.failed("10.0.0.1", 0.3) == 1.0  # the third in a row
    assert throttle.blocked("10.0.0.1", 0.5) == pytest.approx(0.8)
    assert throttle.blocked("10.0.0.2", 0.5) == 0.0  # per address
    assert throttle.failed("10.0.0.1", 1.4) == 2.0
    assert throttle.failed("10.0.0.1", 3.5) == 4.0
    assert throttle.failed("10.0.0.1", 7.6) == 4.0  # capped
    assert throttle.blocked("10.0.0.1", 12.0) == 0.0
    assert (throttle.failures, throttle.refused) == (6, 1)
    throttle.succeeded("10.0.0.1")
    assert throttle.failures_of("10.0.0.1") == 0
    assert throttle.failed("10.0.0.1", 200.0) == 0.0  # a fresh start
    assert throttle.failed("10.0.0.2", 400.0) == 0.0  # long after: forgotten, free again


def test_the_throttle_remembers_a_bounded_number_of_addresses() -> None:
    throttle = AuthThrottle(max_tracked=100)
    for i in range(1000):
        throttle.failed(f"10.0.{i // 256}.{i % 256}", float(i))
    assert len(throttle) == 100


def test_the_backoff_doubles_up_to_its_maximum_and_checks_its_arguments() -> None:
    policy = ReconnectPolicy(initial=0.2, factor=2.0, maximum=1.0)
    assert [policy.delay(n) for n in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]
    assert policy.delay(10_000) == 1.0
    with pytest.raises(ValueError):
        ReconnectPolicy(initial=0)
    with pytest.raises(ValueError):
        ReconnectPolicy(jitter=1.5)


def test_the_trace_metadata_format_round_trips_and_refuses_other_bytes() -> None:
    carrier = {"traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01", "tracestate": "a=b"}
    assert decode_metadata(encode_metadata(carrier)) == carrier
    assert decode_metadata(b"\xff\xfe") == {}
    assert decode_metadata(b"not a text map") == {}
    assert decode_metadata(b"x=" + b"y" * 10_000) == {}


async def test_seeds_from_a_list_and_a_file(tmp_path: Any) -> None:
    assert await SeedsList(["a:1", "[::1]:2", ("b", 3)]).addresses() == {"a:1", "[::1]:2", "b:3"}
    seeds = tmp_path / "seeds"
    seeds.write_text("a:1 # first\n\n# comment\nbad\n[::1]:2\n")
    assert await SeedsFile(seeds).addresses() == {"a:1", "[::1]:2"}
    with pytest.raises(OSError):
        await SeedsFile(tmp_path / "missing").addresses()


STOPPED: list[str] = []


class Child(Actor[str, None, None]):
    async def pre_start(self, myself: ActorRef[str], args: None) -> None:
        return None

    async def handle(self, myself: ActorRef[str], message: str, state: None) -> None:
        return None

    async def post_stop(self, myself: ActorRef[str], state: None) -> None:
        STOPPED.append(f"{myself.name}:{len(myself.children)}")


class Parent(Child):
    async def pre_start(self, myself: ActorRef[str], args: None) -> None:
        for i in range(3):
            await spawn_linked(Child(), None, myself, name=f"{myself.name}.{i}")
        return None


async def test_shutdown_stops_children_before_supervisors_then_the_node() -> None:
    STOPPED.clear()
    node = await spawn(NodeServer(0, "c", "api-stop", "localhost"), None)
    parent = await spawn(Parent(), None, name="p")
    await spawn_linked(Parent(), None, parent, name="q")
    assert await shutdown(node, timeout=5)
    assert not node.is_alive and not parent.is_alive
    assert STOPPED.index("q.0:0") < STOPPED.index("q:0") < STOPPED.index("p:0")
    assert sorted(STOPPED) == sorted(
        ["p.0:0", "p.1:0", "p.2:0", "q.0:0", "q.1:0", "q.2:0", "q:0", "p:0"])


class _Ups(NodeEventSubscription):
    def __init__(self) -> None:
        self.events: list[tuple[str, str | None]] = []

    def node_up(self, info: NodeServerSessionInformation) -> None:
        self.events.append(("up", info.peer_name.name if info.peer_name else None))

    def node_down(self, info: NodeServerSessionInformation, reason: str) -> None:
        self.events.append(("down", reason))


async def _until(check: Any, timeout: float = 10) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await check():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_client_connect_with_reconnect_redials_a_restarted_server() -> None:
    assert NodeServer(0, "c", "x", "localhost").liveness_timeout == DEFAULT_LIVENESS_TIMEOUT
    server = await spawn(NodeServer(0, "c", "srv", "localhost", listen_addr="127.0.0.1"), None)
    port = (await server.call(GetNodeInfo(), timeout=2)).port
    client: ActorRef[NodeServerMessage] = await spawn(NodeServer(0, "c", "cli", "localhost"),
                                                      None)
    ups = _Ups()
    client.cast(SubscribeToEvents("ups", ups))
    policy = ReconnectPolicy(initial=0.05, maximum=0.2)
    await client_connect(client, f"127.0.0.1:{port}", reconnect=policy, timeout=2)

    async def connected() -> bool:
        sessions = await client.call(GetSessions(), timeout=2)
        names = [i.peer_name for i in sessions.values()]
        return names == [PeerName("srv@localhost", f"localhost:{port}", 1)]

    try:
        await _until(connected)
        await server.stop_and_wait(timeout=5)
        await _until(lambda: _no_sessions(client))
        server = await spawn(
            NodeServer(port, "c", "srv", "localhost", listen_addr="127.0.0.1"), None)
        await _until(connected, 5)
        assert ups.events == [("up", "srv@localhost"), ("down", "peer_stopped"),
                              ("up", "srv@localhost")]
    finally:
        await client.stop_and_wait(timeout=5)
        await server.stop_and_wait(timeout=5)


async def _no_sessions(node: ActorRef[NodeServerMessage]) -> bool:
    return not await node.call(GetSessions(), timeout=2)


def test_tune_gc_freezes_what_is_alive_and_raises_the_young_threshold() -> None:
    # in a fresh interpreter: the GC settings are the process's
    import subprocess
    import sys

    code = (
        "import gc, ractor_cluster as rc\n"
        "before = gc.get_threshold()\n"
        "rc.tune_gc()\n"
        "after = gc.get_threshold()\n"
        "assert after == (rc.DEFAULT_GC_THRESHOLD, *before[1:]), (before, after)\n"
        "assert gc.get_freeze_count() > 1000, gc.get_freeze_count()\n"
        "rc.tune_gc(2000)\n"
        "assert gc.get_threshold()[0] == 2000\n"
        "try:\n"
        "    rc.tune_gc(0)\n"
        "except ValueError as exc:\n"
        "    print('refused:', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "refused: the GC threshold must be positive, not 0"
