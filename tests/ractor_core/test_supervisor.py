"""Supervisors: strategies, restart types, intensity and escalation, backoff, names, dynamic
children, nested trees, shutdown order and timeouts."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import pytest

from ractor_core import (
    Actor,
    ActorFailed,
    ActorRef,
    ActorStatus,
    Call,
    ChildSpec,
    DynamicSupervisor,
    MaxRestartsExceeded,
    ReplyDropped,
    Restart,
    SpawnError,
    Strategy,
    Supervisor,
    SupervisorError,
    SupervisorMsg,
    all_actors,
    spawn,
    spawn_linked,
    where_is,
)
from ractor_core.supervisor import (
    ChildEvent,
    ChildExited,
    ChildStarted,
    ChildStartFailed,
    RestartsExhausted,
    exponential_backoff,
    start_child,
    terminate_child,
    which_children,
)

from .actors import GetNotes, Note, Recorder, events_of

# ---------------------------------------------------------------------------- a worker


@dataclass(frozen=True)
class Crash:
    """Make the handler raise."""


@dataclass(frozen=True)
class Quit:
    """Stop gracefully with ``reason``."""

    reason: str | None = None


@dataclass(frozen=True)
class Hang:
    """Sleep in the handler (a stop request waits behind it)."""


@dataclass(frozen=True)
class Ping(Call[str]):
    """Answered with the worker's tag."""


WorkerMsg = Crash | Quit | Hang | Ping


@dataclass
class Plan:
    """A worker's args, kept across its restarts: what it logs, how its starts go."""

    tag: str
    log: list[str]
    fail_starts: int = 0  # how many of the next starts raise
    slow_start: float = 0.0


class Worker(Actor[WorkerMsg, Plan, Plan]):
    async def pre_start(self, myself: ActorRef[WorkerMsg], args: Plan) -> Plan:
        if args.fail_starts:
            args.fail_starts -= 1
            args.log.append(f"fail {args.tag}")
            raise ValueError(f"{args.tag} refuses to start")
        if args.slow_start:
            await asyncio.sleep(args.slow_start)
        args.log.append(f"start {args.tag}")
        return args

    async def handle(self, myself: ActorRef[WorkerMsg], message: WorkerMsg, state: Plan) -> None:
        match message:
            case Crash():
                raise RuntimeError(f"{state.tag} crashed")
            case Quit(reason=reason):
                myself.stop(reason)
            case Hang():
                await asyncio.sleep(3600)
            case Ping():
                message.reply.send(state.tag)

    async def post_stop(self, myself: ActorRef[WorkerMsg], state: Plan) -> None:
        state.log.append(f"stop {state.tag}")


@dataclass
class Tree:
    """Specs of tagged workers sharing one log."""

    log: list[str] = field(default_factory=list[str])
    plans: dict[str, Plan] = field(default_factory=dict[str, Plan])

    def spec(self, tag: str, **options: Any) -> ChildSpec[WorkerMsg]:
        plan = self.plans[tag] = Plan(tag, self.log)
        return ChildSpec(tag, Worker(), plan, **options)


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``predicate`` until it holds, failing past ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met within the deadline")
        await asyncio.sleep(0.005)


async def refs(sup: ActorRef[SupervisorMsg]) -> dict[str, ActorRef[Any] | None]:
    return {c.id: c.actor for c in await which_children(sup, timeout=2)}


async def running(sup: ActorRef[SupervisorMsg]) -> dict[str, ActorRef[Any]]:
    """The children's refs once every child listed is running."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while True:
        now = await refs(sup)
        if all(r is not None and r.is_alive for r in now.values()):
            return {k: v for k, v in now.items() if v is not None}
        if loop.time() > deadline:
            raise AssertionError(f"children not all running: {now}")
        await asyncio.sleep(0.005)


async def restarted(
    sup: ActorRef[SupervisorMsg], before: dict[str, ActorRef[Any]], ids: set[str]
) -> dict[str, ActorRef[Any]]:
    """Wait until exactly ``ids`` run as new actors; return the children's refs."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while True:
        now = await refs(sup)
        if all(now.get(i) is not None and now[i] != before[i] for i in ids):
            done = await running(sup)
            assert {i for i in done if done[i] != before.get(i)} == ids
            return done
        if loop.time() > deadline:
            raise AssertionError(f"not restarted: {ids} ({now})")
        await asyncio.sleep(0.005)


