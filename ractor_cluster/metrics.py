"""Prometheus metrics of a node; needs the ``metrics`` extra (``prometheus-client``).

See :mod:`ractor_cluster._metrics` for the list of metrics.
"""

from __future__ import annotations

from ._metrics import MetricsServer, node_registry, serve_metrics

__all__ = ["MetricsServer", "node_registry", "serve_metrics"]
