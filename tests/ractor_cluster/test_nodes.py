"""Nodes as real OS processes on loopback: handshake, sync, casts and calls, failures."""

from __future__ import annotations

import json
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import pytest

from ractor_cluster.protocol import auth_pb2, meta_pb2, node_pb2

from .harness import NodeProcess, connected, sees

pytestmark = pytest.mark.timeout(120)


def test_two_nodes_authenticate_and_report_their_events(nodes: Callable[..., NodeProcess]) -> None:
    a, b = nodes("a"), nodes("b")
    a.rpc("connect", address=b.address)
    connected(a, b)
    for node, peer in ((a, b), (b, a)):
        node.expect(lambda e, p=peer: e["event"] == "opened")
        node.expect(lambda e, p=peer: e["event"] == "authenticated" and e["peer"] == p.full_name)
        node.expect(lambda e, p=peer: e["event"] == "ready" and e["peer"] == p.full_name)
    assert a.rpc("ready") == [True]
    assert b.rpc("ready") == [True]


def test_casts_and_calls_flow_both_ways_with_typed_replies(
    nodes: Callable[..., NodeProcess],
) -> None:
    a, b = nodes("a"), nodes("b")
    a.rpc("connect", address=b.address)
    sees(a, "counter-b")
    sees(b, "counter-a")
    for i in range(1, 101):
        a.rpc("cast", to="counter-b", msg="add", n=i)
    assert a.rpc("call", to="counter-b", msg="get", timeout=5) == 5050
    b.rpc("cast", to="counter-a", msg="note", text="héllo")
    b.rpc("cast", to="counter-a", msg="note", text="wörld!")
    assert b.rpc("call", to="counter-a", msg="notes", timeout=5) == [5, 6]
    assert b.rpc("call", to="counter-a", msg="echo", text="∑ round trip", timeout=5) == (
        "∑ round trip"
    )
    a.rpc("cast", to="counter-b", msg="mixed", small=255, big=(1 << 128) - 1, ratio=-0.5,
          letter="ß", flags=[True, False], raw="00ff")
    summary = json.loads(a.rpc("call", to="counter-b", msg="summary", timeout=5))
    assert summary["total"] == 5050
    assert "big=340282366920938463463374607431768211455" in summary["mixed"][0]
    assert "letter='ß'" in summary["mixed"][0]


def test_three_nodes_reach_each_other(nodes: Callable[..., NodeProcess]) -> None:
    a, b, c = nodes("a"), nodes("b"), nodes("c")
    b.rpc("connect", address=a.address)
    c.rpc("connect", address=a.address)
    c.rpc("connect", address=b.address)
    for node, others in ((a, "bc"), (b, "ac"), (c, "ab")):
        for other in others:
            sees(node, f"counter-{other}")
    a.rpc("cast", to="counter-c", msg="add", n=2)
    b.rpc("cast", to="counter-c", msg="add", n=3)
    assert c.rpc("call", to="counter-a", msg="echo", text="from c", timeout=5) == "from c"
    c.wait_for(lambda: a.rpc("call", to="counter-c", msg="get", timeout=5) == 5, what="sum")


def test_a_wrong_cookie_is_refused_and_nothing_is_shared(
    nodes: Callable[..., NodeProcess],
) -> None:
    a, b = nodes("a"), nodes("b", cookie="other")
    a.rpc("connect", address=b.address)
    a.expect(lambda e: e["event"] == "disconnected")
    b.expect(lambda e: e["event"] == "disconnected")
    assert a.rpc("sessions") == []
    assert b.rpc("sessions") == []
    assert a.rpc("remote_actors") == []
    assert not any(e["event"] == "authenticated" for e in a.events + b.events)


