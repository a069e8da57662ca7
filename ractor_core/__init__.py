"""ractor_core: Erlang-style actors on asyncio, after the Rust ``ractor`` crate.

The public API is what this module re-exports; submodules are private, except
:mod:`ractor_core.pg` (process groups) and :mod:`ractor_core.transport` (the seam for
transports such as ``ractor_cluster``; applications do not need it) and
:mod:`ractor_core.supervisor` (supervisors; the classes are re-exported here) and
:mod:`ractor_core.factory` (worker pools fed with keyed jobs; the main names are re-exported).
"""

from __future__ import annotations

import logging

from . import factory, pg, supervisor
from . import transport as transport  # ractor_core.transport, for transports
from ._actor import Actor
from ._derived import DerivedActorRef
from ._errors import (
    CallError,
    CallTimeout,
    MailboxFull,
    MessagingError,
    RactorError,
    ReplyDropped,
    ReplyPortError,
    SpawnError,
    WaitTimeout,
)
from ._id import ActorId
from ._message import BytesConvertable, Call, RpcReplyPort
from ._port import OutputPort, Subscription
from ._ref import ActorRef, multi_call, spawn, spawn_linked
from ._registry import (
    all_actors,
    demonitor_pids,
    monitor_pids,
    registered,
    where_is,
    where_is_pid,
)
from ._supervision import (
    ActorFailed,
    ActorStarted,
    ActorStatus,
    ActorTerminated,
    GroupChange,
    GroupJoin,
    GroupLeave,
    PidLifecycleEvent,
    PidSpawned,
    PidTerminated,
    ProcessGroupChanged,
    SupervisionEvent,
)
from ._timers import Timer
from .factory import (
    Factory,
    Job,
    Worker,
    WorkerContext,
    serve_workers,
    spawn_factory,
    spawn_group_factory,
)
from .supervisor import (
    ChildSpec,
    DynamicSupervisor,
    MaxRestartsExceeded,
    Restart,
    Strategy,
    Supervisor,
    SupervisorError,
    SupervisorMsg,
)

logging.getLogger("ractor").addHandler(logging.NullHandler())

__all__ = [
    "Actor",
    "ActorFailed",
    "ActorId",
    "ActorRef",
    "ActorStarted",
    "ActorStatus",
    "ActorTerminated",
    "BytesConvertable",
    "Call",
    "CallError",
    "CallTimeout",
    "ChildSpec",
    "DerivedActorRef",
    "DynamicSupervisor",
    "Factory",
    "GroupChange",
    "GroupJoin",
    "GroupLeave",
    "Job",
    "MailboxFull",
    "MaxRestartsExceeded",
    "MessagingError",
    "OutputPort",
    "PidLifecycleEvent",
    "PidSpawned",
    "PidTerminated",
    "ProcessGroupChanged",
    "RactorError",
    "ReplyDropped",
    "ReplyPortError",
    "Restart",
    "RpcReplyPort",
    "SpawnError",
    "Strategy",
    "Subscription",
    "SupervisionEvent",
    "Supervisor",
    "SupervisorError",
    "SupervisorMsg",
    "Timer",
    "WaitTimeout",
    "Worker",
    "WorkerContext",
    "all_actors",
    "demonitor_pids",
    "factory",
    "monitor_pids",
    "multi_call",
    "pg",
    "registered",
    "serve_workers",
    "spawn",
    "spawn_factory",
    "spawn_group_factory",
    "spawn_linked",
    "supervisor",
    "where_is",
    "where_is_pid",
]
