"""Workers: the user's ``Worker`` class, the actor that runs it, and how a job and its
acknowledgement travel to a worker (in this process, or over the wire to another node)."""

# The factory is part of the runtime: it uses the runtime's private parts (cells, ports).
# pyright: reportPrivateUsage=false

from __future__ import annotations

import itertools
import logging
import struct
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar, final

from .. import pg
from .._actor import Actor
from .._errors import CallError, MailboxFull, MessagingError, ReplyPortError
from .._message import (
    Call,
    MessageFamily,
    RpcReplyPort,
    SerializedCall,
    SerializedCast,
    SerializedMessage,
    _Envelope,
    _handling,
    message_family,
)
from .._ref import ActorRef, spawn
from ._job import Job

__all__ = ["Worker", "WorkerContext", "serve_workers"]

K = TypeVar("K")
M = TypeVar("M")
S = TypeVar("S")

_log = logging.getLogger("ractor.core.factory")


@dataclass(frozen=True, slots=True)
class WorkerContext:
    """What a worker knows about itself: its number and its actor."""

    worker_id: int
    """The worker's number (unique among the workers its factory, or ``serve_workers``,
    started)."""
    myself: ActorRef[Any]
    """The actor that runs the worker."""


class Worker(ABC, Generic[K, M, S]):
    """The behaviour of a factory's workers: jobs with keys ``K`` and messages ``M``, state ``S``.

    A worker handles one job at a time. ``handle`` answers an rpc job before it returns
    (``job.msg.reply.send(...)``): the job ends when ``handle`` returns, and a call left
    unanswered fails its caller with ``ReplyDropped``. A raising ``handle`` fails that job only
    (logged, counted in the stats; a call gets ``ReplyDropped``) and the worker goes on. Build
    workers with a callable taking the worker number, so arguments go to the constructor.
    """

    __ractor_job_types__: ClassVar[tuple[Any, Any]] = (None, None)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            origin = typing.get_origin(base)
            if isinstance(origin, type) and issubclass(origin, Worker):
                args = typing.get_args(base)
                if len(args) >= 2 and not isinstance(args[1], TypeVar):
                    cls.__ractor_job_types__ = (args[0], args[1])
                    break

    @abstractmethod
    async def pre_start(self, ctx: WorkerContext) -> S:
        """Build the worker's state; raising fails the worker's start."""

    @abstractmethod
    async def handle(self, ctx: WorkerContext, job: Job[K, M], state: S) -> None:
        """Do one job."""

    async def post_stop(self, ctx: WorkerContext, state: S) -> None:
        """Run after a graceful stop of the worker."""


# ------------------------------------------------------------------------------- outcomes


@final
class _Outcome:
    """How a job ended on its worker: ``ok`` (the handler returned) and, for an rpc job run
    on another node, the reply the handler sent (``answered``)."""

    __slots__ = ("answered", "error", "ok", "value")

    def __init__(self, ok: bool, error: str = "", answered: bool = False, value: Any = None):
        self.ok = ok
        self.error = error
        self.answered = answered
        self.value = value


_DONE = _Outcome(True)


FACTORY_SCOPE = "__ractor_factory__"
"""The pg scope where a group factory makes itself known to the nodes of its workers."""
ACK_VARIANT = "__ractor_factory_ack__"
"""The variant of an acknowledgement cast from a worker on another node to its factory."""
_ACK = struct.Struct(">IQ")  # slot, job id; then the outcome (see _JobMsg.encode_reply)


def factory_group(token: int) -> str:
    """The pg group (in :data:`FACTORY_SCOPE`) of the group factory with ``token``."""
    return f"{token:016x}"


@final
class _JobMsg(Call[_Outcome]):
    """A job as a worker receives it; how it ended is its acknowledgement.

    From a factory in this process it is a call, acknowledged on its reply port, and the job
    itself travels (with its caller's reply port). From another node it is a cast (see
    :class:`_JobCast`) with ``ack_to``, the factory, to which the worker casts
    :class:`_AckCast`.
    """

    __slots__ = ("ack_to", "error", "job", "slot")

    def __init__(self, job: Job[Any, Any], ack_to: ActorRef[Any] | None = None,
                 slot: int = 0, error: str = "") -> None:
        self.job = job
        self.ack_to = ack_to
        self.slot = slot
        self.error = error  # why the job from another node could not be decoded ("": it was)

    def decode_reply(self, data: bytes) -> _Outcome:
        if not data:
            raise ValueError("an empty job acknowledgement")
        status, rest = data[0], data[1:]
        if status == 0:
            return _DONE
        if status == 1:
            return _Outcome(True, answered=True, value=self.job.msg.decode_reply(rest))
        return _Outcome(False, error=rest.decode("utf-8", "replace"))

    def encode_reply(self, outcome: _Outcome) -> bytes:
        if not outcome.ok:
            return b"\x02" + outcome.error.encode()
        if outcome.answered:
            return b"\x01" + bytes(self.job.msg.encode_reply(outcome.value))
        return b"\x00"


