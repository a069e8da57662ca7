"""Dialing other nodes: ``client_connect`` (TCP), ``client_connect_enc`` (TLS) and
``client_connect_external`` (any asyncio stream pair). Each returns once the connection is
handed to the NodeServer; the handshake then runs in the new session.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from ractor_core import ActorRef, MessagingError

from ._errors import EncryptionConnectError, MessagingConnectError, SocketConnectError
from ._messages import ClusterStream, ConnectionOpened, NodeServerMessage

__all__ = [
    "accept_external",
    "client_connect",
    "client_connect_enc",
    "client_connect_external",
    "open_stream",
    "parse_address",
]


def parse_address(address: str | tuple[str, int]) -> tuple[str, int]:
    """Split ``host:port`` (``[v6]:port`` or a bare IPv6 literal with a port) into parts.

    Raises:
        SocketConnectError: the address has no valid port.
    """
    if isinstance(address, tuple):
        return address
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit():
        raise SocketConnectError(f"{address!r} is not host:port")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return host, int(port)


async def open_stream(
    address: str | tuple[str, int],
    ssl_context: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
    *,
    timeout: float = 10.0,
) -> ClusterStream:
    """Dial ``address`` over TCP (or TLS) and wrap the connection as a ClusterStream.

    Raises:
        SocketConnectError: the address could not be resolved or connected.
        EncryptionConnectError: the TLS handshake failed.
    """
    host, port = parse_address(address)
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                host,
                port,
                ssl=ssl_context,
                server_hostname=(server_hostname or host) if ssl_context else None,
            ),
            timeout,
        )
    except ssl.SSLError as exc:
        raise EncryptionConnectError(f"TLS handshake with {host}:{port} failed: {exc}") from exc
    except TimeoutError as exc:
        raise SocketConnectError(f"connecting to {host}:{port} timed out after {timeout}s") from exc
    except OSError as exc:
        raise SocketConnectError(f"cannot connect to {host}:{port}: {exc}") from exc
    peer: Any = writer.get_extra_info("peername")
    label = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else f"{host}:{port}"
    return ClusterStream(reader, writer, peer_label=label, encrypted=ssl_context is not None)


def _hand_over(server: ActorRef[NodeServerMessage], stream: ClusterStream, is_server: bool) -> None:
    try:
        server.cast(ConnectionOpened(stream, is_server=is_server))
    except MessagingError as exc:
        stream.close()
        raise MessagingConnectError(f"the NodeServer is not running: {exc}") from exc


async def client_connect(
    server: ActorRef[NodeServerMessage], address: str | tuple[str, int], *, timeout: float = 10.0
) -> None:
    """Dial a node at ``host:port`` over TCP and hand the connection to ``server``.

    Raises:
        SocketConnectError: the address could not be resolved or connected.
        MessagingConnectError: the NodeServer is not running.
    """
    if not server.is_alive:
        raise MessagingConnectError(f"the NodeServer {server.id} is not running")
    _hand_over(server, await open_stream(address, timeout=timeout), False)


async def client_connect_enc(
    server: ActorRef[NodeServerMessage],
    address: str | tuple[str, int],
    ssl_context: ssl.SSLContext,
    server_hostname: str | None = None,
    *,
    timeout: float = 10.0,
) -> None:
    """Dial a node over TLS, checking its certificate against ``server_hostname``.

    Raises:
        SocketConnectError: the address could not be resolved or connected.
        EncryptionConnectError: the TLS handshake failed (e.g. an untrusted certificate).
        MessagingConnectError: the NodeServer is not running.
    """
    if not server.is_alive:
        raise MessagingConnectError(f"the NodeServer {server.id} is not running")
    stream = await open_stream(address, ssl_context, server_hostname, timeout=timeout)
    _hand_over(server, stream, False)


def client_connect_external(
    server: ActorRef[NodeServerMessage],
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    label: str = "external",
) -> None:
    """Run the protocol, as the connecting side, over an already connected stream pair.

    Raises:
        MessagingConnectError: the NodeServer is not running.
    """
    _hand_over(server, ClusterStream(reader, writer, peer_label=label), False)


def accept_external(
    server: ActorRef[NodeServerMessage],
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    *,
    label: str = "external",
) -> None:
    """Run the protocol, as the accepting side, over an already connected stream pair.

    Raises:
        MessagingConnectError: the NodeServer is not running.
    """
    _hand_over(server, ClusterStream(reader, writer, peer_label=label), True)
