"""What a session writes, with flow control: casts wait in a lane, everything else goes now.

Frames go to the transport coalesced (the frames of one loop pass in one write; a frame
after a quiet spell, as a call or its reply usually is, goes at once and alone, with no
loop pass spent on a flush). Casts take
a *lane*: while the transport holds more than its high-water mark of unsent bytes (the peer
reads slower than this node writes), casts queue in the lane instead, and are handed to the
transport as it drains. Senders feel it: above ``send_high`` queued bytes, ``send`` and
``call`` on that peer's actors wait; ``cast`` never waits, and refuses (``MailboxFull``)
only when the lanes of all sessions of the node together hold ``node_cap`` bytes. Control
frames, call replies, and calls to actors with no cast queued go to the transport at once:
they are never stuck behind queued casts (a call to an actor with casts queued waits its
turn, so the order from one sender to one actor holds).

A peer that takes no bytes at all for ``stuck_timeout`` while this node has bytes for it
ends its session (``peer_stuck``); a slow peer that makes progress is never dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ractor_core import MailboxFull, MessagingError

__all__ = ["FlowLimits", "NodeBudget", "Outbound"]

_monotonic = time.monotonic
_QUIET = 50e-6
"""Seconds without a write after which a frame goes to the transport alone: writes closer
together than this are a burst, whose later frames in the same loop pass share one write.
A request and its answer are further apart (a round trip on loopback is 50 µs or more)."""


@dataclass(frozen=True, slots=True)
class FlowLimits:
    """The marks of outbound flow control (bytes, seconds)."""

    transport_high: int = 64 * 1024
    """Unsent bytes in the transport above which casts queue in the lane."""
    transport_low: int = 16 * 1024
    """... and below which the lane is handed to the transport again."""
    send_high: int = 1024 * 1024
    """Bytes queued in a session's lane above which ``send`` and ``call`` wait."""
    send_low: int = 256 * 1024
    """... and below which they go on."""
    socket_buffer: int | None = 64 * 1024
    """The kernel's send and receive buffers of a session's TCP socket (None: the OS
    default, which on Linux grows to several MiB: more throughput over long distances,
    but calls then wait behind that many bytes of casts)."""
    node_cap: int = 64 * 1024 * 1024
    """Bytes queued in the lanes of all sessions of a node above which ``cast`` refuses."""
    stuck_timeout: float = 30.0
    """Seconds a peer may take no bytes at all while some wait for it."""

    def __post_init__(self) -> None:
        if not 0 <= self.transport_low <= self.transport_high:
            raise ValueError("flow limits need 0 <= transport_low <= transport_high")
        if not 0 <= self.send_low <= self.send_high:
            raise ValueError("flow limits need 0 <= send_low <= send_high")
        if self.node_cap < 0 or self.stuck_timeout <= 0:
            raise ValueError("node_cap must be >= 0 and stuck_timeout > 0")


class NodeBudget:
    """Bytes queued in the cast lanes of all sessions of one node."""

    __slots__ = ("cap", "used")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.used = 0


