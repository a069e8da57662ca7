"""The authentication handshake state machines, driven frame by frame without sockets.

PROTOCOL.md section 3: the client sends Name; the server answers ServerStatus then Challenge
(two messages, in that order); the client answers ChallengeReply; the server checks it and
sends ChallengeAck; the client checks the ack. Every deviation closes the handshake.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterator

import pytest

from ractor_cluster._auth import (
    ClientHandshake,
    ServerHandshake,
    Step,
    digest,
    new_connection_id,
)
from ractor_cluster.protocol import auth_pb2, meta_pb2

Status = auth_pb2.ServerStatus
COOKIE = "secret cookie"

# -------------------------------------------------------------------------------- helpers


def name(full: str, conn_str: str, connection_id: int = 0) -> auth_pb2.NameMessage:
    return auth_pb2.NameMessage(
        name=full,
        flags=auth_pb2.NodeFlags(version=1),
        connection_string=conn_str,
        connection_id=connection_id,
    )


def client(cookie: str = COOKIE, connection_id: int = 0x1234) -> ClientHandshake:
    return ClientHandshake(cookie, name("a@host", "host:4000", connection_id))


def server(cookie: str = COOKIE) -> ServerHandshake:
    return ServerHandshake(cookie, name("b@host", "host:5000"))


def auth(**kwargs: object) -> auth_pb2.AuthenticationMessage:
    return auth_pb2.AuthenticationMessage(**kwargs)  # type: ignore[arg-type]


def status_msg(status: int) -> auth_pb2.AuthenticationMessage:
    return auth(server_status=auth_pb2.ServerStatus(status=status))  # type: ignore[arg-type]


def challenge_msg(value: int = 42) -> auth_pb2.AuthenticationMessage:
    return auth(
        server_challenge=auth_pb2.Challenge(
            name="b@host",
            flags=auth_pb2.NodeFlags(version=1),
            challenge=value,
            connection_string="host:5000",
        )
    )


def reply_msg(challenge: int = 7, answer: bytes = b"\0" * 32) -> auth_pb2.AuthenticationMessage:
    return auth(client_challenge=auth_pb2.ChallengeReply(challenge=challenge, digest=answer))


def ack_msg(answer: bytes = b"\0" * 32) -> auth_pb2.AuthenticationMessage:
    return auth(server_ack=auth_pb2.ChallengeAck(digest=answer))


def client_status_msg(value: bool) -> auth_pb2.AuthenticationMessage:
    return auth(client_status=auth_pb2.ClientStatus(status=value))


def kinds(step: Step) -> list[str | None]:
    return [m.WhichOneof("msg") for m in step.send]


def frame_hex(msg: auth_pb2.AuthenticationMessage) -> str:
    body = meta_pb2.NetworkMessage(auth=msg).SerializeToString()
    return (struct.pack(">Q", len(body)) + body).hex(" ")


def assert_closed(hs: ClientHandshake | ServerHandshake, step: Step) -> None:
    assert step.failure is not None
    assert step.send == []
    assert not step.authenticated
    assert hs.closed
    assert not hs.authenticated


def fixed_randbits(monkeypatch: pytest.MonkeyPatch, *values: int) -> list[int]:
    """Make ``secrets.randbits`` return ``values`` in turn; returns the requested widths."""
    it: Iterator[int] = iter(values)
    widths: list[int] = []

    def fake(k: int) -> int:
        widths.append(k)
        return next(it)

    monkeypatch.setattr("ractor_cluster._auth.secrets.randbits", fake)
    return widths


# ------------------------------------------------------------- driving the two against each other


class Pair:
    """A client and a server wired by hand, recording every step."""

    def __init__(self, client_cookie: str = COOKIE, server_cookie: str = COOKIE) -> None:
        self.client = client(client_cookie)
        self.server = server(server_cookie)

    def name_step(self) -> Step:
        return self.server.receive(self.client.start())

    def to_reply(self, verdict: int = Status.OK) -> tuple[Step, Step]:
        """Name → verdict → ServerStatus + Challenge → client's ChallengeReply."""
        named = self.name_step()
        assert named.need_check
        verdict_step = self.server.checked(verdict)
        status, challenge = verdict_step.send
        assert self.client.receive(status).send == []
        return verdict_step, self.client.receive(challenge)


