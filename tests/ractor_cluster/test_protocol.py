"""The session protocol with no I/O: two SessionProtocols talk through bytes alone."""

from __future__ import annotations

import struct
from typing import Any

import pytest

from ractor_cluster._protocol import (
    Authenticated,
    ElectionCheck,
    Failed,
    GroupJoined,
    GroupLeft,
    LocalProtocolError,
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
from ractor_cluster.protocol import auth_pb2, control_pb2, meta_pb2, node_pb2

OK = int(auth_pb2.ServerStatus.OK)


def name(who: str, connection_id: int = 0) -> auth_pb2.NameMessage:
    return auth_pb2.NameMessage(
        name=f"{who}@localhost", flags=auth_pb2.NodeFlags(version=1),
        connection_string=f"{who}.example:4000", connection_id=connection_id,
    )


def pair(limits: PeerLimits | None = None) -> tuple[SessionProtocol, SessionProtocol]:
    client = SessionProtocol(is_server=False, cookie="c", own=name("client", 9), limits=limits)
    server = SessionProtocol(is_server=True, cookie="c", own=name("server"), limits=limits)
    return client, server


def frame(**kwargs: Any) -> bytes:
    body = meta_pb2.NetworkMessage(**kwargs).SerializeToString()
    return struct.pack(">Q", len(body)) + body


def control(**kwargs: Any) -> bytes:
    return frame(control=control_pb2.ControlMessage(**kwargs))


def handshake(client: SessionProtocol, server: SessionProtocol) -> None:
    """Run the handshake through bytes; both end AUTHENTICATED and are then elected."""
    events = server.receive_data(client.start())
    assert [type(e) for e in events] == [PeerNamed, ElectionCheck]
    assert server.state is SessionState.CHECKING
    assert server.checked(OK) == []
    client_events = client.receive_data(server.data_to_send())
    assert [type(e) for e in client_events] == [PeerNamed]
    server_events = server.receive_data(client.data_to_send())
    assert [type(e) for e in server_events] == [Authenticated]
    client_events = client.receive_data(server.data_to_send())
    assert [type(e) for e in client_events] == [Authenticated]
    for side in (client, server):
        assert side.state is SessionState.AUTHENTICATED
        side.elected()
        assert side.state is SessionState.OPEN


def test_two_protocols_authenticate_through_bytes_alone() -> None:
    client, server = pair()
    handshake(client, server)
    assert server.peer is not None and server.peer.name == "client@localhost"
    assert server.peer.connection_id == 9
    assert client.peer is not None and client.peer.name == "server@localhost"
    assert client.peer.connection_id == 9  # the client's own nonce names the connection


def test_messages_and_control_flow_as_events_after_authentication() -> None:
    client, server = pair()
    handshake(client, server)
    data = (
        client.spawn([(1, "worker"), (2, None)])
        + client.pg_join("s", "g", [(1, "worker")])
        + client.cast(1, b"\x00", "Add")
        + client.call(2, b"", 5, 1000, "Get")
        + client.reply(3, 4, b"ok")
        + client.ready()
    )
    events = server.receive_data(data)
    spawned, joined, cast, call, reply, ready = events
    assert isinstance(spawned, Spawned)
    assert [(a.pid, a.name if a.HasField("name") else None) for a in spawned.actors] == [
        (1, "worker"), (2, None)
    ]
    assert isinstance(joined, GroupJoined) and (joined.scope, joined.group) == ("s", "g")
    assert cast == ("cast", 1, b"\x00", "Add", 0, None, None)
    assert call == ("call", 2, b"", "Get", 5, 1000, None)
    assert reply == ("reply", 3, b"ok", "", 4, None, None)
    assert ready == ReadyReceived(duplicate=False)
    assert not server.is_ready
    server.ready()
    assert server.is_ready
    more = server.receive_data(client.terminate([1]) + client.pg_leave("s", "g", [(2, None)]))
    assert isinstance(more[0], Terminated) and list(more[0].pids) == [1]
    assert isinstance(more[1], GroupLeft)
    assert server.receive_data(control(ready=control_pb2.Ready())) == [ReadyReceived(True)]


def test_a_ping_is_answered_with_the_same_timestamp_by_the_protocol_itself() -> None:
    client, server = pair()
    handshake(client, server)
    assert server.receive_data(client.ping(12.5)) == []
    answer = meta_pb2.NetworkMessage.FromString(server.data_to_send()[8:])
    assert answer.control.pong.timestamp.seconds == 12
    assert answer.control.pong.timestamp.nanos == 500_000_000


def test_bytes_may_arrive_one_at_a_time() -> None:
    client, server = pair()
    handshake(client, server)
    data = client.cast(7, b"abc", "Note") + client.spawn([(7, "n")])
    events: list[Any] = []
    for i in range(len(data)):
        events += server.receive_data(data[i : i + 1])
    assert events[0] == ("cast", 7, b"abc", "Note", 0, None, None)
    assert isinstance(events[1], Spawned)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(frame(node=node_pb2.NodeMessage(cast=node_pb2.Cast(to=1))), id="node"),
        pytest.param(control(ready=control_pb2.Ready()), id="control"),
    ],
)
def test_a_message_before_authentication_ends_the_session(data: bytes) -> None:
    _, server = pair()
    (failed,) = server.receive_data(data)
    assert isinstance(failed, Failed) and failed.reason == "message_before_authentication"
    assert server.state is SessionState.CLOSED
    assert server.receive_data(data) == []


