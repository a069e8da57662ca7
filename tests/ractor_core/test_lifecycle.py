"""Spawning, hooks, stopping, killing, draining, waiting."""

from __future__ import annotations

import asyncio

import pytest

from ractor_core import (
    ActorRef,
    ActorStatus,
    ActorTerminated,
    MessagingError,
    ReplyDropped,
    SpawnError,
    WaitTimeout,
    spawn,
    spawn_linked,
    where_is,
)

from .actors import Book, GetNotes, Hold, Msg, Note, Recorder, Sleep, events_of


async def test_spawn_returns_after_pre_start_and_runs_post_start_first() -> None:
    log: list[str] = []
    ref = await spawn(Recorder(), log)
    assert log == [f"pre_start {ref.id}"]
    assert ref.status is ActorStatus.RUNNING
    await ref.call(GetNotes(), timeout=2)
    assert log == [f"pre_start {ref.id}", f"post_start {ref.id}"]
    await ref.stop_and_wait(timeout=2)
    assert log[-1] == f"post_stop {ref.id}"
    assert ref.status is ActorStatus.STOPPED
    assert not ref.is_alive


async def test_raising_pre_start_fails_the_spawn_and_frees_the_name() -> None:
    with pytest.raises(SpawnError, match="refusing to start") as info:
        await spawn(Recorder(fail_start=True), None, name="x")
    assert isinstance(info.value.__cause__, ValueError)
    assert where_is("x") is None
    ref = await spawn(Recorder(), None, name="x")
    assert where_is("x") is ref


async def test_duplicate_name_is_a_spawn_error() -> None:
    await spawn(Recorder(), None, name="dup")
    with pytest.raises(SpawnError, match="already registered"):
        await spawn(Recorder(), None, name="dup")


async def test_pids_are_unique_and_never_reused() -> None:
    first = await spawn(Recorder(), None)
    await first.stop_and_wait(timeout=2)
    second = await spawn(Recorder(), None)
    assert second.id != first.id
    assert second.id.pid > first.id.pid
    assert first.id.is_local and str(first.id) == f"0.{first.id.pid}"


async def test_stop_drops_queued_messages_and_runs_post_stop() -> None:
    log: list[str] = []
    ref = await spawn(Recorder(), log)
    ref.cast(Sleep(0.05))
    for i in range(5):
        ref.cast(Note(i))
    ref.stop("enough")
    await ref.wait(timeout=2)
    assert log[-1] == f"post_stop {ref.id}"
    with pytest.raises(MessagingError) as info:
        ref.cast(Note(99))
    assert info.value.unsent == Note(99)


async def test_kill_interrupts_the_running_handler_and_skips_post_stop() -> None:
    log: list[str] = []
    ref = await spawn(Recorder(), log)
    ref.cast(Sleep(30))
    await asyncio.sleep(0.01)
    await ref.kill_and_wait(timeout=2)
    assert ref.status is ActorStatus.STOPPED
    assert f"post_stop {ref.id}" not in log


async def test_kill_is_not_delayed_by_a_full_mailbox_of_quick_messages() -> None:
    ref = await spawn(Recorder(), None)
    for i in range(10_000):
        ref.cast(Note(i))
    ref.kill()
    await ref.wait(timeout=2)
    assert not ref.is_alive


async def test_drain_handles_queued_messages_then_stops() -> None:
    log: list[str] = []
    sup = await spawn(Recorder(), None)
    ref = await spawn_linked(Recorder(), log, sup)
    for i in range(3):
        ref.cast(Note(i))
    ref.drain()
    assert ref.status is ActorStatus.DRAINING
    with pytest.raises(MessagingError):
        ref.cast(Note(3))
    await ref.wait(timeout=2)
    assert log[-1] == f"post_stop {ref.id}"
    terminated = [e for e in await events_of(sup) if isinstance(e, ActorTerminated)]
    assert [(e.reason, e.state.notes) for e in terminated] == [("Drained", [0, 1, 2])]


async def test_wait_times_out_with_a_clear_error() -> None:
    ref = await spawn(Recorder(), None)
    with pytest.raises(WaitTimeout, match="did not stop"):
        await ref.wait(timeout=0.01)
    assert ref.is_alive


async def test_waiting_on_a_stopped_actor_returns_at_once() -> None:
    ref = await spawn(Recorder(), None)
    await ref.stop_and_wait(timeout=2)
    await ref.wait(timeout=0)


async def test_cancelling_one_waiter_does_not_disturb_others() -> None:
    ref = await spawn(Recorder(), None)
    first = asyncio.create_task(ref.wait())
    second = asyncio.create_task(ref.wait())
    await asyncio.sleep(0)
    first.cancel()
    ref.stop()
    await asyncio.wait_for(second, 2)
    assert first.cancelled()


async def test_ten_thousand_actors_spawn_and_stop_cleanly() -> None:
    refs = [await spawn(Recorder(), None) for _ in range(10_000)]
    assert len({r.id for r in refs}) == 10_000
    for r in refs:
        r.cast(Note(1))
    for r in refs:
        r.stop()
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in refs)), 30)
    assert all(r.status is ActorStatus.STOPPED for r in refs)


async def test_the_message_type_is_read_from_the_class_declaration() -> None:
    assert Recorder.message_type() == Msg


async def test_an_unanswered_call_fails_when_the_actor_stops() -> None:
    ref = await spawn(Recorder(), None)
    pending = asyncio.create_task(ref.call(Hold(), timeout=5))
    await asyncio.sleep(0.01)
    ref.stop()
    with pytest.raises(ReplyDropped):
        await asyncio.wait_for(pending, 2)


class Releasing(Recorder):
    """Records release() calls in the shared log."""

    def release(self) -> None:
        self.released = getattr(self, "released", 0) + 1


@pytest.mark.parametrize("how", ["stop", "kill", "fail"])
async def test_release_runs_once_however_the_actor_ends(how: str) -> None:
    from .actors import Fail

    actor = Releasing()
    ref = await spawn(actor, None)
    if how == "stop":
        ref.stop()
    elif how == "kill":
        ref.kill()
    else:
        ref.cast(Fail())
    await ref.wait(timeout=2)
    assert actor.released == 1


async def test_a_raising_release_is_logged_and_the_actor_still_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken(Recorder):
        def release(self) -> None:
            raise RuntimeError("cannot let go")

    ref = await spawn(Broken(), None)
    await ref.stop_and_wait(timeout=2)
    assert not ref.is_alive
    assert "release() raised" in caplog.text


async def test_release_runs_when_startup_fails() -> None:
    class FailingStart(Releasing):
        async def pre_start(self, myself: ActorRef[Msg], args: list[str] | None) -> Book:
            raise ValueError("no")

    actor = FailingStart()
    with pytest.raises(SpawnError):
        await spawn(actor, None)
    assert actor.released == 1


async def test_cancelling_the_task_during_post_stop_is_not_swallowed() -> None:
    started = asyncio.Event()

    class SlowStop(Recorder):
        async def post_stop(self, myself: ActorRef[Msg], state: Book) -> None:
            started.set()
            await asyncio.sleep(10)

    ref = await spawn(SlowStop(), None)
    ref.stop()
    await asyncio.wait_for(started.wait(), 2)
    task = ref._cell._task  # type: ignore[attr-defined]
    assert task is not None
    task.cancel()  # from outside: e.g. the loop shutting down
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(task, 2)
    assert not ref.is_alive
