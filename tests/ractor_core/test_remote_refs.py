"""Remote refs: handles to another node's actors, with no task and no mailbox.

``Recording`` stands for a connection whose wire is a list; ``Loopback`` hands what a remote
ref sends to a local actor through the transport seam, as a node session would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from ractor_core import (
    Actor,
    ActorRef,
    ActorStatus,
    ActorTerminated,
    Call,
    CallTimeout,
    MessagingError,
    ReplyDropped,
    RpcReplyPort,
    SpawnError,
    WaitTimeout,
    all_actors,
    pg,
    spawn,
    spawn_linked,
    where_is_pid,
)
from ractor_core.transport import RemoteNode, SerializedCall, SerializedCast
from ractor_derive import U64, Message, SerializationError, cluster_message

from .actors import Echo, Note, Recorder, events_of
from .remote import Loopback, Recording


@cluster_message
class Wire(Message):
    """A cluster message family: what may be sent to another node's actor."""


class Add(Wire):
    n: U64


class Total(Wire, Call[U64]):
    pass


class Summer(Actor[Wire, list[int], None]):
    """Adds up the Add casts; answers Total."""

    async def pre_start(self, myself: ActorRef[Wire], args: None) -> list[int]:
        return []

    async def handle(self, myself: ActorRef[Wire], message: Wire, state: list[int]) -> None:
        match message:
            case Add(n=n):
                state.append(n)
            case Total():
                message.reply.send(sum(state))


class Fixed(RemoteNode):
    """A node with a chosen id whose wire goes nowhere."""

    def transmit_cast(self, pid: int, message: SerializedCast) -> None:
        pass

    def transmit_call(
        self,
        pid: int,
        message: SerializedCall,
        port: RpcReplyPort[Any],
        decode: Callable[[bytes], Any],
    ) -> None:
        pass


async def settle() -> None:
    """Let every ready task run to its next wait (nothing here depends on timers)."""
    for _ in range(20):
        await asyncio.sleep(0)


async def terminations(watcher: ActorRef[Any]) -> list[ActorTerminated]:
    return [e for e in await events_of(watcher) if isinstance(e, ActorTerminated)]


# ---------------------------------------------------------------------- the table


async def test_a_remote_ref_has_no_task() -> None:
    node = Recording()
    before = len(asyncio.all_tasks())
    refs = [node.actor(pid) for pid in range(1, 10_001)]
    assert len(asyncio.all_tasks()) == before
    assert len(node) == 10_000
    assert all(ref.is_alive for ref in refs)


async def test_a_remote_ref_has_the_id_of_its_node_and_pid() -> None:
    node = Recording()
    ref = node.actor(42, "far")
    assert not ref.id.is_local
    assert ref.id.node_id == node.node_id
    assert ref.id.pid == 42
    assert ref.name == "far"
    assert ref.status is ActorStatus.RUNNING
    assert "remote" in repr(ref)


async def test_a_known_pid_gives_the_same_ref_and_keeps_its_first_name() -> None:
    node = Recording()
    first = node.actor(7, "first")
    assert node.actor(7) is first
    assert node.actor(7, "second") is first
    assert first.name == "first"
    assert node.get(7) is first
    assert node.get(8) is None


async def test_a_node_id_is_unique_while_the_node_is_open() -> None:
    node = Fixed(9_999)
    with pytest.raises(ValueError, match="already in use"):
        Fixed(9_999)
    node.close("done")
    assert node.closed
    Fixed(9_999).close("done")


async def test_a_remote_ref_has_no_mailbox_no_supervisor_and_no_children() -> None:
    ref = Recording().actor(1)
    assert ref.mailbox_len == 0
    assert ref.capacity is None
    assert ref.supervisor is None
    assert ref.children == []


async def test_a_remote_ref_cannot_be_linked_in_either_direction() -> None:
    remote = Recording().actor(1)
    local = await spawn(Recorder(), None)
    with pytest.raises(MessagingError, match="monitor"):
        remote.link(local)
    with pytest.raises(MessagingError, match="local actor"):
        local.link(remote)
    assert local.supervisor is None
    assert local.children == []


async def test_spawn_linked_under_a_remote_ref_raises_spawn_error() -> None:
    remote = Recording().actor(1)
    with pytest.raises(SpawnError, match="local actor"):
        await spawn_linked(Recorder(), None, remote, name="orphan")
    assert all_actors() == []
    ok = await spawn(Recorder(), None, name="orphan")  # the name was not taken
    assert ok.name == "orphan"


async def test_where_is_pid_finds_a_live_remote_ref_and_then_none() -> None:
    node = Recording()
    remote = node.actor(3)
    assert where_is_pid(remote.id) is remote
    node.terminate(3, "remote")
    assert where_is_pid(remote.id) is None


async def test_all_actors_lists_only_local_actors() -> None:
    node = Recording()
    local = await spawn(Recorder(), None)
    node.actor(1)
    node.actor(2)
    assert all_actors() == [local]


# ---------------------------------------------------------------------- messages