def test_the_client_opens_with_its_name_including_the_connection_id() -> None:
    hs = client(connection_id=99)
    first = hs.start()
    assert first.WhichOneof("msg") == "name"
    assert first.name == name("a@host", "host:4000", 99)
    assert not hs.authenticated and not hs.closed


def test_a_full_handshake_authenticates_both_sides() -> None:
    pair = Pair()
    named = pair.name_step()
    assert named.need_check
    assert named.send == []
    assert named.peer == name("a@host", "host:4000", 0x1234)
    assert not pair.server.authenticated

    verdict = pair.server.checked(Status.OK)
    assert kinds(verdict) == ["server_status", "server_challenge"]
    assert verdict.send[0].server_status.status == Status.OK
    sent_challenge = verdict.send[1].server_challenge
    assert sent_challenge.name == "b@host"
    assert sent_challenge.connection_string == "host:5000"
    assert sent_challenge.flags.version == 1
    assert verdict.failure is None and not verdict.authenticated

    after_status = pair.client.receive(verdict.send[0])
    assert after_status == Step()
    replied = pair.client.receive(verdict.send[1])
    assert kinds(replied) == ["client_challenge"]
    reply = replied.send[0].client_challenge
    assert reply.digest == digest(COOKIE, sent_challenge.challenge)
    assert replied.peer is not None
    assert replied.peer.name == "b@host"
    assert replied.peer.connection_string == "host:5000"
    assert replied.peer.flags.version == 1
    assert replied.peer.connection_id == 0
    assert not pair.client.authenticated

    acked = pair.server.receive(replied.send[0])
    assert acked.authenticated
    assert acked.failure is None
    assert kinds(acked) == ["server_ack"]
    assert acked.send[0].server_ack.digest == digest(COOKIE, reply.challenge)
    assert pair.server.authenticated
    assert not pair.server.closed

    done = pair.client.receive(acked.send[0])
    assert done.authenticated
    assert done.failure is None
    assert done.send == []
    assert done.peer is not None and done.peer.name == "b@host"
    assert pair.client.authenticated
    assert not pair.client.closed


def test_ok_simultaneous_continues_exactly_like_ok() -> None:
    pair = Pair()
    verdict, replied = pair.to_reply(Status.OK_SIMULTANEOUS)
    assert verdict.send[0].server_status.status == Status.OK_SIMULTANEOUS
    acked = pair.server.receive(replied.send[0])
    assert acked.authenticated
    assert pair.client.receive(acked.send[0]).authenticated


def test_each_side_draws_a_fresh_32_bit_challenge(monkeypatch: pytest.MonkeyPatch) -> None:
    widths = fixed_randbits(monkeypatch, 1000, 2000)
    pair = Pair()
    verdict, replied = pair.to_reply()
    assert verdict.send[1].server_challenge.challenge == 1000
    assert replied.send[0].client_challenge.challenge == 2000
    assert widths == [32, 32]


# ------------------------------------------------------------------------- wrong cookies


def test_the_server_rejects_a_reply_computed_with_another_cookie() -> None:
    pair = Pair(client_cookie="one", server_cookie="two")
    _, replied = pair.to_reply()
    step = pair.server.receive(replied.send[0])
    assert_closed(pair.server, step)
    assert "cookie" in (step.failure or "")


def test_the_client_rejects_an_ack_computed_with_another_cookie() -> None:
    pair = Pair()
    _, replied = pair.to_reply()
    their_challenge = replied.send[0].client_challenge.challenge
    step = pair.client.receive(ack_msg(digest("another cookie", their_challenge)))
    assert_closed(pair.client, step)


