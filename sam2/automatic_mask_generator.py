"""Segment everything in an image: a grid of point prompts, filtered and de-duplicated masks.

For every crop (the whole image, plus optional layers of overlapping tiles) the image is
encoded once; the crop's point grid then runs through the mask decoder in batches of
``points_per_batch`` points (all on the model's device). Candidates are filtered by predicted
IoU (before upsampling, so rejected masks never cost a full-size upsample), by stability, and by
touching a crop edge inside the image; box NMS removes duplicates within each crop and then
across crops (smaller crops first). The records match the official ``sam2==1.1.0`` generator.
"""

import math
from numbers import Integral, Real
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

try:
    import torch
except ImportError:
    from sam2._torch_check import torch_missing

    raise torch_missing("sam2.automatic_mask_generator") from None

from sam2.modeling.sam2_base import SAM2Base
from sam2.sam2_image_predictor import SAM2ImagePredictor
from sam2.utils.amg import (
    MaskData,
    batched_mask_to_box,
    batched_nms,
    box_area,
    box_xyxy_to_xywh,
    build_all_layer_point_grids,
    calculate_stability_score,
    generate_crop_boxes,
    is_box_near_crop_edge,
    masks_to_rle,
    remove_small_regions,
    rle_to_mask,
    uncrop_boxes_xyxy,
    uncrop_masks,
    uncrop_points,
)
from sam2.utils.amg_common import mask_records

OUTPUT_MODES = ("binary_mask", "uncompressed_rle", "coco_rle")

# Called after every batch of point prompts with (batches done, batches in all); an exception
# raised by it aborts generate() (the demo cancels that way).
ProgressCallback = Callable[[int, int], None]

# Constructor arguments of the generator itself; from_pretrained passes the rest to the model builder.
GENERATOR_ARGS = (
    "points_per_side", "points_per_batch", "pred_iou_thresh", "stability_score_thresh",
    "stability_score_offset", "mask_threshold", "box_nms_thresh", "crop_n_layers", "crop_nms_thresh",
    "crop_overlap_ratio", "crop_n_points_downscale_factor", "point_grids", "min_mask_region_area",
    "output_mode", "use_m2m", "multimask_output",
)


