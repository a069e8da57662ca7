"""Configuration types, the NodeServer's and NodeSession's messages, and event callbacks."""

from __future__ import annotations

import asyncio
import enum
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from ractor_core import ActorId, ActorRef, Call

from .protocol import auth_pb2

if TYPE_CHECKING:
    from ._session import NodeSessionMessage

__all__ = [
    "CheckSession",
    "ClusterStream",
    "ConnectionOpened",
    "ConnectionReady",
    "GetNodeInfo",
    "GetSessions",
    "IncomingEncryptionMode",
    "NodeConnectionMode",
    "NodeEventSubscription",
    "NodeId",
    "NodeInfo",
    "NodeServerMessage",
    "NodeServerSessionInformation",
    "SessionAuthenticated",
    "SubscribeToEvents",
    "UnsubscribeToEvents",
    "UpdateSession",
]

NodeId: TypeAlias = int
"""The observer-local id of a connection to another node (a counter from 0)."""


class NodeConnectionMode(enum.Enum):
    """Whether a node dials the peers its peers know (TRANSITIVE) or not (ISOLATED)."""

    TRANSITIVE = "transitive"
    ISOLATED = "isolated"


@dataclass(frozen=True, slots=True)
class IncomingEncryptionMode:
    """How a NodeServer accepts connections: raw TCP, or TLS with ``ssl_context``."""

    ssl_context: ssl.SSLContext | None = None

    @classmethod
    def raw(cls) -> IncomingEncryptionMode:
        """Plain TCP."""
        return cls(None)

    @classmethod
    def tls(cls, ssl_context: ssl.SSLContext) -> IncomingEncryptionMode:
        """TLS, with a server-side ``ssl.SSLContext`` (set ``verify_mode`` for mutual TLS)."""
        return cls(ssl_context)


@dataclass(eq=False, slots=True)
class ClusterStream:
    """A connected byte stream (TCP, TLS, Unix socket, pipe ...) handed to a NodeServer."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    peer_label: str = "external"
    local_label: str = ""
    encrypted: bool = False

    def close(self) -> None:
        """Close the stream (idempotent)."""
        if not self.writer.is_closing():
            self.writer.close()


@dataclass(frozen=True, slots=True)
class NodeServerSessionInformation:
    """What a NodeServer knows of one session (``GetSessions`` and the event callbacks)."""

    actor: ActorRef[NodeSessionMessage]
    peer_name: auth_pb2.NameMessage | None
    is_server: bool
    node_id: NodeId
    peer_addr: str


class NodeEventSubscription:
    """Callbacks on a NodeServer's session events; override the ones you need.

    They run synchronously on the NodeServer's task: keep them short, and hand longer work
    to an actor.
    """

    def node_session_opened(self, info: NodeServerSessionInformation) -> None:
        """A session started for a new connection (before any handshake)."""

    def node_session_authenticated(self, info: NodeServerSessionInformation) -> None:
        """A session authenticated and won the election for its peer."""

    def node_session_ready(self, info: NodeServerSessionInformation) -> None:
        """Both sides finished their initial synchronization (Ready exchanged)."""

    def node_session_disconnected(self, info: NodeServerSessionInformation) -> None:
        """A session ended, whatever its state."""


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A NodeServer's identity: full name, advertised connection string, bound port."""

    name: str
    connection_string: str
    port: int
    connection_mode: NodeConnectionMode
    encrypted: bool


# ------------------------------------------------------------------ NodeServer messages


@dataclass(frozen=True, slots=True)
class ConnectionOpened:
    """Hand a connected stream to the NodeServer, which starts a session for it."""

    stream: ClusterStream
    is_server: bool


@dataclass(frozen=True)
class GetSessions(Call[dict[NodeId, NodeServerSessionInformation]]):
    """The authenticated, elected sessions by node id."""


@dataclass(frozen=True)
class GetNodeInfo(Call[NodeInfo]):
    """This node's name, connection string and port."""


@dataclass(frozen=True, slots=True)
class SubscribeToEvents:
    """Register ``subscription`` under ``id`` (the same id replaces it)."""

    id: str
    subscription: NodeEventSubscription


@dataclass(frozen=True, slots=True)
class UnsubscribeToEvents:
    """Remove the subscription registered under ``id``."""

    id: str


@dataclass(frozen=True, slots=True)
class UpdateSession:
    """Internal: a session learned its peer's name and connection id."""

    actor_id: ActorId
    name: auth_pb2.NameMessage


@dataclass(frozen=True)
class CheckSession(Call[int]):
    """Internal: the election verdict on a connection from ``peer_name`` (a ServerStatus)."""

    actor_id: ActorId
    peer_name: auth_pb2.NameMessage


@dataclass(frozen=True)
class SessionAuthenticated(Call[bool]):
    """Internal: a session authenticated; the answer says whether it won the election."""

    actor_id: ActorId


@dataclass(frozen=True, slots=True)
class ConnectionReady:
    """Internal: a session exchanged Ready with its peer."""

    actor_id: ActorId


@dataclass(frozen=True)
class _Sessions(Call[list[tuple[ActorId, auth_pb2.NameMessage]]]):
    """Internal: the peer names of the elected sessions (for transitive enumeration)."""


@dataclass(frozen=True, slots=True)
class _Dial:
    """Internal: dial ``address`` as a transitive connection."""

    address: str


NodeServerMessage: TypeAlias = (
    ConnectionOpened
    | GetSessions
    | GetNodeInfo
    | SubscribeToEvents
    | UnsubscribeToEvents
    | UpdateSession
    | CheckSession
    | SessionAuthenticated
    | ConnectionReady
    | _Sessions
    | _Dial
)


@dataclass(slots=True)
class _SessionEntry:
    """The NodeServer's record of one session."""

    actor: ActorRef[Any]
    node_id: NodeId
    is_server: bool
    stream: ClusterStream
    session: Any  # the NodeSession (closed by the server whatever way it ended)
    peer_name: auth_pb2.NameMessage | None = None
    connection_id: int = 0
    authenticated: bool = False
    ready: bool = False

    def info(self) -> NodeServerSessionInformation:
        peer = None
        if self.peer_name is not None:
            peer = auth_pb2.NameMessage()
            peer.CopyFrom(self.peer_name)
            peer.connection_id = 0
        return NodeServerSessionInformation(
            self.actor, peer, self.is_server, self.node_id, self.stream.peer_label
        )