def test_the_client_rejects_an_ack_for_a_different_challenge() -> None:
    pair = Pair()
    _, replied = pair.to_reply()
    their_challenge = replied.send[0].client_challenge.challenge
    step = pair.client.receive(ack_msg(digest(COOKIE, (their_challenge + 1) % 2**32)))
    assert_closed(pair.client, step)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda d: d[:31],
        lambda d: d + b"\0",
        lambda d: b"",
        lambda d: d + d,
    ],
    ids=["31 bytes", "33 bytes", "empty", "64 bytes"],
)
def test_the_server_rejects_a_reply_digest_of_the_wrong_length(
    mangle: Callable[[bytes], bytes],
) -> None:
    pair = Pair()
    verdict, _ = pair.to_reply()
    good = digest(COOKIE, verdict.send[1].server_challenge.challenge)
    step = pair.server.receive(reply_msg(7, mangle(good)))
    assert_closed(pair.server, step)


@pytest.mark.parametrize(
    "mangle",
    [lambda d: d[:31], lambda d: d + b"\0", lambda d: b""],
    ids=["31 bytes", "33 bytes", "empty"],
)
def test_the_client_rejects_an_ack_digest_of_the_wrong_length(
    mangle: Callable[[bytes], bytes],
) -> None:
    pair = Pair()
    _, replied = pair.to_reply()
    good = digest(COOKIE, replied.send[0].client_challenge.challenge)
    step = pair.client.receive(ack_msg(mangle(good)))
    assert_closed(pair.client, step)


# ------------------------------------------------------------------ messages out of order

EMPTY = auth_pb2.AuthenticationMessage()

CLIENT_WRONG_WHILE_WAITING_STATUS = {
    "challenge": challenge_msg(),
    "ack": ack_msg(),
    "name": auth(name=name("b@host", "host:5000")),
    "client status": client_status_msg(True),
    "reply": reply_msg(),
    "empty": EMPTY,
}


@pytest.mark.parametrize(
    "msg", CLIENT_WRONG_WHILE_WAITING_STATUS.values(), ids=CLIENT_WRONG_WHILE_WAITING_STATUS.keys()
)
def test_the_client_closes_on_anything_but_a_status_first(
    msg: auth_pb2.AuthenticationMessage,
) -> None:
    hs = client()
    hs.start()
    step = hs.receive(msg)
    assert_closed(hs, step)
    assert "waiting for the server status" in (step.failure or "")


def test_an_empty_authentication_message_is_named_in_the_failure() -> None:
    hs = client()
    step = hs.receive(EMPTY)
    assert "empty authentication message" in (step.failure or "")


CLIENT_WRONG_WHILE_WAITING_CHALLENGE = {
    "second status": status_msg(Status.OK),
    "ack": ack_msg(),
    "name": auth(name=name("b@host", "host:5000")),
    "empty": EMPTY,
}


@pytest.mark.parametrize(
    "msg",
    CLIENT_WRONG_WHILE_WAITING_CHALLENGE.values(),
    ids=CLIENT_WRONG_WHILE_WAITING_CHALLENGE.keys(),
)
def test_the_client_closes_on_anything_but_a_challenge_after_the_status(
    msg: auth_pb2.AuthenticationMessage,
) -> None:
    hs = client()
    hs.receive(status_msg(Status.OK))
    step = hs.receive(msg)
    assert_closed(hs, step)
    assert "waiting for the server challenge" in (step.failure or "")


CLIENT_WRONG_WHILE_WAITING_ACK = {
    "second challenge": challenge_msg(),
    "status": status_msg(Status.OK),
    "reply": reply_msg(),
    "empty": EMPTY,
}


@pytest.mark.parametrize(
    "msg", CLIENT_WRONG_WHILE_WAITING_ACK.values(), ids=CLIENT_WRONG_WHILE_WAITING_ACK.keys()
)
def test_the_client_closes_on_anything_but_an_ack_after_replying(
    msg: auth_pb2.AuthenticationMessage,
) -> None:
    hs = client()
    hs.receive(status_msg(Status.OK))
    hs.receive(challenge_msg())
    step = hs.receive(msg)
    assert_closed(hs, step)
    assert "waiting for the challenge ack" in (step.failure or "")


