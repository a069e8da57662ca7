"""The authentication handshake as two state machines with no I/O (docs/protocol.md §3).

The client speaks first (``Name``); the server answers ``ServerStatus`` then ``Challenge``
as two frames; the client answers with ``ChallengeReply`` (the digest of the server's
challenge and a challenge of its own); the server checks it and sends ``ChallengeAck``.
Digest: ``SHA-256(be32(challenge) || cookie)``, compared in constant time.

Each ``receive`` returns a :class:`Step`: the messages to send, in order, and whether the
handshake succeeded, failed (with a reason), or needs the server's election verdict.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import hmac
import ipaddress
import secrets
import struct
from dataclasses import dataclass, field

from .protocol import auth_pb2

__all__ = [
    "AuthThrottle",
    "ClientHandshake",
    "ServerHandshake",
    "Step",
    "ThrottlePolicy",
    "digest",
    "new_connection_id",
]

_BE32 = struct.Struct(">I")
Status = auth_pb2.ServerStatus


def _status_name(status: int) -> str:
    try:
        return auth_pb2.ServerStatus.Status.Name(status)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    except ValueError:
        return str(status)


def digest(cookie: str, challenge: int) -> bytes:
    """The 32-byte answer to ``challenge``: SHA-256 of its 4 big-endian bytes, then the cookie."""
    return hashlib.sha256(_BE32.pack(challenge) + cookie.encode("utf-8")).digest()


def _matches(expected: bytes, got: bytes) -> bool:
    return len(got) == 32 and hmac.compare_digest(expected, got)


def new_connection_id() -> int:
    """A fresh non-zero random u64, the nonce of an outgoing connection."""
    while True:
        value = secrets.randbits(64)
        if value:
            return value


@dataclass(slots=True)
class Step:
    """The outcome of one handshake input."""

    send: list[auth_pb2.AuthenticationMessage] = field(
        default_factory=list[auth_pb2.AuthenticationMessage]
    )
    authenticated: bool = False
    failure: str | None = None
    peer: auth_pb2.NameMessage | None = None
    need_check: bool = False


class _Phase(enum.Enum):
    WAITING_STATUS = "waiting for the server status"
    WAITING_CHALLENGE = "waiting for the server challenge"
    WAITING_ACK = "waiting for the challenge ack"
    WAITING_NAME = "waiting for the client name"
    CHECKING = "waiting for the election verdict"
    WAITING_CLIENT_STATUS = "waiting for the client status"
    WAITING_REPLY = "waiting for the challenge reply"
    DONE = "authenticated"
    CLOSED = "closed"


def _auth(**kwargs: object) -> auth_pb2.AuthenticationMessage:
    return auth_pb2.AuthenticationMessage(**kwargs)  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


class _Handshake:
    def __init__(self, cookie: str, own: auth_pb2.NameMessage, phase: _Phase) -> None:
        self.cookie = cookie
        self.own = own
        self.phase = phase
        self.peer: auth_pb2.NameMessage | None = None

    @property
    def authenticated(self) -> bool:
        """Whether the handshake succeeded."""
        return self.phase is _Phase.DONE

    @property
    def closed(self) -> bool:
        """Whether the handshake failed."""
        return self.phase is _Phase.CLOSED

    def _fail(self, why: str) -> Step:
        self.phase = _Phase.CLOSED
        return Step(failure=why)

    def _unexpected(self, kind: str | None) -> Step:
        got = f"a {kind} message" if kind else "an empty authentication message"
        return self._fail(f"{got} while {self.phase.value}")


class ClientHandshake(_Handshake):
    """The connecting side: sends Name, answers the challenge, checks the ack."""

    def __init__(self, cookie: str, own: auth_pb2.NameMessage) -> None:
        super().__init__(cookie, own, _Phase.WAITING_STATUS)
        self._expected = b""
        self.refused = False
        """Whether the server refused the connection (it keeps another one with this node)."""

    def start(self) -> auth_pb2.AuthenticationMessage:
        """The first message of the connection: this node's name with its connection id."""
        return _auth(name=self.own)

    def receive(self, msg: auth_pb2.AuthenticationMessage) -> Step:
        """Advance on one authentication message from the server."""
        kind = msg.WhichOneof("msg")
        phase = self.phase
        if phase in (_Phase.DONE, _Phase.CLOSED):
            return Step()  # after the handshake, authentication messages are ignored
        if phase is _Phase.WAITING_STATUS and kind == "server_status":
            status = msg.server_status.status
            if status in (Status.NOT_OK, Status.NOT_ALLOWED):
                self.refused = True
                return self._fail(f"the server refused the connection ({_status_name(status)})")
            self.phase = _Phase.WAITING_CHALLENGE
            if status == Status.ALIVE:
                return Step(send=[_auth(client_status=auth_pb2.ClientStatus(status=True))])
            return Step()  # OK, OK_SIMULTANEOUS, or an unknown value (read as OK, as in Rust)
        if phase is _Phase.WAITING_CHALLENGE and kind == "server_challenge":
            challenge = msg.server_challenge
            self.peer = auth_pb2.NameMessage(
                name=challenge.name,
                flags=challenge.flags,
                connection_string=challenge.connection_string,
            )
            mine = secrets.randbits(32)
            self._expected = digest(self.cookie, mine)
            self.phase = _Phase.WAITING_ACK
            reply = auth_pb2.ChallengeReply(
                challenge=mine, digest=digest(self.cookie, challenge.challenge)
            )
            return Step(send=[_auth(client_challenge=reply)], peer=self.peer)
        if phase is _Phase.WAITING_ACK and kind == "server_ack":
            if not _matches(self._expected, msg.server_ack.digest):
                return self._fail("the server's challenge ack does not match (wrong cookie?)")
            self.phase = _Phase.DONE
            return Step(authenticated=True, peer=self.peer)
        return self._unexpected(kind)


