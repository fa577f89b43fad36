"""Memory attention runs from onnxruntime's arena, shrunk after each run (runtime.ARENA_GRAPHS):
the same values as without the arena, whatever shapes the runs before it had."""

import numpy as np
import pytest

from sam2.onnx.runtime import ARENA_GRAPHS, OnnxModel

pytest.importorskip("onnxruntime")


def _inputs(rng, model: OnnxModel, objects: int, frames: int, pointers: int) -> dict:
    s = model.settings
    h = model.image_size // 16
    c, m = int(s["hidden_dim"]), int(s["mem_dim"])
    return {
        "vision_features": rng.standard_normal((objects, c, h, h), dtype=np.float32),
        "memory": rng.standard_normal((objects, frames, m, h, h), dtype=np.float32),
        "memory_slots": np.arange(frames, dtype=np.int64),
        "obj_ptrs": rng.standard_normal((objects, pointers, c), dtype=np.float32),
        "obj_ptr_pos": np.linspace(0, 1, pointers, dtype=np.float32),
    }


def test_memory_attention_from_the_shrunk_arena_equals_no_arena(micro_export, monkeypatch):
    assert "memory_attention" in ARENA_GRAPHS
    shrunk = OnnxModel(str(micro_export), threads=1)
    monkeypatch.setattr("sam2.onnx.runtime.ARENA_GRAPHS", ())
    plain = OnnxModel(str(micro_export), threads=1, verify_hashes=False)  # no arena anywhere
    rng = np.random.default_rng(0)
    for objects, frames, pointers in [(2, 3, 4), (1, 1, 0), (2, 3, 4), (1, 2, 2)]:
        inputs = _inputs(rng, shrunk, objects, frames, pointers)
        (got,) = shrunk.run("memory_attention", **inputs)
        (want,) = plain.run("memory_attention", **inputs)
        assert got.shape == (objects, *inputs["vision_features"].shape[1:])
        np.testing.assert_array_equal(got, want)