SERVER_WRONG_BEFORE_NAME = {
    "reply": reply_msg(),
    "client status": client_status_msg(True),
    "status": status_msg(Status.OK),
    "challenge": challenge_msg(),
    "ack": ack_msg(),
    "empty": EMPTY,
}


@pytest.mark.parametrize(
    "msg", SERVER_WRONG_BEFORE_NAME.values(), ids=SERVER_WRONG_BEFORE_NAME.keys()
)
def test_the_server_closes_on_anything_but_a_name_first(
    msg: auth_pb2.AuthenticationMessage,
) -> None:
    hs = server()
    step = hs.receive(msg)
    assert_closed(hs, step)
    assert step.peer is None
    assert not step.need_check
    assert "waiting for the client name" in (step.failure or "")


def test_the_server_closes_on_a_message_while_it_awaits_the_verdict() -> None:
    hs = server()
    hs.receive(auth(name=name("a@host", "host:4000", 5)))
    step = hs.receive(reply_msg())
    assert_closed(hs, step)
    assert "election verdict" in (step.failure or "")
    assert hs.checked(Status.OK) == Step()  # a late verdict no longer does anything


SERVER_WRONG_WHILE_WAITING_REPLY = {
    "second name": auth(name=name("a@host", "host:4000", 5)),
    "client status": client_status_msg(True),
    "ack": ack_msg(),
    "empty": EMPTY,
}


@pytest.mark.parametrize(
    "msg",
    SERVER_WRONG_WHILE_WAITING_REPLY.values(),
    ids=SERVER_WRONG_WHILE_WAITING_REPLY.keys(),
)
def test_the_server_closes_on_anything_but_a_reply_after_its_challenge(
    msg: auth_pb2.AuthenticationMessage,
) -> None:
    hs = server()
    hs.receive(auth(name=name("a@host", "host:4000", 5)))
    hs.checked(Status.OK)
    step = hs.receive(msg)
    assert_closed(hs, step)
    assert "waiting for the challenge reply" in (step.failure or "")


SERVER_WRONG_WHILE_WAITING_CLIENT_STATUS = {
    "reply": reply_msg(),
    "second name": auth(name=name("a@host", "host:4000", 5)),
    "empty": EMPTY,
}


@pytest.mark.parametrize(
    "msg",
    SERVER_WRONG_WHILE_WAITING_CLIENT_STATUS.values(),
    ids=SERVER_WRONG_WHILE_WAITING_CLIENT_STATUS.keys(),
)
def test_the_server_closes_on_anything_but_a_client_status_after_alive(
    msg: auth_pb2.AuthenticationMessage,
) -> None:
    hs = server()
    hs.receive(auth(name=name("a@host", "host:4000", 5)))
    hs.checked(Status.ALIVE)
    step = hs.receive(msg)
    assert_closed(hs, step)
    assert "waiting for the client status" in (step.failure or "")


# ------------------------------------------------------------------------------ statuses


@pytest.mark.parametrize("status", [Status.NOT_OK, Status.NOT_ALLOWED])
def test_a_refusing_status_closes_the_client(status: int) -> None:
    hs = client()
    step = hs.receive(status_msg(status))
    assert_closed(hs, step)
    assert Status.Status.Name(status) in (step.failure or "")  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [Status.OK, Status.OK_SIMULTANEOUS])
def test_an_accepting_status_makes_the_client_wait_silently_for_the_challenge(
    status: int,
) -> None:
    hs = client()
    assert hs.receive(status_msg(status)) == Step()
    assert not hs.closed
    assert kinds(hs.receive(challenge_msg())) == ["client_challenge"]


def test_alive_makes_the_client_answer_client_status_true_and_wait_for_the_challenge() -> None:
    hs = client()
    step = hs.receive(status_msg(Status.ALIVE))
    assert step.failure is None
    assert kinds(step) == ["client_status"]
    assert step.send[0].client_status.status is True
    assert not hs.closed
    replied = hs.receive(challenge_msg(42))
    assert replied.send[0].client_challenge.digest == digest(COOKIE, 42)


