"""The generated protobuf modules produce the byte examples of PROTOCOL.md section 2.6."""

from __future__ import annotations

import hashlib
import struct
import subprocess
import sys
from pathlib import Path

from ractor_cluster.protocol import auth_pb2, control_pb2, meta_pb2, node_pb2

ROOT = Path(__file__).resolve().parents[2]


def frame(msg: meta_pb2.NetworkMessage) -> str:
    body = msg.SerializeToString()
    return (struct.pack(">Q", len(body)) + body).hex(" ")


def test_name_message_frame() -> None:
    msg = meta_pb2.NetworkMessage(
        auth=auth_pb2.AuthenticationMessage(
            name=auth_pb2.NameMessage(
                name="a@host",
                flags=auth_pb2.NodeFlags(version=1),
                connection_string="host:4000",
                connection_id=0x0123456789ABCDEF,
            )
        )
    )
    assert frame(msg) == (
        "00 00 00 00 00 00 00 25 0a 23 0a 21 0a 06 61 40 68 6f 73 74 12 02 08 01 1a 09 68 6f 73"
        " 74 3a 34 30 30 30 20 ef 9b af cd f8 ac d1 91 01"
    )


def test_server_status_frames() -> None:
    ok = meta_pb2.NetworkMessage(
        auth=auth_pb2.AuthenticationMessage(server_status=auth_pb2.ServerStatus())
    )
    assert frame(ok) == "00 00 00 00 00 00 00 04 0a 02 12 00"
    not_ok = meta_pb2.NetworkMessage(
        auth=auth_pb2.AuthenticationMessage(
            server_status=auth_pb2.ServerStatus(status=auth_pb2.ServerStatus.NOT_OK)
        )
    )
    assert frame(not_ok) == "00 00 00 00 00 00 00 06 0a 04 12 02 08 02"


def test_challenge_reply_frame_with_the_digest_vector() -> None:
    digest = hashlib.sha256(struct.pack(">I", 42) + b"cookie").digest()
    assert digest.hex() == "143e00d9d3b31d9d24452f85ac04448953081a02ed02272e592c5b13cd422ef7"
    msg = meta_pb2.NetworkMessage(
        auth=auth_pb2.AuthenticationMessage(
            client_challenge=auth_pb2.ChallengeReply(challenge=7, digest=digest)
        )
    )
    assert frame(msg) == (
        "00 00 00 00 00 00 00 28 0a 26 2a 24 08 07 12 20 14 3e 00 d9 d3 b3 1d 9d 24 45 2f 85 ac"
        " 04 44 89 53 08 1a 02 ed 02 27 2e 59 2c 5b 13 cd 42 2e f7"
    )


def test_ready_and_ping_frames() -> None:
    ready = meta_pb2.NetworkMessage(
        control=control_pb2.ControlMessage(ready=control_pb2.Ready())
    )
    assert frame(ready) == "00 00 00 00 00 00 00 04 1a 02 4a 00"
    ping = meta_pb2.NetworkMessage(control=control_pb2.ControlMessage(ping=control_pb2.Ping()))
    ping.control.ping.timestamp.seconds = 3
    ping.control.ping.timestamp.nanos = 500_000_000
    assert frame(ping) == "00 00 00 00 00 00 00 0e 1a 0c 1a 0a 0a 08 08 03 10 80 ca b5 ee 01"


def test_cast_call_and_reply_frames() -> None:
    cast = meta_pb2.NetworkMessage(
        node=node_pb2.NodeMessage(
            cast=node_pb2.Cast(to=7, variant="Hey", what=struct.pack(">Q", 5) + b"hello")
        )
    )
    assert frame(cast) == (
        "00 00 00 00 00 00 00 1a 12 18 0a 16 08 07 12 0d 00 00 00 00 00 00 00 05 68 65 6c 6c 6f"
        " 1a 03 48 65 79"
    )
    call = meta_pb2.NetworkMessage(
        node=node_pb2.NodeMessage(
            call=node_pb2.Call(to=7, tag=1, timeout_ms=500, variant="IsDone", what=b"")
        )
    )
    assert frame(call) == (
        "00 00 00 00 00 00 00 13 12 11 12 0f 08 07 18 01 20 f4 03 2a 06 49 73 44 6f 6e 65"
    )
    reply = meta_pb2.NetworkMessage(
        node=node_pb2.NodeMessage(reply=node_pb2.CallReply(to=7, tag=1, what=b"\x01"))
    )
    assert frame(reply) == "00 00 00 00 00 00 00 0b 12 09 1a 07 08 07 10 01 1a 01 01"


def test_optional_fields_are_sent_even_when_zero() -> None:
    call = node_pb2.Call(to=1, timeout_ms=0)
    assert call.HasField("timeout_ms")
    assert call.SerializeToString().hex() == "08012000"
    actor = control_pb2.Actor(pid=0)
    assert not actor.HasField("name")
    assert control_pb2.Actor(pid=0, name="").SerializeToString() == b"\x12\x00"


def test_the_generated_modules_and_stubs_are_fresh() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/gen_protos.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
