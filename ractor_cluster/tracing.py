"""OpenTelemetry trace context across nodes; needs the ``otel`` extra (``opentelemetry-api``).

See :mod:`ractor_cluster._tracing` for what travels and how.
"""

from __future__ import annotations

from ._tracing import decode_metadata, disable_tracing, enable_tracing, encode_metadata

__all__ = ["decode_metadata", "disable_tracing", "enable_tracing", "encode_metadata"]