@pytest.mark.parametrize("status", [5, 6, 100, 2**31 - 1])
def test_an_unknown_status_value_is_read_as_ok(status: int) -> None:
    hs = client()
    # As it arrives off the wire: ServerStatus{status: <status>} inside the oneof arm 2.
    wire = auth_pb2.AuthenticationMessage.FromString(
        auth_pb2.AuthenticationMessage(
            server_status=auth_pb2.ServerStatus(status=status)  # type: ignore[arg-type]
        ).SerializeToString()
    )
    assert wire.server_status.status == status
    assert hs.receive(wire) == Step()
    assert not hs.closed
    assert kinds(hs.receive(challenge_msg())) == ["client_challenge"]


def test_the_alive_path_runs_to_authentication_on_both_sides() -> None:
    pair = Pair()
    pair.name_step()
    verdict = pair.server.checked(Status.ALIVE)
    assert kinds(verdict) == ["server_status"]
    assert verdict.send[0].server_status.status == Status.ALIVE
    assert verdict.failure is None

    answered = pair.client.receive(verdict.send[0])
    assert kinds(answered) == ["client_status"]

    challenged = pair.server.receive(answered.send[0])
    assert kinds(challenged) == ["server_challenge"]  # the Challenge alone, no second status
    assert challenged.failure is None

    replied = pair.client.receive(challenged.send[0])
    acked = pair.server.receive(replied.send[0])
    assert acked.authenticated
    assert pair.client.receive(acked.send[0]).authenticated


def test_client_status_false_closes_the_server() -> None:
    hs = server()
    hs.receive(auth(name=name("a@host", "host:4000", 5)))
    hs.checked(Status.ALIVE)
    step = hs.receive(client_status_msg(False))
    assert_closed(hs, step)


# ------------------------------------------------------------------------------ checked()


@pytest.mark.parametrize("status", [Status.OK, Status.OK_SIMULTANEOUS])
def test_an_accepting_verdict_sends_the_status_then_the_challenge(status: int) -> None:
    hs = server()
    hs.receive(auth(name=name("a@host", "host:4000", 5)))
    step = hs.checked(status)
    assert kinds(step) == ["server_status", "server_challenge"]
    assert step.send[0].server_status.status == status
    assert step.failure is None
    assert not step.authenticated
    assert not hs.closed and not hs.authenticated


@pytest.mark.parametrize("status", [Status.NOT_OK, Status.NOT_ALLOWED])
def test_a_refusing_verdict_sends_the_status_and_then_fails(status: int) -> None:
    hs = server()
    hs.receive(auth(name=name("a@host", "host:4000", 5)))
    step = hs.checked(status)
    assert kinds(step) == ["server_status"]
    assert step.send[0].server_status.status == status
    assert step.failure is not None
    assert hs.closed


def test_a_verdict_before_the_name_does_nothing() -> None:
    hs = server()
    assert hs.checked(Status.OK) == Step()
    assert not hs.closed
    assert hs.receive(auth(name=name("a@host", "host:4000", 5))).need_check


def test_a_second_verdict_does_nothing() -> None:
    hs = server()
    hs.receive(auth(name=name("a@host", "host:4000", 5)))
    hs.checked(Status.OK)
    assert hs.checked(Status.OK) == Step()
    assert hs.checked(Status.NOT_OK) == Step()
    assert not hs.closed


def test_the_server_reports_the_peer_name_with_its_connection_id_from_the_name() -> None:
    hs = server()
    sent = name("a@host", "host:4000", 0xFEED)
    step = hs.receive(auth(name=sent))
    assert step.peer == sent
    assert hs.peer == sent
    sent.name = "mutated"
    assert hs.peer.name == "a@host"  # a copy, not the caller's object


# --------------------------------------------------------------- after the handshake


