"""Export a SAM 2 model to the ONNX graphs the onnxruntime predictors run.

``export_onnx(config, checkpoint, out_dir)`` writes one ``.onnx`` file per graph of
:mod:`sam2.onnx.graphs` and a ``manifest.json`` (:mod:`sam2.onnx.manifest`) beside them.
The same input gives the same bytes: graphs are traced on fixed example inputs, weights are
stored in the files as they are, and the manifest is written with sorted keys.
"""

import os
import tempfile
import time
import warnings
from typing import Dict, Optional, Tuple

try:
    import torch
except ImportError:
    from sam2._torch_check import torch_missing

    raise torch_missing("The ONNX export (sam2.onnx.export)") from None

from sam2.onnx import graphs
from sam2.onnx.manifest import (
    GraphInfo,
    Manifest,
    file_sha256,
    model_settings,
    package_version,
    write_manifest,
)

# ONNX opset of the graphs: 20 has GELU as one operator (opset 18 spelled it as five
# element-wise passes, which onnxruntime did not fuse back: tiny's image encoder 2.25 -> 2.13 s)
# and Resize with antialiasing, which the mask prompt needs; onnxruntime runs it since 1.17.
OPSET = 20
# Files above 2 GB cannot hold their weights inside the protobuf.
EXTERNAL_DATA_BYTES = 2 * 1024**3 - 64 * 1024**2


def _dims(limits: Dict[str, int]):
    """Named dynamic axes; the maxima are the limits the manifest records."""
    Dim = torch.export.Dim
    return {
        "objects": Dim("objects", min=1, max=limits["max_objects"]),
        "frames": Dim("memory_frames", min=1, max=limits["max_memory_frames"]),
        "pointers": Dim("pointers", min=0, max=limits["max_pointers"]),
        "points": Dim("points", min=0, max=limits["max_points"]),
    }


