"""Python nodes and Rust ractor_cluster 0.16.5 nodes in one cluster (PROTOCOL.md section 9).

The Rust node is tests/interop/rust_peer (`peer`), built with cargo from crates.io (by
bash .ci/run, before the tests; see cargo.py); it hosts the same actors as the Python test
node and answers the same commands, so each scenario runs with real processes on loopback.
Without the built peer the suite is skipped with the reason and the command that builds it.
"""

from __future__ import annotations

import json
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import trustme

from ractor_cluster.protocol import auth_pb2, control_pb2, meta_pb2, node_pb2

from ..ractor_cluster.harness import NodeProcess, connected, members, sees
from .raw import RawClient, RawServer, frame

pytestmark = pytest.mark.timeout(600)  # the first test builds the peer if RACTOR_INTEROP_BUILD=1

Factory = Callable[..., NodeProcess]


# ------------------------------------------------------------------ 1-4: handshakes


def test_a_python_client_authenticates_with_a_rust_server(py: Factory, rs: Factory) -> None:
    rust, python = rs("b"), py("a")
    python.rpc("connect", address=rust.address)
    connected(python, rust)
    for node, peer in ((python, rust), (rust, python)):
        node.expect(lambda e, p=peer: e["event"] == "authenticated" and e["peer"] == p.full_name)
        node.expect(lambda e, p=peer: e["event"] == "ready" and e["peer"] == p.full_name)
    assert rust.rpc("ready") == [True]
    assert python.rpc("ready") == [True]


def test_a_rust_client_authenticates_with_a_python_server(py: Factory, rs: Factory) -> None:
    python, rust = py("a"), rs("b")
    rust.rpc("connect", address=python.address)
    connected(python, rust)
    rust.expect(lambda e: e["event"] == "ready" and e["peer"] == "a@localhost")
    python.expect(lambda e: e["event"] == "ready" and e["peer"] == "b@localhost")
    assert python.rpc("session_details") == [["b@localhost", True]]
    assert rust.rpc("ready") == [True]


@pytest.mark.parametrize("python_dials", [True, False], ids=["py-to-rust", "rust-to-py"])
def test_a_wrong_cookie_is_refused_in_both_directions(
    py: Factory, rs: Factory, python_dials: bool
) -> None:
    python, rust = py("a", cookie="one"), rs("b", cookie="two")
    dialer, server = (python, rust) if python_dials else (rust, python)
    dialer.rpc("connect", address=server.address)
    dialer.expect(lambda e: e["event"] == "disconnected")
    server.expect(lambda e: e["event"] == "disconnected")
    assert python.rpc("sessions") == [] and rust.rpc("sessions") == []
    assert not any(e["event"] == "authenticated" for e in python.events + rust.events)


def test_our_digest_is_accepted_by_rust_for_a_random_challenge(rs: Factory) -> None:
    rust = rs("b")
    client = RawClient(rust.address)
    try:
        client.authenticate()
        client.wait_for_control("ready")
    finally:
        client.close()


# ------------------------------------------------------------------ 6-8: frames


def _counter_pid(controls: list[control_pb2.ControlMessage], name: str) -> int:
    for control in controls:
        if control.WhichOneof("msg") == "spawn":
            for actor in control.spawn.actors:
                if actor.name == name:
                    return int(actor.pid)
    raise AssertionError(f"{name} was not in Rust's Spawn")


def _add(pid: int, n: int) -> bytes:
    what = struct.pack(">Q", 8) + struct.pack(">q", n)
    cast = node_pb2.Cast(to=pid, variant="Add", what=what)
    return frame(meta_pb2.NetworkMessage(node=node_pb2.NodeMessage(cast=cast)))