class ServerHandshake(_Handshake):
    """The accepting side: takes Name, asks for the election verdict, checks the reply."""

    def __init__(self, cookie: str, own: auth_pb2.NameMessage) -> None:
        super().__init__(cookie, own, _Phase.WAITING_NAME)
        self._expected = b""

    def receive(self, msg: auth_pb2.AuthenticationMessage) -> Step:
        """Advance on one authentication message from the client."""
        kind = msg.WhichOneof("msg")
        phase = self.phase
        if phase in (_Phase.DONE, _Phase.CLOSED):
            return Step()
        if phase is _Phase.WAITING_NAME and kind == "name":
            self.peer = auth_pb2.NameMessage()
            self.peer.CopyFrom(msg.name)
            self.phase = _Phase.CHECKING
            return Step(peer=self.peer, need_check=True)
        if phase is _Phase.WAITING_CLIENT_STATUS and kind == "client_status":
            if not msg.client_status.status:
                return self._fail("the client gave up its connection (ClientStatus false)")
            return self._challenge(None)
        if phase is _Phase.WAITING_REPLY and kind == "client_challenge":
            reply = msg.client_challenge
            if not _matches(self._expected, reply.digest):
                return self._fail("the client's challenge reply does not match (wrong cookie?)")
            self.phase = _Phase.DONE
            ack = auth_pb2.ChallengeAck(digest=digest(self.cookie, reply.challenge))
            return Step(send=[_auth(server_ack=ack)], authenticated=True, peer=self.peer)
        return self._unexpected(kind)

    def checked(self, status: int) -> Step:
        """Continue with the election verdict on the peer's name (a ServerStatus value)."""
        if self.phase is not _Phase.CHECKING:
            return Step()
        status_msg = _auth(server_status=auth_pb2.ServerStatus(status=status))  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
        if status in (Status.OK, Status.OK_SIMULTANEOUS):
            return self._challenge(status_msg)
        if status == Status.ALIVE:
            self.phase = _Phase.WAITING_CLIENT_STATUS
            return Step(send=[status_msg])
        step = self._fail(f"the election refused this connection ({_status_name(status)})")
        step.send.append(status_msg)
        return step

    def _challenge(self, status_msg: auth_pb2.AuthenticationMessage | None) -> Step:
        mine = secrets.randbits(32)
        self._expected = digest(self.cookie, mine)
        self.phase = _Phase.WAITING_REPLY
        challenge = auth_pb2.Challenge(
            name=self.own.name,
            flags=self.own.flags,
            challenge=mine,
            connection_string=self.own.connection_string,
        )
        send = [status_msg] if status_msg is not None else []
        send.append(_auth(server_challenge=challenge))
        return Step(send=send)


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    """Backoff of authentication failures per source address: after ``free`` failures in a
    row, that address is refused for ``initial`` seconds, doubling per further failure up
    to ``maximum``; ``forget`` seconds without a failure clear its record. At most
    ``max_pending`` connections from one address may be authenticating at a time (more
    are closed at once)."""

    free: int = 5
    initial: float = 0.5
    maximum: float = 60.0
    forget: float = 300.0
    max_pending: int = 64


