"""Prometheus metrics of a node (the ``metrics`` extra: ``pip install 'ractor-py[metrics]'``).

:func:`node_registry` gives a ``prometheus_client`` registry whose values are read from the
node when it is scraped (nothing is counted on the hot path but plain integers);
:func:`serve_metrics` serves it over HTTP on the node's event loop
(``ractor-cluster node --metrics-port``). Metrics:

==========================================  ===========================================
``ractor_actors``                           local actors running
``ractor_mailbox_messages``                 messages waiting in local mailboxes (sum)
``ractor_mailbox_messages_max``             the longest local mailbox
``ractor_cluster_sessions``                 authenticated sessions
``ractor_cluster_nodes_up``                 nodes reachable
``ractor_cluster_remote_actors``            remote actors known
``ractor_cluster_messages_received_total``  frames received, by ``peer``
``ractor_cluster_bytes_received_total``     bytes received, by ``peer``
``ractor_cluster_messages_sent_total``      casts and calls sent, by ``peer`` (counted while
                                            a registry is attached)
``ractor_cluster_bytes_sent_total``         bytes sent, by ``peer``
``ractor_cluster_auth_failures_total``      failed authentications of accepted connections
``ractor_cluster_auth_refused_total``       connections refused while their address backs off
``ractor_cluster_call_seconds``             remote call round trips (histogram)
==========================================  ===========================================

The ``peer`` label is the peer's node name (cut to 80 characters) for the first
``NodeServer.max_peer_labels`` (1000) nodes seen, then ``other``: names are the peers' to
choose, so the number of series stays bounded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ractor_core import all_actors

from . import _remote_actor

if TYPE_CHECKING:
    from ._node import NodeServer

__all__ = ["MetricsServer", "node_registry", "serve_metrics"]

_log = logging.getLogger("ractor.cluster.metrics")
_REQUEST_LIMIT = 8192  # bytes of request line and headers read from a scraper
_attached: list[CollectorRegistry] = []  # the registries in use (messages are counted)


class _NodeCollector(Collector):
    """Reads a NodeServer's state when scraped (on the event loop's thread)."""

    def __init__(self, server: NodeServer) -> None:
        self.server = server

    def collect(self) -> Iterable[Metric]:
        """The node's metrics now."""
        server = self.server
        actors = all_actors()
        depths = [a.mailbox_len for a in actors]
        yield GaugeMetricFamily("ractor_actors", "Local actors running.", value=len(actors))
        yield GaugeMetricFamily("ractor_mailbox_messages",
                                "Messages waiting in local mailboxes.", value=sum(depths))
        yield GaugeMetricFamily("ractor_mailbox_messages_max",
                                "Messages waiting in the longest local mailbox.",
                                value=max(depths, default=0))
        live = [e for e in server.sessions.values() if e.authenticated]
        yield GaugeMetricFamily("ractor_cluster_sessions", "Authenticated sessions.",
                                value=len(live))
        yield GaugeMetricFamily("ractor_cluster_nodes_up", "Nodes reachable.",
                                value=len(server.up))
        yield GaugeMetricFamily("ractor_cluster_remote_actors", "Remote actors known.",
                                value=sum(len(e.session.peer_actors) for e in live))
        totals = {peer: list(values) for peer, values in server.peer_totals.items()}
        for entry in live:
            if entry.peer_name is None:
                continue
            values = totals.setdefault(server.peer_label(entry.peer_name.name), [0, 0, 0, 0])
            for i, value in enumerate(_session_counts(entry.session)):
                values[i] += value
        names = (
            ("ractor_cluster_messages_received", "Frames received from a peer."),
            ("ractor_cluster_bytes_received", "Bytes received from a peer."),
            ("ractor_cluster_messages_sent", "Casts and calls sent to a peer."),
            ("ractor_cluster_bytes_sent", "Bytes sent to a peer."),
        )
        for i, (name, text) in enumerate(names):
            family = CounterMetricFamily(name, text, labels=["peer"])
            for peer, values in sorted(totals.items()):
                family.add_metric([peer], values[i])
            yield family
        yield CounterMetricFamily("ractor_cluster_auth_failures",
                                  "Failed authentications of accepted connections.",
                                  value=server.auth_failures)
        refused = server.throttle.refused if server.throttle is not None else 0
        yield CounterMetricFamily("ractor_cluster_auth_refused",
                                  "Connections refused while their address backs off.",
                                  value=refused)


def _session_counts(session: object) -> tuple[int, int, int, int]:
    """Frames and bytes in, messages and bytes out, of one session."""
    frames_in = getattr(session, "frames_in", 0)
    bytes_in = getattr(session, "bytes_in", 0)
    peer_actors = getattr(session, "peer_actors", None)
    messages_out = getattr(peer_actors, "messages_out", 0)
    out = getattr(session, "out", None)
    bytes_out = getattr(out, "_written", 0) if out is not None else 0
    return frames_in, bytes_in, messages_out, bytes_out


def node_registry(server: NodeServer) -> tuple[CollectorRegistry, Callable[[], None]]:
    """A registry with ``server``'s metrics, and the function that detaches it (remote
    calls are timed while a registry is attached)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_NodeCollector(server))
    histogram = Histogram("ractor_cluster_call_seconds", "Remote call round trips.",
                          registry=registry,
                          buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                   0.5, 1.0, 2.5, 5.0, 10.0))
    observe = histogram.observe
    _remote_actor.call_latency.append(observe)
    if not _attached:
        _remote_actor.add_send_hook(_count_sent)
    _attached.append(registry)

    def detach() -> None:
        if observe in _remote_actor.call_latency:
            _remote_actor.call_latency.remove(observe)
        if registry in _attached:
            _attached.remove(registry)
            if not _attached:
                _remote_actor.remove_send_hook(_count_sent)

    return registry, detach


def _count_sent(peer: _remote_actor.PeerActors, metadata: bytes | None) -> bytes | None:
    peer.messages_out += 1
    return metadata


class MetricsServer:
    """An HTTP endpoint serving a registry in the Prometheus text format (any path)."""

    def __init__(
        self, server: asyncio.Server, registry: CollectorRegistry, detach: Callable[[], None]
    ) -> None:
        self._server = server
        self.registry = registry
        self._detach = detach
        sockets = server.sockets
        self.port: int = sockets[0].getsockname()[1] if sockets else 0
        """The port it listens on."""

    def close(self) -> None:
        """Stop serving."""
        self._server.close()
        self._detach()


async def serve_metrics(server: NodeServer, port: int = 0, host: str = "0.0.0.0") -> MetricsServer:
    """Serve ``server``'s metrics over HTTP on ``host:port`` (0: any free port).

    Raises:
        OSError: the port cannot be bound.
    """
    registry, detach = node_registry(server)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5.0)
            if len(head) > _REQUEST_LIMIT or not head.startswith((b"GET ", b"HEAD ")):
                writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
            else:
                body = generate_latest(registry)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: " + CONTENT_TYPE_LATEST.encode()
                    + b"\r\nContent-Length: " + str(len(body)).encode()
                    + b"\r\nConnection: close\r\n\r\n"
                    + (body if head.startswith(b"GET ") else b"")
                )
            await asyncio.wait_for(writer.drain(), 5.0)
        except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except Exception:
            _log.exception("metrics request failed")
        finally:
            writer.close()

    try:
        listener = await asyncio.start_server(handle, host, port, limit=_REQUEST_LIMIT)
    except OSError:
        detach()
        raise
    metrics = MetricsServer(listener, registry, detach)
    _log.info("metrics on http://%s:%d/metrics", host, metrics.port)
    return metrics
