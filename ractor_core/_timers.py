"""Timers: deliver a message, a stop or a kill to an actor later (ractor's ``time``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import final

__all__ = ["Timer"]


@final
class Timer:
    """A scheduled action on an actor; ``cancel()`` it to prevent further firings."""

    __slots__ = ("_action", "_cancelled", "_fired", "_handle", "_loop", "_next", "_period")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        delay: float,
        action: Callable[[], bool],
        period: float | None,
    ) -> None:
        if delay < 0 or (period is not None and period <= 0):
            raise ValueError("timer delays must be positive")
        self._loop = loop
        self._action = action
        self._period = period
        self._fired = 0
        self._cancelled = False
        self._next = loop.time() + delay
        self._handle: asyncio.TimerHandle | None = loop.call_at(self._next, self._fire)

    @classmethod
    def once(
        cls, loop: asyncio.AbstractEventLoop, delay: float, action: Callable[[], bool]
    ) -> Timer:
        """Run ``action`` once after ``delay`` seconds."""
        return cls(loop, delay, action, None)

    @classmethod
    def every(
        cls, loop: asyncio.AbstractEventLoop, period: float, action: Callable[[], bool]
    ) -> Timer:
        """Run ``action`` every ``period`` seconds while it returns True."""
        return cls(loop, period, action, period)

    @property
    def active(self) -> bool:
        """Whether the timer will fire again."""
        return self._handle is not None and not self._cancelled

    @property
    def fired(self) -> int:
        """How many times the timer has fired."""
        return self._fired

    def cancel(self) -> None:
        """Stop the timer; no further firing happens (also when called while it fires)."""
        self._cancelled = True
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _fire(self) -> None:
        self._handle = None
        self._fired += 1
        keep_going = self._action()
        if keep_going and self._period is not None and not self._cancelled:
            # Scheduled from the first deadline, so intervals do not drift.
            self._next += self._period
            now = self._loop.time()
            if self._next < now:
                self._next = now
            self._handle = self._loop.call_at(self._next, self._fire)
