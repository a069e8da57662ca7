"""Golden vectors: our codecs agree byte for byte with the Rust ractor crate's output."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ractor_derive import VariantInfo, from_bytes, to_bytes

from ..interop.cargo import rust_binary
from .samples import RUST_TYPES, SAMPLES, Sample, python_value

VECTORS = Path(__file__).resolve().parent / "vectors" / "rust_codec_vectors.jsonl"
LINES = [json.loads(line) for line in VECTORS.read_text().splitlines() if line.strip()]
VALUES = [v for v in LINES if v["kind"] == "value"]
MESSAGES = [v for v in LINES if v["kind"] == "message"]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def test_the_vector_file_covers_every_built_in_type_and_message_shape() -> None:
    assert {v["type"] for v in VALUES} == set(RUST_TYPES)
    assert {m["name"] for m in MESSAGES} == set(SAMPLES)


@pytest.mark.parametrize("vector", VALUES, ids=[f"{v['type']}={v['value']}" for v in VALUES])
def test_value_encodes_and_decodes_as_in_rust(vector: dict[str, Any]) -> None:
    tp = RUST_TYPES[vector["type"]]
    value = python_value(vector["type"], vector["value"])
    expected = bytes.fromhex(vector["hex"])
    assert to_bytes(value, tp) == expected
    assert _same(from_bytes(expected, tp), value)


@pytest.mark.parametrize("vector", MESSAGES, ids=[m["name"] for m in MESSAGES])
def test_message_packs_its_arguments_as_the_rust_derive(vector: dict[str, Any]) -> None:
    sample = SAMPLES[vector["name"]]
    info = type(sample).__ractor_variant__
    assert isinstance(info, VariantInfo) and info.encode_args is not None
    assert info.tag == vector["variant"]
    assert info.is_call == vector["call"]
    args = bytes.fromhex(vector["args"])
    assert info.encode_args(sample) == args
    assert info.decode_args is not None
    decoded = info.decode_args(args)
    assert type(decoded) is type(sample)
    assert decoded == sample
    assert isinstance(decoded, Sample)


@pytest.mark.timeout(1600)
def test_the_vector_file_matches_a_fresh_run_of_the_rust_crate() -> None:
    binary = rust_binary("vectors")
    result = subprocess.run([str(binary)], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout == VECTORS.read_text()
