"""``NodeSession``: one connection to another node (PROTOCOL.md sections 3-5).

The session is an actor. Its reader task takes the frames in arrival order and handles each
before the next: the handshake, control messages (Spawn, Terminate, PgJoin, ...) and the
messages for local actors. The actor itself writes what this node has to say: the initial
sync, live Spawn / Terminate / PgJoin / PgLeave as local actors change, and Pings.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from google.protobuf.message import DecodeError

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
from ractor_core.transport import SerializedCall, SerializedCast, decode, offer, wait_room

from ._auth import ClientHandshake, ServerHandshake
from ._errors import FrameError
from ._framing import FrameReader, FrameWriter
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
from ._remote_actor import PeerActors
from ._wire import NodeFrame, decode_node, encode_reply
from .protocol import auth_pb2, control_pb2, meta_pb2, node_pb2

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
_BACKLOG_HIGH = 4096  # frames waiting behind a slow one: stop reading from the socket
_BACKLOG_LOW = 1024  # ... and read again below this
_CHECK_TIMEOUT = 2.0  # the NodeServer answers election questions within this (Rust: 0.5 s)
_PARKED_HIGH = 4096  # messages held for full mailboxes: stop reading from the socket
_PARKED_LOW = 1024  # ... and read again below this


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
    max_inbound_frame_size: int
    handshake_timeout: float
    liveness_timeout: float | None
    ping_interval: tuple[float, float] = (1.0, 5.0)
    max_outbound_buffer: int = 64 * 1024 * 1024  # unsent bytes before the peer counts as stuck


class NodeSession(Actor[NodeSessionMessage, None, None]):
    """One connection to another node: handshake, sync, and message delivery both ways."""

    def __init__(
        self, config: SessionConfig, server: ActorRef[NodeServerMessage], stream: ClusterStream
    ) -> None:
        self.config = config
        self.server = server
        self.stream = stream
        self.own = config.own
        self.peer: auth_pb2.NameMessage | None = None
        self.handshake: ClientHandshake | ServerHandshake
        if config.is_server:
            self.handshake = ServerHandshake(config.cookie, config.own)
        else:
            self.handshake = ClientHandshake(config.cookie, config.own)
        self.authenticated = False
        self.elected = False
        self.sent_ready = False
        self.got_ready = False
        self.advertised: dict[int, ActorRef[Any]] = {}  # pid -> the local actor
        self.peer_actors = PeerActors(self, config.node_id)  # the peer's actors
        # messages for full local mailboxes, held in order per actor until there is room
        self.parked: dict[int, collections.deque[tuple[Any, RpcReplyPort[Any] | None]]] = {}
        self.parked_count = 0
        self.park_paused = False
        self.unparked = asyncio.Event()
        self.unparked.set()
        self.park_tasks: set[asyncio.Task[None]] = set()
        self.writer: FrameWriter | None = None
        self.reader_task: asyncio.Task[None] | None = None  # only for the fallback read loop
        self.frames = FrameReader(config.max_inbound_frame_size)
        self.backlog: collections.deque[bytes] = collections.deque()
        self.processor: asyncio.Task[None] | None = None
        self.paused = False
        self.lost = False
        self.timers: list[asyncio.TimerHandle] = []  # the handshake deadline
        self.ping_timer: Timer | None = None
        self.started = time.monotonic()
        self.last_heard = self.started
        self.myself: ActorRef[NodeSessionMessage] | None = None
        self.loop = asyncio.get_running_loop()  # sessions are made by a running NodeServer
        self.stop_reason: str | None = None

    # ------------------------------------------------------------------ lifecycle

    async def pre_start(self, myself: ActorRef[NodeSessionMessage], args: None) -> None:
        """Set up the writer; a client speaks first."""
        self.myself = myself
        loop = self.loop = asyncio.get_running_loop()
        transport = self.stream.writer.transport
        self.writer = FrameWriter(
            loop,
            self.stream.writer.write,
            buffered=transport.get_write_buffer_size,
            limit=self.config.max_outbound_buffer,
            on_failure=self._finish,
        )
        if isinstance(self.handshake, ClientHandshake):
            self._send(meta_pb2.NetworkMessage(auth=self.handshake.start()))
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
        if self.myself is not None and self.elected:
            demonitor_pids(self.myself.id)
            pg.demonitor_scope(pg.ALL_SCOPES_NOTIFICATION, self.myself.id)
        self.peer_actors.close(self.stop_reason or "session_closed")
        for task in (self.reader_task, self.processor, *self.park_tasks):
            if task is not None and not task.done() and task is not asyncio.current_task():
                task.cancel()
        self.backlog.clear()
        if self.parked_count:
            _log.info("session %s: %d messages for full mailboxes were not delivered: the "
                      "connection to %s closed", self.config.node_id, self.parked_count,
                      self._peer_label())
            self.parked.clear()
            self.parked_count = 0
        if self.writer is not None:
            self.writer.close()
        self.stream.close()
        transport = self.stream.writer.transport
        if transport.get_write_buffer_size():
            # a graceful close waits for the buffer to drain: a peer that no longer reads
            # would keep the socket and its buffer forever
            self.loop.call_later(2.0, transport.abort)

    def _finish(self, reason: str) -> None:
        """Stop the session with ``reason`` (from the reader or a timer)."""
        if self.stop_reason is None:
            self.stop_reason = reason
            _log.info("session %s with %s ends: %s", self.config.node_id, self._peer_label(),
                      reason)
        if self.myself is not None:
            self.myself.stop(reason)

    def _peer_label(self) -> str:
        if self.peer is not None and self.peer.name:
            return self.peer.name
        return self.stream.peer_label

    def _handshake_expired(self) -> None:
        if not self.authenticated:
            self._finish("handshake_timeout")

    # ------------------------------------------------------------------ outgoing

    def _send(self, msg: meta_pb2.NetworkMessage) -> None:
        if self.writer is not None:
            self.writer.send(msg.SerializeToString())

    def send_frame(self, payload: bytes) -> None:
        """Queue one encoded NetworkMessage (the remote actors' path)."""
        writer = self.writer
        if writer is not None:
            writer.send(payload)

    def _control(self, **kwargs: Any) -> None:
        self._send(meta_pb2.NetworkMessage(control=control_pb2.ControlMessage(**kwargs)))

    async def handle(
        self, myself: ActorRef[NodeSessionMessage], message: NodeSessionMessage, state: None
    ) -> None:
        """Answer state queries and send Pings."""
        match message:
            case GetAuthenticationState():
                message.reply.send(self.authenticated)
            case GetReadyState():
                message.reply.send(self.sent_ready and self.got_ready)
            case _PingTick():
                self._ping(myself)

    def _ping(self, myself: ActorRef[NodeSessionMessage]) -> None:
        liveness = self.config.liveness_timeout
        if liveness is not None and time.monotonic() - self.last_heard > liveness:
            self._finish("liveness_timeout")
            return
        uptime = time.monotonic() - self.started
        ping = control_pb2.Ping()
        ping.timestamp.seconds = int(uptime)
        ping.timestamp.nanos = int((uptime % 1) * 1e9)
        self._control(ping=ping)
        self._schedule_ping(myself)

    def _schedule_ping(self, myself: ActorRef[NodeSessionMessage]) -> None:
        low, high = self.config.ping_interval
        delay = random.uniform(low, high)
        liveness = self.config.liveness_timeout
        if liveness is not None:
            delay = min(delay, max(liveness / 3, 0.05))
        self.ping_timer = myself.send_after(delay, _PingTick)

    def handle_event_now(self, event: SupervisionEvent) -> bool:
        """Write Spawn / Terminate / PgJoin / PgLeave the moment the local change happens.

        Synchronous (the runtime's hook), so these frames go out before any message the
        changed actor sends through a remote actor afterwards, as Rust's ordering gives.
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
        if not self.elected or self.stop_reason is not None:
            return
        if isinstance(event, PidLifecycleEvent):
            ref = event.event.actor
            if not ref.id.is_local:
                return
            pid = ref.id.pid
            if isinstance(event.event, PidSpawned):
                if ref.is_remotable and pid not in self.advertised:
                    self.advertised[pid] = ref
                    self._control(spawn=control_pb2.Spawn(actors=[_actor_msg(ref)]))
            elif pid in self.advertised:
                del self.advertised[pid]
                self._control(terminate=control_pb2.Terminate(ids=[pid]))
        elif isinstance(event, ProcessGroupChanged):
            change = event.change
            actors = [_actor_msg(a) for a in change.actors if a.id.is_local and a.is_remotable]
            if not actors:
                return
            if isinstance(change, _GroupJoin):
                join = control_pb2.PgJoin(group=change.group, scope=change.scope, actors=actors)
                self._control(pg_join=join)
            else:
                leave = control_pb2.PgLeave(group=change.group, scope=change.scope, actors=actors)
                self._control(pg_leave=leave)

    # ------------------------------------------------------------------ incoming

    def _start_reading(self, myself: ActorRef[NodeSessionMessage]) -> None:
        """Take over the stream's transport, so frames are handled as they arrive.

        Node frames (casts, calls, replies) are handled right in ``data_received``; frames
        that need to wait for something (the handshake, control messages) go to a processor
        task, and every frame after them waits its turn: arrival order is kept. Streams whose
        transport cannot change protocol are read by a task instead.
        """
        self.frames = FrameReader(self.config.max_inbound_frame_size)
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
        if leftover:
            self._on_data(leftover)
        if eof:
            self._on_lost(None)

    def _on_data(self, data: bytes) -> None:
        if self.stop_reason is not None:
            return
        self.last_heard = time.monotonic()
        try:
            frames = self.frames.feed(data)
        except FrameError as exc:
            self._read_failed("frame_read_error", exc)
            return
        backlog = self.backlog
        if not backlog and self.processor is None:
            for i, payload in enumerate(frames):
                if self.stop_reason is not None:
                    return
                if payload[:1] == b"\x12" and self.authenticated:  # the hot path
                    frame = decode_node(payload)
                    if frame is not None:
                        self._on_node(*frame)
                        continue
                backlog.extend(frames[i:])
                break
        else:
            backlog.extend(frames)
        if backlog:
            if self.processor is None and self.myself is not None:
                self.processor = self.loop.create_task(self._process(self.myself))
            if len(backlog) > _BACKLOG_HIGH and not self.paused:
                self.paused = True
                transport: Any = self.stream.writer.transport
                transport.pause_reading()
        elif self.frames.failed:
            self._read_failed("frame_read_error", None)

    def _on_lost(self, exc: BaseException | None) -> None:
        if exc is not None:
            _log.info("session %s: connection lost: %r", self.config.node_id, exc)
        if self.processor is None:
            self._finish("channel_closed")
        else:
            self.lost = True  # after the frames already received

    def _read_failed(self, reason: str, exc: BaseException | None) -> None:
        if exc is not None:
            _log.warning("session %s: %s", self.config.node_id, exc)
        self._finish(reason)

    async def _process(self, myself: ActorRef[NodeSessionMessage]) -> None:
        backlog = self.backlog
        try:
            while backlog and self.stop_reason is None:
                payload = backlog.popleft()
                failure = await self._handle_payload(myself, payload)
                if failure is not None:
                    self._finish(failure)
                    return
                if self.paused and len(backlog) < _BACKLOG_LOW:
                    self.paused = False
                    if not self.park_paused:
                        transport: Any = self.stream.writer.transport
                        transport.resume_reading()
            if self.frames.failed:
                self._read_failed("frame_read_error", None)
            elif self.lost:
                self._finish("channel_closed")
        except DecodeError as exc:
            self._read_failed("frame_read_error", exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            _log.exception("session %s: unexpected error while reading", self.config.node_id)
            self._finish("session_error")
        finally:
            self.processor = None

    async def _handle_payload(
        self, myself: ActorRef[NodeSessionMessage], payload: bytes
    ) -> str | None:
        """Handle one frame in full; return why the session must end, or None."""
        if payload[:1] == b"\x12":  # NetworkMessage.node
            if not self.authenticated:
                _log.warning("session %s: a node message before authentication",
                             self.config.node_id)
                return "message_before_authentication"
            frame = decode_node(payload)
            if frame is not None:
                self._on_node(*frame)
                return None
        msg = meta_pb2.NetworkMessage.FromString(payload)
        which = msg.WhichOneof("message")
        if which == "node":
            self._on_node(*_node_frame(msg.node))
        elif which == "control":
            if not self.authenticated:
                _log.warning("session %s: a control message before authentication",
                             self.config.node_id)
                return "message_before_authentication"
            await self._on_control(myself, msg.control)
        elif which == "auth":
            await self._on_auth(myself, msg.auth)
        elif payload:
            _log.warning("session %s: a frame with no known message (%d bytes)",
                         self.config.node_id, len(payload))
            return "unknown_message"
        return None

    async def _read_loop(self, myself: ActorRef[NodeSessionMessage]) -> None:
        """Read the stream with a task (for transports that cannot change protocol)."""
        reader = self.frames
        stream = self.stream.reader
        reason = "channel_closed"
        try:
            while myself.is_alive and self.stop_reason is None:
                if self.park_paused:  # back-pressure: read again once mailboxes make room
                    await self.unparked.wait()
                    continue
                data = await stream.read(_READ_CHUNK)
                if not data:
                    break
                self.last_heard = time.monotonic()
                for payload in reader.feed(data):
                    failure = await self._handle_payload(myself, payload)
                    if failure is not None:
                        self._finish(failure)
                        return
                    if self.stop_reason is not None:
                        return
                if reader.failed:
                    reader.feed(b"")  # raises the frame error after the good frames
        except FrameError as exc:
            reason = "frame_read_error"
            _log.warning("session %s: %s", self.config.node_id, exc)
        except DecodeError as exc:
            reason = "frame_read_error"
            _log.warning("session %s: malformed protobuf frame: %s", self.config.node_id, exc)
        except (ConnectionError, OSError) as exc:
            reason = "channel_closed"
            _log.info("session %s: connection error: %r", self.config.node_id, exc)
        except asyncio.CancelledError:
            raise
        except Exception:
            reason = "session_error"
            _log.exception("session %s: unexpected error while reading", self.config.node_id)
        self._finish(reason)

    # -- authentication

    async def _on_auth(
        self, myself: ActorRef[NodeSessionMessage], msg: auth_pb2.AuthenticationMessage
    ) -> None:
        if self.authenticated:
            return  # ignored once authenticated, as in Rust
        handshake = self.handshake
        step = handshake.receive(msg)
        if (
            step.peer is not None
            and self.peer is None
            and not await self._learn_peer(myself, step.peer)
        ):
            return
        if step.need_check:
            assert isinstance(handshake, ServerHandshake) and self.peer is not None
            try:
                status = await self.server.call(
                    CheckSession(myself.id, self.peer), timeout=_CHECK_TIMEOUT
                )
            except RactorError as exc:
                self._finish(f"auth_fail: the election check failed ({exc})")
                return
            step = handshake.checked(status)
        for out in step.send:
            self._send(meta_pb2.NetworkMessage(auth=out))
        if step.failure is not None:
            self._finish(f"auth_fail: {step.failure}")
            return
        if step.authenticated:
            await self._on_authenticated(myself)

    async def _learn_peer(
        self, myself: ActorRef[NodeSessionMessage], peer: auth_pb2.NameMessage
    ) -> bool:
        self.peer = auth_pb2.NameMessage()
        self.peer.CopyFrom(peer)
        if isinstance(self.handshake, ClientHandshake):
            self.peer.connection_id = self.own.connection_id
        if peer.name == self.own.name or (
            peer.connection_string and peer.connection_string == self.own.connection_string
        ):
            self._finish("self_connection")
            return False
        self.server.cast(UpdateSession(myself.id, self.peer))
        return True

    async def _on_authenticated(self, myself: ActorRef[NodeSessionMessage]) -> None:
        self.authenticated = True
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
        if not elected:
            self._finish("session_election_lost")
            return
        self.elected = True
        self._schedule_ping(myself)
        if self.config.connection_mode is NodeConnectionMode.TRANSITIVE:
            own = auth_pb2.NameMessage()
            own.CopyFrom(self.own)
            own.connection_id = 0
            self._control(enumerate_node_sessions=own)
        # Monitors first, then the snapshot: an actor may be announced twice, never missed.
        monitor_pids(myself)
        pg.monitor_scope(pg.ALL_SCOPES_NOTIFICATION, myself)
        local = [a for a in all_actors() if a.id.is_local and a.is_alive and a.is_remotable]
        if local:
            self.advertised.update((a.id.pid, a) for a in local)
            self._control(spawn=control_pb2.Spawn(actors=[_actor_msg(a) for a in local]))
        for scope, group in pg.which_scopes_and_groups():
            members = [
                _actor_msg(a)
                for a in pg.get_scoped_local_members(scope, group)
                if a.is_remotable
            ]
            if members:
                join = control_pb2.PgJoin(group=group, scope=scope, actors=members)
                self._control(pg_join=join)
        self._control(ready=control_pb2.Ready())
        self.sent_ready = True
        self._check_ready(myself)

    def _check_ready(self, myself: ActorRef[NodeSessionMessage]) -> None:
        if self.sent_ready and self.got_ready:
            self.server.cast(ConnectionReady(myself.id))

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
            target = self.advertised.get(to)
            if target is None:
                return
            try:
                msg = decode(target, SerializedCast(variant, what, metadata))
            except Exception as exc:  # undecodable or stopped: dropped, as in Rust
                _log.debug("dropped a cast to pid %s: %s", to, exc)
                return
            self._deliver(to, target, msg, None)
        elif arm == "call":
            target = self.advertised.get(to)
            if target is None:
                return
            try:
                msg = decode(target, SerializedCall(variant, what, metadata))
                encode = msg.encode_reply
            except Exception as exc:  # undecodable or stopped: no reply, as in Rust
                _log.debug("dropped a call to pid %s: %s", to, exc)
                return
            timeout = None if timeout_ms is None else timeout_ms / 1000
            port = _WirePort(self, to, tag, timeout, encode)
            self._deliver(to, target, msg, port)
        elif arm == "reply":
            self.peer_actors.reply(to, tag, what)

    def _deliver(
        self, to: int, target: ActorRef[Any], msg: Any, port: RpcReplyPort[Any] | None
    ) -> None:
        """Into the actor's mailbox, or held (in order) while its bounded mailbox is full."""
        held = self.parked.get(to)
        if held is None:
            try:
                if offer(target, msg, port):
                    return
            except MessagingError as exc:  # the actor stopped: dropped, as in Rust
                _log.debug("dropped a message to pid %s: %s", to, exc)
                return
            held = self.parked[to] = collections.deque()
            task = self.loop.create_task(self._unpark(to, target, held))
            self.park_tasks.add(task)
            task.add_done_callback(self.park_tasks.discard)
        held.append((msg, port))
        self.parked_count += 1
        if self.parked_count > _PARKED_HIGH and not self.park_paused:
            # back-pressure: the peer's writes wait in TCP until the mailboxes have room
            self.park_paused = True
            self.unparked.clear()
            self._pause_reading()

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

    def _pause_reading(self) -> None:
        if self.reader_task is None:
            transport: Any = self.stream.writer.transport
            transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.reader_task is None and not self.paused and self.stop_reason is None:
            transport: Any = self.stream.writer.transport
            transport.resume_reading()

    # -- control messages

    async def _on_control(
        self, myself: ActorRef[NodeSessionMessage], msg: control_pb2.ControlMessage
    ) -> None:
        which = msg.WhichOneof("msg")
        peer = self.peer_actors
        if which == "spawn":
            for advertised in msg.spawn.actors:
                self._proxy(advertised)
        elif which == "terminate":
            for pid in msg.terminate.ids:
                peer.terminate(pid, "remote")
        elif which == "ping":
            self._control(pong=control_pb2.Pong(timestamp=msg.ping.timestamp))
        elif which == "pong":
            pass  # liveness is tracked on every frame received
        elif which == "pg_join":
            join = msg.pg_join
            proxies = [self._proxy(a) for a in join.actors]
            if proxies:
                pg.join_scoped(join.scope, join.group, proxies)
        elif which == "pg_leave":
            leave = msg.pg_leave
            known = [r for r in (peer.get(a.pid) for a in leave.actors) if r is not None]
            if known:
                pg.leave_scoped(leave.scope, leave.group, known)
        elif which == "enumerate_node_sessions":
            await self._answer_enumeration(msg.enumerate_node_sessions)
        elif which == "node_sessions":
            if self.config.connection_mode is NodeConnectionMode.TRANSITIVE:
                await self._dial_known(msg.node_sessions)
        elif which == "ready":
            if self.got_ready:
                _log.warning("session %s: duplicate Ready", self.config.node_id)
            self.got_ready = True
            self._check_ready(myself)

    def _proxy(self, actor: control_pb2.Actor) -> ActorRef[Any]:
        return self.peer_actors.actor(actor.pid, actor.name if actor.HasField("name") else None)

    async def _answer_enumeration(self, asker: auth_pb2.NameMessage) -> None:
        try:
            sessions = await self.server.call(_Sessions(), timeout=_CHECK_TIMEOUT)
        except RactorError:
            return  # no answer, as in Rust
        entries = []
        for _, name in sessions:
            if name.name == asker.name or name.connection_string == asker.connection_string:
                continue
            entry = auth_pb2.NameMessage()
            entry.CopyFrom(name)
            entry.connection_id = 0
            entries.append(entry)
        self._control(node_sessions=control_pb2.NodeSessions(sessions=entries))

    async def _dial_known(self, known: control_pb2.NodeSessions) -> None:
        try:
            sessions = await self.server.call(_Sessions(), timeout=_CHECK_TIMEOUT)
        except RactorError:
            return
        have = {n.name for _, n in sessions} | {n.connection_string for _, n in sessions}
        for entry in known.sessions:
            if entry.name == self.own.name or entry.connection_string == self.own.connection_string:
                continue
            if entry.name in have or entry.connection_string in have:
                continue
            if entry.connection_string:
                try:
                    self.server.cast(_Dial(entry.connection_string))
                except MessagingError:
                    return


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
        self._session.send_frame(encode_reply(self._to, self._tag, bytes(data)))
        return True

    def _too_late(self) -> bool:
        # a reply now would be too late, or have no connection to go on
        session = self._session
        if session.stop_reason is not None:
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


def _node_frame(msg: node_pb2.NodeMessage) -> NodeFrame:
    """The fields of a NodeMessage parsed by protobuf, as ``decode_node`` returns them."""
    which = msg.WhichOneof("msg")
    if which == "cast":
        cast = msg.cast
        meta = cast.metadata if cast.HasField("metadata") else None
        return ("cast", cast.to, cast.what, cast.variant, 0, None, meta)
    if which == "call":
        call = msg.call
        meta = call.metadata if call.HasField("metadata") else None
        timeout = call.timeout_ms if call.HasField("timeout_ms") else None
        return ("call", call.to, call.what, call.variant, call.tag, timeout, meta)
    if which == "reply":
        reply = msg.reply
        return ("reply", reply.to, reply.what, "", reply.tag, None, None)
    return ("", 0, b"", "", 0, None, None)  # an empty NodeMessage: ignored, as in Rust


def _actor_msg(ref: ActorRef[Any]) -> control_pb2.Actor:
    msg = control_pb2.Actor(pid=ref.id.pid)
    if ref.name is not None:
        msg.name = ref.name
    return msg