async def watch(sup_actor: Supervisor | DynamicSupervisor) -> ActorRef[Any]:
    """A Recorder noting every event of the supervisor's ``events`` port."""
    recorder = await spawn(Recorder(), None)
    sup_actor.events.subscribe(recorder, Note)
    return recorder


async def seen(recorder: ActorRef[Any]) -> list[ChildEvent]:
    events: list[ChildEvent] = await recorder.call(GetNotes(), timeout=2)
    return events


# ---------------------------------------------------------------------------- order


async def test_children_start_in_order_and_stop_in_reverse_order() -> None:
    tree = Tree()
    sup = await spawn(Supervisor([tree.spec("a"), tree.spec("b"), tree.spec("c")]), None)
    assert tree.log == ["start a", "start b", "start c"]
    children = await running(sup)
    assert list(children) == ["a", "b", "c"]
    assert set(sup.children) == set(children.values())
    await sup.stop_and_wait(timeout=5)
    assert tree.log[3:] == ["stop c", "stop b", "stop a"]
    assert all(not c.is_alive for c in children.values())


async def test_a_child_that_fails_to_start_fails_the_supervisor_and_stops_the_started() -> None:
    tree = Tree()
    bad = tree.spec("b")
    tree.plans["b"].fail_starts = 1
    with pytest.raises(SpawnError, match="child 'b' failed to start") as info:
        await spawn(Supervisor([tree.spec("a"), bad, tree.spec("c")]), None, name="root")
    assert isinstance(info.value.__cause__, SupervisorError)
    assert tree.log == ["start a", "fail b", "stop a"]
    assert [a for a in all_actors() if a.is_alive] == []
    assert where_is("root") is None


async def test_a_child_slower_to_start_than_its_start_timeout_fails_the_spawn() -> None:
    tree = Tree()
    slow = tree.spec("slow", start_timeout=0.05)
    tree.plans["slow"].slow_start = 10
    with pytest.raises(SpawnError, match=r"'slow' did not start within 0\.05s"):
        await spawn(Supervisor([tree.spec("a"), slow]), None)
    assert tree.log == ["start a", "stop a"]
    assert [a for a in all_actors() if a.is_alive] == []


async def test_which_children_lists_ids_refs_and_restart_types_in_start_order() -> None:
    tree = Tree()
    sup = await spawn(
        Supervisor([tree.spec("a"), tree.spec("b", restart=Restart.TEMPORARY)]), None
    )
    infos = await which_children(sup, timeout=2)
    assert [(i.id, i.restart, i.restarts) for i in infos] == [
        ("a", Restart.PERMANENT, 0), ("b", Restart.TEMPORARY, 0)
    ]
    assert all(i.actor is not None and i.actor.supervisor == sup for i in infos)


# ---------------------------------------------------------------------------- strategies


async def test_one_for_one_restarts_only_the_failed_child() -> None:
    tree = Tree()
    sup = await spawn(Supervisor([tree.spec("a"), tree.spec("b"), tree.spec("c")]), None)
    before = await running(sup)
    before["b"].cast(Crash())
    after = await restarted(sup, before, {"b"})
    assert await after["b"].call(Ping(), timeout=2) == "b"
    assert [i.restarts for i in await which_children(sup, timeout=2)] == [0, 1, 0]
    assert tree.log[3:] == ["start b"]


async def test_one_for_all_stops_the_others_in_reverse_and_restarts_all_in_order() -> None:
    tree = Tree()
    sup = await spawn(
        Supervisor(
            [tree.spec("a"), tree.spec("b"), tree.spec("c")], strategy=Strategy.ONE_FOR_ALL
        ),
        None,
    )
    before = await running(sup)
    before["b"].cast(Crash())
    await restarted(sup, before, {"a", "b", "c"})
    assert tree.log[3:] == ["stop c", "stop a", "start a", "start b", "start c"]


async def test_rest_for_one_restarts_the_failed_child_and_those_after_it() -> None:
    tree = Tree()
    sup = await spawn(
        Supervisor(
            [tree.spec("a"), tree.spec("b"), tree.spec("c"), tree.spec("d")],
            strategy=Strategy.REST_FOR_ONE,
        ),
        None,
    )
    before = await running(sup)
    before["b"].cast(Crash())
    await restarted(sup, before, {"b", "c", "d"})
    assert tree.log[4:] == ["stop d", "stop c", "start b", "start c", "start d"]