def test_rust_reads_batched_and_split_frames_and_we_split_its_burst(rs: Factory) -> None:
    rust = rs("b")
    client = RawClient(rust.address)
    try:
        client.authenticate(byte_by_byte=True)  # every handshake frame one byte at a time
        controls = client.wait_for_control("ready")  # Ack, Spawn, PgJoin..., Ready: split here
        kinds = [c.WhichOneof("msg") for c in controls]
        assert kinds[0] == "spawn" and "pg_join" in kinds and kinds[-1] == "ready"
        pid = _counter_pid(controls, "counter-b")
        client.ready()
        client.send(_add(pid, 1) + _add(pid, 2) + _add(pid, 3))  # three frames, one write
        client.send(_add(pid, 4), byte_by_byte=True)
        rust.wait_for(lambda: rust.rpc("local_summary", name="counter-b")["total"] == 10,
                      what="all four casts handled")
    finally:
        client.close()


def _note_of_payload_size(pid: int, size: int) -> bytes:
    """A Note cast whose NetworkMessage payload is exactly ``size`` bytes."""
    text_len = size
    while True:
        what = struct.pack(">Q", text_len) + b"x" * text_len
        cast = node_pb2.Cast(to=pid, variant="Note", what=what)
        body = meta_pb2.NetworkMessage(node=node_pb2.NodeMessage(cast=cast)).SerializeToString()
        if len(body) == size:
            return struct.pack(">Q", size) + body
        text_len -= len(body) - size


def test_the_16_mib_frame_limit_is_inclusive_on_rust_as_on_python(rs: Factory) -> None:
    limit = 16 * 1024 * 1024
    rust = rs("b")
    client = RawClient(rust.address)
    try:
        client.authenticate()
        pid = _counter_pid(client.wait_for_control("ready"), "counter-b")
        client.ready()
        client.send(_note_of_payload_size(pid, limit))
        client.send(_add(pid, 7))
        rust.wait_for(
            lambda: rust.rpc("local_summary", name="counter-b", wait=60)["total"] == 7,
            timeout=30, what="the frame at the limit was accepted",
        )
        try:
            client.send(_note_of_payload_size(pid, limit + 1))
        except (BrokenPipeError, ConnectionResetError):
            pass  # Rust dropped us on the length prefix, before the payload was written
        else:
            assert client.closed_by_peer(timeout=10)
    finally:
        client.close()
    rust.expect(lambda e: e["event"] == "disconnected" and e["peer"] == "raw@localhost")


def test_a_malformed_protobuf_frame_drops_the_connection_on_rust(rs: Factory) -> None:
    rust = rs("b")
    client = RawClient(rust.address)
    try:
        client.authenticate()
        client.wait_for_control("ready")
        client.send(struct.pack(">Q", 5) + b"\x12\x05\xff\xff\xff")
        assert client.closed_by_peer(timeout=5)
    finally:
        client.close()
    rust.expect(lambda e: e["event"] == "disconnected" and e["peer"] == "raw@localhost")


# ------------------------------------------------------------------ 9-14: sync and messaging


def test_spawn_sync_shows_every_actor_with_its_name_both_ways(py: Factory, rs: Factory) -> None:
    python, rust = py("a"), rs("b")
    python.rpc("connect", address=rust.address)
    for name in ("counter-b", "hello-b", "strings-b"):
        sees(python, name)
    for name in ("counter-a", "hello-a", "strings-a"):
        sees(rust, name)


def test_groups_sync_both_ways_with_live_joins_and_leaves(py: Factory, rs: Factory) -> None:
    python, rust = py("a"), rs("b")
    rust.rpc("connect", address=python.address)
    for node in (python, rust):
        node.wait_for(lambda n=node: len(members(n, "test")) == 2, what="both counters")
    assert members(python, "test") == [["counter-a", True], ["counter-b", False]]
    for owner, watcher in ((rust, python), (python, rust)):
        owner.rpc("spawn", name=f"worker-{owner.name}", groups=["jobs"], scope="east")
        expected = [[f"worker-{owner.name}", False]]
        watcher.wait_for(lambda w=watcher, e=expected: members(w, "jobs", "east") == e,
                         what="live join")
        owner.rpc("leave", name=f"worker-{owner.name}", group="jobs", scope="east")
        watcher.wait_for(lambda w=watcher: members(w, "jobs", "east") == [], what="leave")


