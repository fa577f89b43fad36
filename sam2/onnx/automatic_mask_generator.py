"""Segment everything in an image on onnxruntime, without torch.

:class:`SAM2AutomaticMaskGeneratorONNX` takes the arguments and returns the records of
:class:`sam2.automatic_mask_generator.SAM2AutomaticMaskGenerator`, running the prompts through
:class:`sam2.onnx.image_predictor.SAM2ImagePredictorONNX` (image encoder and decoder graphs)
and the rest in NumPy. Point grids, crop boxes and box NMS are the torch generator's own code
(:mod:`sam2.utils.amg_common`), run-length encoding is :mod:`sam2.utils.rle`'s; the steps that
the torch generator does on tensors (stability, boxes of masks, the crop-edge test) are
written here in NumPy with the same arithmetic (float32 ratios, int64 boxes, float32 boxes for
NMS). ``min_mask_region_area`` (small-region clean-up, a torch routine) is not supported here.
"""

from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from sam2.onnx import resize
from sam2.onnx.image_predictor import SAM2ImagePredictorONNX, build_sam2_image_predictor_onnx
from sam2.utils.amg_common import build_all_layer_point_grids, generate_crop_boxes, mask_records, nms_numpy
from sam2.utils.rle import masks_to_rle_numpy

OUTPUT_MODES = ("binary_mask", "uncompressed_rle", "coco_rle")


