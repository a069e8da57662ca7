"""The app a test node runs (``ractor-cluster node --app tests.ractor_cluster.node_app``).

It hosts a ``Counter`` named ``counter-<node>``, prints the NodeServer's session events as
JSON lines on stdout, and executes JSON commands read from stdin, answering each with a
JSON line carrying the command's ``id``.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ractor_cluster import (
    GetReadyState,
    GetSessions,
    NodeEventSubscription,
    NodeServerMessage,
    NodeServerSessionInformation,
    SubscribeToEvents,
    as_remote,
    client_connect,
    client_connect_enc,
    remote_actors,
)
from ractor_core import (
    Actor,
    ActorRef,
    ActorTerminated,
    Call,
    MailboxFull,
    RactorError,
    SupervisionEvent,
    pg,
    spawn,
    where_is,
)
from ractor_derive import F64, I64, U8, U32, U128, Char, Message, cluster_message


@cluster_message
class CounterMsg(Message):
    """Messages of the test counter (one of each kind of field)."""


class Add(CounterMsg):
    n: I64


class Note(CounterMsg):
    text: str


class Mixed(CounterMsg):
    small: U8
    big: U128
    ratio: F64
    letter: Char
    flags: list[bool]
    raw: bytes


class Get(CounterMsg, Call[I64]):
    pass


class Echo(CounterMsg, Call[str]):
    text: str


class Notes(CounterMsg, Call[list[U32]]):
    pass


class Slow(CounterMsg, Call[bool]):
    ms: U32


class Summary(CounterMsg, Call[str]):
    pass


class Bytes(CounterMsg, Call[bytes]):
    """Two arguments and a reply (the reply port's position never reaches the wire)."""

    count: U8
    text: str


Counter = Add | Note | Mixed | Get | Echo | Notes | Slow | Summary | Bytes


@cluster_message
class HelloMsg(Message):
    """The upstream pg-groups integration test's messages."""


class Hey(HelloMsg):
    text: str


class IsDone(HelloMsg, Call[bool]):
    pass


Hello = Hey | IsDone
HELLO_GROUP = "hello"


class HelloActor(Actor[Hello, list[int], None]):
    """Re-casts Hey to every remote member of "hello" while it has seen at most 10."""

    async def pre_start(self, myself: ActorRef[Hello], args: None) -> list[int]:
        pg.join(HELLO_GROUP, [myself])
        return [0]

    async def handle(self, myself: ActorRef[Hello], message: Hello, state: list[int]) -> None:
        match message:
            case Hey(text=text):
                state[0] += 1
                if state[0] <= 10:
                    for member in pg.get_members(HELLO_GROUP):
                        if not member.id.is_local:
                            as_remote(member, Hello).cast(Hey(text=text))
            case IsDone():
                message.reply.send(state[0] >= 10)


RECEIVED_STRINGS: list[str] = []


class StringsActor(Actor[str, None, None]):
    """An actor whose message type is a plain str (remotable, as in Rust)."""

    async def pre_start(self, myself: ActorRef[str], args: None) -> None:
        return None

    async def handle(self, myself: ActorRef[str], message: str, state: None) -> None:
        RECEIVED_STRINGS.append(message)


@dataclass
class SeqState:
    """What a SeqActor saw: how many numbers, and how many came out of order or missing."""

    expected: int = 0
    received: int = 0
    errors: int = 0


SEQ = SeqState()


class SeqActor(Actor[int, None, None]):
    """Takes plain int messages (i64 on the wire) that must arrive as 0, 1, 2, ..."""

    async def pre_start(self, myself: ActorRef[int], args: None) -> None:
        return None

    async def handle(self, myself: ActorRef[int], message: int, state: None) -> None:
        if message != SEQ.expected:
            SEQ.errors += 1
        SEQ.expected = message + 1
        SEQ.received += 1


def _rss_kib() -> int | None:
    """This process's resident memory (Linux), in KiB."""
    with open("/proc/self/status") as status:  # a procfs read: it does not block
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None


async def sustain(cmd: dict[str, Any]) -> dict[str, Any]:
    """``sustain`` {to_seq, to_counter, seconds, callers}: sequence numbers sent with
    ``await send`` for ``seconds`` while ``callers`` loops call Echo; the call latencies."""
    seq_refs = remote_actors(cmd["to_seq"])
    if not seq_refs:
        raise LookupError(f"no remote actor named {cmd['to_seq']!r}")
    seq = as_remote(seq_refs[0], int)
    counter = _target({"to": cmd["to_counter"]})
    loop = asyncio.get_running_loop()
    end = loop.time() + cmd["seconds"]
    samples: list[int] = []
    errors: list[str] = []

    async def sender() -> int:
        n = 0
        while loop.time() < end:
            for _ in range(256):
                await seq.send(n)
                n += 1
            await asyncio.sleep(0)  # a producer that lets the node's other work run
        return n

    async def caller() -> None:
        while loop.time() < end:
            started = time.perf_counter_ns()
            try:
                await counter.call(Echo(text="ping"), timeout=10)
            except RactorError as exc:
                errors.append(type(exc).__name__)
                await asyncio.sleep(0.01)  # failing fast must not spin the loop
                continue
            samples.append(time.perf_counter_ns() - started)

    callers = [loop.create_task(caller()) for _ in range(cmd.get("callers", 4))]
    try:
        sent = await sender()
    finally:
        end = loop.time()  # the callers stop too, whatever happened to the sender
    await asyncio.gather(*callers)
    samples.sort()
    return {
        "sent": sent,
        "calls": len(samples),
        "call_errors": errors,
        "p50_us": _percentile_us(samples, 50) if samples else None,
        "p99_us": _percentile_us(samples, 99) if samples else None,
    }


WATCHED: list[str | None] = []
WATCHERS: list[ActorRef[None]] = []


class Watcher(Actor[None, None, None]):
    """Notes the reason of every ActorTerminated it hears (it monitors remote actors)."""

    async def pre_start(self, myself: ActorRef[None], args: None) -> None:
        return None

    async def handle_supervisor_evt(
        self, myself: ActorRef[None], event: SupervisionEvent, state: None
    ) -> None:
        if isinstance(event, ActorTerminated):
            WATCHED.append(event.reason)


@dataclass
class Tally:
    total: int = 0
    notes: list[str] = field(default_factory=list)
    mixed: list[str] = field(default_factory=list)


class CounterActor(Actor[Counter, Tally, None]):
    async def pre_start(self, myself: ActorRef[Counter], args: None) -> Tally:
        return Tally()

    async def handle(self, myself: ActorRef[Counter], message: Counter, state: Tally) -> None:
        match message:
            case Add(n=n):
                state.total += n
            case Note(text=text):
                state.notes.append(text)
            case Mixed(small=small, big=big, ratio=ratio, letter=letter, flags=flags, raw=raw):
                shown = ",".join("true" if f else "false" for f in flags)
                state.mixed.append(  # the same text as the Rust peer's
                    f"Mixed(small={small} big={big} ratio={ratio!r} letter='{letter}' "
                    f"flags=[{shown}] raw={raw.hex()})"
                )
            case Get():
                message.reply.send(state.total)
            case Echo(text=text):
                message.reply.send(text)
            case Notes():
                message.reply.send([len(n) for n in state.notes])
            case Slow(ms=ms):
                await asyncio.sleep(ms / 1000)
                message.reply.send(True)
            case Summary():
                message.reply.send(json.dumps({"total": state.total, "notes": state.notes,
                                               "mixed": state.mixed}))
            case Bytes(count=count, text=text):
                message.reply.send(text.encode() * count)


TEST_GROUP = "test"


def emit(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


class Events(NodeEventSubscription):
    def _emit(self, kind: str, info: NodeServerSessionInformation) -> None:
        peer = info.peer_name.name if info.peer_name is not None else None
        emit({"event": kind, "peer": peer, "node_id": info.node_id, "server": info.is_server})

    def node_session_opened(self, info: NodeServerSessionInformation) -> None:
        self._emit("opened", info)

    def node_session_authenticated(self, info: NodeServerSessionInformation) -> None:
        self._emit("authenticated", info)

    def node_session_ready(self, info: NodeServerSessionInformation) -> None:
        self._emit("ready", info)

    def node_session_disconnected(self, info: NodeServerSessionInformation) -> None:
        self._emit("disconnected", info)


MESSAGES: dict[str, Any] = {
    "add": lambda c: Add(n=c["n"]),
    "note": lambda c: Note(text=c["text"]),
    "mixed": lambda c: Mixed(small=c["small"], big=c["big"], ratio=c["ratio"],
                             letter=c["letter"], flags=c["flags"], raw=bytes.fromhex(c["raw"])),
    "get": lambda c: Get(),
    "echo": lambda c: Echo(text=c["text"]),
    "notes": lambda c: Notes(),
    "slow": lambda c: Slow(ms=c["ms"]),
    "summary": lambda c: Summary(),
    "bytes": lambda c: Bytes(count=c["count"], text=c["text"]),
}


def _target(cmd: dict[str, Any]) -> ActorRef[Counter]:
    refs = remote_actors(cmd["to"])
    if not refs:
        raise LookupError(f"no remote actor named {cmd['to']!r}")
    return as_remote(refs[0], Counter)


def _percentile_us(sorted_ns: list[int], percent: int) -> float:
    """Nearest-rank percentile of sorted ns samples, in µs (integer rank: as the Rust peer)."""
    rank = (len(sorted_ns) * percent + 99) // 100
    return sorted_ns[max(rank, 1) - 1] / 1000


async def bench_cast(target: ActorRef[Counter], n: int) -> dict[str, Any]:
    """``bench_cast`` {to, n}: n casts of Add(1), then a Get call (60 s) once all arrived."""
    started = time.perf_counter()
    for _ in range(n):
        target.cast(Add(n=1))
    total = await target.call(Get(), timeout=60)
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rate": n / seconds, "total": total}


async def bench_call(target: ActorRef[Counter], n: int) -> dict[str, Any]:
    """``bench_call`` {to, n}: n sequential Echo("ping") calls (5 s each); round trips in µs."""
    if n < 1:
        raise ValueError("bench_call needs n >= 1")
    samples: list[int] = []
    for _ in range(n):
        started = time.perf_counter_ns()
        answer = await target.call(Echo(text="ping"), timeout=5)
        samples.append(time.perf_counter_ns() - started)
        if answer != "ping":
            raise ValueError(f"Echo answered {answer!r}")
    samples.sort()
    return {"p50_us": _percentile_us(samples, 50), "p99_us": _percentile_us(samples, 99),
            "mean_us": sum(samples) / len(samples) / 1000}


async def execute(node: ActorRef[NodeServerMessage], cmd: dict[str, Any]) -> Any:
    op = cmd["op"]
    if op == "connect":
        ca = os.environ.get("RACTOR_TEST_TLS_CA")
        if ca:
            context = ssl.create_default_context(cafile=ca)
            cert = os.environ.get("RACTOR_TEST_TLS_CLIENT_CERT")
            if cert:
                context.load_cert_chain(cert)
            await client_connect_enc(
                node, cmd["address"], context, os.environ.get("RACTOR_TEST_TLS_SERVER_NAME")
            )
        else:
            await client_connect(node, cmd["address"])
        return True
    if op == "session_details":
        sessions = await node.call(GetSessions(), timeout=2)
        return sorted(
            [i.peer_name.name, i.is_server] for i in sessions.values() if i.peer_name is not None
        )
    if op == "sessions":
        sessions = await node.call(GetSessions(), timeout=2)
        return sorted(i.peer_name.name for i in sessions.values() if i.peer_name is not None)
    if op == "ready":
        sessions = await node.call(GetSessions(), timeout=2)
        return [await i.actor.call(GetReadyState(), timeout=2) for i in sessions.values()]
    if op == "remote_actors":
        return sorted([r.id.pid, r.name] for r in remote_actors())
    if op == "cast":
        _target(cmd).cast(MESSAGES[cmd["msg"]](cmd))
        return True
    if op == "call":
        result = await _target(cmd).call(MESSAGES[cmd["msg"]](cmd), timeout=cmd.get("timeout"))
        return result.hex() if isinstance(result, bytes) else result
    if op == "bench_cast":
        return await bench_cast(_target(cmd), cmd["n"])
    if op == "bench_call":
        return await bench_call(_target(cmd), cmd["n"])
    if op == "hello_start":
        hello = where_is(f"hello-{NAME[0]}")
        assert hello is not None
        hello.cast(Hey(text="Hey there"))
        return True
    if op == "hello_done":
        hello = where_is(f"hello-{NAME[0]}")
        assert hello is not None
        return await hello.call(IsDone(), timeout=0.5)
    if op == "strings":
        return RECEIVED_STRINGS
    if op == "cast_string":
        refs = remote_actors(cmd["to"])
        if not refs:
            raise LookupError(f"no remote actor named {cmd['to']!r}")
        as_remote(refs[0], str).cast(cmd["text"])
        return True
    if op == "sustain":
        return await sustain(cmd)
    if op == "seq_report":
        return {"received": SEQ.received, "errors": SEQ.errors, "expected": SEQ.expected}
    if op == "loop_lag":  # the longest the event loop was held since the last query (ms)
        worst = LAG[0]
        LAG[0] = 0.0
        return worst
    if op == "flood_notes":  # n Note casts of `size` characters to counter `to`
        counter = _target(cmd)
        note = Note(text="n" * cmd["size"])
        sent = refused = 0
        for _ in range(cmd["n"]):
            try:
                counter.cast(note)
                sent += 1
            except MailboxFull:
                refused += 1
        return {"sent": sent, "refused": refused}
    if op == "flood":  # n casts of `size`-byte strings to remote `to`; count the refused
        refs = remote_actors(cmd["to"])
        if not refs:
            raise LookupError(f"no remote actor named {cmd['to']!r}")
        target = as_remote(refs[0], str)
        text = "x" * cmd["size"]
        sent = refused = 0
        for _ in range(cmd["n"]):
            try:
                target.cast(text)
                sent += 1
            except MailboxFull:
                refused += 1
        return {"sent": sent, "refused": refused}
    if op == "spawn_many":  # n unnamed remotable actors (kept running)
        for _ in range(cmd["n"]):
            await spawn(StringsActor(), None)
        return cmd["n"]
    if op == "spawn_group":  # n unnamed remotable actors, all joined to `group`
        refs = [await spawn(StringsActor(), None) for _ in range(cmd["n"])]
        pg.join(cmd["group"], refs)
        return len(refs)
    if op == "member_count":  # members of `group` (default scope), local and remote
        return len(pg.get_members(cmd["group"]))
    if op == "rss_kib":
        return _rss_kib()
    if op == "task_count":
        return len(asyncio.all_tasks())
    if op == "remote_count":
        return len(remote_actors())
    if op == "monitor_remote":  # a local watcher of remote actor `to`; see "watched"
        refs = remote_actors(cmd["to"])
        if not refs:
            raise LookupError(f"no remote actor named {cmd['to']!r}")
        watcher = await spawn(Watcher(), None)
        watcher.monitor(refs[0])
        WATCHERS.append(watcher)
        return True
    if op == "watched":
        return WATCHED
    if op == "spawn":
        ref = await spawn(CounterActor(), None, name=cmd["name"])
        for group in cmd.get("groups", []):
            pg.join_scoped(cmd.get("scope", pg.DEFAULT_SCOPE), group, [ref])
        return ref.id.pid
    if op == "stop":
        ref = where_is(cmd["name"])
        assert ref is not None
        await ref.stop_and_wait(timeout=5)
        return True
    if op == "join" or op == "leave":
        ref = where_is(cmd["name"])
        assert ref is not None
        scope = cmd.get("scope", pg.DEFAULT_SCOPE)
        (pg.join_scoped if op == "join" else pg.leave_scoped)(scope, cmd["group"], [ref])
        return True
    if op == "members":
        scope = cmd.get("scope", pg.DEFAULT_SCOPE)
        members = pg.get_scoped_members(scope, cmd["group"])
        return sorted([r.name, r.id.is_local] for r in members)
    if op == "local_summary":
        ref = where_is(cmd["name"])
        assert ref is not None
        return json.loads(await ref.call(Summary(), timeout=2))
    raise ValueError(f"unknown op {op!r}")


async def serve_commands(node: ActorRef[NodeServerMessage]) -> None:
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)

    threading.Thread(target=read, daemon=True).start()
    while True:
        line = await lines.get()
        cmd = json.loads(line)
        try:
            result = await execute(node, cmd)
            emit({"id": cmd["id"], "ok": True, "result": result})
        except (RactorError, LookupError, ValueError, AssertionError) as exc:
            emit({"id": cmd["id"], "ok": False, "error": type(exc).__name__, "text": str(exc)})


_tasks: list[asyncio.Task[None]] = []
NAME: list[str] = []
LAG: list[float] = [0.0]


async def watch_loop_lag() -> None:
    """Note how late a 5 ms sleep wakes up: how long something held the event loop."""
    loop = asyncio.get_running_loop()
    while True:
        started = loop.time()
        await asyncio.sleep(0.005)
        LAG[0] = max(LAG[0], (loop.time() - started - 0.005) * 1000)


async def start(node: ActorRef[NodeServerMessage], name: str) -> None:
    node.cast(SubscribeToEvents("test", Events()))
    NAME.append(name)
    counter = await spawn(CounterActor(), None, name=f"counter-{name}")
    pg.join(TEST_GROUP, [counter])
    await spawn(HelloActor(), None, name=f"hello-{name}")
    await spawn(StringsActor(), None, name=f"strings-{name}")
    await spawn(SeqActor(), None, name=f"seq-{name}", capacity=10_000)
    _tasks.append(asyncio.get_running_loop().create_task(serve_commands(node)))
    _tasks.append(asyncio.get_running_loop().create_task(watch_loop_lag()))
