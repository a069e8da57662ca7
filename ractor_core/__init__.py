"""ractor_core: Erlang-style actors on asyncio, after the Rust ``ractor`` crate.

The public API is what this module re-exports; submodules are private, except
:mod:`ractor_core.pg` (process groups).
"""

from __future__ import annotations

import logging

from . import pg
from ._actor import Actor
from ._errors import (
    CallError,
    CallTimeout,
    MessagingError,
    RactorError,
    ReplyDropped,
    ReplyPortError,
    SpawnError,
    WaitTimeout,
)
from ._id import ActorId
from ._message import (
    BytesConvertable,
    Call,
    MessageFamily,
    RpcReplyPort,
    SerializedCall,
    SerializedCallReply,
    SerializedCast,
    SerializedMessage,
    bind_reply,
    decoding_port,
    encoding_port,
    message_family,
    register_message_family,
    reply_channel,
    reply_sink,
)
from ._port import OutputPort, Subscription
from ._ref import ActorRef, multi_call, spawn, spawn_linked, spawn_remote
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
    "GroupChange",
    "GroupJoin",
    "GroupLeave",
    "MessageFamily",
    "MessagingError",
    "OutputPort",
    "PidLifecycleEvent",
    "PidSpawned",
    "PidTerminated",
    "ProcessGroupChanged",
    "RactorError",
    "ReplyDropped",
    "ReplyPortError",
    "RpcReplyPort",
    "SerializedCall",
    "SerializedCallReply",
    "SerializedCast",
    "SerializedMessage",
    "SpawnError",
    "Subscription",
    "SupervisionEvent",
    "Timer",
    "WaitTimeout",
    "all_actors",
    "bind_reply",
    "decoding_port",
    "demonitor_pids",
    "encoding_port",
    "message_family",
    "monitor_pids",
    "multi_call",
    "pg",
    "register_message_family",
    "registered",
    "reply_channel",
    "reply_sink",
    "spawn",
    "spawn_linked",
    "spawn_remote",
    "where_is",
    "where_is_pid",
]
