"""Process groups across nodes, transitive mode, TLS, simultaneous connects, liveness."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import trustme

from .harness import NodeProcess, connected, members, sees

pytestmark = pytest.mark.timeout(120)


def test_groups_hold_local_and_remote_members_across_three_nodes(
    nodes: Callable[..., NodeProcess],
) -> None:
    a, b, c = nodes("a"), nodes("b"), nodes("c")
    b.rpc("connect", address=a.address)
    c.rpc("connect", address=a.address)
    c.rpc("connect", address=b.address)
    expected = [["counter-a", False], ["counter-b", False], ["counter-c", False]]
    for node in (a, b, c):
        node.wait_for(lambda n=node: len(members(n, "test")) == 3, what="3 members")
        mine = [[name, name == f"counter-{node.name}"] for name, _ in expected]
        assert members(node, "test") == mine


def test_live_joins_and_leaves_reach_the_peers_with_their_scope(
    nodes: Callable[..., NodeProcess],
) -> None:
    a, b = nodes("a"), nodes("b")
    a.rpc("connect", address=b.address)
    connected(a, b)
    a.rpc("spawn", name="worker", groups=["jobs"], scope="east")
    b.wait_for(lambda: members(b, "jobs", "east") == [["worker", False]], what="join")
    assert members(b, "jobs") == []  # another scope: the default scope has no "jobs"
    a.rpc("leave", name="worker", group="jobs", scope="east")
    b.wait_for(lambda: members(b, "jobs", "east") == [], what="leave")
    a.rpc("join", name="worker", group="jobs", scope="east")
    b.wait_for(lambda: members(b, "jobs", "east") == [["worker", False]], what="rejoin")
    a.rpc("stop", name="worker")  # Terminate, then the leave
    b.wait_for(lambda: members(b, "jobs", "east") == [], what="stop")
    b.wait_for(lambda: "worker" not in [n for _, n in b.rpc("remote_actors")], what="gone")


def test_a_peers_members_leave_every_group_when_its_connection_goes(
    nodes: Callable[..., NodeProcess],
) -> None:
    a, b = nodes("a"), nodes("b")
    a.rpc("connect", address=b.address)
    a.wait_for(lambda: len(members(a, "test")) == 2, what="b's counter")
    b.kill()
    a.wait_for(lambda: members(a, "test") == [["counter-a", True]], what="b's counter gone")


def test_a_transitive_node_meets_the_peers_of_its_peer(
    nodes: Callable[..., NodeProcess],
) -> None:
    a, b = nodes("a"), nodes("b")
    b.rpc("connect", address=a.address)
    connected(a, b)
    c = nodes("c", extra=["--transitive"])
    c.rpc("connect", address=a.address)
    c.wait_for(lambda: c.rpc("sessions") == ["a@localhost", "b@localhost"], what="mesh")
    b.wait_for(lambda: "c@localhost" in b.rpc("sessions"), what="b sees c")
    sees(c, "counter-b")
    assert c.rpc("call", to="counter-b", msg="echo", text="via the mesh", timeout=5) == (
        "via the mesh"
    )


def test_an_isolated_node_does_not_dial_the_peers_of_its_peer(
    nodes: Callable[..., NodeProcess],
) -> None:
    a, b = nodes("a"), nodes("b")
    b.rpc("connect", address=a.address)
    connected(a, b)
    c = nodes("c")
    c.rpc("connect", address=a.address)
    connected(c, a)
    sees(c, "counter-a")  # c has a's state (a dial of b would have started by now)
    time.sleep(0.5)  # an absence: a window for the dial that must not happen, not a wait
    assert c.rpc("sessions") == ["a@localhost"]


def test_simultaneous_connects_converge_on_one_session_on_both_ends(
    nodes: Callable[..., NodeProcess],
) -> None:
    a, b = nodes("a"), nodes("b")
    threads = [
        threading.Thread(target=a.rpc, args=("connect",), kwargs={"address": b.address}),
        threading.Thread(target=b.rpc, args=("connect",), kwargs={"address": a.address}),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    connected(a, b)
    time.sleep(0.5)  # let a losing duplicate, if any, be closed
    # "b@localhost" sorts higher, so the connection it initiated wins on both ends.
    assert a.rpc("session_details") == [["b@localhost", True]]
    assert b.rpc("session_details") == [["a@localhost", False]]
    assert a.rpc("call", to="counter-b", msg="echo", text="one", timeout=5) == "one"


def test_a_frozen_peer_is_detected_by_the_liveness_period_and_can_come_back(
    nodes: Callable[..., NodeProcess],
) -> None:
    a, b = nodes("a", extra=["--liveness", "1.0"]), nodes("b")
    a.rpc("connect", address=b.address)
    connected(a, b)
    b.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        a.expect(lambda e: e["event"] == "disconnected" and e["peer"] == "b@localhost", 10)
        assert time.monotonic() - started < 5
    finally:
        b.signal(signal.SIGCONT)
    a.rpc("connect", address=b.address)
    a.wait_for(lambda: a.rpc("sessions") == ["b@localhost"], what="reconnected")
    assert a.rpc("call", to="counter-b", msg="echo", text="back", timeout=5) == "back"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    ca = trustme.CA()
    other_ca = trustme.CA()
    folder = tmp_path_factory.mktemp("tls")
    server = ca.issue_cert("testserver.com")
    client = ca.issue_cert("client.testserver.com")
    paths = {
        "ca": folder / "ca.pem",
        "other_ca": folder / "other_ca.pem",
        "cert": folder / "server.pem",
        "key": folder / "server.key",
        "client": folder / "client.pem",
    }
    ca.cert_pem.write_to_path(str(paths["ca"]))
    other_ca.cert_pem.write_to_path(str(paths["other_ca"]))
    server.private_key_and_cert_chain_pem.write_to_path(str(paths["cert"]))
    server.private_key_pem.write_to_path(str(paths["key"]))
    client.private_key_and_cert_chain_pem.write_to_path(str(paths["client"]))
    return paths


def _tls_server(certs: dict[str, Path], mutual: bool = False) -> list[str]:
    flags = ["--tls-cert", str(certs["cert"]), "--tls-key", str(certs["key"])]
    if mutual:
        flags += ["--tls-client-ca", str(certs["ca"])]
    return flags


def _tls_client_env(certs: dict[str, Path], ca: str = "ca", cert: bool = False) -> dict[str, str]:
    env = {"RACTOR_TEST_TLS_CA": str(certs[ca]), "RACTOR_TEST_TLS_SERVER_NAME": "testserver.com"}
    if cert:
        env["RACTOR_TEST_TLS_CLIENT_CERT"] = str(certs["client"])
    return env


def test_nodes_authenticate_and_talk_over_tls(
    nodes: Callable[..., NodeProcess], certs: dict[str, Path]
) -> None:
    server = nodes("a", extra=_tls_server(certs))
    client = nodes("b", env=_tls_client_env(certs))
    client.rpc("connect", address=server.address)
    connected(client, server)
    sees(client, "counter-a")
    assert client.rpc("call", to="counter-a", msg="echo", text="secret", timeout=5) == "secret"


def test_mutual_tls_accepts_a_client_certificate_and_refuses_none(
    nodes: Callable[..., NodeProcess], certs: dict[str, Path]
) -> None:
    server = nodes("a", extra=_tls_server(certs, mutual=True))
    anonymous = nodes("b", env=_tls_client_env(certs))
    reply = anonymous.try_rpc("connect", address=server.address)
    if reply["ok"]:  # TLS 1.3: the refusal arrives after the client's handshake completes
        anonymous.expect(lambda e: e["event"] == "disconnected")
        assert anonymous.rpc("sessions") == []
    identified = nodes("c", env=_tls_client_env(certs, cert=True))
    identified.rpc("connect", address=server.address)
    connected(identified, server)
    assert server.rpc("sessions") == ["c@localhost"]


def test_a_client_that_does_not_trust_the_server_is_refused(
    nodes: Callable[..., NodeProcess], certs: dict[str, Path]
) -> None:
    server = nodes("a", extra=_tls_server(certs))
    client = nodes("b", env=_tls_client_env(certs, ca="other_ca"))
    reply = client.try_rpc("connect", address=server.address)
    assert reply["ok"] is False
    assert reply["error"] == "EncryptionConnectError"
    assert server.rpc("sessions") == []
    plain = nodes("c")
    plain.rpc("connect", address=server.address)  # raw TCP into a TLS port
    plain.expect(lambda e: e["event"] == "disconnected")
    assert plain.rpc("sessions") == []
    assert server.rpc("sessions") == []


def test_two_node_processes_talk_over_a_unix_socket_as_an_external_transport(
    nodes: Callable[..., NodeProcess], tmp_path: Path
) -> None:
    path = str(tmp_path / "a.sock")
    a = nodes("a", extra=["--unix-listen", path])
    b = nodes("b", extra=["--connect-unix", path])
    connected(a, b)
    sees(b, "counter-a")
    assert b.rpc("call", to="counter-a", msg="echo", text="over unix", timeout=5) == "over unix"
    assert a.rpc("session_details") == [["b@localhost", True]]