def _graph_specs(model, limits: Dict[str, int]):
    """(name, module, example inputs, dynamic shapes) of every graph of ``model``."""
    S = model.image_size
    C, mem_dim = model.hidden_dim, model.mem_dim
    h = S // model.backbone_stride
    B = 2  # examples use 2 of each dynamic axis (0 and 1 would be specialised by the tracer)
    d = _dims(limits)
    gen = torch.Generator().manual_seed(0)

    def rand(*shape):
        return torch.randn(*shape, generator=gen)

    features = rand(B, C, h, h)
    specs = [
        ("image_encoder", graphs.ImageEncoderGraph(model), (rand(1, 3, S, S),), None),
        (
            "memory_attention",
            graphs.MemoryAttentionGraph(model),
            (
                features,
                rand(B, 2, mem_dim, h, h),
                torch.tensor([0, model.num_maskmem - 1]),
                rand(B, 2, C),
                torch.tensor([0.25, 0.5]),
            ),
            {
                "vision_features": {0: d["objects"]},
                "memory": {0: d["objects"], 1: d["frames"]},
                "memory_slots": {0: d["frames"]},
                "obj_ptrs": {0: d["objects"], 1: d["pointers"]},
                "obj_ptr_pos": {0: d["pointers"]},
            },
        ),
        (
            "decoder",
            graphs.DecoderGraph(model),
            (
                features,
                rand(B, C // 8, 4 * h, 4 * h),
                rand(B, C // 4, 2 * h, 2 * h),
                torch.rand(B, 2, 2, generator=gen) * S,
                torch.tensor([[1, 0], [1, -1]]),
                rand(B, 1, 4 * h, 4 * h),
                torch.ones(1),
                torch.ones(B, 1),
            ),
            {
                "image_embed": {0: d["objects"]},
                "high_res_0": {0: d["objects"]},
                "high_res_1": {0: d["objects"]},
                "point_coords": {0: d["objects"], 1: d["points"]},
                "point_labels": {0: d["objects"], 1: d["points"]},
                "mask_input": {0: d["objects"]},
                "has_mask_input": None,
                "ptr_presence": {0: d["objects"]},
            },
        ),
        (
            "memory_encoder",
            graphs.MemoryEncoderGraph(model),
            (features, rand(B, 1, 4 * h, 4 * h), rand(B, 1), torch.ones(1)),
            {
                "vision_features": {0: d["objects"]},
                "mask_logits": {0: d["objects"]},
                "object_score_logits": {0: d["objects"]},
                "binarize": None,
            },
        ),
    ]
    if model.use_mask_input_as_output_without_sam:
        specs.append(
            (
                "mask_prompt",
                graphs.MaskPromptGraph(model),
                ((torch.rand(B, 1, S, S, generator=gen) > 0.5).float(),),
                {"mask": {0: d["objects"]}},
            )
        )
    return specs


def _light_optimize(model) -> None:
    """Constant folding and clean-up of an exported graph, in place.

    The exporter's own ``optimize=True`` adds onnxscript's pattern rewriter and fusions, which
    took half of tiny's export (about 30 of 60 s, matching hundreds of thousands of candidate
    nodes) for graphs onnxruntime fuses again itself when it loads them; the passes kept here are
    those that make the file small and readable: functions inlined, constants folded (the RoPE
    tables, position encodings), unused nodes and duplicate initialisers removed, common
    subexpressions merged, names fixed.
    """
    import onnx_ir as ir
    import onnx_ir.passes.common as common
    from onnxscript.optimizer import fold_constants_ir

    common.InlinePass()(model)
    fold_constants_ir(model)
    ir.passes.Sequential(
        common.RemoveUnusedNodesPass(),
        common.RemoveUnusedFunctionsPass(),
        common.RemoveUnusedOpsetsPass(),
        common.LiftConstantsToInitializersPass(lift_all_constants=True, size_limit=0),
        common.DeduplicateInitializersPass(),
        common.CommonSubexpressionEliminationPass(),
        common.RemoveUnusedNodesPass(),
        common.OutputFixPass(),
        common.NameFixPass(),
    )(model)


def _export_graph(name, module, args, dynamic_shapes, path: str) -> None:
    module.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            module,
            args,
            dynamo=True,
            opset_version=OPSET,
            input_names=module.input_names,
            output_names=module.output_names,
            dynamic_shapes=dynamic_shapes,
            external_data=False,
            optimize=False,  # the exporter's optimizer is half the export time; see _light_optimize
            verbose=False,
        )
    _light_optimize(program.model)
    program.model.producer_version = torch.__version__.split("+")[0]
    size = sum(
        t.const_value.nbytes for t in program.model.graph.initializers.values() if t.const_value is not None
    )
    program.save(path, external_data=size > EXTERNAL_DATA_BYTES)


def default_limits(model) -> Dict[str, int]:
    """Upper bounds of the dynamic axes (what the runtime checks before it runs a graph)."""
    return {
        "max_objects": 64,
        # prompted frames + the tracked-frame slots: conditioning frames are not capped in eval
        # when max_cond_frames_in_attn is -1, so allow a generous number of them.
        "max_memory_frames": 64 + model.num_maskmem,
        "max_pointers": 64 + model.max_obj_ptrs_in_encoder,
        "max_points": 64,
    }


def export_onnx(config: str, checkpoint: Optional[str], out_dir: str, *, verbose: bool = False) -> Manifest:
    """Export the graphs of ``config`` (packaged name or YAML path) with ``checkpoint``'s weights.

    Returns the manifest written to ``out_dir/manifest.json``. ``checkpoint`` None exports the
    config's initial (random) weights, which only tests should want.
    """
    import onnx

    from sam2.build_sam import build_sam2_video_predictor

    start = time.perf_counter()
    model = build_sam2_video_predictor(config, ckpt_path=checkpoint, device="cpu")
    graphs.check_exportable(model)
    limits = default_limits(model)
    os.makedirs(out_dir, exist_ok=True)
    infos: Dict[str, GraphInfo] = {}
    with torch.no_grad(), tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        for name, module, args, dyn in _graph_specs(model, limits):
            t0 = time.perf_counter()
            tmp_path = os.path.join(tmp, f"{name}.onnx")
            _export_graph(name, module, args, dyn, tmp_path)
            onnx.checker.check_model(tmp_path, full_check=True)
            final = os.path.join(out_dir, f"{name}.onnx")
            os.replace(tmp_path, final)
            infos[name] = GraphInfo.of_file(final, module.input_names, module.output_names)
            if verbose:
                print(f"  {name}: {os.path.getsize(final) / 1e6:.1f} MB in {time.perf_counter() - t0:.1f} s")
    manifest = Manifest(
        format_version=1,
        package_version=package_version(),
        config=config if not os.path.exists(config) else os.path.basename(config),
        checkpoint_sha256=file_sha256(checkpoint) if checkpoint else None,
        opset=OPSET,
        limits=limits,
        model=model_settings(model),
        graphs=infos,
    )
    write_manifest(manifest, out_dir)
    if verbose:
        print(f"exported {len(infos)} graphs to {out_dir} in {time.perf_counter() - start:.1f} s")
    return manifest


def _parse_args(argv=None) -> Tuple:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m sam2.export onnx", description=export_onnx.__doc__)
    parser.add_argument(
        "--config", required=True, help="config name (configs/sam2.1/sam2.1_hiera_t.yaml) or YAML path"
    )
    parser.add_argument(
        "--checkpoint", help="checkpoint file ({'model': state_dict}); omit for random weights"
    )
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--precision",
        default="fp32",
        choices=["fp32", "fp16", "int8"],
        help="fp32 (default); int8: linear layers quantised, for CPUs; fp16: for GPU providers",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = _parse_args(argv)
    if args.precision == "fp32":
        export_onnx(args.config, args.checkpoint, args.out, verbose=True)
        return 0
    from sam2.onnx.variants import make_variant

    with tempfile.TemporaryDirectory() as fp32_dir:
        export_onnx(args.config, args.checkpoint, fp32_dir, verbose=True)
        make_variant(fp32_dir, args.out, args.precision)
    print(f"wrote the {args.precision} variant to {args.out}")
    return 0