@final
class _JobCast:
    """A job for a worker on another node: a cast of the job's message (its variant and
    arguments), with the job's id, priority, worker slot, the factory's token and the key in
    the metadata (see :func:`_pack_meta`)."""

    __slots__ = ("job", "slot", "token")

    def __init__(self, job: Job[Any, Any], slot: int, token: int) -> None:
        self.job = job
        self.slot = slot
        self.token = token

    def serialize(self) -> SerializedMessage:
        job = self.job
        inner = _serialize(job.msg)
        is_call = isinstance(inner, SerializedCall)
        return SerializedCast(inner.variant, inner.args,
                              _pack_meta(job, is_call, self.slot, self.token))


@final
class _AckCast:
    """A worker's acknowledgement of a job, cast to its factory on another node."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def serialize(self) -> SerializedMessage:
        return SerializedCast(ACK_VARIANT, self.data)


def _serialize(msg: Any) -> SerializedMessage:
    """Serialize a job's message as a remote ref would (a derived message, or a plain value
    of a registered family such as ``str``)."""
    own = getattr(msg, "serialize", None)
    if own is not None:
        result: SerializedMessage = own()
        return result
    family = message_family(type(msg))
    plain = getattr(family, "serialize", None)
    if plain is None:
        raise MessagingError(
            f"{type(msg).__name__} is not a cluster message (declare it with @cluster_message); "
            "a job for a worker on another node must be", msg
        )
    result = plain(msg)
    return result


# metadata: flags (bit 0: the message is a call), job id u64, priority u8, slot u32,
# factory token u64, key tag u8, key
_META = struct.Struct(">BQBIQ")
_KEY_NONE, _KEY_STR, _KEY_INT, _KEY_BYTES, _KEY_CODEC = range(5)


def _pack_meta(job: Job[Any, Any], is_call: bool, slot: int, token: int) -> bytes:
    head = _META.pack(1 if is_call else 0, job.id, min(max(job.priority, 0), 255), slot, token)
    key = job.key
    if key is None:
        return head + bytes([_KEY_NONE])
    if isinstance(key, str):
        return head + bytes([_KEY_STR]) + key.encode()
    if isinstance(key, bool):
        raise MessagingError(f"a job key of type bool cannot go to another node: {key!r}")
    if isinstance(key, int):
        return head + bytes([_KEY_INT]) + key.to_bytes((key.bit_length() + 8) // 8, "big",
                                                       signed=True)
    if isinstance(key, bytes):
        return head + bytes([_KEY_BYTES]) + key
    into = getattr(key, "into_bytes", None)
    if into is None:
        raise MessagingError(
            f"a job key of type {type(key).__name__} cannot go to another node (use str, int, "
            "bytes, None, or a class with into_bytes/from_bytes)"
        )
    return head + bytes([_KEY_CODEC]) + bytes(into())


def _unpack_meta(meta: bytes | None, key_type: Any) -> tuple[bool, int, int, int, int, Any]:
    if meta is None or len(meta) < _META.size + 1:
        raise ValueError("a job for a worker carries its id and key in the metadata")
    flags, job_id, priority, slot, token = _META.unpack_from(meta)
    tag = meta[_META.size]
    data = meta[_META.size + 1 :]
    key: Any
    if tag == _KEY_NONE:
        key = None
    elif tag == _KEY_STR:
        key = data.decode()
    elif tag == _KEY_INT:
        key = int.from_bytes(data, "big", signed=True)
    elif tag == _KEY_BYTES:
        key = bytes(data)
    elif tag == _KEY_CODEC and hasattr(key_type, "from_bytes"):
        key = key_type.from_bytes(bytes(data))
    else:
        raise ValueError(f"a job key with tag {tag} that this worker cannot decode")
    return bool(flags & 1), job_id, priority, slot, token, key


@final
class _JobFamily:
    """Decodes jobs for workers on this node (the message family of a remotable worker)."""

    __slots__ = ("calls", "casts", "factories", "inner", "key_type")

    def __init__(self, inner: MessageFamily, key_type: Any) -> None:
        self.inner = inner
        self.key_type = key_type
        # the family's own per-variant decoders, where it has them (ractor_derive's do)
        self.casts: dict[str, Callable[[bytes], Any]] = dict(
            getattr(inner, "__ractor_casts__", None) or {})
        self.calls: dict[str, Callable[[bytes], Any]] = dict(
            getattr(inner, "__ractor_calls__", None) or {})
        self.factories: dict[int, ActorRef[Any]] = {}  # token -> the factory (a cache)

    def _factory(self, token: int) -> ActorRef[Any] | None:
        ref = self.factories.get(token)
        if ref is not None and ref.is_alive:
            return ref
        members = pg.get_scoped_members(FACTORY_SCOPE, factory_group(token))
        if not members:
            self.factories.pop(token, None)
            return None
        if len(self.factories) > 64:
            self.factories.clear()
        ref = self.factories[token] = members[0]
        return ref

    def deserialize(self, message: SerializedMessage, /) -> _JobMsg:
        if not isinstance(message, SerializedCast):
            raise ValueError("a job comes to a worker from another node as a cast")
        meta = message.metadata
        error = ""
        try:
            is_call, job_id, priority, slot, token, key = _unpack_meta(meta, self.key_type)
        except ValueError as exc:
            if meta is None or len(meta) < _META.size:
                raise  # not a job: nobody to tell
            flags, job_id, priority, slot, token = _META.unpack_from(meta)
            is_call, key = bool(flags & 1), None
            error = f"the worker's node could not decode the job's key: {exc}"[:500]
        factory = self._factory(token)
        if factory is None:
            _log.warning("job %s comes from a factory this node does not know (token %x)",
                         job_id, token)
            raise ValueError(f"job {job_id} comes from an unknown factory")
        try:
            if error:
                raise ValueError(error)  # acknowledged as failed, as below
            decode = (self.calls if is_call else self.casts).get(message.variant)
            if decode is not None:
                msg = decode(message.args)
            else:
                kind = SerializedCall if is_call else SerializedCast
                msg = self.inner.deserialize(kind(message.variant, message.args))
        except Exception as exc:
            # The job is acknowledged as failed (its caller told why) rather than dropped
            # here, which would leave it in flight at the factory for ever.
            msg = None
            if not error:
                error = (f"the worker's node could not decode the job's message "
                         f"{message.variant!r}: {exc!r}")[:500]
            _log.warning("job %s: %s", job_id, error)
        job: Job[Any, Any] = Job(key, msg, priority=priority, job_id=job_id)
        if is_call:
            job._port = _REMOTE
        return _JobMsg(job, factory, slot, error)


_REMOTE: Any = object()  # the caller of an rpc job waits on another node (at the factory)


# ------------------------------------------------------------------------------- ports


@final
class _Holder:
    """What ``Call.reply`` reads while a worker handles an rpc job: the job's envelope."""

    __slots__ = ("current",)

    def __init__(self, current: _Envelope) -> None:
        self.current: _Envelope | None = current


