"""A hand-driven protocol client over a plain socket, for frame-level interop tests."""

from __future__ import annotations

import socket
import struct
import time

from ractor_cluster._auth import ClientHandshake, new_connection_id
from ractor_cluster._framing import FrameReader
from ractor_cluster.protocol import auth_pb2, control_pb2, meta_pb2


def frame(msg: meta_pb2.NetworkMessage) -> bytes:
    """One frame: be64 length + the message."""
    body = msg.SerializeToString()
    return struct.pack(">Q", len(body)) + body


class RawClient:
    """Dials a node and speaks the protocol frame by frame, the test deciding every byte."""

    def __init__(self, address: str, cookie: str = "cookie", name: str = "raw@localhost") -> None:
        host, port = address.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.sock.settimeout(5)
        self.reader = FrameReader()
        self.inbox: list[meta_pb2.NetworkMessage] = []
        own = auth_pb2.NameMessage(
            name=name,
            flags=auth_pb2.NodeFlags(version=1),
            connection_string=f"{name}:1",
            connection_id=new_connection_id(),
        )
        self.handshake = ClientHandshake(cookie, own)

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def send(self, data: bytes, *, byte_by_byte: bool = False) -> None:
        """Write raw bytes, at once or one byte per write."""
        if not byte_by_byte:
            self.sock.sendall(data)
            return
        for i in range(len(data)):
            self.sock.sendall(data[i : i + 1])
            time.sleep(0.0005)

    def receive(self, timeout: float = 5) -> meta_pb2.NetworkMessage | None:
        """The next message, or None when the peer closed the connection."""
        deadline = time.monotonic() + timeout
        while not self.inbox:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                data = self.sock.recv(1 << 16)
            except (ConnectionResetError, BrokenPipeError):
                return None
            if not data:
                return None
            for payload in self.reader.feed(data):
                self.inbox.append(meta_pb2.NetworkMessage.FromString(payload))
        return self.inbox.pop(0)

    def closed_by_peer(self, timeout: float = 5) -> bool:
        """Whether the peer closes the connection within ``timeout`` (messages are skipped)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.receive(deadline - time.monotonic()) is None:
                    return True
            except TimeoutError:
                return False
        return False

    def authenticate(self, *, byte_by_byte: bool = False) -> None:
        """Run the client handshake to the end (raises if the server refuses)."""
        self.send(frame(meta_pb2.NetworkMessage(auth=self.handshake.start())),
                  byte_by_byte=byte_by_byte)
        while not self.handshake.authenticated:
            msg = self.receive()
            if msg is None:
                raise ConnectionError("the server closed the connection during the handshake")
            if msg.WhichOneof("message") != "auth":
                continue
            step = self.handshake.receive(msg.auth)
            if step.failure:
                raise ConnectionError(step.failure)
            for out in step.send:
                self.send(frame(meta_pb2.NetworkMessage(auth=out)), byte_by_byte=byte_by_byte)

    def ready(self) -> None:
        """Send Ready (the end of this side's initial sync, with nothing advertised)."""
        self.send(frame(meta_pb2.NetworkMessage(
            control=control_pb2.ControlMessage(ready=control_pb2.Ready()))))

    def wait_for_control(self, arm: str, timeout: float = 5) -> list[control_pb2.ControlMessage]:
        """Read until a control message with ``arm`` arrives; returns all control messages."""
        seen: list[control_pb2.ControlMessage] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self.receive(deadline - time.monotonic())
            if msg is None:
                raise ConnectionError("closed")
            if msg.WhichOneof("message") == "control":
                seen.append(msg.control)
                if msg.control.WhichOneof("msg") == arm:
                    return seen
        raise TimeoutError(f"no {arm} control message within {timeout}s")


class RawServer:
    """Accepts one connection and speaks the server side of the protocol frame by frame."""

    def __init__(self, cookie: str = "cookie", name: str = "raw@localhost") -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.cookie = cookie
        self.own = auth_pb2.NameMessage(
            name=name, flags=auth_pb2.NodeFlags(version=1), connection_string=self.address
        )
        self.client: RawClient | None = None

    def accept(self) -> RawClient:
        """Take the next connection (a RawClient object serves as the framed socket)."""
        sock, _ = self.listener.accept()
        sock.settimeout(5)
        conn = RawClient.__new__(RawClient)
        conn.sock = sock
        conn.reader = FrameReader()
        conn.inbox = []
        self.client = conn
        return conn

    def authenticate(self, conn: RawClient) -> None:
        """Run the server handshake with an OK status (raises if the client gives up)."""
        from ractor_cluster._auth import ServerHandshake
        from ractor_cluster.protocol import auth_pb2 as auth

        handshake = ServerHandshake(self.cookie, self.own)
        while not handshake.authenticated:
            msg = conn.receive()
            if msg is None:
                raise ConnectionError("the client closed the connection during the handshake")
            step = handshake.receive(msg.auth)
            if step.need_check:
                step = handshake.checked(auth.ServerStatus.OK)
            if step.failure:
                raise ConnectionError(step.failure)
            for out in step.send:
                conn.send(frame(meta_pb2.NetworkMessage(auth=out)))

    def close(self) -> None:
        """Close the listener and the connection."""
        if self.client is not None:
            self.client.close()
        self.listener.close()
