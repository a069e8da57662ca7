"""ractor_cluster: nodes that speak the protocol of the Rust ``ractor_cluster`` crate.

A :class:`NodeServer` is an actor that listens for other nodes; ``client_connect`` dials
one. Connected nodes authenticate with a shared cookie, advertise their remotable actors and
process groups, and carry casts and calls between them.
"""

from __future__ import annotations

import logging

from ._auth import ThrottlePolicy, digest
from ._client import (
    accept_external,
    client_connect,
    client_connect_enc,
    client_connect_external,
)
from ._discovery import SeedsDns, SeedsFile, SeedsList, SeedStrategy, run_discovery
from ._errors import (
    ClientConnectError,
    ClusterError,
    EncryptionConnectError,
    FrameError,
    MessagingConnectError,
    SocketConnectError,
)
from ._framing import DEFAULT_MAX_INBOUND_FRAME_SIZE
from ._logging import JsonFormatter, configure_logging
from ._messages import (
    ClusterStream,
    ConnectionOpened,
    GetNodeInfo,
    GetSessions,
    IncomingEncryptionMode,
    NodeConnectionMode,
    NodeEventSubscription,
    NodeId,
    NodeInfo,
    NodeServerMessage,
    NodeServerSessionInformation,
    PeerName,
    Reconnect,
    ReconnectPolicy,
    StopReconnecting,
    SubscribeToEvents,
    UnsubscribeToEvents,
)
from ._node import DEFAULT_LIVENESS_TIMEOUT, NodeServer, shutdown
from ._outbound import FlowLimits
from ._protocol import PeerLimits
from ._remote_actor import as_remote, remote_actors
from ._session import GetAuthenticationState, GetReadyState, NodeSession, NodeSessionMessage
from ._tuning import DEFAULT_GC_THRESHOLD, tune_gc

logging.getLogger("ractor").addHandler(logging.NullHandler())

__all__ = [
    "ClientConnectError",
    "ClusterError",
    "ClusterStream",
    "ConnectionOpened",
    "DEFAULT_GC_THRESHOLD",
    "DEFAULT_LIVENESS_TIMEOUT",
    "DEFAULT_MAX_INBOUND_FRAME_SIZE",
    "EncryptionConnectError",
    "FlowLimits",
    "FrameError",
    "GetAuthenticationState",
    "GetNodeInfo",
    "GetReadyState",
    "GetSessions",
    "IncomingEncryptionMode",
    "JsonFormatter",
    "MessagingConnectError",
    "NodeConnectionMode",
    "NodeEventSubscription",
    "NodeId",
    "NodeInfo",
    "NodeServer",
    "NodeServerMessage",
    "NodeServerSessionInformation",
    "NodeSession",
    "NodeSessionMessage",
    "PeerLimits",
    "PeerName",
    "Reconnect",
    "ReconnectPolicy",
    "SeedStrategy",
    "SeedsDns",
    "SeedsFile",
    "SeedsList",
    "SocketConnectError",
    "StopReconnecting",
    "SubscribeToEvents",
    "ThrottlePolicy",
    "UnsubscribeToEvents",
    "accept_external",
    "as_remote",
    "client_connect",
    "client_connect_enc",
    "client_connect_external",
    "configure_logging",
    "digest",
    "remote_actors",
    "run_discovery",
    "shutdown",
    "tune_gc",
]
