"""Reduced-precision variants of an fp32 export folder.

* ``int8``: dynamic quantisation with onnxruntime's quantiser (activations quantised per call):
  the linear layers' MatMul/Gemm weights to int8, and attention's score MatMuls; for CPUs;
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


def _int8(src: str, dst: str) -> None:
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
    convert = {"int8": _int8, "fp16": _fp16}.get(precision)
    graphs = {}
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        for name, info in manifest.graphs.items():
            src = os.path.join(src_dir, info.file)
            staged = os.path.join(tmp, info.file)
            # The mask-prompt graph is a resize and a 4x4 convolution: nothing to reduce.
            if convert is None or name == "mask_prompt":
                shutil.copyfile(src, staged)
            else:
                convert(src, staged)
            final = os.path.join(out_dir, info.file)
            os.replace(staged, final)
            graphs[name] = GraphInfo.of_file(final, info.inputs, info.outputs)
    write_manifest(dataclasses.replace(manifest, graphs=graphs, precision=precision), out_dir)
