"""The app of the tracing tests (``--otel --app tests.ractor_cluster.tracing_app``): the test
node app, with an OpenTelemetry SDK whose spans stay in memory, and two more commands:
``traced`` (a cast or call to a remote actor inside a span) and ``spans`` (what finished)."""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ractor_cluster import as_remote, remote_actors
from ractor_cluster._messages import NodeServerMessage
from ractor_core import ActorRef

from . import node_app

EXPORTER = InMemorySpanExporter()
_execute = node_app.execute


def _hex(value: int, width: int) -> str:
    return format(value, f"0{width}x")


async def _extra(node: ActorRef[NodeServerMessage], cmd: dict[str, Any]) -> Any:
    op = cmd["op"]
    if op == "traced":  # {to, msg ("echo" | "add" | "string"), text}: sent inside a span
        tracer = trace.get_tracer("tests")
        with tracer.start_as_current_span("client-op") as span:
            context = span.get_span_context()
            if cmd["msg"] == "string":
                refs = remote_actors(cmd["to"])
                if not refs:
                    raise LookupError(cmd["to"])
                as_remote(refs[0], str).cast(cmd["text"])
                result: Any = True
            else:
                result = await _execute(node, {**cmd, "op": "call" if cmd["msg"] == "echo"
                                               else "cast"})
        return {"trace_id": _hex(context.trace_id, 32), "span_id": _hex(context.span_id, 16),
                "result": result}
    if op == "spans":
        return [
            {
                "name": s.name,
                "trace_id": _hex(s.context.trace_id, 32) if s.context else None,
                "span_id": _hex(s.context.span_id, 16) if s.context else None,
                "parent": _hex(s.parent.span_id, 16) if s.parent else None,
                "kind": s.kind.name,
                "attributes": dict(s.attributes or {}),
            }
            for s in EXPORTER.get_finished_spans()
        ]
    return await _execute(node, cmd)


async def start(node: ActorRef[NodeServerMessage], name: str) -> None:
    """Install the in-memory SDK, then start the test node app with the extra commands."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
    trace.set_tracer_provider(provider)
    node_app.execute = _extra
    await node_app.start(node, name)
