"""Finding peers: seeds from a file or from DNS, polled, in the manner of libcluster's
strategies (``Cluster.Strategy.Epmd`` with its static list, ``DNSPoll`` re-resolving a name).

Each poll gives a set of ``host:port`` addresses. Addresses new since the last poll are
handed to the NodeServer with :class:`~ractor_cluster.Reconnect` (dialed now, redialed
with backoff whenever their session ends); addresses gone from the set are no longer
redialed (:class:`~ractor_cluster.StopReconnecting`; a session already open stays). An
address that turns out to be this node is dropped by the NodeServer (``self_connection``).
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from ractor_core import ActorRef, MessagingError

from ._client import parse_address
from ._errors import SocketConnectError
from ._messages import NodeServerMessage, Reconnect, ReconnectPolicy, StopReconnecting

__all__ = ["SeedStrategy", "SeedsDns", "SeedsFile", "SeedsList", "run_discovery"]

_log = logging.getLogger("ractor.cluster.discovery")


class SeedStrategy(Protocol):
    """A source of peer addresses, asked again at every poll."""

    async def addresses(self) -> set[str]:
        """The ``host:port`` addresses to keep connected now.

        Raises:
            OSError: the source cannot be read this time (the last answer is kept).
        """
        ...


def _format(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class SeedsList:
    """A fixed list of addresses (libcluster's ``Epmd`` strategy)."""

    def __init__(self, addresses: Iterable[str | tuple[str, int]]) -> None:
        self._addresses = {_format(*parse_address(a)) for a in addresses}

    async def addresses(self) -> set[str]:
        """The list."""
        return set(self._addresses)


class SeedsFile:
    """Addresses read from a file at every poll: one ``host:port`` per line; blank lines
    and ``#`` comments are skipped, malformed lines are logged and skipped."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._warned: set[str] = set()

    async def addresses(self) -> set[str]:
        """The file's addresses now.

        Raises:
            OSError: the file cannot be read.
        """
        # a stray byte (a comment saved in Latin-1) spoils that line only
        text = await asyncio.to_thread(self.path.read_text, "utf-8", "replace")
        found: set[str] = set()
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            try:
                found.add(_format(*parse_address(line)))
            except SocketConnectError:
                if line not in self._warned and len(self._warned) < 1024:
                    self._warned.add(line)
                    _log.warning("seeds file %s: %r is not host:port (skipped)",
                                 self.path, line[:200])
        return found


class SeedsDns:
    """Every address ``host`` resolves to, with ``port`` (libcluster's ``DNSPoll``): the
    name is resolved again at every poll, so a headless service's members come and go."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port

    async def addresses(self) -> set[str]:
        """The addresses the name resolves to now.

        Raises:
            OSError: the name does not resolve.
        """
        infos = await asyncio.get_running_loop().getaddrinfo(
            self.host, self.port, type=socket.SOCK_STREAM
        )
        return {_format(str(info[4][0]), self.port) for info in infos}

    @classmethod
    def parse(cls, spec: str) -> SeedsDns:
        """From ``HOST:PORT``.

        Raises:
            SocketConnectError: ``spec`` is not host:port.
        """
        host, port = parse_address(spec)
        return cls(host, port)


async def run_discovery(
    node: ActorRef[NodeServerMessage],
    strategies: Sequence[SeedStrategy],
    *,
    interval: float = 5.0,
    policy: ReconnectPolicy | None = None,
) -> None:
    """Poll ``strategies`` every ``interval`` seconds and keep ``node`` connected to what
    they list (until cancelled, or the NodeServer stops)."""
    policy = policy or ReconnectPolicy()
    known: list[set[str]] = [set() for _ in strategies]
    while node.is_alive:
        wanted_before: set[str] = set[str]().union(*known)
        for i, strategy in enumerate(strategies):
            try:
                known[i] = await asyncio.wait_for(strategy.addresses(), max(interval, 1.0))
            except Exception as exc:  # (OSError, a bad name for getaddrinfo, a strategy's bug)
                _log.warning("seeds from %s: %s (keeping the last %d)",
                             type(strategy).__name__, str(exc)[:300] or repr(exc),
                             len(known[i]))
        wanted: set[str] = set[str]().union(*known)
        try:
            for address in sorted(wanted - wanted_before):
                _log.info("seed %s: keeping it connected", address)
                node.cast(Reconnect(address, policy))
            for address in sorted(wanted_before - wanted):
                _log.info("seed %s is no longer listed: not redialed any more", address)
                node.cast(StopReconnecting(address))
        except MessagingError:
            return
        await asyncio.sleep(interval)
