"""Ping-pong: two actors trade a ball, a supervisor watches, and a counter answers calls.

Run: ``python examples/ping_pong.py [ROUNDS]``. Prints what happened and exits 0.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass, field

from ractor_core import (
    Actor,
    ActorRef,
    ActorTerminated,
    Call,
    SupervisionEvent,
    spawn,
    spawn_linked,
)


@dataclass(frozen=True)
class Ball:
    """The ball: who sent it, and how many hits are left."""

    sender: ActorRef[PlayerMsg]
    left: int


@dataclass(frozen=True)
class Hits(Call[int]):
    """Ask a player how many times it hit the ball."""


PlayerMsg = Ball | Hits


@dataclass
class Score:
    """A player's state."""

    name: str
    hits: int = 0
    done: asyncio.Event = field(default_factory=asyncio.Event)


class Player(Actor[PlayerMsg, Score, tuple[str, asyncio.Event]]):
    """Returns the ball until no hits are left."""

    async def pre_start(
        self, myself: ActorRef[PlayerMsg], args: tuple[str, asyncio.Event]
    ) -> Score:
        name, done = args
        return Score(name, done=done)

    async def handle(self, myself: ActorRef[PlayerMsg], message: PlayerMsg, state: Score) -> None:
        match message:
            case Ball(sender=sender, left=left):
                state.hits += 1
                if left == 0:
                    state.done.set()
                else:
                    sender.cast(Ball(myself, left - 1))
            case Hits():
                message.reply.send(state.hits)


class Referee(Actor[None, list[str], None]):
    """Supervises the players and notes how each one ended."""

    async def pre_start(self, myself: ActorRef[None], args: None) -> list[str]:
        return []

    async def handle_supervisor_evt(
        self, myself: ActorRef[None], event: SupervisionEvent, state: list[str]
    ) -> None:
        if isinstance(event, ActorTerminated):
            print(f"referee: {event.actor.name} left the court ({event.reason})")


async def main(rounds: int) -> int:
    """Play ``rounds`` hits and report the rate."""
    referee = await spawn(Referee(), None, name="referee")
    done = asyncio.Event()
    ping = await spawn_linked(Player(), ("ping", done), referee, name="ping")
    pong = await spawn_linked(Player(), ("pong", done), referee, name="pong")
    start = time.perf_counter()
    ping.cast(Ball(pong, rounds - 1))
    await asyncio.wait_for(done.wait(), 60)
    elapsed = time.perf_counter() - start
    hits = await ping.call(Hits(), timeout=5), await pong.call(Hits(), timeout=5)
    print(f"{rounds} hits in {elapsed * 1000:.1f} ms ({rounds / elapsed:,.0f} messages/s)")
    print(f"ping hit {hits[0]}, pong hit {hits[1]}")
    await ping.stop_and_wait("game over", timeout=5)
    await pong.stop_and_wait("game over", timeout=5)
    await referee.stop_and_wait(timeout=5)
    assert sum(hits) == rounds, hits
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)))
