"""The wire protocol of one session, with no I/O (docs/protocol.md §1-§5).

:class:`SessionProtocol` is the whole conversation with one peer, from the first handshake
frame to the end: bytes go in through :meth:`~SessionProtocol.receive_data`, which returns
*events*; what this node says goes out through commands that return the bytes to write
(framed). Answers the protocol gives by itself (the handshake's next message, a Pong for a
Ping) collect in :meth:`~SessionProtocol.data_to_send`. It reads no clock and opens no
socket, so tests drive it with bytes alone, and ``NodeSession`` is the asyncio shell that
moves the bytes and applies the events (h11 is the model).

States (``SessionProtocol.state``)::

    HANDSHAKING --(server: the peer's Name)--> CHECKING --(checked: accepted)--> HANDSHAKING
    HANDSHAKING --(the handshake succeeds)--> AUTHENTICATED --(elected)--> OPEN
    any --(failure, rejected, close)--> CLOSED

Node messages (Cast, Call, CallReply) are events as plain tuples, :data:`NodeFrame`
``(arm, to, what, variant, tag, timeout_ms, metadata)``: they are the hot path. Everything
else is one of the small event classes below.
"""

from __future__ import annotations

import enum
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from google.protobuf.message import DecodeError

from ._auth import ClientHandshake, ServerHandshake
from ._errors import FrameError
from ._framing import DEFAULT_MAX_INBOUND_FRAME_SIZE, FrameReader
from ._wire import (
    NodeFrame,
    call_frame,
    cast_frame,
    decode_node,
    reply_frame,
)
from .protocol import auth_pb2, control_pb2, meta_pb2, node_pb2

__all__ = [
    "Authenticated",
    "ElectionCheck",
    "Event",
    "Failed",
    "GroupJoined",
    "GroupLeft",
    "PeerLimits",
    "PeerNamed",
    "ReadyReceived",
    "SessionProtocol",
    "SessionState",
    "SessionsOffered",
    "SessionsRequested",
    "Spawned",
    "Terminated",
    "bounded",
]

_pack_len = struct.Struct(">Q").pack


class SessionState(enum.Enum):
    """Where a session is in its life."""

    HANDSHAKING = "handshaking"
    CHECKING = "checking"  # a server waiting for its node's verdict on the peer's name
    AUTHENTICATED = "authenticated"  # the handshake succeeded; the node has not elected it yet
    OPEN = "open"  # elected: this node syncs its actors and groups, messages flow
    CLOSED = "closed"


_AUTHED = (SessionState.AUTHENTICATED, SessionState.OPEN)
_MAX_LISTED_SESSIONS = 1024  # nodes one NodeSessions may ask a transitive node to dial


@dataclass(frozen=True, slots=True)
class PeerLimits:
    """What one peer may make this node hold. Past a limit the session ends (reason
    ``limit_exceeded``); the node carries on. Defaults are generous."""

    max_frame_size: int = DEFAULT_MAX_INBOUND_FRAME_SIZE
    """The largest frame payload accepted (inclusive)."""
    max_name_length: int = 1024
    """The longest node name, connection string, group, scope or actor name (characters)."""
    max_remote_actors: int = 250_000
    """How many of its actors a peer may advertise."""
    max_group_memberships: int = 500_000
    """How many (group, actor) memberships a peer may announce."""

    def __post_init__(self) -> None:
        for name in ("max_frame_size", "max_name_length", "max_remote_actors",
                     "max_group_memberships"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} cannot be negative")


def bounded(text: str, limit: int = 80) -> str:
    """A peer-supplied string made safe to log: escaped, and cut to ``limit`` characters."""
    shown = text[:limit].encode("unicode_escape").decode("ascii")
    if len(text) > limit:
        return f"{shown}... ({len(text)} characters)"
    return shown


# ------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class PeerNamed:
    """The peer said who it is (its Name, or the server's challenge)."""

    peer: auth_pb2.NameMessage


