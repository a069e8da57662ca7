"""The exceptions of the cluster layer.

::

    RactorError (ractor_core)
    └── ClusterError                 root of this package's errors
        ├── ClientConnectError       client_connect* could not hand a connection to the server
        │   ├── SocketConnectError   the address could not be resolved or dialed
        │   ├── MessagingConnectError  the NodeServer is not running
        │   └── EncryptionConnectError the TLS handshake failed
        └── FrameError               a frame is malformed or over the inbound limit

A session that meets bad input ends with a logged reason; these errors never escape into
the node's other sessions or actors.
"""

from __future__ import annotations

from ractor_core import RactorError

__all__ = [
    "ClientConnectError",
    "ClusterError",
    "EncryptionConnectError",
    "FrameError",
    "MessagingConnectError",
    "SocketConnectError",
]


class ClusterError(RactorError):
    """Root of the cluster layer's errors."""


class ClientConnectError(ClusterError):
    """Dialing a peer failed before the connection reached the NodeServer."""


class SocketConnectError(ClientConnectError, OSError):
    """The address could not be resolved or connected (``ClientConnectErr::Socket``)."""


class MessagingConnectError(ClientConnectError):
    """The NodeServer is not running (``ClientConnectErr::Messaging``)."""


class EncryptionConnectError(ClientConnectError):
    """The TLS handshake with the peer failed (``ClientConnectErr::Encryption``)."""


class FrameError(ClusterError):
    """A frame is malformed: over the inbound size limit, or not a NetworkMessage."""