def _check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def _check_real(name: str, value, low: Optional[float] = None, high: Optional[float] = None) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise TypeError(f"{name} must be a finite number, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        bounds = f"in [{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must be {bounds}, got {value}")
    return float(value)


def _check_point_grids(point_grids, n_layers: int) -> List[np.ndarray]:
    if not isinstance(point_grids, (list, tuple)):
        raise TypeError("point_grids must be a list of (N, 2) arrays, one per crop layer")
    if len(point_grids) != n_layers + 1:
        raise ValueError(
            f"point_grids has {len(point_grids)} grids; crop_n_layers={n_layers} needs {n_layers + 1} "
            "(one for the whole image and one per crop layer)"
        )
    grids = []
    for i, grid in enumerate(point_grids):
        arr = np.asarray(grid, dtype=np.float64)
        if arr.ndim != 2 or arr.shape[1] != 2 or arr.shape[0] == 0:
            raise ValueError(f"point_grids[{i}] must have shape (N, 2) with N >= 1, got {arr.shape}")
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise ValueError(f"point_grids[{i}] must hold (x, y) in [0, 1] (fractions of the crop size)")
        grids.append(arr)
    return grids


def check_image(image) -> np.ndarray:
    """The generator's input: an (H, W, 3) uint8 RGB numpy array."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array (H, W, 3) of uint8 RGB, got {type(image).__name__}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must have shape (H, W, 3) (RGB), got {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ValueError(f"image is empty: shape {image.shape}")
    if image.dtype != np.uint8:
        raise TypeError(f"image must be uint8 (0..255), got dtype {image.dtype}")
    return image


class SAM2AutomaticMaskGenerator:
    """Masks for everything in an image, as the official generator's list of records.

    Each record: ``segmentation`` (bool (H, W) array, uncompressed RLE dict or COCO RLE dict
    with a ``str`` counts, by ``output_mode``), ``area`` (pixels), ``bbox`` (XYWH, inclusive
    pixel extents), ``predicted_iou``, ``point_coords`` ([[x, y]] of the prompt, image pixels),
    ``stability_score`` and ``crop_box`` (XYWH). Records come in NMS order (best first within
    a crop; smaller crops first).
    """

    def __init__(
        self,
        model: SAM2Base,
        points_per_side: Optional[int] = 32,
        points_per_batch: int = 64,
        pred_iou_thresh: float = 0.8,
        stability_score_thresh: float = 0.95,
        stability_score_offset: float = 1.0,
        mask_threshold: float = 0.0,
        box_nms_thresh: float = 0.7,
        crop_n_layers: int = 0,
        crop_nms_thresh: float = 0.7,
        crop_overlap_ratio: float = 512 / 1500,
        crop_n_points_downscale_factor: int = 1,
        point_grids: Optional[List[np.ndarray]] = None,
        min_mask_region_area: int = 0,
        output_mode: str = "binary_mask",
        use_m2m: bool = False,
        multimask_output: bool = True,
        **kwargs: Any,
    ) -> None:
        if (points_per_side is None) == (point_grids is None):
            raise ValueError("give exactly one of points_per_side and point_grids")
        self.crop_n_layers = _check_int("crop_n_layers", crop_n_layers, 0)
        self.crop_n_points_downscale_factor = _check_int(
            "crop_n_points_downscale_factor", crop_n_points_downscale_factor, 1)
        if points_per_side is not None:
            points_per_side = _check_int("points_per_side", points_per_side, 1)
            smallest = int(points_per_side / self.crop_n_points_downscale_factor**self.crop_n_layers)
            if smallest < 1:
                raise ValueError(
                    f"points_per_side={points_per_side} leaves no point in crop layer {self.crop_n_layers} "
                    f"(downscaled by {self.crop_n_points_downscale_factor} per layer)"
                )
            self.point_grids = build_all_layer_point_grids(
                points_per_side, self.crop_n_layers, self.crop_n_points_downscale_factor)
        else:
            self.point_grids = _check_point_grids(point_grids, self.crop_n_layers)
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"output_mode must be one of {', '.join(OUTPUT_MODES)}, got {output_mode!r}")
        self.points_per_batch = _check_int("points_per_batch", points_per_batch, 1)
        self.pred_iou_thresh = _check_real("pred_iou_thresh", pred_iou_thresh, 0.0, 1.0)
        self.stability_score_thresh = _check_real("stability_score_thresh", stability_score_thresh, 0.0, 1.0)
        self.stability_score_offset = _check_real("stability_score_offset", stability_score_offset, 0.0)
        self.mask_threshold = _check_real("mask_threshold", mask_threshold)
        self.box_nms_thresh = _check_real("box_nms_thresh", box_nms_thresh, 0.0, 1.0)
        self.crop_nms_thresh = _check_real("crop_nms_thresh", crop_nms_thresh, 0.0, 1.0)
        self.crop_overlap_ratio = _check_real("crop_overlap_ratio", crop_overlap_ratio, 0.0, 1.0)
        self.min_mask_region_area = _check_int("min_mask_region_area", min_mask_region_area, 0)
        self.output_mode = output_mode
        self.use_m2m = bool(use_m2m)
        self.multimask_output = bool(multimask_output)
        self.predictor = SAM2ImagePredictor(model, mask_threshold=self.mask_threshold, **kwargs)

    @classmethod
    def from_pretrained(cls, model_id: str, **kwargs: Any) -> "SAM2AutomaticMaskGenerator":
        """Generator on an official model id such as ``facebook/sam2.1-hiera-tiny``; generator
        arguments go to the generator, the others (``device``, ...) to the model builder."""
        from sam2.build_sam import build_sam2_hf

        gen_kwargs = {k: kwargs.pop(k) for k in list(kwargs) if k in GENERATOR_ARGS}
        return cls(build_sam2_hf(model_id, **kwargs), **gen_kwargs)

    # ------------------------------------------------------------------ public
    @torch.no_grad()
    def generate(self, image: np.ndarray, progress: Optional[ProgressCallback] = None) -> List[Dict[str, Any]]:
        """Records for an (H, W, 3) uint8 RGB image (see the class docstring)."""
        check_image(image)
        data = self._generate_masks(image, progress)
        if self.min_mask_region_area > 0:
            data = self.postprocess_small_regions(
                data, self.min_mask_region_area, max(self.box_nms_thresh, self.crop_nms_thresh))
        return self._records(data)

    # ------------------------------------------------------------------ pipeline
    def _generate_masks(self, image: np.ndarray, progress: Optional[ProgressCallback]) -> MaskData:
        orig_hw = image.shape[:2]
        crop_boxes, layer_idxs = generate_crop_boxes(orig_hw, self.crop_n_layers, self.crop_overlap_ratio)
        batches_per_crop = [math.ceil(len(self.point_grids[layer]) / self.points_per_batch) for layer in layer_idxs]
        counter = _BatchCounter(sum(batches_per_crop), progress)
        data = MaskData()
        for crop_box, layer in zip(crop_boxes, layer_idxs):
            data.cat(self._process_crop(image, crop_box, layer, orig_hw, counter))
        if len(crop_boxes) > 1 and len(data) > 0:
            # Across crops, prefer masks from smaller crops (1 / area; equal areas keep crop order).
            scores = 1 / box_area(data["crop_boxes"])
            keep = batched_nms(data["boxes"].float(), scores, torch.zeros_like(scores, dtype=torch.int64),
                               self.crop_nms_thresh)
            data.filter(keep)
        return data

    def _process_crop(self, image: np.ndarray, crop_box: List[int], layer: int, orig_hw: Tuple[int, int],
                      counter: "_BatchCounter") -> MaskData:
        x0, y0, x1, y1 = crop_box
        crop = image[y0:y1, x0:x1, :]
        crop_hw = crop.shape[:2]
        self.predictor.set_image(crop)
        points = self.point_grids[layer] * np.array(crop_hw)[None, ::-1]
        data = MaskData()
        for start in range(0, len(points), self.points_per_batch):
            data.cat(self._process_batch(points[start:start + self.points_per_batch], crop_hw, crop_box, orig_hw))
            counter.step()
        self.predictor.reset_predictor()
        keep = batched_nms(data["boxes"].float(), data["iou_preds"],
                           torch.zeros(len(data), dtype=torch.int64), self.box_nms_thresh)
        data.filter(keep)
        data["rles"] = self._encode_masks(data["low_res"], crop_hw, crop_box, orig_hw)
        del data["low_res"]
        data["boxes"] = uncrop_boxes_xyxy(data["boxes"], crop_box)
        data["points"] = uncrop_points(data["points"], crop_box)
        data["crop_boxes"] = torch.tensor([crop_box] * len(data), dtype=torch.int64).reshape(-1, 4)
        return data

    def _process_batch(self, points: np.ndarray, crop_hw: Tuple[int, int], crop_box: List[int],
                       orig_hw: Tuple[int, int]) -> MaskData:
        """Candidates of one batch of prompts (crop pixels): filtered and boxed (crop pixels).

        Their low-res logits are kept rather than full-size masks: only the masks that survive
        NMS are upsampled again and run-length encoded (:meth:`_encode_masks`; the upsampling
        is deterministic, so the masks are the same).
        """
        device = self.predictor.device
        transforms = self.predictor._transforms
        pts = torch.as_tensor(points, dtype=torch.float32, device=device)
        in_points = transforms.transform_coords(pts, normalize=True, orig_hw=crop_hw)
        labels = torch.ones(len(pts), dtype=torch.int32, device=device)
        low_res, ious = self.predictor._decode(in_points[:, None, :], labels[:, None],
                                               multimask_output=self.multimask_output)
        per_point = low_res.shape[1]
        low_res, ious = low_res.flatten(0, 1), ious.flatten(0, 1)
        pts = pts.repeat_interleave(per_point, dim=0)
        if self.use_m2m:
            in_points = in_points.repeat_interleave(per_point, dim=0)
            low_res, ious = self._refine_with_m2m(in_points, torch.clamp(low_res, -32.0, 32.0))
        if self.pred_iou_thresh > 0:
            keep = ious > self.pred_iou_thresh
            low_res, ious, pts = low_res[keep], ious[keep], pts[keep]
        masks = transforms.postprocess_masks(low_res[:, None], crop_hw)[:, 0]
        stability = calculate_stability_score(masks, self.mask_threshold, self.stability_score_offset)
        if self.stability_score_thresh > 0:
            keep = stability >= self.stability_score_thresh
            masks, low_res, ious, pts, stability = masks[keep], low_res[keep], ious[keep], pts[keep], stability[keep]
        boxes = batched_mask_to_box(masks > self.mask_threshold)
        del masks
        inside = ~is_box_near_crop_edge(boxes, crop_box, [0, 0, orig_hw[1], orig_hw[0]])
        if not bool(inside.all()):
            low_res, boxes, ious, pts, stability = (t[inside] for t in (low_res, boxes, ious, pts, stability))
        return MaskData(low_res=low_res, boxes=boxes.cpu(), iou_preds=ious.float().cpu(), points=pts.cpu(),
                        stability_score=stability.float().cpu())

    def _encode_masks(self, low_res: torch.Tensor, crop_hw: Tuple[int, int], crop_box: List[int],
                      orig_hw: Tuple[int, int]) -> List[dict]:
        """Low-res logits of a crop's kept candidates -> uncompressed RLEs of the full-image masks."""
        rles: List[dict] = []
        for start in range(0, len(low_res), self.points_per_batch):
            part = low_res[start:start + self.points_per_batch, None]
            binary = self.predictor._transforms.postprocess_masks(part, crop_hw)[:, 0] > self.mask_threshold
            rles += masks_to_rle(uncrop_masks(binary, crop_box, orig_hw[0], orig_hw[1]))
        return rles

    def _refine_with_m2m(self, in_points: torch.Tensor, low_res: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """One more single-mask pass per candidate with its own low-res logits as mask prompt."""
        labels = torch.ones(len(in_points), dtype=torch.int32, device=in_points.device)
        new_low, new_ious = [], []
        for start in range(0, len(in_points), self.points_per_batch):
            part = slice(start, start + self.points_per_batch)
            refined, ious = self.predictor._decode(in_points[part, None, :], labels[part, None],
                                                   mask_input=low_res[part, None], multimask_output=False)
            new_low.append(refined[:, 0])
            new_ious.append(ious[:, 0])
        return torch.cat(new_low), torch.cat(new_ious)

    # ------------------------------------------------------------------ post-processing
    @staticmethod
    def postprocess_small_regions(mask_data: MaskData, min_area: int, nms_thresh: float) -> MaskData:
        """Fill holes and drop islands smaller than ``min_area``; masks that changed rank below
        unchanged ones in a new box NMS (their boxes are recomputed)."""
        if len(mask_data) == 0:
            return mask_data
        masks, unchanged = [], []
        for rle in mask_data["rles"]:
            mask, filled = remove_small_regions(rle_to_mask(rle), min_area, mode="holes")
            mask, dropped = remove_small_regions(mask, min_area, mode="islands")
            masks.append(torch.from_numpy(np.ascontiguousarray(mask)))
            unchanged.append(float(not (filled or dropped)))
        stacked = torch.stack(masks)
        boxes = batched_mask_to_box(stacked)
        scores = torch.as_tensor(unchanged, dtype=torch.float32)
        keep = batched_nms(boxes.float(), scores, torch.zeros(len(boxes), dtype=torch.int64), nms_thresh)
        for i in keep.tolist():
            if unchanged[i] == 0.0:
                mask_data["rles"][i] = masks_to_rle(stacked[i][None])[0]
                mask_data["boxes"][i] = boxes[i]
        mask_data.filter(keep)
        return mask_data

    def _records(self, data: MaskData) -> List[Dict[str, Any]]:
        if len(data) == 0:
            return []
        return mask_records(
            self.output_mode, data["rles"], box_xyxy_to_xywh(data["boxes"]).tolist(),
            box_xyxy_to_xywh(data["crop_boxes"]).tolist(), data["iou_preds"].tolist(),
            data["stability_score"].tolist(), data["points"].tolist(),
        )


class _BatchCounter:
    """Reports progress after every batch of prompts."""

    def __init__(self, total: int, callback: Optional[ProgressCallback]) -> None:
        self.total, self.done, self.callback = total, 0, callback

    def step(self) -> None:
        self.done += 1
        if self.callback is not None:
            self.callback(self.done, self.total)