async def test_one_for_all_stops_a_temporary_sibling_for_good() -> None:
    tree = Tree()
    sup = await spawn(
        Supervisor(
            [tree.spec("a"), tree.spec("t", restart=Restart.TEMPORARY)],
            strategy=Strategy.ONE_FOR_ALL,
        ),
        None,
    )
    before = await running(sup)
    before["a"].cast(Crash())
    await until(lambda: not before["t"].is_alive)
    await until(lambda: tree.log.count("start a") == 2)
    assert list(await running(sup)) == ["a"]


# ---------------------------------------------------------------------------- restart types


async def test_a_permanent_child_is_restarted_even_after_a_normal_stop() -> None:
    tree = Tree()
    sup = await spawn(Supervisor([tree.spec("p")]), None)
    before = await running(sup)
    before["p"].cast(Quit("done"))
    await restarted(sup, before, {"p"})


async def test_a_transient_child_is_restarted_after_a_failure_or_a_kill_only() -> None:
    tree = Tree()
    sup = await spawn(Supervisor([tree.spec("t", restart=Restart.TRANSIENT)]), None)
    before = await running(sup)
    before["t"].cast(Crash())
    before = await restarted(sup, before, {"t"})
    before["t"].kill()
    before = await restarted(sup, before, {"t"})
    before["t"].cast(Quit("finished"))
    await before["t"].wait(timeout=2)
    assert await refs(sup) == {"t": None}  # kept, not running
    assert sup.is_alive


async def test_a_temporary_child_is_never_restarted_and_leaves_the_supervisor() -> None:
    tree = Tree()
    sup = await spawn(
        Supervisor([tree.spec("t", restart=Restart.TEMPORARY), tree.spec("p")]), None
    )
    before = await running(sup)
    before["t"].cast(Crash())
    await before["t"].wait(timeout=2)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while "t" in await refs(sup):
        assert loop.time() < deadline
        await asyncio.sleep(0.005)
    assert list(await running(sup)) == ["p"]
    assert before["p"].is_alive


# ---------------------------------------------------------------------------- intensity


async def test_exceeding_the_restart_intensity_stops_the_children_and_fails_the_supervisor(
) -> None:
    tree = Tree()
    parent = await spawn(Recorder(), None)
    actor = Supervisor([tree.spec("a"), tree.spec("b")], max_restarts=2, max_seconds=30)
    recorder = await watch(actor)
    sup = await spawn_linked(actor, None, parent)
    for _ in range(2):
        before = await running(sup)
        before["b"].cast(Crash())
        await restarted(sup, before, {"b"})
    (await running(sup))["b"].cast(Crash())
    await sup.wait(timeout=5)
    failed = [e for e in await events_of(parent) if isinstance(e, ActorFailed)]
    assert len(failed) == 1 and failed[0].actor == sup
    error = failed[0].error
    assert isinstance(error, MaxRestartsExceeded)
    assert error.child_id == "b" and error.max_restarts == 2
    assert isinstance(error.cause, RuntimeError)
    assert "more than 2 restarts within 30s" in str(error)
    assert tree.log[-1] == "stop a"  # the others were stopped before it failed
    events = await seen(recorder)
    assert isinstance(events[-1], RestartsExhausted) and events[-1].error is error
    assert isinstance(events[-2], ChildExited) and events[-2].restart_in is None
    assert [a for a in all_actors() if a.is_alive] == [parent, recorder]


async def test_intensity_escalates_to_the_parent_supervisor_which_restarts_the_subtree() -> None:
    tree = Tree()
    sub = Supervisor([tree.spec("w", name="w")], max_restarts=1)
    root = await spawn(
        Supervisor([ChildSpec("sub", sub, None, name="sub"), tree.spec("x")]), None, name="root"
    )
    first_sub = where_is("sub")
    assert first_sub is not None
    for _ in range(2):
        w = where_is("w")
        assert w is not None
        w.cast(Crash())
        await w.wait(timeout=2)
        if where_is("sub") is first_sub:
            await until(lambda: where_is("w") is not None)
    # the second crash was one too many for "sub": it failed and "root" restarted it
    await until(lambda: where_is("sub") not in (None, first_sub))
    assert not first_sub.is_alive
    assert root.is_alive
    children = await running(root)
    assert children["sub"] == where_is("sub")
    assert tree.log.count("start x") == 1  # one for one at the root: x untouched


