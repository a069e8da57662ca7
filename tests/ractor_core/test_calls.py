"""Casts and calls: typed replies, timeouts, dropped ports, dead actors, ordering."""

from __future__ import annotations

import asyncio
import gc

import pytest

from ractor_core import (
    CallTimeout,
    MessagingError,
    ReplyDropped,
    ReplyPortError,
    multi_call,
    spawn,
)

from .actors import Echo, Fail, GetNotes, Hold, Ignore, Note, Recorder, Release, Sleep


async def test_call_returns_the_reply() -> None:
    ref = await spawn(Recorder(), None)
    assert await ref.call(Echo("hi"), timeout=2) == "hi"
    assert await ref.call(Echo(3)) == 3


async def test_messages_from_one_sender_arrive_in_order() -> None:
    ref = await spawn(Recorder(), None)
    for i in range(1000):
        ref.cast(Note(i))
    assert await ref.call(GetNotes(), timeout=2) == list(range(1000))


async def test_call_past_its_timeout_raises_call_timeout() -> None:
    ref = await spawn(Recorder(), None)
    ref.cast(Sleep(0.5))
    with pytest.raises(CallTimeout, match="no reply"):
        await ref.call(Echo(1), timeout=0.02)
    assert ref.is_alive


async def test_call_timeout_is_also_a_builtin_timeout_error() -> None:
    ref = await spawn(Recorder(), None)
    ref.cast(Sleep(0.5))
    with pytest.raises(TimeoutError):
        await ref.call(Echo(1), timeout=0.01)


async def test_a_discarded_reply_port_fails_the_call_promptly() -> None:
    ref = await spawn(Recorder(), None)
    with pytest.raises(ReplyDropped, match="discarded"):
        await asyncio.wait_for(ref.call(Ignore()), 2)


async def test_a_discarded_port_fails_the_call_even_when_the_caller_keeps_the_message() -> None:
    ref = await spawn(Recorder(), None)
    msg = Ignore()
    with pytest.raises(ReplyDropped):
        await asyncio.wait_for(ref.call(msg), 2)
    assert msg is not None


async def test_a_kept_port_can_be_answered_later() -> None:
    ref = await spawn(Recorder(), None)
    pending = asyncio.create_task(ref.call(Hold(), timeout=2))
    await asyncio.sleep(0.01)
    gc.collect()
    assert not pending.done()
    ref.cast(Release(42))
    assert await pending == 42


async def test_the_port_is_detached_from_the_message_after_handling() -> None:
    ref = await spawn(Recorder(), None)
    msg = Echo(1)
    await ref.call(msg, timeout=2)
    with pytest.raises(ReplyPortError, match="no reply port"):
        _ = msg.reply


async def test_a_message_can_be_called_again_and_concurrently() -> None:
    ref = await spawn(Recorder(), None)
    msg = Echo(7)
    results = await asyncio.gather(*(ref.call(msg, timeout=2) for _ in range(5)))
    assert results == [7] * 5
    assert await ref.call(msg, timeout=2) == 7


async def test_answering_twice_is_an_error() -> None:
    ref = await spawn(Recorder(), None)
    pending = asyncio.create_task(ref.call(Hold(), timeout=2))
    await asyncio.sleep(0.01)
    ref.cast(Release(1))
    assert await pending == 1
    with pytest.raises(ReplyPortError):
        Echo(1).reply.send(1)


async def test_a_call_to_a_dead_actor_gives_the_message_back() -> None:
    ref = await spawn(Recorder(), None)
    await ref.stop_and_wait(timeout=2)
    msg = Echo(5)
    with pytest.raises(MessagingError) as info:
        await ref.call(msg, timeout=1)
    assert info.value.unsent is msg


async def test_casting_an_rpc_message_is_refused() -> None:
    ref = await spawn(Recorder(), None)
    with pytest.raises(MessagingError, match="send it with call"):
        ref.cast(Echo(1))  # type: ignore[arg-type]


async def test_a_call_queued_behind_a_failing_message_fails_promptly() -> None:
    ref = await spawn(Recorder(), None)
    ref.cast(Sleep(0.05))
    ref.cast(Fail())
    pending = asyncio.create_task(ref.call(Echo(1)))
    await asyncio.sleep(0.01)
    assert not pending.done()
    with pytest.raises(ReplyDropped, match="stopped before handling"):
        await asyncio.wait_for(pending, 2)


async def test_a_handler_that_raises_while_holding_the_port_fails_the_call() -> None:
    ref = await spawn(Recorder(), None)
    pending = asyncio.create_task(ref.call(Hold()))
    await asyncio.sleep(0.01)
    ref.cast(Fail())
    with pytest.raises(ReplyDropped):
        await asyncio.wait_for(pending, 2)


async def test_a_late_reply_after_timeout_is_ignored() -> None:
    ref = await spawn(Recorder(), None)
    with pytest.raises(CallTimeout):
        await ref.call(Hold(), timeout=0.01)
    ref.cast(Release(1))
    assert await ref.call(Echo(2), timeout=2) == 2


async def test_multi_call_collects_replies_and_errors() -> None:
    alive = [await spawn(Recorder(), None) for _ in range(3)]
    dead = await spawn(Recorder(), None)
    await dead.stop_and_wait(timeout=2)
    results = await multi_call([*alive, dead], Echo("x"), timeout=2)
    assert results[:3] == ["x", "x", "x"]
    assert isinstance(results[3], MessagingError)


@pytest.mark.parametrize("timeout", [-1.0, float("inf"), float("nan")])
async def test_a_call_timeout_must_be_finite_and_not_negative(timeout: float) -> None:
    ref = await spawn(Recorder(), None)
    with pytest.raises(ValueError, match="finite number of seconds"):
        await ref.call(Echo(1), timeout=timeout)


# ---------------------------------------------------------- call timeouts on one timer


async def test_a_short_timeout_after_a_long_one_still_fires_on_time() -> None:
    slow = await spawn(Recorder(), None)
    slow.cast(Sleep(1.0))
    long_call = asyncio.ensure_future(slow.call(Echo(1), timeout=30))
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(CallTimeout):
        await slow.call(Echo(2), timeout=0.05)
    assert loop.time() - started < 0.5  # not held back by the 30 s deadline before it
    assert await long_call == 1


async def test_answered_calls_do_not_pile_up_in_the_deadlines() -> None:
    from ractor_core._deadlines import _SWEEP_MIN

    ref = await spawn(Recorder(), None)
    for i in range(5 * _SWEEP_MIN):
        assert await ref.call(Echo(i), timeout=60) == i
    deadlines = asyncio.get_running_loop()._ractor_deadlines  # type: ignore[attr-defined]
    assert len(deadlines._heap) <= 2 * _SWEEP_MIN  # swept: only the calls in flight stay


def test_the_deadlines_go_with_their_loop() -> None:
    import weakref

    async def one_call() -> None:
        ref = await spawn(Recorder(), None)
        assert await ref.call(Echo("x"), timeout=60) == "x"
        await ref.stop_and_wait(timeout=2)

    loop = asyncio.new_event_loop()
    loop.run_until_complete(one_call())
    loop.close()
    gone = weakref.ref(loop)
    del loop
    gc.collect()
    assert gone() is None