class AuthThrottle:
    """Counts authentication failures per source address and says when to refuse it.

    Sans-IO: the caller passes the time. An IPv6 address counts as its /64 (one host may
    hold all of it). At most ``max_tracked`` addresses are remembered (the oldest are
    forgotten first), so a flood from many addresses cannot grow it.

    A node name that authenticated from an address is *known* there: connections from that
    address claiming that name are judged by their own record, so an attacker behind the
    same NAT as a legitimate peer, failing again and again, does not lock it out (the
    address backs off; the known name does not, unless the attacker claims that very name
    and fails with it).
    """

    def __init__(self, policy: ThrottlePolicy | None = None, max_tracked: int = 65536) -> None:
        self.policy = policy or ThrottlePolicy()
        self.max_tracked = max_tracked
        # address (or address and known name) -> (failures, last failure, refused until)
        self._records: dict[str | tuple[str, str], tuple[int, float, float]] = {}
        # address -> names that authenticated from it (a few), oldest address first
        self._known: dict[str, list[str]] = {}
        self._pending: dict[str, int] = {}  # address -> connections authenticating
        self.failures = 0
        """Authentication failures counted (every address)."""
        self.refused = 0
        """Connections refused because their address was backing off."""

    def _check(self, key: str | tuple[str, str], now: float) -> float:
        record = self._records.get(key)
        if record is None:
            return 0.0
        _, last, until = record
        if now - last > self.policy.forget:
            del self._records[key]
            return 0.0
        return until - now if now < until else 0.0

    def blocked(self, address: str, now: float) -> float:
        """Seconds ``address`` is still refused (0: let it try); counts a refusal. An
        address where a name is known is let in: :meth:`blocked_name` decides once the
        connection says its name."""
        key = _throttle_key(address)
        wait = self._check(key, now)
        if wait and key not in self._known:
            self.refused += 1
            return wait
        return 0.0

    def blocked_name(self, address: str, name: str, now: float) -> float:
        """Seconds a connection from ``address`` claiming to be ``name`` is still refused
        (0: let it try); counts a refusal."""
        key = _throttle_key(address)
        names = self._known.get(key)
        wait = self._check((key, name) if names and name in names else key, now)
        if wait:
            self.refused += 1
        return wait

    def failed(self, address: str, now: float, name: str | None = None) -> float:
        """Record a failure of ``address`` (claiming to be ``name``, if it said); returns
        how long it is now refused (0: not)."""
        self.failures += 1
        policy = self.policy
        records = self._records
        base = _throttle_key(address)
        names = self._known.get(base)
        known = name is not None and names is not None and name in names
        key: str | tuple[str, str] = (base, name) if known and name is not None else base
        record = records.pop(key, None)  # re-inserted last: the dict is in age order
        count = 1 if record is None or now - record[1] > policy.forget else record[0] + 1
        block = 0.0
        if count >= policy.free:
            block = min(policy.maximum, policy.initial * 2.0 ** min(count - policy.free, 64))
        records[key] = (count, now, now + block)
        while len(records) > self.max_tracked:
            del records[next(iter(records))]
        return block

    def succeeded(self, address: str, name: str | None = None) -> None:
        """``address`` authenticated (as ``name``): its record is cleared, and ``name`` is
        known there from now on."""
        key = _throttle_key(address)
        names = self._known.pop(key, None)
        if name is None:
            self._records.pop(key, None)
            if names is not None:
                self._known[key] = names
            return
        if names is None or name not in names:
            self._records.pop(key, None)  # (as before any name was known)
            names = [*(names or ()), name][-_KNOWN_NAMES:]
        self._records.pop((key, name), None)
        self._known[key] = names  # last: the dict is in age order
        while len(self._known) > self.max_tracked:
            del self._known[next(iter(self._known))]

    def opened(self, address: str) -> bool:
        """A connection from ``address`` starts authenticating: False (and not counted)
        when that address already has ``max_pending`` doing so (counts a refusal)."""
        key = _throttle_key(address)
        count = self._pending.get(key, 0)
        if count >= self.policy.max_pending:
            self.refused += 1
            return False
        self._pending[key] = count + 1
        return True

    def settled(self, address: str) -> None:
        """A connection counted by :meth:`opened` authenticated or ended."""
        key = _throttle_key(address)
        count = self._pending.get(key, 0) - 1
        if count > 0:
            self._pending[key] = count
        else:
            self._pending.pop(key, None)

    def __len__(self) -> int:
        return len(self._records)

    def failures_of(self, address: str, name: str | None = None) -> int:
        """Failures recorded for ``address`` (claiming ``name``) in a row (0: none)."""
        key = _throttle_key(address)
        names = self._known.get(key)
        record = self._records.get((key, name) if name and names and name in names else key)
        return 0 if record is None else record[0]


_KNOWN_NAMES = 8  # names known per address, at most (the latest)


@functools.lru_cache(maxsize=4096)
def _throttle_key(address: str) -> str:
    """The throttled unit of an address: an IPv4 address, or the /64 of an IPv6 one."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return address
    if ip.version == 6:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
