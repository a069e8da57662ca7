"""Operator review of issue 14 (operable nodes): the failure modes an operator meets, each
reproduced first (redial loops, the auth throttle, shutdown with stuck actors...)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from ractor_cluster import (
    NodeEventSubscription,
    NodeServer,
    NodeServerMessage,
    NodeServerSessionInformation,
    PeerLimits,
    ReconnectPolicy,
    SubscribeToEvents,
    client_connect,
    shutdown,
)
from ractor_core import Actor, ActorRef, spawn, spawn_linked

from .harness import NodeProcess

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