@final
class _RelayPort(RpcReplyPort[Any]):
    """The reply port a worker answers for a caller on another node: the value goes back
    with the job's acknowledgement."""

    __slots__ = ("answered", "value")

    def __init__(self) -> None:
        self.answered = False
        self.value: Any = None

    @property
    def timeout(self) -> float | None:
        return None

    @property
    def is_closed(self) -> bool:
        return self.answered

    def send(self, value: Any) -> bool:
        if self.answered:
            raise ReplyPortError("this reply port was already answered; a port replies once")
        self.answered = True
        self.value = value
        return True

    def _fail(self, error: CallError) -> None:
        self.answered = True


@final
class _AckPort(RpcReplyPort[_Outcome]):
    """Where a worker acknowledges a job: it tells the factory (``report(slot, job, outcome,
    generation)``
    is a cast to the factory; an outcome of None means the job was lost on the way)."""

    __slots__ = ("_done", "generation", "job_id", "report", "slot")

    def __init__(self, report: Callable[[int, int, _Outcome | None, int], None], slot: int,
                 job_id: int, generation: int) -> None:
        self.report = report
        self.slot = slot
        self.job_id = job_id
        self.generation = generation  # which worker of the slot (a replacement is the next)
        self._done = False

    @property
    def timeout(self) -> float | None:
        return None

    @property
    def is_closed(self) -> bool:
        return self._done

    def send(self, value: _Outcome) -> bool:
        if self._done:
            raise ReplyPortError("this reply port was already answered; a port replies once")
        self._done = True
        self.report(self.slot, self.job_id, value, self.generation)
        return True

    def _fail(self, error: CallError) -> None:
        if not self._done:
            self._done = True
            self.report(self.slot, self.job_id, None, self.generation)


# ------------------------------------------------------------------------------- the actor


@dataclass(slots=True)
class _WorkerState:
    ctx: WorkerContext
    state: Any


