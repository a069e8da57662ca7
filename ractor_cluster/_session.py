"""``NodeSession``: the asyncio shell around one session's protocol (docs/protocol.md §4, §7).

The protocol itself (:class:`~ractor_cluster._protocol.SessionProtocol`) turns bytes into
events and commands into bytes. The shell moves the bytes: it owns the transport, the
timers and the writes (:class:`~ractor_cluster._outbound.Outbound`), and applies the events
to this node: the peer's actors as a table of remote refs, process groups, local mailboxes,
and the NodeServer's election. Node messages (Cast, Call, CallReply) are applied as they
arrive; events that must wait (an election question, a big Spawn) go to one ordered task,
and everything received after them waits its turn. Big control messages are applied in
slices, so one peer never holds the event loop for long.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import socket
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from ractor_core import (
    Actor,
    ActorRef,
    Call,
    CallError,
    MessagingError,
    PidLifecycleEvent,
    PidSpawned,
    ProcessGroupChanged,
    RactorError,
    ReplyPortError,
    RpcReplyPort,
    SupervisionEvent,
    Timer,
    all_actors,
    demonitor_pids,
    monitor_pids,
    pg,
)
from ractor_core import GroupJoin as _GroupJoin
from ractor_core.transport import Inbox, offer, wait_room

from . import _remote_actor
from ._messages import (
    CheckSession,
    ClusterStream,
    ConnectionReady,
    NodeConnectionMode,
    SessionAuthenticated,
    UpdateSession,
    _Dial,
    _Sessions,
)
from ._outbound import FlowLimits, NodeBudget, Outbound
from ._protocol import (
    Authenticated,
    ElectionCheck,
    Event,
    Failed,
    GroupJoined,
    GroupLeft,
    PeerLimits,
    PeerNamed,
    ReadyReceived,
    SessionProtocol,
    SessionsOffered,
    SessionsRequested,
    SessionState,
    Spawned,
    Terminated,
    bounded,
)
from ._remote_actor import PeerActors
from .protocol import auth_pb2, control_pb2

if TYPE_CHECKING:
    from ._messages import NodeServerMessage

__all__ = [
    "GetAuthenticationState",
    "GetReadyState",
    "NodeSession",
    "NodeSessionMessage",
    "SessionConfig",
]

_log = logging.getLogger("ractor.cluster.session")

_READ_CHUNK = 256 * 1024
_BACKLOG_HIGH = 4096  # events waiting behind a slow one: stop reading from the socket
_BACKLOG_LOW = 1024  # ... and read again below this
_CHECK_TIMEOUT = 2.0  # the NodeServer answers election questions within this (Rust: 0.5 s)
_PARKED_HIGH = 4096  # messages held for full mailboxes: stop reading from the socket
_PARKED_LOW = 1024  # ... and read again below this
_PARKED_MAX = 65536  # held while calls of this node wait on the peer (reading goes on)
_SLICE = 0.01  # seconds of control work before the session lets other tasks run
_SLICE_CHECK = 256  # items between two looks at the clock
_closing: set[asyncio.Task[None]] = set()  # the peer tables being forgotten


@dataclass(frozen=True)
class GetAuthenticationState(Call[bool]):
    """Whether the session has authenticated its peer."""


@dataclass(frozen=True)
class GetReadyState(Call[bool]):
    """Whether both sides have sent Ready."""


@dataclass(frozen=True, slots=True)
class _PingTick:
    """Internal: time to send a Ping."""


NodeSessionMessage: TypeAlias = GetAuthenticationState | GetReadyState | _PingTick


@dataclass(frozen=True, slots=True)
class SessionConfig:
    """Everything a session needs from its NodeServer."""

    node_id: int
    is_server: bool
    cookie: str
    own: auth_pb2.NameMessage
    connection_mode: NodeConnectionMode
    handshake_timeout: float
    liveness_timeout: float | None
    limits: PeerLimits = field(default_factory=PeerLimits)
    flow: FlowLimits = field(default_factory=FlowLimits)
    budget: NodeBudget = field(default_factory=lambda: NodeBudget(FlowLimits().node_cap))
    ping_interval: tuple[float, float] = (1.0, 5.0)


class NodeSession(Actor[NodeSessionMessage, None, None]):
    """One connection to another node: handshake, sync, and message delivery both ways."""

    def __init__(
        self, config: SessionConfig, server: ActorRef[NodeServerMessage], stream: ClusterStream
    ) -> None:
        self.config = config
        self.server = server
        self.stream = stream
        self.proto = SessionProtocol(
            is_server=config.is_server, cookie=config.cookie, own=config.own,
            limits=config.limits,
        )
        self.advertised: dict[int, ActorRef[Any]] = {}  # pid -> the local actor
        self.inboxes: dict[int, Inbox] = {}  # pid -> delivery into it (made on first use)
        self.peer_actors = PeerActors(self, config.node_id)  # the peer's actors
        # messages for full local mailboxes, held in order per actor until there is room
        self.parked: dict[int, collections.deque[tuple[Any, RpcReplyPort[Any] | None]]] = {}
        self.parked_count = 0
        self.park_paused = False
        self.unparked = asyncio.Event()
        self.unparked.set()
        self.park_tasks: set[asyncio.Task[None]] = set()
        self.out: Outbound | None = None
        self.reader_task: asyncio.Task[None] | None = None  # only for the fallback read loop
        self.backlog: collections.deque[Event] = collections.deque()
        self.processor: asyncio.Task[None] | None = None
        self.paused = False
        self.lost = False
        self.timers: list[asyncio.TimerHandle] = []  # the handshake deadline
        self.ping_timer: Timer | None = None
        self.ping_due = 0.0  # when the pending ping tick should run
        self.started = time.monotonic()
        self.last_heard = self.started
        self.myself: ActorRef[NodeSessionMessage] | None = None
        self.loop = asyncio.get_running_loop()  # sessions are made by a running NodeServer
        self.stop_reason: str | None = None
        self.bytes_in = 0  # received, for metrics
        self.frames_in = 0

    @property
    def peer(self) -> auth_pb2.NameMessage | None:
        """The peer's name, once it said it."""
        return self.proto.peer

    @property
    def authenticated(self) -> bool:
        """Whether the handshake succeeded."""
        return self.proto.authenticated

    # ------------------------------------------------------------------ lifecycle

    async def pre_start(self, myself: ActorRef[NodeSessionMessage], args: None) -> None:
        """Set up the writes; a client speaks first."""
        self.myself = myself
        loop = self.loop = asyncio.get_running_loop()
        transport = self.stream.writer.transport
        flow = self.config.flow
        try:
            transport.set_write_buffer_limits(high=flow.transport_high, low=flow.transport_low)
        except (AttributeError, NotImplementedError, ValueError):
            pass
        sock = transport.get_extra_info("socket")
        if flow.socket_buffer is not None and sock is not None:
            for option in (socket.SO_SNDBUF, socket.SO_RCVBUF):
                try:
                    sock.setsockopt(socket.SOL_SOCKET, option, flow.socket_buffer)
                except OSError:
                    pass
        self.out = Outbound(
            loop,
            self.stream.writer.write,
            transport.get_write_buffer_size,
            flow,
            self.config.budget,
            self._finish,
        )
        if not self.config.is_server:
            self.out.urgent(self.proto.start())
        self.timers.append(
            loop.call_later(self.config.handshake_timeout, self._handshake_expired)
        )
        return None

    async def post_start(self, myself: ActorRef[NodeSessionMessage], state: None) -> None:
        """Start reading frames."""
        self._start_reading(myself)

    def release(self) -> None:
        """Close the connection and let go of everything tied to it (also after a kill)."""
        self.close()

    def close(self) -> None:
        """Tear the connection down (idempotent; also called by the NodeServer)."""
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()
        if self.ping_timer is not None:
            self.ping_timer.cancel()
        if self.myself is not None:  # (no-ops unless it was elected and monitoring)
            demonitor_pids(self.myself.id)
            pg.demonitor_scope(pg.ALL_SCOPES_NOTIFICATION, self.myself.id)
        reason = self.stop_reason or "session_closed"
        self.proto.close(reason)
        if not self.peer_actors.closed:
            # the peer's actors stop in slices (there may be hundreds of thousands); calls
            # waiting on them fail now
            forget = self.loop.create_task(
                self.peer_actors.close_in_slices(f"connection_lost: {reason}")
            )
            _closing.add(forget)
            forget.add_done_callback(_closing.discard)
        for task in (self.reader_task, self.processor):
            if task is not None and not task.done() and task is not asyncio.current_task():
                task.cancel()
        self.backlog.clear()
        # messages held for full mailboxes were received: they are still delivered (the
        # tasks offering them end when their actor has room for the last, or stops)
        if self.out is not None and not self.out.closed:
            unsent = self.out.close()
            if unsent:
                _log.info("session %s: %d casts queued for %s were not sent: the connection "
                          "closed", self.config.node_id, unsent, self._peer_label())
        self.stream.close()
        transport = self.stream.writer.transport
        if transport.get_write_buffer_size():
            # a graceful close waits for the buffer to drain: a peer that no longer reads
            # would keep the socket and its buffer forever
            self.loop.call_later(2.0, transport.abort)

    def shutdown(self) -> None:
        """End the session because this node stops: the peer is told (``shutdown``)."""
        if self.stop_reason is None:
            self.stop_reason = "shutdown"
            out = self.out
            if self.proto.authenticated and out is not None and not out.closed:
                out.urgent(self.proto.goodbye())
            _log.info("session %s with %s ends: shutdown", self.config.node_id,
                      self._peer_label())
        if self.myself is not None:
            self.myself.stop("shutdown")

    def _closed_reason(self) -> str:
        """Why the connection closed: the peer said goodbye, or it just went."""
        return "peer_stopped" if self.proto.peer_stopping else "channel_closed"

    def _finish(self, reason: str) -> None:
        """Stop the session with ``reason`` (from the reader, the writer or a timer)."""
        if self.stop_reason is None:
            self.stop_reason = reason
            _log.info("session %s with %s ends: %s", self.config.node_id, self._peer_label(),
                      reason)
        if self.myself is not None:
            self.myself.stop(reason)

    def _peer_label(self) -> str:
        peer = self.proto.peer
        if peer is not None and peer.name:
            return bounded(peer.name)
        return self.stream.peer_label

    def _handshake_expired(self) -> None:
        if not self.proto.authenticated:
            self._finish("handshake_timeout")

    # ------------------------------------------------------------------ outgoing

    def write(self, frame: bytes) -> None:
        """Write a control frame or a reply now."""
        out = self.out
        if out is not None:
            out.urgent(frame)

    async def handle(
        self, myself: ActorRef[NodeSessionMessage], message: NodeSessionMessage, state: None
    ) -> None:
        """Answer state queries and send Pings."""
        match message:
            case GetAuthenticationState():
                message.reply.send(self.proto.authenticated)
            case GetReadyState():
                message.reply.send(self.proto.is_ready)
            case _PingTick():
                self._ping(myself)

    def _ping(self, myself: ActorRef[NodeSessionMessage]) -> None:
        liveness = self.config.liveness_timeout
        now = time.monotonic()
        if self.paused or self.park_paused:
            self.last_heard = now  # not reading is our doing, not the peer's
        else:
            late = now - self.ping_due
            if late > 0:
                # this tick is late: this node's loop (or this actor) was held up, and the
                # frames the peer sent meanwhile are not read yet; that time is not the
                # peer's silence
                self.last_heard = min(now, self.last_heard + late)
        if (not self.paused and not self.park_paused and liveness is not None
                and now - self.last_heard > liveness):
            self._finish("liveness_timeout")
            return
        if self.proto.state is SessionState.OPEN:
            self.write(self.proto.ping(time.monotonic() - self.started))
        self._schedule_ping(myself)

    def _schedule_ping(self, myself: ActorRef[NodeSessionMessage]) -> None:
        low, high = self.config.ping_interval
        delay = random.uniform(low, high)
        liveness = self.config.liveness_timeout
        if liveness is not None:
            delay = min(delay, max(liveness / 3, 0.05))
        self.ping_due = time.monotonic() + delay
        self.ping_timer = myself.send_after(delay, _PingTick)

    def handle_event_now(self, event: SupervisionEvent) -> bool:
        """Write Spawn / Terminate / PgJoin / PgLeave the moment the local change happens.

        Synchronous (the runtime's hook), so these frames go out before any message the
        changed actor sends to a remote actor afterwards, as Rust's ordering gives.
        """
        if isinstance(event, (PidLifecycleEvent, ProcessGroupChanged)):
            self._forward(event)
            return True
        return False

    async def handle_supervisor_evt(
        self, myself: ActorRef[NodeSessionMessage], event: SupervisionEvent, state: None
    ) -> None:
        """Forward local changes that could not be forwarded at once."""
        if isinstance(event, (PidLifecycleEvent, ProcessGroupChanged)):
            self._forward(event)

    def _forward(self, event: PidLifecycleEvent | ProcessGroupChanged) -> None:
        proto = self.proto
        if self.stop_reason is not None or proto.state is not SessionState.OPEN:  # not elected
            return
        if isinstance(event, PidLifecycleEvent):
            ref = event.event.actor
            if not ref.id.is_local:
                return
            pid = ref.id.pid
            if isinstance(event.event, PidSpawned):
                if ref.is_remotable and pid not in self.advertised:
                    self.advertised[pid] = ref
                    self.write(proto.spawn([(pid, ref.name)]))
            elif pid in self.advertised:
                del self.advertised[pid]
                self.inboxes.pop(pid, None)
                self.write(proto.terminate([pid]))
        else:
            change = event.change
            actors = [(a.id.pid, a.name) for a in change.actors
                      if a.id.is_local and a.is_remotable]
            if not actors:
                return
            if isinstance(change, _GroupJoin):
                self.write(proto.pg_join(change.scope, change.group, actors))
            else:
                self.write(proto.pg_leave(change.scope, change.group, actors))

    # ------------------------------------------------------------------ incoming

    def _start_reading(self, myself: ActorRef[NodeSessionMessage]) -> None:
        """Take over the stream's transport, so bytes are handled as they arrive.

        Streams whose transport cannot change protocol are read by a task instead.
        """
        stream: Any = self.stream.reader  # its private buffer: bytes it already received
        transport: Any = self.stream.writer.transport
        try:
            leftover = bytes(stream._buffer)
            eof = bool(stream._eof)
            transport.set_protocol(_Inbound(self))
        except (AttributeError, NotImplementedError):
            self.reader_task = self.loop.create_task(self._read_loop(myself))
            return
        stream._buffer.clear()
        # the stream may have paused the transport (its buffer was full): it is ours now
        transport.resume_reading()
        if leftover:
            self._on_data(leftover)
        if eof:
            self._on_lost(None)

    def _on_data(self, data: bytes) -> None:
        if self.stop_reason is not None:
            return
        self.last_heard = time.monotonic()
        self.bytes_in += len(data)
        proto = self.proto
        events = proto.receive_data(data)
        self.frames_in += len(events)
        answer = proto.data_to_send()
        if answer:
            self.write(answer)
        if not events:
            return
        backlog = self.backlog
        if not backlog and self.processor is None:
            on_node = self._on_node
            for i, event in enumerate(events):
                if type(event) is tuple:  # a node message: the hot path
                    on_node(*event)
                    continue
                backlog.extend(events[i:])
                break
        else:
            backlog.extend(events)
        if backlog:
            if self.processor is None and self.myself is not None:
                self.processor = self.loop.create_task(self._process())
            if len(backlog) > _BACKLOG_HIGH and not self.paused:
                self.paused = True
                self._pause_reading()

    def _on_lost(self, exc: BaseException | None) -> None:
        if exc is not None:
            _log.info("session %s: connection lost: %r", self.config.node_id, exc)
        if self.processor is None:
            self._finish(self._closed_reason())
        else:
            self.lost = True  # after the events already received

    async def _process(self) -> None:
        backlog = self.backlog
        try:
            while backlog and self.stop_reason is None:
                event = backlog.popleft()
                if type(event) is tuple:
                    self._on_node(*event)
                else:
                    await self._on_event(event)
                if self.paused and len(backlog) < _BACKLOG_LOW:
                    self.paused = False
                    self._resume_reading()
            if self.lost:
                self._finish(self._closed_reason())
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("session %s: unexpected error", self.config.node_id)
            self._finish("session_error")
        finally:
            self.processor = None

    async def _read_loop(self, myself: ActorRef[NodeSessionMessage]) -> None:
        """Read the stream with a task (for transports that cannot change protocol)."""
        stream = self.stream.reader
        reason = ""
        try:
            while myself.is_alive and self.stop_reason is None:
                if self.park_paused:  # back-pressure: read again once mailboxes make room
                    await self.unparked.wait()
                    continue
                data = await stream.read(_READ_CHUNK)
                if not data:
                    break
                self.last_heard = time.monotonic()
                self.bytes_in += len(data)
                events = self.proto.receive_data(data)
                self.frames_in += len(events)
                answer = self.proto.data_to_send()
                if answer:
                    self.write(answer)
                for event in events:
                    if type(event) is tuple:
                        self._on_node(*event)
                    else:
                        await self._on_event(event)
                    if self.stop_reason is not None:
                        return
        except (ConnectionError, OSError) as exc:
            _log.info("session %s: connection error: %r", self.config.node_id, exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            reason = "session_error"
            _log.exception("session %s: unexpected error while reading", self.config.node_id)
        self._finish(reason or self._closed_reason())

    def _pause_reading(self) -> None:
        if self.reader_task is None:
            transport: Any = self.stream.writer.transport
            transport.pause_reading()

    def _resume_reading(self) -> None:
        if (self.reader_task is None and not self.paused and not self.park_paused
                and self.stop_reason is None):
            transport: Any = self.stream.writer.transport
            transport.resume_reading()

    async def _slice(self, started: float) -> float:
        """Let other tasks run if this slice of control work is long enough."""
        now = time.monotonic()
        if now - started < _SLICE:
            return started
        await asyncio.sleep(0)
        return time.monotonic()

    # -- events

    async def _on_event(self, event: Event) -> None:
        if isinstance(event, Spawned):
            await self._on_spawned(event.actors)
        elif isinstance(event, Terminated):
            await self._on_terminated(event.pids)
        elif isinstance(event, (GroupJoined, GroupLeft)):
            await self._on_group(event)
        elif isinstance(event, ReadyReceived):
            if event.duplicate:
                _log.warning("session %s: duplicate Ready", self.config.node_id)
            self._check_ready()
        elif isinstance(event, PeerNamed):
            if self.myself is not None:
                self.server.cast(UpdateSession(self.myself.id, event.peer))
        elif isinstance(event, ElectionCheck):
            await self._on_check(event.peer)
        elif isinstance(event, Authenticated):
            await self._on_authenticated()
        elif isinstance(event, SessionsRequested):
            await self._answer_enumeration(event.asker)
        elif isinstance(event, SessionsOffered):
            if self.config.connection_mode is NodeConnectionMode.TRANSITIVE:
                await self._dial_known(event.sessions)
        elif isinstance(event, Failed):
            _log.warning("session %s (%s): %s", self.config.node_id,
                         self.stream.peer_label, event.detail)
            self._finish(event.reason)

    # -- authentication

    async def _on_check(self, peer: auth_pb2.NameMessage) -> None:
        assert self.myself is not None
        try:
            status = await self.server.call(
                CheckSession(self.myself.id, peer), timeout=_CHECK_TIMEOUT
            )
        except RactorError as exc:
            self._finish(f"auth_fail: the election check failed ({exc})")
            return
        events = self.proto.checked(status)
        answer = self.proto.data_to_send()
        if answer:
            self.write(answer)
        for event in events:
            await self._on_event(event)

    async def _on_authenticated(self) -> None:
        assert self.myself is not None
        myself = self.myself
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()
        try:
            elected = await self.server.call(
                SessionAuthenticated(myself.id), timeout=_CHECK_TIMEOUT
            )
        except RactorError as exc:
            self._finish(f"session_election_lost: {exc}")
            return
        if not elected or self.proto.state is not SessionState.AUTHENTICATED:
            self._finish("session_election_lost")
            return
        self.proto.elected()
        proto = self.proto
        self._schedule_ping(myself)
        if self.config.connection_mode is NodeConnectionMode.TRANSITIVE:
            self.write(proto.enumerate_sessions())
        # Monitors first, then the snapshot: an actor may be announced twice, never missed.
        monitor_pids(myself)
        pg.monitor_scope(pg.ALL_SCOPES_NOTIFICATION, myself)
        local = [a for a in all_actors() if a.is_alive and a.is_remotable]
        if local:
            self.advertised.update((a.id.pid, a) for a in local)
            self.write(proto.spawn([(a.id.pid, a.name) for a in local]))
        for scope, group in pg.which_scopes_and_groups():
            members = [(a.id.pid, a.name) for a in pg.get_scoped_local_members(scope, group)
                       if a.is_remotable]
            if members:
                self.write(proto.pg_join(scope, group, members))
        self.write(proto.ready())
        self._check_ready()

    def _check_ready(self) -> None:
        if self.proto.is_ready and self.myself is not None:
            self.server.cast(ConnectionReady(self.myself.id))

    # -- the peer's actors and groups (in slices)

    def _over(self, what: str, limit: int) -> None:
        _log.warning("session %s (%s): the peer advertised more than %d %s",
                     self.config.node_id, self._peer_label(), limit, what)
        self._finish("limit_exceeded")

    def _name_of(self, actor: control_pb2.Actor) -> str | bool | None:
        """The actor's advertised name; False when it is over the limit."""
        if not actor.HasField("name"):
            return None
        name = actor.name
        if len(name) > self.config.limits.max_name_length:
            _log.warning("session %s (%s): an actor name over %d characters: %r",
                         self.config.node_id, self._peer_label(),
                         self.config.limits.max_name_length, bounded(name))
            self._finish("limit_exceeded")
            return False
        return name

    async def _refs(self, actors: Any) -> list[ActorRef[Any]] | None:
        """The refs of advertised actors, made in slices; None when the session ended."""
        table = self.peer_actors
        limit = self.config.limits.max_remote_actors
        refs: list[ActorRef[Any]] = []
        started = time.monotonic()
        for i, actor in enumerate(actors):
            if i % _SLICE_CHECK == _SLICE_CHECK - 1:
                started = await self._slice(started)
                if self.stop_reason is not None:
                    return None
            ref = table.get(actor.pid)
            if ref is None:
                if len(table) >= limit:
                    self._over("actors", limit)
                    return None
                name = self._name_of(actor)
                if name is False:
                    return None
                ref = table.actor(actor.pid, name if isinstance(name, str) else None)
            refs.append(ref)
        return refs

    async def _on_spawned(self, actors: Any) -> None:
        await self._refs(actors)

    async def _on_terminated(self, pids: Any) -> None:
        table = self.peer_actors
        started = time.monotonic()
        for i, pid in enumerate(pids):
            if i % _SLICE_CHECK == _SLICE_CHECK - 1:
                started = await self._slice(started)
                if self.stop_reason is not None:
                    return
            table.terminate(pid, "remote_stopped")

    async def _on_group(self, event: GroupJoined | GroupLeft) -> None:
        table = self.peer_actors
        if isinstance(event, GroupJoined):
            refs = await self._refs(event.actors)
            if refs is None:
                return
            limit = self.config.limits.max_group_memberships
            started = time.monotonic()
            for i in range(0, len(refs), _SLICE_CHECK):
                if table.memberships + min(_SLICE_CHECK, len(refs) - i) > limit:
                    self._over("group memberships", limit)
                    return
                table.join_group(event.scope, event.group, refs[i:i + _SLICE_CHECK])
                started = await self._slice(started)
                if self.stop_reason is not None:
                    return
        else:
            known = [r for r in (table.get(a.pid) for a in event.actors) if r is not None]
            if known:
                table.leave_group(event.scope, event.group, known)

    # -- node messages

    def _on_node(
        self,
        arm: str,
        to: int,
        what: bytes,
        variant: str,
        tag: int,
        timeout_ms: int | None,
        metadata: bytes | None,
    ) -> None:
        if arm == "cast":
            inbox = self.inboxes.get(to) or self._inbox(to)
            if inbox is None:
                return
            try:
                msg = inbox.decode_cast(variant, what, metadata)
            except Exception as exc:  # undecodable: dropped, as in Rust
                _log.debug("dropped a cast to pid %s: %s", to, bounded(str(exc), 200))
                return
            if metadata is not None:  # (tracing)
                _received(msg, metadata, arm, variant)
            if to not in self.parked:
                try:
                    if inbox.offer_cast(msg):
                        return
                except MessagingError as exc:  # the actor stopped: dropped, as in Rust
                    _log.debug("dropped a cast to pid %s: %s", to, bounded(str(exc), 200))
                    return
            self._hold(to, inbox, msg, None)
        elif arm == "call":
            inbox = self.inboxes.get(to) or self._inbox(to)
            if inbox is None:
                return
            try:
                msg = inbox.decode_call(variant, what, metadata)
                encode = msg.encode_reply
            except Exception as exc:  # undecodable: no reply, as in Rust
                _log.debug("dropped a call to pid %s: %s", to, bounded(str(exc), 200))
                return
            if metadata is not None:  # (tracing)
                _received(msg, metadata, arm, variant)
            timeout = None if timeout_ms is None else timeout_ms / 1000
            port = _WirePort(self, to, tag, timeout, encode)
            if to not in self.parked:
                try:
                    if inbox.offer(msg, port):
                        return
                except MessagingError as exc:  # the actor stopped: no reply, as in Rust
                    _log.debug("dropped a call to pid %s: %s", to, bounded(str(exc), 200))
                    return
            self._hold(to, inbox, msg, port)
        elif arm == "reply":
            self.peer_actors.reply(to, tag, what)

    def _inbox(self, to: int) -> Inbox | None:
        """The delivery path into advertised actor ``to`` (None: not advertised)."""
        target = self.advertised.get(to)
        if target is None:
            return None
        try:
            inbox = Inbox(target)
        except MessagingError:
            return None
        self.inboxes[to] = inbox
        return inbox

    def _hold(
        self, to: int, inbox: Inbox, msg: Any, port: RpcReplyPort[Any] | None
    ) -> None:
        """Hold a message (in order) while the actor's bounded mailbox is full."""
        target = inbox.ref
        held = self.parked.get(to)
        if held is None:
            held = self.parked[to] = collections.deque()
            task = self.loop.create_task(self._unpark(to, target, held))
            self.park_tasks.add(task)
            task.add_done_callback(self.park_tasks.discard)
        held.append((msg, port))
        self.parked_count += 1
        if self.parked_count > _PARKED_HIGH and not self.park_paused:
            if not self.peer_actors.pending:
                # back-pressure: the peer's writes wait in TCP until the mailboxes have room
                self.park_paused = True
                self.unparked.clear()
                self._pause_reading()
            elif self.parked_count > _PARKED_MAX:
                # calls of this node wait for replies on this connection, so it cannot stop
                # reading (an actor with a full mailbox may be one of the callers)
                _log.warning("session %s (%s): %d messages held for full mailboxes while "
                             "calls wait on the peer", self.config.node_id,
                             self._peer_label(), self.parked_count)
                self._finish("limit_exceeded")

    def calls_waiting(self) -> None:
        """A local actor now waits for a reply from the peer: read, even with messages held
        (the caller may be the very actor whose mailbox is full)."""
        if self.park_paused:
            self.park_paused = False
            self.unparked.set()
            self._resume_reading()

    async def _unpark(
        self,
        to: int,
        target: ActorRef[Any],
        held: collections.deque[tuple[Any, RpcReplyPort[Any] | None]],
    ) -> None:
        """Offer the held messages of one actor as its mailbox makes room."""
        try:
            while held:
                await wait_room(target)
                while held:
                    msg, port = held[0]
                    if not offer(target, msg, port):
                        break
                    held.popleft()
                    self._unparked(1)
        except MessagingError:
            _log.debug("pid %s stopped: %d held messages dropped, as for any stopped actor",
                       to, len(held))
            self._unparked(len(held))
            held.clear()
        finally:
            if self.parked.get(to) is held:
                del self.parked[to]

    def _unparked(self, n: int) -> None:
        self.parked_count -= n
        if self.park_paused and self.parked_count < _PARKED_LOW:
            self.park_paused = False
            self.unparked.set()
            self._resume_reading()

    # -- transitive mode

    async def _answer_enumeration(self, asker: auth_pb2.NameMessage) -> None:
        try:
            sessions = await self.server.call(_Sessions(), timeout=_CHECK_TIMEOUT)
        except RactorError:
            return  # no answer, as in Rust
        known = [name for _, name in sessions
                 if name.name != asker.name and name.connection_string != asker.connection_string]
        self.write(self.proto.sessions(known))

    async def _dial_known(self, known: Any) -> None:
        try:
            sessions = await self.server.call(_Sessions(), timeout=_CHECK_TIMEOUT)
        except RactorError:
            return
        have = {n.name for _, n in sessions} | {n.connection_string for _, n in sessions}
        own = self.config.own
        for entry in known:
            if entry.name == own.name or entry.connection_string == own.connection_string:
                continue
            if entry.name in have or entry.connection_string in have:
                continue
            if entry.connection_string:
                try:
                    self.server.cast(_Dial(entry.connection_string))
                except MessagingError:
                    return


def _received(msg: Any, metadata: bytes, arm: str, variant: str) -> None:
    """A message came with metadata: the receive hook sees it (tracing), if any."""
    hook = _remote_actor.receive_hook
    if hook is not None:
        try:
            hook(msg, metadata, arm, variant)
        except Exception:
            _log.exception("the receive hook failed")


class _WirePort(RpcReplyPort[Any]):
    """The reply port of a call from the peer: the reply is encoded by the call's message
    and written as a CallReply frame; past ``timeout_ms`` nothing is sent (as in Rust), and
    a port dropped unanswered sends nothing (the caller times out, as with Rust)."""

    __slots__ = ("_answered", "_deadline", "_encode", "_session", "_tag", "_timeout", "_to")

    def __init__(
        self,
        session: NodeSession,
        to: int,
        tag: int,
        timeout: float | None,
        encode: Any,
    ) -> None:
        self._session = session
        self._to = to
        self._tag = tag
        self._timeout = timeout
        self._deadline = None if timeout is None else session.loop.time() + timeout
        self._encode = encode
        self._answered = False

    @property
    def timeout(self) -> float | None:
        """The caller's timeout in seconds (None: it waits without limit)."""
        return self._timeout

    @property
    def is_closed(self) -> bool:
        """Whether the caller no longer waits (answered, past its timeout, or disconnected)."""
        return self._answered or self._too_late()

    def send(self, value: Any) -> bool:
        """Encode the reply and write it to the peer; False when nobody waits any more.

        Raises:
            ReplyPortError: the port was already answered.
            SerializationError: the value does not fit the call's reply type.
        """
        if self._answered:
            raise ReplyPortError("this reply port was already answered; a port replies once")
        data = self._encode(value)
        self._answered = True
        if self._too_late():
            return False
        session = self._session
        session.write(session.proto.reply(self._to, self._tag, bytes(data)))
        return True

    def _too_late(self) -> bool:
        # a reply now would be too late, or have no connection to go on
        session = self._session
        out = session.out
        if session.stop_reason is not None or out is None or out.closed:
            return True
        return self._deadline is not None and session.loop.time() > self._deadline

    def _fail(self, error: CallError) -> None:
        self._answered = True  # no CallReply: the protocol has no error frame

    def __repr__(self) -> str:
        return f"<RpcReplyPort to {self._to} tag {self._tag} (remote caller)>"


class _Inbound(asyncio.Protocol):
    """The transport's protocol once a session owns the connection: bytes go straight in."""

    def __init__(self, session: NodeSession) -> None:
        self.session = session

    def data_received(self, data: bytes) -> None:
        """Frames, as they arrive."""
        self.session._on_data(data)

    def eof_received(self) -> bool | None:
        """The peer closed its side: the session ends (after the frames already read)."""
        self.session._on_lost(None)
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        """The connection is gone."""
        self.session._on_lost(exc)

    def pause_writing(self) -> None:
        """The transport holds more than its high-water mark."""
        out = self.session.out
        if out is not None:
            out.pause_writing()

    def resume_writing(self) -> None:
        """The transport drained below its low-water mark."""
        out = self.session.out
        if out is not None:
            out.resume_writing()