async def test_escalation_reaches_the_top_when_every_level_gives_up() -> None:
    tree = Tree()
    parent = await spawn(Recorder(), None)
    sub = Supervisor([tree.spec("w", name="w")], max_restarts=0)
    root = await spawn_linked(
        Supervisor([ChildSpec("sub", sub, None)], max_restarts=0), None, parent
    )
    w = where_is("w")
    assert w is not None
    w.cast(Crash())
    await root.wait(timeout=5)
    failed = [e for e in await events_of(parent) if isinstance(e, ActorFailed)]
    assert isinstance(failed[0].error, MaxRestartsExceeded)
    assert failed[0].error.child_id == "sub"
    assert isinstance(failed[0].error.cause, MaxRestartsExceeded)
    assert failed[0].error.cause.child_id == "w"


async def test_a_restart_that_fails_in_pre_start_is_retried() -> None:
    tree = Tree()
    actor = Supervisor([tree.spec("w")], max_restarts=5)
    recorder = await watch(actor)
    sup = await spawn(actor, None)
    before = await running(sup)
    tree.plans["w"].fail_starts = 2
    before["w"].cast(Crash())
    await restarted(sup, before, {"w"})
    assert tree.log == ["start w", "fail w", "fail w", "start w"]
    events = await seen(recorder)
    assert [type(e) for e in events] == [
        ChildStarted, ChildExited, ChildStartFailed, ChildStartFailed, ChildStarted
    ]
    assert isinstance(events[-1], ChildStarted) and events[-1].restarts == 3


async def test_a_child_that_never_starts_again_escalates_instead_of_looping() -> None:
    tree = Tree()
    parent = await spawn(Recorder(), None)
    sup = await spawn_linked(Supervisor([tree.spec("w")], max_restarts=3), None, parent)
    before = await running(sup)
    tree.plans["w"].fail_starts = 1_000
    before["w"].cast(Crash())
    await sup.wait(timeout=5)
    failed = [e for e in await events_of(parent) if isinstance(e, ActorFailed)]
    assert isinstance(failed[0].error, MaxRestartsExceeded)
    assert isinstance(failed[0].error.cause, SpawnError)
    assert tree.log.count("fail w") == 3


async def test_a_restart_that_takes_longer_than_start_timeout_is_a_failed_start() -> None:
    tree = Tree()
    sup = await spawn(Supervisor([tree.spec("w", start_timeout=0.05)], max_restarts=5), None)
    before = await running(sup)
    tree.plans["w"].slow_start = 10
    before["w"].cast(Crash())
    await until(lambda: sup.is_alive and len(tree.log) == 1)
    tree.plans["w"].slow_start = 0
    await restarted(sup, before, {"w"})


async def test_restarts_older_than_the_period_do_not_count() -> None:
    tree = Tree()
    sup = await spawn(Supervisor([tree.spec("w")], max_restarts=1, max_seconds=0.2), None)
    before = await running(sup)
    before["w"].cast(Crash())
    before = await restarted(sup, before, {"w"})
    await asyncio.sleep(0.25)  # the first restart leaves the period
    before["w"].cast(Crash())
    await restarted(sup, before, {"w"})
    assert sup.is_alive


async def test_a_crashed_childs_queued_calls_fail_and_the_new_child_answers() -> None:
    tree = Tree()
    sup = await spawn(Supervisor([tree.spec("w", name="w")]), None)
    before = await running(sup)
    before["w"].cast(Crash())
    with pytest.raises(ReplyDropped):  # queued behind the crash: lost with the mailbox
        await before["w"].call(Ping(), timeout=2)
    after = await restarted(sup, before, {"w"})
    assert await after["w"].call(Ping(), timeout=2) == "w"


# ---------------------------------------------------------------------------- backoff


async def test_backoff_delays_the_restart_while_the_supervisor_keeps_answering() -> None:
    tree = Tree()
    sup = await spawn(Supervisor([tree.spec("w", backoff=lambda n: 0.3 * n)]), None)
    before = await running(sup)
    loop = asyncio.get_running_loop()
    crashed = loop.time()
    before["w"].cast(Crash())
    await before["w"].wait(timeout=2)
    assert await refs(sup) == {"w": None}  # waiting, and answering meanwhile
    after = await restarted(sup, before, {"w"})
    assert loop.time() - crashed >= 0.3
    crashed = loop.time()
    after["w"].cast(Crash())
    await restarted(sup, after, {"w"})
    assert loop.time() - crashed >= 0.6  # the second restart within the period waits longer


