"""OpenTelemetry tracing across nodes (the ``otel`` extra: ``pip install 'ractor-py[otel]'``).

With :func:`enable_tracing`, a cast or call sent to a remote actor while a span is current
carries that span's W3C trace context (``traceparent``, ``tracestate``, ``baggage``, from the
global propagator) in the ``metadata`` field of its Cast / Call frame, and the receiving
node runs the actor's ``handle`` for it in a child span (``ractor.handle <variant>``, kind
CONSUMER for a cast, SERVER for a call). A message whose metadata was set by the
application is sent as it is.

Metadata format: UTF-8 text, one ``name=value`` per line (``\\n``), the names of the W3C
headers. A Rust node keeps the metadata opaque and ignores it; a Python node without
tracing ignores it too. A trace context that is not well formed (a bad ``traceparent``,
malformed ``tracestate`` or ``baggage`` entries) is dropped without a log line: the
message is handled as usual, untraced or with the parts that parse.

Handlers are wrapped when their actor starts: enable tracing before spawning the actors
to trace (the CLI's ``--otel`` does it before the app starts).
"""

from __future__ import annotations

import collections
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context

from ractor_core.transport import unwrap_handle, wrap_handle

from . import _remote_actor

__all__ = ["decode_metadata", "disable_tracing", "enable_tracing", "encode_metadata"]

_MAX_METADATA = 8192  # bytes of metadata parsed at most
_MAX_WAITING = 65536  # traced messages waiting for their handler, at most
# id(message) -> (the message, its remote context, the span's name, its kind)
_waiting: collections.OrderedDict[int, tuple[Any, Context, str, trace.SpanKind]] = (
    collections.OrderedDict()
)
_state: dict[str, Any] = {}


def encode_metadata(carrier: dict[str, str]) -> bytes:
    """The metadata bytes of a text map (``name=value`` lines)."""
    return "\n".join(f"{k}={v}" for k, v in carrier.items()).encode()


def decode_metadata(metadata: bytes) -> dict[str, str]:
    """The text map in metadata bytes (empty when they are not one)."""
    if len(metadata) > _MAX_METADATA:
        return {}
    try:
        text = metadata.decode()
    except UnicodeDecodeError:
        return {}
    carrier: dict[str, str] = {}
    for line in text.split("\n"):
        name, sep, value = line.partition("=")
        if not sep:
            return {}
        carrier[name.strip().lower()] = value.strip()
    return carrier


def _inject(peer: _remote_actor.PeerActors, metadata: bytes | None) -> bytes | None:
    if metadata is not None or not trace.get_current_span().get_span_context().is_valid:
        return metadata
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return encode_metadata(carrier) if carrier else None


class _Quiet(logging.Filter):
    """Drops the propagators' records while a peer's trace context is extracted: they warn
    of every malformed entry with the peer's text in it (up to 8 KB, every message)."""

    active = False

    def filter(self, record: logging.LogRecord) -> bool:
        return not self.active


_quiet = _Quiet()
# the loggers of the W3C propagators (trace context, baggage) and of what they call
_PROPAGATOR_LOGGERS = ("opentelemetry.trace.propagation.tracecontext",
                       "opentelemetry.trace.span", "opentelemetry.baggage.propagation",
                       "opentelemetry.baggage", "opentelemetry.propagate")
_TRACEPARENT = re.compile(r"[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}")


def _received(message: Any, metadata: bytes, arm: str, variant: str) -> None:
    carrier = decode_metadata(metadata)
    parent = carrier.get("traceparent")
    if parent is None or _TRACEPARENT.fullmatch(parent) is None:
        return  # none, or malformed: handled untraced
    _quiet.active = True
    try:
        context = propagate.extract(carrier)
    finally:
        _quiet.active = False
    kind = trace.SpanKind.SERVER if arm == "call" else trace.SpanKind.CONSUMER
    _waiting[id(message)] = (message, context, f"ractor.handle {variant}", kind)
    while len(_waiting) > _MAX_WAITING:  # dropped messages never reach a handler
        _waiting.popitem(last=False)


def _wrap(handle: Callable[..., Awaitable[None]]) -> Callable[..., Awaitable[None]]:
    tracer: trace.Tracer = _state["tracer"]

    async def traced(myself: Any, message: Any, state: Any) -> None:
        if _waiting:
            entry = _waiting.pop(id(message), None)
            if entry is not None and entry[0] is message:
                _, context, name, kind = entry
                attributes = {"ractor.actor.id": str(myself.id)}
                if myself.name is not None:
                    attributes["ractor.actor.name"] = myself.name
                with tracer.start_as_current_span(name, context=context, kind=kind,
                                                  attributes=attributes):
                    await handle(myself, message, state)
                return
        await handle(myself, message, state)

    return traced


def enable_tracing(tracer_provider: trace.TracerProvider | None = None) -> None:
    """Propagate the current trace context with remote messages, and handle traced
    messages from other nodes in child spans (for actors started from now on)."""
    if _state:
        return
    _state["tracer"] = trace.get_tracer("ractor_cluster", tracer_provider=tracer_provider)
    for name in _PROPAGATOR_LOGGERS:
        logging.getLogger(name).addFilter(_quiet)
    _remote_actor.add_send_hook(_inject)
    _remote_actor.receive_hook = _received
    wrap_handle(_wrap)


def disable_tracing() -> None:
    """Stop propagating and wrapping (actors already wrapped keep their wrapper)."""
    if not _state:
        return
    _remote_actor.remove_send_hook(_inject)
    _remote_actor.receive_hook = None
    for name in _PROPAGATOR_LOGGERS:
        logging.getLogger(name).removeFilter(_quiet)
    unwrap_handle(_wrap)
    _waiting.clear()
    _state.clear()
