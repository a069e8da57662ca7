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
)
from ractor_core import ActorRef, spawn

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