async def test_stopping_a_supervisor_during_a_backoff_cancels_the_restart() -> None:
    tree = Tree()
    sup = await spawn(Supervisor([tree.spec("w", backoff=lambda n: 30.0)]), None)
    before = await running(sup)
    before["w"].cast(Crash())
    await before["w"].wait(timeout=2)
    await sup.stop_and_wait(timeout=2)
    assert tree.log == ["start w"]


def test_exponential_backoff_grows_by_its_factor_up_to_its_maximum() -> None:
    delay = exponential_backoff(0.1, 2.0, 0.5)
    assert [delay(n) for n in range(1, 6)] == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])
    with pytest.raises(ValueError):
        exponential_backoff(-1)


class Counted(Worker):
    """A worker counting its instances (state on the instance, which a factory renews)."""

    made = 0

    def __init__(self) -> None:
        Counted.made += 1
        self.instance = Counted.made


async def test_a_spec_given_a_factory_gets_a_new_actor_instance_at_each_start() -> None:
    Counted.made = 0
    tree = Tree()
    plan = tree.plans["w"] = Plan("w", tree.log)
    sup = await spawn(Supervisor([ChildSpec("w", Counted, plan)]), None)
    before = await running(sup)
    before["w"].cast(Crash())
    await restarted(sup, before, {"w"})
    assert Counted.made == 2


async def test_a_factory_that_makes_no_actor_is_a_failed_start() -> None:
    bad: ChildSpec[WorkerMsg] = ChildSpec("w", cast(Any, lambda: "not an actor"), None)
    with pytest.raises(SpawnError, match="returned 'not an actor', not an Actor"):
        await spawn(Supervisor([bad]), None)


# ---------------------------------------------------------------------------- names


async def test_a_restarted_child_is_registered_again_under_its_name() -> None:
    tree = Tree()
    spec = tree.spec("db", name="db")
    await spawn(Supervisor([spec]), None)
    old = where_is("db")
    assert old is not None and spec.where_is() == old
    old.cast(Crash())
    await until(lambda: where_is("db") not in (None, old))
    new = spec.where_is()
    assert new is not None and new.is_alive
    assert await new.call(Ping(), timeout=2) == "db"


# ---------------------------------------------------------------------------- dynamic


async def test_a_dynamic_supervisor_adds_and_removes_children_up_to_max_children() -> None:
    tree = Tree()
    sup = await spawn(DynamicSupervisor(max_children=2), None)
    a = await start_child(sup, tree.spec("a"), timeout=2)
    assert await a.call(Ping(), timeout=2) == "a"
    with pytest.raises(SupervisorError, match="already has a child 'a'"):
        await start_child(sup, tree.spec("a"), timeout=2)
    await start_child(sup, tree.spec("b"), timeout=2)
    with pytest.raises(SupervisorError, match="max_children=2"):
        await start_child(sup, tree.spec("c"), timeout=2)
    await terminate_child(sup, "a", timeout=2)
    assert not a.is_alive and "stop a" in tree.log
    with pytest.raises(SupervisorError, match="no child 'a'"):
        await terminate_child(sup, "a", timeout=2)
    await start_child(sup, tree.spec("c"), timeout=2)
    assert list(await running(sup)) == ["b", "c"]


async def test_a_dynamic_child_is_restarted_and_a_finished_one_leaves() -> None:
    tree = Tree()
    sup = await spawn(DynamicSupervisor(), None)
    await start_child(sup, tree.spec("p"), timeout=2)
    t = await start_child(sup, tree.spec("t", restart=Restart.TRANSIENT), timeout=2)
    before = await running(sup)
    before["p"].cast(Crash())
    await restarted(sup, before, {"p"})
    t.cast(Quit())
    await t.wait(timeout=2)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 5
    while "t" in await refs(sup):
        assert loop.time() < deadline
        await asyncio.sleep(0.005)


async def test_a_dynamic_supervisor_stops_its_children_all_at_once() -> None:
    tree = Tree()
    sup = await spawn(DynamicSupervisor(), None)
    children = [
        await start_child(sup, tree.spec(f"w{i}", shutdown=0.3), timeout=2) for i in range(20)
    ]
    for child in children:
        child.cast(Hang())  # each is killed after its 0.3 s: 6 s one after the other
    loop = asyncio.get_running_loop()
    began = loop.time()
    await sup.stop_and_wait(timeout=5)
    assert loop.time() - began < 3
    assert not any(c.is_alive for c in children)