def stability_score(masks: np.ndarray, mask_threshold: float, offset: float) -> np.ndarray:
    """IoU of the masks thresholded at ``mask_threshold +- offset``: (N, H, W) logits -> (N,) float32."""
    inner = (masks > (mask_threshold + offset)).sum(axis=(-1, -2), dtype=np.int64)
    outer = (masks > (mask_threshold - offset)).sum(axis=(-1, -2), dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return inner.astype(np.float32) / outer.astype(np.float32)


def mask_boxes(masks: np.ndarray) -> np.ndarray:
    """(N, H, W) bool -> (N, 4) int64 inclusive pixel extents x0, y0, x1, y1; zeros when empty."""
    n, h, w = masks.shape
    rows, cols = masks.any(axis=2), masks.any(axis=1)
    top = np.where(rows.any(axis=1), rows.argmax(axis=1), 0)
    bottom = np.where(rows.any(axis=1), h - 1 - rows[:, ::-1].argmax(axis=1), 0)
    left = np.where(cols.any(axis=1), cols.argmax(axis=1), 0)
    right = np.where(cols.any(axis=1), w - 1 - cols[:, ::-1].argmax(axis=1), 0)
    return np.stack([left, top, right, bottom], axis=1).astype(np.int64)


def near_crop_edge(boxes: np.ndarray, crop_box, orig_box, atol: float = 20.0) -> np.ndarray:
    """(N,) bool: an edge of the box (crop pixels) lies within ``atol`` of a crop edge that is
    not an image edge (the mask is probably cut by the crop)."""
    x0, y0 = crop_box[0], crop_box[1]
    full = (boxes + np.array([x0, y0, x0, y0], dtype=np.int64)).astype(np.float32)
    near_crop = np.abs(full - np.asarray(crop_box, dtype=np.float32)) <= atol
    near_image = np.abs(full - np.asarray(orig_box, dtype=np.float32)) <= atol
    return (near_crop & ~near_image).any(axis=1)


def _xywh(boxes: np.ndarray) -> np.ndarray:
    out = boxes.copy()
    out[:, 2:] -= boxes[:, :2]
    return out


class _Candidates:
    """Parallel arrays of candidate masks (what the torch generator keeps in ``MaskData``)."""

    def __init__(self, **columns):
        self.columns: Dict[str, Any] = columns

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0

    def keep(self, index: np.ndarray) -> None:
        for key, value in self.columns.items():
            self.columns[key] = [value[i] for i in index] if isinstance(value, list) else value[index]

    def extend(self, other: "_Candidates") -> None:
        if not self.columns:
            self.columns = dict(other.columns)
            return
        for key, value in other.columns.items():
            mine = self.columns[key]
            self.columns[key] = mine + value if isinstance(mine, list) else np.concatenate([mine, value])


class SAM2AutomaticMaskGeneratorONNX:
    """Masks for everything in an image from an export folder (or an ONNX image predictor).

    Same arguments (but ``model``) and same records as the torch ``SAM2AutomaticMaskGenerator``;
    ``predictor`` is a :class:`SAM2ImagePredictorONNX` or an export folder's path.
    """

    def __init__(
        self,
        predictor,
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
    ) -> None:
        if (points_per_side is None) == (point_grids is None):
            raise ValueError("give exactly one of points_per_side and point_grids")
        if min_mask_region_area > 0:
            raise NotImplementedError(
                "min_mask_region_area > 0 (small-region clean-up) runs on torch: use "
                "sam2.automatic_mask_generator.SAM2AutomaticMaskGenerator for it"
            )
        if output_mode not in OUTPUT_MODES:
            raise ValueError(f"output_mode must be one of {', '.join(OUTPUT_MODES)}, got {output_mode!r}")
        if points_per_batch < 1:
            raise ValueError(f"points_per_batch must be >= 1, got {points_per_batch}")
        if not isinstance(predictor, SAM2ImagePredictorONNX):
            predictor = build_sam2_image_predictor_onnx(predictor)
        self.predictor = predictor
        self.predictor.mask_threshold = mask_threshold
        self.crop_n_layers = int(crop_n_layers)
        if points_per_side is not None:
            self.point_grids = build_all_layer_point_grids(
                int(points_per_side), self.crop_n_layers, int(crop_n_points_downscale_factor)
            )
        else:
            if len(point_grids) != self.crop_n_layers + 1:
                raise ValueError(f"point_grids needs {self.crop_n_layers + 1} grids, got {len(point_grids)}")
            self.point_grids = [np.asarray(g, dtype=np.float64).reshape(-1, 2) for g in point_grids]
        self.points_per_batch = int(points_per_batch)
        self.pred_iou_thresh = float(pred_iou_thresh)
        self.stability_score_thresh = float(stability_score_thresh)
        self.stability_score_offset = float(stability_score_offset)
        self.mask_threshold = float(mask_threshold)
        self.box_nms_thresh = float(box_nms_thresh)
        self.crop_nms_thresh = float(crop_nms_thresh)
        self.crop_overlap_ratio = float(crop_overlap_ratio)
        self.output_mode = output_mode
        self.use_m2m = bool(use_m2m)
        self.multimask_output = bool(multimask_output)

    def generate(self, image: np.ndarray) -> List[Dict[str, Any]]:
        """Records for an (H, W, 3) uint8 RGB image."""
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8 or 0 in image.shape[:2]:
            raise ValueError(
                f"image must be a non-empty (H, W, 3) uint8 RGB array, got {image.shape} {image.dtype}"
            )
        orig_hw = image.shape[:2]
        crop_boxes, layers = generate_crop_boxes(orig_hw, self.crop_n_layers, self.crop_overlap_ratio)
        data = _Candidates()
        for crop_box, layer in zip(crop_boxes, layers):
            data.extend(self._process_crop(image, crop_box, layer, orig_hw))
        if len(crop_boxes) > 1 and len(data) > 0:
            crops = data.columns["crop_boxes"]
            areas = ((crops[:, 2] - crops[:, 0]) * (crops[:, 3] - crops[:, 1])).astype(np.float32)
            data.keep(
                nms_numpy(
                    data.columns["boxes"].astype(np.float32), np.float32(1) / areas, self.crop_nms_thresh
                )
            )
        return self._records(data)

    # ------------------------------------------------------------------ pipeline
    def _process_crop(self, image, crop_box, layer, orig_hw) -> _Candidates:
        x0, y0, x1, y1 = crop_box
        crop = np.ascontiguousarray(image[y0:y1, x0:x1, :])
        crop_hw = crop.shape[:2]
        self.predictor.set_image(crop)
        features = self.predictor._features[0]
        points = self.point_grids[layer] * np.array(crop_hw)[None, ::-1]
        data = _Candidates()
        for start in range(0, len(points), self.points_per_batch):
            batch = points[start : start + self.points_per_batch]
            data.extend(self._process_batch(features, batch, crop_hw, crop_box, orig_hw))
        self.predictor.reset_predictor()
        if len(data) == 0:
            return _Candidates()
        data.keep(
            nms_numpy(
                data.columns["boxes"].astype(np.float32), data.columns["iou_preds"], self.box_nms_thresh
            )
        )
        low_res = data.columns.pop("low_res")
        data.columns["rles"] = self._encode(low_res, crop_hw, crop_box, orig_hw)
        data.columns["boxes"] = data.columns["boxes"] + np.array([x0, y0, x0, y0], dtype=np.int64)
        data.columns["points"] = data.columns["points"] + np.array([x0, y0], dtype=np.float32)
        data.columns["crop_boxes"] = np.tile(np.asarray(crop_box, dtype=np.int64), (len(data), 1))
        return data

    def _prompts(self, points: np.ndarray, crop_hw) -> Tuple[np.ndarray, np.ndarray]:
        labels = np.ones((len(points), 1), dtype=np.int64)
        return self.predictor._prompts(points[:, None, :], labels, None, True, crop_hw)

    def _process_batch(self, features, points, crop_hw, crop_box, orig_hw) -> _Candidates:
        pts = points.astype(np.float32)
        coords, labels = self._prompts(pts, crop_hw)
        low_res, ious = self.predictor._decode(features, coords, labels, None, self.multimask_output)
        per_point = low_res.shape[1]
        low_res = low_res.reshape(-1, *low_res.shape[2:])
        ious = ious.reshape(-1)
        pts = np.repeat(pts, per_point, axis=0)
        if self.use_m2m:
            low_res, ious = self._refine(features, np.repeat(coords, per_point, axis=0),
                                         np.repeat(labels, per_point, axis=0), np.clip(low_res, -32.0, 32.0))  # fmt: skip
        if self.pred_iou_thresh > 0:
            keep = ious > self.pred_iou_thresh
            low_res, ious, pts = low_res[keep], ious[keep], pts[keep]
        masks = resize.bilinear(low_res, crop_hw)
        stability = stability_score(masks, self.mask_threshold, self.stability_score_offset)
        if self.stability_score_thresh > 0:
            keep = stability >= self.stability_score_thresh
            masks, low_res, ious, pts, stability = (
                masks[keep],
                low_res[keep],
                ious[keep],
                pts[keep],
                stability[keep],
            )
        boxes = mask_boxes(masks > self.mask_threshold)
        del masks
        inside = ~near_crop_edge(boxes, crop_box, [0, 0, orig_hw[1], orig_hw[0]])
        return _Candidates(
            low_res=low_res[inside],
            boxes=boxes[inside],
            iou_preds=ious[inside].astype(np.float32),
            points=pts[inside],
            stability_score=stability[inside].astype(np.float32),
        )

    def _refine(self, features, coords, labels, low_res) -> Tuple[np.ndarray, np.ndarray]:
        """One more single-mask pass per candidate with its own low-res logits as mask prompt."""
        new_low, new_ious = [], []
        for start in range(0, len(coords), self.points_per_batch):
            part = slice(start, start + self.points_per_batch)
            refined, ious = self.predictor._decode(
                features, coords[part], labels[part], low_res[part, None], False
            )
            new_low.append(refined[:, 0])
            new_ious.append(ious[:, 0])
        return np.concatenate(new_low), np.concatenate(new_ious)

    def _encode(self, low_res, crop_hw, crop_box, orig_hw) -> List[dict]:
        """Low-res logits of a crop's kept candidates -> uncompressed RLEs of the full-image masks."""
        x0, y0, x1, y1 = crop_box
        h, w = orig_hw
        rles: List[dict] = []
        for start in range(0, len(low_res), self.points_per_batch):
            binary = (
                resize.bilinear(low_res[start : start + self.points_per_batch], crop_hw) > self.mask_threshold
            )
            if (x0, y0, x1, y1) != (0, 0, w, h):
                binary = np.pad(binary, ((0, 0), (y0, h - y1), (x0, w - x1)))
            rles += masks_to_rle_numpy(binary)
        return rles

    def _records(self, data: _Candidates) -> List[Dict[str, Any]]:
        if len(data) == 0:
            return []
        cols = data.columns
        return mask_records(
            self.output_mode, cols["rles"], _xywh(cols["boxes"]).tolist(), _xywh(cols["crop_boxes"]).tolist(),
            cols["iou_preds"].tolist(), cols["stability_score"].tolist(), cols["points"].tolist(),
        )
