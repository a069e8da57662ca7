"""``NodeServer``: a node of the cluster. It listens, owns a session per connection, runs the
duplicate-connection election, and reports session events (docs/protocol.md §3.7, §4.10).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import random
import socket
import ssl
import time
from typing import Any, cast

from ractor_core import (
    Actor,
    ActorFailed,
    ActorId,
    ActorRef,
    ActorTerminated,
    MessagingError,
    RactorError,
    SpawnError,
    SupervisionEvent,
    WaitTimeout,
    all_actors,
    spawn_linked,
)

from ._auth import AuthThrottle, ThrottlePolicy, new_connection_id
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
    Reconnect,
    ReconnectPolicy,
    SessionAuthenticated,
    StopReconnecting,
    SubscribeToEvents,
    UnsubscribeToEvents,
    UpdateSession,
    _Dial,
    _Quiesce,
    _Redial,
    _SessionEntry,
    _Sessions,
)
from ._outbound import FlowLimits, NodeBudget
from ._protocol import PeerLimits, bounded
from ._session import NodeSession, SessionConfig
from .protocol import auth_pb2

__all__ = ["DEFAULT_LIVENESS_TIMEOUT", "NodeServer", "elect", "shutdown"]

_log = logging.getLogger("ractor.cluster.node")

DEFAULT_LIVENESS_TIMEOUT = 15.0
"""Seconds without any frame from a peer after which its session ends (Rust and Python
nodes ping every 1-5 s, so three missed pings at the least)."""

_DEFAULT_THROTTLE = ThrottlePolicy()
# session reasons that count as a failed authentication of an accepted connection
_AUTH_FAILURES = frozenset({
    "auth_fail", "handshake_timeout", "frame_read_error", "message_before_authentication",
    "limit_exceeded",
})

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


OTHER_PEERS = "other"
"""The ``peer`` label of the traffic metrics of nodes past ``NodeServer.max_peer_labels``."""


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
            dead (default :data:`DEFAULT_LIVENESS_TIMEOUT`; None: never, as in Rust). Pings
            go out often enough to keep it alive.
        limits: what one peer may make this node hold (actors, group memberships, name
            lengths); past a limit its session ends. ``max_inbound_frame_size`` sets
            ``limits.max_frame_size``.
        flow: the marks of outbound flow control (when casts queue, when ``send`` and
            ``call`` wait, the node-wide cap past which ``cast`` refuses, the stuck-peer
            timeout).
        client_ssl_context: TLS settings for connections this node dials by itself
            (transitive connections, redials); None dials them in plain TCP.
        auth_throttle: the backoff of authentication failures per source address (None:
            no throttling); an address backing off has its connections closed at once.
    """

    max_peer_labels = 1000
    """Distinct ``peer`` labels of the traffic metrics, at most (then ``other``): peer names
    are the peers' to choose."""

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
        liveness_timeout: float | None = DEFAULT_LIVENESS_TIMEOUT,
        client_ssl_context: ssl.SSLContext | None = None,
        client_server_hostname: str | None = None,
        limits: PeerLimits | None = None,
        flow: FlowLimits | None = None,
        auth_throttle: ThrottlePolicy | None = _DEFAULT_THROTTLE,
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
        self.throttle = AuthThrottle(auth_throttle) if auth_throttle is not None else None
        self.auth_failures = 0
        """Failed authentications of accepted connections (every source address)."""
        self.stopping = False
        self.redials: dict[str, _RedialState] = {}  # address -> how it is redialed
        self.up: dict[str, NodeServerSessionInformation] = {}  # reachable nodes by name
        # peer label -> frames in, bytes in, messages out, bytes out of its sessions that ended
        self.peer_totals: dict[str, list[int]] = {}
        self.myself: ActorRef[NodeServerMessage] | None = None

    # ------------------------------------------------------------------ lifecycle

    async def pre_start(self, myself: ActorRef[NodeServerMessage], args: None) -> None:
        """Bind the listener (the spawn fails if the port cannot be bound)."""

        self.myself = myself

        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            peer: Any = writer.get_extra_info("peername")
            host = _peer_host(peer)
            label = f"{host}:{peer[1]}" if host is not None else str(peer)
            if self.stopping:
                writer.close()
                return
            counted = False
            if host is not None and self.throttle is not None:
                wait = self.throttle.blocked(host, time.monotonic())
                if wait:
                    _log.debug("connection from %s refused: its address backs off after "
                               "failed authentications (%.1fs more)", label, wait)
                    writer.transport.abort()
                    return
                if not self.throttle.opened(host):
                    _log.debug("connection from %s refused: its address has %d connections "
                               "authenticating already", label,
                               self.throttle.policy.max_pending)
                    writer.transport.abort()
                    return
                counted = True
            stream = ClusterStream(
                reader,
                writer,
                peer_label=label,
                encrypted=self.encryption.ssl_context is not None,
            )
            try:
                myself.cast(ConnectionOpened(stream, is_server=True, pending=counted))
            except Exception:
                if counted and host is not None and self.throttle is not None:
                    self.throttle.settled(host)
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

    async def post_stop(self, myself: ActorRef[NodeServerMessage], state: None) -> None:
        """Close every session with the reason ``shutdown`` (peers see this node stop)."""
        self._quiesce()
        entries = list(self.sessions.values())
        for entry in entries:
            entry.session.shutdown()
        for entry in entries:
            try:
                await entry.actor.wait(2.0)
            except WaitTimeout:
                entry.actor.kill()

    def release(self) -> None:
        """Stop listening and close every session (also after a kill)."""
        self._quiesce()
        for entry in list(self.sessions.values()):
            entry.session.close()

    def _quiesce(self) -> None:
        """Accept, dial and redial nothing more."""
        self.stopping = True
        if self.listener is not None:
            self.listener.close()
        for task in list(self.dials):
            task.cancel()
        for redial in self.redials.values():
            if redial.timer is not None:
                redial.timer.cancel()
        self.redials.clear()

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
            case ConnectionOpened(stream=stream, is_server=is_server, address=address,
                                  pending=pending):
                if self.stopping:
                    stream.close()
                else:
                    await self._open(myself, stream, is_server, address, pending)
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
            case Reconnect(address=address, policy=policy, dial_now=dial_now):
                if not self.stopping and address not in self.redials:
                    self.redials[address] = _RedialState(address, policy)
                    if dial_now:
                        self._dial_soon(myself, address, 0.0)
            case StopReconnecting(address=address):
                redial = self.redials.pop(address, None)
                if redial is not None and redial.timer is not None:
                    redial.timer.cancel()
            case _Redial(address=address, generation=generation):
                redial = self.redials.get(address)
                if redial is not None and redial.generation == generation and not self.stopping:
                    redial.timer = None
                    task = asyncio.get_running_loop().create_task(
                        self._dial(myself, address, redial)
                    )
                    self.dials.add(task)
                    task.add_done_callback(self.dials.discard)
            case _Quiesce():
                self._quiesce()
                message.reply.send(True)
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
                if not self.stopping:
                    task = asyncio.get_running_loop().create_task(
                        self._dial(myself, address, None)
                    )
                    self.dials.add(task)
                    task.add_done_callback(self.dials.discard)

    async def handle_supervisor_evt(
        self, myself: ActorRef[NodeServerMessage], event: SupervisionEvent, state: None
    ) -> None:
        """A session ended: forget it, close its stream, and tell the subscribers."""
        if isinstance(event, (ActorTerminated, ActorFailed)):
            entry = self.sessions.pop(event.actor.id, None)
            if entry is not None:
                self._settle(entry)
                entry.session.close()
                reason = entry.session.stop_reason or "session_closed"
                if isinstance(event, ActorFailed):
                    reason = "session_error"
                    _log.warning("session %s failed: %r", entry.node_id, event.error,
                                 exc_info=event.error)
                elif (not entry.authenticated and entry.is_server and not entry.refused
                      and reason in _AUTH_FAILURES):
                    self._auth_failed(entry, reason)
                self._fire("node_session_disconnected", entry)
                if entry.authenticated and entry.peer_name is not None:
                    self._retire_counts(entry)
                    self._maybe_down(entry, reason)
                self._after_session(myself, entry, reason)

    async def _open(
        self,
        myself: ActorRef[NodeServerMessage],
        stream: ClusterStream,
        is_server: bool,
        address: str | None = None,
        pending: bool = False,
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
        source = _peer_host(stream.writer.get_extra_info("peername")) if is_server else None
        pending = pending and source is not None and self.throttle is not None
        try:
            ref = await spawn_linked(session, None, myself)
        except SpawnError as exc:
            _log.warning("could not start a session: %s", exc)
            stream.close()
            if pending and source is not None and self.throttle is not None:
                self.throttle.settled(source)
            return
        entry = _SessionEntry(ref, node_id, is_server, stream, session)
        if not is_server:
            entry.connection_id = config.own.connection_id
        else:
            entry.source = source
            entry.pending = pending
        if address is not None and address in self.redials:
            entry.address = address
            self.redials[address].session = ref.id
            self.redials[address].connection_id = entry.connection_id
        self.sessions[ref.id] = entry
        self._fire("node_session_opened", entry)

    async def _dial(
        self, myself: ActorRef[NodeServerMessage], address: str, redial: _RedialState | None
    ) -> None:
        from ._client import open_stream

        timeout = 5.0 if redial is None else redial.policy.connect_timeout
        try:
            stream = await open_stream(
                address, self.client_ssl_context, self.client_server_hostname, timeout=timeout
            )
        except Exception as exc:
            if redial is None:
                _log.warning("transitive connection to %s failed: %s", address, exc)
                return
            delay = self._backoff(redial)
            level = logging.WARNING if redial.attempt <= 1 else logging.INFO
            _log.log(level, "dialing %s failed (attempt %d): %s; next try in %.2fs",
                     address, redial.attempt, exc, delay)
            self._dial_soon(myself, address, delay)
            return
        try:
            myself.cast(ConnectionOpened(stream, is_server=False,
                                         address=None if redial is None else address))
        except MessagingError:
            stream.close()

    # ------------------------------------------------------------------ reconnection

    def _backoff(self, redial: _RedialState) -> float:
        """The delay before the next attempt (counting this failure), with jitter."""
        base = redial.policy.delay(redial.attempt)
        redial.attempt += 1
        jitter = redial.policy.jitter
        return base * random.uniform(1 - jitter, 1 + jitter) if jitter else base

    def _dial_soon(self, myself: ActorRef[NodeServerMessage], address: str, delay: float) -> None:
        redial = self.redials.get(address)
        if redial is None or self.stopping:
            return
        if redial.timer is not None:
            redial.timer.cancel()
        redial.generation += 1
        message = _Redial(address, redial.generation)

        def due() -> None:
            try:
                myself.cast(message)
            except MessagingError:
                pass

        redial.timer = asyncio.get_running_loop().call_later(delay, due)

    def _after_session(
        self, myself: ActorRef[NodeServerMessage], entry: _SessionEntry, reason: str
    ) -> None:
        """Redial what must be: the address of this session, and any address whose node
        just went down while another connection to it held it."""
        if self.stopping:
            return
        if reason == "self_connection" and entry.is_server:
            # this node accepted its own connection: the dialing end only saw it close
            peer = entry.session.proto.peer
            dialed = peer.connection_id if peer is not None else 0
            for address, dialing in list(self.redials.items()):
                if dialed and dialing.connection_id == dialed:
                    _log.info("%s is this node: not redialed", address)
                    if dialing.timer is not None:
                        dialing.timer.cancel()
                    del self.redials[address]
        if entry.address is not None:
            redial = self.redials.get(entry.address)
            if redial is not None and redial.session == entry.actor.id:
                redial.session = None
                if (redial.up_since is not None
                        and time.monotonic() - redial.up_since >= redial.policy.stable):
                    redial.attempt = 0  # it was up a while: redial soon, as the first time
                redial.up_since = None
                if reason == "self_connection":
                    _log.info("%s is this node: not redialed", entry.address)
                    del self.redials[entry.address]
                    return
                if entry.peer_name is not None and self._same_peer(entry.peer_name.name):
                    # another connection holds the node (the election): redial when it ends
                    redial.peer = entry.peer_name.name
                    _log.info("%s: another connection holds %s; redialed when a node goes "
                              "down", entry.address, bounded(redial.peer))
                    return
                if getattr(entry.session.proto.handshake, "refused", False):
                    # the server keeps another connection with this node (it dialed us):
                    # redialed when a node goes down
                    _log.info("%s refused the connection: it holds another one with this "
                              "node; redialed when a node goes down", entry.address)
                    redial.waiting = True
                    return
                self._dial_soon(myself, entry.address, self._backoff(redial))
        if entry.authenticated and entry.peer_name is not None:
            name = entry.peer_name.name
            if not self._same_peer(name):
                for redial in self.redials.values():
                    if (redial.peer == name or redial.waiting) and redial.session is None \
                            and redial.timer is None and redial.address != entry.address:
                        redial.waiting = False
                        self._dial_soon(myself, redial.address, self._backoff(redial))

    # ------------------------------------------------------------------ auth failures

    def _settle(self, entry: _SessionEntry) -> None:
        """``entry`` no longer counts as authenticating from its address."""
        if entry.pending:
            entry.pending = False
            if entry.source is not None and self.throttle is not None:
                self.throttle.settled(entry.source)

    def _auth_failed(self, entry: _SessionEntry, reason: str) -> None:
        self.auth_failures += 1
        claimed = bounded(entry.peer_name.name) if entry.peer_name is not None else None
        _log.warning("authentication failed for a connection from %s%s: %s",
                     entry.stream.peer_label,
                     f" (claiming to be {claimed!r})" if claimed is not None else "",
                     reason)
        if entry.source is not None and self.throttle is not None:
            name = entry.peer_name.name if entry.peer_name is not None else None
            block = self.throttle.failed(entry.source, time.monotonic(), name)
            if block:
                _log.warning("%s failed to authenticate %d times in a row: its connections are "
                             "refused for %.1fs", entry.source,
                             self.throttle.failures_of(entry.source, name), block)

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
        if entry.source is not None and self.throttle is not None:
            wait = self.throttle.blocked_name(entry.source, peer.name, time.monotonic())
            if wait:
                # let in at accept (a name is known at its address), but not this name
                _log.debug("connection from %s claiming to be %r refused: it backs off after "
                           "failed authentications (%.1fs more)", entry.stream.peer_label,
                           bounded(peer.name), wait)
                entry.refused = True
                entry.stream.writer.transport.abort()
                return int(Status.NOT_OK)
        candidates = [e for e in self._same_peer(peer.name) if e is not entry] + [entry]
        survivors = elect(self.full_name, peer.name, candidates)
        if entry not in survivors:
            entry.refused = True
            _log.warning("node %r: the connection from %s loses to the one from %s "
                         "(duplicate_connection)", bounded(peer.name), entry.stream.peer_label,
                         ", ".join(e.stream.peer_label for e in survivors))
            return int(Status.NOT_OK)
        return int(Status.OK if len(candidates) == 1 else Status.OK_SIMULTANEOUS)

    def _authenticated(self, actor_id: ActorId) -> bool:
        entry = self.sessions.get(actor_id)
        if entry is None or entry.peer_name is None:
            return False
        entry.authenticated = True
        self._settle(entry)
        name = entry.peer_name.name
        candidates = self._same_peer(name)
        survivors = elect(self.full_name, name, candidates)
        for loser in candidates:
            if loser not in survivors:
                loser.authenticated = False
                if loser.session.stop_reason is None:
                    loser.session.stop_reason = "duplicate_connection"
                _log.warning(
                    "node %r: the connection from %s replaces the one from %s "
                    "(duplicate_connection)" if entry in survivors else
                    "node %r: the connection from %s loses to the one from %s "
                    "(duplicate_connection)",
                    bounded(name), entry.stream.peer_label, loser.stream.peer_label,
                )
                loser.actor.stop("duplicate_connection")
        if entry in survivors:
            if entry.source is not None and self.throttle is not None:
                self.throttle.succeeded(entry.source, name)
            if entry.address is not None and entry.address in self.redials:
                redial = self.redials[entry.address]
                redial.up_since = time.monotonic()  # the backoff restarts once it lasts
                redial.peer = name
            self._fire("node_session_authenticated", entry)
            if name not in self.up:
                self.up[name] = entry.info()
                _log.info("node %r is up (%s)", bounded(name), entry.stream.peer_label)
                self._fire("node_up", entry)
            return True
        entry.authenticated = False
        return False

    def peer_label(self, name: str) -> str:
        """The ``peer`` label of a node's traffic metrics: its (bounded) name, for the first
        :attr:`max_peer_labels` nodes seen; ``other`` for the rest. A label, once given,
        stays (a counter never moves between labels, so it never goes down)."""
        label = bounded(name)
        totals = self.peer_totals
        if label in totals:
            return label
        if len(totals) - (OTHER_PEERS in totals) < self.max_peer_labels:
            totals[label] = [0, 0, 0, 0]
            return label
        return OTHER_PEERS

    def _retire_counts(self, entry: _SessionEntry) -> None:
        """Keep the traffic counts of an ended session (metrics), under its peer's label."""
        assert entry.peer_name is not None
        label = self.peer_label(entry.peer_name.name)
        totals = self.peer_totals.setdefault(label, [0, 0, 0, 0])
        session = entry.session
        out = session.out
        counts = (session.frames_in, session.bytes_in, session.peer_actors.messages_out,
                  out._written if out is not None else 0)
        for i, value in enumerate(counts):
            totals[i] += value

    def _maybe_down(self, entry: _SessionEntry, reason: str) -> None:
        assert entry.peer_name is not None
        name = entry.peer_name.name
        if name in self.up and not self._same_peer(name):
            del self.up[name]
            _log.info("node %r is down: %s", bounded(name), reason)
            self._fire("node_down", entry, reason)

    # ------------------------------------------------------------------ events

    def _fire(self, event: str, entry: _SessionEntry, *extra: Any) -> None:
        if not self.subscriptions:
            return
        info: NodeServerSessionInformation = entry.info()
        for sub_id, subscription in list(self.subscriptions.items()):
            try:
                getattr(subscription, event)(info, *extra)
            except Exception:
                _log.exception("event subscription %r raised in %s", sub_id, event)


@dataclasses.dataclass(slots=True)
class _RedialState:
    """How one dialed address is kept connected."""

    address: str
    policy: ReconnectPolicy
    attempt: int = 0  # failed attempts since the last session that lasted (policy.stable)
    generation: int = 0  # of the pending timer
    timer: asyncio.TimerHandle | None = None
    session: ActorId | None = None  # the session of the current connection, if any
    peer: str | None = None  # the node's full name, once known
    waiting: bool = False  # refused: the node holds another connection with this one
    up_since: float | None = None  # when its current session authenticated
    connection_id: int = 0  # of the latest connection dialed


async def shutdown(
    node: ActorRef[NodeServerMessage],
    *,
    timeout: float = 10.0,
    reason: str = "shutdown",
) -> bool:
    """Stop a node gracefully: accept, dial and redial nothing more; stop every local actor
    (children before their supervisors, each unlinked from its supervisor first, so every
    one runs ``post_stop`` and no supervisor restarts anything; the peers hear each
    Terminate); then stop the NodeServer, which closes its sessions (``shutdown``).

    Actors still running when ``timeout`` is up are killed; a level of supervisors keeps a
    share of the time (up to 1 s each), so one child whose ``post_stop`` hangs is killed
    early enough for its supervisors to stop gracefully. Returns True when everything
    stopped gracefully in time.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    graceful = True
    if node.is_alive:
        try:
            await node.call(_Quiesce(), timeout=max(0.1, min(2.0, timeout)))
        except RactorError:
            graceful = False
    keep = {node.id, *(child.id for child in node.children)}
    for _ in range(8):  # supervisors may restart children meanwhile: a few rounds
        actors = [a for a in all_actors() if a.is_alive and a.id not in keep]
        if not actors:
            break
        if not await _stop_levels(actors, reason, deadline):
            graceful = False
            break
    if node.is_alive:
        node.stop(reason)
        try:
            await node.wait(max(0.1, deadline - loop.time()))
        except WaitTimeout:
            graceful = False
            node.kill()
    return graceful


async def _stop_levels(actors: list[ActorRef[Any]], reason: str, deadline: float) -> bool:
    """Stop ``actors`` deepest first; kill those still running at ``deadline``."""
    loop = asyncio.get_running_loop()
    levels: dict[int, list[ActorRef[Any]]] = {}
    for actor in actors:
        depth, sup = 0, actor.supervisor
        while sup is not None and depth < 10_000:
            depth += 1
            sup = sup.supervisor
        levels.setdefault(depth, []).append(actor)
    graceful = True
    order = sorted(levels, reverse=True)
    # each level above keeps a share of the time: an actor whose post_stop hangs is killed
    # in time for its supervisors to stop gracefully, not at the deadline with them
    reserve = min(1.0, max(0.0, deadline - loop.time()) / (2 * len(order)))
    for index, depth in enumerate(order):
        level_deadline = deadline - reserve * (len(order) - 1 - index)
        level = [a for a in levels[depth] if a.is_alive]
        for actor in level:
            # unlinked first: a supervisor would stop (killing its other children) or
            # restart a child when it hears that child stop
            sup = actor.supervisor
            if sup is not None:
                actor.unlink(sup)
            actor.stop(reason)
        for actor in level:
            try:
                await actor.wait(max(0.0, level_deadline - loop.time()))
            except WaitTimeout:
                _log.warning("actor %s did not stop in time: killed", actor.id)
                actor.kill()
                graceful = False
    return graceful


def _peer_host(peer: object) -> str | None:
    """The IP of a socket's ``peername`` (None: not an IP socket); IPv4 seen on the
    dual-stack socket loses its ``::ffff:`` prefix."""
    if not isinstance(peer, tuple):
        return None
    text = str(cast("tuple[object, ...]", peer)[0])
    if text.startswith("::ffff:") and "." in text:
        return text[7:]
    return text


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
