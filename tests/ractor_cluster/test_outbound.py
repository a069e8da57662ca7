"""A session's writes without sockets: coalescing, the cast lane, marks, the node cap, and
the stuck-peer rule (docs/protocol.md §7.3). The transport is a list of writes and a buffer
size the test sets, as a kernel would by sending or not."""

from __future__ import annotations

import asyncio

import pytest

from ractor_cluster import _outbound
from ractor_cluster._framing import FrameReader, encode_frame
from ractor_cluster._outbound import FlowLimits, NodeBudget, Outbound
from ractor_core import MailboxFull, MessagingError


class Wire:
    """What an Outbound writes to: the writes, and the unsent bytes the test decides."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.unsent = 0
        self.failures: list[str] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def buffered(self) -> int:
        return self.unsent

    def frames(self) -> list[bytes]:
        return FrameReader().feed(b"".join(self.writes))


LIMITS = FlowLimits(transport_high=100, transport_low=10, send_high=50, send_low=20,
                    node_cap=200, stuck_timeout=0.2, socket_buffer=None)


def outbound(wire: Wire, budget: NodeBudget | None = None, limits: FlowLimits = LIMITS) -> Outbound:
    return Outbound(asyncio.get_running_loop(), wire.write, wire.buffered, limits,
                    budget or NodeBudget(limits.node_cap), wire.failures.append)


def frame(text: str) -> bytes:
    return encode_frame(text.encode())


async def test_the_first_frame_of_a_pass_is_written_at_once_and_the_rest_as_one_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_outbound, "_QUIET", 3600.0)  # every write after the first is a burst
    wire = Wire()
    out = outbound(wire, limits=FlowLimits())
    out.urgent(frame("a"))
    assert wire.writes == [frame("a")]  # no added latency for a lone frame
    out.cast(1, frame("bb"))  # right after it: a burst (written now, a flush scheduled)
    out.urgent(frame(""))
    out.call(2, frame("ccc"))
    assert wire.writes == [frame("a"), frame("bb")]
    await asyncio.sleep(0)
    assert wire.writes == [frame("a"), frame("bb"), frame("") + frame("ccc")]


async def test_a_frame_after_a_quiet_spell_goes_alone_with_no_flush_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_outbound, "_QUIET", 0.0)  # every write comes after a quiet spell
    wire = Wire()
    out = outbound(wire, limits=FlowLimits())
    out.call(2, frame("ask"))
    out.urgent(frame("answer"))
    assert wire.writes == [frame("ask"), frame("answer")]
    assert not out._scheduled  # no loop pass is spent on a flush


async def test_a_burst_is_handed_to_the_transport_in_pieces() -> None:
    wire = Wire()
    out = outbound(wire)
    for i in range(20):
        out.cast(1, frame(f"{i:02}"))
    assert len(wire.writes) > 2  # past the low-water mark, pending bytes are written
    out.flush()
    assert wire.frames() == [f"{i:02}".encode() for i in range(20)]


async def test_casts_queue_while_the_transport_is_full_and_go_out_in_order() -> None:
    wire = Wire()
    out = outbound(wire)
    out.cast(1, frame("before"))
    wire.unsent = 500  # the peer stopped reading
    out.pause_writing()
    for i in range(5):
        out.cast(1, frame(f"q{i}"))
    assert out.queued == 5 * (8 + 2)
    out.flush()
    assert wire.frames() == [b"before"]
    wire.unsent = 0
    out.resume_writing()
    out.flush()
    assert wire.frames() == [b"before", b"q0", b"q1", b"q2", b"q3", b"q4"]
    assert out.queued == 0 and out.budget.used == 0


async def test_control_frames_and_calls_to_other_actors_overtake_queued_casts() -> None:
    wire = Wire()
    out = outbound(wire)
    out.pause_writing()
    out.cast(1, frame("cast-to-1"))
    out.urgent(frame("control"))
    out.call(2, frame("call-to-2"))
    out.call(1, frame("call-to-1"))  # after the cast to the same actor: it waits its turn
    out.flush()
    assert wire.frames() == [b"control", b"call-to-2"]
    out.resume_writing()
    out.flush()
    assert wire.frames() == [b"control", b"call-to-2", b"cast-to-1", b"call-to-1"]


async def test_send_waits_past_the_high_water_mark_and_goes_on_below_the_low() -> None:
    wire = Wire()
    out = outbound(wire)
    wire.unsent = 500
    out.pause_writing()
    for i in range(6):  # 60 bytes queued: over send_high (50)
        out.cast(1, frame(f"w{i}"))
    assert out.congested
    waiter = asyncio.create_task(out.room())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    wire.unsent = 0
    out.resume_writing()  # the lane drains to the transport
    await asyncio.wait_for(waiter, 1)
    assert not out.congested


async def test_room_times_out_and_fails_when_the_session_closes() -> None:
    wire = Wire()
    out = outbound(wire)
    wire.unsent = 500
    out.pause_writing()
    for i in range(6):
        out.cast(1, frame(f"w{i}"))
    with pytest.raises(TimeoutError):
        await out.room(timeout=0.02)
    waiter = asyncio.create_task(out.room())
    await asyncio.sleep(0)
    assert out.close() == 6  # the queued casts were not sent, and it says how many
    with pytest.raises(MessagingError):
        await asyncio.wait_for(waiter, 1)
    with pytest.raises(MessagingError):
        out.cast(1, frame("late"))


async def test_a_cast_past_the_node_cap_is_refused_and_nothing_is_queued() -> None:
    budget = NodeBudget(LIMITS.node_cap)
    first, second = Wire(), Wire()
    one, two = outbound(first, budget), outbound(second, budget)
    one.pause_writing()
    two.pause_writing()
    for _ in range(10):
        one.cast(1, frame("x" * 2))  # 100 bytes
    for _ in range(10):
        two.cast(1, frame("y" * 2))  # 200: the cap
    with pytest.raises(MailboxFull):
        one.cast(1, frame("z"))
    assert budget.used == 200
    one.resume_writing()
    one.flush()
    assert budget.used == 100
    one.pause_writing()
    one.cast(1, frame("z"))  # room again


async def test_a_peer_that_takes_nothing_for_the_stuck_timeout_is_given_up() -> None:
    wire = Wire()
    out = outbound(wire)
    wire.unsent = 500
    out.pause_writing()
    out.cast(1, frame("waiting"))
    await asyncio.wait_for(_until(lambda: wire.failures == ["peer_stuck"]), 2)
    assert out.closed


async def test_a_slow_peer_that_makes_progress_is_kept() -> None:
    wire = Wire()
    out = outbound(wire)
    wire.unsent = 5000
    out.pause_writing()
    out.cast(1, frame("waiting"))
    for _ in range(40):  # 0.4 s, twice the stuck timeout, the peer taking a little each time
        await asyncio.sleep(0.01)
        wire.unsent -= 100
    assert wire.failures == [] and not out.closed


async def test_without_callbacks_the_outbound_notices_a_drained_transport_by_itself() -> None:
    wire = Wire()
    out = outbound(wire)
    wire.unsent = 500
    out.cast(1, frame("first"))  # written, and the transport is now over its mark
    out.cast(1, frame("second"))
    out.flush()
    assert wire.frames() == [b"first"]
    wire.unsent = 0  # drained, but nobody calls resume_writing
    await asyncio.wait_for(_until(lambda: wire.frames() == [b"first", b"second"]), 2)


async def _until(check: object, timeout: float = 2.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)
