"""Framing: a u64 big-endian length, then one protobuf ``NetworkMessage``.

The reader splits whatever bytes arrive (several frames in one read, or one frame over many
reads) purely by the length prefix, and checks the limit as soon as the prefix is complete,
before any payload byte is kept (docs/protocol.md §1). Asked to, it also reads the node
messages of the usual shape on the way (``_wire.decode_node``), in the same pass: in C when
the accelerator is built (``_accel``), which is the hot path of every message received.
Writing, with coalescing and flow control, is ``_outbound.Outbound``'s.
"""

from __future__ import annotations

import operator
import struct
from typing import cast

from . import _accel
from ._errors import FrameError
from ._wire import FrameItem, decode_payload

__all__ = ["DEFAULT_MAX_INBOUND_FRAME_SIZE", "FrameReader", "encode_frame"]

DEFAULT_MAX_INBOUND_FRAME_SIZE = 16 * 1024 * 1024
"""The default inbound payload limit, 16 MiB, inclusive (as in ractor_cluster)."""

_LEN = struct.Struct(">Q")
_unpack_len = _LEN.unpack_from
_pack_len = _LEN.pack
_split_c = _accel.split
_U64_MAX = 2**64 - 1


def encode_frame(payload: bytes) -> bytes:
    """Prefix ``payload`` with its be64 length."""
    return _pack_len(len(payload)) + payload


class FrameReader:
    """Splits a byte stream into frame payloads, enforcing an inclusive size limit."""

    __slots__ = ("_buf", "_error", "max_size")

    def __init__(self, max_size: int = DEFAULT_MAX_INBOUND_FRAME_SIZE) -> None:
        max_size = operator.index(max_size)
        if max_size < 0:
            raise ValueError("the frame size limit cannot be negative")
        # a be64 length is never over 2**64 - 1: a larger limit is that one
        self.max_size = min(max_size, _U64_MAX)
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
        return cast("list[bytes]", self.feed_frames(data, False))

    def feed_frames(self, data: bytes, decode: bool) -> list[FrameItem]:
        """As :meth:`feed`; with ``decode``, a payload that ``_wire.decode_node`` reads comes
        out as its tuple instead (the others as bytes): one pass over the bytes, in C when
        the accelerator is built.

        Raises:
            FrameError: an earlier length prefix exceeded the limit (nothing after it is kept).
        """
        if self._error is not None:
            raise self._error
        buf = self._buf
        if not buf and type(data) is bytes:
            # nothing buffered: frames are read from the bytes received, and only an
            # incomplete tail is kept
            items, pos = self._split(data, decode)
            if 0 <= pos < len(data):
                buf += data[pos:] if pos else data
            return items
        buf += data
        items, pos = self._split(buf, decode)
        if pos > 0:
            del buf[:pos]
        return items

    def _split(self, data: bytes | bytearray, decode: bool) -> tuple[list[FrameItem], int]:
        """The complete frames at the start of ``data``, and where the rest begins (-1 after
        an over-limit prefix: then nothing is kept, and the next ``feed`` raises)."""
        if _split_c is not None:
            done, end, over = _split_c(data, 0, self.max_size, decode)
            if over is not None:
                return self._over(done, over)
            return done, end
        items: list[FrameItem] = []
        pos = 0
        size = len(data)
        limit = self.max_size
        while size - pos >= 8:
            (length,) = _unpack_len(data, pos)
            if length > limit:
                return self._over(items, length)
            end = pos + 8 + length
            if end > size:
                break
            payload = bytes(data[pos + 8 : end])
            items.append(decode_payload(payload) if decode and payload[:1] == b"\x12"
                         else payload)
            pos = end
        return items, pos

    def _over(self, items: list[FrameItem], length: int) -> tuple[list[FrameItem], int]:
        """A length prefix over the limit: nothing more is kept, and the next ``feed``
        raises (at once when no frame came before it)."""
        self._buf = bytearray()
        self._error = FrameError(
            f"frame of {length} bytes is over the inbound limit of {self.max_size}"
        )
        if not items:
            raise self._error
        return items, -1
