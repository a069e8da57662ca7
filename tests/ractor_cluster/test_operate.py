"""Operating a node, with real node processes: graceful stop, logs, auth throttling, safe
defaults, ``--app``, reconnection and discovery, metrics."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.interop.raw import RawClient, frame

from .harness import ROOT, NodeProcess, cli_node, connected, sees

pytestmark = pytest.mark.timeout(120)

OPERATE = [sys.executable, "-m", "ractor_cluster", "node", "--app",
           "tests.ractor_cluster.operate_app"]


def _operated(nodes: Callable[..., NodeProcess], name: str, *extra: str,
              **kwargs: Any) -> NodeProcess:
    return nodes(name, command=OPERATE, extra=list(extra), **kwargs)


def _until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout}s")
        time.sleep(0.05)


def _stderr(node: NodeProcess) -> str:
    return "".join(node.stderr)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# ------------------------------------------------------------------ 1. graceful stop


def test_sigterm_stops_every_app_actor_gracefully_and_peers_see_a_stop(
    nodes: Callable[..., NodeProcess],
) -> None:
    a = _operated(nodes, "a")
    b = nodes("b")
    b.rpc("connect", address=a.address)
    sees(b, "counter-a")
    b.rpc("monitor_remote", to="counter-a")
    started = time.monotonic()
    assert a.terminate() == 0
    assert time.monotonic() - started < 10
    def stopped(name: str) -> Callable[[dict[str, Any]], bool]:
        return lambda e: bool(e["event"] == "post_stop" and e["name"] == name)

    for name in ("counter-a", "top", "top.0", "mid", "mid.0", "mid.1"):
        a.expect(stopped(name), 5)
    names = [e["name"] for e in a.events if e["event"] == "post_stop"]
    # children before their supervisors, and each supervisor had no child left
    assert names.index("mid.0") < names.index("mid") < names.index("top")
    assert names.index("mid.1") < names.index("mid") and names.index("top.0") < names.index("top")
    assert all(e["children"] == 0 for e in a.events if e["event"] == "post_stop")
    kinds = [e["event"] for e in a.events]
    # the app's stop hook first (every actor still running), then its task is cancelled
    assert kinds.index("app_stop") < kinds.index("task_cancelled") < kinds.index("post_stop")
    assert a.expect(lambda e: e["event"] == "app_stop")["counter_alive"] is True
    # the peer heard the actor stop (a Terminate), then the node say goodbye
    b.wait_for(lambda: b.rpc("watched") == ["remote_stopped"], 10, "the Terminate")
    b.expect(lambda e: e["event"] == "disconnected" and e["peer"] == "a@localhost")
    _until(lambda: "peer_stopped" in _stderr(b), 10, "the peer logs a stop")
    assert "session_error" not in _stderr(b)


def test_a_stop_hook_that_hangs_is_cut_by_the_shutdown_timeout(tmp_path: Path) -> None:
    (tmp_path / "hangs.py").write_text(
        "import asyncio\n"
        "async def start(node, name):\n"
        "    pass\n"
        "async def stop(node):\n"
        "    await asyncio.sleep(3600)\n"
    )
    proc = cli_node(tmp_path, "--app", "hangs", "--shutdown-timeout", "1")
    started = time.monotonic()
    proc.terminate()
    out, err = proc.communicate(timeout=20)
    assert time.monotonic() - started < 5
    assert "stop(node) did not return in time" in err
    assert out.strip().endswith("stopped")
    assert proc.returncode == 1  # not graceful: said so


# ------------------------------------------------------------------ 2. logs


def test_logs_go_to_stderr_as_json_with_tracebacks_and_source_addresses(
    nodes: Callable[..., NodeProcess],
) -> None:
    a = _operated(nodes, "a", "--log-format", "json")
    a.rpc("fail", name="failing")
    raw = RawClient(a.address, cookie="wrong", name="impostor@somewhere")
    try:
        with pytest.raises(ConnectionError):
            raw.authenticate()
    finally:
        raw.close()

    def records() -> list[dict[str, Any]]:
        return [json.loads(line) for line in list(a.stderr) if line.startswith("{")]

    def failed_actor() -> bool:
        return any("failed" in r["message"] and "RuntimeError" in r.get("exc", "")
                   for r in records())

    _until(failed_actor, 10, "an actor failure with its traceback")
    failure = next(r for r in records() if "RuntimeError" in r.get("exc", ""))
    assert failure["level"] == "WARNING" and "Traceback" in failure["exc"]
    assert "asked to fail" in failure["exc"]

    def auth_logged() -> bool:
        return any("authentication failed" in r["message"] for r in records())

    _until(auth_logged, 10, "the failed authentication")
    auth = next(r for r in records() if "authentication failed" in r["message"])
    assert re.search(r"from 127\.0\.0\.1:\d+", auth["message"]), auth
    assert "impostor@somewhere" in auth["message"]
    assert all(set(r) >= {"time", "level", "logger", "message"} for r in records())
    port = int(a.address.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"\xff" * 8 + b"junk")  # an oversized length prefix

        def frame_logged() -> bool:
            return any("frame" in r["message"] and "127.0.0.1" in r["message"]
                       for r in records())

        _until(frame_logged, 10, "the bad frame is logged with its source address")


def test_text_logs_by_default_and_the_level_flag(nodes: Callable[..., NodeProcess]) -> None:
    a = nodes("a")
    quiet = nodes("q", extra=["--log-level", "warning"])
    _until(lambda: "listening on" in _stderr(a), 10, "the start is logged")
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO ractor\.cluster\.node: ",
                     _stderr(a))
    assert quiet.rpc("sessions") == []
    assert "INFO" not in _stderr(quiet)


# ------------------------------------------------------------------ 3. auth throttling


def _wrong_cookie(address: str) -> bool:
    """One wrong-cookie handshake; True if the server answered at all (not throttled)."""
    raw = RawClient(address, cookie="wrong")
    try:
        raw.send(frame(_meta_auth(raw)))
        return raw.receive(5) is not None
    except OSError:
        return False
    finally:
        raw.close()


def _meta_auth(raw: RawClient) -> Any:
    from ractor_cluster.protocol import meta_pb2

    return meta_pb2.NetworkMessage(auth=raw.handshake.start())


def _fail_handshake(address: str) -> bool:
    raw = RawClient(address, cookie="wrong")
    try:
        raw.authenticate()
    except (ConnectionError, OSError):
        return True
    finally:
        raw.close()
    return False


def test_wrong_cookies_from_one_address_back_off_and_are_logged_and_counted(
    nodes: Callable[..., NodeProcess],
) -> None:
    port = _free_port()
    a = _operated(nodes, "a", "--metrics-port", str(port), "--metrics-host", "127.0.0.1")
    for _ in range(5):  # the fifth failure in a row starts the backoff
        assert _fail_handshake(a.address)
    _until(lambda: _stderr(a).count("authentication failed") >= 5, 10, "5 failures logged")
    _until(lambda: "failed to authenticate 5 times in a row" in _stderr(a), 10,
           "the backoff is logged")
    # connections are now closed unanswered (refused, counted apart from failures)
    assert _fail_handshake(a.address)
    refused = [not _wrong_cookie(a.address) for _ in range(5)]
    assert any(refused), "no connection was refused while backing off"
    metrics = _scrape(port)
    assert metrics["ractor_cluster_auth_failures_total"] >= 5
    assert metrics["ractor_cluster_auth_refused_total"] >= 1
    # the backoff ends: the address may try again
    _until(lambda: _wrong_cookie(a.address), 10, "served again after the backoff")


# ------------------------------------------------------------------ 7. safe defaults


def test_liveness_is_on_by_default_so_a_frozen_peer_is_dropped(
    nodes: Callable[..., NodeProcess],
) -> None:
    import signal

    a, b = nodes("a"), nodes("b")
    a.rpc("connect", address=b.address)
    connected(a, b)
    b.signal(signal.SIGSTOP)
    try:
        a.expect(lambda e: e["event"] == "disconnected" and e["peer"] == "b@localhost", 40)
        _until(lambda: "liveness_timeout" in _stderr(a), 10, "the reason is logged")
    finally:
        b.signal(signal.SIGCONT)


def test_a_connection_that_replaces_a_session_is_logged_as_such(
    nodes: Callable[..., NodeProcess],
) -> None:
    a, b = nodes("a"), nodes("b")
    b.rpc("connect", address=a.address)
    connected(a, b)
    impostor = nodes("b")  # the same full name, with the cookie
    impostor.rpc("connect", address=a.address)
    _until(lambda: "duplicate_connection" in _stderr(a), 10, "the replacement is logged")
    line = next(x for x in _stderr(a).splitlines() if "duplicate_connection" in x)
    assert "'b@localhost'" in line and line.count("127.0.0.1:") + line.count("::1") >= 2


# ------------------------------------------------------------------ 8. --app


def test_an_app_in_the_current_directory_runs_and_its_tasks_are_cancelled_at_stop(
    tmp_path: Path,
) -> None:
    (tmp_path / "myapp.py").write_text(
        "import asyncio\n"
        "async def forever():\n"
        "    try:\n"
        "        while True:\n"
        "            await asyncio.sleep(0.01)\n"
        "    except asyncio.CancelledError:\n"
        "        print('cancelled', flush=True)\n"
        "        raise\n"
        "def start(node, name):\n"  # a plain function works too
        "    asyncio.get_running_loop().create_task(forever())\n"
        "    print('started', name, flush=True)\n"
        "async def stop(node):\n"
        "    print('stop hook', flush=True)\n"
    )
    proc = cli_node(tmp_path, "--app", "myapp")
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "started x"
    proc.terminate()
    out, _ = proc.communicate(timeout=20)
    assert out.split() == ["stop", "hook", "cancelled", "stopped"]
    assert proc.returncode == 0


def test_an_app_whose_start_fails_is_logged_and_the_node_stops(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text(
        "def start(node, name):\n"
        "    raise RuntimeError('no database')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "ractor_cluster", "node", "--name", "x", "--cookie", "c",
         "--app", "broken"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 1
    assert "start(node, name) failed" in done.stderr
    assert "RuntimeError: no database" in done.stderr
    lines = done.stdout.split("\n")
    assert lines[0].startswith("listening on ") and lines[1:] == ["stopped", ""]


def test_a_missing_app_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "ractor_cluster", "node", "--name", "x", "--cookie", "c",
         "--app", "nowhere_to_be_found"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30,
    )
    assert done.returncode == 1
    assert "cannot import the app 'nowhere_to_be_found'" in done.stderr
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------ 6. reconnection, seeds


def test_a_restarted_peer_is_redialed_within_the_backoff(
    nodes: Callable[..., NodeProcess],
) -> None:
    b = nodes("b")
    port = b.address.rsplit(":", 1)[1]
    a = _operated(nodes, "a", "--connect", f"127.0.0.1:{port}", "--reconnect-max", "0.5")
    connected(a, b)
    a.expect(lambda e: e["event"] == "node_up" and e["peer"] == "b@localhost")
    b.kill()
    a.expect(lambda e: e["event"] == "node_down" and e["peer"] == "b@localhost")
    _until(lambda: "dialing 127.0.0.1:" in _stderr(a), 10, "a failed redial is logged")
    b2 = nodes("b", extra=["--port", port])
    restarted = time.monotonic()
    a.wait_for(lambda: "b@localhost" in a.rpc("sessions"), 10, "redialed")
    assert time.monotonic() - restarted < 5  # within the backoff (at most 0.5 s apart)
    sees(a, "counter-b")
    assert a.rpc("call", to="counter-b", msg="echo", text="back", timeout=5) == "back"
    ups = [e for e in a.events if e["event"] == "node_up" and e["peer"] == "b@localhost"]
    assert len(ups) == 2
    assert b2.rpc("sessions") == ["a@localhost"]


def test_a_seeds_file_is_read_again_and_every_listed_node_is_dialed(
    nodes: Callable[..., NodeProcess], tmp_path: Path
) -> None:
    b, c = nodes("b"), nodes("c")
    seeds = tmp_path / "seeds"
    seeds.write_text(f"# the cluster\n{b.address}\n\nnot-an-address\n")
    a = nodes("a", extra=["--seeds-file", str(seeds), "--discovery-interval", "0.2"])
    connected(a, b)
    _until(lambda: "not-an-address" in _stderr(a), 10, "the bad line is logged")
    seeds.write_text(f"{b.address}\n{c.address}  # added later\n")
    connected(a, c)
    assert sorted(a.rpc("sessions")) == ["b@localhost", "c@localhost"]


def test_seeds_from_dns_are_dialed(nodes: Callable[..., NodeProcess]) -> None:
    b = nodes("b")
    port = b.address.rsplit(":", 1)[1]
    a = nodes("a", extra=["--seeds-dns", f"localhost:{port}", "--discovery-interval", "0.2"])
    connected(a, b)


# ------------------------------------------------------------------ 4. metrics


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        assert response.status == 200
        text = response.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def test_a_running_node_is_scraped_over_http(nodes: Callable[..., NodeProcess]) -> None:
    port = _free_port()
    a = _operated(nodes, "a", "--metrics-port", str(port), "--metrics-host", "127.0.0.1")
    b = nodes("b")
    a.rpc("connect", address=b.address)
    sees(a, "counter-b")
    for i in range(10):
        a.rpc("cast", to="counter-b", msg="add", n=i)
    assert a.rpc("call", to="counter-b", msg="get", timeout=5) == 45
    metrics = _scrape(port)
    assert metrics["ractor_actors"] >= 6
    assert metrics["ractor_cluster_sessions"] == 1
    assert metrics["ractor_cluster_nodes_up"] == 1
    assert metrics['ractor_cluster_messages_sent_total{peer="b@localhost"}'] >= 11
    assert metrics['ractor_cluster_bytes_sent_total{peer="b@localhost"}'] > 0
    assert metrics['ractor_cluster_messages_received_total{peer="b@localhost"}'] >= 1
    assert metrics['ractor_cluster_bytes_received_total{peer="b@localhost"}'] > 0
    assert metrics["ractor_cluster_call_seconds_count"] >= 1
    assert "ractor_mailbox_messages" in metrics
    assert metrics["ractor_cluster_auth_failures_total"] == 0
    b.kill()
    _until(lambda: _scrape(port)["ractor_cluster_sessions"] == 0, 10, "the session ends")
    # the peer's counts are kept after its session ended
    assert _scrape(port)['ractor_cluster_messages_sent_total{peer="b@localhost"}'] >= 11


# ------------------------------------------------------------------ 5. tracing

TRACED = [sys.executable, "-m", "ractor_cluster", "node", "--otel", "--app",
          "tests.ractor_cluster.tracing_app"]


def test_a_trace_crosses_two_processes_into_the_remote_handler(
    nodes: Callable[..., NodeProcess],
) -> None:
    a, b = nodes("a", command=TRACED), nodes("b", command=TRACED)
    a.rpc("connect", address=b.address)
    sees(a, "counter-b")
    call = a.rpc("traced", to="counter-b", msg="echo", text="traced")
    assert call["result"] == "traced"
    cast = a.rpc("traced", to="counter-b", msg="add", n=3)
    assert a.rpc("call", to="counter-b", msg="get", timeout=5) == 3  # untraced: no span

    def handled() -> list[dict[str, Any]]:
        return [s for s in b.rpc("spans") if s["name"].startswith("ractor.handle")]

    b.wait_for(lambda: len(handled()) == 2, 10, "both handler spans")
    by_name = {s["name"]: s for s in handled()}
    echo, add = by_name["ractor.handle Echo"], by_name["ractor.handle Add"]
    assert (echo["trace_id"], echo["parent"], echo["kind"]) == (
        call["trace_id"], call["span_id"], "SERVER")
    assert (add["trace_id"], add["parent"], add["kind"]) == (
        cast["trace_id"], cast["span_id"], "CONSUMER")
    assert echo["attributes"]["ractor.actor.name"] == "counter-b"
    assert [s["name"] for s in a.rpc("spans")] == ["client-op", "client-op"]


def test_traced_messages_to_an_untraced_node_are_handled_as_usual(
    nodes: Callable[..., NodeProcess],
) -> None:
    a, b = nodes("a", command=TRACED), nodes("b")
    a.rpc("connect", address=b.address)
    sees(a, "counter-b")
    assert a.rpc("traced", to="counter-b", msg="echo", text="plain")["result"] == "plain"


def test_two_nodes_that_dial_each_other_keep_one_connection_and_come_back(
    nodes: Callable[..., NodeProcess],
) -> None:
    pa, pb = _free_port(), _free_port()
    fast = ["--reconnect-max", "0.3"]
    a = _operated(nodes, "a", "--port", str(pa), "--connect", f"127.0.0.1:{pb}", *fast)
    b = _operated(nodes, "b", "--port", str(pb), "--connect", f"127.0.0.1:{pa}", *fast)
    connected(a, b)
    a.wait_for(lambda: a.rpc("sessions") == ["b@localhost"] == [
        n.replace("a@", "b@") for n in b.rpc("sessions")], 10, "one connection each way")
    # the loser of the election is not redialed while the winner holds the node: once its
    # side said so, over a window of five redial periods, no session starts or ends
    def both() -> str:
        return _stderr(a) + _stderr(b)

    _until(lambda: "redialed when a node goes down" in both()
           or "session_election_lost" in both(), 10, "the loser waits")
    ended = both().count(" ends: ")
    time.sleep(1.5)
    assert both().count(" ends: ") == ended
    b.kill()
    a.expect(lambda e: e["event"] == "node_down" and e["peer"] == "b@localhost")
    b2 = _operated(nodes, "b", "--port", str(pb), "--connect", f"127.0.0.1:{pa}", *fast)
    connected(a, b2)
    assert a.rpc("call", to="counter-b", msg="echo", text="mesh", timeout=5) == "mesh"


def test_sigterm_is_not_held_up_by_a_one_shot_dial_that_hangs(tmp_path: Path) -> None:
    # a listener whose accept queue is full: a connect to it neither succeeds nor fails
    import socket

    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(0)
        filler = socket.create_connection(hole.getsockname(), timeout=5)
        try:
            address = "{}:{}".format(*hole.getsockname())
            proc = cli_node(tmp_path, "--no-reconnect", "--connect", address)
            proc.terminate()  # while the dial waits (its own timeout is 10 s)
            try:
                out, err = proc.communicate(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate(timeout=10)
                raise AssertionError("SIGTERM waited for the dial") from None
            assert proc.returncode == 0, err
            assert out.strip() == "stopped"
        finally:
            filler.close()