async def test_a_cast_to_a_remote_ref_is_transmitted_serialized() -> None:
    node = Recording()
    ref = node.actor(5)
    ref.cast(Add(n=7))
    await asyncio.wait_for(ref.send(Add(n=8)), 2)
    assert [pid for pid, _ in node.casts] == [5, 5]
    sent = [message for _, message in node.casts]
    assert all(isinstance(m, SerializedCast) for m in sent)
    assert [m.variant for m in sent] == ["Add", "Add"]
    assert [Wire.deserialize(m) for m in sent] == [Add(n=7), Add(n=8)]


async def test_a_plain_str_message_is_transmitted_as_an_unnamed_cast() -> None:
    node = Recording()
    node.actor(5).cast("hé")
    assert node.casts == [(5, SerializedCast("", "hé".encode()))]


async def test_a_non_cluster_message_on_a_remote_ref_raises_messaging_error() -> None:
    node = Recording()
    ref = node.actor(5)
    msg = Note(1)
    with pytest.raises(MessagingError, match="not a cluster message") as info:
        ref.cast(msg)
    assert info.value.unsent is msg
    with pytest.raises(MessagingError, match="not a cluster message") as sent:
        await asyncio.wait_for(ref.send(msg), 2)
    assert sent.value.unsent is msg
    with pytest.raises(MessagingError, match="not a cluster message"):
        await asyncio.wait_for(ref.call(Echo(1), timeout=1), 2)
    assert node.casts == []
    assert node.calls == []
    assert ref.is_alive


async def test_a_value_that_does_not_fit_its_field_is_refused_before_transmitting() -> None:
    node = Recording()
    ref = node.actor(5)
    with pytest.raises(SerializationError):
        Add(n=-1)  # a cluster variant checks its fields when built
    msg = Add(n=1)
    object.__setattr__(msg, "n", -1)  # past the check: still refused before it is sent
    with pytest.raises(MessagingError) as info:
        ref.cast(msg)
    assert info.value.unsent is msg
    assert node.casts == []


async def test_a_call_to_a_remote_ref_returns_the_reply_its_node_sends() -> None:
    node = Recording()
    ref = node.actor(5)
    calling = asyncio.create_task(ref.call(Total(), timeout=2))
    await settle()
    ((pid, message, port, decode),) = node.calls
    assert pid == 5
    assert isinstance(message, SerializedCall)
    assert message.variant == "Total"
    assert port.send(decode(Total().encode_reply(11)))
    assert await asyncio.wait_for(calling, 2) == 11


async def test_a_remote_call_nobody_answers_times_out() -> None:
    ref = Recording().actor(5)
    with pytest.raises(CallTimeout):
        await asyncio.wait_for(ref.call(Total(), timeout=0.02), 2)


async def test_a_call_through_a_loopback_returns_the_decoded_reply() -> None:
    target = await spawn(Summer(), None)
    node = Loopback(target)
    proxy = node.actor(5)
    proxy.cast(Add(n=2))
    await asyncio.wait_for(proxy.send(Add(n=3)), 2)
    assert await proxy.call(Total(), timeout=2) == 5
    assert len(node.casts) == 2
    assert proxy.is_alive
    assert target.is_alive


# ---------------------------------------------------------------------- termination


async def test_a_terminated_remote_ref_is_not_alive_and_refuses_messages() -> None:
    node = Recording()
    ref = node.actor(5, "far")
    assert node.terminate(5, "remote") is ref
    assert not ref.is_alive
    assert ref.status is ActorStatus.STOPPED
    assert ref.name == "far"
    assert node.get(5) is None
    msg = Add(n=1)
    with pytest.raises(MessagingError, match="gone") as info:
        ref.cast(msg)
    assert info.value.unsent is msg
    with pytest.raises(MessagingError, match="gone"):
        await asyncio.wait_for(ref.send(msg), 2)
    with pytest.raises(MessagingError, match="gone"):
        await asyncio.wait_for(ref.call(Total(), timeout=1), 2)
    assert node.casts == []
    assert node.terminate(5, "again") is None


async def test_waiting_on_a_remote_ref_returns_when_its_node_terminates_it() -> None:
    node = Recording()
    ref = node.actor(5)
    with pytest.raises(WaitTimeout):
        await ref.wait(timeout=0.01)
    waiting = asyncio.create_task(ref.wait())
    await settle()
    assert not waiting.done()
    node.terminate(5, "remote")
    await asyncio.wait_for(waiting, 2)
    await asyncio.wait_for(ref.wait(), 2)  # already gone: returns at once


async def test_a_local_monitor_hears_a_remote_actor_terminate_with_the_reason() -> None:
    node = Recording()
    remote = node.actor(5)
    watcher = await spawn(Recorder(), None)
    watcher.monitor(remote)
    node.terminate(5, "remote")
    (ended,) = await terminations(watcher)
    assert ended.actor is remote
    assert ended.reason == "remote"
    assert ended.state is None
    assert watcher.is_alive