def test_the_upstream_pg_groups_ping_pong_finishes_in_time(py: Factory, rs: Factory) -> None:
    python, rust = py("a"), rs("b")
    python.rpc("connect", address=rust.address)
    for node in (python, rust):
        node.wait_for(lambda n=node: len(members(n, "hello")) == 2, what="hello group")
    started = time.monotonic()
    python.rpc("hello_start")
    rust.rpc("hello_start")
    for node in (python, rust):
        node.wait_for(lambda n=node: n.rpc("hello_done") is True, timeout=5, what="done")
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("python_calls", [True, False], ids=["py-to-rust", "rust-to-py"])
def test_casts_and_calls_carry_every_type_both_ways(
    py: Factory, rs: Factory, python_calls: bool
) -> None:
    python, rust = py("a"), rs("b")
    python.rpc("connect", address=rust.address)
    caller, callee = (python, rust) if python_calls else (rust, python)
    to = f"counter-{callee.name}"
    sees(caller, to)
    for n in (1, -2, 3, 2**62):
        caller.rpc("cast", to=to, msg="add", n=n)
    assert caller.rpc("call", to=to, msg="get", timeout=5) == 2 + 2**62
    caller.rpc("cast", to=to, msg="note", text="héllo wörld €")
    caller.rpc("cast", to=to, msg="note", text="😀")
    assert caller.rpc("call", to=to, msg="notes", timeout=5) == [13, 1]
    echoed = caller.rpc("call", to=to, msg="echo", text="∑ round trip", timeout=5)
    assert echoed == "∑ round trip"
    assert caller.rpc("call", to=to, msg="slow", ms=10, timeout=5) is True
    assert caller.rpc("call", to=to, msg="bytes", count=3, text="ab", timeout=5) == (
        b"ababab".hex()
    )
    caller.rpc("cast", to=to, msg="mixed", small=255, big=2**128 - 1, ratio=-0.5, letter="ß",
               flags=[True, False, True], raw="00ff10")
    summary = json.loads(caller.rpc("call", to=to, msg="summary"))
    assert summary["total"] == 2 + 2**62
    assert summary["notes"] == ["héllo wörld €", "😀"]
    assert summary["mixed"] == [
        f"Mixed(small=255 big={2**128 - 1} ratio=-0.5 letter='ß' flags=[true,false,true] "
        "raw=00ff10)"
    ]


@pytest.mark.parametrize("python_calls", [True, False], ids=["py-to-rust", "rust-to-py"])
def test_a_call_past_its_timeout_fails_cleanly_both_ways(
    py: Factory, rs: Factory, python_calls: bool
) -> None:
    python, rust = py("a"), rs("b")
    python.rpc("connect", address=rust.address)
    caller, callee = (python, rust) if python_calls else (rust, python)
    to = f"counter-{callee.name}"
    sees(caller, to)
    reply = caller.try_rpc("call", to=to, msg="slow", ms=800, timeout=0.2)
    assert reply["ok"] is False and reply["error"] == "CallTimeout"
    time.sleep(1)  # the late reply must not upset anything
    assert caller.rpc("call", to=to, msg="echo", text="after", timeout=5) == "after"


def test_plain_string_messages_cross_both_ways(py: Factory, rs: Factory) -> None:
    python, rust = py("a"), rs("b")
    python.rpc("connect", address=rust.address)
    sees(python, "strings-b")
    sees(rust, "strings-a")
    python.rpc("cast_string", to="strings-b", text="from python ✓")
    rust.rpc("cast_string", to="strings-a", text="from rust ✓")
    rust.wait_for(lambda: rust.rpc("strings") == ["from python ✓"], what="rust got it")
    python.wait_for(lambda: python.rpc("strings") == ["from rust ✓"], what="python got it")


# ------------------------------------------------------------------ 17-20: lifecycle


