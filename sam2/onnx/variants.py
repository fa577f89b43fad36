"""Reduced-precision variants of an fp32 export folder.

* ``int8``: dynamic quantisation with onnxruntime's quantiser (activations quantised per call):
  the linear layers' MatMul/Gemm weights to int8, and attention's score MatMuls, whose keys are
  then requantised to signed int8 (:func:`_signed_keys`); for CPUs;
* ``fp16``: weights and compute in float16, inputs and outputs kept float32 (the predictors feed
  float32): for GPU providers (CUDA, TensorRT, DirectML, CoreML); CPUs run it slowly if at all.

The variant folder gets its own manifest (``precision`` set, new file sizes and hashes); its
masks' agreement with fp32 is measured by ``tools/benchmark_video.py --runtime onnxruntime``.
"""

import dataclasses
import os
import shutil
import tempfile

from sam2.onnx.manifest import GraphInfo, read_manifest, write_manifest

PRECISIONS = ("fp32", "fp16", "int8")


# Graphs whose time is attention over many keys, where signed keys pay (:func:`_signed_keys`).
# Not the decoder: its attention is cheap, and with micro's golden weights its keys quantised
# symmetrically moved 3 % of the tracked pixels (96.2 % equal to fp32's, 99.6 % without).
SIGNED_KEY_GRAPHS = ("image_encoder", "memory_attention")


def _int8(src: str, dst: str, signed_keys: bool) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        src,
        dst,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Gemm"],
        nodes_to_exclude=_weighted_sums(onnx.load(src, load_external_data=False)),
        # Attention's scores (queries x keys, both activations) are quantised too: tiny's first
        # pass 3.5-3.6 -> 3.2-3.5 s a frame, masks 99.45 -> 99.39 % equal to fp32's.
        extra_options={"MatMulConstBOnly": False},
    )
    if signed_keys:
        model = onnx.load(dst)
        _signed_keys(model)
        onnx.save(model, dst)


# Constants of the signed requantisation (initialisers added once per graph).
_INT8_STEPS, _SMALLEST_SCALE, _INT8_ZERO = "sym_int8_steps", "sym_int8_smallest_scale", "sym_int8_zero"


def _signed_keys(model) -> int:
    """Quantise the right operand of activation-times-activation MatMuls (attention's keys)
    symmetrically to int8 instead of the quantiser's uint8; returns how many were changed.

    onnxruntime quantises every dynamic tensor to uint8 (``DynamicQuantizeLinear``), so the
    score MatMuls ran as uint8 x uint8, which MLAS computes without the CPU's u8 x s8 dot-product
    instructions. With the keys in int8 (scale max|x| / 127, zero point 0) the product is
    u8 x s8: tiny's memory attention 1.98 -> 1.45 s, its image encoder 1.46 -> 1.38 s a call.
    """
    from onnx import TensorProto, helper

    graph = model.graph
    consumers = {}
    for node in graph.node:
        for position, name in enumerate(node.input):
            consumers.setdefault(name, []).append((node.op_type, position))
    nodes, changed = [], 0
    for node in graph.node:
        uses = consumers.get(node.output[0], []) if node.op_type == "DynamicQuantizeLinear" else []
        if not uses or any(use != ("MatMulInteger", 1) for use in uses):
            nodes.append(node)
            continue
        x, (quantised, scale, zero_point) = node.input[0], node.output
        p = node.name
        nodes += [
            helper.make_node("Abs", [x], [p + "_abs"], name=p + "_abs"),
            helper.make_node("ReduceMax", [p + "_abs"], [p + "_absmax"], keepdims=0, name=p + "_absmax"),
            helper.make_node("Div", [p + "_absmax", _INT8_STEPS], [p + "_step"], name=p + "_step"),
            # An all-zero tensor would give scale 0 and divide by it.
            helper.make_node("Max", [p + "_step", _SMALLEST_SCALE], [scale], name=p + "_scale"),
            helper.make_node("QuantizeLinear", [x, scale, _INT8_ZERO], [quantised], name=p + "_int8"),
            helper.make_node("Identity", [_INT8_ZERO], [zero_point], name=p + "_zero_point"),
        ]
        changed += 1
    if changed:
        graph.initializer.extend([
            helper.make_tensor(_INT8_STEPS, TensorProto.FLOAT, [], [127.0]),
            helper.make_tensor(_SMALLEST_SCALE, TensorProto.FLOAT, [], [1e-30]),
            helper.make_tensor(_INT8_ZERO, TensorProto.INT8, [], [0]),
        ])
        del graph.node[:]
        graph.node.extend(nodes)
    return changed


def _weighted_sums(model) -> list:
    """The MatMuls that weigh values by softmax probabilities: they stay float32. Probabilities
    quantised to 8 bits per tensor lose the small weights (99.21 % of pixels) for 3 % of time."""
    producer = {output: node.op_type for node in model.graph.node for output in node.output}
    return [
        node.name
        for node in model.graph.node
        if node.op_type == "MatMul" and producer.get(node.input[0]) == "Softmax"
    ]


def _fp16(src: str, dst: str) -> None:
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(src), keep_io_types=True, disable_shape_infer=False)
    onnx.save(model, dst)


def make_variant(src_dir: str, out_dir: str, precision: str) -> None:
    """Write the ``precision`` variant of the fp32 export in ``src_dir`` to ``out_dir``."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    manifest = read_manifest(src_dir)
    if manifest.precision != "fp32":
        raise ValueError(f"{src_dir!r} is a {manifest.precision} export; variants are made from fp32 exports")
    os.makedirs(out_dir, exist_ok=True)
    graphs = {}
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        for name, info in manifest.graphs.items():
            src = os.path.join(src_dir, info.file)
            staged = os.path.join(tmp, info.file)
            # The mask-prompt graph is a resize and a 4x4 convolution: nothing to reduce.
            if precision == "fp32" or name == "mask_prompt":
                shutil.copyfile(src, staged)
            elif precision == "int8":
                _int8(src, staged, signed_keys=name in SIGNED_KEY_GRAPHS)
            else:
                _fp16(src, staged)
            final = os.path.join(out_dir, info.file)
            os.replace(staged, final)
            graphs[name] = GraphInfo.of_file(final, info.inputs, info.outputs)
    write_manifest(dataclasses.replace(manifest, graphs=graphs, precision=precision), out_dir)