def test_a_node_killed_mid_call_fails_the_call_promptly(nodes: Callable[..., NodeProcess]) -> None:
    a, b = nodes("a"), nodes("b")
    a.rpc("connect", address=b.address)
    sees(a, "counter-b")
    assert a.try_rpc is not None
    ident_reply: dict[str, Any] = {}

    import threading

    def slow_call() -> None:
        started = time.monotonic()
        reply = a.try_rpc("call", to="counter-b", msg="slow", ms=20_000, timeout=30)
        ident_reply.update(reply, elapsed=time.monotonic() - started)

    caller = threading.Thread(target=slow_call)
    caller.start()
    time.sleep(0.5)
    b.kill()
    caller.join(15)
    assert not caller.is_alive()
    assert ident_reply["ok"] is False
    assert ident_reply["error"] == "ReplyDropped"
    assert ident_reply["elapsed"] < 5
    a.expect(lambda e: e["event"] == "disconnected" and e["peer"] == "b@localhost")
    assert a.rpc("remote_actors") == []


def test_a_restarted_peer_can_reconnect(nodes: Callable[..., NodeProcess]) -> None:
    a, b = nodes("a"), nodes("b")
    a.rpc("connect", address=b.address)
    sees(a, "counter-b")
    assert b.terminate() == 0
    a.expect(lambda e: e["event"] == "disconnected")
    a.wait_for(lambda: a.rpc("remote_actors") == [], what="proxies gone")
    b2 = nodes("b")
    a.rpc("connect", address=b2.address)
    sees(a, "counter-b")
    assert a.rpc("call", to="counter-b", msg="echo", text="again", timeout=5) == "again"


def test_a_node_stops_cleanly_on_sigterm(nodes: Callable[..., NodeProcess]) -> None:
    a, b = nodes("a"), nodes("b")
    a.rpc("connect", address=b.address)
    connected(a, b)
    assert a.terminate() == 0
    b.expect(lambda e: e["event"] == "disconnected" and e["peer"] == "a@localhost")


# ------------------------------------------------------------------ bad input, raw sockets


def _raw(node: NodeProcess) -> socket.socket:
    host, port = node.address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.settimeout(5)
    return sock


def _closed_by_peer(sock: socket.socket, timeout: float = 5) -> bool:
    sock.settimeout(timeout)
    try:
        while True:
            data = sock.recv(65536)
            if not data:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def _frame(msg: meta_pb2.NetworkMessage) -> bytes:
    body = msg.SerializeToString()
    return struct.pack(">Q", len(body)) + body


def _still_serving(a: NodeProcess, helper: NodeProcess) -> None:
    helper.rpc("connect", address=a.address)
    sees(helper, "counter-a")
    assert helper.rpc("call", to="counter-a", msg="echo", text="alive", timeout=5) == "alive"


def test_a_silent_client_is_dropped_by_the_handshake_timeout(
    nodes: Callable[..., NodeProcess],
) -> None:
    a = nodes("a", extra=["--handshake-timeout", "0.5"])
    with _raw(a) as sock:
        started = time.monotonic()
        assert _closed_by_peer(sock, timeout=5)
        assert 0.3 < time.monotonic() - started < 4
    _still_serving(a, nodes("helper"))


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"\xff" * 64, id="garbage"),
        pytest.param(struct.pack(">Q", 17 * 1024 * 1024), id="oversized-length-prefix"),
        pytest.param(struct.pack(">Q", 5) + b"\x0a\x05\xff\xff\xff", id="malformed-protobuf"),
        pytest.param(
            _frame(meta_pb2.NetworkMessage(node=node_pb2.NodeMessage(
                cast=node_pb2.Cast(to=1, variant="Add", what=b"")))),
            id="node-message-before-auth",
        ),
        pytest.param(
            _frame(meta_pb2.NetworkMessage(auth=auth_pb2.AuthenticationMessage(
                client_challenge=auth_pb2.ChallengeReply(challenge=1, digest=b"x" * 32)))),
            id="challenge-reply-before-name",
        ),
    ],
)
def test_bad_input_ends_only_that_session(
    nodes: Callable[..., NodeProcess], payload: bytes
) -> None:
    a = nodes("a", extra=["--handshake-timeout", "2"])
    with _raw(a) as sock:
        started = time.monotonic()
        sock.sendall(payload)
        assert _closed_by_peer(sock, timeout=5)
        assert time.monotonic() - started < 1.5  # at once, not by the 2 s handshake timeout
    _still_serving(a, nodes("helper"))


