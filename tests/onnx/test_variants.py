"""The int8 variant of an export: which MatMuls it quantises, and that it tracks like fp32."""

from pathlib import Path

import numpy as np
import pytest

from sam2.onnx.manifest import read_manifest
from sam2.onnx.variants import SIGNED_KEY_GRAPHS, _signed_keys, make_variant
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


def _right_operand_types(graph) -> list:
    """For each MatMulInteger with a dynamic right operand: the op that quantised it."""
    producers = _producers(graph)
    initializers = {t.name for t in graph.initializer}
    return [
        producers[n.input[1]].op_type
        for n in graph.node
        if n.op_type == "MatMulInteger" and n.input[1] not in initializers
    ]


def test_int8_keys_are_signed_where_attention_is_the_cost(int8_export):
    for name in ("image_encoder", "memory_attention", "decoder"):
        graph = onnx.load(str(int8_export / f"{name}.onnx"), load_external_data=False).graph
        quantised_by = _right_operand_types(graph)
        assert quantised_by, name
        if name in SIGNED_KEY_GRAPHS:  # symmetric int8: u8 x s8 products
            assert set(quantised_by) == {"QuantizeLinear"}, name
        else:  # the quantiser's uint8
            assert set(quantised_by) == {"DynamicQuantizeLinear"}, name


def _scores_graph(m: int, k: int, n: int):
    """queries (m, k) x keys (k, n), quantised by onnxruntime's quantiser, then keys signed."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("MatMul", ["q", "k"], ["s"], name="scores")],
        "scores",
        [helper.make_tensor_value_info("q", TensorProto.FLOAT, [m, k]),
         helper.make_tensor_value_info("k", TensorProto.FLOAT, [k, n])],
        [helper.make_tensor_value_info("s", TensorProto.FLOAT, [m, n])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])


def test_signed_keys_compute_the_product(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from onnxruntime.quantization import quantize_dynamic

    onnx.save(_scores_graph(64, 32, 48), tmp_path / "fp32.onnx")
    quantize_dynamic(tmp_path / "fp32.onnx", tmp_path / "int8.onnx", extra_options={"MatMulConstBOnly": False})
    model = onnx.load(tmp_path / "int8.onnx")
    assert _signed_keys(model) == 1
    onnx.checker.check_model(model, full_check=True)
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    q = rng.standard_normal((64, 32), dtype=np.float32)
    k = rng.standard_normal((32, 48), dtype=np.float32)
    (scores,) = session.run(None, {"q": q, "k": k})
    exact = q @ k
    assert np.abs(scores - exact).max() <= 0.03 * np.abs(exact).max()
    # All-zero keys: scale clamped above zero, scores zero (not NaN).
    (scores,) = session.run(None, {"q": q, "k": np.zeros_like(k)})
    assert np.isfinite(scores).all() and not scores.any()


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