class _WorkerActor(Actor[_JobMsg, _WorkerState, None]):
    """Runs a :class:`Worker`: one job per message, acknowledged on the message's port."""

    def __init__(self, worker: Worker[Any, Any, Any], worker_id: int) -> None:
        self.worker = worker
        self.worker_id = worker_id

    async def pre_start(self, myself: ActorRef[_JobMsg], args: None) -> _WorkerState:
        ctx = WorkerContext(self.worker_id, myself)
        return _WorkerState(ctx, await self.worker.pre_start(ctx))

    async def handle(self, myself: ActorRef[_JobMsg], message: _JobMsg,
                     state: _WorkerState) -> None:
        ack_to = message.ack_to
        ack = message.reply if ack_to is None else None
        job = message.job
        port = job._port
        outcome = _DONE
        relay: _RelayPort | None = None
        try:
            if message.error:
                outcome = _Outcome(False, error=message.error)
            elif port is None:
                await self.worker.handle(state.ctx, job, state.state)
            else:
                if port is _REMOTE:
                    relay = _RelayPort()
                    port = relay
                token = _handling.set(_Holder(_Envelope(job.msg, port)))
                try:
                    await self.worker.handle(state.ctx, job, state.state)
                finally:
                    _handling.reset(token)
                if relay is not None:
                    outcome = (_Outcome(True, answered=True, value=relay.value) if relay.answered
                               else _Outcome(False, error="the worker did not answer the call"))
        except Exception as exc:
            _log.warning("worker %s failed job %s: %r", self.worker_id, job.id, exc)
            outcome = _Outcome(False, error=f"the worker failed the job: {exc!r}"[:500])
        finally:
            port = None
        try:
            if ack is not None:
                ack.send(outcome)
            elif ack_to is not None:
                ack_cast = _AckCast(_ACK.pack(message.slot, job.id) + message.encode_reply(outcome))
                try:
                    ack_to.cast(ack_cast)
                except MailboxFull:  # the node's outbound cap: wait for room
                    await ack_to.send(ack_cast)
        except MessagingError:  # the factory (or its node) is gone
            pass

    async def post_stop(self, myself: ActorRef[_JobMsg], state: _WorkerState) -> None:
        await self.worker.post_stop(state.ctx, state.state)


_remotable: dict[type[Any], type[_WorkerActor]] = {}


def _remotable_actor(worker_cls: type[Worker[Any, Any, Any]]) -> type[_WorkerActor]:
    """A worker actor class whose jobs can come from other nodes (one per worker class)."""
    found = _remotable.get(worker_cls)
    if found is not None:
        return found
    key_type, msg_type = worker_cls.__ractor_job_types__
    inner = message_family(msg_type)
    if inner is None:
        raise TypeError(
            f"{worker_cls.__name__} takes messages of type {msg_type!r}, which cannot come from "
            "other nodes (declare them with @cluster_message)"
        )

    class _RemotableWorker(_WorkerActor):
        pass

    # after the class statement: Actor.__init_subclass__ sets it from the generic base
    _RemotableWorker.__ractor_message_type__ = _JobFamily(inner, key_type)
    _RemotableWorker.__qualname__ = f"_RemotableWorker[{worker_cls.__qualname__}]"
    cls = _RemotableWorker
    _remotable[worker_cls] = cls
    return cls


_worker_ids = itertools.count(1)


async def serve_workers(
    group: str,
    worker: Callable[[int], Worker[K, M, Any]],
    count: int,
    *,
    scope: str = pg.DEFAULT_SCOPE,
) -> list[ActorRef[Any]]:
    """Start ``count`` workers on this node and join them to the process group ``group``,
    where a factory made with :func:`spawn_group_factory` (on any node) finds them.

    The worker class must be declared with its key and message types
    (``class Resize(Worker[str, ImageMsg, None])``), the messages a ``@cluster_message`` family
    and the key a ``str``, ``int``, ``bytes``, ``None`` or a class with ``into_bytes`` /
    ``from_bytes``, so that jobs can come from other nodes. Stop the returned refs to retire
    the workers (their factory re-queues what they held).

    Raises:
        TypeError: the worker's message type cannot come from other nodes.
        SpawnError: a worker's ``pre_start`` raised (the workers started before it are
            stopped: none joins the group).
    """
    refs: list[ActorRef[Any]] = []
    try:
        for _ in range(count):
            wid = next(_worker_ids)
            instance = worker(wid)
            cls = _remotable_actor(type(instance))
            refs.append(await spawn(cls(instance, wid), None))
    except BaseException:
        for ref in refs:  # none is left running outside the group
            ref.stop("serve_workers failed")
        raise
    pg.join_scoped(scope, group, refs)
    return refs

