"""Framing without sockets: FrameReader splits and limits (docs/protocol.md §1)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ractor_cluster._errors import FrameError
from ractor_cluster._framing import (
    DEFAULT_MAX_INBOUND_FRAME_SIZE,
    FrameReader,
    encode_frame,
)


def prefix(length: int) -> bytes:
    return struct.pack(">Q", length)


# ------------------------------------------------------------------------------- encoding


def test_a_frame_is_the_big_endian_u64_length_then_the_payload() -> None:
    assert encode_frame(b"abc") == b"\x00\x00\x00\x00\x00\x00\x00\x03abc"
    assert encode_frame(b"") == bytes(8)
    assert encode_frame(b"x" * 300)[:8] == bytes.fromhex("000000000000012c")


def test_the_default_inbound_limit_is_16_mib() -> None:
    assert DEFAULT_MAX_INBOUND_FRAME_SIZE == 16 * 1024 * 1024
    assert FrameReader().max_size == 16 * 1024 * 1024


# --------------------------------------------------------------------------------- reader


def test_several_frames_in_one_feed_come_back_in_order() -> None:
    reader = FrameReader()
    data = encode_frame(b"one") + encode_frame(b"two") + encode_frame(b"three")
    assert reader.feed(data) == [b"one", b"two", b"three"]
    assert reader.buffered == 0


def test_a_frame_fed_byte_by_byte_is_reassembled() -> None:
    reader = FrameReader()
    data = encode_frame(b"hello world")
    out: list[bytes] = []
    for i, byte in enumerate(data):
        got = reader.feed(bytes([byte]))
        if i < len(data) - 1:
            assert got == []
            assert reader.buffered == i + 1
        out += got
    assert out == [b"hello world"]
    assert reader.buffered == 0


def test_a_partial_trailing_frame_waits_for_the_rest() -> None:
    reader = FrameReader()
    second = encode_frame(b"second")
    assert reader.feed(encode_frame(b"first") + second[:10]) == [b"first"]
    assert reader.buffered == 10
    assert reader.feed(second[10:]) == [b"second"]


def test_an_empty_feed_returns_nothing() -> None:
    reader = FrameReader()
    assert reader.feed(b"") == []
    reader.feed(b"\x00\x00")
    assert reader.feed(b"") == []
    assert reader.buffered == 2


def test_a_frame_exactly_at_the_limit_is_accepted() -> None:
    reader = FrameReader(max_size=10)
    assert reader.feed(prefix(10)) == []
    assert reader.feed(b"0123456789") == [b"0123456789"]


def test_a_frame_one_over_the_limit_is_rejected_on_its_prefix_alone() -> None:
    reader = FrameReader(max_size=10)
    with pytest.raises(FrameError, match="11 bytes"):
        reader.feed(prefix(11))
    assert reader.buffered == 0


def test_the_limit_is_checked_once_the_prefix_is_complete_even_when_split() -> None:
    reader = FrameReader(max_size=10)
    data = prefix(11)
    assert reader.feed(data[:7]) == []
    with pytest.raises(FrameError):
        reader.feed(data[7:])


def test_a_huge_length_prefix_is_rejected_under_the_default_limit() -> None:
    reader = FrameReader()
    with pytest.raises(FrameError):
        reader.feed(b"\xff" * 8)
    with pytest.raises(FrameError):
        FrameReader().feed(prefix(DEFAULT_MAX_INBOUND_FRAME_SIZE + 1))
    assert FrameReader().feed(prefix(DEFAULT_MAX_INBOUND_FRAME_SIZE)) == []


def test_zero_length_frames_come_back_as_empty_payloads() -> None:
    reader = FrameReader()
    data = encode_frame(b"") + encode_frame(b"x") + encode_frame(b"") + encode_frame(b"")
    assert reader.feed(data) == [b"", b"x", b"", b""]


def test_a_zero_limit_accepts_only_empty_frames() -> None:
    reader = FrameReader(max_size=0)
    assert reader.feed(encode_frame(b"")) == [b""]
    with pytest.raises(FrameError):
        reader.feed(prefix(1))


def test_a_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        FrameReader(max_size=-1)


def test_frames_completed_before_an_over_limit_prefix_in_the_same_chunk_are_delivered() -> None:
    reader = FrameReader(max_size=10)
    frames = reader.feed(encode_frame(b"valid") + prefix(11))
    assert frames == [b"valid"]
    with pytest.raises(FrameError):
        reader.feed(b"")


@st.composite
def payloads_and_cuts(draw: st.DrawFn) -> tuple[list[bytes], list[int]]:
    payloads = draw(st.lists(st.binary(max_size=300), max_size=12))
    total = sum(8 + len(p) for p in payloads)
    cuts = draw(st.lists(st.integers(0, total), max_size=20)) if total else []
    return payloads, sorted(set(cuts))


@given(payloads_and_cuts())
def test_any_payloads_fed_in_any_chunking_come_back_identical(
    case: tuple[list[bytes], list[int]],
) -> None:
    payloads, cuts = case
    data = b"".join(encode_frame(p) for p in payloads)
    reader = FrameReader(max_size=300)
    out: list[bytes] = []
    start = 0
    for cut in [*cuts, len(data)]:
        out += reader.feed(data[start:cut])
        start = cut
    assert out == payloads
    assert reader.buffered == 0