@dataclass(frozen=True, slots=True)
class ElectionCheck:
    """A server must ask its node about this peer, then call :meth:`SessionProtocol.checked`."""

    peer: auth_pb2.NameMessage


@dataclass(frozen=True, slots=True)
class Authenticated:
    """The handshake succeeded; the node decides whether this session is the one kept
    (:meth:`SessionProtocol.elected`, or :meth:`SessionProtocol.close`)."""

    peer: auth_pb2.NameMessage


@dataclass(frozen=True, slots=True)
class Spawned:
    """The peer advertises actors (``control.Actor`` entries: pid, optional name)."""

    actors: Sequence[control_pb2.Actor]


@dataclass(frozen=True, slots=True)
class Terminated:
    """Actors of the peer stopped."""

    pids: Sequence[int]


@dataclass(frozen=True, slots=True)
class GroupJoined:
    """Actors of the peer joined ``group`` in ``scope``."""

    scope: str
    group: str
    actors: Sequence[control_pb2.Actor]


@dataclass(frozen=True, slots=True)
class GroupLeft:
    """Actors of the peer left ``group`` in ``scope``."""

    scope: str
    group: str
    actors: Sequence[control_pb2.Actor]


@dataclass(frozen=True, slots=True)
class ReadyReceived:
    """The peer finished its initial sync (``duplicate``: it said so before)."""

    duplicate: bool


@dataclass(frozen=True, slots=True)
class SessionsRequested:
    """The peer asks which nodes this node is connected to (transitive mode)."""

    asker: auth_pb2.NameMessage


@dataclass(frozen=True, slots=True)
class SessionsOffered:
    """The peer lists the nodes it is connected to."""

    sessions: Sequence[auth_pb2.NameMessage]


@dataclass(frozen=True, slots=True)
class Failed:
    """The session must end: ``reason`` is the short code, ``detail`` what happened (with
    peer-supplied text already bounded)."""

    reason: str
    detail: str


Event: TypeAlias = (
    NodeFrame
    | PeerNamed
    | ElectionCheck
    | Authenticated
    | Spawned
    | Terminated
    | GroupJoined
    | GroupLeft
    | ReadyReceived
    | SessionsRequested
    | SessionsOffered
    | Failed
)


class LocalProtocolError(RuntimeError):
    """This node tried something the protocol does not allow in the session's state."""


def _frame(payload: bytes) -> bytes:
    return _pack_len(len(payload)) + payload


def _network(**kwargs: Any) -> bytes:
    return _frame(meta_pb2.NetworkMessage(**kwargs).SerializeToString())


def _control(**kwargs: Any) -> bytes:
    return _network(control=control_pb2.ControlMessage(**kwargs))


def _actors(actors: Iterable[tuple[int, str | None]]) -> list[control_pb2.Actor]:
    out: list[control_pb2.Actor] = []
    for pid, name in actors:
        msg = control_pb2.Actor(pid=pid)
        if name is not None:
            msg.name = name
        out.append(msg)
    return out


# ------------------------------------------------------------------------- the protocol


