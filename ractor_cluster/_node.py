"""``NodeServer``: a node of the cluster. It listens, owns a session per connection, runs the
duplicate-connection election, and reports session events (docs/protocol.md §3.7, §4.10).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import socket
import ssl
from typing import Any

from ractor_core import (
    Actor,
    ActorFailed,
    ActorId,
    ActorRef,
    ActorTerminated,
    MessagingError,
    SpawnError,
    SupervisionEvent,
    spawn_linked,
)

from ._auth import new_connection_id
from ._framing import DEFAULT_MAX_INBOUND_FRAME_SIZE
from ._messages import (
    CheckSession,
    ClusterStream,
    ConnectionOpened,
    ConnectionReady,
    GetNodeInfo,
    GetSessions,
    IncomingEncryptionMode,
    NodeConnectionMode,
    NodeEventSubscription,
    NodeId,
    NodeInfo,
    NodeServerMessage,
    NodeServerSessionInformation,
    SessionAuthenticated,
    SubscribeToEvents,
    UnsubscribeToEvents,
    UpdateSession,
    _Dial,
    _SessionEntry,
    _Sessions,
)
from ._outbound import FlowLimits, NodeBudget
from ._protocol import PeerLimits
from ._session import NodeSession, SessionConfig
from .protocol import auth_pb2

__all__ = ["NodeServer", "elect"]

_log = logging.getLogger("ractor.cluster.node")

Status = auth_pb2.ServerStatus
PROTOCOL_VERSION = 1

# Node ids count every connection, from 0, as in Rust; one counter for the whole process, so
# that two NodeServers in one process never give two remote actors the same ActorId.
_node_ids = itertools.count(0)


def elect(this_name: str, peer_name: str, candidates: list[_SessionEntry]) -> list[_SessionEntry]:
    """The sessions that survive among ``candidates`` for one peer (docs/protocol.md §3.7).

    The connection initiated by the node whose full name sorts higher wins; then the
    smallest non-zero connection id; then, among incoming ones only, the lowest actor id.
    """
    if len(candidates) <= 1:
        return list(candidates)
    kept = list(candidates)
    if any(c.is_server for c in kept) and any(not c.is_server for c in kept):
        if peer_name.encode() < this_name.encode():
            kept = [c for c in kept if not c.is_server]
        elif peer_name.encode() > this_name.encode():
            kept = [c for c in kept if c.is_server]
    ids = [c.connection_id for c in kept if c.connection_id]
    if ids:
        low = min(ids)
        kept = [c for c in kept if c.connection_id == low]
    if len(kept) > 1 and all(c.is_server for c in kept):
        kept = [min(kept, key=lambda c: c.actor.id.pid)]
    return kept


class NodeServer(Actor[NodeServerMessage, None, None]):
    """A cluster node: listens on ``port`` and speaks the ractor_cluster protocol.

    Spawn it like any actor (``await spawn(NodeServer(...), None)``); dial peers with
    ``client_connect``. ``port=0`` picks a free port and advertises it.

    Args:
        port: the TCP port to listen on (0: any free port).
        cookie: the shared secret of the cluster.
        node_name: this node's name; the full name is ``node_name@hostname``.
        hostname: the host part of the full name and of the advertised ``hostname:port``.
        encryption_mode: raw TCP (default) or TLS for incoming connections.
        connection_mode: ISOLATED (default, as in Rust) or TRANSITIVE.
        listen_addr: the address to bind (default: every interface, IPv4 and IPv6).
        max_inbound_frame_size: the largest accepted frame payload (inclusive).
        handshake_timeout: seconds a connection may take to authenticate.
        liveness_timeout: seconds without any frame after which a session is closed as
            dead (None: never, as in Rust). Pings go out often enough to keep it alive.
        limits: what one peer may make this node hold (actors, group memberships, name
            lengths); past a limit its session ends. ``max_inbound_frame_size`` sets
            ``limits.max_frame_size``.
        flow: the marks of outbound flow control (when casts queue, when ``send`` and
            ``call`` wait, the node-wide cap past which ``cast`` refuses, the stuck-peer
            timeout).
        client_ssl_context: TLS settings for connections this node dials by itself
            (transitive connections); None dials them in plain TCP.
    """

    def __init__(
        self,
        port: int,
        cookie: str,
        node_name: str,
        hostname: str,
        *,
        encryption_mode: IncomingEncryptionMode | None = None,
        connection_mode: NodeConnectionMode = NodeConnectionMode.ISOLATED,
        listen_addr: str | None = None,
        max_inbound_frame_size: int = DEFAULT_MAX_INBOUND_FRAME_SIZE,
        handshake_timeout: float = 5.0,
        liveness_timeout: float | None = None,
        client_ssl_context: ssl.SSLContext | None = None,
        client_server_hostname: str | None = None,
        limits: PeerLimits | None = None,
        flow: FlowLimits | None = None,
    ) -> None:
        if not 0 <= port <= 65535:
            raise ValueError(f"port must be in 0..65535, got {port}")
        self.port = port
        self.cookie = cookie
        self.node_name = node_name
        self.hostname = hostname
        self.encryption = encryption_mode or IncomingEncryptionMode.raw()
        self.connection_mode = connection_mode
        self.listen_addr = listen_addr
        base = limits or PeerLimits()
        if max_inbound_frame_size != DEFAULT_MAX_INBOUND_FRAME_SIZE:
            base = dataclasses.replace(base, max_frame_size=max_inbound_frame_size)
        self.limits = base
        self.max_inbound_frame_size = self.limits.max_frame_size
        self.flow = flow or FlowLimits()
        self.budget = NodeBudget(self.flow.node_cap)
        self.handshake_timeout = handshake_timeout
        self.liveness_timeout = liveness_timeout
        self.client_ssl_context = client_ssl_context
        self.client_server_hostname = client_server_hostname
        self.full_name = f"{node_name}@{hostname}"
        self.connection_string = f"{hostname}:{port}"
        self.sessions: dict[ActorId, _SessionEntry] = {}
        self.subscriptions: dict[str, NodeEventSubscription] = {}
        self.listener: asyncio.Server | None = None
        self.dials: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ lifecycle

    async def pre_start(self, myself: ActorRef[NodeServerMessage], args: None) -> None:
        """Bind the listener (the spawn fails if the port cannot be bound)."""

        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer = writer.get_extra_info("peername")
            label = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
            stream = ClusterStream(
                reader,
                writer,
                peer_label=label,
                encrypted=self.encryption.ssl_context is not None,
            )
            try:
                myself.cast(ConnectionOpened(stream, is_server=True))
            except Exception:
                writer.close()

        tls: dict[str, Any] = {}
        if self.encryption.ssl_context is not None:
            # each TLS handshake runs on its own, never holding up the accept loop
            tls = {"ssl": self.encryption.ssl_context,
                   "ssl_handshake_timeout": self.handshake_timeout}
        if self.listen_addr is None:
            # One dual-stack socket, as Rust binds [::] with IPV6_V6ONLY off: one port for
            # IPv4 and IPv6 even when the OS picks it.
            self.listener = await asyncio.start_server(
                accepted, sock=_dual_stack_socket(self.port), **tls
            )
        else:
            self.listener = await asyncio.start_server(
                accepted, host=self.listen_addr, port=self.port, reuse_address=True,
                backlog=128, **tls,
            )
        sockets = self.listener.sockets
        if sockets:
            bound = sockets[0].getsockname()[1]
            if self.port == 0:
                self.port = bound
                self.connection_string = f"{self.hostname}:{bound}"
        _log.info("node %s listening on %s", self.full_name, self.connection_string)
        return None

    def release(self) -> None:
        """Stop listening and close every session (also after a kill)."""
        if self.listener is not None:
            self.listener.close()
        for task in list(self.dials):
            task.cancel()
        for entry in list(self.sessions.values()):
            entry.session.close()

    def own_name(self, connection_id: int = 0) -> auth_pb2.NameMessage:
        """This node's NameMessage."""
        return auth_pb2.NameMessage(
            name=self.full_name,
            flags=auth_pb2.NodeFlags(version=PROTOCOL_VERSION),
            connection_string=self.connection_string,
            connection_id=connection_id,
        )

    # ------------------------------------------------------------------ messages

    async def handle(
        self, myself: ActorRef[NodeServerMessage], message: NodeServerMessage, state: None
    ) -> None:
        """Run the node's bookkeeping."""
        match message:
            case ConnectionOpened(stream=stream, is_server=is_server):
                await self._open(myself, stream, is_server)
            case GetSessions():
                message.reply.send(
                    {
                        e.node_id: e.info()
                        for e in self.sessions.values()
                        if e.authenticated
                    }
                )
            case GetNodeInfo():
                message.reply.send(
                    NodeInfo(
                        self.full_name,
                        self.connection_string,
                        self.port,
                        self.connection_mode,
                        self.encryption.ssl_context is not None,
                    )
                )
            case SubscribeToEvents(id=sub_id, subscription=subscription):
                self.subscriptions[sub_id] = subscription
            case UnsubscribeToEvents(id=sub_id):
                self.subscriptions.pop(sub_id, None)
            case UpdateSession(actor_id=actor_id, name=name):
                entry = self.sessions.get(actor_id)
                if entry is not None:
                    entry.peer_name = name
                    entry.connection_id = name.connection_id
            case CheckSession(actor_id=actor_id, peer_name=peer):
                message.reply.send(self._check(actor_id, peer))
            case SessionAuthenticated(actor_id=actor_id):
                message.reply.send(self._authenticated(actor_id))
            case ConnectionReady(actor_id=actor_id):
                entry = self.sessions.get(actor_id)
                if entry is not None and entry.authenticated and not entry.ready:
                    entry.ready = True
                    self._fire("node_session_ready", entry)
            case _Sessions():
                message.reply.send(
                    [
                        (e.actor.id, e.peer_name)
                        for e in self.sessions.values()
                        if e.authenticated and e.peer_name is not None
                    ]
                )
            case _Dial(address=address):
                # in the background, as Rust does: a slow or dead address must not hold up
                # the NodeServer (sessions ask it election questions with short timeouts)
                task = asyncio.get_running_loop().create_task(self._dial(myself, address))
                self.dials.add(task)
                task.add_done_callback(self.dials.discard)

    async def handle_supervisor_evt(
        self, myself: ActorRef[NodeServerMessage], event: SupervisionEvent, state: None
    ) -> None:
        """A session ended: forget it, close its stream, and tell the subscribers."""
        if isinstance(event, (ActorTerminated, ActorFailed)):
            entry = self.sessions.pop(event.actor.id, None)
            if entry is not None:
                entry.session.close()
                if isinstance(event, ActorFailed):
                    _log.warning("session %s failed: %r", entry.node_id, event.error)
                self._fire("node_session_disconnected", entry)

    async def _open(
        self, myself: ActorRef[NodeServerMessage], stream: ClusterStream, is_server: bool
    ) -> None:
        node_id: NodeId = next(_node_ids)
        config = SessionConfig(
            node_id=node_id,
            is_server=is_server,
            cookie=self.cookie,
            own=self.own_name(0 if is_server else new_connection_id()),
            connection_mode=self.connection_mode,
            handshake_timeout=self.handshake_timeout,
            liveness_timeout=self.liveness_timeout,
            limits=self.limits,
            flow=self.flow,
            budget=self.budget,
        )
        session = NodeSession(config, myself, stream)
        try:
            ref = await spawn_linked(session, None, myself)
        except SpawnError as exc:
            _log.warning("could not start a session: %s", exc)
            stream.close()
            return
        entry = _SessionEntry(ref, node_id, is_server, stream, session)
        if not is_server:
            entry.connection_id = config.own.connection_id
        self.sessions[ref.id] = entry
        self._fire("node_session_opened", entry)

    async def _dial(self, myself: ActorRef[NodeServerMessage], address: str) -> None:
        from ._client import open_stream

        try:
            stream = await open_stream(
                address, self.client_ssl_context, self.client_server_hostname, timeout=5.0
            )
        except Exception as exc:
            _log.warning("transitive connection to %s failed: %s", address, exc)
            return
        try:
            myself.cast(ConnectionOpened(stream, is_server=False))
        except MessagingError:
            stream.close()

    # ------------------------------------------------------------------ election

    def _same_peer(self, name: str) -> list[_SessionEntry]:
        return [
            e
            for e in self.sessions.values()
            if e.authenticated and e.peer_name is not None and e.peer_name.name == name
        ]

    def _check(self, actor_id: ActorId, peer: auth_pb2.NameMessage) -> int:
        entry = self.sessions.get(actor_id)
        if entry is None:
            return int(Status.NOT_OK)
        entry.peer_name = peer
        entry.connection_id = peer.connection_id
        candidates = [e for e in self._same_peer(peer.name) if e is not entry] + [entry]
        survivors = elect(self.full_name, peer.name, candidates)
        if entry not in survivors:
            return int(Status.NOT_OK)
        return int(Status.OK if len(candidates) == 1 else Status.OK_SIMULTANEOUS)

    def _authenticated(self, actor_id: ActorId) -> bool:
        entry = self.sessions.get(actor_id)
        if entry is None or entry.peer_name is None:
            return False
        entry.authenticated = True
        candidates = self._same_peer(entry.peer_name.name)
        survivors = elect(self.full_name, entry.peer_name.name, candidates)
        for loser in candidates:
            if loser not in survivors:
                loser.authenticated = False
                loser.actor.stop("duplicate_connection")
        if entry in survivors:
            self._fire("node_session_authenticated", entry)
            return True
        return False

    # ------------------------------------------------------------------ events

    def _fire(self, event: str, entry: _SessionEntry) -> None:
        if not self.subscriptions:
            return
        info: NodeServerSessionInformation = entry.info()
        for sub_id, subscription in list(self.subscriptions.items()):
            try:
                getattr(subscription, event)(info)
            except Exception:
                _log.exception("event subscription %r raised in %s", sub_id, event)


def _dual_stack_socket(port: int) -> socket.socket:
    """A listening socket on every interface, IPv6 and IPv4 (IPv4 only without IPv6)."""
    try:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        address: tuple[str, int] = ("0.0.0.0", port)
    else:
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        address = ("::", port)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