@pytest.mark.parametrize("owner_is_rust", [True, False], ids=["rust-actor", "python-actor"])
def test_a_stopped_actor_leaves_the_other_side(
    py: Factory, rs: Factory, owner_is_rust: bool
) -> None:
    python, rust = py("a"), rs("b")
    python.rpc("connect", address=rust.address)
    owner, watcher = (rust, python) if owner_is_rust else (python, rust)
    owner.rpc("spawn", name="worker", groups=["jobs"])
    watcher.wait_for(lambda: members(watcher, "jobs") == [["worker", False]], what="joined")
    sees(watcher, "worker")
    owner.rpc("stop", name="worker")
    watcher.wait_for(lambda: members(watcher, "jobs") == [], what="left the group")
    watcher.wait_for(
        lambda: "worker" not in [n for _, n in watcher.rpc("remote_actors")], what="proxy gone"
    )


def test_pings_are_answered_both_ways_so_liveness_holds(py: Factory, rs: Factory) -> None:
    python, rust = py("a", extra=["--liveness", "1.0"]), rs("b")
    python.rpc("connect", address=rust.address)
    connected(python, rust)
    time.sleep(3)  # three liveness periods: only Rust's Pongs keep the session alive
    assert python.rpc("sessions") == ["b@localhost"]
    assert not any(e["event"] == "disconnected" for e in python.events + rust.events)


@pytest.mark.parametrize("killed_is_rust", [True, False], ids=["kill-rust", "kill-python"])
def test_a_killed_node_is_cleaned_up_by_the_survivor(
    py: Factory, rs: Factory, killed_is_rust: bool
) -> None:
    python, rust = py("a"), rs("b")
    python.rpc("connect", address=rust.address)
    for node in (python, rust):
        node.wait_for(lambda n=node: len(members(n, "test")) == 2, what="both counters")
    killed, survivor = (rust, python) if killed_is_rust else (python, rust)
    killed.kill()
    survivor.expect(lambda e: e["event"] == "disconnected" and e["peer"] == killed.full_name)
    survivor.wait_for(
        lambda: members(survivor, "test") == [[f"counter-{survivor.name}", True]],
        what="the dead node's members gone",
    )
    assert survivor.rpc("remote_actors") == []