class Outbound:
    """One session's writes (see the module docstring)."""

    __slots__ = (
        "_buffered",
        "_closed",
        "_lane",
        "_lane_bytes",
        "_lane_pids",
        "_last_sent",
        "_last_write",
        "_limits",
        "_loop",
        "_on_failure",
        "_paused",
        "_pending",
        "_pending_bytes",
        "_poll",
        "_progress_at",
        "_scheduled",
        "_waiters",
        "_write",
        "_written",
        "budget",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        write: Callable[[bytes], object],
        buffered: Callable[[], int],
        limits: FlowLimits,
        budget: NodeBudget,
        on_failure: Callable[[str], None],
    ) -> None:
        self._loop = loop
        self._write = write
        self._buffered = buffered
        self._limits = limits
        self.budget = budget
        self._on_failure = on_failure
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self._scheduled = False
        self._last_write = -math.inf  # when a frame last went out outside a flush
        self._closed = False
        self._paused = False
        self._lane: deque[tuple[int, bytes]] = deque()
        self._lane_bytes = 0
        self._lane_pids: dict[int, int] = {}
        self._waiters: deque[asyncio.Future[None]] = deque()
        self._poll: asyncio.TimerHandle | None = None
        self._written = 0  # bytes handed to the transport
        self._last_sent = 0  # of them, sent by the transport when last looked at
        self._progress_at = 0.0

    # ------------------------------------------------------------------ state

    @property
    def closed(self) -> bool:
        """Whether nothing more is written."""
        return self._closed

    @property
    def queued(self) -> int:
        """Bytes of casts waiting in the lane."""
        return self._lane_bytes

    @property
    def congested(self) -> bool:
        """Whether ``send`` and ``call`` should wait (the lane is over ``send_high``)."""
        return self._lane_bytes > self._limits.send_high

    # ------------------------------------------------------------------ writing

    def urgent(self, frame: bytes) -> None:
        """Write a control frame or a reply now (coalesced with this loop pass's frames)."""
        if self._closed:
            return
        self._put(frame)

    def call(self, pid: int, frame: bytes) -> None:
        """Write a call now, unless casts to ``pid`` wait in the lane: then after them."""
        if self._closed:
            return
        if pid in self._lane_pids:
            self._queue(pid, frame)
        else:
            self._put(frame)

    def cast(self, pid: int, frame: bytes) -> None:
        """Write a cast, or queue it while the peer is slow.

        Raises:
            MailboxFull: the node's lanes hold ``node_cap`` bytes (nothing was queued).
            MessagingError: the session is closed.
        """
        if self._closed:
            raise MessagingError("the connection is closed; the message was not sent")
        if self._lane or self._paused:
            budget = self.budget
            if budget.used + len(frame) > budget.cap:
                raise MailboxFull(
                    f"{budget.used} bytes of casts already wait for slow peers (the node's "
                    f"cap is {budget.cap}); the message was not sent (await send() waits)"
                )
            self._queue(pid, frame)
            return
        self._put(frame)

    async def room(self, timeout: float | None = None, need: int = 0) -> None:
        """Wait until the lane is below ``send_low`` and the node's budget has ``need``
        bytes free.

        Raises:
            MessagingError: the session closed meanwhile.
            TimeoutError: not within ``timeout`` seconds.
        """
        loop = self._loop
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            if self._closed:
                raise MessagingError("the connection is closed; the message was not sent")
            budget = self.budget
            if self._lane_bytes <= self._limits.send_low and budget.used + need <= budget.cap:
                return
            left = None if deadline is None else deadline - loop.time()
            if left is not None and left <= 0:
                raise TimeoutError
            fut: asyncio.Future[None] = loop.create_future()
            self._waiters.append(fut)
            if self._lane_bytes <= self._limits.send_low:
                # only the node's budget is short: another session frees it; look again soon
                left = 0.01 if left is None else min(left, 0.01)
            try:
                if left is None:
                    await fut
                else:
                    await asyncio.wait_for(fut, left)
            except TimeoutError:
                continue
            finally:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(fut)

    def _queue(self, pid: int, frame: bytes) -> None:
        self._lane.append((pid, frame))
        size = len(frame)
        self._lane_bytes += size
        self.budget.used += size
        self._lane_pids[pid] = self._lane_pids.get(pid, 0) + 1
        self._watch()

    def _put(self, frame: bytes) -> None:
        if not self._scheduled:
            now = _monotonic()
            last = self._last_write
            self._last_write = now
            if now - last >= _QUIET:
                # nothing written for a while: nothing to coalesce this frame with (a call
                # or its reply, usually), so no flush either
                self._transport_write(frame)
                return
            # frames in quick succession: a burst; what follows in this pass is coalesced
            self._scheduled = True
            self._loop.call_soon(self.flush)
            self._transport_write(frame)
            return
        self._pending.append(frame)
        self._pending_bytes += len(frame)
        if self._pending_bytes > self._limits.transport_low:
            # a burst: hand it to the transport in pieces (which tells us when it is full)
            self._write_pending()

    def _write_pending(self) -> None:
        data = b"".join(self._pending)
        self._pending.clear()
        self._pending_bytes = 0
        self._transport_write(data)

    def flush(self) -> None:
        """Write everything coalesced in this loop pass."""
        self._scheduled = False
        if not self._pending or self._closed:
            self._pending.clear()
            self._pending_bytes = 0
            return
        self._write_pending()
        if self._lane and not self._paused:
            self._pump()

    def _transport_write(self, data: bytes) -> None:
        self._written += len(data)
        try:
            self._write(data)
        except (RuntimeError, OSError, ConnectionError) as exc:
            # the stream is gone (uvloop raises RuntimeError on a closed handle): the
            # session ends through its reader; what was not written is lost with it
            self._fail(f"write failed: {exc!r}")
            return
        if not self._paused and self._buffered() > self._limits.transport_high:
            self.pause_writing()

    # ------------------------------------------------------------------ the transport

    def pause_writing(self) -> None:
        """The transport holds more than its high-water mark: queue casts from now on."""
        if self._paused or self._closed:
            return
        self._paused = True
        self._last_sent = self._written - self._buffered()
        self._progress_at = time.monotonic()
        self._watch()

    def resume_writing(self) -> None:
        """The transport drained: hand it the lane."""
        if not self._paused:
            return
        self._paused = False
        self._pump()

    def _watch(self) -> None:
        """While paused or queued, look at the transport now and then (for transports
        that do not call back, and to tell a stuck peer from a slow one)."""
        if self._poll is None and not self._closed:
            self._poll = self._loop.call_later(0.01, self._check)

    def _check(self) -> None:
        self._poll = None
        if self._closed:
            return
        size = self._buffered()
        now = time.monotonic()
        if self._paused:
            sent = self._written - size  # progress: bytes the peer took (not a smaller buffer:
            if sent > self._last_sent:  # replies and control frames keep adding to it)
                self._progress_at = now
            self._last_sent = sent
            if size <= self._limits.transport_low:
                self.resume_writing()
            elif now - self._progress_at > self._limits.stuck_timeout:
                self._fail("peer_stuck")
                return
        elif self._lane:
            self._pump()
        if self._paused or self._lane:
            self._poll = self._loop.call_later(0.01 if self._paused else 0.001, self._check)

    def _pump(self) -> None:
        lane = self._lane
        pids = self._lane_pids
        budget = self.budget
        while lane and not self._paused and not self._closed:
            pid, frame = lane.popleft()
            size = len(frame)
            self._lane_bytes -= size
            budget.used -= size
            left = pids[pid] - 1
            if left:
                pids[pid] = left
            else:
                del pids[pid]
            self._put(frame)
        self._wake()

    def _wake(self) -> None:
        if self._lane_bytes <= self._limits.send_low:
            for fut in self._waiters:
                if not fut.done():
                    fut.set_result(None)

    # ------------------------------------------------------------------ the end

    def _fail(self, why: str) -> None:
        if self._closed:
            return
        self.close(flush=False)
        self._on_failure(why)

    def close(self, flush: bool = True) -> int:
        """Write what is coalesced (not the lane), refuse more; return how many casts of
        the lane were not sent."""
        if flush and not self._closed and self._pending:
            self._write_pending()  # what is coalesced, not the lane (counted below)
        self._closed = True
        if self._poll is not None:
            self._poll.cancel()
            self._poll = None
        self._pending.clear()
        dropped = len(self._lane)
        self.budget.used -= self._lane_bytes
        self._lane.clear()
        self._lane_pids.clear()
        self._lane_bytes = 0
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)  # they look again and see the session closed
        return dropped