ANY_AUTH = [
    auth(name=name("x@host", "host:1", 1)),
    status_msg(Status.NOT_OK),
    client_status_msg(False),
    challenge_msg(),
    reply_msg(),
    ack_msg(),
    EMPTY,
]


def test_auth_messages_after_authentication_are_ignored_by_both_sides() -> None:
    pair = Pair()
    _, replied = pair.to_reply()
    acked = pair.server.receive(replied.send[0])
    pair.client.receive(acked.send[0])
    for msg in ANY_AUTH:
        assert pair.client.receive(msg) == Step()
        assert pair.server.receive(msg) == Step()
    assert pair.client.authenticated and not pair.client.closed
    assert pair.server.authenticated and not pair.server.closed


def test_a_closed_handshake_stays_closed_and_silent() -> None:
    hs = client()
    hs.receive(status_msg(Status.NOT_OK))
    for msg in ANY_AUTH:
        assert hs.receive(msg) == Step()
    assert hs.closed and not hs.authenticated


# ------------------------------------------------------------------ bytes on the wire


def test_the_digest_matches_the_reference_vector() -> None:
    assert digest("cookie", 42).hex() == (
        "143e00d9d3b31d9d24452f85ac04448953081a02ed02272e592c5b13cd422ef7"
    )


def test_the_digest_is_sha256_of_the_big_endian_challenge_then_the_cookie() -> None:
    assert (
        digest("ключ", 0xDEADBEEF)
        == hashlib.sha256(bytes.fromhex("deadbeef") + "ключ".encode()).digest()
    )
    assert len(digest("", 0)) == 32


def test_the_name_frame_matches_the_protocol_example() -> None:
    hs = ClientHandshake(COOKIE, name("a@host", "host:4000", 0x0123456789ABCDEF))
    assert frame_hex(hs.start()) == (
        "00 00 00 00 00 00 00 25 0a 23 0a 21 0a 06 61 40 68 6f 73 74 12 02 08 01 1a 09 68 6f 73"
        " 74 3a 34 30 30 30 20 ef 9b af cd f8 ac d1 91 01"
    )


def test_the_server_status_frames_match_the_protocol_examples() -> None:
    ok = server()
    ok.receive(auth(name=name("a@host", "host:4000", 5)))
    assert frame_hex(ok.checked(Status.OK).send[0]) == "00 00 00 00 00 00 00 04 0a 02 12 00"
    refused = server()
    refused.receive(auth(name=name("a@host", "host:4000", 5)))
    assert frame_hex(refused.checked(Status.NOT_OK).send[0]) == (
        "00 00 00 00 00 00 00 06 0a 04 12 02 08 02"
    )


def test_the_challenge_reply_frame_matches_the_protocol_example(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fixed_randbits(monkeypatch, 7)
    hs = client("cookie")
    hs.receive(status_msg(Status.OK))
    step = hs.receive(challenge_msg(42))
    assert frame_hex(step.send[0]) == (
        "00 00 00 00 00 00 00 28 0a 26 2a 24 08 07 12 20 14 3e 00 d9 d3 b3 1d 9d 24 45 2f 85 ac"
        " 04 44 89 53 08 1a 02 ed 02 27 2e 59 2c 5b 13 cd 42 2e f7"
    )


def test_the_client_accepts_the_ack_that_matches_its_challenge(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fixed_randbits(monkeypatch, 42)
    hs = client("cookie")
    hs.receive(status_msg(Status.OK))
    hs.receive(challenge_msg(7))
    step = hs.receive(
        ack_msg(bytes.fromhex("143e00d9d3b31d9d24452f85ac04448953081a02ed02272e592c5b13cd422ef7"))
    )
    assert step.authenticated


def test_a_connection_id_is_never_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    widths = fixed_randbits(monkeypatch, 0, 0xABCDEF)
    assert new_connection_id() == 0xABCDEF
    assert widths == [64, 64]


def test_connection_ids_are_random_u64s() -> None:
    ids = {new_connection_id() for _ in range(64)}
    assert len(ids) == 64
    assert all(0 < i < 2**64 for i in ids)
