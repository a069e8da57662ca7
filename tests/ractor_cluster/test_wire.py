"""The hand-rolled Cast / Call / CallReply encoders write what the generated classes write."""

from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ractor_cluster._wire import encode_call, encode_cast, encode_reply, varint
from ractor_cluster.protocol import meta_pb2, node_pb2

u64 = st.integers(0, 2**64 - 1)
payload = st.binary(max_size=300)
variants = st.text(max_size=40)
optional_u64 = st.none() | st.just(0) | u64
optional_bytes = st.none() | st.just(b"") | payload


def network(**arm: object) -> meta_pb2.NetworkMessage:
    return meta_pb2.NetworkMessage(node=node_pb2.NodeMessage(**arm))  # type: ignore[arg-type]


@given(u64)
@example(0)
@example(127)
@example(128)
@example(2**64 - 1)
def test_varint_matches_protobuf_for_any_u64(value: int) -> None:
    # Cast{to} is field 1, varint: the generated encoding is 0x08 then the varint.
    expected = node_pb2.Cast(to=value).SerializeToString()
    assert (b"\x08" + varint(value) if value else b"") == expected


@given(u64, payload, variants, optional_bytes)
@example(0, b"", "", None)
@example(0, b"", "", b"")
@example(2**64 - 1, b"x" * 200, "Ünïcode ✓", b"m" * 130)
def test_encode_cast_matches_the_generated_classes(
    to: int, what: bytes, variant: str, metadata: bytes | None
) -> None:
    cast = node_pb2.Cast(to=to, what=what, variant=variant)
    if metadata is not None:
        cast.metadata = metadata
    expected = network(cast=cast).SerializeToString()
    encoded = encode_cast(to, what, variant, metadata)
    assert encoded == expected

    parsed = meta_pb2.NetworkMessage.FromString(encoded)
    assert parsed.WhichOneof("message") == "node"
    assert parsed.node.WhichOneof("msg") == "cast"
    got = parsed.node.cast
    assert (got.to, got.what, got.variant) == (to, what, variant)
    assert got.HasField("metadata") == (metadata is not None)
    if metadata is not None:
        assert got.metadata == metadata


def test_encode_cast_leaves_metadata_out_by_default() -> None:
    assert (
        encode_cast(7, b"w", "V")
        == network(cast=node_pb2.Cast(to=7, what=b"w", variant="V")).SerializeToString()
    )


@given(u64, payload, u64, optional_u64, variants, optional_bytes)
@example(0, b"", 0, None, "", None)
@example(0, b"", 0, 0, "", b"")
@example(7, b"", 1, 500, "IsDone", None)
@example(2**64 - 1, b"y" * 256, 2**64 - 1, 2**64 - 1, "v" * 130, b"z" * 300)
def test_encode_call_matches_the_generated_classes(
    to: int,
    what: bytes,
    tag: int,
    timeout_ms: int | None,
    variant: str,
    metadata: bytes | None,
) -> None:
    call = node_pb2.Call(to=to, what=what, tag=tag, variant=variant)
    if timeout_ms is not None:
        call.timeout_ms = timeout_ms
    if metadata is not None:
        call.metadata = metadata
    expected = network(call=call).SerializeToString()
    encoded = encode_call(to, what, tag, timeout_ms, variant, metadata)
    assert encoded == expected

    parsed = meta_pb2.NetworkMessage.FromString(encoded)
    assert parsed.WhichOneof("message") == "node"
    assert parsed.node.WhichOneof("msg") == "call"
    got = parsed.node.call
    assert (got.to, got.what, got.tag, got.variant) == (to, what, tag, variant)
    assert got.HasField("timeout_ms") == (timeout_ms is not None)
    if timeout_ms is not None:
        assert got.timeout_ms == timeout_ms
    assert got.HasField("metadata") == (metadata is not None)
    if metadata is not None:
        assert got.metadata == metadata


def test_encode_call_sends_a_zero_timeout_and_leaves_metadata_out_by_default() -> None:
    encoded = encode_call(1, b"", 0, 0, "")
    assert encoded == network(call=node_pb2.Call(to=1, timeout_ms=0)).SerializeToString()
    assert encoded.endswith(b"\x08\x01\x20\x00")


@given(u64, u64, payload)
@example(0, 0, b"")
@example(7, 1, b"\x01")
@example(2**64 - 1, 2**64 - 1, b"r" * 300)
def test_encode_reply_matches_the_generated_classes(to: int, tag: int, what: bytes) -> None:
    expected = network(reply=node_pb2.CallReply(to=to, tag=tag, what=what)).SerializeToString()
    encoded = encode_reply(to, tag, what)
    assert encoded == expected

    parsed = meta_pb2.NetworkMessage.FromString(encoded)
    assert parsed.WhichOneof("message") == "node"
    assert parsed.node.WhichOneof("msg") == "reply"
    got = parsed.node.reply
    assert (got.to, got.tag, got.what) == (to, tag, what)


def test_the_encoders_reproduce_the_protocol_examples() -> None:
    cast = encode_cast(7, bytes.fromhex("0000000000000005") + b"hello", "Hey")
    assert cast.hex(" ") == (
        "12 18 0a 16 08 07 12 0d 00 00 00 00 00 00 00 05 68 65 6c 6c 6f 1a 03 48 65 79"
    )
    call = encode_call(7, b"", 1, 500, "IsDone")
    assert call.hex(" ") == "12 11 12 0f 08 07 18 01 20 f4 03 2a 06 49 73 44 6f 6e 65"
    assert encode_reply(7, 1, b"\x01").hex(" ") == "12 09 1a 07 08 07 10 01 1a 01 01"


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_the_fast_decoder_never_disagrees_with_protobuf_on_random_bytes(data: bytes) -> None:
    from ractor_cluster._wire import decode_node

    fast = decode_node(data)
    if fast is None:
        return  # left to protobuf, which decides
    msg = meta_pb2.NetworkMessage.FromString(data)  # must parse: the fast path accepted it
    assert msg.WhichOneof("message") == "node"
    arm = msg.node.WhichOneof("msg")
    assert arm == fast[0]
    inner = getattr(msg.node, arm)
    assert inner.to == fast[1]
    assert inner.what == fast[2]


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=1, max_size=64), st.integers(0, 60))
def test_the_fast_decoder_never_disagrees_with_protobuf_on_mutated_frames(
    noise: bytes, where: int
) -> None:
    from ractor_cluster._wire import decode_node, encode_call

    good = encode_call(7, b"args", 3, 500, "Echo", b"m")
    data = good[:where] + noise + good[where + len(noise):]
    fast = decode_node(data)
    if fast is None:
        return
    msg = meta_pb2.NetworkMessage.FromString(data)
    arm = msg.node.WhichOneof("msg")
    assert arm == fast[0]
    inner = getattr(msg.node, arm)
    assert (inner.to, inner.what) == (fast[1], fast[2])
    if arm == "call":
        assert (inner.tag, inner.variant) == (fast[4], fast[3])
        assert (inner.timeout_ms if inner.HasField("timeout_ms") else None) == fast[5]
        assert (inner.metadata if inner.HasField("metadata") else None) == fast[6]
