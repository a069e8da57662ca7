"""Framing: a u64 big-endian length, then one protobuf ``NetworkMessage``.

The reader splits whatever bytes arrive (several frames in one read, or one frame over many
reads) purely by the length prefix, and checks the limit as soon as the prefix is complete,
before any payload byte is kept. The writer coalesces the frames queued during one pass of
the event loop into one write.
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

from ._errors import FrameError

__all__ = ["DEFAULT_MAX_INBOUND_FRAME_SIZE", "FrameReader", "FrameWriter", "encode_frame"]

DEFAULT_MAX_INBOUND_FRAME_SIZE = 16 * 1024 * 1024
"""The default inbound payload limit, 16 MiB, inclusive (as in ractor_cluster)."""

_LEN = struct.Struct(">Q")
_unpack_len = _LEN.unpack_from
_pack_len = _LEN.pack


def encode_frame(payload: bytes) -> bytes:
    """Prefix ``payload`` with its be64 length."""
    return _pack_len(len(payload)) + payload


class FrameReader:
    """Splits a byte stream into frame payloads, enforcing an inclusive size limit."""

    __slots__ = ("_buf", "_error", "max_size")

    def __init__(self, max_size: int = DEFAULT_MAX_INBOUND_FRAME_SIZE) -> None:
        if max_size < 0:
            raise ValueError("the frame size limit cannot be negative")
        self.max_size = max_size
        self._buf = bytearray()
        self._error: FrameError | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned as a frame."""
        return len(self._buf)

    @property
    def failed(self) -> bool:
        """Whether an over-limit prefix was seen (the next ``feed`` raises)."""
        return self._error is not None

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return every payload completed by them, in order.

        Frames completed before an over-limit prefix are still returned (as Rust reads one
        frame at a time); the error is raised by the next call.

        Raises:
            FrameError: an earlier length prefix exceeded the limit (nothing after it is kept).
        """
        if self._error is not None:
            raise self._error
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        pos = 0
        size = len(buf)
        while size - pos >= 8:
            (length,) = _unpack_len(buf, pos)
            if length > self.max_size:
                self._buf = bytearray()
                self._error = FrameError(
                    f"frame of {length} bytes is over the inbound limit of {self.max_size}"
                )
                if not frames:
                    raise self._error
                return frames
            end = pos + 8 + length
            if end > size:
                break
            frames.append(bytes(buf[pos + 8 : end]))
            pos = end
        if pos:
            del buf[:pos]
        return frames


class FrameWriter:
    """Writes frames, coalescing those sent during one loop pass into one write."""

    __slots__ = ("_buffered", "_closed", "_limit", "_loop", "_on_failure", "_pending",
                 "_scheduled", "_write")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        write: Callable[[bytes], object],
        *,
        buffered: Callable[[], int] | None = None,
        limit: int = 0,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self._loop = loop
        self._write = write
        self._pending: list[bytes] = []
        self._scheduled = False
        self._closed = False
        self._buffered = buffered  # bytes the transport has not sent yet
        self._limit = limit  # above this many, the peer is not reading: give up
        self._on_failure = on_failure

    @property
    def closed(self) -> bool:
        """Whether the writer refuses frames (closed, or the stream failed)."""
        return self._closed

    def _put(self, data: bytes) -> None:
        try:
            self._write(data)
        except (RuntimeError, OSError, ConnectionError) as exc:
            # the stream is gone (uvloop raises RuntimeError on a closed handle): the
            # session ends through its reader; the frames are dropped, like Rust's on EOF
            self._fail(f"write failed: {exc!r}")
            return
        buffered = self._buffered
        if self._limit and buffered is not None and buffered() > self._limit:
            self._fail("write_backpressure")

    def _fail(self, why: str) -> None:
        self._closed = True
        self._pending.clear()
        if self._on_failure is not None:
            self._on_failure(why)

    def send(self, payload: bytes) -> None:
        """Send one frame (its payload; the prefix is added here).

        The first frame of a loop pass is written at once (no added latency); the frames
        that follow it in the same pass are joined into one write at the end of the pass.
        """
        if self._closed:
            return
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self.flush)
            self._put(_pack_len(len(payload)) + payload)
            return
        pending = self._pending
        pending.append(_pack_len(len(payload)))
        pending.append(payload)

    def flush(self) -> None:
        """Write everything queued now."""
        self._scheduled = False
        if not self._pending or self._closed:
            self._pending.clear()
            return
        data = b"".join(self._pending)
        self._pending.clear()
        self._put(data)

    def close(self) -> None:
        """Write what is queued, then refuse further frames."""
        try:
            self.flush()
        finally:
            self._closed = True
