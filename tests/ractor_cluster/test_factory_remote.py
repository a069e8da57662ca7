"""A factory whose workers are a process group on other node processes: jobs are routed to
remote workers, and when a worker node is killed (SIGKILL) mid-job its jobs are re-queued
(queuer) or reported to the discard handler (key-persistent), never lost."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest

from .harness import ROOT, NodeProcess, connected

pytestmark = pytest.mark.timeout(120)

APP = [sys.executable, "-m", "ractor_cluster", "node", "--app",
       "tests.ractor_cluster.factory_app"]


def _cluster(nodes: Callable[..., NodeProcess], workers: int = 2) -> tuple[NodeProcess, ...]:
    coord, w1, w2 = (nodes(n, command=APP) for n in ("coord", "w1", "w2"))
    for w in (w1, w2):
        w.rpc("connect", address=coord.address)
        connected(coord, w)
    w1.rpc("connect", address=w2.address)
    for w in (w1, w2):
        assert w.rpc("serve", group="crunch", count=workers) == workers
    coord.wait_for(lambda: coord.rpc("members", group="crunch") == [0, 2 * workers],
                   what="every worker in the group")
    return coord, w1, w2


def test_a_killed_worker_nodes_jobs_are_requeued_and_every_job_completes(
    nodes: Callable[..., NodeProcess],
) -> None:
    coord, w1, w2 = _cluster(nodes)
    coord.rpc("factory", group="crunch")
    coord.rpc("calls", n=200, ms=20)
    w1.wait_for(lambda: w1.rpc("busy") == 2 and w1.rpc("done") >= 5, what="w1 mid-job")
    w1.kill()  # SIGKILL, two jobs in flight on it
    report: dict[str, Any] = {}

    def finished() -> bool:
        report.update(coord.rpc("report"))
        return report["results"] + len(report["errors"]) == 200

    coord.wait_for(finished, timeout=60, what="all 200 calls answered")
    assert report["errors"] == [] and report["discarded"] == []
    assert report["correct"] and report["completed"] == 200 and report["failed"] == 0
    assert report["requeued"] >= 2  # the two jobs w1 held, maybe more in flight on the wire
    assert report["workers"] == 2 and report["in_flight"] == 0 and report["queued"] == 0
    assert w2.rpc("done") > 100  # the survivor did the rest, re-queued jobs included


def test_a_killed_worker_nodes_key_persistent_jobs_go_to_the_discard_handler(
    nodes: Callable[..., NodeProcess],
) -> None:
    coord, w1, _ = _cluster(nodes, workers=1)
    coord.rpc("factory", group="crunch", routing="key")
    coord.rpc("casts", n=100, ms=20, keys=10)
    w1.wait_for(lambda: w1.rpc("busy") == 1 and w1.rpc("done") >= 3, what="w1 mid-job")
    w1.kill()
    report: dict[str, Any] = {}

    def accounted() -> bool:
        report.update(coord.rpc("report"))
        return report["completed"] + len(report["discarded"]) == 100

    coord.wait_for(accounted, timeout=60, what="all 100 jobs completed or reported")
    assert report["failed"] == 0 and report["discarded"], "w1's job in flight was reported"
    assert {why for _, why in report["discarded"]} == {"worker_lost"}
    assert report["in_flight"] == 0 and report["queued"] == 0 and report["workers"] == 1


def test_the_job_service_example_answers_every_job_after_a_kill() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "examples.job_service", "150"], cwd=ROOT, capture_output=True,
        text=True, timeout=100,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "150 of 150 jobs answered, 0 errors" in result.stdout
    assert "every job completed" in result.stdout
