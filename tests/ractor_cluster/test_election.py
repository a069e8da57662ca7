"""The duplicate-connection election ``elect`` (PROTOCOL.md 3.7), on hand-built session entries."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

from hypothesis import assume, example, given
from hypothesis import strategies as st

from ractor_cluster._messages import _SessionEntry
from ractor_cluster._node import elect

A = "a@h"
B = "b@h"

_node_ids = itertools.count()


def entry(pid: int, *, incoming: bool, connection_id: int = 0) -> _SessionEntry:
    actor = SimpleNamespace(id=SimpleNamespace(pid=pid))
    return _SessionEntry(
        actor=actor,  # type: ignore[arg-type]
        node_id=next(_node_ids),
        is_server=incoming,
        stream=object(),  # type: ignore[arg-type]
        session=None,
        connection_id=connection_id,
        authenticated=True,
    )


def ids(kept: list[_SessionEntry]) -> list[int]:
    return [e.actor.id.pid for e in kept]


# ------------------------------------------------------------------------ trivial cases


def test_no_candidates_elect_nobody() -> None:
    assert elect(A, B, []) == []


def test_a_single_candidate_always_survives() -> None:
    for incoming in (True, False):
        for connection_id in (0, 5):
            only = entry(1, incoming=incoming, connection_id=connection_id)
            assert elect(A, B, [only]) == [only]
            assert elect(B, A, [only]) == [only]


def test_the_candidate_list_is_not_modified() -> None:
    candidates = [entry(1, incoming=True, connection_id=9), entry(2, incoming=False)]
    before = list(candidates)
    elect(A, B, candidates)
    assert candidates == before


# --------------------------------------------------------------------------- direction


def test_a_peer_that_sorts_lower_keeps_only_our_outgoing_connection() -> None:
    incoming = entry(1, incoming=True, connection_id=1)
    outgoing = entry(2, incoming=False, connection_id=99)
    kept = elect(B, A, [incoming, outgoing])
    assert kept == [outgoing]
    assert kept[0].is_server is False


def test_a_peer_that_sorts_higher_keeps_only_its_incoming_connection() -> None:
    incoming = entry(1, incoming=True, connection_id=99)
    outgoing = entry(2, incoming=False, connection_id=1)
    kept = elect(A, B, [outgoing, incoming])
    assert kept == [incoming]
    assert kept[0].is_server is True


def test_the_direction_rule_applies_before_the_connection_id_rule() -> None:
    # The kept direction holds only a legacy id; the other direction's non-zero id loses anyway.
    incoming = entry(1, incoming=True, connection_id=0)
    outgoing = entry(2, incoming=False, connection_id=3)
    assert elect(A, B, [incoming, outgoing]) == [incoming]


def test_names_compare_as_utf8_bytes() -> None:
    # "Z" (0x5a) < "a" (0x61) < "é" (0xc3 0xa9): byte order, which is also code point order.
    incoming = entry(1, incoming=True, connection_id=5)
    outgoing = entry(2, incoming=False, connection_id=6)
    assert elect("a@h", "Z@h", [incoming, outgoing]) == [outgoing]
    assert elect("a@h", "é@h", [incoming, outgoing]) == [incoming]


def test_equal_names_keep_both_directions_for_the_next_rules() -> None:
    incoming = entry(1, incoming=True)
    outgoing = entry(2, incoming=False)
    assert elect(A, A, [incoming, outgoing]) == [incoming, outgoing]
    low = entry(3, incoming=False, connection_id=2)
    high = entry(4, incoming=True, connection_id=8)
    assert elect(A, A, [high, low]) == [low]


def test_a_single_direction_is_left_to_the_next_rules() -> None:
    first = entry(1, incoming=True)
    second = entry(2, incoming=True)
    assert elect(B, A, [first, second]) == [first]  # incoming only: no direction filtering


# ---------------------------------------------------------------------- connection ids


def test_the_smallest_non_zero_connection_id_wins() -> None:
    big = entry(1, incoming=False, connection_id=50)
    small = entry(2, incoming=False, connection_id=3)
    mid = entry(3, incoming=False, connection_id=7)
    assert elect(A, B, [big, small, mid]) == [small]


def test_legacy_zero_ids_are_dropped_when_a_non_zero_id_exists() -> None:
    legacy = entry(1, incoming=True, connection_id=0)
    fresh = entry(2, incoming=True, connection_id=2**64 - 1)
    assert elect(A, B, [legacy, fresh]) == [fresh]
    legacy_out = entry(3, incoming=False, connection_id=0)
    fresh_out = entry(4, incoming=False, connection_id=12)
    assert elect(B, A, [legacy_out, fresh_out]) == [fresh_out]


# -------------------------------------------------------------------------------- ties


def test_several_incoming_ties_keep_the_lowest_pid() -> None:
    legacy = [entry(pid, incoming=True) for pid in (30, 10, 20)]
    assert ids(elect(A, B, legacy)) == [10]
    same_id = [entry(pid, incoming=True, connection_id=4) for pid in (8, 6, 7)]
    assert ids(elect(A, B, same_id)) == [6]


def test_outgoing_ties_all_stay() -> None:
    legacy = [entry(pid, incoming=False) for pid in (3, 1, 2)]
    assert elect(B, A, legacy) == legacy
    same_id = [entry(pid, incoming=False, connection_id=4) for pid in (3, 1)]
    assert elect(B, A, same_id) == same_id


def test_mixed_direction_ties_all_stay() -> None:
    tie = [entry(2, incoming=True, connection_id=4), entry(1, incoming=False, connection_id=4)]
    assert elect(A, A, tie) == tie


# ------------------------------------------------------------------------- convergence

pids = st.integers(0, 2**64 - 1)
conn_ids = st.integers(0, 2**64 - 1)


@given(conn_ids, conn_ids, pids, pids, pids, pids)
@example(0, 0, 1, 2, 3, 4)
@example(1, 2, 1, 2, 3, 4)
@example(2, 1, 1, 2, 3, 4)
@example(5, 5, 1, 2, 3, 4)
def test_both_ends_keep_the_connection_initiated_by_the_higher_name(
    x: int, y: int, a_out_pid: int, a_in_pid: int, b_in_pid: int, b_out_pid: int
) -> None:
    # Connection X: a@h dialed b@h (outgoing at A, incoming at B), nonce x.
    # Connection Y: b@h dialed a@h (outgoing at B, incoming at A), nonce y.
    a_x = entry(a_out_pid, incoming=False, connection_id=x)
    a_y = entry(a_in_pid, incoming=True, connection_id=y)
    b_x = entry(b_in_pid, incoming=True, connection_id=x)
    b_y = entry(b_out_pid, incoming=False, connection_id=y)
    assert elect(A, B, [a_x, a_y]) == [a_y]
    assert elect(B, A, [b_x, b_y]) == [b_y]
    assert elect(A, B, [a_y, a_x]) == [a_y]  # whatever the order
    assert elect(B, A, [b_y, b_x]) == [b_y]


@given(conn_ids, conn_ids, pids, pids, pids, pids)
def test_two_connections_in_one_direction_converge_on_the_smaller_id(
    x1: int, x2: int, a_pid1: int, a_pid2: int, b_pid1: int, b_pid2: int
) -> None:
    assume(x1 != x2 and (x1 or x2))
    a_kept = elect(
        A,
        B,
        [
            entry(a_pid1, incoming=False, connection_id=x1),
            entry(a_pid2, incoming=False, connection_id=x2),
        ],
    )
    b_kept = elect(
        B,
        A,
        [
            entry(b_pid1, incoming=True, connection_id=x1),
            entry(b_pid2, incoming=True, connection_id=x2),
        ],
    )
    winner = min(i for i in (x1, x2) if i)
    assert [e.connection_id for e in a_kept] == [winner]
    assert [e.connection_id for e in b_kept] == [winner]