def test_simultaneous_connects_converge_on_the_higher_names_connection(
    py: Factory, rs: Factory
) -> None:
    python, rust = py("a"), rs("b")
    threads = [
        threading.Thread(target=python.rpc, args=("connect",), kwargs={"address": rust.address}),
        threading.Thread(target=rust.rpc, args=("connect",), kwargs={"address": python.address}),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    connected(python, rust)
    time.sleep(1)
    # "b@localhost" sorts higher, so both keep the connection the Rust node initiated
    assert python.rpc("session_details") == [["b@localhost", True]]
    assert rust.rpc("session_details") == [["a@localhost", False]]
    assert python.rpc("call", to="counter-b", msg="echo", text="one", timeout=5) == "one"


# ------------------------------------------------------------------ 25-26: mesh and TLS


def test_a_rust_transitive_node_dials_the_peers_a_python_hub_knows(
    py: Factory, rs: Factory
) -> None:
    hub, far = py("a"), rs("b")
    far.rpc("connect", address=hub.address)
    connected(hub, far)
    newcomer = rs("c", extra=["--transitive"])
    newcomer.rpc("connect", address=hub.address)
    newcomer.wait_for(lambda: newcomer.rpc("sessions") == ["a@localhost", "b@localhost"],
                      what="the mesh")


def test_a_python_transitive_node_dials_the_peers_a_rust_hub_knows(
    py: Factory, rs: Factory
) -> None:
    hub, far = rs("a"), py("b")
    far.rpc("connect", address=hub.address)
    connected(hub, far)
    newcomer = py("c", extra=["--transitive"])
    newcomer.rpc("connect", address=hub.address)
    newcomer.wait_for(lambda: newcomer.rpc("sessions") == ["a@localhost", "b@localhost"],
                      what="the mesh")
    sees(newcomer, "counter-b")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    ca = trustme.CA()
    folder = tmp_path_factory.mktemp("tls")
    server = ca.issue_cert("testserver.com")
    paths = {"ca": folder / "ca.pem", "chain": folder / "chain.pem", "key": folder / "key.pem"}
    ca.cert_pem.write_to_path(str(paths["ca"]))
    server.private_key_and_cert_chain_pem.write_to_path(str(paths["chain"]))
    server.private_key_pem.write_to_path(str(paths["key"]))
    return {k: str(v) for k, v in paths.items()}


@pytest.mark.parametrize("python_is_server", [True, False], ids=["rust-to-py", "py-to-rust"])
def test_tls_connections_authenticate_both_ways(
    py: Factory, rs: Factory, certs: dict[str, str], python_is_server: bool
) -> None:
    server_flags = ["--tls-cert", certs["chain"], "--tls-key", certs["key"]]
    client_env = {"RACTOR_TEST_TLS_CA": certs["ca"],
                  "RACTOR_TEST_TLS_SERVER_NAME": "testserver.com"}
    if python_is_server:
        server, client = py("a", extra=server_flags), rs("b", env=client_env)
    else:
        server, client = rs("a", extra=server_flags), py("b", env=client_env)
    client.rpc("connect", address=server.address)
    connected(client, server)
    sees(client, "counter-a")
    assert client.rpc("call", to="counter-a", msg="echo", text="tls", timeout=5) == "tls"


# ------------------------------------------------------------------ frame-level extras


def _call(pid: int, tag: int, variant: str, what: bytes, timeout_ms: int = 500) -> bytes:
    call = node_pb2.Call(to=pid, tag=tag, variant=variant, what=what, timeout_ms=timeout_ms)
    return frame(meta_pb2.NetworkMessage(node=node_pb2.NodeMessage(call=call)))


def _replies(client: RawClient, timeout: float) -> list[node_pb2.CallReply]:
    got: list[node_pb2.CallReply] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            msg = client.receive(max(0.01, deadline - time.monotonic()))
        except TimeoutError:
            break
        if msg is None:
            break
        if msg.WhichOneof("message") == "node" and msg.node.WhichOneof("msg") == "reply":
            got.append(msg.node.reply)
    return got


def _echo_args(text: str) -> bytes:
    data = text.encode()
    return struct.pack(">Q", len(data)) + data


def test_rust_tags_its_calls_from_1_upwards_and_takes_our_replies(rs: Factory) -> None:
    rust = rs("b")
    server = RawServer()
    try:
        rust.rpc("connect", address=server.address)
        conn = server.accept()
        server.authenticate(conn)
        conn.wait_for_control("ready")
        advertised = control_pb2.Spawn(actors=[control_pb2.Actor(pid=1, name="counter-x")])
        conn.send(frame(meta_pb2.NetworkMessage(control=control_pb2.ControlMessage(
            spawn=advertised))))
        conn.send(frame(meta_pb2.NetworkMessage(control=control_pb2.ControlMessage(
            ready=control_pb2.Ready()))))
        sees(rust, "counter-x")
        for expected_tag, text in ((1, "first"), (2, "second"), (3, "third")):
            answer: dict[str, Any] = {}
            caller = threading.Thread(target=lambda t=text, a=answer: a.update(
                rust.try_rpc("call", to="counter-x", msg="echo", text=t, timeout=5)))
            caller.start()
            deadline = time.monotonic() + 5
            call = None
            while call is None and time.monotonic() < deadline:
                msg = conn.receive(5)
                assert msg is not None
                if msg.WhichOneof("message") == "node":
                    call = msg.node.call
            assert call is not None
            assert (call.to, call.tag, call.variant) == (1, expected_tag, "Echo")
            assert call.HasField("timeout_ms") and call.timeout_ms == 5000
            assert call.what == _echo_args(text)
            reply = node_pb2.CallReply(to=call.to, tag=call.tag, what=text.encode())
            conn.send(frame(meta_pb2.NetworkMessage(node=node_pb2.NodeMessage(reply=reply))))
            caller.join(10)
            assert answer == {"id": answer.get("id"), "ok": True, "result": text}
    finally:
        server.close()


def test_calls_rust_cannot_deliver_get_no_reply_and_its_actor_keeps_running(rs: Factory) -> None:
    rust = rs("b")
    client = RawClient(rust.address)
    try:
        client.authenticate()
        pid = _counter_pid(client.wait_for_control("ready"), "counter-b")
        client.ready()
        client.send(_call(999_999, 1, "Echo", _echo_args("nobody")))  # an unadvertised pid
        client.send(_call(pid, 2, "NoSuchVariant", b""))  # an unknown variant
        client.send(_call(pid, 3, "Echo", _echo_args("x") + b"\x00"))  # trailing bytes
        assert _replies(client, 1.0) == []
        client.send(_call(pid, 4, "Echo", _echo_args("alive")))
        (reply,) = _replies(client, 2.0)
        assert (reply.to, reply.tag, reply.what) == (pid, 4, b"alive")
    finally:
        client.close()


def test_without_our_ready_rust_still_serves_calls_but_reports_not_ready(rs: Factory) -> None:
    rust = rs("b")
    client = RawClient(rust.address)
    try:
        client.authenticate()
        pid = _counter_pid(client.wait_for_control("ready"), "counter-b")
        client.send(_call(pid, 1, "Echo", _echo_args("no ready")))
        (reply,) = _replies(client, 2.0)
        assert reply.what == b"no ready"
        assert rust.rpc("ready") == [False]
    finally:
        client.close()


def test_rust_drops_a_client_that_answers_before_naming_itself(rs: Factory) -> None:
    rust = rs("b")
    client = RawClient(rust.address)
    try:
        reply = auth_pb2.ChallengeReply(challenge=1, digest=b"\x00" * 32)
        client.send(frame(meta_pb2.NetworkMessage(
            auth=auth_pb2.AuthenticationMessage(client_challenge=reply))))
        assert client.closed_by_peer(timeout=5)
    finally:
        client.close()


def test_a_rust_client_drops_a_server_that_challenges_before_its_status(rs: Factory) -> None:
    rust = rs("b")
    server = RawServer()
    try:
        rust.rpc("connect", address=server.address)
        conn = server.accept()
        msg = conn.receive(5)
        assert msg is not None and msg.auth.WhichOneof("msg") == "name"
        challenge = auth_pb2.Challenge(name=server.own.name, flags=server.own.flags,
                                       challenge=7, connection_string=server.address)
        conn.send(frame(meta_pb2.NetworkMessage(
            auth=auth_pb2.AuthenticationMessage(server_challenge=challenge))))
        assert conn.closed_by_peer(timeout=5)
    finally:
        server.close()
    rust.expect(lambda e: e["event"] == "disconnected")


def test_rust_refuses_a_client_that_claims_its_own_name(rs: Factory) -> None:
    rust = rs("b")
    client = RawClient(rust.address, name="b@localhost")
    try:
        with pytest.raises(ConnectionError):
            client.authenticate()
            client.wait_for_control("ready", timeout=2)
    finally:
        client.close()
    assert rust.rpc("sessions") == []


@pytest.mark.parametrize("python_is_higher", [True, False], ids=["py-higher", "rust-higher"])
def test_a_second_connection_from_the_higher_name_replaces_the_first(
    py: Factory, rs: Factory, python_is_higher: bool
) -> None:
    # PROTOCOL.md 3.7: with A->B up, B dialing A wins when B's name sorts higher
    python, rust = (py("z"), rs("a")) if python_is_higher else (py("a"), rs("z"))
    higher, lower = (python, rust) if python_is_higher else (rust, python)
    lower.rpc("connect", address=higher.address)
    connected(lower, higher)
    higher.rpc("connect", address=lower.address)
    # the election runs when the new connection authenticates: one session each, the new one
    lower.wait_for(lambda: lower.rpc("session_details") == [[higher.full_name, True]],
                   what="the higher name's connection replaced the first")
    higher.wait_for(lambda: higher.rpc("session_details") == [[lower.full_name, False]],
                    what="the higher name's connection replaced the first")
    to = f"counter-{lower.name}"
    higher.wait_for(lambda: any(n == to for _, n in higher.rpc("remote_actors")), what=to)
    assert higher.rpc("call", to=to, msg="echo", text="new link", timeout=5) == "new link"


def test_two_connections_in_one_direction_converge_on_one(py: Factory, rs: Factory) -> None:
    python, rust = py("a"), rs("b")
    threads = [
        threading.Thread(target=python.rpc, args=("connect",), kwargs={"address": rust.address})
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    connected(python, rust)
    python.wait_for(lambda: python.rpc("session_details") == [["b@localhost", False]],
                    what="one session left")
    rust.wait_for(lambda: rust.rpc("session_details") == [["a@localhost", True]],
                  what="one session left")
    assert python.rpc("call", to="counter-b", msg="echo", text="one", timeout=5) == "one"


@pytest.mark.parametrize("python_is_higher", [True, False], ids=["py-higher", "rust-higher"])
def test_a_second_connection_from_the_lower_name_is_refused(
    py: Factory, rs: Factory, python_is_higher: bool
) -> None:
    python, rust = (py("z"), rs("a")) if python_is_higher else (py("a"), rs("z"))
    higher, lower = (python, rust) if python_is_higher else (rust, python)
    higher.rpc("connect", address=lower.address)
    connected(lower, higher)
    lower.rpc("connect", address=higher.address)  # NOT_OK (or EOF) from the higher side
    lower.expect(lambda e: e["event"] == "disconnected" and e["peer"] in (None, higher.full_name))
    time.sleep(0.5)  # an absence: a window in which the first session must not change
    assert lower.rpc("session_details") == [[higher.full_name, True]]
    assert higher.rpc("session_details") == [[lower.full_name, False]]


def test_a_legacy_peer_without_a_connection_id_keeps_its_first_connection(rs: Factory) -> None:
    rust = rs("b")
    first, second = RawClient(rust.address), RawClient(rust.address)
    try:
        for client in (first, second):
            client.handshake.own.connection_id = 0  # a peer older than 0.16
        first.authenticate()
        pid = _counter_pid(first.wait_for_control("ready"), "counter-b")
        first.ready()
        rust.wait_for(lambda: rust.rpc("sessions") == ["raw@localhost"], what="first session")
        second.authenticate()  # accepted (OK); the election then keeps the older connection
        assert second.closed_by_peer(timeout=5)
        first.send(_call(pid, 1, "Echo", _echo_args("still here")))
        (reply,) = _replies(first, 2.0)
        assert reply.what == b"still here"
        assert rust.rpc("sessions") == ["raw@localhost"]
    finally:
        first.close()
        second.close()


def test_a_burst_past_the_outbound_cap_to_a_reading_rust_node_loses_nothing_it_accepted(
    py: Factory, rs: Factory
) -> None:
    python, rust = py("a", extra=["--max-outbound-buffer", str(16 << 20)]), rs("b")
    python.rpc("connect", address=rust.address)
    sees(python, "counter-b")
    # 80,000 notes of 1,000 characters: 80 MB in one burst, five times the cap
    result = python.rpc("flood_notes", to="counter-b", n=80_000, size=1_000)
    assert result["sent"] + result["refused"] == 80_000
    assert result["refused"] > 0  # refused with MailboxFull: the sender knows
    notes = python.rpc("call", to="counter-b", msg="notes", timeout=60)
    assert len(notes) == result["sent"] and set(notes) == {1_000}
    assert python.rpc("sessions") == ["b@localhost"]  # the session was kept
