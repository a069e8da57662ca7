"""Call timeouts on one timer per event loop, instead of a timer per call.

A call with a timeout puts its deadline in a heap; one timer of the loop is armed for the
earliest deadline. An answered call leaves its entry behind (nothing to cancel: cancelling
a loop timer costs more than the entry); entries go when their deadline passes, or in a
sweep once the heap holds twice as many as the last sweep left (at least ``_SWEEP_MIN``),
so the heap stays proportional to the calls in flight.
"""

from __future__ import annotations

import asyncio
import heapq
import math
from collections.abc import Callable
from typing import Any

__all__ = ["add_deadline"]

_SWEEP_MIN = 1024
_EARLY = 0.001  # the loop's timers fire on whole milliseconds: a deadline this close is due

Expire = Callable[[asyncio.Future[Any], Any, float], None]
_Entry = tuple[float, int, asyncio.Future[Any], Any, float, Expire]


class _Deadlines:
    """The pending call deadlines of one event loop."""

    __slots__ = ("_at", "_handle", "_heap", "_loop", "_seq", "_sweep_at")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._heap: list[_Entry] = []
        self._handle: asyncio.TimerHandle | None = None
        self._at = math.inf  # when the timer fires
        self._seq = 0
        self._sweep_at = _SWEEP_MIN

    def add(self, when: float, fut: asyncio.Future[Any], who: Any, timeout: float,
            expire: Expire) -> None:
        self._seq += 1
        heap = self._heap
        heapq.heappush(heap, (when, self._seq, fut, who, timeout, expire))
        if when < self._at:
            self._arm(when)
        if len(heap) > self._sweep_at:
            self._sweep()

    def _arm(self, when: float) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self._at = when
        self._handle = self._loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._handle = None
        self._at = math.inf
        heap = self._heap
        due = self._loop.time() + _EARLY
        while heap and heap[0][0] <= due:
            _, _, fut, who, timeout, expire = heapq.heappop(heap)
            if not fut.done():
                expire(fut, who, timeout)
        if heap:
            self._arm(heap[0][0])

    def _sweep(self) -> None:
        heap = [entry for entry in self._heap if not entry[2].done()]
        heapq.heapify(heap)
        self._heap = heap
        self._sweep_at = max(_SWEEP_MIN, 2 * len(heap))


_ATTRIBUTE = "_ractor_deadlines"  # on the loop object: it goes with the loop


def add_deadline(loop: asyncio.AbstractEventLoop, delay: float, fut: asyncio.Future[Any],
                 who: Any, timeout: float, expire: Expire) -> None:
    """Call ``expire(fut, who, timeout)`` in ``delay`` seconds unless ``fut`` is done."""
    deadlines: _Deadlines | None = getattr(loop, _ATTRIBUTE, None)
    if deadlines is None:
        deadlines = _Deadlines(loop)
        setattr(loop, _ATTRIBUTE, deadlines)
    deadlines.add(loop.time() + delay, fut, who, timeout, expire)
