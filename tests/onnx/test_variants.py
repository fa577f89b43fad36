"""The int8 variant of an export: which MatMuls it quantises, and that it tracks like fp32."""

from pathlib import Path

import numpy as np
import pytest

from sam2.onnx.manifest import read_manifest
from sam2.onnx.variants import make_variant
from sam2.onnx.video_predictor import build_sam2_video_predictor_onnx

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
FRAMES = Path(__file__).resolve().parents[2].parent / "shared" / "golden" / "micro" / "frames"


@pytest.fixture(scope="module")
def int8_export(micro_export, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("onnx_micro_int8")
    make_variant(str(micro_export), str(out), "int8")
    return out


def _producers(graph) -> dict:
    return {output: node for node in graph.node for output in node.output}


def test_int8_quantises_weights_and_attention_scores_but_not_the_weighted_sums(micro_export, int8_export):
    assert read_manifest(str(int8_export)).precision == "int8"
    fp32 = onnx.load(str(micro_export / "memory_attention.onnx"), load_external_data=False).graph
    producers = _producers(fp32)
    weighted_sums = [
        n.name for n in fp32.node if n.op_type == "MatMul" and producers[n.input[0]].op_type == "Softmax"
    ]
    assert weighted_sums

    graph = onnx.load(str(int8_export / "memory_attention.onnx"), load_external_data=False).graph
    kept = {n.name for n in graph.node if n.op_type == "MatMul"}
    assert set(weighted_sums) <= kept  # probabilities times values: float32
    initializers = {t.name for t in graph.initializer}
    integer = [n for n in graph.node if n.op_type == "MatMulInteger"]
    with_weights = [n for n in integer if n.input[1] in initializers]
    assert with_weights and len(integer) > len(with_weights)  # both operands dynamic: the scores


def test_int8_tracks_the_golden_frames_like_fp32(micro_export, int8_export):
    if not FRAMES.is_dir():
        pytest.skip("golden fixtures (../shared/golden) are absent")
    masks = []
    for folder in (micro_export, int8_export):
        predictor = build_sam2_video_predictor_onnx(str(folder), threads=1)
        state = predictor.init_state(str(FRAMES))
        w, h = state["video_width"], state["video_height"]
        predictor.add_new_points_or_box(state, 0, 1, points=[[w // 2, h // 2]], labels=[1])
        predictor.add_new_points_or_box(state, 0, 2, box=[4, 4, w // 3, h // 3])
        masks.append(np.stack([m > 0 for _, _, m in predictor.propagate_in_video(state)]))
    fp32, int8 = masks
    assert fp32.any() and fp32.shape == int8.shape
    assert (fp32 == int8).mean() >= 0.98