async def test_start_child_reports_a_failing_pre_start_and_adds_nothing() -> None:
    tree = Tree()
    sup = await spawn(DynamicSupervisor(), None)
    spec = tree.spec("w")
    tree.plans["w"].fail_starts = 1
    with pytest.raises(SpawnError, match="refuses to start"):
        await start_child(sup, spec, timeout=2)
    assert await refs(sup) == {}
    assert await (await start_child(sup, spec, timeout=2)).call(Ping(), timeout=2) == "w"


async def test_a_static_supervisor_takes_children_at_run_time_too() -> None:
    tree = Tree()
    sup = await spawn(Supervisor([tree.spec("a")], strategy=Strategy.ONE_FOR_ALL), None)
    await start_child(sup, tree.spec("b"), timeout=2)
    before = await running(sup)
    before["a"].cast(Crash())
    await restarted(sup, before, {"a", "b"})
    assert tree.log[2:] == ["stop b", "start a", "start b"]


# ---------------------------------------------------------------------------- shutdown


async def test_a_child_that_does_not_stop_in_its_shutdown_time_is_killed() -> None:
    tree = Tree()
    sup = await spawn(Supervisor([tree.spec("a"), tree.spec("slow", shutdown=0.1)]), None)
    children = await running(sup)
    children["slow"].cast(Hang())
    loop = asyncio.get_running_loop()
    began = loop.time()
    await sup.stop_and_wait(timeout=5)
    assert loop.time() - began < 3
    assert children["slow"].status is ActorStatus.STOPPED
    assert tree.log[2:] == ["stop a"]  # killed: no post_stop for "slow"


async def test_shutdown_zero_kills_at_once() -> None:
    tree = Tree()
    sup = await spawn(Supervisor([tree.spec("a", shutdown=0)]), None)
    children = await running(sup)
    await sup.stop_and_wait(timeout=5)
    assert not children["a"].is_alive
    assert tree.log == ["start a"]


async def test_a_nested_tree_stops_depth_first_in_reverse_order() -> None:
    tree = Tree()
    sub = Supervisor([tree.spec("x"), tree.spec("y")])
    root = await spawn(
        Supervisor([tree.spec("a"), ChildSpec("sub", sub, None, shutdown=None), tree.spec("b")]),
        None,
    )
    assert tree.log == ["start a", "start x", "start y", "start b"]
    await root.stop_and_wait(timeout=5)
    assert tree.log[4:] == ["stop b", "stop y", "stop x", "stop a"]
    assert [a for a in all_actors() if a.is_alive] == []


async def test_a_killed_supervisor_takes_its_children_down() -> None:
    tree = Tree()
    sup = await spawn(Supervisor([tree.spec("a"), tree.spec("b")]), None)
    children = await running(sup)
    await sup.kill_and_wait(timeout=2)
    await asyncio.gather(*(c.wait(timeout=2) for c in children.values()))


# ---------------------------------------------------------------------------- events


async def test_the_events_port_tells_what_happened_to_each_child() -> None:
    tree = Tree()
    actor = Supervisor([tree.spec("w")])
    recorder = await watch(actor)
    sup = await spawn(actor, None)
    before = await running(sup)
    before["w"].cast(Crash())
    await restarted(sup, before, {"w"})
    events = await seen(recorder)
    assert [type(e) for e in events] == [ChildStarted, ChildExited, ChildStarted]
    started, exited, again = events
    assert isinstance(started, ChildStarted) and started.restarts == 0
    assert started.supervisor == sup and started.actor == before["w"]
    assert isinstance(exited, ChildExited) and exited.child_id == "w"
    assert isinstance(exited.error, RuntimeError) and exited.restart_in == 0.0
    assert isinstance(again, ChildStarted) and again.restarts == 1


# ---------------------------------------------------------------------------- validation


def test_specs_and_options_are_checked_when_built() -> None:
    plan = Plan("w", [])
    with pytest.raises(ValueError, match="non-empty"):
        ChildSpec("", Worker(), plan)
    with pytest.raises(ValueError, match="shutdown"):
        ChildSpec("w", Worker(), plan, shutdown=-1)
    with pytest.raises(ValueError, match="two children have the id 'w'"):
        Supervisor([ChildSpec("w", Worker(), plan), ChildSpec("w", Worker(), plan)])
    with pytest.raises(ValueError, match="max_restarts"):
        Supervisor(max_restarts=-1)
    with pytest.raises(ValueError, match="max_children"):
        DynamicSupervisor(max_children=0)
