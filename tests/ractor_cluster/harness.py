"""Test nodes as real OS processes: ``python -m ractor_cluster node`` with the test app."""

from __future__ import annotations

import itertools
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.ractor_cluster.node_app"


class NodeProcess:
    """One node process; ``rpc`` runs a command of the test app, ``expect`` awaits an event."""

    def __init__(
        self,
        name: str,
        cookie: str = "cookie",
        extra: list[str] | None = None,
        env: dict[str, str] | None = None,
        command: list[str] | None = None,
    ) -> None:
        self.name = name
        cmd = command or [sys.executable, "-m", "ractor_cluster", "node", "--app", APP]
        cmd = [*cmd, "--name", name, "--cookie", cookie, *(extra or [])]
        env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, bufsize=1,
        )
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        self.replies: dict[int, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._ready = threading.Event()
        self.address = ""
        self.stderr: list[str] = []
        self._threads = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        if not self._ready.wait(20):
            self.kill()
            raise RuntimeError(f"node {name} did not start: {''.join(self.stderr)[-2000:]}")

    @property
    def full_name(self) -> str:
        """``name@localhost``."""
        return f"{self.name}@localhost"

    def _read_stdout(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("listening on "):
                self.address = line.removeprefix("listening on ")
                self._ready.set()
            elif line.startswith("{"):
                self.lines.put(json.loads(line))
        self.proc.stdout.close()

    def _read_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.stderr.append(line)
        self.proc.stderr.close()

    def _pump(self, timeout: float) -> None:
        try:
            item = self.lines.get(timeout=timeout)
        except queue.Empty:
            return
        if "id" in item:
            self.replies[item["id"]] = item
        else:
            self.events.append(item)

    def rpc(self, op: str, wait: float = 20, **fields: Any) -> Any:
        """Run one command of the test app; returns its result or raises RuntimeError.

        ``wait`` bounds how long the harness waits for the answer; every other keyword is a
        field of the command (so ``timeout=`` is the call's own timeout, sent on the wire).
        """
        reply = self.try_rpc(op, wait, **fields)
        if not reply["ok"]:
            raise RuntimeError(f"{self.name}: {op} failed: {reply['error']}: {reply['text']}")
        return reply["result"]

    def try_rpc(self, op: str, wait: float = 20, **fields: Any) -> dict[str, Any]:
        """Run one command; returns the whole reply (``ok``, ``result`` or ``error``)."""
        ident = next(self._ids)
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"id": ident, "op": op, **fields}) + "\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + wait
        while ident not in self.replies:
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise TimeoutError(f"{self.name}: no answer to {op} within {wait}s")
            self._pump(0.05)
        return self.replies.pop(ident)

    def expect(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 10
    ) -> dict[str, Any]:
        """Wait for an event matching ``predicate`` (already seen ones count)."""
        deadline = time.monotonic() + timeout
        seen = 0
        while True:
            for event in self.events[seen:]:
                if predicate(event):
                    return event
            seen = len(self.events)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: no matching event in {timeout}s: {self.events}")
            self._pump(0.05)

    def wait_for(self, check: Callable[[], bool], timeout: float = 10, what: str = "") -> None:
        """Poll ``check`` (which may use rpc) until it holds."""
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name}: {what or 'condition'} not met in {timeout}s")
            time.sleep(0.05)

    def terminate(self, timeout: float = 10) -> int:
        """SIGTERM, then wait for a clean exit; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            code = -9
        self._close_stdin()
        return code

    def kill(self) -> None:
        """SIGKILL: the node vanishes without a word."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)
        self._close_stdin()

    def _close_stdin(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
        for thread in self._threads:
            thread.join(5)

    def signal(self, sig: int) -> None:
        """Send ``sig`` (e.g. SIGSTOP / SIGCONT)."""
        self.proc.send_signal(sig)


def connected(a: NodeProcess, b: NodeProcess, timeout: float = 10) -> None:
    """Wait until a and b list each other as authenticated sessions."""
    a.wait_for(lambda: b.full_name in a.rpc("sessions"), timeout, f"{a.name} sees {b.name}")
    b.wait_for(lambda: a.full_name in b.rpc("sessions"), timeout, f"{b.name} sees {a.name}")


def sees(node: NodeProcess, actor: str, timeout: float = 10) -> None:
    """Wait until ``node`` knows a remote actor advertised as ``actor``."""
    node.wait_for(lambda: any(n == actor for _, n in node.rpc("remote_actors")), timeout, actor)


def members(node: NodeProcess, group: str, scope: str | None = None) -> list[list[Any]]:
    """The sorted ``[name, is_local]`` members of ``group`` as ``node`` sees them."""
    return node.rpc("members", group=group, **({"scope": scope} if scope else {}))


def cli_node(cwd: Path, *extra: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``ractor-cluster node --name x --cookie c *extra`` run from ``cwd``, once it listens
    (its stdout is then at the line after ``listening on ...``)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "ractor_cluster", "node", "--name", "x", "--cookie", "c",
         *extra],
        cwd=cwd, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line.startswith("listening on "):
        proc.kill()
        out, err = proc.communicate(timeout=10)
        raise AssertionError(f"did not start: {line!r} {out!r} {err!r}")
    return proc
