"""Configuration types, the NodeServer's and NodeSession's messages, and event callbacks."""

from __future__ import annotations

import asyncio
import enum
import ssl
from dataclasses import dataclass, field
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
    "PeerName",
    "Reconnect",
    "ReconnectPolicy",
    "SessionAuthenticated",
    "StopReconnecting",
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
class PeerName:
    """Who the peer of a session says it is: full name, advertised ``host:port``, and the
    protocol version in its flags (peer-supplied text, at most ``PeerLimits.max_name_length``
    characters)."""

    name: str
    connection_string: str
    protocol_version: int = 0

    @classmethod
    def from_message(cls, msg: auth_pb2.NameMessage) -> PeerName:
        """From the protocol's NameMessage."""
        version = msg.flags.version if msg.HasField("flags") else 0
        return cls(msg.name, msg.connection_string, version)


@dataclass(frozen=True, slots=True)
class NodeServerSessionInformation:
    """What a NodeServer knows of one session (``GetSessions`` and the event callbacks).

    ``peer_addr`` is the address the connection comes from (or the transport's label);
    ``dialed`` is the ``host:port`` this node dialed to open it (None: accepted, or dialed
    without reconnection).
    """

    actor: ActorRef[NodeSessionMessage]
    peer_name: PeerName | None
    is_server: bool
    node_id: NodeId
    peer_addr: str
    authenticated: bool = False
    ready: bool = False
    dialed: str | None = None


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

    def node_up(self, info: NodeServerSessionInformation) -> None:
        """A node became reachable: its first session authenticated and won the election."""

    def node_down(self, info: NodeServerSessionInformation, reason: str) -> None:
        """A node is no longer reachable: its last authenticated session ended (``reason``:
        the session's, e.g. ``peer_closed``, ``liveness_timeout``, ``shutdown``)."""


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
    """Hand a connected stream to the NodeServer, which starts a session for it
    (``address``: the ``host:port`` dialed, when the node redials it)."""

    stream: ClusterStream
    is_server: bool
    address: str | None = None
    pending: bool = False  # the auth throttle counts it as authenticating (its listener)


@dataclass(frozen=True, slots=True)
class ReconnectPolicy:
    """How a node redials a peer: after ``initial`` seconds, times ``factor`` per failed
    attempt, at most ``maximum``, each delay spread by +/- ``jitter`` (a fraction). The
    backoff starts again from ``initial`` only after a session that stayed authenticated
    ``stable`` seconds: a peer that accepts and then drops every connection at once is
    redialed less and less often, not every ``initial`` seconds for ever."""

    initial: float = 0.2
    factor: float = 2.0
    maximum: float = 30.0
    jitter: float = 0.1
    connect_timeout: float = 5.0
    stable: float = 10.0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.factor < 1 or self.maximum < self.initial:
            raise ValueError("a ReconnectPolicy needs 0 < initial <= maximum and factor >= 1")
        if self.stable < 0:
            raise ValueError("stable is a duration in seconds (>= 0)")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter is a fraction in [0, 1)")

    def delay(self, attempt: int) -> float:
        """The base delay before attempt ``attempt`` (0: the first redial), without jitter."""
        return min(self.maximum, self.initial * self.factor ** min(attempt, 64))


@dataclass(frozen=True, slots=True)
class Reconnect:
    """Keep a connection to ``address``: dial it now (unless ``dial_now`` is False, when
    the caller hands over the first connection itself) and redial whenever its session
    ends, with ``policy``'s backoff, until :class:`StopReconnecting`."""

    address: str
    policy: ReconnectPolicy = field(default_factory=ReconnectPolicy)
    dial_now: bool = True


@dataclass(frozen=True, slots=True)
class StopReconnecting:
    """Stop redialing ``address`` (a session already open stays)."""

    address: str


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


@dataclass(frozen=True)
class _Quiesce(Call[bool]):
    """Internal: stop listening, redialing and discovering (the node is shutting down)."""


@dataclass(frozen=True, slots=True)
class _Redial:
    """Internal: a redial of ``address`` is due (``generation`` guards stale timers)."""

    address: str
    generation: int


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
    | Reconnect
    | StopReconnecting
    | _Quiesce
    | _Redial
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
    address: str | None = None  # the dialed host:port, when it is redialed
    source: str | None = None  # the remote IP of an accepted TCP connection
    refused: bool = False  # the election refused it (not an authentication failure)
    pending: bool = False  # counted by the throttle as still authenticating

    def info(self) -> NodeServerSessionInformation:
        peer = None if self.peer_name is None else PeerName.from_message(self.peer_name)
        return NodeServerSessionInformation(
            self.actor, peer, self.is_server, self.node_id, self.stream.peer_label,
            self.authenticated, self.ready, self.address,
        )