async def test_an_actor_can_monitor_a_remote_ref_itself() -> None:
    node = Recording()
    remote = node.actor(5)

    class Watcher(Actor[Any, asyncio.Future[ActorTerminated], asyncio.Future[ActorTerminated]]):
        async def pre_start(
            self, myself: ActorRef[Any], args: asyncio.Future[ActorTerminated]
        ) -> asyncio.Future[ActorTerminated]:
            myself.monitor(remote)
            return args

        async def handle_supervisor_evt(
            self, myself: ActorRef[Any], event: Any, state: asyncio.Future[ActorTerminated]
        ) -> None:
            if isinstance(event, ActorTerminated) and not state.done():
                state.set_result(event)

    heard: asyncio.Future[ActorTerminated] = asyncio.get_running_loop().create_future()
    await spawn(Watcher(), heard)
    node.terminate(5, "remote")
    event = await asyncio.wait_for(heard, 2)
    assert event.actor is remote
    assert event.reason == "remote"


async def test_an_unmonitored_remote_actor_sends_no_event() -> None:
    node = Recording()
    remote = node.actor(5)
    watcher = await spawn(Recorder(), None)
    watcher.monitor(remote)
    watcher.unmonitor(remote)
    node.terminate(5, "remote")
    assert await terminations(watcher) == []


async def test_closing_the_node_terminates_every_ref_with_the_reason() -> None:
    node = Recording()
    refs = [node.actor(pid) for pid in (1, 2, 3)]
    watcher = await spawn(Recorder(), None)
    watcher.monitor(refs[0])
    watcher.monitor(refs[2])
    waiting = asyncio.create_task(refs[1].wait())
    await settle()
    node.close("connection lost")
    assert node.closed
    assert len(node) == 0
    assert not any(ref.is_alive for ref in refs)
    await asyncio.wait_for(waiting, 2)
    for ref in refs:
        assert where_is_pid(ref.id) is None
        with pytest.raises(MessagingError, match="connection lost"):
            ref.cast(Add(n=1))
    ended = await terminations(watcher)
    assert sorted(e.actor.id.pid for e in ended) == [1, 3]
    assert {e.reason for e in ended} == {"connection lost"}
    with pytest.raises(MessagingError, match="closed"):
        node.actor(4)


async def test_a_remote_ref_leaves_its_groups_when_terminated() -> None:
    node = Recording()
    remote, other = node.actor(5), node.actor(6)
    local = await spawn(Recorder(), None)
    pg.join("g", [remote, local])
    pg.join_scoped("s", "h", [remote, other])
    assert set(pg.get_members("g")) == {remote, local}
    node.terminate(5, "remote")
    assert pg.get_members("g") == [local]
    assert pg.get_scoped_members("s", "h") == [other]
    node.close("connection lost")
    assert pg.get_scoped_members("s", "h") == []


async def test_stopping_a_remote_ref_forgets_it_here_and_tells_its_monitors() -> None:
    node = Recording()
    remote = node.actor(5)
    watcher = await spawn(Recorder(), None)
    watcher.monitor(remote)
    remote.stop("bye")
    assert not remote.is_alive
    assert node.get(5) is None
    (ended,) = await terminations(watcher)
    assert ended.reason == "bye"


async def test_a_pending_remote_call_fails_promptly_when_its_actor_terminates() -> None:
    node = Recording()
    ref = node.actor(5)
    calling = asyncio.create_task(ref.call(Total()))
    await settle()
    assert len(node.calls) == 1
    assert not calling.done()
    node.terminate(5, "remote")
    with pytest.raises(ReplyDropped, match="terminated"):
        await asyncio.wait_for(calling, 2)
    assert node.calls == []


async def test_a_pending_remote_call_fails_promptly_when_the_connection_ends() -> None:
    node = Recording()
    calling = asyncio.create_task(node.actor(5).call(Total(), timeout=5))
    await settle()
    node.close("connection lost")
    with pytest.raises(ReplyDropped, match="connection lost"):
        await asyncio.wait_for(calling, 2)


class _Congested(Recording):
    """A node whose connection is congested until ``clear()``."""

    def __init__(self) -> None:
        super().__init__()
        self.jammed = True
        self.cleared = asyncio.Event()

    @property
    def congested(self) -> bool:
        return self.jammed

    async def uncongested(self, timeout: float | None, need: int = 0) -> None:
        await asyncio.wait_for(self.cleared.wait(), timeout)

    def clear(self) -> None:
        self.jammed = False
        self.cleared.set()


async def test_a_call_waiting_on_a_congested_node_fails_when_its_actor_goes_meanwhile() -> None:
    node = _Congested()
    ref = node.actor(7)
    call = asyncio.create_task(ref.call(Total(), timeout=5))
    await asyncio.sleep(0)
    assert not call.done() and node.calls == []
    node.terminate(7, "remote")
    node.clear()
    with pytest.raises(MessagingError, match="gone"):
        await asyncio.wait_for(call, 2)
    assert node.calls == []  # nothing was sent to the terminated actor
