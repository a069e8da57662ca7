"""Three hosts in network namespaces of our own, joined by a bridge: partition and heal.

Needs root and iproute2 (``ip netns``); skipped, with the reason, elsewhere. All addresses
live inside the namespaces this test creates and deletes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from .harness import APP, NodeProcess, sees

pytestmark = pytest.mark.timeout(180)

SUBNET = "10.77.0"


def _ip(*args: str, ns: str | None = None) -> None:
    cmd = ["ip", *args] if ns is None else ["ip", "netns", "exec", ns, "ip", *args]
    subprocess.run(cmd, check=True, capture_output=True, timeout=20)


class Hosts:
    """A switch namespace with a bridge, and one namespace per host wired to it by a veth."""

    def __init__(self, names: list[str]) -> None:
        tag = f"{os.getpid() % 100000}"
        self.switch = f"rsw{tag}"
        self.hosts = {name: f"r{name}{tag}" for name in names}
        self.addresses = {name: f"{SUBNET}.{i + 1}" for i, name in enumerate(names)}
        self.ports = {name: f"p{name}{tag}"[:15] for name in names}  # switch-side ends
        _ip("netns", "add", self.switch)
        self.created = [self.switch]
        _ip("link", "add", "br0", "type", "bridge", ns=self.switch)
        _ip("link", "set", "br0", "up", ns=self.switch)
        for name, ns in self.hosts.items():
            _ip("netns", "add", ns)
            self.created.append(ns)
            _ip("link", "set", "lo", "up", ns=ns)
            _ip("link", "add", "eth0", "type", "veth", "peer", "name", self.ports[name],
                "netns", self.switch, ns=ns)
            _ip("addr", "add", f"{self.addresses[name]}/24", "dev", "eth0", ns=ns)
            _ip("link", "set", "eth0", "up", ns=ns)
            _ip("link", "set", self.ports[name], "master", "br0", ns=self.switch)
            _ip("link", "set", self.ports[name], "up", ns=self.switch)

    def cut(self, name: str) -> None:
        """Take a host's link down: a partition, with no FIN or RST on either side."""
        _ip("link", "set", self.ports[name], "down", ns=self.switch)

    def heal(self, name: str) -> None:
        """Bring the link back."""
        _ip("link", "set", self.ports[name], "up", ns=self.switch)

    def delete(self) -> None:
        """Remove every namespace (and so every link) this made."""
        for ns in reversed(self.created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)


@pytest.fixture
def hosts() -> Iterator[Hosts]:
    if sys.platform != "linux" or os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("network namespaces need Linux, root and iproute2's `ip`")
    try:
        made = Hosts(["a", "b", "c"])
    except (subprocess.CalledProcessError, OSError) as exc:
        stderr = getattr(exc, "stderr", b"") or b""
        pytest.skip(f"this machine does not allow network namespaces: {stderr.decode()!r}")
    try:
        yield made
    finally:
        made.delete()


def test_a_partitioned_host_is_detected_on_both_sides_and_rejoins_after_the_heal(
    hosts: Hosts,
) -> None:
    nodes: dict[str, NodeProcess] = {}
    try:
        for name in ("a", "b", "c"):
            command = ["ip", "netns", "exec", hosts.hosts[name], sys.executable, "-m",
                       "ractor_cluster", "node", "--app", APP]
            nodes[name] = NodeProcess(
                name,
                command=command,
                extra=["--host", hosts.addresses[name], "--listen", hosts.addresses[name],
                       "--port", "4000", "--liveness", "1.5"],
            )
        a, b, c = nodes["a"], nodes["b"], nodes["c"]
        b.rpc("connect", address=a.address)
        c.rpc("connect", address=a.address)
        c.rpc("connect", address=b.address)
        for node in (a, b, c):
            node.wait_for(lambda n=node: len(n.rpc("sessions")) == 2, what="full mesh")
        sees(a, "counter-c")

        hosts.cut("c")
        started = time.monotonic()
        c_name = f"c@{hosts.addresses['c']}"
        for node in (a, b):
            node.expect(lambda e: e["event"] == "disconnected" and e["peer"] == c_name, 15)
        c.wait_for(lambda: c.rpc("sessions") == [], timeout=15, what="c alone")
        assert time.monotonic() - started < 10
        assert a.rpc("call", to="counter-b", msg="echo", text="still here", timeout=5) == (
            "still here"
        )
        a.wait_for(lambda: "counter-c" not in [n for _, n in a.rpc("remote_actors")],
                   what="c's actors gone from a")

        hosts.heal("c")
        c.rpc("connect", address=a.address)
        c.rpc("connect", address=b.address)
        c.wait_for(lambda: c.rpc("sessions") == ["a@10.77.0.1", "b@10.77.0.2"], timeout=15,
                   what="rejoined")
        sees(a, "counter-c")
        assert a.rpc("call", to="counter-c", msg="echo", text="healed", timeout=5) == "healed"
    finally:
        for node in nodes.values():
            node.kill()
