"""``manifest.json``: what an export folder holds and how the graphs must be driven.

Written by :mod:`sam2.onnx.export`, read by the runtime (which has no torch): the config
and checkpoint the graphs came from, the package version and opset, the model settings the
runtime's rules need (memory selection, multimask choice, hole filling, ...), the limits of
the dynamic axes, and every graph's file size and SHA-256 (a truncated or swapped file is
caught before onnxruntime reads it).
"""

import dataclasses
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Dict, List, Optional

MANIFEST_NAME = "manifest.json"
FORMAT_VERSION = 1
# Normalisation of the model input (ImageNet mean / std on [0, 1] pixels).
IMG_MEAN = (0.485, 0.456, 0.406)
IMG_STD = (0.229, 0.224, 0.225)


class ExportFolderError(RuntimeError):
    """An export folder that cannot be used; the message says what to do."""


def package_version() -> str:
    try:
        from importlib.metadata import version

        return version("sam2")
    except Exception:
        return "unknown"


@dataclass
class GraphInfo:
    file: str
    bytes: int
    sha256: str
    inputs: List[str]
    outputs: List[str]

    @classmethod
    def of_file(cls, path: str, inputs: List[str], outputs: List[str]) -> "GraphInfo":
        return cls(
            os.path.basename(path), os.path.getsize(path), file_sha256(path), list(inputs), list(outputs)
        )


@dataclass
class Manifest:
    format_version: int
    package_version: str
    config: str
    checkpoint_sha256: Optional[str]
    opset: int
    limits: Dict[str, int]
    model: Dict[str, object]
    graphs: Dict[str, GraphInfo]
    normalization: Dict[str, List[float]] = field(
        default_factory=lambda: {"mean": list(IMG_MEAN), "std": list(IMG_STD)}
    )
    # fp32 (as exported), or a variant made by sam2.onnx.variants: fp16, int8
    precision: str = "fp32"

    @property
    def image_size(self) -> int:
        return int(self.model["image_size"])


def model_settings(model) -> Dict[str, object]:
    """The settings of a built torch model that the onnxruntime predictors follow."""
    decoder = model.sam_mask_decoder
    return {
        "image_size": model.image_size,
        "backbone_stride": model.backbone_stride,
        "hidden_dim": model.hidden_dim,
        "mem_dim": model.mem_dim,
        "num_maskmem": model.num_maskmem,
        "memory_temporal_stride_for_eval": model.memory_temporal_stride_for_eval,
        "max_cond_frames_in_attn": model.max_cond_frames_in_attn,
        "use_obj_ptrs_in_encoder": model.use_obj_ptrs_in_encoder,
        "max_obj_ptrs_in_encoder": model.max_obj_ptrs_in_encoder,
        "only_obj_ptrs_in_the_past_for_eval": model.only_obj_ptrs_in_the_past_for_eval,
        "use_signed_tpos_enc_to_obj_ptrs": model.use_signed_tpos_enc_to_obj_ptrs,
        "multimask_output_in_sam": model.multimask_output_in_sam,
        "multimask_min_pt_num": model.multimask_min_pt_num,
        "multimask_max_pt_num": model.multimask_max_pt_num,
        "multimask_output_for_tracking": model.multimask_output_for_tracking,
        "use_multimask_token_for_obj_ptr": model.use_multimask_token_for_obj_ptr,
        "dynamic_multimask_via_stability": decoder.dynamic_multimask_via_stability,
        "dynamic_multimask_stability_delta": decoder.dynamic_multimask_stability_delta,
        "dynamic_multimask_stability_thresh": decoder.dynamic_multimask_stability_thresh,
        "pred_obj_scores": model.pred_obj_scores,
        "use_mask_input_as_output_without_sam": model.use_mask_input_as_output_without_sam,
        "fill_hole_area": getattr(model, "fill_hole_area", 0),
        "non_overlap_masks": getattr(model, "non_overlap_masks", False),
        "add_all_frames_to_correct_as_cond": getattr(model, "add_all_frames_to_correct_as_cond", False),
        "clear_non_cond_mem_around_input": getattr(model, "clear_non_cond_mem_around_input", False),
    }


def file_sha256(path: str, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(manifest: Manifest, out_dir: str) -> str:
    path = os.path.join(out_dir, MANIFEST_NAME)
    with open(path, "w") as f:
        json.dump(dataclasses.asdict(manifest), f, indent=2, sort_keys=True)
        f.write("\n")
    return path


def read_manifest(folder: str, verify_hashes: bool = True) -> Manifest:
    """Read and check an export folder; raise :class:`ExportFolderError` naming the fix."""
    redo = "export it again with `python -m sam2.export onnx --config <config> --checkpoint <pt> --out <dir>`"
    if not os.path.isdir(folder):
        raise ExportFolderError(f"ONNX export folder {folder!r} does not exist; {redo}")
    path = os.path.join(folder, MANIFEST_NAME)
    if not os.path.isfile(path):
        raise ExportFolderError(f"{folder!r} has no {MANIFEST_NAME}: it is not an ONNX export folder; {redo}")
    try:
        with open(path) as f:
            raw = json.load(f)
        graphs = {name: GraphInfo(**info) for name, info in raw.pop("graphs").items()}
        manifest = Manifest(graphs=graphs, **raw)
    except (ValueError, TypeError, KeyError) as e:
        raise ExportFolderError(f"{path!r} is not a readable manifest ({e}); {redo}") from None
    if manifest.format_version != FORMAT_VERSION:
        raise ExportFolderError(
            f"{folder!r} was written in export format {manifest.format_version} (by sam2 "
            f"{manifest.package_version}); this sam2 ({package_version()}) reads format {FORMAT_VERSION}: {redo}"
        )
    for name, info in manifest.graphs.items():
        file = os.path.join(folder, info.file)
        if not os.path.isfile(file):
            raise ExportFolderError(f"graph {name!r} ({info.file}) is missing from {folder!r}; {redo}")
        size = os.path.getsize(file)
        if size != info.bytes:
            raise ExportFolderError(
                f"graph {info.file} in {folder!r} has {size} bytes, the manifest says {info.bytes} "
                f"(truncated or replaced); {redo}"
            )
        if verify_hashes and file_sha256(file) != info.sha256:
            raise ExportFolderError(
                f"graph {info.file} in {folder!r} does not match the manifest's SHA-256 "
                f"(corrupted or from another export); {redo}"
            )
    return manifest
