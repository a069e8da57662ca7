"""Operability features against the Rust peer: the trace context in Cast and Call metadata,
and the goodbye a stopping Python node sends (both must be accepted by ractor_cluster)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from ..ractor_cluster.harness import NodeProcess, connected, sees

pytestmark = pytest.mark.timeout(600)  # the first test may build the Rust peer

Factory = Callable[..., NodeProcess]
TRACED = [sys.executable, "-m", "ractor_cluster", "node", "--otel", "--app",
          "tests.ractor_cluster.tracing_app"]


def test_rust_accepts_casts_and_calls_that_carry_a_trace_context(py: Factory, rs: Factory) -> None:
    python, rust = py("a", command=TRACED), rs("b")
    python.rpc("connect", address=rust.address)
    sees(python, "counter-b")
    call = python.rpc("traced", to="counter-b", msg="echo", text="through rust")
    assert call["result"] == "through rust"
    for n in (1, 2, 3):
        python.rpc("traced", to="counter-b", msg="add", n=n)
    assert python.rpc("call", to="counter-b", msg="get", timeout=5) == 6
    python.rpc("traced", to="strings-b", msg="string", text="traced text")
    rust.wait_for(lambda: "traced text" in rust.rpc("strings"), 10, "the traced string")
    assert [s["name"] for s in python.rpc("spans")].count("client-op") == 5
    assert rust.rpc("sessions") == ["a@localhost"]  # the session stayed


def test_rust_ignores_the_goodbye_of_a_stopping_python_node(py: Factory, rs: Factory) -> None:
    python, rust = py("a"), rs("b")
    python.rpc("connect", address=rust.address)
    connected(python, rust)
    assert python.terminate() == 0
    rust.expect(lambda e: e["event"] == "disconnected" and e["peer"] == "a@localhost")
    python2 = py("a")
    python2.rpc("connect", address=rust.address)
    connected(python2, rust)
    assert python2.rpc("call", to="counter-b", msg="echo", text="again", timeout=5) == "again"