class SessionProtocol:
    """One session's protocol state: bytes in, events out; commands in, bytes out."""

    def __init__(
        self,
        *,
        is_server: bool,
        cookie: str,
        own: auth_pb2.NameMessage,
        limits: PeerLimits | None = None,
    ) -> None:
        self.is_server = is_server
        self.own = own
        self.limits = limits or PeerLimits()
        self.handshake: ClientHandshake | ServerHandshake = (
            ServerHandshake(cookie, own) if is_server else ClientHandshake(cookie, own)
        )
        self.state = SessionState.HANDSHAKING
        self.peer: auth_pb2.NameMessage | None = None
        self.reader = FrameReader(self.limits.max_frame_size)
        self.sent_ready = False
        self.got_ready = False
        self.failure: Failed | None = None
        self._out: list[bytes] = []
        self.peer_stopping = False  # the peer said goodbye (it stops gracefully)

    # ------------------------------------------------------------------ queries

    @property
    def authenticated(self) -> bool:
        """Whether the handshake succeeded (and the session has not closed)."""
        return self.state in _AUTHED

    @property
    def is_ready(self) -> bool:
        """Whether both sides have sent Ready."""
        return self.sent_ready and self.got_ready

    def data_to_send(self) -> bytes:
        """What the protocol answered by itself since the last call (handshake, Pong)."""
        if not self._out:
            return b""
        data = b"".join(self._out)
        self._out.clear()
        return data

    # ------------------------------------------------------------------ bytes in

    def receive_data(self, data: bytes) -> list[Event]:
        """Take received bytes; return the events they complete, in order.

        After a :class:`Failed` event the protocol is CLOSED and takes nothing more.
        """
        if self.state is SessionState.CLOSED:
            return []
        events: list[Event] = []
        try:
            # once authenticated, node messages of the usual shape come out decoded (the
            # hot path); every other frame comes as bytes, for _receive_frame
            items = self.reader.feed_frames(data, self.state in _AUTHED)
        except FrameError as exc:
            events.append(self._fail("frame_read_error", str(exc)))
            return events
        append = events.append
        for item in items:
            if not isinstance(item, bytes):  # a decoded node message
                append(item)
                continue
            self._receive_frame(item, events)
            if self.failure is not None:
                return events
        if self.reader.failed:
            try:
                self.reader.feed(b"")
            except FrameError as exc:
                events.append(self._fail("frame_read_error", str(exc)))
        return events

    def _fail(self, reason: str, detail: str) -> Failed:
        failed = Failed(reason, detail)
        self.failure = failed
        self.state = SessionState.CLOSED
        return failed

    def _receive_frame(self, payload: bytes, events: list[Event]) -> None:
        if payload[:1] == b"\x12":  # NetworkMessage.node: the hot path
            if self.state not in _AUTHED:
                events.append(self._fail("message_before_authentication",
                                         "a node message before authentication"))
                return
            frame = decode_node(payload)
            if frame is not None:
                events.append(frame)
                return
        try:
            msg = meta_pb2.NetworkMessage.FromString(payload)
        except DecodeError as exc:
            events.append(self._fail("frame_read_error", f"malformed protobuf frame: {exc}"))
            return
        which = msg.WhichOneof("message")
        if which == "node":
            if self.state not in _AUTHED:  # a node message in an unusual encoding
                events.append(self._fail("message_before_authentication",
                                         "a node message before authentication"))
                return
            node = _node_frame(msg.node)
            if node is not None:
                events.append(node)
        elif which == "control":
            if self.state not in _AUTHED:
                events.append(self._fail("message_before_authentication",
                                         "a control message before authentication"))
                return
            self._receive_control(msg.control, events)
        elif which == "auth":
            self._receive_auth(msg.auth, events)
        # else: no field this node knows (a newer peer's message): ignored, as in Rust

    # -- authentication

    def _name_fits(self, name: auth_pb2.NameMessage) -> bool:
        limit = self.limits.max_name_length
        return len(name.name) <= limit and len(name.connection_string) <= limit

    def _receive_auth(self, msg: auth_pb2.AuthenticationMessage, events: list[Event]) -> None:
        if self.state in _AUTHED:
            # ignored once authenticated, as in Rust; ClientStatus(false) is our goodbye
            if msg.WhichOneof("msg") == "client_status" and not msg.client_status.status:
                self.peer_stopping = True
            return
        if self.state is SessionState.CHECKING:
            events.append(self._fail("auth_fail", "an authentication message while the node "
                                     "was deciding on the peer's name"))
            return
        step = self.handshake.receive(msg)
        if step.peer is not None and self.peer is None:
            if not self._name_fits(step.peer):
                events.append(self._fail(
                    "limit_exceeded",
                    f"the peer's name or address is over {self.limits.max_name_length} "
                    f"characters: {bounded(step.peer.name)!r} "
                    f"{bounded(step.peer.connection_string)!r}",
                ))
                return
            peer = auth_pb2.NameMessage()
            peer.CopyFrom(step.peer)
            if not self.is_server:
                peer.connection_id = self.own.connection_id
            self.peer = peer
            own = self.own
            if peer.name == own.name or (
                peer.connection_string and peer.connection_string == own.connection_string
            ):
                events.append(self._fail("self_connection", "the peer is this node"))
                return
            events.append(PeerNamed(peer))
        self._after_step(step, events)

    def _after_step(self, step: Any, events: list[Event]) -> None:
        for out in step.send:
            self._out.append(_network(auth=out))
        if step.failure is not None:
            events.append(self._fail("auth_fail", step.failure))
            return
        if step.need_check:
            assert self.peer is not None
            self.state = SessionState.CHECKING
            events.append(ElectionCheck(self.peer))
            return
        if step.authenticated:
            assert self.peer is not None
            self.state = SessionState.AUTHENTICATED
            events.append(Authenticated(self.peer))

    # -- control

    def _names_fit(self, *names: str) -> bool:
        limit = self.limits.max_name_length
        return all(len(n) <= limit for n in names)

    def _receive_control(self, msg: control_pb2.ControlMessage, events: list[Event]) -> None:
        which = msg.WhichOneof("msg")
        if which == "spawn":
            events.append(Spawned(msg.spawn.actors))
        elif which == "terminate":
            events.append(Terminated(msg.terminate.ids))
        elif which == "ping":
            self._out.append(_control(pong=control_pb2.Pong(timestamp=msg.ping.timestamp)))
        elif which == "pong":
            pass  # liveness is any frame at all; latency is not tracked
        elif which in ("pg_join", "pg_leave"):
            change = msg.pg_join if which == "pg_join" else msg.pg_leave
            if not self._names_fit(change.group, change.scope):
                events.append(self._fail(
                    "limit_exceeded",
                    f"a group or scope name over {self.limits.max_name_length} characters: "
                    f"{bounded(change.scope)!r} / {bounded(change.group)!r}",
                ))
                return
            kind = GroupJoined if which == "pg_join" else GroupLeft
            events.append(kind(change.scope, change.group, change.actors))
        elif which == "enumerate_node_sessions":
            events.append(SessionsRequested(msg.enumerate_node_sessions))
        elif which == "node_sessions":
            sessions = msg.node_sessions.sessions
            if len(sessions) > _MAX_LISTED_SESSIONS:
                events.append(self._fail("limit_exceeded", f"the peer listed {len(sessions)} "
                                         f"nodes to dial (at most {_MAX_LISTED_SESSIONS})"))
                return
            if not all(self._name_fits(s) for s in sessions):
                events.append(self._fail("limit_exceeded", "a listed node name or address "
                                         f"over {self.limits.max_name_length} characters"))
                return
            events.append(SessionsOffered(sessions))
        elif which == "ready":
            duplicate = self.got_ready
            self.got_ready = True
            events.append(ReadyReceived(duplicate))
        # else: an empty or unknown control message: ignored, as in Rust

    # ------------------------------------------------------------------ commands

    def start(self) -> bytes:
        """The client's first frame (its Name)."""
        if self.is_server or not isinstance(self.handshake, ClientHandshake):
            raise LocalProtocolError("the server does not speak first")
        return _network(auth=self.handshake.start())

    def checked(self, status: int) -> list[Event]:
        """The node's verdict on the peer's name (a ServerStatus value); the answer to the
        peer is in :meth:`data_to_send`."""
        if self.state is not SessionState.CHECKING:
            return []
        assert isinstance(self.handshake, ServerHandshake)
        self.state = SessionState.HANDSHAKING
        events: list[Event] = []
        self._after_step(self.handshake.checked(status), events)
        return events

    def elected(self) -> None:
        """The node keeps this session: its sync and messages may flow."""
        if self.state is not SessionState.AUTHENTICATED:
            raise LocalProtocolError(f"elected() in state {self.state.value}")
        self.state = SessionState.OPEN

    def close(self, reason: str = "closed", detail: str = "") -> None:
        """End the session from this side (nothing more is received)."""
        if self.state is not SessionState.CLOSED:
            self._fail(reason, detail)

    def goodbye(self) -> bytes:
        """The frame a stopping node sends last: ClientStatus(false) after authentication
        (ignored by Rust; a Python peer then ends the session as ``peer_stopped``)."""
        status = auth_pb2.ClientStatus(status=False)
        return _network(auth=auth_pb2.AuthenticationMessage(client_status=status))

    def _check_open(self) -> None:
        if self.state is not SessionState.OPEN:
            raise LocalProtocolError(f"cannot send in state {self.state.value}")

    # -- messages (the hot path: the encoders themselves, no checks beyond theirs)

    cast = staticmethod(cast_frame)
    """A Cast frame: ``cast(to, what, variant, metadata=None)``."""
    call = staticmethod(call_frame)
    """A Call frame: ``call(to, what, tag, timeout_ms, variant, metadata=None)``."""
    reply = staticmethod(reply_frame)
    """A CallReply frame: ``reply(to, tag, what)``."""

    # -- control

    def spawn(self, actors: Iterable[tuple[int, str | None]]) -> bytes:
        """A Spawn frame advertising ``(pid, name)`` actors."""
        self._check_open()
        return _control(spawn=control_pb2.Spawn(actors=_actors(actors)))

    def terminate(self, pids: Iterable[int]) -> bytes:
        """A Terminate frame."""
        self._check_open()
        return _control(terminate=control_pb2.Terminate(ids=list(pids)))

    def pg_join(self, scope: str, group: str, actors: Iterable[tuple[int, str | None]]) -> bytes:
        """A PgJoin frame."""
        self._check_open()
        join = control_pb2.PgJoin(group=group, scope=scope, actors=_actors(actors))
        return _control(pg_join=join)

    def pg_leave(self, scope: str, group: str, actors: Iterable[tuple[int, str | None]]) -> bytes:
        """A PgLeave frame."""
        self._check_open()
        leave = control_pb2.PgLeave(group=group, scope=scope, actors=_actors(actors))
        return _control(pg_leave=leave)

    def ready(self) -> bytes:
        """The Ready frame that ends this node's initial sync."""
        self._check_open()
        self.sent_ready = True
        return _control(ready=control_pb2.Ready())

    def ping(self, uptime: float) -> bytes:
        """A Ping carrying ``uptime`` seconds as its timestamp (the peer echoes it)."""
        self._check_open()
        ping = control_pb2.Ping()
        ping.timestamp.seconds = int(uptime)
        ping.timestamp.nanos = min(int((uptime % 1) * 1e9), 999_999_999)
        return _control(ping=ping)

    def enumerate_sessions(self) -> bytes:
        """Ask the peer for the nodes it knows (transitive mode)."""
        self._check_open()
        own = auth_pb2.NameMessage()
        own.CopyFrom(self.own)
        own.connection_id = 0
        return _control(enumerate_node_sessions=own)

    def sessions(self, known: Iterable[auth_pb2.NameMessage]) -> bytes:
        """Tell the peer the nodes this node knows (connection ids left out)."""
        entries: list[auth_pb2.NameMessage] = []
        for name in known:
            entry = auth_pb2.NameMessage()
            entry.CopyFrom(name)
            entry.connection_id = 0
            entries.append(entry)
        return _control(node_sessions=control_pb2.NodeSessions(sessions=entries))


def _node_frame(msg: node_pb2.NodeMessage) -> NodeFrame | None:
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
    return None  # an empty NodeMessage: ignored, as in Rust
