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
from ._messages import (
    ClusterStream,
    ConnectionOpened,
    NodeServerMessage,
    Reconnect,
    ReconnectPolicy,
)

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


def _hand_over(
    server: ActorRef[NodeServerMessage],
    stream: ClusterStream,
    is_server: bool,
    address: str | None = None,
) -> None:
    try:
        server.cast(ConnectionOpened(stream, is_server=is_server, address=address))
    except MessagingError as exc:
        stream.close()
        raise MessagingConnectError(f"the NodeServer is not running: {exc}") from exc


def _policy(reconnect: bool | ReconnectPolicy) -> ReconnectPolicy | None:
    if reconnect is True:
        return ReconnectPolicy()
    return reconnect or None


def _address_text(address: str | tuple[str, int]) -> str:
    host, port = parse_address(address)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


async def client_connect(
    server: ActorRef[NodeServerMessage],
    address: str | tuple[str, int],
    *,
    timeout: float = 10.0,
    reconnect: bool | ReconnectPolicy = False,
) -> None:
    """Dial a node at ``host:port`` over TCP and hand the connection to ``server``.

    With ``reconnect`` (True, or a :class:`ReconnectPolicy`), the NodeServer redials the
    address with exponential backoff whenever its session ends (also when this first dial
    fails, which still raises), until ``StopReconnecting(address)``. The NodeServer dials
    again with its own TLS settings (``client_ssl_context``).

    Raises:
        SocketConnectError: the address could not be resolved or connected.
        MessagingConnectError: the NodeServer is not running.
    """
    if not server.is_alive:
        raise MessagingConnectError(f"the NodeServer {server.id} is not running")
    policy = _policy(reconnect)
    if policy is None:
        _hand_over(server, await open_stream(address, timeout=timeout), False)
        return
    text = _address_text(address)
    try:
        stream = await open_stream(address, timeout=timeout)
    except SocketConnectError:
        _register(server, Reconnect(text, policy, dial_now=True))
        raise
    _register(server, Reconnect(text, policy, dial_now=False))
    _hand_over(server, stream, False, text)


def _register(server: ActorRef[NodeServerMessage], message: Reconnect) -> None:
    try:
        server.cast(message)
    except MessagingError as exc:
        raise MessagingConnectError(f"the NodeServer is not running: {exc}") from exc


async def client_connect_enc(
    server: ActorRef[NodeServerMessage],
    address: str | tuple[str, int],
    ssl_context: ssl.SSLContext,
    server_hostname: str | None = None,
    *,
    timeout: float = 10.0,
    reconnect: bool | ReconnectPolicy = False,
) -> None:
    """Dial a node over TLS, checking its certificate against ``server_hostname``.

    ``reconnect`` as for :func:`client_connect` (the NodeServer redials with its own
    ``client_ssl_context``, which should then be the same).

    Raises:
        SocketConnectError: the address could not be resolved or connected.
        EncryptionConnectError: the TLS handshake failed (e.g. an untrusted certificate).
        MessagingConnectError: the NodeServer is not running.
    """
    if not server.is_alive:
        raise MessagingConnectError(f"the NodeServer {server.id} is not running")
    policy = _policy(reconnect)
    text = _address_text(address) if policy is not None else None
    try:
        stream = await open_stream(address, ssl_context, server_hostname, timeout=timeout)
    except (SocketConnectError, EncryptionConnectError):
        if policy is not None and text is not None:
            _register(server, Reconnect(text, policy, dial_now=True))
        raise
    if policy is not None and text is not None:
        _register(server, Reconnect(text, policy, dial_now=False))
    _hand_over(server, stream, False, text)


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
