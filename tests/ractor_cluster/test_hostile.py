"""Hostile and heavy peers against real node processes: one session ends, the node goes on.

A raw client (tests/interop/raw.py) authenticates with the cookie and then sends what a
buggy or hostile node could: a Spawn of 200,000 actors, a PgJoin of 1,000,000 members, a
10 MiB node name, or it stops reading. The node's event loop is watched by its app
(``loop_lag``: the longest a 5 ms sleep overslept), so a test can tell "processed in
slices" from "held the loop for seconds" without timing the work itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from ractor_cluster._wire import varint
from ractor_cluster.protocol import auth_pb2, meta_pb2

from ..interop.raw import RawClient, frame
from .harness import NodeProcess, sees

pytestmark = pytest.mark.timeout(180)

# A slice of control work lasts about 10 ms; the loop is "held" if a sleep oversleeps by this
# much (a node that applied a 200,000-actor Spawn in one go would hold it for seconds).
HELD_MS = 300


def _actors(count: int, field: int = 1) -> bytes:
    """``count`` nameless ``control.Actor`` entries, pids 1.., as the repeated field number
    ``field`` (1 in Spawn, 2 in PgJoin), written by hand (fast for a million)."""
    key = bytes((field << 3 | 2,))
    return b"".join(key + varint(len(body)) + body
                    for body in (b"\x08" + varint(1 + i) for i in range(count)))


def _control(arm: int, body: bytes) -> bytes:
    control = bytes((arm << 3 | 2,)) + varint(len(body)) + body
    payload = b"\x1a" + varint(len(control)) + control  # NetworkMessage.control = 3
    return len(payload).to_bytes(8, "big") + payload


def spawn_frame(count: int) -> bytes:
    """A Spawn (ControlMessage field 1) advertising ``count`` actors."""
    return _control(1, _actors(count))


def pg_join_frame(count: int, group: str = "big", scope: str = "__default_scope__") -> bytes:
    """A PgJoin (ControlMessage field 5) of ``count`` members: group=1, actors=2, scope=3."""
    head = b"\x0a" + varint(len(group)) + group.encode()
    tail = b"\x1a" + varint(len(scope)) + scope.encode()
    return _control(5, head + _actors(count, field=2) + tail)


_OPEN: list[RawClient] = []


@pytest.fixture(autouse=True)
def _close_raw_clients() -> Iterator[None]:
    yield
    while _OPEN:
        _OPEN.pop().close()


def _client(node: NodeProcess, name: str) -> RawClient:
    raw = RawClient(node.address, name=name)
    _OPEN.append(raw)
    return raw


def _authenticated(node: NodeProcess, name: str) -> RawClient:
    raw = _client(node, name)
    raw.authenticate()
    raw.ready()
    return raw


def test_a_200000_actor_spawn_is_applied_in_slices_while_a_fresh_peer_gets_ready(
    nodes: Callable[..., NodeProcess],
) -> None:
    a = nodes("a")
    big = _authenticated(a, "big@localhost")
    a.rpc("loop_lag")  # from now on
    big.send(spawn_frame(200_000))
    started = time.monotonic()
    fresh = _authenticated(a, "fresh@localhost")
    fresh.wait_for_control("ready", timeout=10)
    ready_after = time.monotonic() - started
    a.wait_for(lambda: a.rpc("remote_count") >= 200_000, 60, "the 200,000 actors are known")
    assert a.rpc("loop_lag") < HELD_MS
    print(f"a fresh peer was ready {ready_after:.2f} s after the big Spawn was sent")
    big.close()
    a.wait_for(lambda: a.rpc("remote_count") == 0, 60, "the big peer's actors are gone")
    fresh.close()


def test_a_million_member_group_join_past_the_limit_ends_only_that_session(
    nodes: Callable[..., NodeProcess],
) -> None:
    a = nodes("a", extra=["--max-remote-actors", "50000"])
    raw = _authenticated(a, "greedy@localhost")
    a.rpc("loop_lag")
    raw.send(pg_join_frame(1_000_000))
    assert raw.closed_by_peer(timeout=60)
    a.wait_for(lambda: a.rpc("remote_count") == 0, 30, "the greedy peer's actors are gone")
    assert a.rpc("members", group="big") == []
    assert a.rpc("loop_lag") < HELD_MS
    helper = nodes("helper")
    helper.rpc("connect", address=a.address)
    sees(helper, "counter-a")
    assert helper.rpc("call", to="counter-a", msg="echo", text="alive", timeout=5) == "alive"


def test_a_group_membership_limit_ends_the_session(nodes: Callable[..., NodeProcess]) -> None:
    a = nodes("a", extra=["--max-group-memberships", "1000"])
    raw = _authenticated(a, "joiner@localhost")
    raw.send(pg_join_frame(800, group="one") + pg_join_frame(800, group="two"))
    assert raw.closed_by_peer(timeout=30)
    a.wait_for(lambda: a.rpc("remote_count") == 0, 30, "the joiner's actors are gone")


def test_a_10_mib_node_name_is_refused_and_never_logged_in_full(
    nodes: Callable[..., NodeProcess],
) -> None:
    a = nodes("a")
    raw = _client(a, "hostile@localhost")
    name = auth_pb2.NameMessage(name="n" * (10 * 1024 * 1024), connection_string="h:1",
                                connection_id=5)
    raw.send(frame(meta_pb2.NetworkMessage(auth=auth_pb2.AuthenticationMessage(name=name))))
    assert raw.closed_by_peer(timeout=30)
    helper = nodes("helper")
    helper.rpc("connect", address=a.address)
    sees(helper, "counter-a")
    assert sum(len(line) for line in a.stderr) < 100_000


def test_a_peer_that_stops_reading_is_dropped_after_the_stuck_timeout_not_before(
    nodes: Callable[..., NodeProcess],
) -> None:
    a = nodes("a", extra=["--stuck-timeout", "2", "--max-outbound-buffer", str(4 << 20)])
    raw = _authenticated(a, "deaf@localhost")
    raw.send(spawn_frame(1))
    # the raw peer advertised pid 1 without a name: find it by count
    a.wait_for(lambda: a.rpc("remote_count") == 1, 10, "the deaf peer's actor is known")
    raw.send(_control(1, b"\x0a" + varint(8) + b"\x08\x02\x12\x04sink"))  # pid 2 "sink"
    sees(a, "sink")
    result = a.rpc("flood", to="sink", n=20_000, size=1_000)  # 20 MB for a peer not reading
    assert result["sent"] + result["refused"] == 20_000
    assert result["refused"] > 0  # past the node's cap: refused, not dropped in silence
    assert a.rpc("remote_count") == 2  # slow is not dead: the session is still there
    a.wait_for(lambda: a.rpc("remote_count") == 0, 20, "the stuck peer is dropped")
    raw.close()


def test_a_slow_reader_gets_every_cast_and_keeps_its_session(
    nodes: Callable[..., NodeProcess],
) -> None:
    # the raw peer sends nothing while it reads (no Ping): liveness would drop it
    a = nodes("a", extra=["--stuck-timeout", "2", "--liveness", "0"])
    raw = _authenticated(a, "slow@localhost")
    raw.send(_control(1, b"\x0a" + varint(8) + b"\x08\x02\x12\x04sink"))
    sees(a, "sink")
    total = 6_000
    assert a.rpc("flood", to="sink", n=total, size=1_000) == {"sent": total, "refused": 0}
    got = 0
    deadline = time.monotonic() + 60
    while got < total:  # about 1.2 MB/s: several seconds, longer than the stuck timeout
        assert time.monotonic() < deadline, f"{got} of {total} casts arrived"
        time.sleep(0.05)
        msg = raw.receive(timeout=10)
        assert msg is not None, "the node closed the slow reader's session"
        if msg.WhichOneof("message") == "node" and msg.node.WhichOneof("msg") == "cast":
            got += 1
            for _ in range(63):  # read 64 at a time, then nap
                more = raw.receive(timeout=10)
                assert more is not None
                if more.WhichOneof("message") == "node":
                    got += 1
    assert got == total
    assert a.rpc("remote_count") == 1
    raw.close()


def test_sustained_sends_and_calls_lose_nothing_and_keep_the_session(
    nodes: Callable[..., NodeProcess],
) -> None:
    a, b = nodes("a"), nodes("b")
    a.rpc("connect", address=b.address)
    sees(a, "seq-b")
    sees(a, "counter-b")
    report = a.rpc("sustain", to_seq="seq-b", to_counter="counter-b", seconds=4, callers=4)
    assert report["call_errors"] == []
    b.wait_for(lambda: b.rpc("seq_report")["received"] == report["sent"], 60,
               "every number arrives")
    assert b.rpc("seq_report")["errors"] == 0  # none missing, none out of order
    assert a.rpc("sessions") == ["b@localhost"]
    print(f"sustained: {report['sent']} casts, {report['calls']} calls, "
          f"call p50 {report['p50_us']} µs, p99 {report['p99_us']} µs")


def test_names_are_checked_in_a_spawn_too(nodes: Callable[..., NodeProcess]) -> None:
    a = nodes("a", extra=["--max-name-length", "64"])
    raw = _authenticated(a, "namer@localhost")
    name = b"q" * 65
    body = b"\x08\x05\x12" + varint(len(name)) + name
    raw.send(_control(1, b"\x0a" + varint(len(body)) + body))
    assert raw.closed_by_peer(timeout=30)


def test_sigterm_is_honoured_while_a_big_spawn_is_applied(
    nodes: Callable[..., NodeProcess],
) -> None:
    a = nodes("a")
    big = _authenticated(a, "big@localhost")
    big.send(spawn_frame(200_000))
    a.wait_for(lambda: a.rpc("remote_count") > 0, 30, "the Spawn is being applied")
    started = time.monotonic()
    assert a.terminate(timeout=10) == 0
    assert time.monotonic() - started < 5