def test_a_node_message_in_an_unusual_encoding_before_authentication_ends_it_too() -> None:
    from ractor_cluster._wire import encode_cast

    _, server = pair()
    payload = b"\x78\x00" + encode_cast(1, b"", "Add")  # an unknown field first
    (failed,) = server.receive_data(struct.pack(">Q", len(payload)) + payload)
    assert isinstance(failed, Failed) and failed.reason == "message_before_authentication"


def test_a_peer_cannot_list_more_nodes_to_dial_than_the_limit() -> None:
    client, server = pair()
    handshake(client, server)
    (failed,) = client.receive_data(server.sessions([name(f"n{i}") for i in range(1025)]))
    assert isinstance(failed, Failed) and failed.reason == "limit_exceeded"


def test_an_unknown_top_level_field_is_ignored_before_and_after_authentication() -> None:
    client, server = pair()
    unknown = struct.pack(">Q", 3) + b"\x3a\x01\x00"  # field 7: a newer peer's message
    assert server.receive_data(unknown) == []
    handshake(client, server)
    assert server.receive_data(unknown + client.cast(1, b"", "X"))[0][0] == "cast"


def test_an_oversized_length_prefix_fails_after_the_frames_before_it() -> None:
    client, server = pair(PeerLimits(max_frame_size=100))
    handshake(client, server)
    events = server.receive_data(client.cast(1, b"", "X") + struct.pack(">Q", 101))
    assert events[0][0] == "cast"  # type: ignore[index]
    assert isinstance(events[1], Failed) and events[1].reason == "frame_read_error"


def test_malformed_protobuf_ends_the_session() -> None:
    _, server = pair()
    (failed,) = server.receive_data(struct.pack(">Q", 5) + b"\x0a\x05\xff\xff\xff")
    assert isinstance(failed, Failed) and failed.reason == "frame_read_error"


def test_a_wrong_cookie_fails_the_handshake() -> None:
    client = SessionProtocol(is_server=False, cookie="right", own=name("client", 1))
    server = SessionProtocol(is_server=True, cookie="wrong", own=name("server"))
    server.receive_data(client.start())
    server.checked(OK)
    client.receive_data(server.data_to_send())
    (failed,) = server.receive_data(client.data_to_send())
    assert isinstance(failed, Failed) and failed.reason == "auth_fail"
    assert "wrong cookie" in failed.detail


def test_a_node_that_dials_itself_is_told_so() -> None:
    server = SessionProtocol(is_server=True, cookie="c", own=name("same"))
    client = SessionProtocol(is_server=False, cookie="c", own=name("same", 3))
    events = server.receive_data(client.start())
    assert events == [Failed("self_connection", "the peer is this node")]


def test_a_node_name_over_the_limit_ends_the_session_before_it_is_logged_in_full() -> None:
    server = SessionProtocol(is_server=True, cookie="c", own=name("server"),
                             limits=PeerLimits(max_name_length=64))
    long = auth_pb2.NameMessage(name="x" * 10_000, connection_string="h:1")
    (failed,) = server.receive_data(frame(auth=auth_pb2.AuthenticationMessage(name=long)))
    assert isinstance(failed, Failed) and failed.reason == "limit_exceeded"
    assert len(failed.detail) < 400 and "10000 characters" in failed.detail


def test_a_group_name_over_the_limit_ends_the_session() -> None:
    client, server = pair(PeerLimits(max_name_length=30))
    handshake(client, server)
    (failed,) = server.receive_data(client.pg_join("s", "g" * 31, [(1, None)]))
    assert isinstance(failed, Failed) and failed.reason == "limit_exceeded"


def test_transitive_enumeration_round_trips() -> None:
    client, server = pair()
    handshake(client, server)
    (asked,) = server.receive_data(client.enumerate_sessions())
    assert isinstance(asked, SessionsRequested) and asked.asker.connection_id == 0
    (offered,) = client.receive_data(server.sessions([name("third", 5)]))
    assert isinstance(offered, SessionsOffered)
    assert [(s.name, s.connection_id) for s in offered.sessions] == [("third@localhost", 0)]


def test_control_commands_need_an_elected_session() -> None:
    client, _ = pair()
    with pytest.raises(LocalProtocolError):
        client.spawn([(1, None)])
    with pytest.raises(LocalProtocolError):
        client.ready()


def test_a_server_does_not_speak_first() -> None:
    _, server = pair()
    with pytest.raises(LocalProtocolError):
        server.start()


def test_bounded_escapes_and_cuts_peer_text() -> None:
    assert bounded("ok") == "ok"
    assert bounded("a\nb\x1b[31m") == "a\\nb\\x1b[31m"
    cut = bounded("y" * 1000, 10)
    assert cut.startswith("y" * 10 + "...") and "1000 characters" in cut