def test_a_frame_with_an_unknown_top_level_field_is_ignored_as_rust_does(
    nodes: Callable[..., NodeProcess],
) -> None:
    a = nodes("a")
    with _raw(a) as sock:
        # field 7 (a newer peer's message), then an ordinary Name: the handshake goes on
        sock.sendall(struct.pack(">Q", 3) + b"\x3a\x01\x00")
        name = auth_pb2.NameMessage(name="raw@localhost", connection_string="raw:1",
                                    connection_id=7)
        sock.sendall(_frame(meta_pb2.NetworkMessage(
            auth=auth_pb2.AuthenticationMessage(name=name))))
        (size,) = struct.unpack(">Q", _recv_exactly(sock, 8))
        status = meta_pb2.NetworkMessage.FromString(_recv_exactly(sock, size))
        assert status.auth.WhichOneof("msg") == "server_status"


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "the node closed the connection"
        data += chunk
    return data


def test_a_remote_call_past_its_timeout_fails_cleanly_and_the_late_reply_is_ignored(
    nodes: Callable[..., NodeProcess],
) -> None:
    a, b = nodes("a"), nodes("b")
    a.rpc("connect", address=b.address)
    sees(a, "counter-b")
    started = time.monotonic()
    reply = a.try_rpc("call", to="counter-b", msg="slow", ms=600, timeout=0.1)
    assert reply["ok"] is False and reply["error"] == "CallTimeout"
    assert time.monotonic() - started < 0.5
    time.sleep(0.7)  # the late reply (if any) arrives and must be ignored
    assert a.rpc("call", to="counter-b", msg="echo", text="still fine", timeout=5) == "still fine"


def test_inspect_lists_a_nodes_sessions_actors_and_groups(
    nodes: Callable[..., NodeProcess], tmp_path: Any
) -> None:
    import subprocess
    import sys

    from .harness import ROOT

    a, b = nodes("a"), nodes("b")
    a.rpc("connect", address=b.address)
    connected(a, b)
    cookie = tmp_path / "cookie"
    cookie.write_text("cookie\n")
    result = subprocess.run(
        [sys.executable, "-m", "ractor_cluster", "inspect", a.address, "--cookie-file",
         str(cookie)],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert f"peer a@localhost at {a.address}" in out
    assert "name counter-a" in out and "name hello-a" in out
    assert "__default_scope__/test: pids" in out
    wrong = tmp_path / "wrong"
    wrong.write_text("nope")
    refused = subprocess.run(
        [sys.executable, "-m", "ractor_cluster", "inspect", a.address, "--cookie-file",
         str(wrong), "--timeout", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=30,
    )
    assert refused.returncode == 1
    assert "could not authenticate" in refused.stderr


def test_remote_actors_cost_no_tasks_on_the_node_that_sees_them(
    nodes: Callable[..., NodeProcess],
) -> None:
    a, b = nodes("a"), nodes("b")
    assert a.rpc("spawn_many", n=3000) == 3000
    before = b.rpc("task_count")
    b.rpc("connect", address=a.address)
    connected(a, b)
    b.wait_for(lambda: b.rpc("remote_count") >= 3000, 30, "b learns a's 3,000 actors")
    # a session costs a few tasks; its peer's 3,000 actors cost none
    assert b.rpc("task_count") - before < 10


def test_a_monitor_of_a_remote_actor_hears_why_it_went_away(
    nodes: Callable[..., NodeProcess],
) -> None:
    a, b = nodes("a"), nodes("b")
    a.rpc("spawn", name="short-lived")
    a.rpc("connect", address=b.address)
    sees(b, "short-lived")
    sees(b, "counter-a")
    b.rpc("monitor_remote", to="short-lived")
    b.rpc("monitor_remote", to="counter-a")
    a.rpc("stop", name="short-lived")
    b.wait_for(lambda: b.rpc("watched") == ["remote_stopped"], 10, "the Terminate is heard")
    a.kill()
    b.wait_for(lambda: len(b.rpc("watched")) == 2, 10, "the lost connection is heard")
    assert b.rpc("watched") == ["remote_stopped", "connection_lost: channel_closed"]
