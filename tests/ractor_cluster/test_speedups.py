"""The C accelerator (ractor_cluster/_speedups.c) does what the Python code does, byte for byte.

The Python functions are the reference: the same frames go through both, whole, cut into
pieces, mutated and truncated, and the results (frames written, tuples read, payloads kept,
errors) must be the same. Without a compiled accelerator these tests skip, saying so; the
rest of the suite then runs the Python code alone.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ractor_cluster import _accel, _framing, _wire
from ractor_cluster._errors import FrameError
from ractor_cluster._framing import FrameReader

from .harness import NodeProcess, sees

pytestmark = pytest.mark.skipif(
    not _accel.active,
    reason="the C accelerator is not built here (no C compiler at install time, or "
    "RACTOR_PURE_PYTHON=1): only the Python code runs",
)

u64 = st.integers(0, 2**64 - 1)
ints = u64 | st.integers(-(2**70), 2**70)  # out of range too: the Python encoders' errors
payload = st.binary(max_size=300) | st.binary(min_size=16_380, max_size=16_400)
variants = st.text(max_size=40) | st.sampled_from(["\ud800", "x" * 127, "y" * 128, "Add"])
optional_bytes = st.none() | st.just(b"") | payload


def outcome(fn: Callable[..., Any], *args: Any) -> Any:
    """The result, or the type and text of the error."""
    try:
        return fn(*args)
    except Exception as exc:
        return (type(exc), str(exc))


def same(c: Callable[..., Any], py: Callable[..., Any], *args: Any) -> None:
    assert outcome(c, *args) == outcome(py, *args)


# ------------------------------------------------------------------------------- encoding


def test_the_encoders_in_use_are_the_compiled_ones() -> None:
    assert _wire.cast_frame is _accel.cast_frame
    assert _wire.call_frame is _accel.call_frame
    assert _wire.reply_frame is _accel.reply_frame
    assert _framing._split_c is _accel.split


@given(ints, payload, variants, optional_bytes)
@example(0, b"", "", None)
@example(0, b"", "", b"")
@example(2**64 - 1, b"x" * 200, "Ünïcode ✓", b"m" * 130)
@example(2**64, b"", "", None)
@example(-1, b"", "", None)
def test_cast_frames_are_the_same(to: int, what: bytes, variant: str,
                                  metadata: bytes | None) -> None:
    same(_wire.cast_frame, _wire.py_cast_frame, to, what, variant, metadata)
    if metadata is None:
        same(_wire.cast_frame, _wire.py_cast_frame, to, what, variant)


@given(ints, payload, ints, st.none() | ints, variants, optional_bytes)
@example(0, b"", 0, None, "", None)
@example(5, b"a", 300, 5000, "Echo", None)
@example(5, b"a", 2**64 - 1, 2**64 - 1, "Echo", b"")
def test_call_frames_are_the_same(to: int, what: bytes, tag: int, timeout_ms: int | None,
                                  variant: str, metadata: bytes | None) -> None:
    same(_wire.call_frame, _wire.py_call_frame, to, what, tag, timeout_ms, variant, metadata)


@given(ints, ints, payload)
@example(0, 0, b"")
@example(1, 128, b"r" * 127)
def test_reply_frames_are_the_same(to: int, tag: int, what: bytes) -> None:
    same(_wire.reply_frame, _wire.py_reply_frame, to, tag, what)


def test_arguments_of_other_types_go_to_the_python_encoders() -> None:
    # a bytearray or memoryview argument, a bool, an int subclass: written by Python
    assert _wire.cast_frame(1, bytearray(b"ab"), "V") == _wire.py_cast_frame(1, b"ab", "V")
    assert _wire.cast_frame(True, b"ab", "V") == _wire.py_cast_frame(True, b"ab", "V")
    assert _wire.reply_frame(1, 2, memoryview(b"xy")) == _wire.py_reply_frame(1, 2, b"xy")
    with pytest.raises(TypeError):
        _wire.cast_frame(1, b"", "V", None, "extra")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="u64"):
        _wire.cast_frame(-1, b"", "V")


# ------------------------------------------------------------------------------- decoding


def node_frames() -> st.SearchStrategy[bytes]:
    """Payloads of canonical node messages (as the encoders write them)."""
    cast = st.builds(lambda *a: _wire.py_cast_frame(*a)[8:], u64, payload, variants.filter(
        lambda v: "\ud800" not in v), optional_bytes)
    call = st.builds(lambda *a: _wire.py_call_frame(*a)[8:], u64, payload, u64,
                     st.none() | u64, variants.filter(lambda v: "\ud800" not in v),
                     optional_bytes)
    reply = st.builds(lambda *a: _wire.py_reply_frame(*a)[8:], u64, u64, payload)
    return cast | call | reply


def mutated(data: st.DataObject, frame: bytes) -> bytes:
    """``frame`` with a few bytes changed, cut short, or extended."""
    how = data.draw(st.sampled_from(["keep", "flip", "cut", "extend"]))
    if how == "flip" and frame:
        at = data.draw(st.integers(0, len(frame) - 1))
        return frame[:at] + bytes([data.draw(st.integers(0, 255))]) + frame[at + 1:]
    if how == "cut":
        return frame[: data.draw(st.integers(0, len(frame)))]
    if how == "extend":
        return frame + data.draw(st.binary(min_size=1, max_size=4))
    return frame


@given(st.data(), node_frames() | st.binary(max_size=40))
@example(None, b"\x12\x05\x0a\x03\x1a\x01\xff")  # a variant that is not UTF-8
@example(None, b"\x12\x0d\x0a\x0b\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02")  # 2**64
@example(None, b"\x12\x0d\x0a\x0b\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01")  # 2**64-1
@example(None, b"\x12\x02\x1a\x00")  # an empty reply
@example(None, b"\x12\x00")  # an empty node message
@example(None, b"\x12\x80\x00")  # a non-minimal length
def test_each_payload_is_read_the_same(data: Any, frame: bytes) -> None:
    if data is not None:
        frame = mutated(data, frame)
    framed = struct.pack(">Q", len(frame)) + frame
    assert _accel.split is not None
    items, pos, over = _accel.split(framed, 0, 2**24, True)
    assert (pos, over) == (len(framed), None)
    assert items == [_wire.decode_payload(frame)]
    assert type(items[0]) is type(_wire.decode_payload(frame))
    # without decoding, the payload itself
    assert _accel.split(framed, 0, 2**24, False) == ([frame], len(framed), None)


def feed_all(reader: FrameReader, chunks: list[bytes], decode: bool) -> list[Any]:
    """What the reader returns for each chunk, then its error (if any)."""
    seen: list[Any] = []
    for chunk in chunks:
        try:
            seen.append(reader.feed_frames(chunk, decode))
        except FrameError as exc:
            seen.append(("error", str(exc)))
            break
    seen.append(reader.buffered)
    return seen


@given(st.data(), st.lists(node_frames() | st.binary(max_size=50), max_size=12),
       st.integers(0, 400), st.booleans())
def test_a_stream_is_split_the_same_in_any_pieces(
    data: st.DataObject, frames: list[bytes], limit: int, decode: bool
) -> None:
    stream = b"".join(struct.pack(">Q", len(f)) + f for f in frames)
    if data.draw(st.booleans()):
        stream += data.draw(st.binary(max_size=12))  # an incomplete or odd tail
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=6)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    compiled = feed_all(FrameReader(limit), chunks, decode)
    saved = _framing._split_c
    _framing._split_c = None
    try:
        python = feed_all(FrameReader(limit), chunks, decode)
    finally:
        _framing._split_c = saved
    assert compiled == python


def test_a_length_over_the_limit_is_reported_exactly() -> None:
    assert _accel.split is not None
    huge = struct.pack(">Q", 2**64 - 1)
    assert _accel.split(huge, 0, 100, True) == ([], -1, 2**64 - 1)
    one = struct.pack(">Q", 1) + b"x"
    assert _accel.split(one + huge + one, 0, 100, True) == ([b"x"], -1, 2**64 - 1)
    with pytest.raises(ValueError):
        _accel.split(one, 20, 100, True)


def test_the_node_runs_without_the_accelerator() -> None:
    # RACTOR_PURE_PYTHON=1 turns it off: the Python functions are in use
    code = ("from ractor_cluster import _accel, _wire, _framing; "
            "assert not _accel.active and _framing._split_c is None; "
            "assert _wire.cast_frame is _wire.py_cast_frame; print('pure')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={"RACTOR_PURE_PYTHON": "1", "PATH": ""}, timeout=60, check=True)
    assert out.stdout.strip() == "pure"


# ------------------------------------------------------------------- two real processes


@pytest.mark.timeout(120)
def test_a_pure_python_node_and_a_compiled_one_share_casts_and_calls(
    nodes: Callable[..., NodeProcess],
) -> None:
    a = nodes("a")  # the accelerator, and the node's GC tuning
    b = nodes("b", env={"RACTOR_PURE_PYTHON": "1"}, extra=["--gc-threshold", "0"])
    a.rpc("connect", address=b.address)
    sees(a, "counter-b")
    sees(b, "counter-a")
    for i in range(1, 301):  # both ways, interleaved
        if i % 2:
            a.rpc("cast", to="counter-b", msg="add", n=i)
        else:
            b.rpc("cast", to="counter-a", msg="add", n=i)
    assert a.rpc("call", to="counter-b", msg="get", timeout=5) == sum(range(1, 301, 2))
    assert b.rpc("call", to="counter-a", msg="get", timeout=5) == sum(range(2, 301, 2))
    for _ in range(200):
        assert b.rpc("call", to="counter-a", msg="echo", text="∑ ü", timeout=5) == "∑ ü"
    assert a.rpc("call", to="counter-b", msg="echo", text="x" * 20_000, timeout=5) == (
        "x" * 20_000
    )


def test_a_build_older_than_its_source_is_not_used(tmp_path: Path) -> None:
    # a copy of the package whose _speedups.c changed after the build: pure Python, with a
    # warning saying how to build again
    package = Path(_accel.__file__).parent
    copy = tmp_path / "ractor_cluster"
    shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", ".build-*"))
    with (copy / "_speedups.c").open("a") as source:
        source.write("/* changed */\n")
    code = ("import warnings; warnings.simplefilter('always')\n"
            "from ractor_cluster import _accel, _wire\n"
            "assert not _accel.active and _wire.cast_frame is _wire.py_cast_frame\n"
            "print('pure')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(tmp_path)}, cwd=tmp_path,
                         timeout=60)
    assert (out.returncode, out.stdout.strip()) == (0, "pure"), out.stderr
    assert "older than _speedups.c" in out.stderr


def test_keyword_arguments_are_taken_as_by_the_python_encoders() -> None:
    assert _wire.cast_frame(1, b"a", "V", metadata=b"m") == _wire.py_cast_frame(
        1, b"a", "V", metadata=b"m")
    assert _wire.call_frame(1, b"a", 2, None, "V", metadata=None) == _wire.py_call_frame(
        1, b"a", 2, None, "V")
    assert _wire.reply_frame(to=1, tag=2, what=b"w") == _wire.py_reply_frame(1, 2, b"w")


@pytest.mark.parametrize("encode", [
    lambda f: f["call"](0, b"", -1, None, ""),
    lambda f: f["reply"](0, -128, b""),
    lambda f: f["cast"](1.0, b"", "V"),
    lambda f: f["reply"](1.0, 1, b""),
])
def test_values_that_are_not_u64_are_refused_the_same_way(
    encode: Callable[[dict[str, Any]], bytes],
) -> None:
    # a negative tag once went out as a wrong byte, and 1.0 found the cached field of 1
    compiled = {"cast": _wire.cast_frame, "call": _wire.call_frame, "reply": _wire.reply_frame}
    python = {"cast": _wire.py_cast_frame, "call": _wire.py_call_frame,
              "reply": _wire.py_reply_frame}
    _wire.py_cast_frame(1, b"", "V")  # the field of 1 in the cache
    c, py = outcome(encode, compiled), outcome(encode, python)
    assert c == py
    assert isinstance(c, tuple) and c[0] in (ValueError, TypeError)


def test_any_frame_limit_is_taken_as_by_the_python_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    one = struct.pack(">Q", 1) + b"x"
    for split in (_framing._split_c, None):
        monkeypatch.setattr(_framing, "_split_c", split)
        assert FrameReader(2**64).feed(one) == [b"x"]
        assert FrameReader(2**80).feed(struct.pack(">Q", 2**64 - 1)) == []  # incomplete
        with pytest.raises(TypeError):
            FrameReader(16e6)  # type: ignore[arg-type]
